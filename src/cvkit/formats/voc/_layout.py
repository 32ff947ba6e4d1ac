"""Pascal VOC layouts: where the XML files, split lists, label map and images of a VOC tree are.

Devkit trees (``Annotations/``, ``ImageSets/Main/``, ``JPEGImages/``), also several of them side by
side (``VOCdevkit/VOC2007`` + ``VOCdevkit/VOC2012``, the "07+12" set), flat LabelImg folders and
Roboflow's per-split folders; and the layout's own files a writer adds (``labelmap.txt``, the split lists).
Parsing and writing the XML live in :mod:`cvkit.formats.voc._format` and :mod:`cvkit.formats.voc._xml`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from cvkit.core.imageinfo import IMAGE_EXTENSIONS
from cvkit.core.paths import split_name
from cvkit.core.report import Report
from cvkit.core.splits import NO_SPLIT
from cvkit.io import folders_in, open_regular, read_utf8_text

#: Split list names that are unions of others; an image keeps its most specific split.
UNION_SPLITS = ("trainval",)
SPLIT_FOLDERS = ("train", "valid", "val", "test", "trainval")
#: labelmap.txt entry datumaro and CVAT always add first: segmentation mask class 0, never an object.
MASK_BACKGROUND = "background"

_RANK = {ext: i for i, ext in enumerate(IMAGE_EXTENSIONS)}


def _ext(name: str) -> str:
    return "." + name.rpartition(".")[2].lower()


def devkit_roots(path: Path) -> list[Path]:
    """The folders holding ``Annotations/``: ``path`` itself, else its children (``VOC2007``,
    ``VOC2012``), else those of its ``VOCdevkit/`` child (where the VOC tar files extract)."""
    if (path / "Annotations").is_dir():
        return [path]
    for base in (path, path / "VOCdevkit"):
        found = sorted(
            base / name for name in folders_in(base) if (base / name / "Annotations").is_dir()
        )  # the folder's listing, shared in detection
        if found:
            return found
    return []


def devkit_root(path: Path) -> Path | None:
    """The one devkit folder of ``path`` (None when there are none or several)."""
    roots = devkit_roots(path)
    return roots[0] if len(roots) == 1 else None


_VOC_ROOT = re.compile(rb"<annotation[\s>/]")


def looks_like_voc_xml(path: Path) -> bool:
    """VOC XML has <bndbox> boxes (or no objects; roLabelImg's <robndbox>); MIT LabelMe XML, also
    <annotation>, has <imagesize> or <polygon> without boxes."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(1 << 16)
    except OSError:
        return False
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):  # UTF-16 with its byte-order mark
        data = data.decode("utf-16", errors="ignore").encode()
    if not _VOC_ROOT.search(data) or b"<imagesize" in data:  # <annotations> is CVAT's root, not VOC's
        return False
    if b"<bndbox" in data or b"<robndbox" in data:
        return True  # X-AnyLabeling writes a <polygon> beside the <bndbox>
    return b"<polygon" not in data and b"<object" not in data and (b"<filename" in data or b"<size" in data)


def read_split_lists(root: Path) -> dict[str, str | None]:
    """Image id -> split from ImageSets/Main/<split>.txt (class lists like cat_train.txt ignored;
    ``default.txt`` is datumaro's and CVAT's list of images without a split)."""
    main = root / "ImageSets" / "Main"
    if not main.is_dir():
        return {}
    membership: dict[str, str | None] = {}
    lists = [p for p in main.glob("*.txt") if not is_class_list(p)]
    for list_file in sorted(lists, key=lambda p: (p.stem in UNION_SPLITS or p.stem == NO_SPLIT, p.stem)):
        split = None if list_file.stem == NO_SPLIT else list_file.stem
        text = read_utf8_text(list_file)
        if "#" in text or " " in text or "\t" in text:  # comments or extra columns: the first word of each line
            ids = [words[0] for words in (raw.split("#", 1)[0].split() for raw in text.splitlines()) if words]
        else:  # one id a line, as the devkit writes them
            ids = text.split()
        for image_id in ids:
            membership.setdefault(image_id, split)
    return membership


def is_class_list(path: Path) -> bool:
    """``<class>_<split>.txt`` of the devkit: lines ``<id> -1|0|1``. A split named with an underscore
    (``train_2023.txt``, one id a line) is a split list, not a class list."""
    if "_" not in path.stem:
        return False
    with open_regular(path) as handle:
        first = next((line.split() for line in handle if line.strip() and not line.startswith(b"#")), [])
    return len(first) == 2 and first[1] in (b"-1", b"0", b"1")


