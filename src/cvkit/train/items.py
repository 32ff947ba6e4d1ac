"""Training items held as numpy arrays, not one Python tuple per image.

A DataLoader worker is a forked copy of the trainer: reading a Python tuple writes its reference count, so every
page of a list of tuples a worker touches is copied into it, and 8 workers over ImageNet-21k's 14M items each end
up holding their own copy. :class:`ItemArrays` keeps the same items in a few arrays (paths as one UTF-8 buffer with
offsets, classes as int64, crop boxes as float64 rows), which workers share untouched; an item's tuple is made when
it is asked for. A Parquet manifest's single-label items are read straight into these arrays, column-wise
(:func:`parquet_single_label_items`). Figures: docs/benchmarks.md ("Trainer items").
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cvkit.errors import CvkitError


class ItemArrays(Sequence):
    """``(absolute image path, class or tuple of classes, crop box or None)`` items, stored as arrays.

    Paths are kept relative to ``root`` (joined when an item is asked for); multi-label classes are a flat array
    cut by ``target_offsets``; boxes are ``(N, 4)`` rows, NaN for "no box"."""

    def __init__(
        self,
        root: str,
        path_bytes: np.ndarray,
        path_offsets: np.ndarray,
        targets: np.ndarray,
        target_offsets: np.ndarray | None = None,
        boxes: np.ndarray | None = None,
    ):
        self.root, self.path_bytes, self.path_offsets = root, path_bytes, path_offsets
        self.targets, self.target_offsets, self.boxes = targets, target_offsets, boxes

    @classmethod
    def from_items(cls, items: Sequence[tuple[str, Any, Any]]) -> ItemArrays:
        """The arrays of a list of item tuples (paths kept whole: ``root`` is empty)."""
        encoded = [path.encode("utf-8") for path, _, _ in items]
        offsets = np.zeros(len(items) + 1, dtype=np.int64)
        np.cumsum([len(e) for e in encoded], out=offsets[1:])
        path_bytes = np.frombuffer(b"".join(encoded), dtype=np.uint8)
        multi = any(isinstance(target, tuple) for _, target, _ in items)
        if multi:
            lengths = [len(target) for _, target, _ in items]
            target_offsets = np.zeros(len(items) + 1, dtype=np.int64)
            np.cumsum(lengths, out=target_offsets[1:])
            targets = np.fromiter(
                (c for _, target, _ in items for c in target), dtype=np.int64, count=int(target_offsets[-1])
            )
        else:
            target_offsets, targets = None, np.fromiter((t for _, t, _ in items), dtype=np.int64, count=len(items))
        boxes = None
        if any(box is not None for _, _, box in items):
            boxes = np.full((len(items), 4), math.nan)
            for index, (_, _, box) in enumerate(items):
                if box is not None:
                    boxes[index] = box
        return cls("", path_bytes, offsets, targets, target_offsets, boxes)

    def __len__(self) -> int:
        return len(self.path_offsets) - 1

    def path(self, index: int) -> str:
        start, stop = self.path_offsets[index], self.path_offsets[index + 1]
        relative = self.path_bytes[start:stop].tobytes().decode("utf-8")
        return relative if not self.root or os.path.isabs(relative) else str(Path(self.root) / relative)

    def target(self, index: int) -> int | tuple[int, ...]:
        if self.target_offsets is None:
            return int(self.targets[index])
        return tuple(self.targets[self.target_offsets[index] : self.target_offsets[index + 1]].tolist())

    def __getitem__(self, index: int) -> tuple[str, Any, Any]:  # type: ignore[override]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        box = None
        if self.boxes is not None and not math.isnan(self.boxes[index, 0]):
            box = tuple(float(v) for v in self.boxes[index])
        return self.path(index), self.target(index), box

    def __iter__(self) -> Iterator[tuple[str, Any, Any]]:
        return (self[i] for i in range(len(self)))


def item_targets(items: Sequence[tuple[str, Any, Any]]) -> list[int | tuple[int, ...]]:
    """Every item's class (or classes) without making its path: what the samplers weigh."""
    if isinstance(items, ItemArrays):
        return (
            [items.target(i) for i in range(len(items))] if items.target_offsets is not None else items.targets.tolist()
        )
    targets = getattr(items, "targets", None)  # shard items
    return targets.tolist() if isinstance(targets, np.ndarray) else [item[1] for item in items]


