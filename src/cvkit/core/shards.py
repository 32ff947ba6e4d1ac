"""The one path of a write: a dataset's :class:`~cvkit.core.model.Shard` runs read and encoded on an executor,
placed by the writer here, in order.

A writer splits its work in two: ``encode`` needs only the samples of one run (YOLO label text, VOC XML, COCO
records without their ids: most of the CPU) and ``place`` needs every sample before it (unique file names, list
files, ids, writing). :class:`Pipeline` hands each run, with a module-level ``encode_run(encoder, samples)`` and a
picklable ``encoder``, to an :class:`~cvkit.core.executor.Executor`: in this process
(:class:`~cvkit.core.executor.InProcess`, one worker or a small dataset), on local processes, or on another machine.
Nothing reaches the work through inherited memory: the shards are descriptions (a module-level reader function and
picklable arguments), and the tests run the same conversions with spawned processes. The output is the same
whichever executor ran it, byte for byte.

Each run records into its own report (a cleared scratch :class:`~cvkit.core.report.Report` that the encoder holds
too), merged into the write's report when the run's result arrives, so counts, losses and skipped items add up
as in one process. Readers that find categories while reading (VOC, LabelMe) add them to the pipeline's copy of
the categories; each run notes, per sample, the names its reader created (``CategorySet.journal``), and the parent
creates them before placing that sample: the categories end up in the order one process gives them, image-level
labels and labels of objects a writer leaves out included.

A dataset without shards (a reader that gives none, a materialized dataset) is iterated here, in runs, through the
same ``encode_run``. Its reader creates categories in the dataset's own set as it goes, so a run ends after a
sample with a label the categories lack: the writer creates that one when it places the run, before the reader
creates the next sample's (the order one sample at a time gives).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, TypeVar

from cvkit.core.categories import CategorySet
from cvkit.core.executor import Executor, InProcess, chosen, default_workers, make_executor, tracked_map
from cvkit.core.model import Dataset, Sample, Shard
from cvkit.core.progress import progress_bar, track
from cvkit.core.report import Report

C = TypeVar("C")
E = TypeVar("E")
R = TypeVar("R")
T = TypeVar("T")

#: below this many samples the runs are encoded in this process (starting workers costs more than it saves)
PARALLEL_MIN_SAMPLES = 2000

#: per sample of a run, the category names its reader created (in the order it created them)
Journal = list[tuple[str, ...]]


class RunResult(NamedTuple):
    """What one run gives back: the journal of its samples, the names created by samples a transform dropped after
    the last kept one, the encoded run, and what the run's report recorded."""

    journal: Journal
    tail: tuple[str, ...]
    encoded: Any
    report: Report


@dataclass(slots=True)
class _Job:
    """The context of one pipeline, sent once to each worker: everything a run needs besides its task."""

    sources: list[Any]
    #: per shard: (its source's place in ``sources``, its read function, its task); the executor's tasks are
    #: positions in this list, so that forked workers read the descriptions from inherited memory rather than
    #: each through a pipe (20,000 VOC file names: 2 MB), and other executors send them once a worker
    shards: list[tuple[int, Callable[..., Iterator[Sample]], Any]]
    transforms: tuple[Callable[[Sample], Sample | None], ...]
    encode_run: Callable[[Any, Iterator[Sample]], Any]
    encoder: Any
    categories: CategorySet  # the pipeline's copy, which the readers add to
    report: Report  # the scratch report the encoder holds too


def _run_shard(job: _Job, index: int) -> RunResult:
    """Worker side: read, transform and encode the run of shard ``index``."""
    source, read, shard_task = job.shards[index]
    report, categories, transforms = job.report, job.categories, job.transforms
    report.clear()
    created: list[str] = []
    categories.journal = created
    journal: Journal = []

    def samples() -> Iterator[Sample]:
        for sample in read(job.sources[source], shard_task, categories, report):
            kept: Sample | None = sample
            for transform in transforms:
                kept = transform(kept)  # type: ignore[arg-type]
                if kept is None:
                    break
            if kept is not None:
                if created:
                    journal.append(tuple(created))
                    created.clear()
                else:
                    journal.append(())
                yield kept

    try:
        encoded = job.encode_run(job.encoder, samples())
    finally:
        categories.journal = None
    part = copy.copy(report)  # this run's records: the next run's clear() gives the scratch new containers
    return RunResult(journal, tuple(created), encoded, part)


