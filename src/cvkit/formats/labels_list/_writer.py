"""Writing image-level label lists (see :mod:`cvkit.formats.labels_list` for the forms)."""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cvkit.core.model import Dataset, Sample
from cvkit.core.paths import inside, split_name
from cvkit.core.report import Report
from cvkit.core.shards import Pipeline
from cvkit.core.splits import NO_SPLIT
from cvkit.errors import CvkitError, InvalidInputError
from cvkit.io import RealPaths, atomic_file, place_image


@dataclass(slots=True)
class RowEncoder:
    """The sample-alone half of a label-list write (runs where the shard is read; picklable)."""

    root: Path | None
    base: Path
    referenced: bool
    report: Report
    real_paths: RealPaths


#: what :func:`encode_row` gives: the image file, the list's reference to it (None: the parent places the image),
#: the sample's labels (in order, once each) and split
EncodedRow = tuple[Path, str | None, list[str], str | None]


def encode_row(encoder: RowEncoder, sample: Sample) -> EncodedRow:
    """The sample's row but the name of an image to place, and what it loses."""
    source = sample.resolve(encoder.root)
    ref = encoder.real_paths.relative(source, encoder.base) if encoder.referenced else None
    if encoder.referenced or source.is_file():  # a missing image to place is skipped, with nothing lost
        _check_labels(sample, encoder.report)
    return source, ref, list(dict.fromkeys(sample.labels)), sample.split


def _place_image(source: Path, base: Path, mode: str, used: set[str], report: Report) -> str | None:
    """Where the list points for an image placed under ``base/images`` (None: no image to place)."""
    if not source.is_file():
        report.invalid(
            InvalidInputError("image file not found; --images reference lists it without placing it", file=source)
        )
        return None
    name = source.name
    target, number = name, 1
    while target in used:
        number += 1
        stem, ext = os.path.splitext(name)
        target = f"{stem}-{number}{ext}"
    used.add(target)
    place_image(source, inside(base, "images", target), mode)
    return f"images/{target}"


def _check_labels(sample: Sample, report: Report) -> None:
    if sample.objects:
        report.lose("object annotations", "a label list holds image-level labels only", len(sample.objects))
    report.lose_image_attributes(sample.attributes, "a label list")


def write(dataset: Dataset, path: Path, report: Report, **options: Any) -> None:
    """A CSV (``.csv``), a text list (``.txt``) or a folder of ``<split>.txt`` + ``synsets.txt``.

    A list file references the images in place by default; a folder places them under ``images/`` (hard links,
    else copies), as datumaro's ``imagenet_txt`` refuses listed paths that leave ``images/``."""
    suffix = path.suffix.lower()
    mode = options.get("images") or ("reference" if suffix in (".csv", ".txt") else "hardlink")
    base = path.parent if suffix in (".csv", ".txt") else path
    used: set[str] = set()
    rows = []
    pipeline = Pipeline(dataset, report, options.get("workers"))
    encoder = RowEncoder(dataset.root, base, mode == "reference", pipeline.report, RealPaths())
    for source, ref, labels, split in pipeline.samples(encode_row, encoder, "writing label lists"):
        if ref is None:
            ref = _place_image(source, base, mode, used, report)
        if ref is None:
            continue
        rows.append((ref, labels, split))
        report.count_written(split, 0)
    names = list(
        dict.fromkeys([c.name for c in dataset.categories] + [label for _r, labels, _s in rows for label in labels])
    )
    report.written.categories = len(names)
    if suffix == ".csv":
        _write_csv(path, rows)
    elif suffix == ".txt":
        _write_txt_list(path, rows, report)
    else:
        _write_folder(path, rows, names, placed=mode != "reference")


def _write_csv(path: Path, rows: list[tuple[str, list[str], str | None]]) -> None:
    with_split = any(split for _r, _l, split in rows)
    pipe = any(any(c.isspace() for c in label) for _r, labels, _s in rows for label in labels)
    with atomic_file(path) as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["ImageId", "labels", "split"] if with_split else ["ImageId", "labels"])
        for ref, labels, split in rows:
            cell = ("|" if pipe else " ").join(labels)
            writer.writerow([ref, cell, split or ""] if with_split else [ref, cell])


def _write_txt_list(path: Path, rows: list[tuple[str, list[str], str | None]], report: Report) -> None:
    for _r, labels, _s in rows:
        for label in labels:
            if any(c.isspace() for c in label):
                raise CvkitError(
                    f"label {label!r} has spaces, which a 'path label' list cannot hold; write a .csv or a folder"
                )
    splits = {s for _r, _l, s in rows if s}
    if splits:
        report.lose(
            "split",
            "a single 'path label' list has no split column; write a .csv or a folder for one list per split",
            len(rows),
        )
    with atomic_file(path) as handle:
        for ref, labels, _split in rows:
            if any(c.isspace() for c in ref):
                raise CvkitError(f"image path {ref!r} has spaces, which a 'path label' list cannot hold; write a .csv")
            handle.write(" ".join([ref, *labels]) + "\n")


def _write_folder(path: Path, rows: list[tuple[str, list[str], str | None]], names: list[str], placed: bool) -> None:
    index = {name: i for i, name in enumerate(names)}
    path.mkdir(parents=True, exist_ok=True)
    (path / "synsets.txt").write_text("".join(n + "\n" for n in names), encoding="utf-8")
    by_split: dict[str, list[str]] = {}
    for ref, labels, split in rows:
        if any(c.isspace() for c in ref):
            raise CvkitError(f"image path {ref!r} has spaces, which a 'path label' list cannot hold; write a .csv")
        line = " ".join([ref.removeprefix("images/") if placed else ref, *(str(index[label]) for label in labels)])
        by_split.setdefault(split or NO_SPLIT, []).append(line + "\n")
    for split, lines in by_split.items():
        if split_name(split) == "synsets":
            raise CvkitError("a split named 'synsets' would replace the class list synsets.txt; rename the split")
        (path / f"{split}.txt").write_text("".join(lines), encoding="utf-8")
