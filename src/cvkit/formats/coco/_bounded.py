"""Reading a COCO file in bounded memory: its sections found by :mod:`._scan`, ``images`` and ``annotations`` parsed
a run at a time (msgspec, typed structs) into numpy columns; :mod:`._bounded_samples` builds the samples from them,
a shard at a time.

A record of exactly the fields the columns model (an image's ``id``, ``file_name``, ``width``, ``height`` as
integers and a string; a plain box annotation's seven keys, pycocotools' own, with an empty ``segmentation``)
is held in the columns: about 68 bytes an annotation instead of a dict of some 600. Any other record (polygons,
RLE, keypoints, extra keys, other types) is kept as its byte range in the file and read again, with the
format's own record readers (:func:`~._objects.add_annotations`), when its sample is built: lossless, and the same
samples, reports and output as reading the whole file at once.

A file the columns do not fit is read the other way (:func:`scan` returns None): a results list, captions or
panoptic records, image ids that are not integers (strings, or ``1.0`` that Python takes for ``1``), integers past
64 bits, repeated top-level keys, or malformed JSON (the other reader names its line and column).
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import chain
from operator import attrgetter
from pathlib import Path
from typing import Any

import msgspec
import numpy as np

from cvkit.core import jsonio

from ._panoptic import is_panoptic
from ._scan import BadRun, MappedFile, ScanError, container_end, members, read_array


class _Box(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """A plain box annotation: the keys :func:`~._objects.add_annotations` reads in its own short path."""

    id: int
    image_id: int
    category_id: int
    bbox: tuple[float, float, float, float]
    segmentation: tuple[()]
    area: int | float
    iscrowd: int


class _Image(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """An image entry with no other key."""

    id: int
    file_name: str
    width: int
    height: int


_BOXES = msgspec.json.Decoder(list[_Box])
_BOX = msgspec.json.Decoder(_Box)
_IMAGES = msgspec.json.Decoder(list[_Image])
_IMAGE = msgspec.json.Decoder(_Image)
_RAWS = msgspec.json.Decoder(list[msgspec.Raw])


class _IdOf(msgspec.Struct):
    id: int


class _ImageIdOf(msgspec.Struct, rename={"id": "image_id"}):
    id: int


_ID = msgspec.json.Decoder(_IdOf)  # an image's id (other keys skipped, in C)
_IMAGE_ID = msgspec.json.Decoder(_ImageIdOf)  # an annotation's image id
_NO_BOX = _Box(0, 0, 0, (0.0, 0.0, 0.0, 0.0), (), 0, 0)  # in the columns where a record is kept whole
_BBOX = attrgetter("bbox")
_AREA = attrgetter("area")
#: off: every file is read whole (the differential tests compare both readers)
ENABLED = True
#: an integer area above this is not exact as a float64: its record is kept whole
_EXACT = 1 << 53


class _Fallback(Exception):
    """The file does not fit the columns: read it the other way."""


_SEPARATORS = frozenset(b" \t\r\n,")


def _starts(data: bytearray, raws: list[msgspec.Raw]) -> list[int]:
    """Where each of ``raws`` (the elements of the JSON array ``data``) starts in ``data``: elements follow each
    other with only commas and whitespace between them."""
    starts = []
    pos = 1
    for raw in raws:
        while data[pos] in _SEPARATORS:
            pos += 1
        starts.append(pos)
        pos += len(raw)
    return starts


@dataclass
class _Records:
    """Byte ranges in the file of the records kept whole, by their index in their section (8 bytes a number)."""

    index: array = field(default_factory=lambda: array("q"))
    offset: array = field(default_factory=lambda: array("q"))
    length: array = field(default_factory=lambda: array("q"))

    def add(self, index: int, offset: int, length: int) -> None:
        self.index.append(index)
        self.offset.append(offset)
        self.length.append(length)

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return (
            np.frombuffer(self.index, np.int64).copy(),
            np.frombuffer(self.offset, np.int64).copy(),
            np.frombuffer(self.length, np.int64).copy(),
        )


class _Columns:
    """A section's arrays, filled a run at a time. Each is allocated once for as many records as the rest of the
    file could hold (:data:`SMALLEST_RECORD` bytes each): pages never written are never resident, so the arrays cost
    what they hold, with no copies when they grow or are joined (copies that freed memory the process keeps)."""

    def __init__(self, capacity: int) -> None:
        self.arrays: dict[str, np.ndarray] = {}
        self.capacity = capacity
        self.count = 0
        self.names: list[str | None] = []  # images' file names

    def add(self, count: int, **values: np.ndarray) -> None:
        start, stop = self.count, self.count + count
        for key, value in values.items():
            array = self.arrays.get(key)
            if array is None:
                array = self.arrays[key] = np.empty((max(self.capacity, stop), *value.shape[1:]), value.dtype)
            elif stop > len(array):  # more records than the estimate: grow (once in a while)
                grown = np.empty((stop + stop // 4, *array.shape[1:]), array.dtype)
                grown[:start] = array[:start]
                array = self.arrays[key] = grown
            array[start:stop] = value
        self.count = stop

    def join(self, key: str, dtype: Any, shape: tuple[int, ...] = ()) -> np.ndarray:
        array = self.arrays.pop(key, None)
        return array[: self.count] if array is not None else np.zeros((0, *shape), dtype)


#: the fewest bytes of JSON a record of a section takes, for the columns' capacity (a smaller one makes them grow)
SMALLEST_RECORD = 40


def _ints(records: list[Any], name: str) -> np.ndarray:
    """The integer field ``name`` of ``records`` as int64 (past 64 bits: the file is read the other way)."""
    try:
        return np.fromiter(map(attrgetter(name), records), np.int64, len(records))
    except OverflowError:
        raise _Fallback from None


class _Section:
    """Reads one array section (``images`` or ``annotations``) a run at a time."""

    def __init__(self, mapped: MappedFile):
        self.mapped = mapped
        self.columns = _Columns(mapped.size // SMALLEST_RECORD + 16)
        self.records = _Records()  # kept whole
        self.first: Any = None  # the first record, parsed (captions and panoptic files are told by it)

    def read(self, start: int) -> int:
        """Read the section's array, which opens at ``start``; returns its end."""
        return read_array(self.mapped, start, self.consume)

    def consume(self, run_start: int, run_end: int) -> None:
        self.run(self.mapped.read_array_json(run_start, run_end), run_start - 1)

    def run(self, data: bytearray, data_start: int) -> None:
        """Add a run's records (``data``: their JSON array, which starts at ``data_start`` in the file); raises
        :class:`BadRun` before adding anything when ``data`` does not parse."""
        raise NotImplementedError

    def whole(self, index: int, raw: msgspec.Raw, offset: int, head: msgspec.json.Decoder) -> Any:
        """Keep record ``index`` (at ``offset`` in the file) whole; returns its id field (``head`` decodes it:
        an integer), or None where that takes the whole record (:meth:`odd_id` then says what to do)."""
        self.records.add(index, offset, len(raw))
        if index == 0:
            self.first = jsonio.loads(bytes(raw))
        try:
            return head.decode(raw).id
        except msgspec.ValidationError:
            return None

    @staticmethod
    def odd_id(raw: msgspec.Raw, key: str) -> bool:
        """Whether a record whose ``key`` is no integer has one the columns cannot hold (a string, a float, null:
        ids Python compares by value): the file is read the other way. A missing key or a list is the record
        reader's error, reported later."""
        record = jsonio.loads(bytes(raw))
        return isinstance(record, dict) and key in record and not isinstance(record[key], (list, dict))


