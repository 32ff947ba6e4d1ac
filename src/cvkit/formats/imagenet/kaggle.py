"""The Kaggle "ImageNet Object Localization Challenge" layout of ILSVRC2012.

::

    LOC_synset_mapping.txt         line i (0-based) = class i: "n01440764 tench, Tinca tinca"
    LOC_train_solution.csv         ImageId,PredictionString ("wnid xmin ymin xmax ymax" repeated)
    LOC_val_solution.csv
    ILSVRC/Data/CLS-LOC/{train/nXXXXXXXX/*.JPEG, val/*.JPEG, test/*.JPEG}
    ILSVRC/ImageSets/CLS-LOC/{train_cls.txt, val.txt, test.txt}

Category ids are the mapping's line number + 1 (the Kaggle class index + 1). Train labels are
the folder WNIDs; val labels the WNIDs of its solution boxes. Boxes are the XMLs' values,
VOC 1-based inclusive pixel indices, converted like VOC. When an image folder is absent its
split is listed from ImageSets (``.JPEG`` assumed), so annotation-only downloads still read.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cvkit.core import validate_values
from cvkit.core.categories import CategorySet
from cvkit.core.geometry import voc_to_box
from cvkit.core.image_sizes import read_sample_size
from cvkit.core.model import Annotation, Dataset, Sample, Shard
from cvkit.core.report import Report
from cvkit.core.shards import folder_shards, read_here, shards_of
from cvkit.errors import CvkitError, InvalidInputError
from cvkit.formats.imagenet.common import (
    build_categories,
    is_wnid,
    parse_bool,
    read_synset_file,
    walk_images,
    wnid_dirs,
)

MAPPING = "LOC_synset_mapping.txt"
DATA = Path("ILSVRC/Data/CLS-LOC")
IMAGE_SETS = Path("ILSVRC/ImageSets/CLS-LOC")
SET_FILES = {"train": "train_cls.txt", "val": "val.txt", "test": "test.txt"}
READ_OPTIONS = ("sizes",)


def detect(path: Path) -> str | None:
    if (
        path.is_dir()
        and (path / MAPPING).is_file()
        and ((path / DATA).is_dir() or any(path.glob("LOC_*_solution.csv")))
    ):
        return f"{MAPPING} with ILSVRC/Data/CLS-LOC or LOC_*_solution.csv"
    return None


def parse_prediction(text: str, file: Path, location: str) -> list[Annotation]:
    """``"wnid xmin ymin xmax ymax wnid ..."`` -> boxes (VOC 1-based values)."""
    tokens = text.split()
    if len(tokens) % 5:
        raise InvalidInputError(
            f"PredictionString must repeat 'wnid xmin ymin xmax ymax' ({len(tokens)} tokens)",
            file=file,
            location=location,
        )
    objects = []
    for i in range(0, len(tokens), 5):
        wnid = tokens[i]
        if not is_wnid(wnid):
            raise InvalidInputError(f"expected a WNID, got {wnid!r}", file=file, location=location)
        try:
            coords = [float(v) for v in tokens[i + 1 : i + 5]]
        except ValueError:
            values = " ".join(tokens[i + 1 : i + 5])
            raise InvalidInputError(
                f"box of {wnid} has a value that is not a number: {values}", file=file, location=location
            ) from None
        objects.append(
            Annotation(wnid, validate_values.box(voc_to_box(*coords), file, location))
        )  # finite, not inverted
    return objects


def read_solution(path: Path) -> dict[str, tuple[str, int]]:
    """ImageId -> (PredictionString, line) without parsing the boxes yet (544k train rows stay small)."""
    rows: dict[str, tuple[str, int]] = {}
    if not path.is_file():
        return rows
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None or [h.strip() for h in header[:2]] != ["ImageId", "PredictionString"]:
            raise InvalidInputError(
                f"expected the header 'ImageId,PredictionString', got {','.join(header or [])!r}",
                file=path,
                location="line 1",
            )
        for number, row in enumerate(reader, start=2):
            if not row:
                continue
            if len(row) != 2:
                raise InvalidInputError(
                    f"expected 2 fields (ImageId,PredictionString), got {len(row)}",
                    file=path,
                    location=f"line {number}",
                )
            rows[row[0].strip()] = (row[1], number)
    return rows


def _listed(path: Path, split: str) -> list[str]:
    """Relative image paths of ``split`` from ImageSets (first column, ``.JPEG`` added)."""
    listing = path / IMAGE_SETS / SET_FILES[split]
    if not listing.is_file():
        return []
    return [line.split()[0] + ".JPEG" for line in listing.read_text().splitlines() if line.strip()]


def _split_items(path: Path, split: str) -> list[tuple[str, str, bool]]:
    """``(split, relative path, whether it is a class folder to walk)`` of one split: train's WNID folders (walked
    where the shard is read), the images of val and test, else the images ImageSets lists."""
    folder = path / DATA / split
    if not folder.is_dir():
        return [(split, rel, False) for rel in _listed(path, split)]
    if split == "train":
        return [(split, wnid, True) for wnid in wnid_dirs(folder)]
    return [(split, rel, False) for rel in walk_images(str(folder), "")]


def read(path: Path, report: Report, **options: Any) -> Dataset:
    path = Path(path)
    if not (path / MAPPING).is_file():
        raise CvkitError(f"missing {MAPPING} (the Kaggle ILSVRC layout's class list)", file=path)
    sizes = parse_bool(options.get("sizes", False), "sizes")
    synsets = read_synset_file(path / MAPPING)
    categories: CategorySet = build_categories([], None, synsets)
    solutions = {
        split: (path / f"LOC_{split}_solution.csv", read_solution(path / f"LOC_{split}_solution.csv"))
        for split in ("train", "val")
    }
    root = path / DATA

    def shards(_workers: int) -> list[Shard]:
        found: list[Shard] = []
        source = (root, solutions, sizes)
        for split in ("train", "val", "test"):
            items = _split_items(path, split)
            found += (folder_shards if items and items[0][2] else shards_of)(_read_run, source, items)
        return found

    return Dataset(
        read_here(shards, categories, report), categories, root=root, source_format="imagenet_kaggle", shards=shards
    )


def _read_run(
    source: tuple[Path, dict[str, tuple[Path, dict[str, tuple[str, int]]]], bool],
    run: list[tuple[str, str, bool]],
    categories: CategorySet,
    report: Report,
) -> Iterator[Sample]:
    """A shard's samples (:class:`~cvkit.core.model.Shard`): images and class folders (walked here) with their
    solution rows parsed here."""
    root, solutions, sizes = source
    for split, item, folder in run:
        csv_path, rows = solutions.get(split, (None, {}))
        for rel in walk_images(f"{root}/{split}/{item}", item) if folder else (item,):
            sample = Sample(f"{split}/{rel}", split=split)
            stem = rel.rsplit("/", 1)[-1].rsplit(".", 1)[0]
            if split == "train":
                sample.labels = [rel.split("/", 1)[0]]
            found = rows.get(stem) if rows else None
            if found is not None:
                try:
                    sample.objects = parse_prediction(found[0], csv_path, f"line {found[1]}")
                except InvalidInputError as err:
                    report.invalid(err)
                if split != "train":
                    sample.labels = sorted({o.label for o in sample.objects})
            for label in sample.labels:
                categories.ensure(label)
            for obj in sample.objects:
                categories.ensure(obj.label)
            if sizes:
                read_sample_size(sample, root / sample.path, report)
            report.count_read(split, len(sample.objects))
            yield sample
