"""The cvkit manifest as Parquet, a registered format: ``cvkit ingest -o m.parquet``, ``export --to parquet``.

Reading goes through :func:`cvkit.manifest.read_manifest`, which tells Parquet from JSON Lines by the file's
first bytes, so a Parquet manifest reads wherever a manifest does.
"""

from __future__ import annotations

from pathlib import Path

from cvkit.core.model import Dataset
from cvkit.core.report import Report
from cvkit.errors import CvkitError
from cvkit.manifest import PARQUET_SUFFIXES, is_parquet_manifest, read_header, read_manifest, write_manifest


def detect(path: Path) -> str | None:
    if path.is_file() and is_parquet_manifest(path):
        try:
            read_header(path)
        except CvkitError:
            return None
        return "a Parquet file whose metadata holds a cvkit manifest header"
    return None


def read(path: Path, report: Report) -> Dataset:
    return read_manifest(path, report)


def write(dataset: Dataset, path: Path, report: Report, workers: int | None = None) -> None:
    """The manifest; ``workers``: processes that read a sharded source and encode its records."""
    if path.suffix.lower() not in PARQUET_SUFFIXES:
        path = path / "manifest.parquet"
    write_manifest(dataset, path, report, workers)
