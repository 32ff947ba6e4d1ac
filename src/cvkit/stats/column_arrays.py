"""The columns statistics are computed from: :class:`Columns` (numpy arrays of a whole dataset) and
:class:`ColumnsBuilder`, which fills them. The readers that make them live in :mod:`cvkit.stats.columns` (any
dataset, JSON Lines manifests) and :mod:`cvkit.stats.columns_parquet` (Parquet manifests).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np


def median(values: np.ndarray, in_place: bool = False) -> float:
    """The median of a non-empty 1-D array. ``np.median`` gives the same value but imports ``numpy.ma``
    on first use, a cost every ``cvkit stats`` run paid (docs/benchmarks.md, "Measured choices")."""
    values = np.asarray(values, dtype=np.float64).ravel()
    n = len(values)
    half = n // 2
    kth = half if n % 2 else (half - 1, half)
    if in_place and values.flags.writeable:
        values.partition(kth)
        ordered = values
    else:
        ordered = np.partition(values, kth)
    if n % 2:
        return float(ordered[half])
    return float((ordered[half - 1] + ordered[half]) / 2.0)


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
    #: class name -> ``rare``/``common``/``frequent`` as the source file states it (LVIS's ``frequency``)
    declared_groups: dict[str, str] | None = None

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


FREQUENCY_LETTERS = {"r": "rare", "c": "common", "f": "frequent"}


def declared_groups(categories: Any) -> dict[str, str] | None:
    """The frequency group each category's own ``frequency`` attribute gives (LVIS); None when none has one."""
    groups = {
        cat.name: FREQUENCY_LETTERS[cat.attributes["frequency"]]
        for cat in categories
        if cat.attributes.get("frequency") in FREQUENCY_LETTERS
    }
    return groups or None