def read_labelmap(root: Path) -> list[str]:
    """Category order from a datumaro-style labelmap.txt (``name:color:parts:actions``), if any.

    Its ``background`` entry (datumaro and CVAT add it to every export) is the segmentation masks'
    class 0, not an object class: left out, so class ids are not shifted by one (an object named
    ``background`` still makes it a category)."""
    path = root / "labelmap.txt"
    if not path.is_file():
        return []
    names = []
    for line in read_utf8_text(path).splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name = line.split(":", 1)[0].strip()
            if name != MASK_BACKGROUND:
                names.append(name)
    return names


def devkit_image_folder(root: Path) -> str | None:
    """Where a devkit tree keeps its images: ``JPEGImages/`` (the devkit), else ``images/`` (Label Studio,
    Labelbox and imglab exports write ``<folder>images</folder>``), else None: beside the XML files."""
    for name in ("JPEGImages", "images"):
        if (root / name).is_dir():
            return name + "/"
    return None


class ImageIndex:
    """Finds each XML's image from folder listings made once per folder: no system call per file.

    The image is the one named by the image id (the XML's name) when ``<filename>`` disagrees with
    it: torchvision, mmdetection, darknet's voc_label.py and Ultralytics open ``JPEGImages/<id>.jpg``
    and LabelImg pairs files by name, so a ``<filename>`` copied from another file or naming another
    extension does not move boxes to the wrong image. Label Studio writes ``<filename>`` without its
    extension; LabelImg's absolute ``<path>`` finds images kept apart from the XML files."""

    def __init__(self, root: Path, devkit: bool):
        self.root, self.devkit = str(root), devkit
        #: a devkit tree's image folder; None: images beside the XML files
        self.image_folder = devkit_image_folder(root) if devkit else None
        self.xml_folders: dict[str, str] = {}
        self.listings: dict[str, frozenset[str]] = {}
        #: image stem -> file name per folder, built on first need: an XML whose ``<filename>`` is there (the
        #: common case) needs none, and each worker would otherwise build one more map the size of the folder
        self.stem_maps: dict[str, dict[str, str]] = {}
        #: an absolute folder a ``<path>`` names -> (its files, its path relative to the root); None: unlisted
        self.recorded_folders: dict[str, tuple[frozenset[str], str] | None] = {}

    def __getstate__(self) -> dict[str, object]:
        """Where the images are, without the listings: a worker lists the folders it needs itself, once."""
        return {"root": self.root, "devkit": self.devkit, "image_folder": self.image_folder}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        self.xml_folders, self.listings, self.stem_maps, self.recorded_folders = {}, {}, {}, {}

    def folder_of(self, xml_file: str | Path | None) -> str:
        """The images' folder (relative to the root, ``/``-terminated): the devkit's image folder, else the XML's."""
        if self.image_folder is not None or xml_file is None:
            return self.image_folder or ""
        parent = os.fspath(xml_file).rpartition(os.sep)[0]
        folder = self.xml_folders.get(parent)
        if folder is None:
            rel = os.path.relpath(parent, self.root).replace(os.sep, "/")
            folder = self.xml_folders[parent] = "" if rel == "." else rel + "/"
        return folder

    def names(self, folder: str) -> frozenset[str]:
        """The file names of one folder relative to the root."""
        found = self.listings.get(folder)
        if found is None:
            try:
                with os.scandir(os.path.join(self.root, folder) if folder else self.root) as entries:
                    found = frozenset(e.name for e in entries)
            except OSError:
                found = frozenset()
            self.listings[folder] = found
        return found

    def stems(self, folder: str) -> dict[str, str]:
        """Image stem -> file name in one folder, ``.jpg`` before ``.png`` ... as IMAGE_EXTENSIONS ranks them."""
        stems = self.stem_maps.get(folder)
        if stems is None:
            stems = self.stem_maps[folder] = {}
            for name in self.names(folder):
                stem, dot, ext = name.rpartition(".")
                rank = _RANK.get("." + ext.lower()) if dot else None
                if rank is not None and (stem not in stems or (rank, name) < (_RANK[_ext(stems[stem])], stems[stem])):
                    stems[stem] = name
        return stems

    def find(self, folder: str, name: str, is_filename: bool) -> str | None:
        """The image ``name`` names in ``folder``: an image id names ``<id>.<image extension>``; a
        ``<filename>`` names itself, else an image of its stem (another extension, or none written)."""
        sub, _, base = name.rpartition("/")
        where = folder + sub + "/" if sub else folder
        if is_filename and base in self.names(where):
            return where + base
        stems = self.stems(where)
        found = stems.get(base) or (stems.get(os.path.splitext(base)[0]) if is_filename else None)
        return where + found if found else None

    def image_path(self, xml_file: str | Path | None, filename: str | None, image_id: str, recorded: str | None) -> str:
        """The image's path relative to the root."""
        folder = self.folder_of(xml_file)
        filename = filename.replace("\\", "/") if filename else None
        if filename and filename.rpartition(".")[0] == image_id:  # the common case: <filename> is <id>.<ext>
            sub, _, base = filename.rpartition("/")
            where = folder + sub + "/" if sub else folder
            if base in self.names(where):
                return folder + filename
            if (
                not sub and not recorded and not self.stems(where)
            ):  # no image in the folder (an export without images): skip the search below
                return self.missing_folder(folder) + filename
        found = self.find(folder, image_id, False) or (self.find(folder, filename, True) if filename else None)
        if found is not None:
            return found
        if recorded and os.path.isabs(recorded):
            found = self.recorded_file(recorded)
            if found is not None:
                return found
        return self.missing_folder(folder) + (filename or f"{image_id}.jpg")

    def recorded_file(self, recorded: str) -> str | None:
        """The path relative to the root of the absolute ``recorded`` image path (LabelImg's ``<path>``) when it is
        a file, else None: checked against one listing of its folder, not a system call per XML (a folder that
        cannot be listed is checked file by file)."""
        head, name = os.path.split(recorded)
        listed = self.recorded_folders.get(head, False)
        if listed is False:
            listed = self.recorded_folders[head] = _files_of(head, self.root)
        if listed is None:
            return Path(os.path.relpath(recorded, self.root)).as_posix() if os.path.isfile(recorded) else None
        files, relative = listed
        return (name if relative == "." else f"{relative}/{name}") if name in files else None

    def missing_folder(self, folder: str) -> str:
        """Where an image not found is expected: a devkit tree without an image folder (an export
        without images) names ``JPEGImages/``, as the devkit does."""
        return "JPEGImages/" if self.devkit and self.image_folder is None else folder


