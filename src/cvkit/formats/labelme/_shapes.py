"""LabelMe shapes <-> cvkit annotations, both directions, one shape type at a time.

LabelMe (wkentaro/labelme, JSON versions 3 to 5) stores every shape as a list of
``[x, y]`` points in pixels of the displayed image:

- ``rectangle``: two opposite corners, in any order;
- ``polygon``: three or more vertices;
- ``circle``: the centre, then a point on the rim;
- ``point``: one point; ``line``: two points; ``linestrip``: two or more points;
- ``mask``: a base64 PNG of the box region plus two points, the box's top-left and
  bottom-right pixel (``mask[y1:y2+1, x1:x2+1]`` in labelme's ``shapes_to_label``);
- rotated boxes, four corners: ``oriented_rectangle`` (labelme since PR #1980, 2026) and ``rotation``
  (X-AnyLabeling), read as 4-point polygons that keep their type for writing LabelMe again.

Any other ``shape_type`` is left out (the reader reports it per type), never an error.

Whatever a shape carries that cvkit's model has no field for goes to
``Annotation.meta["labelme"]`` so LabelMe -> manifest -> LabelMe gives the same file back.
"""

from __future__ import annotations

import base64
import binascii
import io
import math
from pathlib import Path
from typing import Any

from cvkit.core import validate_values
from cvkit.core.geometry import clean_number, xyxy_to_xywh
from cvkit.core.limits import open_image
from cvkit.core.masks import decode, encode
from cvkit.core.model import Annotation
from cvkit.errors import InvalidInputError

#: LabelMe shape_type -> cvkit Annotation.shape.
SHAPE_OF = {
    "rectangle": "box",
    "polygon": "polygon",
    "circle": "circle",
    "point": "point",
    "line": "line",
    "linestrip": "linestrip",
    "mask": "mask",
}
TYPE_OF = {shape: shape_type for shape_type, shape in SHAPE_OF.items()}
#: Rotated boxes (labelme's ``oriented_rectangle``, X-AnyLabeling's ``rotation``): cvkit has none, they read as
#: polygons.
ROTATED_TYPES = ("oriented_rectangle", "rotation")
_READ_AS = {**SHAPE_OF, **dict.fromkeys(ROTATED_TYPES, "polygon")}
#: keys of a shape with nothing for :func:`_read_extras` when group_id is null and flags and description empty
#: (labelme >= 5.2 writes ``"description": ""`` and >= 5.3 ``"mask": null`` in every shape)
_PLAIN_KEYS = frozenset(("label", "points", "group_id", "shape_type", "flags", "description", "mask"))
#: the types a JSON number comes as (a bool is not one: ``true`` is no coordinate)
_NUMBER_TYPES = frozenset((int, float))
#: Keys a shape record has that map to model fields; anything else is kept verbatim in meta.
SHAPE_KEYS = frozenset(
    ("label", "points", "group_id", "shape_type", "flags", "description", "mask", "attributes", "score")
)
#: X-AnyLabeling's boolean shape keys that are attributes too (VOC's difficult); kept as keys when written back.
KEYED_FLAGS = ("difficult",)
#: The label LabelMe's own converters treat as "ignore this region" (labelme2coco, labelme2voc).
IGNORE_LABEL = "__ignore__"
#: A shape flag that carries cvkit's crowd mark (COCO ``iscrowd``) through LabelMe.
CROWD_FLAG = "iscrowd"

#: shape_type -> (fewest points, whether that is also the most, the message when the count is wrong).
_POINT_RULES = {
    "rectangle": (2, False, "a rectangle needs 2 points (opposite corners), got {n}"),
    "polygon": (3, False, "a polygon needs at least 3 points, got {n}"),
    "circle": (2, True, "a circle needs 2 points (the centre and a point on the rim), got {n}"),
    "point": (1, True, "a point needs 1 point, got {n}"),
    "line": (2, True, "a line needs 2 points, got {n}"),
    "linestrip": (2, False, "a linestrip needs at least 2 points, got {n}"),
    "mask": (2, True, "a mask needs 2 points (the corners of its box), got {n}"),
    "oriented_rectangle": (4, True, "an oriented_rectangle needs 4 points (its corners), got {n}"),
    "rotation": (4, True, "a rotation box needs 4 points (its corners), got {n}"),
}


