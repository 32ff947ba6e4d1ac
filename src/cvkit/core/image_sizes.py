"""Image sizes from file headers on the executor: the folder readers' ``-r sizes=true`` (ImageNet, Kaggle ILSVRC,
image folders, label lists), where reading 1.28M headers is the whole cost of an ingest.

A reader hands its sample stream to :func:`with_sizes` with a function that names each sample's image file (None:
leave that sample alone). The stream is read ahead a wave at a time; the wave's files go to the executor in runs
of :data:`RUN_FILES` (this process for a small input, local processes, or the Ray engine's workers, which must see
the files) and come back in order as sizes or the error a header gave. The error is recorded here, at its sample's
place, as the readers' own loops did: the output and the report
are the same whichever engine read the headers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from pathlib import Path

from cvkit.core.executor import Executor, InProcess, chosen, default_workers, make_executor
from cvkit.core.imageinfo import read_image_info
from cvkit.core.model import Sample
from cvkit.core.report import Report
from cvkit.errors import InvalidInputError

#: image files per executor task
RUN_FILES = 512
#: runs per worker in one wave of read-ahead (the wave's samples wait in memory for their sizes)
RUNS_PER_WORKER = 8
#: below this many images in the first wave, the headers are read in this process
PARALLEL_MIN_FILES = 4096

Size = tuple[int, int] | InvalidInputError


def read_sizes(_context: None, paths: list[str]) -> list[Size]:
    """Worker side: the displayed size of each image, or the error its header gave."""
    sizes: list[Size] = []
    for path in paths:
        try:
            info = read_image_info(path)
        except InvalidInputError as err:
            sizes.append(err)
        else:
            sizes.append((info.width, info.height))
    return sizes


def present_image(root: Path, sample: Sample) -> Path | None:
    """The sample's image under ``root`` when the file is there (a list or a box XML may name a missing one)."""
    image = root / sample.path
    return image if image.is_file() else None


def with_sizes(
    samples: Iterable[Sample], image_of: Callable[[Sample], str | Path | None], report: Report
) -> Iterator[Sample]:
    """``samples`` with ``width``/``height`` from the headers of their images (``image_of(sample)``; None leaves the
    sample as it is); a header that cannot be read is an invalid item of ``report`` (skipped with
    ``--skip-invalid``, the sample kept without a size)."""
    stream = iter(samples)
    override = chosen()
    executor: Executor | None = override
    workers = override.workers if override is not None else default_workers(None)
    wave_size = RUN_FILES * RUNS_PER_WORKER * max(1, workers)
    try:
        while wave := list(islice(stream, wave_size)):
            if executor is None:
                executor = InProcess() if len(wave) < PARALLEL_MIN_FILES else make_executor(workers=workers)
            yield from _sized_wave(executor, wave, image_of, report)
    finally:
        if executor is not None and executor is not override:
            executor.close()


def _sized_wave(
    executor: Executor, wave: list[Sample], image_of: Callable[[Sample], str | Path | None], report: Report
) -> Iterator[Sample]:
    wanted = [(index, image_of(sample)) for index, sample in enumerate(wave)]
    wanted = [(index, str(image)) for index, image in wanted if image is not None]
    runs = [wanted[start : start + RUN_FILES] for start in range(0, len(wanted), RUN_FILES)]
    results = executor.map(read_sizes, None, [[image for _, image in run] for run in runs])
    done = 0
    for run, sizes in zip(runs, results):
        for (index, _image), size in zip(run, sizes):
            yield from wave[done:index]
            done = index
            sample = wave[index]
            if isinstance(size, InvalidInputError):
                report.invalid(size)
            else:
                sample.width, sample.height = size
    yield from wave[done:]


def read_sample_size(sample: Sample, image: str | Path, report: Report) -> None:
    """One sample's size from its image header, where a reader's shard is read (the shard already runs on the
    executor); an unreadable header is an invalid item of ``report``, as in :func:`with_sizes`."""
    (size,) = read_sizes(None, [str(image)])
    if isinstance(size, InvalidInputError):
        report.invalid(size)
    else:
        sample.width, sample.height = size
