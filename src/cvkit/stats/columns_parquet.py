"""A Parquet manifest straight into :class:`~cvkit.stats.column_arrays.Columns`: Arrow columns to numpy, no
per-object Python.

Only the columns statistics need are read (sizes, split, image labels, and of each object its label and box; its
polygon and RLE only in row groups whose statistics say some are there), one row group at a time, labels as
Parquet's own dictionary codes, each group written straight into arrays sized for the whole file. Records whose
labels are not in the header are bad records, as :func:`cvkit.stats.columns.columns_from_manifest` treats them
in a JSON Lines manifest. Figures: docs/benchmarks.md ("Parquet manifest statistics").
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from cvkit.core.executor import chosen, tracked_map
from cvkit.core.geometry import polygon_area
from cvkit.core.masks import rle_area
from cvkit.core.report import Report
from cvkit.errors import InvalidInputError
from cvkit.manifest import header_to_dataset_parts, read_header
from cvkit.manifest_parquet import pyarrow_modules
from cvkit.stats.column_arrays import Columns, ColumnsBuilder, declared_groups

OBJECT = "objects.list.element."
BOX_COLUMNS = [f"{OBJECT}bbox.{name}" for name in ("x", "y", "w", "h")]
#: the columns every statistics pass reads (``image`` only when paths are asked for)
STATS_COLUMNS = ["width", "height", "split", "labels", OBJECT + "label", *BOX_COLUMNS]
#: read only in row groups that hold some (see :func:`_has_regions`)
REGION_COLUMNS = [OBJECT + "polygon", OBJECT + "rle"]
DICTIONARY_COLUMNS = ["split", "labels.list.element", OBJECT + "label"]
#: runs of row groups per worker of an engine (load balance)
GROUP_RUNS_PER_WORKER = 4


class _Growing:
    """An array filled a part at a time: ``take(n)`` gives the next ``n`` rows to write into; it grows 1.5x when
    a part does not fit (rare: the first row group's objects per image set the size)."""

    def __init__(self, dtype: Any, capacity: int, width: int = 0):
        self.shape_tail = (width,) if width else ()
        self.array = np.empty((capacity, *self.shape_tail), dtype=dtype)
        self.size = 0

    def take(self, count: int) -> np.ndarray:
        if self.size + count > len(self.array):
            grown = np.empty(
                (max(self.size + count, int(len(self.array) * 1.5)), *self.shape_tail), dtype=self.array.dtype
            )
            grown[: self.size] = self.array[: self.size]
            self.array = grown
        part = self.array[self.size : self.size + count]
        self.size += count
        return part

    def reserve(self, capacity: int) -> None:
        """Make room for ``capacity`` rows in all, before anything is written."""
        if self.size == 0 and capacity > len(self.array):
            self.array = np.empty((capacity, *self.shape_tail), dtype=self.array.dtype)

    def result(self) -> np.ndarray:
        return self.array[: self.size]


def _numpy(column: Any) -> np.ndarray:
    """An Arrow (chunked) numeric column as numpy; nulls of a float column become NaN."""
    return column.to_numpy(zero_copy_only=False) if hasattr(column, "to_numpy") else np.asarray(column)


def _codes(dictionary_column: Any, index_of: Any) -> tuple[np.ndarray, np.ndarray]:
    """Dictionary-encoded strings -> ``(indices, known)``: ``index_of(name)`` per distinct name (not per value),
    -1 where the column is null; ``known`` is False where ``index_of`` gave None (a name it does not know)."""
    import pyarrow as pa

    column = dictionary_column.combine_chunks() if isinstance(dictionary_column, pa.ChunkedArray) else dictionary_column
    if not pa.types.is_dictionary(column.type):
        column = column.dictionary_encode()
    mapped = [index_of(name) for name in column.dictionary.to_pylist()]
    lookup = np.asarray([-2 if m is None else m for m in mapped] + [-1], dtype=np.int32)
    codes = lookup[_numpy(column.indices.fill_null(len(mapped)))]
    return codes, codes != -2


def _list_parts(list_column: Any) -> tuple[Any, np.ndarray]:
    """A list column -> ``(flattened values, row index of each value)``; null lists count as empty."""
    import pyarrow as pa
    import pyarrow.compute as pc

    column = list_column.combine_chunks() if isinstance(list_column, pa.ChunkedArray) else list_column
    lengths = _numpy(pc.list_value_length(column).fill_null(0))
    return pc.list_flatten(column), np.repeat(np.arange(len(column), dtype=np.int32), lengths)


def _has_regions(metadata: Any, group: int, region_leaves: list[int]) -> bool:
    """False only when the row group's statistics show every polygon and RLE leaf null (nothing to read)."""
    row_group = metadata.row_group(group)
    for leaf in region_leaves:
        stats = row_group.column(leaf).statistics
        if stats is None or stats.has_min_max or stats.null_count != row_group.column(leaf).num_values:
            return True
    return False


def _mask_areas(objects: Any, out: np.ndarray) -> None:
    """Region pixels of the objects that have an RLE or a polygon (few, in most datasets): one at a time."""
    import pyarrow.compute as pc

    rle, polygon = pc.struct_field(objects, "rle"), pc.struct_field(objects, "polygon")
    has_region = pc.or_(pc.is_valid(rle), pc.fill_null(pc.greater(pc.list_value_length(polygon), 0), False))
    for index in np.flatnonzero(_numpy(has_region)):
        region = rle[int(index)].as_py()
        if region is not None:
            counts = region["counts"] if region["counts"] is not None else region["counts_list"]
            out[index] = rle_area({"size": region["size"], "counts": counts})
        else:
            out[index] = polygon_area(polygon[int(index)].as_py())


class _Reader:
    """Fills the columns of a whole file, a row group at a time."""

    def __init__(self, builder: ColumnsBuilder, images: int, with_paths: bool):
        self.builder = builder
        self.width, self.height = np.empty(images), np.empty(images)
        self.split = np.empty(images, dtype=np.int32)
        self.paths: list[str] | None = [] if with_paths else None
        self.obj_image, self.obj_class = _Growing(np.int32, 0), _Growing(np.int32, 0)
        self.obj_box, self.mask_area = _Growing(np.float64, 0, 4), _Growing(np.float64, 0)
        self.without_regions = 0  # objects of the groups before the first with regions (their areas: NaN, unwritten)
        self.label_image, self.label_class = _Growing(np.int32, 0), _Growing(np.int32, 0)
        self.images = 0
        self.bad: dict[int, str] = {}  # image number -> first unknown label

    def add(self, table: Any, regions: bool, expected_images: int, crowd: Any) -> None:
        """Append a row group's columns; ``crowd()`` reads its objects' ``iscrowd`` (asked for only when some
        label is not in the header)."""
        import pyarrow.compute as pc

        rows, first = table.num_rows, self.images
        for name, out in (("width", self.width), ("height", self.height)):
            values = _numpy(table[name]).astype(np.float64)  # nulls arrive as NaN
            values[values == 0] = math.nan
            out[first : first + rows] = values
        self.split[first : first + rows] = _codes(table["split"], self.builder.split_of)[0]
        if self.paths is not None:
            self.paths.extend(table["image"].to_pylist())
        objects, obj_image = _list_parts(table["objects"])
        if first == 0 and rows:  # size the object arrays from the first group's objects per image
            for growing, per_image in ((self.obj_image, len(objects) / rows), (self.label_image, 0.0)):
                growing.reserve(int(per_image * expected_images * 1.02) + 1)
            for growing in (self.obj_class, self.obj_box):
                growing.reserve(len(self.obj_image.array))
        labels = pc.struct_field(objects, "label")
        obj_class, known = _codes(labels, self.builder.class_index.get)
        if not known.all():
            self._crowd_classes(labels, obj_class, known, crowd())
        self._unknown(labels, obj_image, known, first)
        count = len(objects)
        self.obj_image.take(count)[:] = obj_image + first
        self.obj_class.take(count)[:] = obj_class
        boxes = self.obj_box.take(count)
        box = pc.struct_field(objects, "bbox")
        for axis, name in enumerate(("x", "y", "w", "h")):
            boxes[:, axis] = _numpy(pc.struct_field(box, name))
        if box.null_count:
            boxes[_numpy(box.is_null())] = math.nan
        if regions and count:
            areas = self._region_areas().take(count)
            areas[:] = math.nan
            _mask_areas(objects, areas)
        else:
            self.without_regions += count
        image_labels, label_image = _list_parts(table["labels"])
        label_class, label_known = _codes(image_labels, self.builder.class_index.get)
        self._unknown(image_labels, label_image, label_known, first)
        self.label_image.take(len(label_image))[:] = label_image + first
        self.label_class.take(len(label_class))[:] = label_class
        self.images += rows

    def _region_areas(self) -> _Growing:
        """The mask-area column, NaN-filled for every object before the first row group with regions."""
        if self.without_regions:
            self.mask_area.take(self.without_regions)[:] = math.nan
            self.without_regions = 0
        return self.mask_area

    def _crowd_classes(self, labels: Any, obj_class: np.ndarray, known: np.ndarray, crowd: Any) -> None:
        """Crowd/ignore regions may carry a label that is no category (LabelMe's ``__ignore__``): it becomes a
        class of its own, as on the JSON Lines path (:func:`cvkit.stats.columns.crowd_tolerant_classes`)."""
        import pyarrow.compute as pc

        is_crowd = _numpy(pc.fill_null(pc.struct_field(_list_parts(crowd)[0], "iscrowd"), False))
        for index in np.flatnonzero(~known & is_crowd):
            obj_class[index] = self.builder.class_of(labels[int(index)].as_py())
            known[index] = True

    def _unknown(self, names: Any, rows: np.ndarray, known: np.ndarray, first: int) -> None:
        """Remember the first unknown label of each image that has one (only looked at when some exist)."""
        for index in np.flatnonzero(~known):
            self.bad.setdefault(first + int(rows[index]), names[int(index)].as_py())

    def part(self) -> _Part:
        """What this reader read, trimmed to size, with the split and class names its codes refer to."""
        mask_area = None
        if self.mask_area.size:  # some group had regions: a real column
            self._region_areas()
            mask_area = self.mask_area.result()
        return _Part(
            split_names=[name for name in self.builder.split_index if name is not None],  # type: ignore[misc]
            class_names=self.builder.class_names,
            width=self.width[: self.images],
            height=self.height[: self.images],
            split=self.split[: self.images],
            paths=self.paths,
            obj_image=self.obj_image.result(),
            obj_class=self.obj_class.result(),
            obj_box=self.obj_box.result(),
            mask_area=mask_area,
            label_image=self.label_image.result(),
            label_class=self.label_class.result(),
            bad=self.bad,
        )


@dataclass(slots=True)
class _Part:
    """The columns of some row groups: split and class codes index this part's own ``split_names`` and
    ``class_names`` (the header's, then crowd labels it met); ``mask_area`` None when no group had regions."""

    split_names: list[str]
    class_names: list[str]
    width: np.ndarray
    height: np.ndarray
    split: np.ndarray
    paths: list[str] | None
    obj_image: np.ndarray
    obj_class: np.ndarray
    obj_box: np.ndarray
    mask_area: np.ndarray | None
    label_image: np.ndarray
    label_class: np.ndarray
    bad: dict[int, str]


@dataclass(frozen=True, slots=True)
class _File:
    """The context of the row-group tasks: the file and the header's categories."""

    path: str
    class_names: list[str]
    class_ids: list[int]
    with_paths: bool


def _read_groups(file: _File, groups: list[int]) -> _Part:
    """Worker side: the columns of row groups ``groups`` of the file."""
    _, pq = pyarrow_modules()
    parquet_file = pq.ParquetFile(file.path, read_dictionary=DICTIONARY_COLUMNS)
    metadata = parquet_file.metadata
    leaves = [metadata.schema.column(i).path for i in range(metadata.num_columns)]
    region_leaves = [i for i, leaf in enumerate(leaves) if leaf.startswith(tuple(REGION_COLUMNS))]
    rows = sum(metadata.row_group(group).num_rows for group in groups)
    reader = _Reader(ColumnsBuilder(file.class_names, file.class_ids, file.with_paths), rows, file.with_paths)
    for group in groups:
        regions = _has_regions(metadata, group, region_leaves)
        columns = STATS_COLUMNS + (REGION_COLUMNS if regions else []) + (["image"] if file.with_paths else [])
        crowd = partial(parquet_file.read_row_group, group, columns=[OBJECT + "iscrowd"])
        reader.add(
            parquet_file.read_row_group(group, columns=columns), regions, rows, lambda read=crowd: read()["objects"]
        )
    return reader.part()


def _recoded(codes: np.ndarray, names: list[str], index_of: Any) -> np.ndarray:
    """``codes`` into a part's ``names`` as indices of the whole (``index_of(name)``); -1 and -2 stay."""
    lookup = np.asarray([index_of(name) for name in names] + [-2, -1], dtype=np.int32)
    return lookup[codes]


def _merged(parts: list[_Part], builder: ColumnsBuilder, source: str | None) -> tuple[Columns, dict[int, str]]:
    """The parts' columns as one, in order: split and class codes renumbered as one reader met the names, image
    numbers offset; and the first unknown label of each bad image."""
    bad: dict[int, str] = {}
    keys = ("split", "obj_class", "obj_image", "label_class", "label_image")
    pieces: dict[str, list[np.ndarray]] = {key: [] for key in keys}
    paths: list[str] | None = [] if builder.paths is not None else None
    offset = 0
    for part in parts:
        pieces["split"].append(_recoded(part.split, part.split_names, builder.split_of))
        pieces["obj_class"].append(_recoded(part.obj_class, part.class_names, builder.class_of))
        pieces["label_class"].append(_recoded(part.label_class, part.class_names, builder.class_of))
        pieces["obj_image"].append(part.obj_image + offset)
        pieces["label_image"].append(part.label_image + offset)
        bad.update((image + offset, name) for image, name in part.bad.items())
        if paths is not None and part.paths is not None:
            paths.extend(part.paths)
        offset += len(part.width)
    columns = builder.build(source)
    one = len(parts) == 1

    def joined(arrays: list[np.ndarray]) -> np.ndarray:
        return arrays[0] if one else np.concatenate(arrays)

    columns.image_width = joined([part.width for part in parts])
    columns.image_height = joined([part.height for part in parts])
    columns.image_split = joined(pieces["split"])
    columns.obj_image, columns.obj_class = joined(pieces["obj_image"]), joined(pieces["obj_class"])
    columns.obj_box = joined([part.obj_box for part in parts])
    columns.label_image, columns.label_class = joined(pieces["label_image"]), joined(pieces["label_class"])
    objects = len(columns.obj_image)
    if all(part.mask_area is None for part in parts):  # boxes only: one NaN seen as a column (nothing writes to it)
        columns.obj_mask_area = np.broadcast_to(np.float64(math.nan), (objects,))
    else:
        columns.obj_mask_area = joined(
            [part.mask_area if part.mask_area is not None else np.full(len(part.obj_image), math.nan) for part in parts]
        )
    columns.image_paths = paths
    return columns, bad


def _drop_images(columns: Columns, bad: np.ndarray) -> None:
    """Leave out the images numbered ``bad`` with their objects and labels, renumbering the rest."""
    keep = np.ones(columns.num_images, dtype=bool)
    keep[bad] = False
    new_index = (np.cumsum(keep) - 1).astype(np.int32)
    obj_keep, label_keep = keep[columns.obj_image], keep[columns.label_image]
    columns.image_width, columns.image_height = columns.image_width[keep], columns.image_height[keep]
    columns.image_split = columns.image_split[keep]
    if columns.image_paths is not None:
        columns.image_paths = [p for p, k in zip(columns.image_paths, keep) if k]
    columns.obj_image, columns.obj_class = new_index[columns.obj_image[obj_keep]], columns.obj_class[obj_keep]
    columns.obj_box, columns.obj_mask_area = columns.obj_box[obj_keep], columns.obj_mask_area[obj_keep]
    columns.label_image, columns.label_class = (
        new_index[columns.label_image[label_keep]],
        columns.label_class[label_keep],
    )


def columns_from_parquet(path: str | Path, report: Report | None = None, with_paths: bool = False) -> Columns:
    """:class:`Columns` of a Parquet manifest, read column-wise a row group at a time: in this process, or with
    ``--engine`` (:func:`cvkit.core.executor.using`) as runs of row groups on its workers, whose columns are put
    together here in order (the same columns, hence the same statistics, as one reader gives)."""
    _, pq = pyarrow_modules()
    path = Path(path)
    report = report if report is not None else Report()
    header = read_header(path)
    categories, _ = header_to_dataset_parts(header)
    builder = ColumnsBuilder(categories.names(), [c.id for c in categories], with_paths)
    file = _File(str(path), categories.names(), [c.id for c in categories], with_paths)
    groups = list(range(pq.ParquetFile(path).metadata.num_row_groups))
    executor = chosen()
    if executor is None or len(groups) < 2:
        parts = [_read_groups(file, groups)]
    else:
        size = max(1, math.ceil(len(groups) / (executor.workers * GROUP_RUNS_PER_WORKER)))
        runs = [groups[start : start + size] for start in range(0, len(groups), size)]
        parts = list(tracked_map(executor, _read_groups, file, runs, "reading row groups", len))
    result, bad = _merged(parts, builder, (header.get("source") or {}).get("format"))
    del parts
    for image, name in sorted(bad.items()):
        report.invalid(
            InvalidInputError(
                f"label {name!r} is not in the header's categories", file=path, location=f"row {image + 1}"
            )
        )
    if bad:
        _drop_images(result, np.fromiter(bad, dtype=np.int64))
    pa, _ = pyarrow_modules()
    pa.default_memory_pool().release_unused()  # the row groups' buffers go back to the system before the statistics
    _count_read(report, result)
    report.read.categories = len(categories)
    result.root = path.parent
    result.declared_groups = declared_groups(categories)
    return result


def _count_read(report: Report, columns: Columns) -> None:
    """The report's read counts (images per split, objects) from the columns, not per image."""
    report.read.images += columns.num_images
    report.read.objects += columns.num_objects
    per_split = np.bincount(columns.image_split + 1, minlength=len(columns.split_names) + 1)
    for index, count in enumerate(per_split.tolist()):
        if count:
            report.read.splits[columns.split_names[index - 1] if index else "-"] += count
