"""Hugging Face ``datasets`` Parquet shards (write only): ``cvkit export manifest.jsonl out/ --to hf``.

Writes ``data/<split>-00000-of-00003.parquet``... (the Hub's own layout) and a ``README.md`` whose YAML lists the
splits, so ``datasets.load_dataset("parquet", data_files=...)`` and ``load_dataset("out/")`` both open it with
its features: ``image`` (Image, the file's own bytes), ``image_path``, ``width``/``height``, ``labels`` (a
sequence of ClassLabel: the image-level labels) and ``objects`` (a sequence of ``bbox`` [x, y, w, h] in pixels,
``category`` ClassLabel, ``area``, ``iscrowd``: the layout of the Hub's detection datasets). Polygons, masks and
keypoints are not written (the summary says how many). Shards close before passing ``shard_bytes`` (default
500MB, as ``push_to_hub``) or at ``shard_size`` samples.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cvkit.core.model import Dataset, Sample
from cvkit.core.report import Report
from cvkit.core.shards import Pipeline
from cvkit.core.training_shards import ClassNumbers, ShardRuns, check_limits, image_bytes, missing_image, split_of
from cvkit.errors import InvalidInputError
from cvkit.formats.hf._table import Candidate, ShardTable, dataset_card, encode_objects

DEFAULT_SHARD_BYTES = "500MB"


def detect(path: Path) -> str | None:
    """Write-only: the ``datasets`` library reads these shards, cvkit does not take them as a source."""
    return None


def encode_row(report: Report, sample: Sample) -> tuple[Sample, list[Candidate], int]:
    """What a row needs but its image and class numbers: the sample's size, path and labels, its boxed objects, its
    object count (runs where the shard is read)."""
    bare = Sample(sample.path, sample.width, sample.height, sample.split, labels=sample.labels)
    return bare, encode_objects(sample, report), len(sample.objects)


def write(
    dataset: Dataset,
    path: Path,
    report: Report,
    shard_size: int | None = None,
    shard_bytes: Any = None,
    workers: int | None = None,
) -> None:
    """Write the samples as Parquet shards under ``path/data`` (a folder the caller made atomic). A class number is
    the label's place in the categories; each shard's ClassLabel names are the categories numbered when it closes
    (all of them for the last). ``workers``: processes that read a sharded source and box its objects; images,
    numbers and shards are written here, in order."""
    if shard_size is None and shard_bytes is None:
        shard_bytes = DEFAULT_SHARD_BYTES
    shard_size, limit = check_limits(shard_size, shard_bytes)
    data_dir = path / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    numbers = ClassNumbers(dataset.categories)
    runs: ShardRuns[ShardTable] = ShardRuns(
        lambda split, index: ShardTable(data_dir / f"{split}-{index:05d}.tmp", lambda: list(numbers.update())),
        lambda table: table.close(),
        shard_size,
        limit,
    )
    pipeline = Pipeline(dataset, report, workers)
    for sample, candidates, objects in pipeline.samples(encode_row, pipeline.report, "writing Hugging Face shards"):
        try:
            data = image_bytes(sample, dataset.root)
        except InvalidInputError as exc:
            report.invalid(missing_image(sample, exc))
            continue
        table = runs.writer_for(split_of(sample), len(data) + 64 * (1 + objects))
        table.add(sample, data, candidates, numbers, report)
        report.count_written(sample.split, objects)
    shards = runs.finish()
    for split, count in shards.items():  # the total is known only now: <split>-00000-of-00003.parquet
        for index in range(count):
            (data_dir / f"{split}-{index:05d}.tmp").rename(data_dir / f"{split}-{index:05d}-of-{count:05d}.parquet")
    (path / "README.md").write_text(dataset_card(sorted(shards)), encoding="utf-8")
    report.written.categories = len(numbers.update())
