"""Class-per-folder image trees, as torchvision's ``ImageFolder`` reads them.

Reading: ``ROOT/<class>/**/<image>``; every image under a class folder, at any depth, belongs
to that class (torchvision walks class folders recursively). When top-level folders are split
names (Hugging Face's keywords: ``train``/``training``, ``val``/``valid``/``validation``/``dev``,
``test``/``testing``/``eval``/``evaluation``, any case) holding class folders, each gives its
images' split (the folder name, lower-cased); a split folder of loose images beside them (fastai's
unlabelled ``test/``) is a split whose images have no class. Images lying at the root (or at a
split's root) have no class: they are left out with a warning and a "not represented" line, or kept
unlabelled with ``-r stray=keep`` (``stray=error`` makes them an error). A root whose folders are all
split names holding only loose images is no class tree (its labels are elsewhere). Classes are listed in sorted
order, ids 1..N (id - 1 is torchvision's class index). Widths/heights are read from the
headers only with ``-r sizes=true``.

Writing: ``DST/[<split>/]<label>/<file name>``, one folder per class, a split level when
samples have splits. Images are hard-linked (falling back to a copy), copied or symlinked
(``--images``); ``reference`` is not possible because the folders *are* the labels. Samples
that are not exactly one label (several labels, none, or objects only) cannot be placed and
are recorded as not represented.
"""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cvkit.core.categories import Category, CategorySet
from cvkit.core.image_sizes import read_sample_size
from cvkit.core.imageinfo import IMAGE_EXTENSIONS
from cvkit.core.model import Dataset, Sample, Shard
from cvkit.core.paths import inside, split_name
from cvkit.core.report import Report
from cvkit.core.shards import Pipeline, folder_shards, read_here, shards_of
from cvkit.core.splits import SPLIT_KEYWORDS
from cvkit.errors import CvkitError, InvalidInputError
from cvkit.io import place_image, require_utf8_name

_SUFFIXES = frozenset(IMAGE_EXTENSIONS)
READ_OPTIONS = ("sizes", "stray", "split")
ANNOTATION_SUFFIXES = (".xml", ".json", ".txt", ".csv", ".yaml", ".yml")
WRITE_OPTIONS = ("images", "workers")
#: folders named like ImageNet WNIDs go to the imagenet reader, which knows the devkit, boxes and lemmas
_WNID = re.compile(r"n\d{8}")


def _is_image(name: str) -> bool:
    dot = name.rfind(".")
    return dot > 0 and name[dot:].lower() in _SUFFIXES


def _listing(folder: str) -> tuple[list[str], list[str]]:
    """Sorted (sub-folder names, image names) of one folder, from one ``scandir``."""
    dirs, images = [], []
    with os.scandir(folder) as it:
        for entry in it:
            if entry.name.startswith("."):
                continue
            if entry.is_dir():
                dirs.append(require_utf8_name(folder, entry.name))
            elif _is_image(entry.name):
                images.append(require_utf8_name(folder, entry.name))
    return sorted(dirs), sorted(images)


def _walk(folder: str, rel: str) -> Iterator[str]:
    """Images under ``folder`` at any depth (files first, then sorted sub-folders)."""
    dirs, images = _listing(folder)
    for name in images:
        yield f"{rel}/{name}"
    for name in dirs:
        yield from _walk(f"{folder}/{name}", f"{rel}/{name}")


def _is_wnid(name: str) -> bool:
    return _WNID.fullmatch(name) is not None


def _layout(path: Path) -> tuple[list[tuple[str | None, str]], list[str]]:
    """``(split, relative folder)`` pairs holding class folders (or loose images), and the top-level folders ignored.

    A split layout is one where some top-level folders are split names holding sub-folders; split folders
    of loose images beside them are splits too (fastai's unlabelled ``test/``); other top-level folders
    (a devkit, notes) are not classes and are ignored. A root of split folders that all hold loose images
    only is a split layout without classes.
    """
    dirs, _images = _listing(str(path))
    named = {d: _listing(str(path / d)) for d in dirs if d.lower() in SPLIT_KEYWORDS}
    if any(sub for sub, _ in named.values()):
        splits = [d for d, (sub, images) in named.items() if sub or images]
    elif named and len(named) == len(dirs):
        splits = list(named)
    else:
        return [(None, "")], []
    return [(d.lower(), d + "/") for d in splits], [d for d in dirs if d not in splits]


#: files beside class folders that are no annotations: class lists, read-mes, licences
NOT_ANNOTATIONS = frozenset(
    ("classes.txt", "class_names.txt", "labels.txt", "synsets.txt", "readme.txt", "license.txt", "readme.md")
)


