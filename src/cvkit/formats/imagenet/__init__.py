"""ImageNet ILSVRC2012 as published: WNID class folders, the flat val folder with the devkit, box XMLs.

Layouts read (``path`` is a folder):

- a train folder ``nXXXXXXXX/*.JPEG`` (label = the folder's WNID; sub-folders belong to the class);
- a root with ``train/``, ``val/``, ``test/`` (or timm's and Hugging Face's ``validation/``, ``valid/``,
  ``training/``...: :data:`~cvkit.core.splits.SPLIT_KEYWORDS`): each either WNID folders or flat images;
- a flat val folder ``ILSVRC2012_val_00000001.JPEG ...`` labelled by
  ``ILSVRC2012_validation_ground_truth.txt`` (line i = ILSVRC2012_ID of image i), which needs the
  devkit's ``data/meta.mat`` to turn ids into WNIDs (ID 1 is n02119789, sorted index 278); both are also
  read from inside ``ILSVRC2012_devkit_t12.tar.gz``, which torchvision's ``ImageNet(root)`` keeps;
- a folder of box XMLs alone (one sample per XML, the image assumed beside it as ``STEM.JPEG``).

Box XMLs (``bbox/``, ``Annotations/`` or ``-r boxes=DIR``) are matched to images by file stem.
Widths/heights stay ``None`` unless ``sizes=true`` (classification needs none, and reading
1.28M headers costs minutes) or a box XML gives them. The devkit's synset tree becomes the
dataset hierarchy (every parent kept). Package siblings: ``kaggle`` (the Kaggle ILSVRC layout)
and ``in21k`` (ImageNet-21k folders and per-synset tars), registered as their own formats.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from cvkit.core.categories import CategorySet
from cvkit.core.image_sizes import present_image, read_sample_size, with_sizes
from cvkit.core.model import Dataset, Sample, Shard
from cvkit.core.progress import track
from cvkit.core.report import Report
from cvkit.core.shards import folder_shards, read_here, shards_of
from cvkit.core.splits import SPLIT_KEYWORDS, TEST_PLACE, split_folders, split_keyword
from cvkit.errors import CvkitError, InvalidInputError
from cvkit.formats.imagenet.common import (
    Devkit,
    SynsetList,
    attach_boxes,
    build_categories,
    build_hierarchy,
    devkit_member,
    find_devkit,
    find_synset_file,
    index_box_xmls,
    is_archive,
    is_image_name,
    is_wnid,
    load_devkit,
    parse_bool,
    parse_box_xml,
    read_synset_file,
    walk_images,
    wnid_dirs,
)

GROUND_TRUTH = "ILSVRC2012_validation_ground_truth.txt"
BOX_FOLDERS = ("bbox", "boxes", "Annotations")
READ_OPTIONS = ("devkit", "ground_truth", "boxes", "synsets", "sizes", "split")


@dataclass
class Part:
    """One folder of the layout: its split, where it is, and whether it holds WNID folders or flat images."""

    split: str | None
    folder: Path
    rel: str
    classes: list[str]


def _flat_images(folder: Path) -> list[str]:
    with os.scandir(folder) as it:
        return sorted(e.name for e in it if e.name[0] != "." and not e.is_dir() and is_image_name(e.name))


def _split_of(folder: Path, default: str | None) -> str | None:
    return split_keyword(folder.name) or default


def find_parts(path: Path, split: str | None) -> list[Part]:
    """The split folders of an ILSVRC layout rooted at ``path`` (empty when none)."""
    classes = wnid_dirs(path)
    if classes:
        return [Part(split or _split_of(path, "train"), path, "", classes)]
    parts = []
    for name in split_folders(path):
        sub = path / name
        parts.append(Part(split or name.lower(), sub, name + "/", wnid_dirs(sub)))
    if parts:
        return parts
    if path.is_dir() and any(is_image_name(n) for n in os.listdir(path)):
        return [
            Part(
                split
                or _split_of(path, "val" if any(n.startswith("ILSVRC2012_val_") for n in os.listdir(path)) else None),
                path,
                "",
                [],
            )
        ]
    return []


def detect(path: Path) -> str | None:
    if not path.is_dir() or (path / "LOC_synset_mapping.txt").exists() or (path / "ILSVRC" / "Data").is_dir():
        return None
    if any(n.endswith(".tar") and is_wnid(n[:-4]) for n in os.listdir(path)):
        return None  # per-synset tars: imagenet21k
    for part in find_parts(path, None):
        if part.classes:
            return f"WNID class folders ({part.classes[0]}/...) in {part.folder.name}/"
        if any(n.startswith("ILSVRC2012_") for n in os.listdir(part.folder)):
            return "ILSVRC2012_* images in a flat folder"
    # a folder of box XMLs alone is also plain VOC: the voc reader claims it, --format imagenet adds lemmas
    # and the devkit
    return None


def _devkit(path: Path, option: Any) -> Devkit | None:
    if option:
        where = Path(option)
        found = where if where.is_file() else find_devkit(where)
        if found is None:
            raise CvkitError("no devkit meta.mat found there (looked for data/meta.mat)", file=where)
        return load_devkit(found)
    found = find_devkit(path, path.parent)
    return load_devkit(found) if found else None


def _synsets(path: Path, option: Any, devkit: Devkit | None) -> SynsetList | None:
    if option:
        return read_synset_file(Path(option))
    folders = [path, path.parent] + ([devkit.path.parent] if devkit else [])
    found = find_synset_file(*folders)
    return read_synset_file(found) if found else None


def read_ground_truth(path: Path, devkit: Devkit | None, text: str | None = None) -> list[str]:
    """WNIDs of val images 1..N from the devkit's ground-truth file (ILSVRC2012_IDs, one a line); ``text`` when
    read from inside the devkit archive ``path``."""
    if devkit is None:
        raise CvkitError(
            "the ground truth holds ILSVRC2012_IDs, which only the devkit's data/meta.mat turns into WNIDs; "
            "pass -r devkit=PATH (the ILSVRC2012_devkit_t12 folder, its meta.mat or its .tar.gz)",
            file=path,
        )
    where = f"{GROUND_TRUTH} line " if text is not None else "line "
    wnids = []
    for number, line in enumerate((path.read_text() if text is None else text).splitlines(), start=1):
        value = line.strip()
        try:
            wnids.append(devkit.wnid_by_id[int(value)])
        except (ValueError, KeyError):
            raise InvalidInputError(
                f"expected an ILSVRC2012_ID listed in {devkit.path.name}, got {value!r}",
                file=path,
                location=f"{where}{number}",
            ) from None
    return wnids


def _ground_truth(path: Path, option: Any, devkit: Devkit | None, parts: list[Part]) -> list[str] | None:
    if option:
        where = Path(option)
        if not where.is_file():
            raise CvkitError("ground-truth file not found", file=where)
        return read_ground_truth(where, devkit)
    if not any(not p.classes for p in parts):
        return None
    places = [path, path.parent] + ([devkit.path.parent] if devkit else [])
    for folder in places:
        if (folder / GROUND_TRUTH).is_file():
            return read_ground_truth(folder / GROUND_TRUTH, devkit)
    if devkit is not None and is_archive(devkit.path):  # the devkit as downloaded, never unpacked
        data = devkit_member(devkit.path, GROUND_TRUTH, required=False)
        if data is not None:
            return read_ground_truth(devkit.path, devkit, data.decode("ascii", "replace"))
    return None


def _boxes(path: Path, option: Any) -> dict[str, Path]:
    if option:
        found: dict[str, Path] = {}
        for item in str(option).split(","):
            folder = Path(item)
            if not folder.is_dir():
                raise CvkitError("box XML folder not found", file=folder)
            found.update(index_box_xmls(folder))
        return found
    found = {}
    for name in BOX_FOLDERS:
        if (path / name).is_dir():
            found.update(index_box_xmls(path / name))
    return found


def _val_label(name: str, truth: list[str] | None, folder: Path) -> str | None:
    """The WNID of ``ILSVRC2012_val_00000042.JPEG`` from the ground truth (None when unknown)."""
    if truth is None or not name.startswith("ILSVRC2012_val_"):
        return None
    stem = name.rsplit(".", 1)[0]
    try:
        number = int(stem[-8:])
    except ValueError:
        return None
    if not 1 <= number <= len(truth):
        raise InvalidInputError(
            f"image number {number} is beyond the ground truth's {len(truth)} lines", file=folder / name
        )
    return truth[number - 1]


def read(path: Path, report: Report, **options: Any) -> Dataset:
    """Read an ILSVRC2012 layout (see the module docstring for layouts and options)."""
    path = Path(path)
    if not path.is_dir():
        raise CvkitError(
            "an ImageNet dataset is a folder (train/ with WNID folders, a val folder, or box XMLs)", file=path
        )
    sizes = parse_bool(options.get("sizes", False), "sizes")
    devkit = _devkit(path, options.get("devkit"))
    synsets = _synsets(path, options.get("synsets"), devkit)
    parts = find_parts(path, options.get("split"))
    boxes = _boxes(path, options.get("boxes"))
    if not parts:
        xmls = sorted(p for p in path.iterdir() if p.suffix.lower() == ".xml")
        if not xmls:
            raise CvkitError(
                "no ImageNet layout here: expected WNID folders (n01440764/...), train/ val/ test/, "
                "a flat folder of ILSVRC2012_val_* images, or box XMLs",
                file=path,
            )
        return _read_box_folder(path, xmls, report, devkit, synsets, sizes)
    truth = _ground_truth(path, options.get("ground_truth"), devkit, parts)
    wnids = sorted({w for p in parts for w in p.classes} | set(truth or []))
    categories = build_categories(wnids, devkit, synsets)
    for part in parts:
        if (
            not part.classes and truth is None and SPLIT_KEYWORDS.get(part.split or "") != TEST_PLACE
        ):  # a test split is unlabelled anyway
            report.warn(
                f"{part.folder.name}/ holds flat images and no {GROUND_TRUTH} was found: its images are unlabelled"
            )

    source: _Source = (path, parts, truth, boxes, sizes)

    def shards(_workers: int) -> list[Shard]:
        found: list[Shard] = []
        for index, part in enumerate(parts):
            if part.classes:
                found += folder_shards(_read_run, source, [(index, wnid) for wnid in part.classes])
            else:
                found += shards_of(_read_run, source, [(index, name) for name in _flat_images(part.folder)])
        return found

    def finish(merged: Report | None) -> None:
        target = merged if merged is not None else report
        used = [key for key in target.tallies if key.startswith(_USED_BOX)]
        for key in used:
            del target.tallies[key]
        unmatched = len(boxes) - len(used)
        if unmatched:
            target.lose("box XML", "no image with its file name in the dataset", unmatched)

    dataset = Dataset(
        track(read_here(shards, categories, report), "reading ImageNet"),
        categories,
        build_hierarchy(devkit),
        root=path,
        source_format="imagenet",
        shards=shards,
    )
    dataset.finishers.append(finish)
    return dataset


#: what the shards of one read share: the root, its split folders, the val ground truth, box XMLs by stem, sizes?
_Source = tuple[Path, list["Part"], list[str] | None, dict[str, Path], bool]
#: the tally (:attr:`~cvkit.core.report.Report.tallies`) of a box XML given to an image: this prefix + its stem
_USED_BOX = "imagenet.box:"


def _read_run(source: _Source, run: list[tuple[int, str]], categories: CategorySet, report: Report) -> Iterator[Sample]:
    """A shard's samples (:class:`~cvkit.core.model.Shard`): ``(part, name)`` items, a class folder walked here (its
    name a WNID) or an image of a flat folder; box XMLs are matched and sizes read here."""
    path, parts, truth, boxes, sizes = source
    tallies = report.tallies
    for index, name in run:
        part = parts[index]
        split = part.split
        if part.classes:
            label: str | None = name
            paths: Iterable[str] = walk_images(f"{part.folder}/{name}", part.rel + name)
        else:
            label, paths = _val_label(name, truth, part.folder), (part.rel + name,)
        for rel in paths:
            sample = Sample(rel, split=split, labels=[label] if label else [])
            if boxes:
                stem = sample.path.rsplit("/", 1)[-1].rsplit(".", 1)[0]
                xml = boxes.get(stem)
                if xml is not None:
                    tallies[_USED_BOX + stem] = 1
                    attach_boxes(sample, xml, report, categories)
            if sizes and sample.width is None:
                read_sample_size(sample, path / sample.path, report)
            report.count_read(sample.split, len(sample.objects))
            yield sample


def _read_box_folder(
    path: Path, xmls: list[Path], report: Report, devkit: Devkit | None, synsets: SynsetList | None, sizes: bool
) -> Dataset:
    """A folder of box XMLs alone: one sample per XML, the image beside it as ``<filename>.JPEG``."""
    categories: CategorySet = build_categories([], devkit, synsets)

    def samples() -> Iterator[Sample]:
        for xml in xmls:
            try:
                filename, width, height, objects = parse_box_xml(xml)
            except InvalidInputError as err:
                report.invalid(err)
                continue
            name = filename if is_image_name(filename) else filename + ".JPEG"
            labels = sorted({o.label for o in objects})
            for label in labels:
                categories.ensure(label)
            sample = Sample(name, width, height, labels=labels, objects=objects)
            report.count_read(None, len(objects))
            yield sample

    stream = with_sizes(samples(), partial(present_image, path), report) if sizes else samples()
    return Dataset(stream, categories, build_hierarchy(devkit), root=path, source_format="imagenet")
