"""One Label Studio result <-> one :class:`~cvkit.core.model.Annotation` (see docs/coordinates.md, "Label Studio").

Coordinates are percentages of ``original_width``/``original_height``: a rectangle's ``x, y`` is its top-left
corner before rotation and ``rotation`` turns it clockwise (degrees) about that corner; polygon points and
keypoints are ``[x, y]`` percentages; an ellipse is centred on ``x, y`` with ``radiusX``/``radiusY`` percentages of
the width/height; a brush is an RLE of the whole image (:mod:`._brush`).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from cvkit.core.geometry import (
    ELLIPSE,
    ROTATED_BOX,
    ellipse_bbox,
    ellipse_polygon,
    polygon_bbox,
    rotated_box_corners,
    same_points,
)
from cvkit.core.masks import decode, encode
from cvkit.core.model import Annotation
from cvkit.errors import InvalidInputError
from cvkit.formats.label_studio._brush import decode_mask, encode_mask

#: result types that draw a region, by the key their value carries the label(s) in
REGION_TYPES = ("rectanglelabels", "polygonlabels", "keypointlabels", "brushlabels", "ellipselabels")
#: result types without labels (a ``labels`` result with the same id names them)
UNLABELLED = {
    "rectangle": "rectanglelabels",
    "polygon": "polygonlabels",
    "keypoint": "keypointlabels",
    "brush": "brushlabels",
    "ellipse": "ellipselabels",
}
#: result types that are values (image-level when alone, a region's attribute when they share its id)
VALUE_KEYS = {
    "choices": "choices",
    "textarea": "text",
    "number": "number",
    "rating": "rating",
    "datetime": "datetime",
    "taxonomy": "taxonomy",
}


def _number(value: Any, file: Path, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidInputError(f"expected a number, got {value!r}", file=file, location=where)
    return float(value)


def region_kind(result_type: str, value: dict[str, Any]) -> str | None:
    """``rectanglelabels``, ``polygonlabels``, ... for a result (JSON-MIN drops ``type``: the value's keys tell)."""
    kind = result_type.lower()
    if kind in REGION_TYPES:
        return kind
    if kind in UNLABELLED:
        return UNLABELLED[kind]
    if kind in ("labels", ""):
        if "rle" in value:
            return "brushlabels"
        if "points" in value:
            return "polygonlabels"
        if "radiusX" in value:
            return "ellipselabels"
        if "width" in value and "height" in value and "x" in value:
            return "rectanglelabels"
        if "x" in value and "y" in value and "start" not in value:
            return "keypointlabels"
    return None


def region_to_annotation(
    kind: str, value: dict[str, Any], label: str, size: tuple[int, int], file: Path, where: str
) -> Annotation:
    """A region's geometry in pixels of the ``size`` (original width, height) the percentages refer to."""
    width, height = size
    sx, sy = width / 100.0, height / 100.0
    obj = Annotation(label)
    if kind == "rectanglelabels":
        x, y, w, h = (_number(value.get(k), file, f"{where}.value.{k}") for k in ("x", "y", "width", "height"))
        rotation = _number(value.get("rotation", 0) or 0, file, f"{where}.value.rotation")
        left, top, pw, ph = x * sx, y * sy, w * sx, h * sy
        if rotation % 360:
            a = math.radians(rotation)
            cx = left + pw / 2 * math.cos(a) - ph / 2 * math.sin(a)
            cy = top + pw / 2 * math.sin(a) + ph / 2 * math.cos(a)
            rotated = [cx, cy, pw, ph, rotation]
            obj.shape, obj.polygon = "polygon", [rotated_box_corners(*rotated)]
            obj.bbox = polygon_bbox(obj.polygon)
            obj.meta[ROTATED_BOX] = rotated
        else:
            obj.bbox = (left, top, pw, ph)
    elif kind == "polygonlabels":
        points = value.get("points")
        if not isinstance(points, list) or len(points) < 3:
            raise InvalidInputError(
                "a polygon needs at least 3 [x, y] points", file=file, location=f"{where}.value.points"
            )
        flat: list[float] = []
        for i, point in enumerate(points):
            if not isinstance(point, list) or len(point) != 2:
                raise InvalidInputError("a point must be [x, y]", file=file, location=f"{where}.value.points[{i}]")
            flat += (
                _number(point[0], file, f"{where}.value.points[{i}]") * sx,
                _number(point[1], file, f"{where}.value.points[{i}]") * sy,
            )
        obj.shape, obj.polygon = "polygon", [flat]
        obj.bbox = polygon_bbox(obj.polygon)
    elif kind == "keypointlabels":
        obj.shape = "point"
        obj.points = [
            _number(value.get("x"), file, f"{where}.value.x") * sx,
            _number(value.get("y"), file, f"{where}.value.y") * sy,
        ]
    elif kind == "ellipselabels":
        x, y, rx, ry = (_number(value.get(k), file, f"{where}.value.{k}") for k in ("x", "y", "radiusX", "radiusY"))
        ellipse = [
            x * sx,
            y * sy,
            rx * sx,
            ry * sy,
            _number(value.get("rotation", 0) or 0, file, f"{where}.value.rotation"),
        ]
        obj.shape, obj.polygon = "polygon", [ellipse_polygon(*ellipse)]
        obj.bbox = ellipse_bbox(*ellipse)
        obj.meta[ELLIPSE] = ellipse
    elif kind == "brushlabels":
        obj.shape, obj.rle = "mask", _brush(value, size, file, where)
        obj.ensure_bbox()
    return obj


def _brush(value: dict[str, Any], size: tuple[int, int], file: Path, where: str) -> dict[str, Any]:

    rle = value.get("rle")
    if value.get("format", "rle") != "rle" or not isinstance(rle, list):
        raise InvalidInputError(
            "a brush region needs an 'rle' list (format 'rle')", file=file, location=f"{where}.value"
        )
    try:
        mask = decode_mask(rle, *size)
    except (ValueError, TypeError) as exc:
        raise InvalidInputError(f"brush RLE: {exc}", file=file, location=f"{where}.value.rle") from None
    return encode(mask)


# --- writing -------------------------------------------------------------------------
def _pct(value: float, side: int) -> float:
    return value * 100.0 / side


def annotation_value(obj: Annotation, size: tuple[int, int]) -> tuple[str, dict[str, Any]] | None:
    """(result type, value without the label key) of an object, in percent of ``size``; None when Label Studio
    has no such region (lines; an empty mask)."""
    width, height = size
    shape, meta = obj.shape, obj.meta
    if shape == "polygon" and obj.polygon:
        rotated, ellipse = meta.get(ROTATED_BOX), meta.get(ELLIPSE)
        if rotated and len(obj.polygon) == 1 and same_points(obj.polygon[0], rotated_box_corners(*rotated)):
            cx, cy, w, h, degrees = rotated
            a = math.radians(degrees)
            left = cx - w / 2 * math.cos(a) + h / 2 * math.sin(a)
            top = cy - w / 2 * math.sin(a) - h / 2 * math.cos(a)
            return "rectanglelabels", {
                "x": _pct(left, width),
                "y": _pct(top, height),
                "width": _pct(w, width),
                "height": _pct(h, height),
                "rotation": degrees,
            }
        if ellipse and len(obj.polygon) == 1 and same_points(obj.polygon[0], ellipse_polygon(*ellipse)):
            cx, cy, rx, ry, degrees = ellipse
            return "ellipselabels", {
                "x": _pct(cx, width),
                "y": _pct(cy, height),
                "radiusX": _pct(rx, width),
                "radiusY": _pct(ry, height),
                "rotation": degrees,
            }
        return "polygonlabels", {
            "points": [[_pct(x, width), _pct(y, height)] for x, y in zip(obj.polygon[0][0::2], obj.polygon[0][1::2])],
            "closed": True,
        }
    if shape == "mask" and obj.rle is not None:
        mask = decode(obj.rle)
        if not mask.any():
            return None
        return "brushlabels", {"format": "rle", "rle": encode_mask(mask)}
    if shape == "point" and obj.points and len(obj.points) >= 2:
        return "keypointlabels", {"x": _pct(obj.points[0], width), "y": _pct(obj.points[1], height), "width": 0.75}
    if shape == "circle" and obj.points and len(obj.points) >= 4:
        cx, cy, px, py = obj.points[:4]
        r = math.hypot(px - cx, py - cy)
        return "ellipselabels", {
            "x": _pct(cx, width),
            "y": _pct(cy, height),
            "radiusX": _pct(r, width),
            "radiusY": _pct(r, height),
            "rotation": 0,
        }
    if shape in ("line", "linestrip"):
        return None
    box = obj.bbox if obj.bbox is not None else obj.ensure_bbox()
    if box is None:
        return None
    x, y, w, h = box
    return "rectanglelabels", {
        "x": _pct(x, width),
        "y": _pct(y, height),
        "width": _pct(w, width),
        "height": _pct(h, height),
        "rotation": 0,
    }
