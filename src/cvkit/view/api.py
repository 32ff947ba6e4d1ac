"""The viewer's JSON answers, as plain functions of an index and a query: the server sends them and
``--export`` writes them to files, so both show the same data.

Query keys are those of :class:`~cvkit.view.index.Filter` plus ``offset`` and ``limit`` for paging.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from cvkit.errors import CvkitError
from cvkit.stats.findings import CHECKS
from cvkit.view.index import SIZES, Filter, ViewIndex
from cvkit.view.render import class_colour, sample_json

#: thumbnails per page unless the query says
PAGE_SIZE = 60
MAX_PAGE_SIZE = 500
#: stats keys left out of /api/stats (large per-class tables the page does not draw)
STATS_DROPPED = ("sizes_by_class",)


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
        "schema": "cvkit.view", "version": 1,
        "source": str(index.source), "format": index.format_name, "images": index.num_images, "objects": c.num_objects,
        "classes": [{"name": name, "colour": class_colour(i)} for i, name in enumerate(c.class_names)],
        "splits": c.split_names + (["-"] if c.split_names and (c.image_split < 0).any() else []),
        "sizes": list(SIZES),
        "checks": {name: {"severity": severity, "description": text} for name, (severity, text) in CHECKS.items()},
        "page_size": PAGE_SIZE,
        "presets": list(PRESETS),
    }


def samples(index: ViewIndex, query: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    """``/api/samples``: how many images the filter keeps and one page of them with their annotations."""
    given = Filter.from_query(query)
    offset = _number(query, "offset", 0)
    limit = _number(query, "limit", PAGE_SIZE, MAX_PAGE_SIZE)
    chosen = index.select(given)
    page = chosen[offset:offset + limit]
    return {
        "total": len(chosen), "offset": offset, "limit": limit, "filter": given.to_query(),
        "samples": [sample_json(int(i), index.sample(int(i)), index.class_index) for i in page],
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
    sample = index.sample(number)
    doc = sample_json(number, sample, index.class_index, detail=True)
    doc["file"] = str(sample.resolve(index.root))
    doc["problems"] = index.findings_of(number)
    return doc


def problems(index: ViewIndex) -> dict[str, Any]:
    """``/api/problems``: images per validation check (runs the validation on first use)."""
    return {"images": index.problem_counts()}


def all_matching(index: ViewIndex, query: Mapping[str, Sequence[str]], limit: int) -> np.ndarray:
    """The first ``limit`` images the filter keeps (what ``--export`` writes)."""
    return index.select(Filter.from_query(query))[:limit]
