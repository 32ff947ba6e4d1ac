"""A Parquet manifest straight into :class:`~cvkit.stats.columns.Columns`: Arrow columns to numpy, no per-object Python.

Only the columns statistics need are read (sizes, split, image labels, and of each object its label, box and,
where present, its polygon or RLE), one row group at a time, labels as Parquet's own dictionary codes. Records
whose labels are not in the header are bad records, as :func:`cvkit.stats.columns.columns_from_manifest` treats
them in a JSON Lines manifest. Figures: docs/benchmarks.md ("Parquet manifest statistics").
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from cvkit.core.report import Report
from cvkit.errors import InvalidInputError
from cvkit.stats.columns import Columns, ColumnsBuilder

OBJECT = "objects.list.element."
#: the columns a statistics pass reads (``image`` only when paths are asked for)
STATS_COLUMNS = ["width", "height", "split", "labels", OBJECT + "label", OBJECT + "bbox", OBJECT + "polygon", OBJECT + "rle"]
DICTIONARY_COLUMNS = ["split", "labels.list.element", OBJECT + "label"]


def _sizes(column: Any) -> np.ndarray:
    """Image widths or heights as float64; NaN where unknown (null or 0), as the JSONL path reads them."""
    values = column.to_numpy(zero_copy_only=False).astype(np.float64)  # nulls arrive as NaN
    values[values == 0] = math.nan
    return values


def _codes(dictionary_column: Any, index_of: Any) -> tuple[np.ndarray, np.ndarray]:
    """Dictionary-encoded strings -> ``(indices, valid)``: ``index_of(name)`` per distinct name (not per value),
    -1 where the column is null; ``valid`` is False where ``index_of`` gave None (a name it does not know)."""
    import pyarrow as pa

    column = dictionary_column.combine_chunks() if isinstance(dictionary_column, pa.ChunkedArray) else dictionary_column
    if not pa.types.is_dictionary(column.type):
        column = column.dictionary_encode()
    mapped = [index_of(name) for name in column.dictionary.to_pylist()]
    lookup = np.asarray([-2 if m is None else m for m in mapped] + [-1], dtype=np.int32)
    indices = column.indices.fill_null(len(mapped)).to_numpy(zero_copy_only=False)
    codes = lookup[indices]
    return codes, codes != -2


def _list_parts(list_column: Any) -> tuple[Any, np.ndarray]:
    """A list column -> ``(flattened values, row index of each value)``; null lists count as empty."""
    import pyarrow as pa
    import pyarrow.compute as pc

    column = list_column.combine_chunks() if isinstance(list_column, pa.ChunkedArray) else list_column
    lengths = pc.list_value_length(column).fill_null(0).to_numpy(zero_copy_only=False)
    rows = np.repeat(np.arange(len(column), dtype=np.int32), lengths)
    return pc.list_flatten(column), rows


def _boxes(bbox: Any) -> np.ndarray:
    """A fixed-size-list<double, 4> column -> (M, 4) float64, NaN rows for objects without a box."""
    import pyarrow as pa

    if isinstance(bbox, pa.ChunkedArray):
        bbox = bbox.combine_chunks()
    # the child holds 4 slots per object, null boxes included (``values`` ignores the array's offset)
    values = bbox.values.slice(4 * bbox.offset, 4 * len(bbox)).to_numpy(zero_copy_only=False)
    boxes = np.asarray(values, dtype=np.float64).reshape(-1, 4)
    if not boxes.flags.writeable:
        boxes = boxes.copy()
    if bbox.null_count:
        boxes[bbox.is_null().to_numpy(zero_copy_only=False)] = math.nan
    return boxes


def _mask_areas(objects: Any, out: np.ndarray) -> None:
    """Region pixels of the objects that have an RLE or a polygon (few, in most datasets): one at a time."""
    import pyarrow.compute as pc

    from cvkit.core.geometry import polygon_area
    from cvkit.core.masks import rle_area

    rle, polygon = pc.struct_field(objects, "rle"), pc.struct_field(objects, "polygon")
    has_region = pc.or_(pc.is_valid(rle), pc.fill_null(pc.greater(pc.list_value_length(polygon), 0), False))
    for index in np.flatnonzero(has_region.to_numpy(zero_copy_only=False)):
        region = rle[int(index)].as_py()
        if region is not None:
            counts = region["counts"] if region["counts"] is not None else region["counts_list"]
            out[index] = rle_area({"size": region["size"], "counts": counts})
        else:
            out[index] = polygon_area(polygon[int(index)].as_py())


class _Group:
    """The statistics columns of one row group, as numpy."""

    def __init__(self, table: Any, builder: ColumnsBuilder, with_paths: bool):
        import pyarrow.compute as pc

        self.rows = table.num_rows
        self.width, self.height = _sizes(table["width"]), _sizes(table["height"])
        self.split, _ = _codes(table["split"], builder.split_of)
        self.paths = table["image"].to_pylist() if with_paths else None
        objects, self.obj_image = _list_parts(table["objects"])
        object_labels = pc.struct_field(objects, "label")
        self.obj_class, known = _codes(object_labels, builder.class_index.get)
        self.obj_box = _boxes(pc.struct_field(objects, "bbox"))
        self.mask_area = np.full(len(objects), math.nan)
        if len(objects):
            _mask_areas(objects, self.mask_area)
        labels, self.label_image = _list_parts(table["labels"])
        self.label_class, label_known = _codes(labels, builder.class_index.get)
        self.bad = np.zeros(self.rows, dtype=bool)
        self.bad[self.obj_image[~known]] = True
        self.bad[self.label_image[~label_known]] = True
        self.unknown = {int(row): name for row, name in _first_unknown(object_labels, self.obj_image, known)}
        self.unknown |= {int(row): name for row, name in _first_unknown(labels, self.label_image, label_known) if int(row) not in self.unknown}

    def drop_bad(self) -> None:
        """Leave out the images with unknown labels (with their objects and labels), renumbering the rest."""
        keep = ~self.bad
        new_index = np.cumsum(keep, dtype=np.int32) - 1
        obj_keep, label_keep = keep[self.obj_image], keep[self.label_image]
        self.width, self.height, self.split = self.width[keep], self.height[keep], self.split[keep]
        if self.paths is not None:
            self.paths = [p for p, k in zip(self.paths, keep) if k]
        self.obj_image, self.obj_class = new_index[self.obj_image[obj_keep]], self.obj_class[obj_keep]
        self.obj_box, self.mask_area = self.obj_box[obj_keep], self.mask_area[obj_keep]
        self.label_image, self.label_class = new_index[self.label_image[label_keep]], self.label_class[label_keep]
        self.rows = int(keep.sum())


def _first_unknown(names: Any, rows: np.ndarray, known: np.ndarray) -> list[tuple[int, str]]:
    """``(row, name)`` of the unknown names (only computed when some exist)."""
    if known.all():
        return []
    where = np.flatnonzero(~known)
    return [(int(rows[i]), names[int(i)].as_py()) for i in where]


def columns_from_parquet(path: str | Path, report: Report | None = None, with_paths: bool = False) -> Columns:
    """:class:`Columns` of a Parquet manifest, read column-wise a row group at a time."""
    from cvkit.manifest import header_to_dataset_parts
    from cvkit.manifest_parquet import open_parquet, pyarrow_modules, read_parquet_header

    _, pq = pyarrow_modules()
    path = Path(path)
    report = report if report is not None else Report()
    header = read_parquet_header(path, open_parquet(path))
    categories, _ = header_to_dataset_parts(header)
    builder = ColumnsBuilder(categories.names(), [c.id for c in categories], with_paths)
    parquet_file = pq.ParquetFile(path, read_dictionary=DICTIONARY_COLUMNS)
    groups: list[_Group] = []
    first_row = 1
    columns = STATS_COLUMNS + (["image"] if with_paths else [])
    for index in range(parquet_file.metadata.num_row_groups):
        group = _Group(parquet_file.read_row_group(index, columns=columns, use_threads=True), builder, with_paths)
        for row, name in sorted(group.unknown.items()):
            report.invalid(InvalidInputError(f"label {name!r} is not in the header's categories", file=path, location=f"row {first_row + row}"))
        first_row += group.rows
        if group.bad.any():
            group.drop_bad()
        groups.append(group)
    columns_out = _concatenate(groups, builder, (header.get("source") or {}).get("format"))
    _count_read(report, columns_out)
    report.read.categories = len(categories)
    columns_out.root = path.parent
    return columns_out


def _concatenate(groups: list[_Group], builder: ColumnsBuilder, source: str | None) -> Columns:
    """One :class:`Columns` of every row group, image numbers running on from group to group."""
    starts = np.cumsum([0] + [g.rows for g in groups])
    columns = builder.build(source)

    def joined(name: str, empty: np.ndarray, offset: bool = False) -> np.ndarray:
        parts = [getattr(g, name) + (starts[i] if offset else 0) for i, g in enumerate(groups)]
        return np.concatenate(parts).astype(empty.dtype, copy=False) if parts else empty

    columns.image_width, columns.image_height = joined("width", columns.image_width), joined("height", columns.image_height)
    columns.image_split = joined("split", columns.image_split)
    columns.obj_image, columns.obj_class = joined("obj_image", columns.obj_image, True), joined("obj_class", columns.obj_class)
    columns.obj_box = np.concatenate([g.obj_box for g in groups]) if groups else columns.obj_box
    columns.obj_mask_area = joined("mask_area", columns.obj_mask_area)
    columns.label_image, columns.label_class = joined("label_image", columns.label_image, True), joined("label_class", columns.label_class)
    if builder.paths is not None:
        columns.image_paths = [p for g in groups for p in g.paths or ()]
    return columns


def _count_read(report: Report, columns: Columns) -> None:
    """The report's read counts (images per split, objects) from the columns, not per image."""
    report.read.images += columns.num_images
    report.read.objects += columns.num_objects
    per_split = np.bincount(columns.image_split + 1, minlength=len(columns.split_names) + 1)
    for index, count in enumerate(per_split.tolist()):
        if count:
            report.read.splits[columns.split_names[index - 1] if index else "-"] += count