def _points(raw: Any, file: Path, index: int) -> list[float]:
    """The flat ``[x1, y1, ...]`` of a ``points`` list (numbers kept as JSON gave them)."""
    try:
        if not isinstance(raw, list):
            raise TypeError
        if len(raw) == 2:  # rectangles, circles, lines: the common case, unpacked in one step
            (x1, y1), (x2, y2) = raw  # ValueError/TypeError on anything but pairs
            flat: list[float] = [x1, y1, x2, y2]
        else:
            flat = []
            extend = flat.extend
            for x, y in raw:
                extend((x, y))
        sum(flat)  # TypeError on anything but numbers
    except (TypeError, ValueError):
        raise InvalidInputError(
            "'points' must be a list of [x, y] pairs", file=file, location=f"shapes[{index}].points"
        ) from None
    if not _NUMBER_TYPES.issuperset(map(type, flat)):  # true/false add up too
        validate_values.finite_list(flat, "points", file, f"shapes[{index}].points")
    return flat


def decode_mask_png(data: Any, file: Path, where: str) -> Any:
    """A shape's base64 PNG as a 2-D bool array (any non-zero channel is inside)."""
    import numpy as np

    if not isinstance(data, str) or not data:
        raise InvalidInputError("a mask shape needs 'mask', a base64-encoded PNG", file=file, location=f"{where}.mask")
    try:
        with open_image(io.BytesIO(base64.b64decode(data, validate=False)), file) as img:  # the pixel limit checked
            array = np.asarray(img)
    except (binascii.Error, OSError, ValueError):
        raise InvalidInputError("'mask' is not a base64-encoded image", file=file, location=f"{where}.mask") from None
    return array.any(axis=2) if array.ndim == 3 else array.astype(bool)


def encode_mask_png(mask: Any) -> str:
    """A 2-D mask as labelme writes it: an 8-bit PNG of 0/1 values, base64."""
    import numpy as np
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.asarray(mask, dtype=np.uint8)).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def mask_box(points: list[list[float]]) -> tuple[int, int, int, int]:
    """Inclusive pixel box ``x1, y1, x2, y2`` of a mask shape, as labelme computes it (int truncation)."""
    (ax, ay), (bx, by) = points[0], points[1]
    return int(min(ax, bx)), int(min(ay, by)), int(max(ax, bx)), int(max(ay, by))


def paste_mask(crop: Any, points: list[list[float]], height: int, width: int, file: Path, where: str) -> dict[str, Any]:
    """Full-image RLE of a mask shape: the crop placed at its box (clipped to the image)."""
    import numpy as np

    x1, y1, x2, y2 = mask_box(points)
    if crop.shape != (y2 - y1 + 1, x2 - x1 + 1):
        raise InvalidInputError(
            f"mask image is {crop.shape[1]}x{crop.shape[0]} but its box {[x1, y1]}-{[x2, y2]} is "
            f"{x2 - x1 + 1}x{y2 - y1 + 1}",
            file=file,
            location=f"{where}.mask",
        )
    full = np.zeros((height, width), dtype=np.uint8)
    top, left = max(y1, 0), max(x1, 0)
    bottom, right = min(y2 + 1, height), min(x2 + 1, width)
    if bottom > top and right > left:
        full[top:bottom, left:right] = crop[top - y1 : bottom - y1, left - x1 : right - x1]
    return encode(full)


