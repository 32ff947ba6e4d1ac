"""Box and shape geometry: one canonical box form and exact converters.

Canonical box: ``(x, y, w, h)`` in absolute pixels, continuous coordinates, origin at
the top-left corner of the top-left pixel (COCO's convention). Every format module
converts to and from this form with the functions here, so conventions live in one
place (see docs/coordinates.md).
"""

from __future__ import annotations

from collections.abc import Sequence

Box = tuple[float, float, float, float]


def xyxy_to_xywh(x1: float, y1: float, x2: float, y2: float) -> Box:
    """Corners (continuous) to canonical ``(x, y, w, h)``."""
    return (x1, y1, x2 - x1, y2 - y1)


def xywh_to_xyxy(box: Sequence[float]) -> tuple[float, float, float, float]:
    """Canonical box to corners ``(x1, y1, x2, y2)``."""
    x, y, w, h = box
    return (x, y, x + w, y + h)


def voc_to_box(xmin: float, ymin: float, xmax: float, ymax: float, one_based: bool = True) -> Box:
    """Pascal VOC ``xmin..xmax`` (1-based inclusive pixel indices) to a canonical box.

    With ``one_based=False`` the raw values are taken as continuous corners, for
    producers that wrote 0-based boxes.
    """
    if one_based:
        return (xmin - 1.0, ymin - 1.0, xmax - xmin + 1.0, ymax - ymin + 1.0)
    return (float(xmin), float(ymin), float(xmax - xmin), float(ymax - ymin))


def box_to_voc(box: Sequence[float], one_based: bool = True) -> tuple[float, float, float, float]:
    """Inverse of :func:`voc_to_box`: canonical box to VOC ``(xmin, ymin, xmax, ymax)``."""
    x, y, w, h = box
    if one_based:
        return (x + 1.0, y + 1.0, x + w, y + h)
    return (x, y, x + w, y + h)


def yolo_to_box(cx: float, cy: float, w: float, h: float, width: int, height: int) -> Box:
    """YOLO normalised centre/size to a canonical box in pixels."""
    bw, bh = w * width, h * height
    return (cx * width - bw / 2.0, cy * height - bh / 2.0, bw, bh)


def box_to_yolo(box: Sequence[float], width: int, height: int) -> tuple[float, float, float, float]:
    """Canonical box to YOLO normalised ``(cx, cy, w, h)``."""
    x, y, w, h = box
    return ((x + w / 2.0) / width, (y + h / 2.0) / height, w / width, h / height)


def center_to_box(cx: float, cy: float, w: float, h: float) -> Box:
    """Centre + size in pixels (CreateML) to a canonical box."""
    return (cx - w / 2.0, cy - h / 2.0, w, h)


def box_to_center(box: Sequence[float]) -> tuple[float, float, float, float]:
    """Canonical box to centre + size in pixels (CreateML)."""
    x, y, w, h = box
    return (x + w / 2.0, y + h / 2.0, w, h)


def box_corners(box: Sequence[float]) -> list[float]:
    """The 4 corners of a canonical box as a flat polygon ``[x1, y1, x2, y1, x2, y2, x1, y2]``."""
    x, y, w, h = box
    return [x, y, x + w, y, x + w, y + h, x, y + h]


def polygon_bbox(parts: Sequence[Sequence[float]]) -> Box:
    """Tight box around one or more flat ``[x1, y1, x2, y2, ...]`` point lists (one part, the common case, is
    sliced rather than copied: the same values in the same order)."""
    if len(parts) == 1:
        xs, ys = parts[0][0::2], parts[0][1::2]
    else:
        xs = [v for part in parts for v in part[0::2]]
        ys = [v for part in parts for v in part[1::2]]
    x1, y1 = min(xs), min(ys)
    return (x1, y1, max(xs) - x1, max(ys) - y1)