def _strings(column: Any) -> tuple[np.ndarray, np.ndarray]:
    """An Arrow string column -> ``(UTF-8 bytes, int64 offsets from 0)`` without a Python string per value."""
    import pyarrow as pa

    column = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    column = column.cast(pa.large_string())
    buffers = column.buffers()
    offsets = np.frombuffer(buffers[1], dtype=np.int64)[column.offset : column.offset + len(column) + 1]
    data = np.frombuffer(buffers[2], dtype=np.uint8) if buffers[2] is not None else np.zeros(0, dtype=np.uint8)
    return data[offsets[0] : offsets[-1]], offsets - offsets[0]


def parquet_single_label_items(
    path: Path, names: Sequence[str], split: str | None, exclude_splits: Sequence[str]
) -> tuple[ItemArrays, int, list[int]] | None:
    """Single-label items of a Parquet manifest read column-wise (image, split, labels only); None when the manifest
    is not Parquet. Returns ``(items, unlabelled, images per class)``; the same items as the record-by-record path."""
    from cvkit.manifest import is_parquet_manifest

    if not is_parquet_manifest(path):
        return None
    import pyarrow.compute as pc

    from cvkit.manifest_parquet import open_parquet, pyarrow_modules

    _, pq = pyarrow_modules()
    open_parquet(path)  # a damaged file fails here, naming it
    parquet_file = pq.ParquetFile(path, read_dictionary=["split", "labels.list.element"])
    index = {name: i for i, name in enumerate(names)}
    path_parts: list[tuple[np.ndarray, np.ndarray]] = []
    target_parts: list[np.ndarray] = []
    unlabelled = 0
    for group in range(parquet_file.metadata.num_row_groups):
        table = parquet_file.read_row_group(group, columns=["image", "split", "labels"])
        splits = table["split"].combine_chunks()
        split_names = [None if s is None else s for s in splits.dictionary.to_pylist()] if len(splits) else []
        wanted = np.asarray(
            [(split is None or s == split) and not (s is not None and s in exclude_splits) for s in split_names]
            + [split is None],
            dtype=bool,
        )
        keep = wanted[splits.indices.fill_null(len(split_names)).to_numpy(zero_copy_only=False)]
        labels = table["labels"].combine_chunks()
        counts = pc.list_value_length(labels).fill_null(0).to_numpy(zero_copy_only=False)
        unlabelled += int((keep & (counts == 0)).sum())
        _refuse_several_labels(table, keep & (counts > 1), counts, path)
        single = keep & (counts == 1)
        flat = pc.list_flatten(labels.filter(single))
        codes = [index.get(name) for name in flat.dictionary.to_pylist()]
        if None in codes:
            name = flat.dictionary[codes.index(None)].as_py()
            raise CvkitError(
                f"label {name!r} is not one of the model's classes ({', '.join(list(names)[:10])}...)", file=path
            )
        target_parts.append(np.asarray(codes, dtype=np.int64)[flat.indices.to_numpy(zero_copy_only=False)])
        path_parts.append(_strings(table["image"].combine_chunks().filter(single)))
    items = _joined(str(path.parent), path_parts, target_parts)
    return items, unlabelled, np.bincount(items.targets, minlength=len(names)).tolist()


def _refuse_several_labels(table: Any, several: np.ndarray, counts: np.ndarray, path: Path) -> None:
    if several.any():
        row = int(np.flatnonzero(several)[0])
        labels = table["labels"][row].as_py()
        raise CvkitError(
            f"image {table['image'][row].as_py()} has {counts[row]} labels ({', '.join(labels)}); "
            "train with --multi-label, or give one label per image",
            file=path,
        )


def _joined(root: str, path_parts: list[tuple[np.ndarray, np.ndarray]], target_parts: list[np.ndarray]) -> ItemArrays:
    """One :class:`ItemArrays` of the row groups' parts."""
    path_bytes = np.concatenate([data for data, _ in path_parts]) if path_parts else np.zeros(0, dtype=np.uint8)
    offsets, start = [np.zeros(1, dtype=np.int64)], 0
    for data, part in path_parts:
        offsets.append(part[1:] + start)
        start += len(data)
    targets = np.concatenate(target_parts) if target_parts else np.zeros(0, dtype=np.int64)
    return ItemArrays(root, path_bytes, np.concatenate(offsets), targets)
