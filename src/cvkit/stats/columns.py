"""A dataset as compact columns (numpy arrays): what every statistic is computed from.

Samples are streamed once and only numbers are kept: per image its size and split, per
object its image, class and box, per image-level label its image and class. A million
objects take ~50 MB instead of the ~1 GB their :class:`Sample` objects would.
Manifests take a fast path that reads only the fields statistics need.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np

from cvkit.core import jsonio
from cvkit.core.model import Dataset
from cvkit.core.progress import track
from cvkit.core.report import Report
from cvkit.errors import InvalidInputError
from cvkit.io import open_regular


def median(values: np.ndarray) -> float:
    """The median of a non-empty 1-D array. ``np.median`` gives the same value but imports ``numpy.ma``
    on first use, 8 ms of every ``cvkit stats`` run."""
    values = np.asarray(values, dtype=np.float64).ravel()
    n = len(values)
    half = n // 2
    if n % 2:
        return float(np.partition(values, half)[half])
    lower_upper = np.partition(values, (half - 1, half))
    return float((lower_upper[half - 1] + lower_upper[half]) / 2.0)

@dataclass(slots=True)
class Columns:
    """Numbers of a whole dataset; ``-1`` in a split column means "no split"."""

    class_names: list[str]
    class_ids: list[int]
    split_names: list[str]
    image_width: np.ndarray  # float64, NaN when unknown
    image_height: np.ndarray
    image_split: np.ndarray  # int32 index into split_names, -1 for none
    obj_image: np.ndarray  # int32 image index of each object
    obj_class: np.ndarray  # int32 class index
    obj_box: np.ndarray  # (M, 4) float64 x, y, w, h; NaN row when the object has no box
    obj_mask_area: np.ndarray  # float64 region pixels (RLE mask count or polygon area), NaN for box-only objects
    label_image: np.ndarray  # int32 image index of each image-level label
    label_class: np.ndarray  # int32 class index
    source: str | None = None
    root: Path | None = None  # folder image paths are relative to
    image_paths: list[str] | None = None  # kept only when asked for (``with_paths``)
    _pairs: Any = None  # cache of counts.image_class_pairs

    @property
    def num_images(self) -> int:
        return len(self.image_width)

    @property
    def num_objects(self) -> int:
        return len(self.obj_image)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def has_masks(self) -> bool:
        return bool(np.isfinite(self.obj_mask_area).any())


class ColumnsBuilder:
    """Accumulates plain Python lists (fast appends) and turns them into arrays once."""

    def __init__(self, class_names: list[str], class_ids: list[int], with_paths: bool = False):
        self.paths: list[str] | None = [] if with_paths else None
        self.class_names = list(class_names)
        self.class_ids = list(class_ids)
        self.class_index = {name: i for i, name in enumerate(self.class_names)}
        self.split_index: dict[str | None, int] = {None: -1}
        self.widths: list[float] = []
        self.heights: list[float] = []
        self.splits: list[int] = []
        self.obj_image: list[int] = []
        self.obj_class: list[int] = []
        self.boxes: list[float] = []
        self.mask_area: dict[int, float] = {}
        self.label_image: list[int] = []
        self.label_class: list[int] = []

    def class_of(self, name: str) -> int:
        index = self.class_index.get(name)
        if index is None:
            index = self.class_index[name] = len(self.class_names)
            self.class_names.append(name)
            self.class_ids.append(-1)
        return index

    def split_of(self, name: str | None) -> int:
        index = self.split_index.get(name)
        if index is None:
            index = self.split_index[name] = len(self.split_index) - 1
        return index

    def build(self, source: str | None) -> Columns:
        def ints(values: list[int]) -> np.ndarray:
            return np.asarray(values, dtype=np.int32)

        def floats(values: list[float]) -> np.ndarray:
            return np.asarray(values, dtype=np.float64)

        mask_area = np.full(len(self.obj_image), np.nan)
        for index, area in self.mask_area.items():
            mask_area[index] = area
        return Columns(
            class_names=self.class_names,
            class_ids=self.class_ids,
            split_names=[name for name in self.split_index if name is not None],  # type: ignore[misc]
            image_width=floats(self.widths),
            image_height=floats(self.heights),
            image_split=ints(self.splits),
            obj_image=ints(self.obj_image),
            obj_class=ints(self.obj_class),
            obj_box=floats(self.boxes).reshape(-1, 4),
            obj_mask_area=mask_area,
            label_image=ints(self.label_image),
            label_class=ints(self.label_class),
            source=source,
            image_paths=self.paths,
        )


NAN_BOX = (math.nan, math.nan, math.nan, math.nan)
FOUR = {4}


def _size(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and value else math.nan


def columns_from_dataset(dataset: Dataset, with_paths: bool = False) -> Columns:
    """Stream any :class:`Dataset` once into :class:`Columns` (category order kept, ids too)."""
    builder = ColumnsBuilder(dataset.categories.names(), [c.id for c in dataset.categories], with_paths)
    for image, sample in enumerate(track(dataset, "reading")):
        if builder.paths is not None:
            builder.paths.append(sample.path)
        builder.widths.append(_size(sample.width))
        builder.heights.append(_size(sample.height))
        builder.splits.append(builder.split_of(sample.split))
        for obj in sample.objects:
            builder.obj_image.append(image)
            builder.obj_class.append(builder.class_of(obj.label))
            box = obj.bbox if obj.bbox is not None else obj.ensure_bbox()
            builder.boxes.extend(box if box is not None else NAN_BOX)
            if obj.rle is not None or obj.polygon:
                builder.mask_area[len(builder.obj_image) - 1] = obj.area()
        for label in sample.labels:
            builder.label_image.append(image)
            builder.label_class.append(builder.class_of(label))
    # categories a streaming reader discovered while iterating come first, in their order
    final = dataset.categories.names()
    extra = [name for name in builder.class_names if name not in dataset.categories]
    columns = builder.build(dataset.source_format)
    order = final + extra
    if order != columns.class_names:
        remap = np.asarray([order.index(name) for name in columns.class_names], dtype=np.int32)
        columns.obj_class = remap[columns.obj_class] if len(columns.obj_class) else columns.obj_class
        columns.label_class = remap[columns.label_class] if len(columns.label_class) else columns.label_class
        columns.class_names = order
    columns.class_ids = [cat.id if (cat := dataset.categories.get(name)) else -1 for name in columns.class_names]
    columns.root = dataset.root
    return columns


def columns_from_manifest(path: str | Path, report: Report | None = None, with_paths: bool = False) -> Columns:
    """Fast path for manifests: orjson per line, only the fields statistics need.

    Unknown labels are bad records exactly as :func:`cvkit.manifest.read_manifest` treats them.
    """
    from cvkit.manifest import header_to_dataset_parts, read_header

    path = Path(path)
    report = report if report is not None else Report()
    header = read_header(path)
    categories, _ = header_to_dataset_parts(header)
    builder = ColumnsBuilder(categories.names(), [c.id for c in categories], with_paths)
    paths = builder.paths
    class_index = builder.class_index
    widths, heights, splits = builder.widths, builder.heights, builder.splits
    obj_image, obj_class, boxes = builder.obj_image, builder.obj_class, builder.boxes
    loads = jsonio.loads
    image = 0
    with open_regular(path) as handle:
        handle.readline()
        for number, line in enumerate(handle, start=2):
            try:
                rec = loads(line)
                objects = rec.get("objects") or ()
                indices = [class_index[o["label"]] for o in objects]
                labels = [class_index[name] for name in rec.get("labels") or ()]
                if "image" not in rec:
                    raise ValueError("record has no 'image'")
            except jsonio.JSONDecodeError as exc:
                if not line.strip():
                    continue
                report.invalid(InvalidInputError(f"bad record ({exc})", file=path, location=f"line {number}"))
                continue
            except KeyError as exc:
                report.invalid(InvalidInputError(f"label {exc.args[0]!r} is not in the header's categories", file=path, location=f"line {number}"))
                continue
            except (AttributeError, TypeError, ValueError) as exc:
                report.invalid(InvalidInputError(f"bad record ({exc})", file=path, location=f"line {number}"))
                continue
            if paths is not None:
                paths.append(rec["image"])
            widths.append(_size(rec.get("width")))
            heights.append(_size(rec.get("height")))
            splits.append(builder.split_of(rec.get("split")))
            if indices:
                first = len(obj_class)
                obj_class.extend(indices)
                obj_image.extend([image] * len(indices))
                try:
                    object_boxes = [o["bbox"] for o in objects]
                    complete = set(map(len, object_boxes)) == FOUR
                except (KeyError, TypeError):
                    complete = False
                if complete:
                    boxes.extend(chain.from_iterable(object_boxes))
                else:  # an object without a box (or a malformed one): one at a time
                    for obj in objects:
                        box = obj.get("bbox")
                        boxes.extend(box if isinstance(box, list) and len(box) == 4 else NAN_BOX)
                if b'"rle"' in line or b'"polygon"' in line:
                    _mask_areas(objects, first, builder.mask_area)
            if labels:
                builder.label_class.extend(labels)
                builder.label_image.extend([image] * len(labels))
            report.count_read(rec.get("split"), len(indices))
            image += 1
    report.read.categories = len(categories)
    columns = builder.build((header.get("source") or {}).get("format"))
    columns.root = path.parent
    return columns


def _mask_areas(objects: list[dict[str, Any]], first: int, out: dict[int, float]) -> None:
    """Region pixels (RLE mask count, else polygon area) of ``objects`` (object ``i`` is number ``first + i``)."""
    from cvkit.core.geometry import polygon_area
    from cvkit.core.masks import rle_area

    for offset, obj in enumerate(objects):
        if isinstance(obj.get("rle"), dict):
            out[first + offset] = rle_area(obj["rle"])
        elif isinstance(obj.get("polygon"), list) and obj["polygon"]:
            out[first + offset] = polygon_area(obj["polygon"])