def polygon_area(parts: Sequence[Sequence[float]]) -> float:
    """Area by the shoelace formula, summed over parts (as pycocotools does for polygons)."""
    total = 0.0
    for part in parts:
        xs, ys = part[0::2], part[1::2]
        n = len(xs)
        s = 0.0
        for i in range(n):
            j = (i + 1) % n
            s += xs[i] * ys[j] - xs[j] * ys[i]
        total += abs(s) / 2.0
    return total


def clip_box(box: Sequence[float], width: float, height: float) -> Box:
    """Clip a canonical box to the image; width/height may become zero."""
    x1, y1, x2, y2 = xywh_to_xyxy(box)
    x1, x2 = min(max(x1, 0.0), width), min(max(x2, 0.0), width)
    y1, y2 = min(max(y1, 0.0), height), min(max(y2, 0.0), height)
    return (x1, y1, x2 - x1, y2 - y1)


def clean_number(value: float) -> float | int:
    """Render integral floats as ints (``12.0`` -> ``12``) so written files stay tidy."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


#: ``Annotation.meta`` key of a rotated box read as its 4-corner polygon: ``[cx, cy, w, h, degrees]`` in pixels,
#: degrees clockwise on screen (y down). CVAT and Label Studio readers set it, their writers write the box back.
ROTATED_BOX = "rotated_box"
#: ``Annotation.meta`` key of an ellipse read as a polygon: ``[cx, cy, rx, ry, degrees]`` in pixels (clockwise).
ELLIPSE = "ellipse"
#: vertices of the polygon an ellipse is read as (its bounding box is exact: see :func:`ellipse_bbox`)
ELLIPSE_VERTICES = 32


def _rotate(x: float, y: float, cx: float, cy: float, cos_a: float, sin_a: float) -> tuple[float, float]:
    dx, dy = x - cx, y - cy
    return (cx + dx * cos_a - dy * sin_a, cy + dx * sin_a + dy * cos_a)


def rotated_box_corners(cx: float, cy: float, w: float, h: float, degrees: float) -> list[float]:
    """The 4 corners (top-left, top-right, bottom-right, bottom-left before rotation) of a box of size ``w x h``
    centred on ``cx, cy`` and turned ``degrees`` clockwise on screen (image y points down), flat."""
    import math

    cos_a, sin_a = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    out: list[float] = []
    left, top, right, bottom = cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2
    for x, y in ((left, top), (right, top), (right, bottom), (left, bottom)):
        out.extend(_rotate(x, y, cx, cy, cos_a, sin_a))
    return out


def same_points(a: Sequence[float], b: Sequence[float], tolerance: float = 1e-3) -> bool:
    """Whether two flat point lists agree within ``tolerance`` pixels: a polygon read from a rotated box or an
    ellipse is still that shape (its writer writes the shape back; an edited polygon stays a polygon)."""
    return len(a) == len(b) and all(abs(p - q) <= tolerance for p, q in zip(a, b))


def ellipse_polygon(
    cx: float, cy: float, rx: float, ry: float, degrees: float, vertices: int = ELLIPSE_VERTICES
) -> list[float]:
    """An ellipse (radii ``rx``, ``ry``, turned ``degrees`` clockwise) as a flat polygon of ``vertices`` points."""
    import math

    cos_a, sin_a = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    out: list[float] = []
    for i in range(vertices):
        t = 2 * math.pi * i / vertices
        out.extend(_rotate(cx + rx * math.cos(t), cy + ry * math.sin(t), cx, cy, cos_a, sin_a))
    return out


def ellipse_bbox(cx: float, cy: float, rx: float, ry: float, degrees: float) -> Box:
    """The exact bounding box of an ellipse turned ``degrees`` clockwise."""
    import math

    a = math.radians(degrees)
    half_w = math.hypot(rx * math.cos(a), ry * math.sin(a))
    half_h = math.hypot(rx * math.sin(a), ry * math.cos(a))
    return (cx - half_w, cy - half_h, 2 * half_w, 2 * half_h)