def shape_to_annotation(shape: Any, index: int, file: Path, size: tuple[int | None, int | None]) -> Annotation:
    """One ``shapes[index]`` record as an Annotation; raises naming the JSON path when malformed or of a shape
    type neither labelme nor X-AnyLabeling writes (bad input, as the project's LabelMe issue lists it)."""
    if not isinstance(shape, dict):
        raise InvalidInputError("a shape must be an object", file=file, location=f"shapes[{index}]")
    label = shape.get("label")
    if not isinstance(label, str):
        raise InvalidInputError("'label' must be a string", file=file, location=f"shapes[{index}].label")
    shape_type = shape.get("shape_type") or "polygon"  # labelme < 3 wrote no shape_type: polygons
    rule = _POINT_RULES.get(shape_type) if isinstance(shape_type, str) else None
    if rule is None:
        if isinstance(shape_type, str):
            raise InvalidInputError(
                f"unknown shape type {shape_type!r}; LabelMe shapes are {', '.join(_READ_AS)}",
                file=file,
                location=f"shapes[{index}].shape_type",
            )
        raise InvalidInputError("'shape_type' must be a string", file=file, location=f"shapes[{index}].shape_type")
    points = shape.get("points")
    flat = _points(points, file, index)
    least, exact, message = rule
    if len(points) < least or (exact and len(points) > least):
        raise InvalidInputError(message.format(n=len(points)), file=file, location=f"shapes[{index}].points")
    obj = Annotation(label, shape=_READ_AS[shape_type])
    meta: dict[str, Any] = {}
    if shape_type == "rectangle":
        if len(flat) == 4 and flat[0] <= flat[2] and flat[1] <= flat[3]:  # the usual: top-left then bottom-right
            x1, y1, x2, y2 = flat
            obj.bbox = (float(x1), float(y1), float(x2 - x1), float(y2 - y1))
        else:
            xs, ys = flat[0::2], flat[1::2]
            obj.bbox = xyxy_to_xywh(float(min(xs)), float(min(ys)), float(max(xs)), float(max(ys)))
            meta["points"] = points  # corner order (or extra corners) as drawn
    elif obj.shape == "polygon":
        obj.polygon = [flat]
        if shape_type != "polygon":
            meta["shape_type"] = shape_type  # a rotated box: written back as one
    elif shape_type == "mask":
        height, width = size
        where = f"shapes[{index}]"
        if height is None or width is None:
            raise InvalidInputError(
                "a mask shape needs the image size (imageHeight/imageWidth or a readable image)",
                file=file,
                location=where,
            )
        obj.rle = paste_mask(decode_mask_png(shape.get("mask"), file, where), points, height, width, file, where)
        meta["points"] = points
    else:
        obj.points = flat
    obj.ensure_bbox()
    if not (
        _PLAIN_KEYS.issuperset(shape)
        and shape.get("group_id") is None
        and not shape.get("flags")
        and not shape.get("description")
        and label != IGNORE_LABEL
    ):
        _read_extras(shape, obj, meta, file, index)  # most shapes have nothing more: skip the call
    if meta:
        obj.meta["labelme"] = meta
    return obj


def _read_extras(shape: dict[str, Any], obj: Annotation, meta: dict[str, Any], file: Path, index: int) -> None:
    """group_id, flags, description, the crowd mark and unknown keys."""
    group = shape.get("group_id")
    if group is not None:
        if not isinstance(group, int) or isinstance(group, bool):
            raise InvalidInputError(
                "'group_id' must be an integer or null", file=file, location=f"shapes[{index}].group_id"
            )
        obj.group = group
    extra_attributes = shape.get("attributes")
    if isinstance(extra_attributes, dict):
        obj.attributes.update(extra_attributes)
    flags = shape.get("flags")
    if flags:
        if not isinstance(flags, dict):
            raise InvalidInputError(
                "'flags' must be an object of name: true/false", file=file, location=f"shapes[{index}].flags"
            )
        for key, value in flags.items():
            if key == CROWD_FLAG and value is True:
                obj.iscrowd = True
            else:
                obj.attributes[key] = value
    if obj.label == IGNORE_LABEL:
        obj.iscrowd = True
    description = shape.get("description")
    if isinstance(description, str) and description:
        obj.attributes["description"] = description
    score = shape.get("score")
    if score is not None and not isinstance(score, bool):  # X-AnyLabeling's confidence: a finite number when there
        obj.score = validate_values.score(score, file, f"shapes[{index}].score")
    for key in KEYED_FLAGS:
        if shape.get(key) is True:
            obj.attributes[key] = True  # the key itself stays in meta "other", so it is written back as a key
    if not SHAPE_KEYS.issuperset(shape):
        meta["other"] = {k: v for k, v in shape.items() if k not in SHAPE_KEYS}


