"""Where a YOLO dataset keeps its images, labels and class names.

Four layouts are found, each as its tools write it:

- Ultralytics: ``data.yaml`` (``path``, ``train``/``val``/``test`` as folders, ``.txt`` lists or
  lists of either, ``names`` as list or ``{id: name}``, ``nc``); labels found by replacing the
  last ``images`` folder of an image path with ``labels`` (Ultralytics' rule), else beside it;
- darknet: ``obj.data`` (``key = value``), ``obj.names``, ``train.txt`` lists whose paths start
  with ``data/`` (the darknet working folder), labels beside the images (CVAT, datumaro "strict")
  or in ``labels/`` beside ``JPEGImages/`` (darknet's ``voc_label.py``);
- folder pairs: ``images/<split>/x.jpg`` with ``labels/<split>/x.txt`` (also ``Images``/``Annotations``,
  and ``<split>/images`` with ``<split>/labels``) and a names file (``obj.names``, ``classes.txt``);
- LabelImg: label ``.txt`` files beside the images with ``classes.txt``, in one folder or in one
  folder per split (Roboflow's "YOLO Darknet" export: ``train/``, ``valid/`` with ``_darknet.labels``).

Hidden files and folders (macOS ``._x.jpg``, ``.ipynb_checkpoints``) are skipped, as Ultralytics' glob skips them.

Each layout becomes a list of :class:`Source`: a split and the (image, label file) pairs in it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from cvkit.core.imageinfo import IMAGE_EXTENSIONS
from cvkit.core.report import Report
from cvkit.errors import InvalidInputError
from cvkit.io import read_regular_bytes, read_utf8_text, require_utf8_name

from ._labels import ClassNames, UniqueStems
from ._yaml import load_yaml, yaml_class_names

YAML_NAMES = ("data.yaml", "dataset.yaml", "data.yml", "dataset.yml")
NAMES_FILES = ("obj.names", "classes.txt", "classes.names", "coco.names", "_darknet.labels")
IMAGE_DIRS = ("images", "jpegimages")
LABEL_DIRS = ("labels", "annotations")
#: data.yaml keys that are not splits (Ultralytics, YOLOv5, Roboflow exports)
YAML_RESERVED = {
    "path",
    "names",
    "nc",
    "download",
    "kpt_shape",
    "flip_idx",
    "kpt_names",
    "channels",
    "yaml_file",
    "roboflow",
    "labels",
    "text_val",
}
#: obj.data keys that are not split lists (darknet)
DARKNET_RESERVED = {"classes", "names", "backup", "eval", "results", "map", "top", "labels"}
SPLIT_KEYS = ("train", "val", "test", "minival")
#: splits Ultralytics needs; a missing folder of another split is left out with a warning
REQUIRED_SPLITS = ("train", "val")
#: folder names read as splits of label files beside the images (Roboflow's "YOLO Darknet" export)
SPLIT_DIRS = ("train", "valid", "val", "validation", "test")
_IMAGE_SUFFIXES = frozenset(IMAGE_EXTENSIONS)


@dataclass
class Source:
    """One split's images, each with the label files to try in order (the first that exists wins)."""

    split: str | None
    pairs: Callable[[], Iterator[tuple[str, list[str]]]]
    #: identity used to read a folder or list once when two splits name it
    key: str = ""
    #: the data.yaml or obj.data that names this split: the reader refuses it when it holds no image (``path: /etc``
    #: with ``train: .`` read 0 images and exited 0)
    listed_in: Path | None = None


@dataclass
class Layout:
    kind: str
    root: Path
    names: ClassNames
    sources: list[Source] = field(default_factory=list)


# --- file helpers ------------------------------------------------------------------
def _children(folder: Path) -> dict[str, os.DirEntry[str]]:
    """Entries of ``folder`` by lower-case name (empty when it is not a folder). ``DirEntry`` objects, not Paths:
    detection lists folders of 20,000 files several times, and a Path per entry was the larger cost there
    (docs/benchmarks.md, "Measured choices")."""
    try:
        with os.scandir(folder) as entries:
            return {entry.name.lower(): entry for entry in entries}
    except (FileNotFoundError, NotADirectoryError):
        return {}


