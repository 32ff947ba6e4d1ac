"""Open Images V6/V7 CSVs (read-only): boxes, human image labels, instance masks, classes and their hierarchy.

Files (in ``annotations/`` or the dataset folder), the subset named by each file's prefix (``oidv6-train`` ->
``train``): ``*-annotations-bbox.csv`` (``XMin,XMax,YMin,YMax`` normalised corners, ``IsOccluded``,
``IsTruncated``, ``IsGroupOf``, ``IsDepiction``, ``IsInside``: 1/0, -1 unknown), ``*-annotations-human-
imagelabels*.csv`` (``Confidence`` 1 = present, 0 = verified absent), ``*-annotations-object-segmentation.csv``
with its mask PNGs (``masks/<subset>/``), a class list and ``bbox_labels_600_hierarchy.json`` (the dataset's
hierarchy, see ``_hierarchy.py``). Images are ``images/<subset>/<ImageID>.<ext>`` (datumaro) or
``<subset>/<ImageID>.<ext>`` (Open Images' downloader); their size comes from ``images.meta`` (``id height
width``) or the image header. Class names are MIDs (``/m/01g317``) with the display name beside them, as ImageNet's
are WNIDs. The CSVs are read as columns (``_columns.py``), so a 2 GB box file needs the memory of its columns.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cvkit.core.categories import Category, CategorySet
from cvkit.core.imageinfo import IMAGE_EXTENSIONS
from cvkit.core.model import Dataset, Sample, Shard
from cvkit.core.progress import track
from cvkit.core.report import Report
from cvkit.core.shards import shards_of
from cvkit.errors import InvalidInputError
from cvkit.io import folders_in

from ._columns import Table, read_table, subset_image_ids
from ._hierarchy import HIERARCHY_FILE, class_list_beside, load_tree, read_class_descriptions
from ._objects import Sizes, box_objects, image_labels, mask_objects

__all__ = ["detect", "read"]

KINDS = {
    "bbox": re.compile(r"^(?P<subset>.+)-annotations-bbox\.csv$"),
    "labels": re.compile(r"^(?P<subset>.+)-annotations-human-imagelabels(?P<boxable>-boxable)?\.csv$"),
    "masks": re.compile(r"^(?P<subset>.+)-annotations-object-segmentation\.csv$"),
}
BOX_NUMBERS = {
    "XMin": "float64",
    "XMax": "float64",
    "YMin": "float64",
    "YMax": "float64",
    "Confidence": "float64",
    "IsOccluded": "int8",
    "IsTruncated": "int8",
    "IsGroupOf": "int8",
    "IsDepiction": "int8",
    "IsInside": "int8",
}
MASK_NUMBERS = {
    "BoxXMin": "float64",
    "BoxXMax": "float64",
    "BoxYMin": "float64",
    "BoxYMax": "float64",
    "PredictedIoU": "float64",
}
ROTATION_FILE = "image_ids_and_rotation.csv"


def _annotation_folder(path: Path) -> Path:
    return path / "annotations" if (path / "annotations").is_dir() else path


def _subset(prefix: str) -> str:
    return re.sub(r"^oidv\d+-", "", prefix)


def _csv_files(folder: Path) -> dict[str, dict[str, Path]]:
    """kind -> subset -> file; of a subset's two human label lists the full one (it holds the boxable one)."""
    found: dict[str, dict[str, Path]] = {kind: {} for kind in KINDS}
    for file in sorted(folder.glob("*.csv")):
        for kind, pattern in KINDS.items():
            match = pattern.match(file.name)
            if match:
                subset = _subset(match.group("subset"))
                if subset not in found[kind] or (kind == "labels" and not match.groupdict().get("boxable")):
                    found[kind][subset] = file
    return found


