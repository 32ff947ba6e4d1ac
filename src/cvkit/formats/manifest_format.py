"""The cvkit manifest as a registered format, so any format converts to and from it."""

from __future__ import annotations

from pathlib import Path

from cvkit.core.model import Dataset
from cvkit.core.report import Report
from cvkit.errors import InvalidInputError
from cvkit.manifest import read_header, read_manifest, write_manifest


def detect(path: Path) -> str | None:
    if path.is_file() and path.suffix.lower() in (".jsonl", ".ndjson"):
        try:
            read_header(path)
        except InvalidInputError:
            return None
        return "a JSON Lines file whose first line is a cvkit manifest header"
    return None


def read(path: Path, report: Report) -> Dataset:
    return read_manifest(path, report)


def write(dataset: Dataset, path: Path, report: Report, workers: int | None = None) -> None:
    """The manifest; ``workers``: processes that read a sharded source and encode its records."""
    if path.suffix.lower() != ".jsonl":
        path = path / "manifest.jsonl"
    write_manifest(dataset, path, report, workers)
