"""One CVAT shape element <-> one :class:`~cvkit.core.model.Annotation` (see docs/coordinates.md, "CVAT").

- ``<box xtl ytl xbr ybr [rotation]>``: pixel corners as floats; a rotated box (degrees clockwise about its centre)
  reads as its 4-corner polygon with ``meta["rotated_box"]``, written back as a box with ``rotation``.
- ``<polygon>``, ``<polyline>`` (a linestrip), ``<points>`` (``points="x,y;x,y"``).
- ``<ellipse cx cy rx ry [rotation]>``: a 32-vertex polygon with ``meta["ellipse"]`` (an exact bounding box).
- ``<mask rle left top width height>``: CVAT's RLE, counts of alternating 0 and 1 runs (0s first) over the
  ``width x height`` box in row order; read as a full-image COCO RLE.
- ``<skeleton>`` of ``<points label=...>`` elements: keypoints ``[x, y, v]`` in the order ``<meta>`` lists the
  skeleton's sublabels (v: 0 outside, 1 occluded, 2 visible).
- ``occluded`` is the attribute ``occluded: true``, ``group_id`` the annotation's group, ``z_order`` and
  ``source`` stay in ``meta["cvat"]``; typed ``<attribute>`` children become attributes.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from cvkit.core.geometry import ELLIPSE, ROTATED_BOX, ellipse_bbox, ellipse_polygon, polygon_bbox, rotated_box_corners
from cvkit.core.masks import paste_rle
from cvkit.core.model import Annotation
from cvkit.errors import InvalidInputError
from cvkit.formats.cvat._meta import Meta

#: shapes read from ``<image>`` and ``<track>``; ``cuboid`` (3-D boxes) is recognised and left out, reported
SHAPE_TAGS = ("box", "polygon", "polyline", "points", "ellipse", "mask", "skeleton", "cuboid")


def _where(el: Any) -> str:
    return f"line {el.sourceline}: <{el.tag}>"


def number(el: Any, key: str, file: Path) -> float:
    """A finite float attribute of ``el``; the error names the line and attribute."""
    raw = el.get(key)
    if raw is None:
        raise InvalidInputError(f"missing attribute {key!r}", file=file, location=_where(el))
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise InvalidInputError(f"{key}={raw!r} is not a number", file=file, location=_where(el))
    return value


def _points(el: Any, file: Path) -> list[float]:
    raw = el.get("points")
    if raw is None:
        raise InvalidInputError("missing attribute 'points'", file=file, location=_where(el))
    flat: list[float] = []
    for pair in raw.split(";"):
        parts = pair.split(",")
        try:
            x, y = (float(v) for v in parts)
        except ValueError:
            raise InvalidInputError(
                f"points must be 'x,y;x,y;...', got {pair!r}", file=file, location=_where(el)
            ) from None
        if not (math.isfinite(x) and math.isfinite(y)):
            raise InvalidInputError(f"points must be finite numbers, got {pair!r}", file=file, location=_where(el))
        flat += (x, y)
    return flat


def _flag(el: Any, key: str) -> bool:
    return el.get(key, "0") in ("1", "true", "True")


def typed_value(text: str, input_type: str | None) -> Any:
    """An attribute's text typed as its spec says: checkbox -> bool, number -> int or float, else the text."""
    if input_type == "checkbox" and text.lower() in ("true", "false"):
        return text.lower() == "true"
    if input_type == "number":
        try:
            value = float(text)
        except ValueError:
            return text
        return int(value) if value.is_integer() and "." not in text and "e" not in text.lower() else value
    return text


def _attributes(el: Any, label: str, meta: Meta) -> dict[str, Any]:
    spec = meta.labels.get(label)
    out: dict[str, Any] = {}
    for child in el.iterfind("attribute"):
        name = child.get("name", "")
        kind = spec.attributes[name].input_type if spec is not None and name in spec.attributes else None
        out[name] = typed_value(child.text or "", kind)
    return out


#: most pixels a ``<mask>`` box may hold (16384 x 16384): its crop is allocated, a larger claim is refused
MAX_MASK_PIXELS = 1 << 28


def mask_rle(el: Any, size: tuple[int | None, int | None], file: Path) -> dict[str, Any]:
    """A ``<mask>``'s full-image COCO RLE: the crop at left/top, which must lie inside the image (CVAT's do)."""
    import numpy as np

    width, height = size
    if not width or not height:
        raise InvalidInputError("a mask needs the image size (width/height of <image>)", file=file, location=_where(el))
    left, top, box_w, box_h = (int(number(el, key, file)) for key in ("left", "top", "width", "height"))
    try:
        counts = [int(v) for v in (el.get("rle") or "").split(",")]
    except ValueError:
        raise InvalidInputError("rle must be comma-separated integers", file=file, location=_where(el)) from None
    if box_w <= 0 or box_h <= 0 or box_w * box_h > MAX_MASK_PIXELS:
        raise InvalidInputError(f"mask box {box_w}x{box_h} is empty or too large", file=file, location=_where(el))
    if any(c < 0 for c in counts) or sum(counts) != box_w * box_h:
        raise InvalidInputError(
            f"rle counts add up to {sum(counts)}, the {box_w}x{box_h} mask box has {box_w * box_h} pixels",
            file=file,
            location=_where(el),
        )
    crop = np.repeat(np.arange(len(counts), dtype=np.uint8) % 2, counts).reshape(box_h, box_w)
    try:
        return paste_rle(crop, left, top, height, width)
    except ValueError as exc:
        raise InvalidInputError(str(exc), file=file, location=_where(el)) from None


