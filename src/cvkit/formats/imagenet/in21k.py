"""ImageNet-21k (fall 2011 / winter 2021 releases): one folder or one tar per synset.

``path`` holds ``n01234567/`` folders and/or ``n01234567.tar`` archives (as downloaded from
image-net.org). Tars are never extracted: only their member headers are listed
(``tarfile`` seeks over the data), and images are referenced as::

    n01234567.tar#n01234567_1.JPEG

which :func:`cvkit.core.imagefile.open_image_bytes` opens (docs/formats.md). Category ids are
the 1-based position in sorted-WNID order; display names come from a ``words.txt`` /
``imagenet_synset_to_lemma.txt`` beside the data or ``-r synsets=PATH``.
"""

from __future__ import annotations

import os
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cvkit.core.imagefile import member_path
from cvkit.core.model import Dataset, Sample
from cvkit.core.report import Report
from cvkit.errors import CvkitError, InvalidInputError
from cvkit.formats.imagenet.common import build_categories, find_synset_file, is_image_name, is_wnid, read_synset_file, walk_images

READ_OPTIONS = ("synsets", "split")


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


def detect(path: Path) -> str | None:
    if path.is_dir() and any(name.endswith(".tar") for _, name in _sources(path)):
        return "per-synset tar files (n01234567.tar)"
    return None


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
    sources = _sources(path)
    if not sources:
        raise CvkitError("no synset folders (n01234567/) or synset tars (n01234567.tar) here", file=path)
    synset_file = Path(options["synsets"]) if options.get("synsets") else find_synset_file(path, path.parent)
    synsets = read_synset_file(synset_file) if synset_file else None
    if synsets is not None:
        synsets.ordered = None  # a 21k list's order is not a class order we know; ids stay sorted positions
    categories = build_categories([w for w, _ in sources], None, synsets)
    split = options.get("split")

    def samples() -> Iterator[Sample]:
        for wnid, name in sources:
            if name.endswith(".tar"):
                archive = path / name
                try:
                    paths = [member_path(name, member) for member in tar_members(archive)]
                except InvalidInputError as err:
                    report.invalid(err)
                    continue
            else:
                paths = list(walk_images(f"{path}/{name}", name))
            for rel in paths:
                report.count_read(split, 0)
                yield Sample(rel, split=split, labels=[wnid])

    return Dataset(samples(), categories, root=path, source_format="imagenet21k")