def _has_annotation_files(folder: Path, look_at: int = 200) -> bool:
    """Whether ``folder`` holds annotation files (XML, JSON, TXT, CSV, YAML) among its first entries."""
    with os.scandir(folder) as it:
        for count, entry in enumerate(it):
            if count >= look_at:
                break
            name = entry.name.lower()
            if name.endswith(ANNOTATION_SUFFIXES) and name not in NOT_ANNOTATIONS and not entry.is_dir():
                return True
    return False


def detect(path: Path) -> str | None:
    if not path.is_dir():
        return None
    layout, _ignored = _layout(path)
    for _split, rel in layout:
        classes, _ = _listing(str(path / rel)) if (path / rel).is_dir() else ([], [])
        if not classes:
            continue  # a split folder of loose images (an unlabelled test/): the other splits decide
        if all(_is_wnid(c) for c in classes) or classes == ["images"]:
            return None  # WNID folders: the imagenet reader; a lone images/ folder: a list-based layout
        sampled = [path / rel / name for name in classes[:5]]
        if any(_has_annotation_files(folder) for folder in [path / rel, *sampled]):
            return None  # VOC Annotations/, YOLO labels/, LabelMe JSON...: an annotated layout, not classes
        # some class folder must hold images itself: a lone folder with deeper trees (ILSVRC/Data/...) is another layout
        if any(_listing(str(folder))[1] for folder in sampled):
            return "class-per-folder tree" + (" with split folders" if layout[0][0] else "")
    return None


def read(path: Path, report: Report, **options: Any) -> Dataset:
    """Read a class-per-folder tree (see the module docstring)."""
    path = Path(path)
    if not path.is_dir():
        raise CvkitError("an image folder dataset is a folder of class folders", file=path)
    sizes = str(options.get("sizes", False)).lower() in ("true", "1", "yes")
    stray = str(options.get("stray", "skip"))
    if stray not in ("skip", "keep", "error"):
        raise CvkitError(f"option stray must be skip, keep or error (got {stray!r})")
    layout, ignored = _layout(path)
    for name in ignored:
        report.warn(f"folder {name}/ beside the split folders is not a split: ignored")
    classes = sorted({c for _s, rel in layout for c in _listing(str(path / rel))[0]})
    if not classes:
        if any(_listing(str(path / rel))[1] for _s, rel in layout):
            raise CvkitError(
                "no class folders here (expected ROOT/<class>/<image> or ROOT/<split>/<class>/<image>)", file=path
            )
        report.warn(f"{path} holds no class folders and no images: nothing to read")
    categories = CategorySet(Category(i + 1, name) for i, name in enumerate(classes))
    forced_split = options.get("split")

    def shards(_workers: int) -> list[Shard]:
        source, found = (path, sizes), []
        for folders, group in itertools.groupby(_items(path, layout, forced_split, stray, report), _is_folder):
            found += (folder_shards if folders else shards_of)(_read_shard, source, list(group))
        return found

    return Dataset(
        read_here(shards, categories, report), categories, root=path, source_format="imagefolder", shards=shards
    )


#: what a shard reads: a loose image kept unlabelled, or a class folder (walked where the shard is read)
_Item = tuple[str | None, str, str | None]


def _is_folder(item: _Item) -> bool:
    return item[2] is not None


def _items(
    path: Path, layout: list[tuple[str | None, str]], split: str | None, stray: str, report: Report
) -> list[_Item]:
    """Per split folder, its loose images kept (``stray``) and its class folders: ``(split, relative path, label)``.
    Loose images are dealt with here, once, so that the summary names them together."""
    items: list[_Item] = []
    left_out: list[str] = []
    for folder_split, rel in layout:
        class_dirs, strays = _listing(str(path / rel))
        for name in strays:
            if _stray(path, rel + name, report, stray):
                items.append((split or folder_split, rel + name, None))
            elif stray == "skip":
                left_out.append(rel + name)
        items += [(split or folder_split, rel + label, label) for label in class_dirs]
    if left_out:
        more = f" and {len(left_out) - 1} more" if len(left_out) > 1 else ""
        report.warn(
            f"{len(left_out)} image(s) in no class folder left out: {left_out[0]}{more} (-r stray=keep keeps "
            "them unlabelled)"
        )
    return items


def _read_shard(
    source: tuple[Path, bool], items: list[_Item], _categories: CategorySet, report: Report
) -> Iterator[Sample]:
    """A shard's samples (:class:`~cvkit.core.model.Shard`): loose images and class folders, walked here."""
    path, sizes = source
    for split, rel, label in items:
        if label is None:
            yield _finish(Sample(rel, split=split), path, report, sizes)
            continue
        for image in _walk(str(path / rel), rel):
            yield _finish(Sample(image, split=split, labels=[label]), path, report, sizes)


