"""The viewer's index: a dataset as columns, built once, and filters answered over them with numpy.

Any :class:`~cvkit.core.model.Dataset` goes through :func:`cvkit.stats.columns.columns_from_dataset`; a
manifest takes the statistics' fast path (:func:`cvkit.stats.columns.columns_from_manifest`: JSON Lines parsed
line by line, Parquet read column-wise a row group at a time) and is read back a record at a time
(:class:`~cvkit.view.store.ManifestStore`, :class:`~cvkit.view.store.ParquetStore`). Per-image arrays (object
counts, sizes, validation problems, attributes) are derived once; a filter is a handful of boolean masks, never a
loop over samples. The statistics of a filtered set are :func:`cvkit.stats.summary.compute_stats` of the columns
cut to it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from cvkit.api import read
from cvkit.core.model import Dataset, Sample
from cvkit.core.report import Report
from cvkit.errors import CvkitError
from cvkit.manifest import is_parquet_manifest
from cvkit.stats.column_arrays import Columns
from cvkit.stats.columns import columns_from_dataset
from cvkit.stats.findings import CHECKS
from cvkit.stats.sources import MANIFEST_FORMATS, resolve_format
from cvkit.stats.validate import read_for_validation, validate_loaded
from cvkit.view.cache import class_images, count_objects, manifest_index, whole_stats
from cvkit.view.run import RunPredictions, load_run
from cvkit.view.store import ListStore, ManifestStore, ParquetStore, SampleStore

SIZES = ("small", "medium", "large")
#: query keys that are no filter: paging, the image the page shows and the order (``--run``: by loss or confidence)
PAGING = ("offset", "limit", "show", "sort", "order")
#: what ``sort`` may name (a run's columns) and ``order``'s values
SORTS = ("loss", "confidence")
ORDERS = ("desc", "asc")
#: ``misclassified`` values
FLAGS = {"true": True, "1": True, "false": False, "0": False}
#: datasets up to this many images have their image files checked by the validation filter (headers only)
CHECK_IMAGES_UP_TO = 20_000
#: the validation filter holds every sample in memory: larger datasets are sent to `cvkit validate`
VALIDATE_UP_TO = 200_000
#: statistics documents kept for filters asked again
STATS_CACHED = 32


@dataclass(slots=True)
class Filter:
    """What a view shows: every given condition must hold (values of one key: any of them)."""

    has: list[str] = field(default_factory=list)  # an object or image label of any of these classes
    lacks: list[str] = field(default_factory=list)  # no object or image label of these classes
    split: list[str] = field(default_factory=list)
    label: list[str] = field(default_factory=list)  # image-level labels
    size: list[str] = field(default_factory=list)  # an object of this COCO size (of a `has` class when given)
    problem: list[str] = field(default_factory=list)  # validation checks; "any" for any finding
    attr: list[str] = field(default_factory=list)  # KEY or KEY=VALUE on the image or one of its objects
    true: list[str] = field(default_factory=list)  # --run: the image's true class (its one image-level label)
    pred: list[str] = field(default_factory=list)  # --run: the class the run predicts
    misclassified: list[str] = field(default_factory=list)  # --run: "true" (prediction differs) or "false"
    min_objects: int | None = None
    max_objects: int | None = None
    min_width: float | None = None
    max_width: float | None = None
    min_height: float | None = None
    max_height: float | None = None

    LISTS = ("has", "lacks", "split", "label", "size", "problem", "attr", "true", "pred", "misclassified")
    RUN_KEYS = ("true", "pred", "misclassified")
    NUMBERS = ("min_objects", "max_objects", "min_width", "max_width", "min_height", "max_height")

    @classmethod
    def from_query(cls, query: Mapping[str, Sequence[str]]) -> Filter:
        """From a parsed query string (``urllib.parse.parse_qs``); paging keys pass, a misspelt key is refused."""
        unknown = sorted(set(query) - set(cls.LISTS) - set(cls.NUMBERS) - set(PAGING))
        if unknown:
            raise CvkitError(f"unknown filter {unknown[0]!r}; filters are {', '.join(cls.LISTS + cls.NUMBERS)}")
        given = cls()
        for key in cls.LISTS:
            setattr(given, key, [v for v in query.get(key, []) if v != ""])
        for key in cls.NUMBERS:
            values = [v for v in query.get(key, []) if v != ""]
            if values:
                try:
                    setattr(given, key, int(values[-1]) if key.endswith("objects") else float(values[-1]))
                except ValueError:
                    raise CvkitError(f"filter {key} must be a number, not {values[-1]!r}") from None
        unknown = sorted(set(given.size) - set(SIZES))
        if unknown:
            raise CvkitError(f"unknown box size {unknown[0]!r}; choose one of {', '.join(SIZES)}")
        unknown = sorted(set(given.misclassified) - set(FLAGS))
        if unknown:
            raise CvkitError(f"misclassified must be true or false, not {unknown[0]!r}")
        return given

    def without_cell(self) -> Filter:
        """The same filter without ``true`` and ``pred``: the images a confusion matrix counts (a cell picks one
        true/predicted pair among them)."""
        return replace(self, true=[], pred=[])

    def key(self) -> tuple:
        """A hashable form of the filter (order of values ignored), for caches."""
        return tuple((name, tuple(sorted(values))) for name, values in sorted(self.to_query().items()))

    def to_query(self) -> dict[str, list[str]]:
        """The filter as query-string lists (what the page's URL keeps)."""
        query = {key: list(getattr(self, key)) for key in self.LISTS if getattr(self, key)}
        query.update({key: [f"{getattr(self, key):g}"] for key in self.NUMBERS if getattr(self, key) is not None})
        return query


def any_of(column: np.ndarray, values: Sequence[int] | np.ndarray) -> np.ndarray:
    """Boolean per element: equal to one of ``values``. Few values: one comparison each (``np.isin`` sorts or
    builds a table, 250 ms on 10M int8 sizes against 1 ms); many: a lookup table over the column's small codes."""
    values = [int(v) for v in values]
    if len(values) <= 8:
        mask = np.zeros(len(column), dtype=bool)
        for value in values:
            mask |= column == value
        return mask
    low = min(values)
    table = np.zeros(max(values) - low + 1, dtype=bool)
    table[np.asarray(values) - low] = True
    inside = (column >= low) & (column < low + len(table))
    mask = np.zeros(len(column), dtype=bool)
    mask[inside] = table[column[inside] - low]
    return mask


def _attribute_text(item: tuple[str, Any]) -> str:
    """``KEY=VALUE`` of a scalar attribute (booleans as JSON writes them: ``occluded=true``), ``KEY`` of any other."""
    key, value = item
    if isinstance(value, bool):
        return f"{key}={'true' if value else 'false'}"
    return f"{key}={value}" if isinstance(value, str | int | float) else key


class ViewIndex:
    """Columns of one dataset, the samples behind them and the answers to filters."""

    def __init__(
        self,
        columns: Columns,
        store: SampleStore,
        root: Path | None,
        source: Path,
        dataset: Dataset | None = None,
        format_name: str | None = None,
        by_class: tuple[np.ndarray, np.ndarray] | None = None,
        stats_of_all: dict[str, Any] | None = None,
        object_facts: tuple[np.ndarray, np.ndarray] | None = None,
    ):
        self.columns = columns
        self.format_name = format_name or columns.source
        self.store = store
        self.root = root
        self.source = source
        self._dataset = dataset
        self._lock = threading.Lock()
        self._stats_lock = threading.Lock()
        self._problems: tuple[dict[str, np.ndarray], dict[int, list[dict[str, Any]]]] | None = None
        self._attributes: tuple[dict[str, int], np.ndarray, np.ndarray] | None = None
        self._by_class = by_class
        self.run: RunPredictions | None = None  # --run: a trained run's predictions (attach_run)
        self._stats: OrderedDict[tuple, dict[str, Any]] = OrderedDict()
        if stats_of_all is not None:
            self._stats[Filter().key()] = stats_of_all
        self.class_index = {name: i for i, name in enumerate(columns.class_names)}
        self.split_index = {name: i for i, name in enumerate(columns.split_names)}
        # objects per image, COCO size index per object (-1 without a box): stored with a manifest's index
        self.object_count, self.object_size = object_facts if object_facts is not None else count_objects(columns)

    # --- building ----------------------------------------------------------------------
    @classmethod
    def from_dataset(cls, dataset: Dataset, source: Path) -> ViewIndex:
        """Index any dataset; its samples are kept in memory to be drawn."""
        dataset.materialize()
        columns = columns_from_dataset(dataset)
        return cls(columns, ListStore(dataset.samples), dataset.root, source, dataset, dataset.source_format)

    @classmethod
    def from_manifest(cls, path: Path) -> ViewIndex:
        """Index a manifest (JSON Lines or Parquet) on the statistics' fast path (cached on disk:
        :mod:`cvkit.view.cache`); records are read back by offset or row when shown."""
        stored = manifest_index(path)
        store = ParquetStore(path, stored.starts) if is_parquet_manifest(path) else ManifestStore(path, stored.starts)
        return cls(
            stored.columns,
            store,
            path.parent,
            path,
            format_name="manifest",
            by_class=stored.by_class,
            stats_of_all=stored.stats,
            object_facts=stored.object_facts,
        )

    @classmethod
    def open(cls, path: str | Path, format: str | None = None, **read_options: Any) -> ViewIndex:
        """Index what ``path`` holds: a manifest (JSON Lines or Parquet, fast path) or any format cvkit reads."""
        path = Path(path)
        name = resolve_format(path, format)
        suffix_known = is_parquet_manifest(path) or path.suffix.lower() in (".jsonl", ".ndjson")
        if name in MANIFEST_FORMATS and suffix_known and not read_options and path.is_file():
            return cls.from_manifest(path)
        return cls.from_dataset(read(path, name, **read_options), path)

    def attach_run(self, run: str | Path, device: str = "auto", batch_size: int = 64) -> RunPredictions:
        """Add a trained run's predictions (:func:`cvkit.view.run.load_run`): the ``true``, ``pred`` and
        ``misclassified`` filters, sorting by loss or confidence and the confusion matrix."""
        self.run = load_run(run, self, device, batch_size)
        return self.run

    # --- samples -----------------------------------------------------------------------
    @property
    def num_images(self) -> int:
        return self.columns.num_images

    def sample(self, index: int) -> Sample:
        """The sample numbered ``index``; raises KeyError outside the dataset (what the server turns into 404)."""
        if not 0 <= index < self.num_images:
            raise KeyError(index)
        return self.store.get(index)

    def samples(self, numbers: Sequence[int]) -> list[Sample]:
        """The samples numbered ``numbers`` (a page), fetched together (a Parquet row group is read once)."""
        numbers = [int(n) for n in numbers]
        if any(not 0 <= n < self.num_images for n in numbers):
            raise KeyError(numbers)
        return self.store.get_many(numbers)

    def image_path(self, index: int) -> Path:
        """The image file of sample ``index``: the dataset's own listing, never anything from a request."""
        return self.sample(index).resolve(self.root)

    # --- filtering ---------------------------------------------------------------------
    def _classes(self, names: Sequence[str]) -> np.ndarray:
        unknown = [name for name in names if name not in self.class_index]
        if unknown:
            raise CvkitError(f"unknown class {unknown[0]!r}")
        return np.asarray([self.class_index[name] for name in names], dtype=np.int32)

    def _class_images(self) -> tuple[np.ndarray, np.ndarray]:
        """:func:`class_images` of the dataset, on first use (a stored manifest index has them already)."""
        with self._lock:
            if self._by_class is None:
                self._by_class = class_images(self.columns)
            return self._by_class

    def _images_with_classes(self, classes: np.ndarray) -> np.ndarray:
        """Boolean per image: an object or an image-level label of one of ``classes``."""
        offsets, images = self._class_images()
        mask = np.zeros(self.num_images, dtype=bool)
        for k in classes.tolist():
            mask[images[offsets[k] : offsets[k + 1]]] = True
        return mask

    def select(self, given: Filter) -> np.ndarray:
        """Indices (int64, ascending) of the images the filter keeps."""
        c = self.columns
        keep = np.ones(self.num_images, dtype=bool)
        if given.split:
            known = [self.split_index[name] for name in given.split if name in self.split_index]
            keep &= any_of(c.image_split, known + ([-1] if "-" in given.split else []))
        if given.lacks:
            keep &= ~self._images_with_classes(self._classes(given.lacks))
        if given.label:
            labelled = np.zeros(self.num_images, dtype=bool)
            labelled[c.label_image[any_of(c.label_class, self._classes(given.label))]] = True
            keep &= labelled
        if given.size:
            objects = any_of(self.object_size, [SIZES.index(s) for s in given.size])
            if given.has:
                objects &= any_of(c.obj_class, self._classes(given.has))
            sized = np.zeros(self.num_images, dtype=bool)
            sized[c.obj_image[objects]] = True
            keep &= sized
        elif given.has:
            keep &= self._images_with_classes(self._classes(given.has))
        if given.min_objects is not None:
            keep &= self.object_count >= given.min_objects
        if given.max_objects is not None:
            keep &= self.object_count <= given.max_objects
        for bound, values, compare in (
            (given.min_width, c.image_width, np.greater_equal),
            (given.max_width, c.image_width, np.less_equal),
            (given.min_height, c.image_height, np.greater_equal),
            (given.max_height, c.image_height, np.less_equal),
        ):
            if bound is not None:
                keep &= compare(values, bound)  # unknown sizes (NaN) never pass a size bound
        if given.problem:
            keep &= self._problem_mask(given.problem)
        for wanted in given.attr:
            keep &= self._attribute_mask(wanted)
        if given.true or given.pred or given.misclassified:
            keep &= self._run_mask(given)
        return np.flatnonzero(keep)

    # --- a trained run ------------------------------------------------------------------
    def _run(self) -> RunPredictions:
        if self.run is None:
            raise CvkitError("true, pred, misclassified and sort need a trained run: cvkit view DATASET --run RUN")
        return self.run

    def _run_mask(self, given: Filter) -> np.ndarray:
        run = self._run()
        keep = np.ones(self.num_images, dtype=bool)
        index = {name: i for i, name in enumerate(run.class_names)}
        for values, column in ((given.true, run.true), (given.pred, run.pred)):
            if values:
                unknown = [name for name in values if name not in index]
                if unknown:
                    raise CvkitError(f"unknown class {unknown[0]!r}")
                keep &= any_of(column, [index[name] for name in values])
        if given.misclassified:
            wrong = run.misclassified
            decided = (run.pred >= 0) & (run.true >= 0)
            wanted = {FLAGS[value] for value in given.misclassified}
            keep &= (wrong & (True in wanted)) | (decided & ~wrong & (False in wanted))
        return keep

    def ordered(self, images: np.ndarray, sort: str | None, order: str | None = None) -> np.ndarray:
        """``images`` by a run's ``loss`` or ``confidence`` (``order``: ``desc``, the default, or ``asc``); images
        without the value come last, ties in dataset order. Without ``sort``, as given."""
        if not sort:
            return images
        if sort not in SORTS:
            raise CvkitError(f"unknown sort {sort!r}; choose one of {', '.join(SORTS)}")
        if (order or "desc") not in ORDERS:
            raise CvkitError(f"order must be desc or asc, not {order!r}")
        values = getattr(self._run(), sort)[images].astype(np.float64)
        missing = np.isnan(values)
        key = np.where(missing, 0.0, -values if (order or "desc") == "desc" else values)
        return images[np.lexsort((images, key, missing))]

    # --- validation findings -----------------------------------------------------------
    def problems(self) -> tuple[dict[str, np.ndarray], dict[int, list[dict[str, Any]]]]:
        """``(check -> boolean per image, image -> its findings)`` from :func:`cvkit.stats.validate.validate_loaded`,
        computed on first use (every finding kept, not only examples). Image files are checked (headers only)
        for datasets up to :data:`CHECK_IMAGES_UP_TO` images."""
        with self._lock:
            if self._problems is None:
                self._problems = self._validate()
            return self._problems

    def _validate(self) -> tuple[dict[str, np.ndarray], dict[int, list[dict[str, Any]]]]:
        if self.num_images > VALIDATE_UP_TO:
            raise CvkitError(
                f"the viewer validates datasets of up to {VALIDATE_UP_TO:,} images (it holds every sample while "
                f"it does); run `cvkit validate` on this one",
                file=self.source,
            )

        dataset = self._dataset
        if dataset is None:
            dataset = read_for_validation(self.source, "manifest", Report(skip_invalid=True))
        result = validate_loaded(
            dataset,
            Report(skip_invalid=True),
            check_images=self.num_images <= CHECK_IMAGES_UP_TO,
            examples=max(self.num_images, 1) * 64,
        )
        by_path: dict[str, list[int]] = {}
        for index, sample in enumerate(dataset.samples):
            by_path.setdefault(sample.path, []).append(index)
        masks = {check: np.zeros(self.num_images, dtype=bool) for check in CHECKS}
        per_image: dict[int, list[dict[str, Any]]] = {}
        for check, findings in result.findings.items():
            for finding in findings:
                doc = finding.to_dict()
                for name in finding.images or (finding.image or "",):  # a duplicate group: every image of it
                    for index in by_path.get(name, []):
                        masks[check][index] = True
                        per_image.setdefault(index, []).append(doc)
        return masks, per_image

    def _problem_mask(self, checks: Sequence[str]) -> np.ndarray:
        masks, _ = self.problems()
        unknown = [check for check in checks if check != "any" and check not in masks]
        if unknown:
            raise CvkitError(f"unknown validation check {unknown[0]!r}; choose one of any, {', '.join(masks)}")
        chosen = list(masks) if "any" in checks else list(checks)
        return (
            np.logical_or.reduce([masks[check] for check in chosen]) if chosen else np.ones(self.num_images, dtype=bool)
        )

    def findings_of(self, image: int) -> list[dict[str, Any]] | None:
        """The validation findings of one image; None while the validation has not run."""
        if self._problems is None:
            return None
        return self._problems[1].get(image, [])

    def problem_counts(self) -> dict[str, int]:
        masks, _ = self.problems()
        return {check: int(mask.sum()) for check, mask in masks.items() if mask.any()}

    # --- attributes --------------------------------------------------------------------
    def attributes(self) -> tuple[dict[str, int], np.ndarray, np.ndarray]:
        """``(KEY=VALUE -> id, image of each pair, id of each pair)``: every attribute of an image or of one of
        its objects, in one pass over the samples on first use."""
        with self._lock:
            if self._attributes is None:
                ids: dict[str, int] = {}
                images: list[int] = []
                pairs: list[int] = []
                for image, sample in enumerate(self.store):
                    seen = set(map(_attribute_text, sample.attributes.items()))
                    for obj in sample.objects:
                        seen.update(map(_attribute_text, obj.attributes.items()))
                    for text in seen:
                        images.append(image)
                        pairs.append(ids.setdefault(text, len(ids)))
                self._attributes = ids, np.asarray(images, dtype=np.int64), np.asarray(pairs, dtype=np.int64)
            return self._attributes

    def _attribute_mask(self, wanted: str) -> np.ndarray:
        ids, images, pairs = self.attributes()
        chosen = [
            i for text, i in ids.items() if text == wanted or ("=" not in wanted and text.split("=", 1)[0] == wanted)
        ]
        mask = np.zeros(self.num_images, dtype=bool)
        mask[images[np.isin(pairs, chosen)]] = True
        return mask

    # --- statistics --------------------------------------------------------------------
    def subset(self, images: np.ndarray) -> Columns:
        """The columns of ``images`` only (numbered 0.. in their order), for the statistics of a filtered set."""
        c = self.columns
        if len(images) == self.num_images:
            return c
        keep = np.zeros(self.num_images, dtype=bool)
        keep[images] = True
        renumber = np.cumsum(keep, dtype=np.int64) - 1
        objects = keep[c.obj_image]
        labels = keep[c.label_image]
        split = c.image_split[keep]
        present, first = np.unique(split[split >= 0], return_index=True)
        order = present[np.argsort(first)]  # the splits of these images, numbered as a read of them would number them
        split_number = np.full(len(c.split_names) + 1, -1, dtype=np.int32)  # the last slot: -1 (no split) stays -1
        split_number[order] = np.arange(len(order), dtype=np.int32)
        return Columns(
            class_names=c.class_names,
            class_ids=c.class_ids,
            split_names=[c.split_names[i] for i in order],
            image_width=c.image_width[keep],
            image_height=c.image_height[keep],
            image_split=split_number[split],
            obj_image=renumber[c.obj_image[objects]].astype(np.int32),
            obj_class=c.obj_class[objects],
            obj_box=c.obj_box[objects],
            obj_mask_area=(
                np.broadcast_to(c.obj_mask_area[:1], (int(objects.sum()),))  # one NaN seen as a column: no copy
                if c.obj_mask_area.strides == (0,)
                else c.obj_mask_area[objects]
            ),
            label_image=renumber[c.label_image[labels]].astype(np.int32),
            label_class=c.label_class[labels],
            source=c.source,
            root=c.root,
        )

    def stats(self, images: np.ndarray, key: tuple | None = None) -> dict[str, Any]:
        """``cvkit stats --imbalance`` of the filtered images (the same document, docs/stats.md); the last
        :data:`STATS_CACHED` answers are kept by ``key`` (the filter), as a view is often asked again: callers
        must not change the document."""
        with self._stats_lock:  # the server answers on several threads
            if key is not None and key in self._stats:
                self._stats.move_to_end(key)
                return self._stats[key]
        doc = whole_stats(self.subset(images))
        if key is not None:
            with self._stats_lock:
                self._stats[key] = doc
                while len(self._stats) > STATS_CACHED:
                    self._stats.popitem(last=False)
        return doc