def _subdirs(folder: Path, children: dict[str, os.DirEntry[str]] | None = None) -> list[Path]:
    """Sub-folders of ``folder``, sorted, hidden ones left out (``children``: its listing, when the caller has it)."""
    children = _children(folder) if children is None else children
    return sorted(Path(e.path) for e in children.values() if e.is_dir() and not e.name.startswith("."))


def is_image(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in _IMAGE_SUFFIXES


def _holds_images(folder: Path, children: dict[str, os.DirEntry[str]] | None = None) -> bool:
    return any(
        is_image(name) and not name.startswith(".") for name in (_children(folder) if children is None else children)
    )


def scan_images(folder: Path, recursive: bool = True) -> list[str]:
    """Image file paths under ``folder``, sorted (recursive, as Ultralytics globs ``**/*.*``).

    Hidden entries (``._x.jpg`` AppleDouble files, ``.ipynb_checkpoints``) are skipped, as that glob skips
    them. Plain strings, not Path objects: this runs per file, and pathlib costs more than the read.
    """
    return _files_under(folder, recursive, is_image)


def read_names_file(path: Path, encoding: str | None = None) -> ClassNames:
    """One class name per line, line N naming class N-1.

    Blank lines at the end are dropped; a blank line before a name keeps its class index (darknet's
    ``get_paths`` and LabelImg's ``classes.txt`` writer count it) and is named ``class_<index>``, as
    Ultralytics names classes it has no name for. UTF-8 unless ``encoding`` (the ``names_encoding``
    reader option) says otherwise.
    """
    data = read_regular_bytes(path)
    try:
        text = data.decode(encoding) if encoding else data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInputError(
            f"class names file is not {encoding or 'UTF-8'} text; LabelImg on Windows writes classes.txt in the "
            "system code page: pass its encoding, e.g. -r names_encoding=gbk (Chinese) or cp1252 (Western)",
            file=path,
        ) from None
    lines = text.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    return ClassNames([line.strip() or f"class_{index}" for index, line in enumerate(lines)], path.name)


def ultralytics_label(image: str) -> str:
    """Ultralytics' rule: the last ``/images/`` of the path becomes ``/labels/``, the suffix ``.txt``."""
    sa, sb = f"{os.sep}images{os.sep}", f"{os.sep}labels{os.sep}"
    return os.path.splitext(sb.join(image.rsplit(sa, 1)))[0] + ".txt"


_VOC_IMAGES = f"{os.sep}JPEGImages{os.sep}"


def label_candidates(image: str) -> list[str]:
    """Label files for an image: by Ultralytics' images->labels rule, by darknet's ``/JPEGImages/`` ->
    ``/labels/`` (``replace_image_to_label``, for ``voc_label.py``'s VOCdevkit layout), then beside the image."""
    beside = os.path.splitext(image)[0] + ".txt"
    found = [ultralytics_label(image)]
    if _VOC_IMAGES in image:
        found.append(os.path.splitext(image.replace(_VOC_IMAGES, f"{os.sep}labels{os.sep}", 1))[0] + ".txt")
    return [c for c in found if c != beside] + [beside]


# --- folder pairs and LabelImg ------------------------------------------------------
def _pair_source(split: str | None, image_dir: Path, label_dir: Path, report: Report, recursive: bool = True) -> Source:
    """Images under ``image_dir``, each with the label file at the same place under ``label_dir``; label files
    no image asked for are counted in a warning once the images are read (Label Studio's plain "YOLO"
    export leaves ``images/`` empty: nothing can be read without the image sizes)."""

    def pairs() -> Iterator[tuple[str, list[str]]]:
        base = len(str(image_dir)) + 1
        labels = str(label_dir) + os.sep
        asked: set[str] = set()
        for image in scan_images(image_dir, recursive):
            label = labels + os.path.splitext(image[base:])[0] + ".txt"
            asked.add(label)
            yield image, [label]
        unread = [label for label in _label_files(label_dir, recursive) if label not in asked]
        if unread:
            count = f"{len(unread)} label files have" if len(unread) > 1 else "1 label file has"
            report.warn(
                f"{label_dir}: {count} no image in {image_dir} (first: {os.path.relpath(unread[0], label_dir)}); "
                "their objects are not read (YOLO coordinates need the image size)"
            )

    return Source(split, pairs, str(image_dir))


def _label_files(folder: Path, recursive: bool) -> list[str]:
    """The ``.txt`` label files under ``folder``, sorted (names files and hidden entries left out)."""
    return _files_under(folder, recursive, _is_label_name)


def _is_label_name(name: str) -> bool:
    """A ``.txt`` file that is no class names file (``classes.txt``, ``obj.names``...)."""
    lowered = name.lower()
    return lowered.endswith(".txt") and lowered not in NAMES_FILES


def _files_under(folder: Path, recursive: bool, wanted: Callable[[str], bool]) -> list[str]:
    """Sorted paths of the files under ``folder`` whose name is ``wanted``; hidden entries and a missing folder
    skipped."""
    found: list[str] = []
    stack = [str(folder)]
    while stack:
        try:
            with os.scandir(stack.pop()) as entries:
                for entry in entries:
                    if entry.name.startswith("."):
                        continue
                    if entry.is_dir():
                        if recursive:
                            stack.append(entry.path)
                    elif wanted(entry.name):
                        require_utf8_name(os.path.dirname(entry.path), entry.name)
                        found.append(entry.path)
        except (FileNotFoundError, NotADirectoryError):
            continue
    return sorted(found)


def _pairs_in(folder: Path, children: dict[str, os.DirEntry[str]] | None = None) -> tuple[Path, Path] | None:
    """(images folder, labels folder) directly inside ``folder``, if both exist (``children``: its listing, when
    known)."""
    children = _children(folder) if children is None else children
    images = next((Path(children[n].path) for n in IMAGE_DIRS if n in children and children[n].is_dir()), None)
    labels = next((Path(children[n].path) for n in LABEL_DIRS if n in children and children[n].is_dir()), None)
    return (images, labels) if images and labels else None


def _has_txt(folder: Path, depth: int = 2) -> bool:
    """Whether ``folder`` (or a sub-folder, ``depth`` levels down) holds a .txt file."""
    children = _children(folder)
    if any(map(_is_label_name, children)):
        return True
    return depth > 0 and any(_has_txt(Path(sub.path), depth - 1) for sub in children.values() if sub.is_dir())


def find_names_file(*folders: Path) -> Path | None:
    for folder in folders:
        found = _names_file_in(_children(folder))
        if found is not None:
            return found
    return None


def _names_file_in(children: dict[str, os.DirEntry[str]]) -> Path | None:
    """classes.txt / obj.names / ... (or any ``*.names``) among a folder's entries."""
    for name in NAMES_FILES:
        if name in children and not children[name].is_dir():  # a FIFO or a device is refused when read
            return Path(children[name].path)
    for name, entry in children.items():
        if name.endswith(".names") and entry.is_file():
            return Path(entry.path)
    return None


def folder_layout(root: Path, report: Report, encoding: str | None = None) -> Layout | None:
    """images/ + labels/ (split sub-folders inside, or ``<split>/images`` + ``<split>/labels``)."""
    pair = _pairs_in(root)
    sources: list[Source] = []
    label_dirs: list[Path] = []
    if pair:
        image_dir, label_dir = pair
        label_dirs.append(label_dir)
        children = _children(image_dir)  # listed once: it may hold 20,000 images
        subdirs = _subdirs(image_dir, children)
        if _holds_images(image_dir, children) or not subdirs:
            sources.append(_pair_source(None, image_dir, label_dir, report, recursive=False))
        for sub in subdirs:
            sources.append(_pair_source(sub.name, sub, label_dir / sub.name, report))
    else:
        for sub in _subdirs(root):
            inner = _pairs_in(sub)
            if inner:
                label_dirs.append(inner[1])
                sources.append(_pair_source(sub.name, inner[0], inner[1], report))
    if not sources:
        return None
    names_file = find_names_file(root, *label_dirs)
    names = read_names_file(names_file, encoding) if names_file else ClassNames([], None)
    return Layout("folders", root, names, sources)


def _split_folders(root: Path, children: dict[str, os.DirEntry[str]] | None = None) -> list[Path]:
    """``train/``, ``valid/``, ``test/``... holding images with ``.txt`` labels beside them, when ``root`` holds
    no images itself (only split names are looked at: detection must not scan every class folder of a big tree).
    ``children``: ``root``'s listing when the caller has it (listing 20,000 files costs more than the rest)."""
    children = _children(root) if children is None else children
    if any(is_image(name) for name in children if not name.startswith(".")):
        return []
    return [
        Path(children[name].path)
        for name in sorted(children)
        if name in SPLIT_DIRS and _beside_labels(Path(children[name].path))
    ]


def _beside_labels(folder: Path) -> bool:
    """Whether ``folder`` holds images and ``.txt`` label files (one scan)."""
    names = [name for name in _children(folder) if not name.startswith(".")]
    return any(is_image(name) for name in names) and any(_is_label_name(name) for name in names)


def labelimg_layout(root: Path, encoding: str | None = None) -> Layout:
    """Label files beside the images, ``classes.txt`` with them (LabelImg's YOLO mode); when ``root`` holds
    no images, each sub-folder that does is a split (Roboflow's "YOLO Darknet" export: ``train/``,
    ``valid/``, ``test/``, each with its images, labels and ``_darknet.labels``)."""
    folders = _split_folders(root) or [root]
    files = [f for f in (find_names_file(folder) for folder in dict.fromkeys([root, *folders])) if f]
    names = read_names_file(files[0], encoding) if files else ClassNames([], None)
    for other in files[1:]:
        if read_names_file(other, encoding).names != names.names:
            raise InvalidInputError(f"class names differ from those of {files[0]}", file=other)

    def source(folder: Path) -> Source:
        def pairs() -> Iterator[tuple[str, list[str]]]:
            for image in scan_images(folder, recursive=False):
                yield image, [os.path.splitext(image)[0] + ".txt"]

        return Source(None if folder == root else folder.name, pairs, str(folder))

    return Layout("labelimg", root, names, [source(folder) for folder in folders])


# --- txt lists (Ultralytics and darknet) ---------------------------------------------
def resolve_listed(entry: str, list_dir: Path, root: Path) -> Path:
    """An image path from a list: ``./x`` is relative to the list (Ultralytics), ``data/x``
    relative to the darknet folder (obj.data's), other relative paths tried against the root
    then the list's folder."""
    entry = entry.strip().replace("\\", "/")
    if entry.startswith("./"):
        return Path(os.path.normpath(list_dir / entry[2:]))
    path = Path(entry)
    if path.is_absolute():
        return path
    candidates = [root / entry, list_dir / entry]
    if entry.startswith("data/"):
        candidates.append(root / entry[5:])
    for candidate in candidates:
        if candidate.exists():
            return Path(os.path.normpath(candidate))
    return Path(os.path.normpath(candidates[-1]))


def moved_path(entry: str, *bases: Path) -> Path | None:
    """Where a path written on another machine or from another working folder lies now: its longest
    tail that exists under one of ``bases`` (``/content/Pets-3/train/images`` -> ``<base>/train/images``);
    a tail keeps at least two parts of a longer path, so ``x/images`` never becomes ``<base>/images``."""
    parts = [p for p in entry.strip().replace("\\", "/").split("/") if p not in ("", ".", "..") and not p.endswith(":")]
    for start in range(max(len(parts) - 1, 1)):
        for base in bases:
            candidate = base.joinpath(*parts[start:])
            if candidate.exists():
                return Path(os.path.normpath(candidate))
    return None


def _list_source(split: str, list_file: Path, root: Path, labels_dir: Path | None, report: Report) -> Source:
    def pairs() -> Iterator[tuple[str, list[str]]]:
        stems = UniqueStems()
        text = read_utf8_text(list_file)
        warned = False
        for line in text.splitlines():
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            image = resolve_listed(line, list_file.parent, root)
            if not image.exists():
                moved = moved_path(line, root, list_file.parent)
                if moved is not None:
                    if not warned:
                        report.warn(
                            f"{list_file}: listed paths not found where the list says, found by their tail under "
                            f"{root} (first: {line.strip()!r} -> {moved})"
                        )
                        warned = True
                    image = moved
            if labels_dir is not None:  # written by cvkit with --images reference
                yield str(image), [str(labels_dir / (stems(image.stem) + ".txt"))]
            else:
                yield str(image), label_candidates(str(image))

    return Source(split, pairs, str(list_file))


def _folder_source(split: str, folder: Path) -> Source:
    def pairs() -> Iterator[tuple[str, list[str]]]:
        for image in scan_images(folder):
            yield image, label_candidates(image)

    return Source(split, pairs, str(folder))


# --- Ultralytics data.yaml -----------------------------------------------------------
def ultralytics_layout(file: Path, report: Report) -> Layout:
    data = load_yaml(file)
    if "validation" in data and "val" not in data:  # renamed as Ultralytics' check_det_dataset does
        data["val"] = data.pop("validation")
    names = yaml_class_names(data, file)
    root = file.parent
    if isinstance(data.get("path"), str) and data["path"].strip():
        wanted = Path(data["path"]).expanduser()
        found = next(
            (
                p
                for p in ([wanted] if wanted.is_absolute() else [file.parent / wanted, Path.cwd() / wanted])
                if p.is_dir()
            ),
            None,
        )
        if found is None:
            report.warn(f"{file}: path {data['path']!r} not found; reading relative to the YAML's folder")
        else:
            root = Path(os.path.normpath(found))
    labels_dir = root / data["labels"] if isinstance(data.get("labels"), str) else None
    layout = Layout("ultralytics", root, names)
    keys = [k for k in SPLIT_KEYS if k in data] + [k for k in data if k not in SPLIT_KEYS and k not in YAML_RESERVED]
    for key in keys:
        value = data[key]
        entries = value if isinstance(value, list) else [value]
        if not entries or not all(isinstance(e, str) for e in entries if e is not None):
            continue
        for entry in entries:
            if not entry:
                continue
            target = (
                _yaml_target(entry, root) if key not in SPLIT_KEYS else _split_target(key, entry, root, file, report)
            )
            if target is None:
                continue  # an unknown key whose value is no path: not a split; or a missing optional split
            if target.is_dir():
                layout.sources.append(_folder_source(key, target))
            else:
                layout.sources.append(_list_source(key, target, root, labels_dir / key if labels_dir else None, report))
            layout.sources[-1].listed_in = file
    return layout


def _yaml_target(entry: str, root: Path) -> Path | None:
    """A split entry as Ultralytics resolves it (``../x`` also tried as ``x``)."""
    path = Path(entry).expanduser()
    candidates = [path] if path.is_absolute() else [root / entry]
    if entry.startswith("../"):
        candidates.append(root / entry[3:])
    return next((Path(os.path.normpath(c)) for c in candidates if c.exists()), None)


def _split_target(key: str, entry: str, root: Path, file: Path, report: Report) -> Path | None:
    """A train/val/test entry: as Ultralytics resolves it, else found by its tail under the root (paths that
    roboflow-python's download wrote relative to the folder it ran in, or on another machine), with a warning.
    A missing train or val is an error (Ultralytics needs both); a missing test is left out with a warning."""
    target = _yaml_target(entry, root)
    if target is not None:
        return target
    target = moved_path(entry, root)
    if target is not None:
        report.warn(f"{file}: {key} {entry!r} not found; read {target}")
        return target
    if key in REQUIRED_SPLITS:
        raise InvalidInputError(f"{entry!r} not found (looked in {root})", file=file, location=key)
    report.warn(f"{file}: {key} {entry!r} not found; that split is not read")
    return None


# --- darknet obj.data --------------------------------------------------------------
def darknet_layout(file: Path, report: Report, encoding: str | None = None) -> Layout:
    root = file.parent
    config: dict[str, tuple[str, int]] = {}
    for number, line in enumerate(read_utf8_text(file).splitlines(), 1):
        match = re.match(r"^\s*(\w+)\s*=\s*(.+?)\s*$", line)
        if match:
            config[match.group(1)] = (match.group(2), number)
    if "names" not in config:
        raise InvalidInputError("no 'names = <file>' line: the class names are unknown", file=file)
    names_file = resolve_listed(config["names"][0], root, root)
    if not names_file.is_file():
        raise InvalidInputError(
            f"names file {config['names'][0]!r} not found", file=file, location=f"line {config['names'][1]}"
        )
    names = read_names_file(names_file, encoding)
    if "classes" in config and config["classes"][0].isdigit() and int(config["classes"][0]) != len(names.names):
        report.warn(
            f"{file}: classes = {config['classes'][0]} but {names_file.name} lists {len(names.names)} names; using "
            "the names"
        )
    layout = Layout("darknet", root, names)
    for key, (value, number) in config.items():
        if key in DARKNET_RESERVED:
            continue
        list_file = resolve_listed(value, root, root)
        if not list_file.is_file():
            raise InvalidInputError(f"{key} list {value!r} not found", file=file, location=f"line {number}")
        layout.sources.append(_list_source(key, list_file, root, None, report))
        layout.sources[-1].listed_in = file
    return layout


# --- detection ----------------------------------------------------------------------
def find_yaml(folder: Path, children: dict[str, os.DirEntry[str]] | None = None) -> Path | None:
    """A data.yaml in ``folder`` (by its usual names, else any YAML with ``names`` and ``train``);
    ``children``: the folder's listing, when the caller has it."""
    children = _children(folder) if children is None else children
    for name in YAML_NAMES:
        if name in children and not children[name].is_dir():  # a FIFO or a device is refused when read, not passed over
            return Path(children[name].path)
    for name, entry in sorted(children.items()):
        path = Path(entry.path)
        if name.endswith((".yaml", ".yml")) and entry.is_file() and entry.stat().st_size < 1_000_000:
            text = path.read_text("utf-8", errors="replace")
            if re.search(r"^names\s*:", text, re.M) and re.search(r"^(train|val)\s*:", text, re.M):
                return path
    return None


def describe(path: Path) -> str | None:
    """Why ``path`` looks like a YOLO dataset (the registry's ``detect``), or None."""
    if path.is_file():
        if path.suffix.lower() in (".yaml", ".yml"):
            text = path.read_text("utf-8", errors="replace") if path.stat().st_size < 1_000_000 else ""
            return (
                "an Ultralytics data.yaml"
                if re.search(r"^names\s*:", text, re.M) or re.search(r"^nc\s*:", text, re.M)
                else None
            )
        return "a darknet obj.data" if path.suffix.lower() == ".data" else None
    if not path.is_dir():
        return None
    children = _children(path)  # listed once: the folder may hold 20,000 files
    if find_yaml(path, children):
        return "a folder with an Ultralytics data.yaml"
    if "obj.data" in children:
        return "a folder with a darknet obj.data"
    names_file = _names_file_in(children)
    pair = _pairs_in(path, children)
    if pair and (names_file or _has_txt(pair[1])):
        return f"{pair[0].name}/ and {pair[1].name}/ folders of YOLO .txt labels"
    if names_file and any(name.endswith(".txt") and name != names_file.name.lower() for name in children):
        return f"YOLO .txt labels beside the images with {names_file.name} (LabelImg)"
    splits = _split_folders(path, children)
    names_file = (names_file or find_names_file(*splits)) if splits else None  # the root's is known already
    if names_file:
        return (
            f"{', '.join(s.name + '/' for s in splits)} folders of YOLO .txt labels beside the images with "
            f"{names_file.name} (Roboflow YOLO Darknet)"
        )
    return None


def find_layout(path: Path, report: Report, names_encoding: str | None = None) -> Layout:
    """The layout of a YOLO dataset at ``path`` (a folder, a data.yaml or an obj.data); ``names_encoding``:
    of obj.names / classes.txt files (UTF-8 when None)."""
    if path.is_file():
        if path.suffix.lower() in (".yaml", ".yml"):
            return ultralytics_layout(path, report)
        if path.suffix.lower() == ".data":
            return darknet_layout(path, report, names_encoding)
        if path.name.lower() in NAMES_FILES:
            path = path.parent
        else:
            raise InvalidInputError("expected a YOLO folder, a data.yaml or an obj.data", file=path)
    yaml_file = find_yaml(path)
    if yaml_file:
        return ultralytics_layout(yaml_file, report)
    if (path / "obj.data").is_file():
        return darknet_layout(path / "obj.data", report, names_encoding)
    layout = folder_layout(path, report, names_encoding) or labelimg_layout(path, names_encoding)
    if layout.names.source is None:
        report.warn(
            f"{path}: no class names file (data.yaml, obj.names or classes.txt); classes are named by their index"
        )
    return layout
