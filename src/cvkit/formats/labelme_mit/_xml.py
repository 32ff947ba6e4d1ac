"""One MIT LabelMe annotation file: the free-text ``<attributes>`` (datumaro's rules) and the XML document cvkit
writes for a sample.

Boxes, polygons, points and lines are written from text templates (:func:`_plain_xml`), samples with masks (whose
PNGs are written on the way) and anything XML cannot hold as text are built with lxml (:func:`_lxml_xml`); both give
the same bytes, which tests check on tricky text.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from cvkit.core.geometry import box_corners, clean_number
from cvkit.core.masks import decode
from cvkit.core.model import Annotation, Sample
from cvkit.core.report import Report
from cvkit.formats._xml_text import XML_NAME, NotPlain, coordinate, leaf, sub_element

#: Flat coordinate count of a 1- or 2-point <polygon> -> the shape it is.
POINT_SHAPES = {2: "point", 4: "line"}
#: The mask colour datumaro paints (RGBA); any non-zero pixel reads back as inside.
MASK_RGBA = (255, 203, 0, 153)


# --- free-text attributes ----------------------------------------------------------------
_ESCAPED = re.compile(r"\\(.)")


def _split_unescaped(text: str, sep: str, limit: int = -1) -> list[str]:
    """Split on ``sep`` not preceded by a backslash (escapes kept for the caller)."""
    parts, current, i = [], [], 0
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text):
            current.append(text[i : i + 2])
            i += 2
            continue
        if char == sep and (limit < 0 or len(parts) < limit):
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
        i += 1
    parts.append("".join(current))
    return parts


def parse_attributes(text: str | None) -> dict[str, Any]:
    """``"a=b, c, n=3, s=\\"3\\""`` -> ``{"a": "b", "c": True, "n": 3, "s": "3"}`` (datumaro's rules)."""
    out: dict[str, Any] = {}
    for item in _split_unescaped(text or "", ","):
        item = item.strip()
        if not item:
            continue
        pieces = _split_unescaped(item, "=", 1)
        name = _ESCAPED.sub(r"\1", pieces[0].strip())
        if len(pieces) == 1:
            out[name] = True
            continue
        raw = pieces[1].strip()
        value: Any
        if raw.lower() in ("true", "false"):
            value = raw.lower() == "true"
        elif len(raw) > 1 and raw[0] == raw[-1] == '"':
            value = _ESCAPED.sub(r"\1", raw[1:-1])
        else:
            value = _ESCAPED.sub(r"\1", raw)
            for kind in (int, float):
                try:
                    if str(kind(raw)) == raw:
                        value = kind(raw)
                        break
                except ValueError:
                    pass
        out[name] = value
    return out


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("=", "\\=").replace('"', '\\"').replace(",", "\\,")


def format_attributes(attributes: dict[str, Any]) -> str:
    """Inverse of :func:`parse_attributes`; True values are written as bare names."""
    items = []
    for key, value in attributes.items():
        if value is True:
            items.append(_escape(key))
        elif isinstance(value, bool):
            items.append(f"{_escape(key)}=false")
        elif isinstance(value, (int, float)):
            items.append(f"{_escape(key)}={value}")
        else:
            text = str(value)
            looks_typed = text.lower() in ("true", "false") or parse_attributes(f"x={_escape(text)}")["x"] != text
            items.append(f'{_escape(key)}="{_escape(text)}"' if looks_typed else f"{_escape(key)}={_escape(text)}")
    return ", ".join(items)


# --- writing ------------------------------------------------------------------------------
def _num(value: float) -> str:
    return str(clean_number(round(float(value), 6)))


def _polygon(parent: Any, flat: list[float], username: str) -> None:
    poly = sub_element(parent, "polygon")
    sub_element(poly, "username", username)
    for i in range(0, len(flat) - 1, 2):
        pt = sub_element(poly, "pt")
        sub_element(pt, "x", _num(flat[i]))
        sub_element(pt, "y", _num(flat[i + 1]))


def _object_ids(objects: list[Annotation]) -> list[int]:
    """The source's object ids when they are unique integers, else 0..n-1."""
    ids = [o.id for o in objects]
    if all(isinstance(i, int) and not isinstance(i, bool) for i in ids) and len(set(ids)) == len(ids):
        return ids  # type: ignore[return-value]
    return list(range(len(objects)))


def _parents(objects: list[Annotation], ids: list[int]) -> list[int | None]:
    """Each object's parent id: its ``parent`` attribute, else the first object of its ``group``."""
    known = set(ids)
    leaders: dict[int, int] = {}
    out: list[int | None] = []
    for obj, ident in zip(objects, ids):
        parent = obj.attributes.get("parent")
        if isinstance(parent, int) and parent in known and parent != ident:
            out.append(parent)
        elif obj.group is not None and "parent" not in obj.attributes and obj.group not in {o.id for o in objects}:
            leader = leaders.setdefault(obj.group, ident)
            out.append(leader if leader != ident else None)
        else:
            out.append(None)
    return out


def _writable(objects: list[Annotation], report: Report) -> list[tuple[Annotation, str, list[float] | None]]:
    """(object, kind, polygon part) for what MIT LabelMe holds; the rest reported."""
    out: list[tuple[Annotation, str, list[float] | None]] = []
    for obj in objects:
        report.lose_object_extras(obj, "MIT LabelMe XML", holds=("attributes",))
        if obj.iscrowd:
            report.lose("crowd flag", "MIT LabelMe XML has no crowd regions; written as an ordinary object")
        if obj.shape == "mask" and obj.rle is not None:
            out.append((obj, "mask", None))
        elif obj.shape == "polygon" and obj.polygon:
            out.append((obj, "polygon", obj.polygon[0]))
            if len(obj.polygon) > 1:
                report.lose(
                    "polygon part",
                    "an MIT LabelMe object holds one polygon; further parts dropped",
                    len(obj.polygon) - 1,
                )
        elif obj.shape in ("point", "line") and obj.points and len(obj.points) in POINT_SHAPES:
            out.append((obj, "polygon", obj.points))  # a 1- or 2-point <polygon>, as the web tool saves them
        elif obj.shape in ("point", "line", "linestrip"):
            report.lose(f"{obj.shape} shape", "MIT LabelMe XML holds polygons, boxes, masks, points and lines; dropped")
        elif obj.ensure_bbox() is not None:
            if obj.shape not in ("box", "keypoints"):
                report.lose(f"{obj.shape} shape", "MIT LabelMe XML has no such shape; written as its bounding box")
            out.append((obj, "box", None))
    return out


def _write_mask(rle: dict[str, Any], target: Path) -> None:
    import numpy as np
    from PIL import Image

    painted = np.zeros((*rle["size"], 4), dtype=np.uint8)
    painted[decode(rle).astype(bool)] = MASK_RGBA
    target.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(painted, "RGBA").save(target)


def annotation_xml(
    sample: Sample, filename: str, folder: str, masks_dir: Path, stem: str, recorded: str | None, report: Report
) -> bytes:
    """The XML document of one image (masks are written into ``masks_dir`` as ``<stem>_mask_<id>.png`` on the way)."""
    report.lose_image_labels("MIT LabelMe XML", len(sample.labels))
    report.lose_image_attributes(sample.attributes, "MIT LabelMe XML")
    items = _writable(sample.objects, report)
    objects = [obj for obj, _, _ in items]
    ids = _object_ids(objects)
    rows = list(zip(items, ids, _parents(objects, ids)))
    head = _head(sample, filename, folder, recorded)
    plain = _plain_xml(head, rows)
    return plain if plain is not None else _lxml_xml(head, rows, masks_dir, stem, report)


#: (object, kind, polygon part), id, parent id
_Row = tuple[tuple[Annotation, str, list[float] | None], int, int | None]


def _head(sample: Sample, filename: str, folder: str, recorded: str | None) -> list[tuple[str, Any]]:
    """The image's elements before its objects: (tag, text), or (tag, [(tag, text), ...]) for a nested one."""
    meta = sample.meta.get("labelme_mit", {})
    head: list[tuple[str, Any]] = [("filename", filename), ("folder", folder)]
    if recorded:
        head.append(("path", recorded))
    head.append(("source", list((meta.get("source") or {"sourceImage": "", "sourceAnnotation": "cvkit"}).items())))
    if sample.width and sample.height:
        head.append(("imagesize", [("nrows", sample.height), ("ncols", sample.width)]))
    return head


def _object_fields(obj: Annotation, ident: int, parent: int | None, hasparts: str) -> list[tuple[str, Any]]:
    """An object's elements before its shape, as :func:`_head` gives them."""
    extra = obj.meta.get("labelme_mit", {})
    attrs = {k: v for k, v in obj.attributes.items() if k not in ("occluded", "username", "parent")}
    return [
        ("name", obj.label),
        ("deleted", "0"),
        ("verified", extra.get("verified", "0")),
        ("occluded", "yes" if obj.attributes.get("occluded") is True else "no"),
        ("attributes", format_attributes(attrs)),
        ("parts", [("hasparts", hasparts), ("ispartof", "" if parent is None else parent)]),
        ("date", extra.get("date", "")),
        ("id", ident),
    ]


def _hasparts(rows: list[_Row]) -> dict[int, str]:
    """Object id -> the ids of its parts, as ``<hasparts>`` lists them."""
    parts: dict[int, list[str]] = {}
    for _, ident, parent in rows:
        if parent is not None:
            parts.setdefault(parent, []).append(str(ident))
    return {parent: ",".join(children) for parent, children in parts.items()}


def _plain_xml(head: list[tuple[str, Any]], rows: list[_Row]) -> bytes | None:
    """:func:`_lxml_xml`'s bytes, written from text templates; None for a mask, a tag name that is no plain XML
    name or a character XML cannot hold (lxml refuses it). Tests compare both byte for byte."""
    if any(kind == "mask" for (_, kind, _), _, _ in rows):
        return None
    hasparts = _hasparts(rows)
    try:
        out = ["<annotation>\n"]
        _plain_elements(out, "  ", head)
        for (obj, kind, part), ident, parent in rows:
            fields = _object_fields(obj, ident, parent, hasparts.get(ident, ""))
            out.append("  <object>\n")
            _plain_elements(out, "    ", fields)
            if kind == "box":
                out.append("    <type>bounding_box</type>\n")
            flat = box_corners(obj.bbox) if kind == "box" else part or []  # type: ignore[arg-type]
            out += ["    <polygon>\n", leaf("      ", "username", str(obj.attributes.get("username", "")))]
            out += [
                f"      <pt>\n        <x>{coordinate(float(x))}</x>\n        <y>{coordinate(float(y))}</y>\n      "
                "</pt>\n"
                for x, y in zip(flat[0::2], flat[1::2])
            ]
            out.append("    </polygon>\n  </object>\n")
    except NotPlain:
        return None
    out.append("</annotation>\n")
    return "".join(out).encode("utf-8")


#: the tags the templates write themselves (only others, a ``<source>``'s keys, are checked)
_KNOWN_TAGS = frozenset(
    (
        "filename",
        "folder",
        "path",
        "source",
        "imagesize",
        "nrows",
        "ncols",
        "name",
        "deleted",
        "verified",
        "occluded",
        "attributes",
        "parts",
        "hasparts",
        "ispartof",
        "date",
        "id",
    )
)


def _plain_elements(out: list[str], indent: str, elements: list[tuple[str, Any]]) -> None:
    for tag, value in elements:
        if tag not in _KNOWN_TAGS and not XML_NAME.match(tag):
            raise NotPlain
        if type(value) is list:
            out.append(f"{indent}<{tag}>\n")
            _plain_elements(out, indent + "  ", value)
            out.append(f"{indent}</{tag}>\n")
        else:
            out.append(leaf(indent, tag, value))


def _lxml_xml(head: list[tuple[str, Any]], rows: list[_Row], masks_dir: Path, stem: str, report: Report) -> bytes:
    """The XML document built as an lxml tree: masks (written into ``masks_dir``) and any text."""
    from lxml import etree

    top = etree.Element("annotation")
    _lxml_elements(top, head)
    hasparts = _hasparts(rows)
    for (obj, kind, part), ident, parent in rows:
        extra = obj.meta.get("labelme_mit", {})
        el = sub_element(top, "object")
        _lxml_elements(el, _object_fields(obj, ident, parent, hasparts.get(ident, "")))
        username = str(obj.attributes.get("username", ""))
        if kind == "box":
            sub_element(el, "type", "bounding_box")
            _polygon(el, box_corners(obj.bbox), username)  # type: ignore[arg-type]
        elif kind == "polygon":
            _polygon(el, part or [], username)
        else:
            if extra.get("type"):
                sub_element(el, "type", extra["type"])
            mask_name = f"{stem}_mask_{ident}.png"
            _write_mask(obj.rle, masks_dir / mask_name)  # type: ignore[arg-type]
            segm = sub_element(el, "segm")
            sub_element(segm, "username", username)
            x, y, w, h = obj.ensure_bbox()  # type: ignore[misc]
            box = sub_element(segm, "box")
            for tag, value in (("xmin", x), ("ymin", y), ("xmax", x + w - 1), ("ymax", y + h - 1)):
                sub_element(box, tag, _num(value))
            sub_element(segm, "mask", mask_name)
            if "scribbles" in extra:
                report.lose(
                    "mask scribbles", "the scribble images a mask was drawn from are not carried over; the mask is"
                )
    return etree.tostring(top, pretty_print=True, encoding="utf-8")


def _lxml_elements(parent: Any, elements: list[tuple[str, Any]]) -> None:
    for tag, value in elements:
        if isinstance(value, list):
            _lxml_elements(sub_element(parent, tag), value)
        else:
            sub_element(parent, tag, value)