class _Annotations(_Section):
    def run(self, data: bytearray, data_start: int) -> None:
        first = self.columns.count
        try:
            boxes: list[_Box] = _BOXES.decode(data)
            raws = None
            missing = None
        except msgspec.ValidationError:
            raws = _raws(data)
            boxes, missing = [], []
            for k, decoded in enumerate(_each(raws, _BOX)):
                if decoded is None:
                    missing.append(k)
                boxes.append(decoded or _NO_BOX)
        except msgspec.DecodeError:
            raise BadRun from None
        count = len(boxes)
        image = _ints(boxes, "image_id")
        bbox = np.fromiter(chain.from_iterable(map(_BBOX, boxes)), np.float64, 4 * count).reshape(count, 4)
        areas = list(map(_AREA, boxes))
        types = set(map(type, areas))
        area_array = np.array(areas, np.float64 if float in types else np.int64) if areas else np.zeros(0)
        if int in types and float in types:
            area_int = np.fromiter((type(a) is int for a in areas), bool, count)
        else:
            area_int = np.full(count, int in types)
        whole = np.zeros(count, bool)
        if missing:
            whole[missing] = True
        whole |= (bbox[:, 2] < 0) | (bbox[:, 3] < 0)  # an error, named by the record reader
        whole |= area_int & (np.abs(area_array) > _EXACT)
        ok = ~whole  # the image id of a record kept whole is read below
        if whole.any():
            raws = raws if raws is not None else _raws(data)
            starts = _starts(data, raws)
            for k in np.flatnonzero(whole).tolist():
                image_id = self.whole(first + k, raws[k], data_start + starts[k], _IMAGE_ID)
                if image_id is not None and -(1 << 63) <= image_id < 1 << 63:
                    image[k], ok[k] = image_id, True
                elif image_id is not None or self.odd_id(raws[k], "image_id"):
                    raise _Fallback
        self.columns.add(
            count,
            id=_ints(boxes, "id"),
            image=image,
            ok=ok,
            category=_ints(boxes, "category_id"),
            bbox=bbox,
            area=area_array.astype(np.float64),
            area_int=area_int,
            crowd=_ints(boxes, "iscrowd") != 0,
            whole=whole,
        )


