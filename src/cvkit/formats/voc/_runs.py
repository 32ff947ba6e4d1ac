"""The XML files of one VOC layout as compact runs: what a reader's shards carry (issue 16, 3M-file trees).

A run is up to :data:`RUN_FILES` consecutive files of the layout's listing, their names relative to the layout's
XML folder joined into one string (:class:`XmlRun`): per file about its name's length in bytes, one object a run
(a forked worker that reads a run touches one object, not the pages of a thousand tuples), and the same data on
a spawned worker or another machine. The absolute path, image id and split of each file are made where the run is
read (:meth:`XmlListing.entries`). Order: a devkit's ids sorted (XML files and split lists together), a flat folder's
files by name, Roboflow's split folders in :data:`~cvkit.formats.voc._layout.SPLIT_FOLDERS` order.
"""

from __future__ import annotations

import heapq
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from cvkit.io import names_in

from ._layout import SPLIT_FOLDERS, devkit_roots, read_split_lists

#: one file of a layout: (its XML path or None, image id, split)
Job = tuple[str | None, str, str | None]

#: files in one run (one :class:`~cvkit.core.model.Shard` of the reader)
RUN_FILES = 1000
#: joins the names of a run: no file name holds it
_SEP = "\0"


@dataclass(frozen=True, slots=True)
class XmlRun:
    """Consecutive files of a layout: ``names`` relative to its XML folder, ``/``-separated and joined by NUL
    (an image id where ``missing`` holds its place: listed in ImageSets without an XML); ``splits`` one a file,
    or one for all."""

    names: str
    count: int
    splits: tuple[str | None, ...]
    missing: frozenset[int]


@dataclass(frozen=True, slots=True)
class XmlListing:
    """Where one layout's XML files are and how a name gives its image id: a devkit's id is its name under
    ``Annotations/`` without ``.xml`` (``city/a``), a flat folder's the file's stem. Small: the runs are apart."""

    image_root: Path
    #: what starts each XML file's path: the XML folder and a separator
    base: str
    devkit: bool

    def entries(self, run: XmlRun) -> Iterator[Job]:
        """``(xml file or None, image id, split)`` of each file of ``run``, in order."""
        splits, missing, base, devkit = run.splits, run.missing, self.base, self.devkit
        one_split = len(splits) == 1
        for i, name in enumerate(run.names.split(_SEP)):
            split = splits[0] if one_split else splits[i]
            if missing and i in missing:
                yield None, name, split
                continue
            file = base + (name if os.sep == "/" else name.replace("/", os.sep))
            yield file, (name[:-4] if devkit else stem(name.rpartition("/")[2])), split


def stem(name: str) -> str:
    """A file name without its suffix, as :attr:`pathlib.PurePath.stem` gives it (``b.`` has no suffix)."""
    dot = name.rfind(".")
    return name[:dot] if 0 < dot < len(name) - 1 else name


def _runs(items: Iterable[tuple[str, str | None, bool]], size: int) -> list[XmlRun]:
    """``(name, split, missing)`` items cut into runs of ``size``; each run is made as its items arrive."""
    found: list[XmlRun] = []
    names: list[str] = []
    splits: list[str | None] = []
    missing: list[int] = []

    def close() -> None:
        uniform = all(split == splits[0] for split in splits)
        found.append(
            XmlRun(_SEP.join(names), len(names), (splits[0],) if uniform else tuple(splits), frozenset(missing))
        )
        names.clear()
        splits.clear()
        missing.clear()

    for name, split, absent in items:
        if absent:
            missing.append(len(names))
        names.append(name)
        splits.append(split)
        if len(names) >= size:
            close()
    if names:
        close()
    return found