def detect(path: Path) -> str | None:
    """A folder (or its ``annotations/``) with Open Images annotation CSVs, or its class list and hierarchy."""
    if not path.is_dir():
        return None
    folder = _annotation_folder(path)
    files = _csv_files(folder)
    named = [f.name for kind in files.values() for f in kind.values()]
    if named:
        return f"Open Images annotation CSVs ({', '.join(named[:3])})"
    if (folder / HIERARCHY_FILE).is_file() and class_list_beside(folder) is not None:
        return f"Open Images class list and {HIERARCHY_FILE}"
    return None


def _categories(folder: Path) -> tuple[CategorySet, Path | None]:
    listing = class_list_beside(folder)
    categories = CategorySet()
    for mid, display in read_class_descriptions(listing) if listing else ():
        if mid not in categories:
            categories.add(Category(len(categories) + 1, mid, display_name=display or None))
    return categories, listing


def _image_sizes(folder: Path) -> dict[str, tuple[int, int]]:
    """datumaro's ``images.meta``: ``ImageID height width`` a line, ``#`` comments."""
    sizes: dict[str, tuple[int, int]] = {}
    meta = folder / "images.meta"
    if not meta.is_file():
        return sizes
    for number, line in enumerate(meta.read_text(encoding="utf-8").splitlines(), start=1):
        fields = line.split("#", 1)[0].split()
        if not fields:
            continue
        if len(fields) != 3 or not fields[1].isdigit() or not fields[2].isdigit():
            raise InvalidInputError("expected 'ImageID height width'", file=meta, location=f"line {number}")
        sizes[fields[0]] = (int(fields[2]), int(fields[1]))
    return sizes


class _Reader:
    """Streams the samples of every subset, one subset's columns in memory at a time."""

    def __init__(self, root: Path, folder: Path, categories: CategorySet, report: Report):
        self.root, self.folder, self.categories, self.report = root, folder, categories, report
        self.files = _csv_files(folder)
        self.sizes = _image_sizes(folder)
        self.listed = self._rotation_list()

    def _rotation_list(self) -> dict[str, list[str]]:
        """Subset -> ImageIDs of ``image_ids_and_rotation.csv`` (images without annotations are samples too)."""
        file = self.folder / ROTATION_FILE
        if not file.is_file():
            return {}
        table = read_table(file, {}, ("Subset",), self.report)
        codes, names = table.columns["Subset"]
        ids = table.image_ids.to_pylist()
        out: dict[str, list[str]] = {}
        for code, image in zip(codes.tolist(), table.image_codes.tolist(), strict=True):
            out.setdefault(names[code], []).append(ids[image])
        return out

    def subsets(self) -> list[str]:
        names = [*self.listed, *(s for kind in self.files.values() for s in kind)]
        names += [
            n
            for base in (self.root / "images", self.root)
            if base.is_dir()
            for n in sorted(folders_in(base))
            if n in ("train", "validation", "test") or (base.name == "images" and base != self.root)
        ]
        return list(dict.fromkeys(names))

    def image_folder(self, subset: str) -> tuple[Path | None, dict[str, str]]:
        for folder in (self.root / "images" / subset, self.root / subset):
            if folder.is_dir():
                return folder, {p.stem: p.name for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS}
        return None, {}

    def source(self, subset: str) -> _Subset:
        """What the runs of one subset share: its tables (read, grouped by image) and where its files are."""
        tables: dict[str, Table] = {}
        if subset in self.files["bbox"]:
            tables["bbox"] = read_table(
                self.files["bbox"][subset],
                BOX_NUMBERS,
                ("LabelName", "Source"),
                self.report,
                optional=("Confidence", "Source", "IsOccluded", "IsTruncated", "IsGroupOf", "IsDepiction", "IsInside"),
            )
        if subset in self.files["labels"]:
            tables["labels"] = read_table(
                self.files["labels"][subset], {"Confidence": "float64"}, ("LabelName",), self.report
            )
        if subset in self.files["masks"]:
            tables["masks"] = read_table(
                self.files["masks"][subset],
                MASK_NUMBERS,
                ("MaskPath", "LabelName", "BoxID"),
                self.report,
                optional=("PredictedIoU", "BoxID"),
            )
        folder, images = self.image_folder(subset)
        ids = subset_image_ids(list(tables.values()), [*images, *self.listed.get(subset, [])])
        mask_folder = next(
            (
                f
                for f in (self.root / "masks" / subset, self.root / "masks", self.root / f"{subset}-masks")
                if f.is_dir()
            ),
            self.root,
        )
        return _Subset(self.root, subset, tables, ids, folder, images, self.sizes, mask_folder)

    def sources(self) -> Iterator[_Subset]:
        """Each subset's source, one at a time (iterating holds one subset's columns)."""
        for subset in self.subsets():
            yield self.source(subset)


