"""Untrusted numbers checked where they are read: one set of rules for every reader and the manifest.

A value a reader takes from a file is refused here (an :class:`InvalidInputError` naming the file and the place,
so ``--skip-invalid`` can skip the item) when writing it on would corrupt the output: a NaN or infinite
coordinate (JSON has no way to hold it: it became ``null``), a negative or boolean image size, a box of negative
width, a polygon of odd length or fewer than 3 points, an RLE mask whose runs do not cover its image exactly,
keypoints that are not ``(x, y, v)`` triplets. The rules are listed in docs/safety.md ("Untrusted values").

Every checker takes ``file`` and ``location`` (a JSON path, an XML element, a line) only to word its error, and
costs a few type checks in the common case: readers call them once per value they read.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cvkit.core.paths import UnsafePathError, split_name
from cvkit.errors import InvalidInputError

#: the largest image side a file may declare: int32's maximum, what image libraries and array shapes hold
MAX_SIDE = 2**31 - 1
_NUMBERS = (int, float)
_PLAIN_NUMBERS = frozenset(_NUMBERS)

Where = str | Path | None


def at(location: str | None, field: str) -> str:
    """``field`` inside ``location``: a JSON path goes on with a dot (``images[3].width``), a line with a comma
    (``line 7, objects[0].bbox``)."""
    if not location:
        return field
    return f"{location}, {field}" if location.startswith("line ") and "," not in location else f"{location}.{field}"


def is_number(value: Any) -> bool:
    """An int or float (a bool is neither here: ``true`` is no coordinate), numpy scalars included."""
    if isinstance(value, bool):
        return False
    if isinstance(value, _NUMBERS):
        return True
    return type(value).__module__ == "numpy" and hasattr(value, "dtype") and value.dtype.kind in "iuf"


def _as_float(value: Any) -> float:
    """``float(value)`` of a number; NaN for an int too large for a float (``float(10**400)`` raises)."""
    try:
        return float(value)
    except OverflowError:
        return math.nan


def finite(value: Any, what: str, file: Where, location: str | None) -> float:
    """``value`` as a float when it is a finite number; an error naming ``what`` otherwise."""
    if is_number(value):
        number = _as_float(value)
        if math.isfinite(number):
            return number
    raise InvalidInputError(f"{what} must be a finite number, got {value!r}", file=file, location=location)


def parse_finite(text: Any, what: str, file: Where, location: str | None) -> float:
    """A number written as text (XML, a YOLO or CSV line): a finite float; ``nan``, ``inf``, ``1e999`` or
    anything that is no number is an error naming ``what``."""
    try:
        number = float(text)
    except (TypeError, ValueError):
        number = math.nan
    if math.isfinite(number):
        return number
    raise InvalidInputError(f"{what} must be a finite number, got {text!r}", file=file, location=location)


def finite_list(values: Any, what: str, file: Where, location: str | None) -> list[float]:
    """Every value of a list as a float; an error naming the first that is no finite number. Plain ints and
    floats take one C-level pass (keypoints of a 250,000-person file are checked here)."""
    if not isinstance(values, list | tuple):
        raise InvalidInputError(f"{what} must be a list of numbers, got {values!r}", file=file, location=location)
    if _PLAIN_NUMBERS.issuperset(map(type, values)) or all(map(is_number, values)):
        try:
            out = list(map(float, values))
        except OverflowError:  # an int past any float
            out = [math.nan]
        if all(map(math.isfinite, out)):
            return out
    bad = next((v for v in values if not (is_number(v) and math.isfinite(_as_float(v)))), values)
    raise InvalidInputError(f"{what} must hold finite numbers only, got {bad!r}", file=file, location=location)


def whole_number(value: Any, what: str, file: Where, location: str | None) -> int:
    """A class index or count: an integer (a float only when whole: ``3.7`` was truncated to class 3); a bool,
    string or NaN is an error naming ``what``."""
    if is_number(value):
        number = _as_float(value)
        if math.isfinite(number) and number.is_integer():
            return int(value) if not isinstance(value, float) else int(number)
    raise InvalidInputError(f"{what} must be a whole number, got {value!r}", file=file, location=location)


def image_side(value: Any, what: str, file: Where, location: str | None) -> int | None:
    """An image width or height: a whole number from 1 to :data:`MAX_SIDE`; None (or 0, which tools write for
    "unknown") is unknown. Integral floats (``640.0``, as some exporters write) are taken."""
    if value is None or (type(value) is int and value == 0):
        return None
    if is_number(value):
        number = _as_float(value)
        if math.isfinite(number) and number.is_integer() and 0 <= number <= MAX_SIDE:
            return int(number) or None
    raise InvalidInputError(
        f"{what} must be a whole number of pixels from 1 to {MAX_SIDE}, got {value!r}", file=file, location=location
    )


def image_size(width: Any, height: Any, file: Where, location: str | None) -> tuple[int | None, int | None]:
    """``(width, height)`` checked by :func:`image_side` (``location`` is that of the image record)."""
    return image_side(width, "width", file, at(location, "width")), image_side(
        height, "height", file, at(location, "height")
    )


def box(values: Sequence[Any], file: Where, location: str | None) -> tuple[float, float, float, float]:
    """A canonical ``(x, y, w, h)`` box: four finite numbers, width and height not negative."""
    if not isinstance(values, list | tuple) or len(values) != 4:
        raise InvalidInputError(
            f"box must be 4 numbers [x, y, width, height], got {values!r}", file=file, location=location
        )
    x, y, w, h = finite_list(values, "box", file, location)
    if w < 0 or h < 0:
        raise InvalidInputError(f"box has a negative width or height: {list(values)!r}", file=file, location=location)
    return (x, y, w, h)


def polygon_part(values: Any, file: Where, location: str | None) -> list[float]:
    """One flat polygon ``[x1, y1, x2, y2, ...]``: finite numbers, an even count, at least 3 points."""
    points = finite_list(values, "polygon", file, location)
    if len(points) % 2:
        raise InvalidInputError(
            f"polygon has an odd number of coordinates ({len(points)}): x and y must pair up",
            file=file,
            location=location,
        )
    if len(points) < 6:
        raise InvalidInputError(f"polygon with fewer than 3 points ({len(points) // 2})", file=file, location=location)
    return points


def flat_points(values: Any, what: str, file: Where, location: str | None, minimum: int = 1) -> list[float]:
    """Flat ``[x1, y1, ...]`` points of a point, line or circle: finite, even count, at least ``minimum`` points."""
    points = finite_list(values, what, file, location)
    if len(points) % 2 or len(points) < 2 * minimum:
        raise InvalidInputError(
            f"{what} needs x, y pairs (at least {minimum} point{'s' * (minimum > 1)}), got {len(points)} numbers",
            file=file,
            location=location,
        )
    return points


def keypoints(values: Any, file: Where, location: str | None, names: Sequence[Any] | None = None) -> list[float]:
    """COCO keypoints: ``(x, y, v)`` triplets of finite numbers, as many as the category names when it does."""
    flat = finite_list(values, "keypoints", file, location)
    if len(flat) % 3:
        raise InvalidInputError(
            f"keypoints must be (x, y, visibility) triplets, got {len(flat)} numbers", file=file, location=location
        )
    if names and len(flat) != 3 * len(names):
        raise InvalidInputError(
            f"keypoints hold {len(flat) // 3} points, the category names {len(names)}", file=file, location=location
        )
    return flat


def score(value: Any, file: Where, location: str | None) -> float | None:
    """A confidence score: None, or a finite number."""
    return None if value is None else finite(value, "score", file, location)


# --- RLE masks -------------------------------------------------------------------------
def rle_counts(counts: str | bytes) -> list[int] | None:
    """The runs a compressed COCO RLE string encodes (pycocotools' ``rleFrString``, vectorised), or None when the
    string is no such encoding: a character outside ``'0'..'o'`` or a number cut off at the end."""
    import numpy as np

    raw = counts.encode("ascii", "replace") if isinstance(counts, str) else bytes(counts)
    if not raw:
        return []
    c = np.frombuffer(raw, dtype=np.uint8).astype(np.int64) - 48
    if c.min() < 0 or c.max() > 63 or c[-1] & 0x20:
        return None
    ends = np.flatnonzero((c & 0x20) == 0)  # the last character of each number
    starts = np.concatenate(([0], ends[:-1] + 1))
    lengths = ends - starts + 1
    if lengths.max() > 12:  # 60 bits: no run of a real image is that long
        return None
    number_of = np.repeat(np.arange(len(ends)), lengths)
    digit = np.arange(len(c)) - starts[number_of]
    values = np.zeros(len(ends), dtype=np.int64)
    np.add.at(values, number_of, (c & 0x1F) << (5 * digit))
    negative = (c[ends] & 0x10) != 0
    values[negative] -= np.left_shift(1, 5 * lengths[negative])
    out = values.copy()  # runs after the third are stored as the difference to the run two before
    out[3::2] = np.cumsum(values[1::2])[1:]
    out[4::2] = np.cumsum(values[2::2])[1:]
    return out.tolist()


def rle(
    value: Any, file: Where, location: str | None, height: int | None = None, width: int | None = None
) -> dict[str, Any]:
    """A COCO RLE mask ``{"size": [h, w], "counts": str | [int, ...]}`` whose runs are whole, not negative and
    cover its ``h * w`` pixels exactly (what pycocotools decodes without reading past its buffer), and whose size is
    the image's when that is known. Returns ``{"size": [h, w], "counts": counts}``."""
    if not isinstance(value, dict) or "counts" not in value or "size" not in value:
        raise InvalidInputError("RLE segmentation needs 'counts' and 'size'", file=file, location=location)
    size, counts = value["size"], value["counts"]
    if not (
        isinstance(size, list | tuple) and len(size) == 2 and all(type(v) is int and 0 < v <= MAX_SIDE for v in size)
    ):
        raise InvalidInputError(
            f"RLE size must be [height, width] in whole pixels, got {size!r}", file=file, location=location
        )
    h, w = size
    if height and width and (h, w) != (height, width):
        raise InvalidInputError(
            f"RLE size {h}x{w} (height x width) is not the image's {height}x{width}", file=file, location=location
        )
    if isinstance(counts, list):
        runs = counts if all(type(v) is int for v in counts) else None
    elif isinstance(counts, str | bytes):
        runs = rle_counts(counts)
    else:
        runs = None
    if runs is None:
        raise InvalidInputError(
            f"RLE counts must be a list of whole numbers or a COCO RLE string, got {str(counts)[:40]!r}",
            file=file,
            location=location,
        )
    if runs and min(runs) < 0:
        raise InvalidInputError(f"RLE counts hold a negative run ({min(runs)})", file=file, location=location)
    if sum(runs) != h * w:
        raise InvalidInputError(
            f"RLE runs cover {sum(runs)} pixels, its {h}x{w} size has {h * w}", file=file, location=location
        )
    return {"size": [h, w], "counts": counts}


# --- names written into list files ----------------------------------------------------
#: what ``str.splitlines`` (and so every list reader) breaks a line at
_LINE_BREAK = re.compile("[\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")


def one_line(name: str, list_file: str) -> str:
    """``name`` when it can be one line of ``list_file`` (``train.txt``, ``ImageSets/Main/val.txt``); an
    :class:`InvalidInputError` when it holds a line break, which would split it into two entries there."""
    if _LINE_BREAK.search(name):
        raise InvalidInputError(
            f"image name {name!r} holds a line break, which would split {list_file} into two entries; rename the image",
            location=None,
        )
    return name


# --- a whole object or sample (the manifest, whose records may hold any shape) ------------------------
def annotation(
    obj: Any, file: Where, location: str | None, width: int | None = None, height: int | None = None
) -> None:
    """Check every value of an :class:`~cvkit.core.model.Annotation` in place (its lists become floats)."""
    if obj.bbox is not None:
        obj.bbox = box(obj.bbox, file, at(location, "bbox"))
    if obj.polygon is not None:
        if not isinstance(obj.polygon, list) or not obj.polygon:
            raise InvalidInputError(
                f"polygon must be a list of parts, got {obj.polygon!r}", file=file, location=at(location, "polygon")
            )
        obj.polygon = [polygon_part(part, file, at(location, f"polygon[{k}]")) for k, part in enumerate(obj.polygon)]
    if obj.rle is not None:
        obj.rle = rle(obj.rle, file, at(location, "rle"), height, width)
    if obj.keypoints is not None:
        obj.keypoints = keypoints(obj.keypoints, file, at(location, "keypoints"))
    if obj.points is not None:
        obj.points = flat_points(obj.points, "points", file, at(location, "points"))
    obj.score = score(obj.score, file, at(location, "score"))


def sample(item: Any, file: Where, location: str | None, categories: Any = None) -> None:
    """Check a :class:`~cvkit.core.model.Sample`'s size and every object's values in place; with ``categories``
    (a :class:`~cvkit.core.categories.CategorySet`), keypoints must be as many as their category names."""
    item.width, item.height = image_size(item.width, item.height, file, location)
    if item.split is not None:  # refused here, where the record's file and line are known, not later by a writer
        try:
            split_name(item.split)
        except UnsafePathError as exc:
            raise InvalidInputError(exc.message, file=file, location=at(location, "split")) from None
    for k, obj in enumerate(item.objects):
        where = at(location, f"objects[{k}]")
        annotation(obj, file, where, item.width, item.height)
        if obj.keypoints is not None and categories is not None:
            category = categories.get(obj.label)
            names = category.attributes.get("keypoints") if category is not None else None
            if isinstance(names, list):
                keypoints(obj.keypoints, file, at(where, "keypoints"), names)