def _stray(root: Path, rel: str, report: Report, mode: str) -> bool:
    """Deal with an image outside every class folder; True when it is kept (unlabelled)."""
    where = rel.rsplit("/", 1)[0] + "/" if "/" in rel else "the root"
    if mode == "error":
        report.invalid(InvalidInputError(f"image at {where} is in no class folder", file=root / rel))
        return False
    if mode == "keep":
        report.warn("images outside every class folder were kept unlabelled (stray=keep)")
        return True
    report.lose(
        "image outside every class folder",
        "an image folder's label is its class folder; -r stray=keep keeps it unlabelled",
    )
    return False


def _finish(sample: Sample, root: Path, report: Report, sizes: bool) -> Sample:
    if sizes:
        read_sample_size(sample, root / sample.path, report)
    report.count_read(sample.split, 0)
    return sample


def _safe_part(name: str) -> str:
    """A label usable as one folder name: path separators (which would nest folders) and control characters become
    ``_``. Class names are rewritten, not refused, as real ones hold slashes (``AC/DC``); split names are refused
    (:func:`cvkit.core.paths.split_name`)."""
    cleaned = "".join("_" if c in "/\\" or ord(c) < 32 or ord(c) == 127 else c for c in name)
    return cleaned if cleaned not in ("", ".", "..") else f"_{cleaned}_"


def encode_class(report: Report, sample: Sample) -> tuple[str | None, str, str | None]:
    """The sample's split, path and its one class (None: none or several, which an image folder cannot hold); what
    it loses goes to ``report`` (runs where the shard is read)."""
    labels = list(dict.fromkeys(sample.labels))
    if len(labels) != 1:
        why = "several labels" if labels else ("objects only" if sample.objects else "no label")
        report.lose(f"image with {why}", "an image folder holds exactly one class per image")
        return sample.split, sample.path, None
    if sample.objects:
        report.lose("object annotations", "an image folder holds image-level classes only", len(sample.objects))
    report.lose_image_attributes(sample.attributes, "an image folder")
    return sample.split, sample.path, labels[0]


def write(dataset: Dataset, path: Path, report: Report, **options: Any) -> None:
    """Write one folder per class (per split when samples have splits), images linked or copied. ``workers``:
    processes that read a sharded source; folders and images are placed here, in order."""
    mode = options.get("images") or "hardlink"
    if mode == "reference":
        raise CvkitError("an image folder holds the images themselves: use --images hardlink, copy or symlink")
    used: set[str] = set()
    with_split = False  # becomes True with the first sample that has a split; earlier images then move under train/
    pipeline = Pipeline(dataset, report, options.get("workers"))
    for split, sample_path, label in pipeline.samples(encode_class, pipeline.report, "writing class folders"):
        if split and not with_split:
            with_split = True
            used = _move_under_train(path, used, report)
        if label is None:
            continue
        if with_split and not split:
            split = "train"
            report.lose(
                "image without a split", "once any image has a split folder every image needs one; written under train/"
            )
        folder = (f"{split_name(split)}/" if with_split else "") + _safe_part(label)
        target = _unique(f"{folder}/{Path(sample_path).name}", used)
        place_image(Sample(sample_path).resolve(dataset.root), inside(path, target), mode)
        report.count_written(split, 0)
    report.written.categories = len({Path(p).parent.name for p in used})


def _move_under_train(root: Path, placed: set[str], report: Report) -> set[str]:
    """A split showed up after images without one were placed: they move to ``train/`` (what they would have
    got had the split been known from the start; the writer streams, so it was not)."""
    for rel in sorted(placed):
        target = root / "train" / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(root / rel, target)
    if placed:
        report.lose(
            "image without a split",
            "once any image has a split folder every image needs one; written under train/",
            len(placed),
        )
        report.written.splits["-"] -= len(placed)
        report.written.splits["train"] += len(placed)
        if not report.written.splits["-"]:
            del report.written.splits["-"]
    return {f"train/{rel}" for rel in placed}


def _unique(rel: str, used: set[str]) -> str:
    """``rel``, or ``stem-2.ext``... when two images of a class share a file name."""
    candidate, number = rel, 1
    while candidate in used:
        number += 1
        stem, dot, ext = rel.rpartition(".")
        candidate = f"{stem}-{number}.{ext}" if dot else f"{rel}-{number}"
    used.add(candidate)
    return candidate
