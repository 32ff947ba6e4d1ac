"""The viewer's JSON answers, as plain functions of an index and a query: the server sends them and
``--export`` writes them to files, so both show the same data.

Query keys are those of :class:`~cvkit.view.index.Filter` plus ``offset`` and ``limit`` for paging and, with a
trained run, ``sort`` (``loss`` or ``confidence``) and ``order`` (``desc`` or ``asc``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from cvkit.core.model import Sample
from cvkit.errors import CvkitError
from cvkit.stats.findings import CHECKS
from cvkit.view.index import SIZES, Filter, ViewIndex
from cvkit.view.render import class_colour, sample_json

#: thumbnails per page unless the query says
PAGE_SIZE = 60
MAX_PAGE_SIZE = 500
#: stats keys left out of /api/stats (large per-class tables the page does not draw)
STATS_DROPPED = ("sizes_by_class",)
#: classes a confusion matrix shows at most (those with the most mistakes, then the most images)
MAX_CONFUSION_CLASSES = 40


def _number(query: Mapping[str, Sequence[str]], key: str, default: int, most: int | None = None) -> int:
    values = query.get(key) or [str(default)]
    try:
        value = int(values[-1])
    except ValueError:
        raise CvkitError(f"{key} must be a whole number, not {values[-1]!r}") from None
    if value < 0:
        raise CvkitError(f"{key} must not be negative")
    return min(value, most) if most is not None else value


def meta(index: ViewIndex) -> dict[str, Any]:
    """What the page needs once: the dataset's name, classes with colours, splits and the filter choices."""
    from cvkit.augment.presets import PRESETS

    c = index.columns
    return {
        "schema": "cvkit.view",
        "version": 1,
        "source": str(index.source),
        "format": index.format_name,
        "images": index.num_images,
        "objects": c.num_objects,
        "classes": [{"name": name, "colour": class_colour(i)} for i, name in enumerate(c.class_names)],
        "splits": c.split_names + (["-"] if c.split_names and (c.image_split < 0).any() else []),
        "sizes": list(SIZES),
        "checks": {name: {"severity": severity, "description": text} for name, (severity, text) in CHECKS.items()},
        "page_size": PAGE_SIZE,
        "presets": list(PRESETS),
        "run": run_meta(index),
    }


def run_meta(index: ViewIndex) -> dict[str, Any] | None:
    """What the page needs of a trained run (None without one): where its predictions come from, its classes."""
    run = index.run
    if run is None:
        return None
    return {
        "source": run.source,
        "classes": run.class_names,
        "predicted": int((run.pred >= 0).sum()),
        "with_truth": int(((run.pred >= 0) & (run.true >= 0)).sum()),
        "unmatched": run.unmatched,
        "loss_bounds": int(run.loss_bound.sum()),
    }


def sample_doc(index: ViewIndex, number: int, detail: bool = False, sample: Sample | None = None) -> dict[str, Any]:
    """One image as the page shows it (``sample``: the image, when fetched already), with its prediction when a run
    is attached."""
    sample = sample if sample is not None else index.sample(number)
    doc = sample_json(number, sample, index.class_index, detail=detail)
    if index.run is not None:
        doc["run"] = index.run.to_doc(number)
    return doc


def _chosen(index: ViewIndex, query: Mapping[str, Sequence[str]]) -> tuple[Filter, np.ndarray]:
    """The filter and the images it keeps, in the order ``sort``/``order`` ask for."""
    given = Filter.from_query(query)
    sort, order = ((query.get(key) or [""])[-1] for key in ("sort", "order"))
    return given, index.ordered(index.select(given), sort or None, order or None)


def samples(index: ViewIndex, query: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    """``/api/samples``: how many images the filter keeps and one page of them with their annotations."""
    given, chosen = _chosen(index, query)
    offset = _number(query, "offset", 0)
    limit = _number(query, "limit", PAGE_SIZE, MAX_PAGE_SIZE)
    page = chosen[offset : offset + limit]
    return {
        "total": len(chosen),
        "offset": offset,
        "limit": limit,
        "filter": given.to_query(),
        "samples": [sample_doc(index, int(i), sample=s) for i, s in zip(page, index.samples(page), strict=True)],
    }


def confusion(index: ViewIndex, query: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    """``/api/confusion``: the run's confusion matrix (rows true, columns predicted) over the images the filter
    keeps, ``true`` and ``pred`` left out (they pick a cell: ``selected``); at most :data:`MAX_CONFUSION_CLASSES`
    classes, those with the most mistakes."""
    if index.run is None:
        raise CvkitError("the confusion matrix needs a trained run: cvkit view DATASET --run RUN")
    given = Filter.from_query(query)
    counts = index.run.confusion(index.select(given.without_cell()))
    return confusion_doc(index.run.class_names, counts, given)


def confusion_doc(names: list[str], counts: np.ndarray, given: Filter) -> dict[str, Any]:
    """A confusion matrix as the page draws it: the classes shown and their counts."""
    mistakes = counts.sum(axis=0) + counts.sum(axis=1) - 2 * np.diagonal(counts)
    present = np.flatnonzero(counts.sum(axis=0) + counts.sum(axis=1))
    ranked = present[np.lexsort((present, -(counts.sum(axis=1)[present]), -mistakes[present]))]
    shown = np.sort(ranked[:MAX_CONFUSION_CLASSES])
    return {
        "classes": [names[i] for i in shown],
        "matrix": counts[np.ix_(shown, shown)].tolist(),
        "images": int(counts.sum()),
        "correct": int(np.trace(counts)),
        "classes_left_out": int(len(present) - len(shown)),
        "selected": {"true": given.true, "pred": given.pred},
    }


def stats(index: ViewIndex, query: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    """``/api/stats``: the ``cvkit stats --imbalance`` document of the filtered images."""
    given = Filter.from_query(query)
    doc = dict(index.stats(index.select(given), given.key()))  # the index keeps its document: changed copies only
    doc["boxes"] = {key: value for key, value in doc["boxes"].items() if key not in STATS_DROPPED}
    doc["imbalance"] = {key: value for key, value in doc["imbalance"].items() if key != "weights"}
    return doc


def detail(index: ViewIndex, number: int) -> dict[str, Any]:
    """``/api/sample/N``: one image with its attributes, source file and validation findings (when computed)."""
    doc = sample_doc(index, number, detail=True)
    doc["file"] = str(index.image_path(number))
    doc["problems"] = index.findings_of(number)
    return doc


def problems(index: ViewIndex) -> dict[str, Any]:
    """``/api/problems``: images per validation check (runs the validation on first use)."""
    return {"images": index.problem_counts()}


def all_matching(index: ViewIndex, query: Mapping[str, Sequence[str]], limit: int) -> np.ndarray:
    """The first ``limit`` images the filter keeps, in the order asked for (what ``--export`` writes)."""
    return _chosen(index, query)[1][:limit]
