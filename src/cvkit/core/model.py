"""The central data model: Annotation, Sample and Dataset.

Every reader produces a :class:`Dataset`; every writer, stats, augment and train
consume one. Boxes are canonical ``(x, y, w, h)`` absolute pixels (see geometry.py).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cvkit.core.categories import CategorySet, Hierarchy
from cvkit.core.geometry import Box, polygon_area, polygon_bbox
from cvkit.core.masks import rle_area, rle_bbox

#: Shape kinds an annotation can have; writers report the ones they cannot hold.
SHAPES = ("box", "polygon", "mask", "keypoints", "point", "line", "linestrip", "circle")


@dataclass(slots=True)
class Annotation:
    """One object in an image.

    ``shape`` names the primary geometry as the source drew it. ``bbox`` is filled for
    every region shape (derived from polygon/mask when the source had none), so box-only
    consumers always work. ``points`` holds the flat ``[x1, y1, ...]`` vertices of
    point/line/linestrip/circle shapes (circle: centre then a rim point).
    """

    label: str
    bbox: Box | None = None
    shape: str = "box"
    polygon: list[list[float]] | None = None
    rle: dict[str, Any] | None = None
    keypoints: list[float] | None = None
    points: list[float] | None = None
    iscrowd: bool = False
    score: float | None = None
    id: int | None = None
    group: int | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    def area(self) -> float:
        """Region area in pixels: mask pixels, polygon area, else box area."""
        if self.rle is not None:
            return rle_area(self.rle)
        if self.polygon:
            return polygon_area(self.polygon)
        if self.bbox is not None:
            return self.bbox[2] * self.bbox[3]
        return 0.0

    def ensure_bbox(self) -> Box | None:
        """Fill ``bbox`` from the polygon, mask, circle or keypoints when missing; returns it.

        Keypoints give the extent of all their points, unlabelled ``(0, 0, 0)`` ones included, as pycocotools'
        ``loadRes`` boxes keypoint results (results lists carry no ``bbox``; the keypoint evaluation's area
        ranges use this box)."""
        if self.bbox is None:
            if self.polygon:
                self.bbox = polygon_bbox(self.polygon)
            elif self.rle is not None:
                self.bbox = rle_bbox(self.rle)
            elif self.points and self.shape == "circle" and len(self.points) >= 4:
                cx, cy, px, py = self.points[:4]
                r = ((px - cx) ** 2 + (py - cy) ** 2) ** 0.5
                self.bbox = (cx - r, cy - r, 2 * r, 2 * r)
            elif self.keypoints and len(self.keypoints) >= 3:
                xs, ys = self.keypoints[0::3], self.keypoints[1::3]
                self.bbox = (min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys))
        return self.bbox


@dataclass(slots=True)
class Sample:
    """One image: its path (POSIX, relative to the dataset root unless absolute), size,
    split, image-level labels and objects.

    ``width``/``height`` are of the image as displayed (after EXIF orientation), which
    is what annotation tools show and label; see docs/coordinates.md.
    ``meta`` carries format-specific fields, namespaced by format name, that let a
    writer of that format give back what its reader saw (e.g. ``meta["coco"]["license"]``).
    """

    path: str
    width: int | None = None
    height: int | None = None
    split: str | None = None
    labels: list[str] = field(default_factory=list)
    objects: list[Annotation] = field(default_factory=list)
    id: int | str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    def resolve(self, root: str | Path | None) -> Path:
        """Absolute path of the image file."""
        if root is None or os.path.isabs(self.path):
            return Path(self.path)
        return Path(root) / self.path


@dataclass(frozen=True, slots=True)
class Shard:
    """A run of consecutive samples, described by data so that any process, here or on another machine, can read it.

    ``read(source, task, categories, report)`` is a module-level function that yields the run's samples, adding the
    labels it meets to ``categories`` and counting the samples (and anything invalid) in ``report``. ``source`` is
    what the runs of one input share (a loaded COCO file, a VOC folder's image index, a manifest's path): a pipeline
    sends it once per worker. ``task`` is what this run alone needs (positions, a list of files, a byte range).
    Both must be picklable (see :mod:`cvkit.core.shards`)."""

    size: int
    read: Callable[[Any, Any, CategorySet, Any], Iterator[Sample]]
    source: Any
    task: Any

    def samples(self, categories: CategorySet, report: Any) -> Iterator[Sample]:
        """The run's samples, read in this process."""
        return self.read(self.source, self.task, categories, report)


