"""WebDataset tar shards (write only): ``cvkit export manifest.jsonl shards/ --to webdataset``.

Each split becomes ``<split>-000000.tar``, ``<split>-000001.tar``...; each sample is three members sharing a key
(``000000042.jpg`` the image's own bytes, ``000000042.json`` its manifest record, ``000000042.cls`` its class
number when it has exactly one image-level label), as the ``webdataset`` library groups them. ``classes.txt``
beside the shards lists the class names in number order (the header's order, as ``cvkit train`` numbers them).
Shards close at ``shard_size`` samples (default 10,000) or before passing ``shard_bytes`` (``-w shard_bytes=1GB``).
"""

from __future__ import annotations

import io
import tarfile
from functools import partial
from pathlib import Path
from typing import Any

from cvkit.core import jsonio
from cvkit.core.model import Dataset, Sample
from cvkit.core.report import Report
from cvkit.core.shards import Pipeline
from cvkit.core.training_shards import (
    ClassNumbers,
    ShardRuns,
    check_limits,
    image_bytes,
    image_extension,
    missing_image,
    split_of,
)
from cvkit.errors import InvalidInputError
from cvkit.manifest import sample_to_record

DEFAULT_SHARD_SIZE = 10_000
#: a tar member's header block; each member's data is padded to a multiple of it
BLOCK = 512
#: the file listing class names, one a line, in class-number order
CLASSES_FILE = "classes.txt"


def detect(path: Path) -> str | None:
    """Write-only: shards are read back by the ``webdataset`` library (and ``cvkit train``), not as a source."""
    return None


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o444, 0  # fixed metadata: the same dataset gives the same bytes
    tar.addfile(info, io.BytesIO(data))


def _open_shard(folder: Path, split: str, index: int) -> tarfile.TarFile:
    """A new shard; it stays open across samples and :class:`ShardRuns` closes it."""
    return tarfile.open(folder / f"{split}-{index:06d}.tar", "w", format=tarfile.USTAR_FORMAT)


def _padded(size: int) -> int:
    return BLOCK + -(-size // BLOCK) * BLOCK


def encode_record(_encoder: None, sample: Sample) -> tuple[str, str | None, int, bytes, str | None]:
    """The sample's path, split, object count, manifest record and its one image-level label (None: none or
    several); runs where the shard is read. Its image is read where the tars are written (its bytes would cross a
    pipe twice otherwise)."""
    labels = list(dict.fromkeys(sample.labels))
    record = jsonio.dumps(sample_to_record(sample, sample.path))
    return sample.path, sample.split, len(sample.objects), record, labels[0] if len(labels) == 1 else None


def write(
    dataset: Dataset,
    path: Path,
    report: Report,
    shard_size: int | None = None,
    shard_bytes: Any = None,
    workers: int | None = None,
) -> None:
    """Write the samples as tar shards in ``path`` (a folder the caller made atomic). ``workers``: processes that
    read a sharded source and make its records; images, class numbers and tars are written here, in order."""
    if shard_size is None and shard_bytes is None:
        shard_size = DEFAULT_SHARD_SIZE
    shard_size, limit = check_limits(shard_size, shard_bytes)
    path.mkdir(parents=True, exist_ok=True)
    numbers = ClassNumbers(dataset.categories)
    runs: ShardRuns[tarfile.TarFile] = ShardRuns(partial(_open_shard, path), lambda tar: tar.close(), shard_size, limit)
    keys: dict[str, int] = {}
    pipeline = Pipeline(dataset, report, workers)
    for sample_path, sample_split, objects, record, label in pipeline.samples(
        encode_record, None, "writing WebDataset shards"
    ):
        sample = Sample(sample_path, split=sample_split)  # what the image and the shard's name need
        try:
            data = image_bytes(sample, dataset.root)
        except InvalidInputError as exc:
            report.invalid(missing_image(sample, exc))
            continue
        split = split_of(sample)
        key = f"{keys.get(split, 0):09d}"
        keys[split] = keys.get(split, 0) + 1
        number = numbers.get(label) if label is not None else None
        cls = str(number).encode() if number is not None else None
        size = _padded(len(data)) + _padded(len(record)) + (_padded(len(cls)) if cls is not None else 0)
        tar = runs.writer_for(split, size)
        _add(tar, f"{key}.{image_extension(sample)}", data)
        _add(tar, f"{key}.json", record)
        if cls is not None:
            _add(tar, f"{key}.cls", cls)
        report.count_written(sample.split, objects)
    runs.finish()
    (path / CLASSES_FILE).write_text("".join(f"{name}\n" for name in dataset.categories.names()), encoding="utf-8")
    report.written.categories = len(dataset.categories)