def _skeleton(el: Any, label: str, meta: Meta, file: Path) -> tuple[list[float], list[str]]:
    """Keypoints ``[x, y, v, ...]`` of a ``<skeleton>`` in meta order and the point names."""
    names = meta.keypoint_names(label)
    found: dict[str, list[float]] = {}
    for child in el:
        if child.tag != "points":
            continue
        name = child.get("label", "")
        xy = _points(child, file)[:2]
        visibility = 0.0 if _flag(child, "outside") else 1.0 if _flag(child, "occluded") else 2.0
        found[name] = [*xy, visibility]
        if name not in names:
            names.append(name)
    keypoints: list[float] = []
    for name in names:
        keypoints += found.get(name, [0.0, 0.0, 0.0])
    return keypoints, names


def read_shape(el: Any, label: str, meta: Meta, size: tuple[int | None, int | None], file: Path) -> Annotation:
    """One shape element (of an ``<image>`` or a ``<track>``) as an Annotation."""
    tag = el.tag
    obj = Annotation(label)
    extra: dict[str, Any] = {}
    rotation = number(el, "rotation", file) if el.get("rotation") is not None else 0.0
    if tag == "box":
        xtl, ytl, xbr, ybr = (number(el, key, file) for key in ("xtl", "ytl", "xbr", "ybr"))
        if xbr < xtl or ybr < ytl:
            raise InvalidInputError(
                f"box corners are inverted (xtl={xtl}, xbr={xbr}, ytl={ytl}, ybr={ybr})", file=file, location=_where(el)
            )
        if rotation % 360:
            rotated = [(xtl + xbr) / 2, (ytl + ybr) / 2, xbr - xtl, ybr - ytl, rotation]
            obj.shape, obj.polygon = "polygon", [rotated_box_corners(*rotated)]
            obj.bbox = polygon_bbox(obj.polygon)
            obj.meta[ROTATED_BOX] = rotated
        else:
            obj.bbox = (xtl, ytl, xbr - xtl, ybr - ytl)
    elif tag == "polygon":
        flat = _points(el, file)
        if len(flat) < 6:
            raise InvalidInputError("a polygon needs at least 3 points", file=file, location=_where(el))
        obj.shape, obj.polygon = "polygon", [flat]
        obj.bbox = polygon_bbox(obj.polygon)
    elif tag == "polyline":
        obj.shape, obj.points = "linestrip", _points(el, file)
    elif tag == "points":
        obj.shape, obj.points = "point", _points(el, file)
    elif tag == "ellipse":
        cx, cy, rx, ry = (number(el, key, file) for key in ("cx", "cy", "rx", "ry"))
        ellipse = [cx, cy, abs(rx), abs(ry), rotation]
        obj.shape, obj.polygon = "polygon", [ellipse_polygon(*ellipse)]
        obj.bbox = ellipse_bbox(*ellipse)
        obj.meta[ELLIPSE] = ellipse
    elif tag == "mask":
        obj.shape, obj.rle = "mask", mask_rle(el, size, file)
        obj.ensure_bbox()
    elif tag == "skeleton":
        obj.shape = "keypoints"
        obj.keypoints, names = _skeleton(el, label, meta, file)
        visible = [(x, y) for x, y, v in zip(obj.keypoints[0::3], obj.keypoints[1::3], obj.keypoints[2::3]) if v > 0]
        if visible:
            obj.bbox = polygon_bbox([[c for xy in visible for c in xy]])
        extra["keypoint_names"] = names
    if _flag(el, "occluded"):
        obj.attributes["occluded"] = True
    obj.attributes.update(_attributes(el, label, meta))
    group = el.get("group_id")
    if group not in (None, "", "0"):
        try:
            obj.group = int(group)
        except ValueError:
            raise InvalidInputError(
                f"group_id must be an integer, got {group!r}", file=file, location=_where(el)
            ) from None
    z_order = el.get("z_order")
    if z_order not in (None, "", "0"):
        extra["z_order"] = int(number(el, "z_order", file))
    if el.get("source") not in (None, "manual"):
        extra["source"] = el.get("source")
    if extra:
        obj.meta["cvat"] = extra
    return obj