class Dataset:
    """Categories, hierarchy and samples, plus what writers need to restore the source.

    ``samples`` may be a list or a one-shot iterator (readers stream large inputs);
    iterate with :meth:`__iter__` and call :meth:`materialize` before needing several
    passes. Readers that discover categories while streaming add them to
    ``categories`` as they go, so read categories after iterating.

    ``shards``, given by readers that can read a run of samples on its own (COCO's loaded file, a manifest's
    lines, VOC and LabelMe files), cuts the same samples into :class:`Shard` runs: a writer takes them
    (:meth:`take_shards`) instead of iterating, and reads and encodes the runs on an executor
    (:mod:`cvkit.core.shards`). ``transforms`` (:meth:`map`) are applied to each sample after it is read, there too;
    ``finishers`` run once every sample has been seen, by iteration or through the shards (:meth:`finish`).
    """

    def __init__(
        self,
        samples: Iterable[Sample] = (),
        categories: CategorySet | None = None,
        hierarchy: Hierarchy | None = None,
        root: str | Path | None = None,
        source_format: str | None = None,
        info: dict[str, Any] | None = None,
        shards: Callable[[int], list[Shard] | None] | None = None,
        transforms: tuple[Callable[[Sample], Sample | None], ...] = (),
    ):
        self._samples: Iterable[Sample] = samples
        self._shards = shards
        self.categories = categories if categories is not None else CategorySet()
        self.hierarchy = hierarchy if hierarchy is not None else Hierarchy()
        self.root = Path(root) if root is not None else None
        self.source_format = source_format
        self.info: dict[str, Any] = info if info is not None else {}
        self._consumed = False
        #: applied to every sample as it is read (in the worker that reads a shard): see :meth:`map`
        self.transforms = transforms
        #: called once when every sample has been seen (:meth:`finish`), with the report the shards' reports were
        #: merged into (None when the samples were iterated: a reader's own report holds its counts then)
        self.finishers: list[Callable[[Any], None]] = []

    @property
    def is_materialized(self) -> bool:
        return isinstance(self._samples, list)

    def __iter__(self) -> Iterator[Sample]:
        if not self.is_materialized:
            if self._consumed:
                raise RuntimeError(
                    "this dataset streams its samples and was already iterated; call materialize() first"
                )
            self._consumed = True
            if self.finishers:
                return self._finishing(iter(self._samples))
        return iter(self._samples)

    def _finishing(self, samples: Iterator[Sample]) -> Iterator[Sample]:
        yield from samples
        self.finish()

    def finish(self, report: Any = None) -> None:
        """Run the finishers (once): every sample has been seen, by iterating or through the shards (then ``report``
        is the :class:`~cvkit.core.report.Report` their reports were merged into, whose ``tallies`` a reader
        words)."""
        finishers, self.finishers = self.finishers, []
        for finisher in finishers:
            finisher(report)

    def take_shards(self, workers: int = 1) -> list[Shard] | None:
        """The samples as :class:`Shard` runs, in order, instead of iterating them; None when the reader gives
        none (or declines for ``workers`` processes: see the COCO reader's memory check), or the samples were
        iterated or materialized already. Like iterating, taking them uses the dataset up; a None leaves the
        dataset to be iterated. The runs' samples still need :attr:`transforms` applied."""
        if self._shards is None or self._consumed or self.is_materialized:
            return None
        shards = self._shards(workers)
        if shards is not None:
            self._consumed = True
        return shards

    def materialize(self) -> Dataset:
        """Load every sample into memory (needed for several passes); returns self."""
        if not self.is_materialized:
            self._samples = list(self.__iter__())
        return self

    @property
    def samples(self) -> list[Sample]:
        """All samples as a list (materializes a streaming dataset)."""
        self.materialize()
        assert isinstance(self._samples, list)
        return self._samples

    def __len__(self) -> int:
        """Number of samples; a streaming dataset has none until materialized.

        Raising TypeError (not materializing) keeps ``list(dataset)`` working: list()
        asks for a length hint and treats TypeError as "unknown".
        """
        if not self.is_materialized:
            raise TypeError("this dataset streams its samples; call materialize() before len()")
        return len(self._samples)  # type: ignore[arg-type]

    def map(self, fn: Callable[[Sample], Sample | None]) -> Dataset:
        """A new dataset (sharing categories) with ``fn`` applied lazily; ``None`` drops a sample.

        The shards stay: ``fn`` then runs where each shard is read, so it must be picklable (a module-level
        function or a ``functools.partial`` of one) for executors that do not fork."""
        source = self

        def gen() -> Iterator[Sample]:
            for s in source:
                out = fn(s)
                if out is not None:
                    yield out

        mapped = Dataset(
            gen(),
            self.categories,
            self.hierarchy,
            self.root,
            self.source_format,
            self.info,
            shards=source.take_shards if self._shards is not None else None,
            transforms=(*self.transforms, fn),
        )
        mapped.finishers.append(source.finish)  # whichever way the samples go (finish runs its finishers once)
        return mapped

    def splits(self) -> list[str]:
        seen: dict[str, None] = {}
        for s in self.samples:
            if s.split is not None:
                seen.setdefault(s.split, None)
        return list(seen)