@dataclass(slots=True)
class _Subset:
    """One subset's columns and files: the source its shards share (picklable: numpy arrays, a pyarrow array, plain
    values)."""

    root: Path
    subset: str
    tables: dict[str, Table]
    ids: Any  # pyarrow array of the subset's ImageIDs, sorted: image number -> ImageID
    folder: Path | None  # the subset's image folder
    images: dict[str, str]  # ImageID -> image file name in ``folder``
    sizes: dict[str, tuple[int, int]]  # images.meta
    mask_folder: Path


def _read_run(source: _Subset, run: range, categories: CategorySet, report: Report) -> Iterator[Sample]:
    """A shard's samples (:class:`~cvkit.core.model.Shard`): the images numbered ``run`` of one subset, whose rows
    each table finds through its grouping."""
    root, subset, tables, folder = source.root, source.subset, source.tables, source.folder
    sizes = Sizes(source.sizes, report)
    for number in run:
        image_id = source.ids[number].as_py()
        name = source.images.get(image_id)
        image = folder / name if folder is not None and name else None
        relative = image.relative_to(root).as_posix() if image else f"images/{subset}/{image_id}.jpg"
        sample = Sample(relative, split=subset, id=image_id)
        sample.width, sample.height = sizes.of(image_id, image)
        try:
            if "bbox" in tables:
                sample.objects.extend(
                    box_objects(tables["bbox"], tables["bbox"].rows_of(number), sample, categories, report)
                )
            if "masks" in tables:
                masks = tables["masks"]
                sample.objects.extend(
                    mask_objects(masks, masks.rows_of(number), sample, source.mask_folder, categories, report)
                )
            if "labels" in tables:
                image_labels(tables["labels"], tables["labels"].rows_of(number), sample, categories)
        except InvalidInputError as err:
            report.invalid(err)
            continue
        report.count_read(subset, len(sample.objects))
        yield sample


def read(path: Path, report: Report) -> Dataset:
    """Read an Open Images folder (CSVs in ``annotations/`` or beside ``images/``); samples stream subset by subset."""
    folder = _annotation_folder(path)
    categories, listing = _categories(folder)
    reader = _Reader(path, folder, categories, report)
    if listing is None and not any(reader.files.values()):
        raise InvalidInputError("no Open Images CSVs (*-annotations-bbox.csv, class descriptions) here", file=path)
    hierarchy, info = None, {}
    tree = folder / HIERARCHY_FILE
    if tree.is_file():
        hierarchy, parts = load_tree(tree, {c.name: c.display_name for c in categories if c.display_name})
        info["open_images"] = {"parts": [list(pair) for pair in parts]}  # "is part of" pairs, kept apart from is-a

    def shards(workers: int) -> list[Shard] | None:
        if workers <= 1:  # iterated: one subset's columns in memory at a time
            return None
        return [shard for source in reader.sources() for shard in shards_of(_read_run, source, range(len(source.ids)))]

    def samples() -> Iterator[Sample]:
        for source in reader.sources():  # the shards' read function, a subset's columns at a time
            yield from _read_run(source, range(len(source.ids)), categories, report)

    return Dataset(
        track(samples(), "reading Open Images"),
        categories,
        hierarchy,
        root=path,
        source_format="open_images",
        info=info,
        shards=shards,
    )