def _files_of(folder: str, root: str) -> tuple[frozenset[str], str] | None:
    """(names of the files in ``folder``, symbolic links to files included as :func:`os.path.isfile` counts them;
    ``folder`` relative to ``root`` as a POSIX path), None when it cannot be listed (but is there)."""
    try:
        with os.scandir(folder) as entries:
            files = frozenset(entry.name for entry in entries if entry.is_file())
    except (FileNotFoundError, NotADirectoryError):
        files = frozenset()  # LabelImg's <path> on the machine that wrote it: no file there
    except OSError:
        return None
    return files, Path(os.path.relpath(folder, root)).as_posix()


# --- writing the layout's own files ---------------------------------------------------
def write_labelmap(
    path: Path, names: list[str], declared: dict[str, tuple[dict[str, None], dict[str, None]]], report: Report
) -> None:
    """datumaro's ``name:color:parts:actions`` list. datumaro's importer refuses a ``<part>`` whose name no
    label declares ("Undeclared label 'head'"), so each label lists the parts and actions its objects use.

    The format splits lines at ``:`` and lists at ``,``, strips spaces and skips ``#`` lines: a name it would
    misread is left out, and reported (readers then order a left-out label by first appearance)."""
    lines = []
    for name in names:
        if not _labelmap_safe(name, ":"):
            report.lose(
                "label name",
                "labelmap.txt cannot hold a name with ':', a leading '#' or surrounding spaces; left out of it",
            )
            continue
        parts, actions = declared.get(name, ({}, {}))
        listed = [[item for item in group if _labelmap_safe(item, ":,")] for group in (parts, actions)]
        if sum(map(len, listed)) != len(parts) + len(actions):
            report.lose("part or action name", "labelmap.txt cannot hold a name with ':' or ','; left out of it")
        lines.append(f"{name}::{','.join(listed[0])}:{','.join(listed[1])}\n")
    path.write_text("# label:color_rgb:parts:actions\n" + "".join(lines), encoding="utf-8")


def _labelmap_safe(name: str, separators: str) -> bool:
    return bool(name) and name == name.strip() and not name.startswith("#") and not any(c in name for c in separators)


def write_split_lists(path: Path, members: dict[str, list[str]]) -> None:
    """ImageSets/Main/<split>.txt, plus trainval.txt when train and val exist (the devkit's convention).
    Images without a split go to ``default.txt`` as datumaro and CVAT write them: their VOC importers
    find a dataset by its ImageSets/Main lists and find none without one."""
    if not members:
        return
    main = path / "ImageSets" / "Main"
    main.mkdir(parents=True, exist_ok=True)
    if "train" in members and "val" in members and "trainval" not in members:
        members = {**members, "trainval": members["train"] + members["val"]}
    for split, stems in members.items():
        (main / f"{split_name(split)}.txt").write_text("".join(f"{s}\n" for s in stems), encoding="utf-8")
