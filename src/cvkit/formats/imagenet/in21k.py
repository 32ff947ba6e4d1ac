"""ImageNet-21k (fall 2011 / winter 2021 releases): one folder or one tar per synset.

``path`` holds ``n01234567/`` folders and/or ``n01234567.tar`` archives (as downloaded from
image-net.org). Tars are never extracted: only their member headers are listed
(``tarfile`` seeks over the data), and images are referenced as::

    n01234567.tar#n01234567_1.JPEG

which :func:`cvkit.core.imagefile.open_image_bytes` opens (docs/formats.md).

ImageNet-21K-P (image-net.org's ``imagenet21k_resized``, made by Alibaba-MIIL's
``processing_script.sh``) splits the synset folders into ``imagenet21k_train/`` and
``imagenet21k_val/``: folders named ``<anything>_train`` / ``_val`` / ``_test`` (or plain
``train/``...) holding synset folders are read as those splits; other folders of synsets beside
them (``imagenet21k_small_classes/``, the classes the script set aside) are reported and skipped.

Category ids are the 1-based position in sorted-WNID order; display names come from a
``words.txt`` / ``imagenet_synset_to_lemma.txt`` beside the data or ``-r synsets=PATH``.
"""

from __future__ import annotations

import os
import re
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cvkit.core.categories import CategorySet
from cvkit.core.imagefile import member_path
from cvkit.core.model import Dataset, Sample, Shard
from cvkit.core.report import Report
from cvkit.core.shards import folder_shards, read_here
from cvkit.errors import CvkitError, InvalidInputError
from cvkit.formats.imagenet.common import (
    build_categories,
    find_synset_file,
    is_image_name,
    is_wnid,
    read_synset_file,
    walk_images,
    wnid_dirs,
)

READ_OPTIONS = ("synsets", "split")
#: split folders of ImageNet-21K-P (imagenet21k_train, imagenet21k_val) and plain train/, val/...
SPLIT_FOLDER = re.compile(r"(?:.*[_-])?(train|training|val|valid|validation|test|testing)", re.IGNORECASE)


def _sources(path: Path) -> list[tuple[str, str]]:
    """Sorted ``(wnid, entry name)`` for every synset folder or ``.tar`` in ``path``."""
    found = []
    with os.scandir(path) as it:
        for entry in it:
            name = entry.name
            if entry.is_dir() and is_wnid(name):
                found.append((name, name))
            elif name.lower().endswith(".tar") and is_wnid(name[:-4]):
                found.append((name[:-4], name))
    return sorted(found)


def _split_folders(path: Path) -> tuple[list[tuple[str, str, list[tuple[str, str]]]], list[str]]:
    """``(split, folder name, its synset sources)`` of the split folders holding synsets, and the other folders of
    synsets (skipped)."""
    splits, others = [], []
    with os.scandir(path) as it:
        folders = sorted(e.name for e in it if e.is_dir() and not is_wnid(e.name) and e.name[0] != ".")
    for name in folders:
        sources = _sources(path / name)  # every entry is a synset's (_sources keeps only those)
        if not sources:
            continue
        match = SPLIT_FOLDER.fullmatch(name)
        if match:
            splits.append((match[1].lower(), name, sources))
        else:
            others.append(name)
    return splits, others


def detect(path: Path) -> str | None:
    if not path.is_dir():
        return None
    if any(name.endswith(".tar") for _, name in _sources(path)):
        return "per-synset tar files (n01234567.tar)"
    with os.scandir(path) as it:  # prefixed split folders only: plain train/ val/ are the imagenet reader's
        named = sorted(
            e.name for e in it if e.is_dir() and ("_" in e.name or "-" in e.name) and SPLIT_FOLDER.fullmatch(e.name)
        )
    found = [name + "/" for name in named if wnid_dirs(path / name)]
    return f"synset folders in split folders ({', '.join(found)}), as ImageNet-21K-P" if found else None


def tar_members(archive: Path) -> Iterator[str]:
    """Names of the image members of ``archive``, in archive order, from headers only."""
    try:
        with tarfile.open(archive, mode="r:*") as tar:
            for info in tar:
                if info.isfile() and is_image_name(info.name):
                    yield info.name
    except tarfile.TarError as exc:
        raise InvalidInputError(f"not a readable tar archive ({exc})", file=archive) from None


def read(path: Path, report: Report, **options: Any) -> Dataset:
    path = Path(path)
    if not path.is_dir():
        raise CvkitError("ImageNet-21k is a folder of synset folders or synset .tar files", file=path)
    parts = [(options.get("split"), "", _sources(path))]
    if not parts[0][2]:
        splits, others = _split_folders(path)
        for name in others:
            report.warn(
                f"folder {name}/ beside the split folders is not a split (ImageNet-21K-P's set-aside classes): skipped"
            )
        parts = [(options.get("split") or split, name + "/", sources) for split, name, sources in splits]
    if not parts:
        raise CvkitError(
            "no synset folders (n01234567/) or synset tars (n01234567.tar) here, nor split folders of them", file=path
        )
    synset_file = Path(options["synsets"]) if options.get("synsets") else find_synset_file(path, path.parent)
    synsets = read_synset_file(synset_file) if synset_file else None
    if synsets is not None:
        synsets.ordered = None  # a 21k list's order is not a class order we know; ids stay sorted positions
    categories = build_categories(sorted({w for _s, _p, sources in parts for w, _ in sources}), None, synsets)

    def shards(_workers: int) -> list[Shard]:
        items = [(split, prefix, wnid, name) for split, prefix, sources in parts for wnid, name in sources]
        return folder_shards(_read_run, path, items)

    return Dataset(
        read_here(shards, categories, report), categories, root=path, source_format="imagenet21k", shards=shards
    )


def _read_run(
    path: Path, run: list[tuple[str | None, str, str, str]], _categories: CategorySet, report: Report
) -> Iterator[Sample]:
    """A shard's samples (:class:`~cvkit.core.model.Shard`): synset folders walked and synset tars' headers read
    here."""
    for split, prefix, wnid, name in run:
        if name.endswith(".tar"):
            archive = path / prefix / name
            try:
                paths = [member_path(prefix + name, member) for member in tar_members(archive)]
            except InvalidInputError as err:
                report.invalid(err)
                continue
        else:
            paths = list(walk_images(f"{path}/{prefix}{name}", prefix + name))
        for rel in paths:
            report.count_read(split, 0)
            yield Sample(rel, split=split, labels=[wnid])