def choose_executor(workers: int, samples: int | None = None) -> Executor:
    """The executor set by :func:`cvkit.core.executor.using` (``--engine ray``, tests), whatever the size; else the
    one for ``workers`` processes (:func:`~cvkit.core.executor.make_executor`), in-process below
    :data:`PARALLEL_MIN_SAMPLES` samples."""
    override = chosen()
    if override is not None:
        return override
    if samples is not None and samples < PARALLEL_MIN_SAMPLES:
        workers = 1
    return make_executor(workers=workers)


def _close_unless_chosen(executor: Executor) -> None:
    """Close an executor this module made; the one :func:`~cvkit.core.executor.using` set is closed by its ``with``."""
    if executor is not chosen():
        executor.close()


class Pipeline:
    """One write's way through ``dataset``: its shards on an executor, else its samples in runs here.

    ``report`` is what the writer's encoder records into (a scratch report the pipeline merges, or the write's own
    report when the samples are iterated here). ``workers``: processes (default: one a CPU); 1 keeps everything
    in this process, as a writer whose ``encode`` writes files must. ``in_process``: whether every run is encoded
    in this process (an encoder may then hand over objects that need not travel, such as dicts instead of JSON)."""

    def __init__(self, dataset: Dataset, report: Report, workers: int | None):
        self.dataset, self.target = dataset, report
        self.workers = default_workers(workers)
        self.shards = dataset.take_shards(self.workers)
        self.report = report if self.shards is None else Report(skip_invalid=report.skip_invalid)
        self.executor: Executor | None = None
        if self.shards is not None:
            self.executor = choose_executor(self.workers, sum(shard.size for shard in self.shards))
        self.in_process = self.executor is None or isinstance(self.executor, InProcess)

    def runs(
        self, encode_run: Callable[[C, Iterator[Sample]], R], encoder: C, description: str, size: Callable[[R], int]
    ) -> Iterator[tuple[Journal, R]]:
        """``(journal, encode_run(encoder, samples))`` of every run, in order, with a progress bar that
        ``size(encoded run)`` moves. The journal lists, per sample, the categories its reader created, which the
        dataset's categories lack: the writer creates them (:func:`create_journalled`) before it uses that
        sample's labels. Iterated here, the runs are :class:`_LocalRun` s, their categories created by the reader
        already (journals empty)."""
        dataset = self.dataset
        if self.shards is None:
            samples = iter(track(dataset, description))
            known: set[str] = set()
            while True:
                run = _LocalRun(samples, dataset.categories, known)
                encoded = encode_run(encoder, iter(run))
                if not run.count:
                    return
                yield [()] * run.count, encoded
        shards = self.shards
        sources: dict[int, int] = {}
        for shard in shards:
            sources.setdefault(id(shard.source), len(sources))
        shared = list({id(shard.source): shard.source for shard in shards}.values())
        described = [(sources[id(shard.source)], shard.read, shard.task) for shard in shards]
        categories_copy = copy.deepcopy(dataset.categories)
        job = _Job(shared, described, dataset.transforms, encode_run, encoder, categories_copy, self.report)
        executor = self.executor
        assert executor is not None
        categories, target = dataset.categories, self.target
        try:
            total = sum(shard.size for shard in shards)
            with progress_bar(description, total) as advance:  # fed by the shards as they complete, on any engine
                done = lambda _index, result: advance(size(result.encoded))  # noqa: E731
                for result in executor.map(_run_shard, job, range(len(shards)), on_done=done):
                    target.merge(result.report)
                    yield result.journal, result.encoded
                    create_journalled(result.tail, categories)
        finally:
            _close_unless_chosen(executor)
        # the categories the runs' readers found, as a reader's own iteration counts them when it ends
        target.read.categories = max(target.read.categories, len(categories))
        dataset.finish(target)

    def samples(self, encode: Callable[[C, Sample], E], encoder: C, description: str) -> Iterator[E]:
        """``encode(encoder, sample)`` of every sample, in order, as :meth:`runs` runs them; the categories each
        sample's reader created are created in the dataset's before it is handed on."""
        categories = self.dataset.categories
        for journal, encoded_run in self.runs(_Each(encode), encoder, description, len):
            for names, item in zip(journal, encoded_run):
                if names:
                    create_journalled(names, categories)
                yield item


#: samples in one run of a dataset iterated here (:class:`_LocalRun`)
LOCAL_RUN_SAMPLES = 1000


