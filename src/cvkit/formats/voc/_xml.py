"""One Pascal VOC annotation file as text: what :func:`cvkit.formats.voc.write` writes for each sample.

Most samples (boxes with a pose and the difficult/truncated/occluded flags) are written from text templates
(:func:`_plain_xml`), everything else is built with lxml (:func:`_lxml_xml`); both give the same bytes, which
tests check on tricky text (escapes, line breaks, non-ASCII). Coordinates: docs/coordinates.md.
"""

from __future__ import annotations

from typing import Any

from cvkit.core.geometry import box_to_voc, clean_number
from cvkit.core.model import Annotation, Sample
from cvkit.core.report import Report
from cvkit.formats._xml_text import NOT_XML_TEXT, XML_NAME, NotPlain, coordinate, escape_attribute, leaf, sub_element

BOOL_TAGS = ("difficult", "truncated", "occluded")


def _write_box(parent: Any, box: Any, one_based: bool) -> None:
    bnd = sub_element(parent, "bndbox")
    for tag, value in zip(("xmin", "ymin", "xmax", "ymax"), box_to_voc(box, one_based)):
        sub_element(bnd, tag, clean_number(round(value, 6)))


def _format_value(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def annotation_xml(
    sample: Sample,
    filename: str,
    image_path: str | None,
    one_based: bool,
    report: Report,
    size: tuple[int, int] | None = None,
) -> bytes:
    """The XML of one sample, as the devkit and LabelImg read it. ``size``: (width, height) to write
    (:func:`cvkit.core.imageinfo.known_size`); without it ``<size>`` is left out: mmdetection then reads the
    image, while a written ``<width>0</width>`` makes it drop the image as smaller than its ``min_size``.

    A sample of plain objects (a box, pose and the three flags) is written from text templates
    (:func:`_plain_xml`, the same bytes lxml writes, faster: docs/benchmarks.md); anything else is built with lxml."""
    report.lose_image_labels("VOC XML", len(sample.labels))
    report.lose_image_attributes(sample.attributes, "VOC XML")
    objects = []
    for obj in sample.objects:
        if obj.ensure_bbox() is None:
            report.lose(f"{obj.shape} shape", "VOC XML holds boxes only; a shape without area is dropped")
            continue
        if (obj.shape in ("polygon", "mask", "circle") or obj.polygon or obj.rle) and "robndbox" not in obj.meta.get(
            "voc", {}
        ):
            report.lose(
                obj.shape if obj.shape != "box" else "segmentation",
                "VOC XML holds boxes only; written as its bounding box",
            )
        report.lose_object_extras(obj, "VOC XML", holds=("score", "attributes"))  # both written as <attributes>
        objects.append(obj)
    meta = sample.meta.get("voc", {})
    plain = _plain_xml(meta, filename, image_path, size, objects, one_based)
    return plain if plain is not None else _lxml_xml(meta, filename, image_path, size, objects, one_based, report)


def _lxml_xml(
    meta: dict[str, Any],
    filename: str,
    image_path: str | None,
    size: tuple[int, int] | None,
    objects: list[Annotation],
    one_based: bool,
    report: Report,
) -> bytes:
    """:func:`annotation_xml` built as an lxml tree: every kind of object and field. lxml is imported here, once a
    sample needs it: plain samples are written from text templates."""
    from lxml import etree

    root = etree.Element("annotation")
    if meta.get("verified"):
        root.set("verified", meta["verified"])
    sub_element(root, "folder", meta.get("folder", "JPEGImages" if image_path is None else ""))
    sub_element(root, "filename", filename)
    if image_path:
        sub_element(root, "path", image_path)
    source = sub_element(root, "source")
    for key, value in (meta.get("source") or {"database": "Unknown"}).items():
        sub_element(source, key, value)
    if size:
        width, height = size
        size_el = sub_element(root, "size")
        sub_element(size_el, "width", width)
        sub_element(size_el, "height", height)
        sub_element(size_el, "depth", meta.get("depth", 3))
    sub_element(root, "segmented", meta.get("segmented", 0))
    for obj in objects:
        el = sub_element(root, "object")
        sub_element(el, "name", obj.label)
        attrs = dict(obj.attributes)
        sub_element(el, "pose", attrs.pop("pose", "Unspecified"))
        for tag in BOOL_TAGS:
            if tag in attrs or tag != "occluded":
                sub_element(el, tag, int(bool(attrs.pop(tag, False))))
        _write_box(el, obj.bbox, one_based)
        for part in attrs.pop("parts", []):
            part_el = sub_element(el, "part")
            sub_element(part_el, "name", part.get("label", ""))
            _write_box(part_el, part["bbox"], one_based)
        if "actions" in attrs:
            actions = sub_element(el, "actions")
            for key, value in attrs.pop("actions").items():
                sub_element(actions, key, int(bool(value)))
        if obj.iscrowd:
            attrs["iscrowd"] = True
        if obj.score is not None:
            attrs["score"] = obj.score
        if attrs:
            attr_el = sub_element(el, "attributes")
            for key, value in attrs.items():
                if isinstance(value, (dict, list)):
                    report.lose(f"attribute {key!r}", "VOC attributes hold plain values only")
                    continue
                one = sub_element(attr_el, "attribute")
                sub_element(one, "name", key)
                sub_element(one, "value", _format_value(value))
        for key, value in obj.meta.get("voc", {}).items():
            if isinstance(value, dict):
                nested = sub_element(el, key)
                for inner, text in value.items():
                    sub_element(nested, inner, text)
            else:
                sub_element(el, key, value)
    return etree.tostring(root, pretty_print=True, encoding="utf-8")


#: object attributes :func:`_plain_xml` writes; any other (parts, actions, ...) takes lxml
_PLAIN_ATTRIBUTES = frozenset(("pose", *BOOL_TAGS))


def _plain_xml(
    meta: dict[str, Any],
    filename: str,
    image_path: str | None,
    size: tuple[int, int] | None,
    objects: list[Annotation],
    one_based: bool,
) -> bytes | None:
    """:func:`_lxml_xml`'s bytes, written from text templates; None when something is not plain (an object with
    parts, actions, attributes, a score, crowd or kept VOC fields; a ``<source>`` key that is no plain XML name;
    a character XML cannot hold). Tests compare both byte for byte."""
    source = meta.get("source") or {"database": "Unknown"}
    verified = meta.get("verified")
    if (verified and not isinstance(verified, str)) or not all(
        isinstance(key, str) and XML_NAME.match(key) for key in source
    ):
        return None
    if verified and NOT_XML_TEXT.search(verified):
        return None
    try:
        out = [
            f'<annotation verified="{escape_attribute(verified)}">\n' if verified else "<annotation>\n",
            leaf("  ", "folder", meta.get("folder", "JPEGImages" if image_path is None else "")),
            leaf("  ", "filename", filename),
        ]
        if image_path:
            out.append(leaf("  ", "path", image_path))
        out.append("  <source>\n")
        out += [leaf("    ", key, value) for key, value in source.items()]
        out.append("  </source>\n")
        if size:
            out += [
                "  <size>\n",
                leaf("    ", "width", size[0]),
                leaf("    ", "height", size[1]),
                leaf("    ", "depth", meta.get("depth", 3)),
                "  </size>\n",
            ]
        out.append(leaf("  ", "segmented", meta.get("segmented", 0)))
        for obj in objects:
            attrs = obj.attributes
            if obj.iscrowd or obj.score is not None or obj.meta.get("voc") or not _PLAIN_ATTRIBUTES.issuperset(attrs):
                return None
            x, y, w, h = obj.bbox  # type: ignore[misc]
            low = 1.0 if one_based else 0.0  # box_to_voc, inline
            out += [
                "  <object>\n",
                leaf("    ", "name", obj.label),
                leaf("    ", "pose", attrs.get("pose", "Unspecified")),
                f"    <difficult>{int(bool(attrs.get('difficult')))}</difficult>\n    "
                f"<truncated>{int(bool(attrs.get('truncated')))}</truncated>\n",
            ]
            if "occluded" in attrs:
                out.append(f"    <occluded>{int(bool(attrs['occluded']))}</occluded>\n")
            out.append(
                f"    <bndbox>\n      <xmin>{coordinate(x + low)}</xmin>\n      <ymin>{coordinate(y + low)}</ymin>\n"
                f"      <xmax>{coordinate(x + w)}</xmax>\n      <ymax>{coordinate(y + h)}</ymax>\n    </bndbox>\n  "
                "</object>\n"
            )
    except NotPlain:
        return None
    out.append("</annotation>\n")
    return "".join(out).encode("utf-8")
