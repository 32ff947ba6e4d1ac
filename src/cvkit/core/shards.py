"""Reading and encoding a dataset's :class:`~cvkit.core.model.Shard` runs on several forked processes.

A writer splits its per-sample work in two: ``encode`` needs only the sample (YOLO label text, VOC XML, COCO
records without their ids: most of the CPU), ``place`` needs every sample before it (unique file names, list
files, ids, writing). Given a dataset's shards, :func:`spread` runs the reader and ``encode`` for each run in
a forked worker and hands the encoded samples back in input order, so the parent only places them: the output
is the same as one process writes, byte for byte. :func:`spread_runs` hands back each run encoded as a whole
(the COCO writer's columns of records, which the parent numbers a run at a time).

Each worker records into its own copy of the run's report (the reader's closures and the writer hold the
same :class:`~cvkit.core.report.Report`); the copy is cleared before each run and merged into the parent's
report when the run's results arrive, so counts, losses and skipped items add up as in one process.

Readers that find categories while reading (VOC, LabelMe) add them to the workers' copies of the categories.
Each worker notes, per sample, the names its reader created (``CategorySet.journal``), and the parent creates
them before placing that sample: the categories end up in the order one process gives them, image-level
labels and labels of objects a writer leaves out included.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from functools import partial
from typing import Any, TypeVar

from cvkit.core.categories import CategorySet
from cvkit.core.model import Dataset, Sample, Shard
from cvkit.core.parallel import can_fork, default_workers, ordered_map
from cvkit.core.progress import track
from cvkit.core.report import Report

E = TypeVar("E")
R = TypeVar("R")
T = TypeVar("T")

#: below this many samples the runs are read in one process (forking costs more than it saves)
PARALLEL_MIN_SAMPLES = 2000

#: per sample of a run, the category names its reader created (in the order it created them)
Journal = list[tuple[str, ...]]

#: what a forked worker needs, set once by the pool's initializer (inherited, never pickled)
_job: tuple[list[Shard], Callable[[Iterator[Sample]], Any], Report, CategorySet] | None = None


def _set_job(shards: list[Shard], encode_run: Callable[[Iterator[Sample]], Any], report: Report, categories: CategorySet) -> None:
    global _job
    _job = (shards, encode_run, report, categories)


def _run(index: int) -> tuple[Journal, Any, Report]:
    """Worker side: read and encode one run; the category names its reader created per sample, the encoded run,
    and what the worker's report recorded on the way."""
    if _job is None:
        raise RuntimeError("shard worker started without its job (ordered_map initializer)")
    shards, encode_run, report, categories = _job
    report.clear()
    created: list[str] = []
    categories.journal = created
    journal: Journal = []

    def samples() -> Iterator[Sample]:
        for sample in shards[index].read():
            journal.append(tuple(created))
            created.clear()
            yield sample

    encoded_run = encode_run(samples())
    return journal, encoded_run, report


def spread_runs(dataset: Dataset, encode_run: Callable[[Iterator[Sample]], R], report: Report, workers: int | None, description: str,
                size: Callable[[R], int]) -> Iterator[tuple[Journal, R]] | None:
    """A writer's entry point for work done a run at a time: ``(journal, encode_run(samples))`` of each run of
    ``dataset``'s samples, in order, read and encoded on ``workers`` forked processes (default: one a CPU; one below
    :data:`PARALLEL_MIN_SAMPLES` samples), with a progress bar that ``size(encoded run)`` moves; None when the
    dataset gives no shards (or was iterated already), there is one worker or no fork: the writer then iterates the
    samples itself.

    The journal lists, per sample, the categories its reader created in the worker, which the parent's categories
    lack: the writer creates them (:func:`create_journalled`) before it uses that sample's labels. In one process
    each sample is a run of its own, its categories created by the reader already: a writer that creates
    categories itself (a label no reader made a category, such as LabelMe's ``__ignore__``) then does so in the
    order one process without shards does."""
    workers = default_workers(workers)
    shards = dataset.take_shards() if workers > 1 and can_fork() else None
    if shards is None:
        return None
    total = sum(shard.size for shard in shards)
    workers = workers if total >= PARALLEL_MIN_SAMPLES else 1
    runs_of = encoded_runs(shards, encode_run, report, workers, dataset.categories)
    return track(runs_of, description, total, lambda item: size(item[1]))


def spread(dataset: Dataset, encode: Callable[[Sample], E], report: Report, workers: int | None, description: str) -> Iterator[E] | None:
    """A writer's entry point for work done a sample at a time: ``encode(sample)`` of every sample of ``dataset``,
    in order, as :func:`spread_runs` spreads the runs; the categories each sample's reader created are created in
    the dataset's before it is handed on. None as :func:`spread_runs`."""
    items = spread_runs(dataset, partial(_each, encode), report, workers, description, len)
    return None if items is None else _handed_on(items, dataset.categories)


def _each(encode: Callable[[Sample], E], samples: Iterator[Sample]) -> list[E]:
    return [encode(sample) for sample in samples]


def _handed_on(items: Iterator[tuple[Journal, list[E]]], categories: CategorySet) -> Iterator[E]:
    for journal, encoded_run in items:
        for names, item in zip(journal, encoded_run):
            create_journalled(names, categories)
            yield item


def create_journalled(names: tuple[str, ...], categories: CategorySet) -> None:
    """Create in ``categories`` the names a worker's reader created for one sample (none, mostly)."""
    for name in names:
        categories.ensure(name)


def runs(items: Sequence[T], size: int) -> list[Sequence[T]]:
    """``items`` cut into consecutive runs of ``size`` (the last may be shorter): a reader's shards."""
    return [items[start : start + size] for start in range(0, len(items), size)]


def memory_available() -> int | None:
    """Bytes of memory the system can still give (Linux ``MemAvailable``); None where that is not known."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def encoded_runs(shards: list[Shard], encode_run: Callable[[Iterator[Sample]], R], report: Report, workers: int,
                 categories: CategorySet) -> Iterator[tuple[Journal, R]]:
    """``(journal, encode_run(samples))`` of every run of ``shards``, in order, worked out on ``workers`` forked
    processes; what the workers' reports recorded is merged into ``report`` as each run arrives.

    ``encode_run`` must not change state the parent relies on (it runs on a copy of the parent's memory); an
    error it raises (with ``--skip-invalid`` off) is raised here, at its place in the order. Without fork or with
    one worker, the runs are read here, a sample at a time (each its own run, its journal empty: the reader
    created its categories here)."""
    if workers <= 1 or not can_fork():
        for shard in shards:
            for sample in shard.read():
                yield [()], encode_run(iter((sample,)))
    else:
        for journal, encoded_run, part in ordered_map(_run, range(len(shards)), workers, _set_job, (shards, encode_run, report, categories)):
            report.merge(part)
            yield journal, encoded_run
    # the categories the runs' readers found, as a reader's own iteration counts them when it ends
    report.read.categories = max(report.read.categories, len(categories))
