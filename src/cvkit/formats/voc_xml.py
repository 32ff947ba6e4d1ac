"""One Pascal VOC annotation file as text: what :func:`cvkit.formats.voc.write` writes for each sample.

Most samples (boxes with a pose and the difficult/truncated/occluded flags) are written from text templates
(:func:`_plain_xml`), everything else is built with lxml (:func:`_lxml_xml`); both give the same bytes, which
tests check on tricky text (escapes, line breaks, non-ASCII). Coordinates: docs/coordinates.md.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from cvkit.core.geometry import box_to_voc, clean_number
from cvkit.core.model import Annotation, Sample
from cvkit.core.report import Report

BOOL_TAGS = ("difficult", "truncated", "occluded")


def _sub(parent: Any, tag: str, text: Any = None) -> Any:
    el = parent.makeelement(tag)
    parent.append(el)
    if text is not None:
        el.text = str(text)
    return el


def _write_box(parent: Any, box: Any, one_based: bool) -> None:
    bnd = _sub(parent, "bndbox")
    for tag, value in zip(("xmin", "ymin", "xmax", "ymax"), box_to_voc(box, one_based)):
        _sub(bnd, tag, clean_number(round(value, 6)))


def _format_value(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def annotation_xml(sample: Sample, filename: str, image_path: str | None, one_based: bool, report: Report, size: tuple[int, int] | None = None) -> bytes:
    """The XML of one sample, as the devkit and LabelImg read it. ``size``: (width, height) to write
    (:func:`cvkit.core.imageinfo.known_size`); without it ``<size>`` is left out: mmdetection then reads the
    image, while a written ``<width>0</width>`` makes it drop the image as smaller than its ``min_size``.

    A sample of plain objects (a box, pose and the three flags) is written from text templates
    (:func:`_plain_xml`, the same bytes lxml writes, 5x faster); anything else is built with lxml."""
    report.lose_image_labels("VOC XML", len(sample.labels))
    report.lose_image_attributes(sample.attributes, "VOC XML")
    objects = []
    for obj in sample.objects:
        if obj.ensure_bbox() is None:
            report.lose(f"{obj.shape} shape", "VOC XML holds boxes only; a shape without area is dropped")
            continue
        if (obj.shape in ("polygon", "mask", "circle") or obj.polygon or obj.rle) and "robndbox" not in obj.meta.get("voc", {}):
            report.lose(obj.shape if obj.shape != "box" else "segmentation", "VOC XML holds boxes only; written as its bounding box")
        report.lose_object_extras(obj, "VOC XML", holds=("score", "attributes"))  # both written as <attributes>
        objects.append(obj)
    meta = sample.meta.get("voc", {})
    plain = _plain_xml(meta, filename, image_path, size, objects, one_based)
    return plain if plain is not None else _lxml_xml(meta, filename, image_path, size, objects, one_based, report)


def _lxml_xml(meta: dict[str, Any], filename: str, image_path: str | None, size: tuple[int, int] | None, objects: list[Annotation],
              one_based: bool, report: Report) -> bytes:
    """:func:`annotation_xml` built as an lxml tree: every kind of object and field. lxml is imported here, once a
    sample needs it: plain samples are written from text templates."""
    from lxml import etree

    root = etree.Element("annotation")
    if meta.get("verified"):
        root.set("verified", meta["verified"])
    _sub(root, "folder", meta.get("folder", "JPEGImages" if image_path is None else ""))
    _sub(root, "filename", filename)
    if image_path:
        _sub(root, "path", image_path)
    source = _sub(root, "source")
    for key, value in (meta.get("source") or {"database": "Unknown"}).items():
        _sub(source, key, value)
    if size:
        width, height = size
        size_el = _sub(root, "size")
        _sub(size_el, "width", width)
        _sub(size_el, "height", height)
        _sub(size_el, "depth", meta.get("depth", 3))
    _sub(root, "segmented", meta.get("segmented", 0))
    for obj in objects:
        el = _sub(root, "object")
        _sub(el, "name", obj.label)
        attrs = dict(obj.attributes)
        _sub(el, "pose", attrs.pop("pose", "Unspecified"))
        for tag in BOOL_TAGS:
            if tag in attrs or tag != "occluded":
                _sub(el, tag, int(bool(attrs.pop(tag, False))))
        _write_box(el, obj.bbox, one_based)
        for part in attrs.pop("parts", []):
            part_el = _sub(el, "part")
            _sub(part_el, "name", part.get("label", ""))
            _write_box(part_el, part["bbox"], one_based)
        if "actions" in attrs:
            actions = _sub(el, "actions")
            for key, value in attrs.pop("actions").items():
                _sub(actions, key, int(bool(value)))
        if obj.iscrowd:
            attrs["iscrowd"] = True
        if obj.score is not None:
            attrs["score"] = obj.score
        if attrs:
            attr_el = _sub(el, "attributes")
            for key, value in attrs.items():
                if isinstance(value, (dict, list)):
                    report.lose(f"attribute {key!r}", "VOC attributes hold plain values only")
                    continue
                one = _sub(attr_el, "attribute")
                _sub(one, "name", key)
                _sub(one, "value", _format_value(value))
        for key, value in obj.meta.get("voc", {}).items():
            if isinstance(value, dict):
                nested = _sub(el, key)
                for inner, text in value.items():
                    _sub(nested, inner, text)
            else:
                _sub(el, key, value)
    return etree.tostring(root, pretty_print=True, encoding="utf-8")


#: object attributes :func:`_plain_xml` writes; any other (parts, actions, ...) takes lxml
_PLAIN_ATTRIBUTES = frozenset(("pose", *BOOL_TAGS))
_XML_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*\Z")
#: characters XML 1.0 cannot hold: lxml refuses them with a ValueError, which the lxml path then raises
_NOT_XML_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_TEXT_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})
_ATTRIBUTE_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\n": "&#10;", "\t": "&#9;", "\r": "&#13;"})


def escape_text(text: str) -> str:
    """``text`` escaped as libxml2 escapes element text (``&``, ``<``, ``>``, carriage returns)."""
    return text.translate(_TEXT_ESCAPES)


@lru_cache(maxsize=8192)
def _escaped(text: str) -> str | None:
    """``text`` escaped as libxml2 escapes element text; None when XML cannot hold one of its characters.
    Cached: labels, poses and folders repeat across a dataset."""
    return None if _NOT_XML_TEXT.search(text) else text.translate(_TEXT_ESCAPES)


class _NotPlain(Exception):
    """Something :func:`_plain_xml` leaves to lxml."""


def _leaf(indent: str, tag: str, value: Any) -> str:
    """One pretty-printed element holding text (``<tag/>`` for None)."""
    if value is None:
        return f"{indent}<{tag}/>\n"
    text = _escaped(value if type(value) is str else str(value))
    if text is None:
        raise _NotPlain
    return f"{indent}<{tag}>{text}</{tag}>\n"


def _coordinate(value: float) -> float | int:
    """:func:`~cvkit.core.geometry.clean_number` of ``value`` rounded to 6 decimals, inline."""
    value = round(value, 6)
    return int(value) if type(value) is float and value.is_integer() else value


def _plain_xml(meta: dict[str, Any], filename: str, image_path: str | None, size: tuple[int, int] | None, objects: list[Annotation],
               one_based: bool) -> bytes | None:
    """:func:`_lxml_xml`'s bytes, written from text templates; None when something is not plain (an object with
    parts, actions, attributes, a score, crowd or kept VOC fields; a ``<source>`` key that is no plain XML name;
    a character XML cannot hold). Tests compare both byte for byte."""
    source = meta.get("source") or {"database": "Unknown"}
    verified = meta.get("verified")
    if (verified and not isinstance(verified, str)) or not all(isinstance(key, str) and _XML_NAME.match(key) for key in source):
        return None
    if verified and _NOT_XML_TEXT.search(verified):
        return None
    try:
        out = [f'<annotation verified="{verified.translate(_ATTRIBUTE_ESCAPES)}">\n' if verified else "<annotation>\n",
               _leaf("  ", "folder", meta.get("folder", "JPEGImages" if image_path is None else "")), _leaf("  ", "filename", filename)]
        if image_path:
            out.append(_leaf("  ", "path", image_path))
        out.append("  <source>\n")
        out += [_leaf("    ", key, value) for key, value in source.items()]
        out.append("  </source>\n")
        if size:
            out += ["  <size>\n", _leaf("    ", "width", size[0]), _leaf("    ", "height", size[1]), _leaf("    ", "depth", meta.get("depth", 3)),
                    "  </size>\n"]
        out.append(_leaf("  ", "segmented", meta.get("segmented", 0)))
        for obj in objects:
            attrs = obj.attributes
            if obj.iscrowd or obj.score is not None or obj.meta.get("voc") or not _PLAIN_ATTRIBUTES.issuperset(attrs):
                return None
            x, y, w, h = obj.bbox  # type: ignore[misc]
            low = 1.0 if one_based else 0.0  # box_to_voc, inline
            out += ["  <object>\n", _leaf("    ", "name", obj.label), _leaf("    ", "pose", attrs.get("pose", "Unspecified")),
                    f"    <difficult>{int(bool(attrs.get('difficult')))}</difficult>\n    <truncated>{int(bool(attrs.get('truncated')))}</truncated>\n"]
            if "occluded" in attrs:
                out.append(f"    <occluded>{int(bool(attrs['occluded']))}</occluded>\n")
            out.append(f"    <bndbox>\n      <xmin>{_coordinate(x + low)}</xmin>\n      <ymin>{_coordinate(y + low)}</ymin>\n"
                       f"      <xmax>{_coordinate(x + w)}</xmax>\n      <ymax>{_coordinate(y + h)}</ymax>\n    </bndbox>\n  </object>\n")
    except _NotPlain:
        return None
    out.append("</annotation>\n")
    return "".join(out).encode("utf-8")