def xml_listing(
    path: Path, roots: list[Path] | None = None, default_split: str | None = None, size: int = RUN_FILES
) -> tuple[XmlListing, list[XmlRun]]:
    """The runs of ``size`` files of one devkit folder, a flat or per-split folder, or a file; ``roots``:
    :func:`devkit_roots` of ``path`` when the caller has looked already; ``default_split``: the split of files no
    split list names (a devkit folder named ``train``)."""
    if path.is_file():
        items: Iterable[tuple[str, str | None, bool]] = [(path.name, default_split, False)]
        return XmlListing(path.parent, str(path)[: -len(path.name)], False), _runs(items, size)
    roots = devkit_roots(path) if roots is None else roots
    devkit = roots[0] if len(roots) == 1 else None
    if devkit is not None:
        folder = devkit / "Annotations"
        runs = _runs(_devkit_items(str(folder), read_split_lists(devkit), default_split), size)
        return XmlListing(devkit, _prefix(folder), True), runs
    in_splits = [(name, found) for name in SPLIT_FOLDERS if (found := names_in(path / name, ".xml"))]
    if in_splits:  # Roboflow's train/, valid/
        items = ((f"{name}/{file}", name, False) for name, files in in_splits for file in files)
    else:
        items = ((file, default_split, False) for file in names_in(path, ".xml"))
    return XmlListing(path, _prefix(path), False), _runs(items, size)


def annotation_jobs(path: Path, roots: list[Path] | None = None) -> tuple[Path, list[Job]]:
    """(image root, [(xml file or None, image id, split)]) of :func:`xml_listing`, as one list (``cvkit stats``'
    columns hold every file anyway)."""
    listing, runs = xml_listing(path, roots)
    return listing.image_root, [entry for run in runs for entry in listing.entries(run)]


def _prefix(folder: Path) -> str:
    """What starts the path of a file in ``folder`` as ``folder / name`` spells it (none for ``.``)."""
    return str(folder / "_")[:-1]


def _devkit_items(
    folder: str, splits: dict[str, str | None], default_split: str | None
) -> Iterator[tuple[str, str | None, bool]]:
    """``(name under Annotations/ or image id, split, no XML)`` of a devkit folder by id: its XML files (one an id,
    the last listed where ``a.xml`` and ``a.XML`` are both there) and the ids its split lists name."""
    ids: list[str] = []
    odd: dict[str, str] = {}  # id -> its file's suffix when it is not ".xml" (rare)
    _xml_ids(folder, "", ids, odd)
    ids.sort()
    listed = sorted(splits)
    merged: Iterable[tuple[str, bool]] = ((i, False) for i in ids)
    if listed:
        merged = heapq.merge(merged, ((i, True) for i in listed))
    previous: str | None = None
    pending = False  # whether ``previous`` came from the split lists alone so far
    for image_id, from_list in merged:
        if image_id == previous:
            pending = pending and from_list
            continue
        if previous is not None:
            yield _devkit_item(previous, pending, odd, splits, default_split)
        previous, pending = image_id, from_list
    if previous is not None:
        yield _devkit_item(previous, pending, odd, splits, default_split)


def _devkit_item(
    image_id: str, missing: bool, odd: dict[str, str], splits: dict[str, str | None], default_split: str | None
) -> tuple[str, str | None, bool]:
    split = splits.get(image_id) or default_split
    return (image_id if missing else image_id + odd.get(image_id, ".xml")), split, missing


def _xml_ids(folder: str, prefix: str, ids: list[str], odd: dict[str, str]) -> None:
    """Image ids of the XML files under ``folder``, subfolders included: datumaro and CVAT write an item id
    ``city/a`` as ``Annotations/city/a.xml``. Names only: an absolute path a file cost 126 bytes more."""
    with os.scandir(folder) as entries:
        for entry in entries:
            name = entry.name
            if name[0] == ".":  # macOS's ._x.xml AppleDouble twins, .ipynb_checkpoints
                continue
            if name.lower().endswith(".xml"):
                image_id = prefix + name[:-4]
                ids.append(image_id)
                if name.endswith(".xml"):
                    if odd:
                        odd.pop(image_id, None)
                else:
                    odd[image_id] = name[-4:]
            elif entry.is_dir():
                _xml_ids(entry.path, f"{prefix}{name}/", ids, odd)
