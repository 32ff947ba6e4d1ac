"""LabelMe desktop JSON (wkentaro/labelme, file versions 3 to 5): one JSON per image.

Shapes map to annotations one to one (``shapes.py``): rectangle -> box, polygon,
circle, point, line, linestrip, mask (base64 PNG of its box -> full-size RLE). Shapes
with the same ``label`` and ``group_id`` are one instance (merged polygon parts or a
mask union; ``Annotation.group`` keeps the id). True image ``flags`` are image-level
labels; shape flags and ``description`` are attributes. ``__ignore__`` shapes stay as
crowd/ignore regions (``iscrowd=True``) and are not a category. Rotated boxes (labelme's
``oriented_rectangle``, X-AnyLabeling's ``rotation``) read as 4-point polygons; any other shape
type is left out and reported per type. Sizes are of the image as displayed (LabelMe applies
EXIF orientation before you draw). See docs/labelme.md.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from cvkit.core.categories import CategorySet
from cvkit.core.executor import default_workers
from cvkit.core.model import Dataset, Sample, Shard
from cvkit.core.progress import track
from cvkit.core.report import Report
from cvkit.core.shards import runs
from cvkit.errors import InvalidInputError
from cvkit.io import known_encoding, walk_files

from ._reader import LabelmeJob, Parsed, default_extract_dir, load_document, parse_file, parsed
from ._shapes import IGNORE_LABEL
from ._writer import write

__all__ = ["detect", "read", "write"]

#: Below this many files parsing stays in-process: worker start-up would cost more than it saves.
PARALLEL_MIN_FILES = 2000


def _is_labelme_json(path: Path) -> bool:
    try:
        with open(path, "rb") as handle:
            head = handle.read(1 << 16)
    except OSError:
        return False
    if b'"shapes"' not in head:
        return False
    try:  # latin-1 never fails: files in a legacy encoding are still recognised
        data = load_document(path.read_bytes() if len(head) == 1 << 16 else head, path, "latin-1")
    except (InvalidInputError, OSError):
        return False
    return (
        isinstance(data, dict) and isinstance(data.get("shapes"), list) and ("imagePath" in data or "version" in data)
    )


def detect(path: Path) -> str | None:
    if path.is_file():
        return (
            "a LabelMe JSON file (shapes + imagePath)"
            if path.suffix.lower() == ".json" and _is_labelme_json(path)
            else None
        )
    if not path.is_dir():
        return None
    for checked, file in enumerate(walk_files(path, ".json")):
        if _is_labelme_json(file):
            return f"LabelMe JSON files ({file.relative_to(path).as_posix()}, ...)"
        if checked >= 4:
            break
    return None


def read(
    path: Path, report: Report, extract_dir: str | None = None, workers: int | None = None, encoding: str | None = None
) -> Dataset:
    """Stream a folder of LabelMe JSON (recursive) or one file.

    ``extract_dir``: where embedded ``imageData`` images are written when no image file
    is found (default: the cvkit cache, see :func:`default_extract_dir`); inputs are never touched.
    ``workers``: processes parsing large folders (default: every core; samples travel back
    packed as tuples, :mod:`cvkit.core.transport`, which made two processes pay off).
    ``encoding``: how files that are not UTF-8 were saved (old labelme on Windows: gbk, cp1252, ...).
    """
    known_encoding(encoding, "encoding")
    root = path if path.is_dir() else path.parent
    target = Path(extract_dir) if extract_dir else default_extract_dir()
    root_text = os.path.abspath(root)
    # straight from the walk: a list of its Path objects beside the jobs more than doubled the listing's peak
    files = walk_files(path, ".json") if path.is_dir() else [path]
    jobs = [(os.path.abspath(file), root_text, target, encoding) for file in files]
    if not jobs:
        report.warn(f"no .json files under {path}")
    workers = default_workers(workers)
    categories = CategorySet()

    def samples() -> Iterator[Sample]:
        yield from _samples(
            track(parsed(jobs, workers, PARALLEL_MIN_FILES), "reading LabelMe", len(jobs)), categories, report
        )
        report.read.categories = len(categories)

    def shards(_workers: int) -> list[Shard]:
        return [Shard(len(run), _read_shard, None, run) for run in runs(jobs, SHARD_FILES)]

    # ``workers=1`` (``-r workers=1``) keeps reading to one process: no shards for a writer to spread
    return Dataset(samples(), categories, root=root, source_format="labelme", shards=shards if workers > 1 else None)


#: JSON files in one :class:`~cvkit.core.model.Shard` (writers that use several processes take them)
SHARD_FILES = 500


def _samples(results: Iterable[Parsed], categories: CategorySet, report: Report) -> Iterator[Sample]:
    """The samples of parse results, their errors and losses reported; new labels added to ``categories``."""
    for sample, errors, losses in results:
        for error in errors:
            report.invalid(error)
        for what, why in losses:
            report.lose(what, why)
        if sample is None:
            continue
        for name in (*sample.labels, *{o.label: None for o in sample.objects}):  # each name once, in order
            if name not in categories and name != IGNORE_LABEL:
                categories.ensure(name)
        report.count_read(None, len(sample.objects))
        yield sample


def _read_shard(_source: None, jobs: list[LabelmeJob], categories: CategorySet, report: Report) -> Iterator[Sample]:
    """A shard's samples (:class:`~cvkit.core.model.Shard`): a run of files (labels it meets first are numbered by
    the writer in the parent, in order)."""
    return _samples((parse_file(*job) for job in jobs), categories, report)