# --- writing ----------------------------------------------------------------------------
def point_pairs(flat: list[float]) -> list[list[float | int]]:
    """``[x1, y1, x2, y2, ...]`` as LabelMe's ``[[x1, y1], [x2, y2], ...]`` (whole numbers written as integers)."""
    return [[clean_number(float(flat[i])), clean_number(float(flat[i + 1]))] for i in range(0, len(flat) - 1, 2)]


def same_points(a: list[list[float]], b: list[list[float]]) -> bool:
    """Whether two point lists are the same points, to a millionth of a pixel."""
    return len(a) == len(b) and all(
        math.isclose(p[0], q[0], abs_tol=1e-6) and math.isclose(p[1], q[1], abs_tol=1e-6) for p, q in zip(a, b)
    )


def rectangle_points(obj: Annotation) -> list[list[float | int]]:
    """A box's two LabelMe corners: as drawn (any two opposite corners) when they still describe it."""
    x, y, w, h = obj.bbox  # type: ignore[misc]
    drawn = obj.meta.get("labelme", {}).get("points")
    if drawn:  # the corners as drawn, when they still describe this box
        xs, ys = [p[0] for p in drawn], [p[1] for p in drawn]
        if same_points([[min(xs), min(ys)], [max(xs), max(ys)]], [[x, y], [x + w, y + h]]):
            return drawn
    return point_pairs([x, y, x + w, y + h])


def mask_shape_parts(
    rle: dict[str, Any], drawn: list[list[float]] | None, part: bool = False
) -> tuple[list[list[float | int]], str] | None:
    """Points and base64 PNG of a mask shape for ``rle``; None when the mask is empty.

    The crop is the drawn box when it still holds every mask pixel (or, for one ``part`` of
    a group_id instance, always: the union's pixels inside that part's box), else the mask's tight box.
    """
    full = decode(rle)
    ys, xs = full.nonzero()
    if drawn:
        x1, y1, x2, y2 = mask_box(drawn)
        inside = x1 >= 0 and y1 >= 0 and x2 < full.shape[1] and y2 < full.shape[0]
        if inside and (
            part or len(xs) == 0 or (xs.min() >= x1 and xs.max() <= x2 and ys.min() >= y1 and ys.max() <= y2)
        ):
            return drawn, encode_mask_png(full[y1 : y2 + 1, x1 : x2 + 1])
    if len(xs) == 0:
        return None
    x1, y1, x2, y2 = int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())
    return [[x1, y1], [x2, y2]], encode_mask_png(full[y1 : y2 + 1, x1 : x2 + 1])


def shape_record(
    obj: Annotation,
    shape_type: str,
    points: list[list[Any]],
    group: int | None,
    mask: str | None = None,
    part: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A shape dict in labelme 5's key order; ``part`` overrides flags/description/other for a merged part."""
    source = (
        part
        if part is not None
        else {"attributes": obj.attributes, "other": obj.meta.get("labelme", {}).get("other", {})}
    )
    attributes = source.get("attributes") or {}
    record: dict[str, Any] = dict(source.get("other") or {})
    keyed = [k for k in KEYED_FLAGS if k in record]
    flags = {k: v for k, v in attributes.items() if isinstance(v, bool) and k not in keyed}
    if obj.iscrowd and obj.label != IGNORE_LABEL:
        flags[CROWD_FLAG] = True
    description = attributes.get("description")
    record.update(
        label=obj.label,
        points=points,
        group_id=group,
        description=description if isinstance(description, str) else "",
        shape_type=shape_type,
        flags=flags,
        mask=mask,
    )
    record.update((k, attributes.get(k) is True) for k in keyed)
    rest = {k: v for k, v in attributes.items() if not isinstance(v, bool) and k != "description"}
    if rest:
        record["attributes"] = rest  # LabelMe keeps unknown shape keys when it saves
    if obj.score is not None:
        record["score"] = obj.score
    return record