class _LocalRun:
    """The next run of samples of a dataset iterated here: up to :data:`LOCAL_RUN_SAMPLES`, ending after a sample
    with a label the categories lack (a category only the writer creates, such as LabelMe's ``__ignore__`` in COCO),
    so that the writer creates it before the reader meets the next sample. ``known``: names seen in the categories
    (a set: looking a name up in the categories themselves costs a method call, and this runs once per object)."""

    def __init__(self, samples: Iterator[Sample], categories: CategorySet, known: set[str]):
        self.samples, self.categories, self.known, self.count = samples, categories, known, 0

    def __iter__(self) -> Iterator[Sample]:
        known = self.known
        for sample in self.samples:
            self.count += 1
            yield sample
            labels = {obj.label for obj in sample.objects}
            labels.update(sample.labels)
            if self.count >= LOCAL_RUN_SAMPLES or not (labels <= known or self._all_known(labels)):
                return

    def _all_known(self, labels: set[str]) -> bool:
        """Whether the categories hold every one of ``labels`` (those they hold join ``known``)."""
        held = {label for label in labels if label in self.categories}
        self.known |= held
        return len(held) == len(labels)


@dataclass(frozen=True, slots=True)
class _Each:
    """``encode`` over every sample of a run (picklable when ``encode`` is a module-level function)."""

    encode: Callable[[Any, Sample], Any]

    def __call__(self, encoder: Any, samples: Iterator[Sample]) -> list[Any]:
        encode = self.encode
        return [encode(encoder, sample) for sample in samples]


def create_journalled(names: Sequence[str], categories: CategorySet) -> None:
    """Create in ``categories`` the names a worker's reader created for one sample (none, mostly)."""
    for name in names:
        categories.ensure(name)


def runs(items: Sequence[T], size: int) -> list[Sequence[T]]:
    """``items`` cut into consecutive runs of ``size`` (the last may be shorter): a reader's shards."""
    return [items[start : start + size] for start in range(0, len(items), size)]


#: items (files, entries, images) in one shard of the readers that cut their input with :func:`shards_of`
SHARD_ITEMS = 1000
#: folders in one shard when a reader's items are folders walked where the shard is read (an ImageNet class folder
#: holds 1,300 images: a run's encoded samples are held until it is placed)
SHARD_FOLDERS = 8


def shards_of(
    read: Callable[..., Iterator[Sample]], source: Any, items: Sequence[Any], size: int | None = None
) -> list[Shard]:
    """``items`` (a reader's files, entries or positions) as shards of ``size`` (default :data:`SHARD_ITEMS`) items
    each, read by the module-level ``read(source, run, categories, report)``; ``source`` is what they share (sent
    once a worker). A shard's size is its item count (a file may hold several samples: it only steers the
    progress bar and whether workers start)."""
    return [Shard(len(run), read, source, run) for run in runs(items, size or SHARD_ITEMS)]


def folder_shards(read: Callable[..., Iterator[Sample]], source: Any, items: Sequence[Any]) -> list[Shard]:
    """:func:`shards_of` for items that are folders, :data:`SHARD_FOLDERS` a shard (read at call time, so tests can
    make it small)."""
    return shards_of(read, source, items, SHARD_FOLDERS)


def read_here(shards: Callable[[int], list[Shard]], categories: CategorySet, report: Report) -> Iterator[Sample]:
    """A reader's samples iterated in this process: its own shards, one after the other, into the dataset's
    ``categories`` and the read's ``report``. A reader whose iteration is this reads the same way on workers and
    here (one path); ``shards`` is called on the first sample asked for, so listing the input waits as iterating did."""
    for shard in shards(1):
        yield from shard.read(shard.source, shard.task, categories, report)


def chunked(items: list[T], workers: int, smallest: int, largest: int | None = None) -> list[list[T]]:
    """``items`` cut into about 8 chunks a worker (load balance), each of ``smallest``..``largest`` items."""
    size = max(smallest, len(items) // (max(workers, 1) * 8))
    if largest is not None:
        size = min(size, largest)
    return [items[i : i + size] for i in range(0, len(items), size)]


def spread_map(
    function: Callable[[C, T], R],
    context: C,
    tasks: list[T],
    workers: int,
    smallest_total: int,
    items: int,
    description: str | None = None,
) -> Iterator[R]:
    """``function(context, task)`` for every task, in order, on ``workers`` processes when there are at least
    ``smallest_total`` items (a reader's own parsing of many small files), else in this process. With a
    ``description``, one progress bar that each completed task (a list of items) moves by its length."""
    executor = choose_executor(workers if items >= smallest_total else 1)
    try:
        if description is None:
            yield from executor.map(function, context, tasks)
        else:
            yield from tracked_map(executor, function, context, tasks, description, len)  # type: ignore[arg-type]
    finally:
        _close_unless_chosen(executor)


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
