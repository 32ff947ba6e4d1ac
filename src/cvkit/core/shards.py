"""Reading and encoding a dataset's :class:`~cvkit.core.model.Shard` runs on several forked processes.

A writer splits its per-sample work in two: ``encode`` needs only the sample (YOLO label text, VOC XML, COCO
records without their ids: most of the CPU), ``place`` needs every sample before it (unique file names, list
files, ids, writing). Given a dataset's shards, :func:`encoded` runs the reader and ``encode`` for each run in
a forked worker and hands the encoded samples back in input order, so the parent only places them: the output
is the same as one process writes, byte for byte.

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
from typing import Any, TypeVar

from cvkit.core.categories import CategorySet
from cvkit.core.model import Dataset, Sample, Shard
from cvkit.core.parallel import can_fork, default_workers, ordered_map
from cvkit.core.progress import track
from cvkit.core.report import Report

E = TypeVar("E")
T = TypeVar("T")

#: below this many samples the runs are read in one process (forking costs more than it saves)
PARALLEL_MIN_SAMPLES = 2000

#: what a forked worker needs, set once by the pool's initializer (inherited, never pickled)
_job: tuple[list[Shard], Callable[[Sample], Any], Report, CategorySet] | None = None


def _set_job(shards: list[Shard], encode: Callable[[Sample], Any], report: Report, categories: CategorySet) -> None:
    global _job
    _job = (shards, encode, report, categories)


def _run(index: int) -> tuple[list[tuple[tuple[str, ...], Any]], Report]:
    """Worker side: read and encode one run; per sample the category names its reader created and the encoded
    sample, and what the worker's report recorded on the way."""
    if _job is None:
        raise RuntimeError("shard worker started without its job (ordered_map initializer)")
    shards, encode, report, categories = _job
    report.clear()
    created: list[str] = []
    categories.journal = created
    out = []
    for sample in shards[index].read():
        out.append((tuple(created), encode(sample)))
        created.clear()
    return out, report


def spread(dataset: Dataset, encode: Callable[[Sample], E], report: Report, workers: int | None, description: str) -> Iterator[E] | None:
    """A writer's one entry point: the encoded samples of ``dataset``, in order, read and encoded on ``workers``
    forked processes (default: one a CPU; one below :data:`PARALLEL_MIN_SAMPLES` samples) with a progress bar;
    None when the dataset gives no shards (or was iterated already), there is one worker or no fork: the writer
    then iterates the samples itself."""
    workers = default_workers(workers)
    shards = dataset.take_shards() if workers > 1 and can_fork() else None
    if shards is None:
        return None
    total = sum(shard.size for shard in shards)
    workers = workers if total >= PARALLEL_MIN_SAMPLES else 1
    return track(encoded(shards, encode, report, workers, dataset.categories), description, total)


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


def encoded(shards: list[Shard], encode: Callable[[Sample], E], report: Report, workers: int, categories: CategorySet) -> Iterator[E]:
    """``encode(sample)`` of every sample of ``shards``, in order, worked out on ``workers`` forked processes;
    what the workers' reports recorded is merged into ``report`` as each run arrives, and the categories their
    readers created are created in ``categories`` (the dataset's) before each sample is handed on.

    ``encode`` must not change state the parent relies on (it runs on a copy of the parent's memory); an
    error it raises (with ``--skip-invalid`` off) is raised here, at its place in the order. Without fork or with
    one worker, the runs are read here, one after the other."""
    if workers <= 1 or not can_fork():
        for shard in shards:
            yield from map(encode, shard.read())
    else:
        for results, part in ordered_map(_run, range(len(shards)), workers, _set_job, (shards, encode, report, categories)):
            report.merge(part)
            for created, item in results:
                for name in created:
                    categories.ensure(name)
                yield item
    # the categories the runs' readers found, as a reader's own iteration counts them when it ends
    report.read.categories = max(report.read.categories, len(categories))