class _Images(_Section):
    def run(self, data: bytearray, data_start: int) -> None:
        first = self.columns.count
        raws: list[msgspec.Raw] = []
        try:
            images: list[_Image | None] = list(_IMAGES.decode(data))
        except msgspec.ValidationError:
            raws = _raws(data)
            images = list(_each(raws, _IMAGE))
        except msgspec.DecodeError:
            raise BadRun from None
        count = len(images)
        ids = np.zeros(count, np.int64)
        has_id = np.ones(count, bool)
        whole = np.zeros(count, bool)
        names: list[str | None] = []
        sizes = []
        starts = _starts(data, raws) if raws else []
        for k, img in enumerate(images):
            if img is None:
                image_id = self.whole(first + k, raws[k], data_start + starts[k], _ID)
                whole[k] = True
                names.append(None)
                sizes.append((0, 0))
                if image_id is None:
                    if self.odd_id(raws[k], "id"):
                        raise _Fallback
                    has_id[k] = False
                    continue
            else:
                image_id = img.id
                names.append(img.file_name)
                sizes.append((img.width, img.height))
                if first + k == 0:
                    self.first = {"file_name": img.file_name}
            if not -(1 << 63) <= image_id < 1 << 63:
                raise _Fallback
            ids[k] = image_id
        try:
            size = np.array(sizes, np.int64).reshape(count, 2)
        except OverflowError:
            raise _Fallback from None
        self.columns.add(count, id=ids, has_id=has_id, whole=whole, size=size)
        self.columns.names += names


#: in a run that does not decode as a whole, records tried one at a time until this many in a row are not plain:
#: the rest of the run is kept whole (a file of polygons), which reads the same, without a failed try each
TRIES = 32


def _each(raws: list[msgspec.Raw], decoder: msgspec.json.Decoder) -> Iterator[Any]:
    """Each of ``raws`` decoded, or None where it does not fit (see :data:`TRIES`)."""
    misses = 0
    for raw in raws:
        if misses < TRIES:
            try:
                yield decoder.decode(raw)
                misses = 0
                continue
            except msgspec.ValidationError:
                misses += 1
        yield None


def _raws(data: bytearray) -> list[msgspec.Raw]:
    """The run's records as raw JSON; :class:`BadRun` when it does not parse (a guessed cut, or malformed JSON)."""
    try:
        return _RAWS.decode(data)
    except msgspec.DecodeError:
        raise BadRun from None


@dataclass
class ScannedFile:
    """One file's sections: the small ones parsed, images and annotations in columns."""

    file: Path
    categories: Any
    info: Any
    licenses: Any
    has_info: bool
    has_licenses: bool
    images: dict[str, Any]
    annotations: dict[str, Any]
    first_image: Any
    first_annotation: Any
    planned: Any = None  # the plan made of it (:mod:`._bounded_samples`, once: it takes the image id column over)


def scan(file: Path) -> ScannedFile | None:
    """The file's sections, or None when the columns do not fit it (see the module docstring)."""
    if not ENABLED:
        return None
    try:
        mapped = MappedFile(file)
    except (OSError, ValueError, ScanError):
        return None
    try:
        return _scan(file, mapped)
    except (_Fallback, ScanError, msgspec.DecodeError, jsonio.JSONDecodeError, OverflowError):
        return None
    finally:
        mapped.close()


def _scan(file: Path, mapped: MappedFile) -> ScannedFile:
    images, annotations = _Images(mapped), _Annotations(mapped)
    sections: dict[str, Any] = {}
    seen: set[str] = set()

    def on_array(key: str, start: int) -> int:
        if key == "images":
            return images.read(start)
        if key == "annotations":
            return annotations.read(start)
        return container_end(mapped, start)

    for key, start, end in members(mapped, on_array):
        if key in seen:
            raise _Fallback  # the last one counts: not worth two column sets
        seen.add(key)
        if key in ("images", "annotations"):
            if mapped.map[start : start + 1] != b"[" and mapped.map[start:end] != b"null":
                raise _Fallback
        elif key in ("categories", "info", "licenses"):
            sections[key] = jsonio.loads(mapped.map[start:end])
    first = annotations.first
    if isinstance(first, dict) and ("caption" in first or is_panoptic(first)):
        raise _Fallback
    return ScannedFile(
        file,
        sections.get("categories"),
        sections.get("info"),
        sections.get("licenses"),
        "info" in sections,
        "licenses" in sections,
        _finish_images(images),
        _finish_annotations(annotations),
        images.first,
        first,
    )


def _finish_images(section: _Images) -> dict[str, Any]:
    columns = section.columns
    names = columns.names
    index, offset, length = section.records.arrays()
    return {
        "id": columns.join("id", np.int64),
        "has_id": columns.join("has_id", bool),
        "whole": columns.join("whole", bool),
        "size": columns.join("size", np.int64, (2,)),
        "names": names,
        "records": (index, offset, length),
    }


def _finish_annotations(section: _Annotations) -> dict[str, Any]:
    columns = section.columns
    index, offset, length = section.records.arrays()
    out = {key: columns.join(key, bool) for key in ("ok", "area_int", "crowd", "whole")}
    out["area"] = columns.join("area", np.float64)
    for key in ("id", "image", "category"):
        out[key] = columns.join(key, np.int64)
    out["bbox"] = columns.join("bbox", np.float64, (4,))
    out["records"] = (index, offset, length)
    return out
