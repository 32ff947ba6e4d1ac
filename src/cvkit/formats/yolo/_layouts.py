"""Where a YOLO dataset keeps its images, labels and class names.

Four layouts are found, each as its tools write it:

- Ultralytics: ``data.yaml`` (``path``, ``train``/``val``/``test`` as folders, ``.txt`` lists or
  lists of either, ``names`` as list or ``{id: name}``, ``nc``); labels found by replacing the
  last ``images`` folder of an image path with ``labels`` (Ultralytics' rule), else beside it;
- darknet: ``obj.data`` (``key = value``), ``obj.names``, ``train.txt`` lists whose paths start
  with ``data/`` (the darknet working folder), labels beside the images (CVAT, datumaro "strict");
- folder pairs: ``images/<split>/x.jpg`` with ``labels/<split>/x.txt`` (also ``Images``/``Annotations``,
  and ``<split>/images`` with ``<split>/labels``) and a names file (``obj.names``, ``classes.txt``);
- LabelImg: label ``.txt`` files beside the images with ``classes.txt``.

Each layout becomes a list of :class:`Source`: a split and the (image, label file) pairs in it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cvkit.core.imageinfo import IMAGE_EXTENSIONS
from cvkit.core.report import Report
from cvkit.errors import InvalidInputError

from ._labels import ClassNames, UniqueStems

YAML_NAMES = ("data.yaml", "dataset.yaml", "data.yml", "dataset.yml")
NAMES_FILES = ("obj.names", "classes.txt", "classes.names", "coco.names")
IMAGE_DIRS = ("images", "jpegimages")
LABEL_DIRS = ("labels", "annotations")
#: data.yaml keys that are not splits (Ultralytics, YOLOv5, Roboflow exports)
YAML_RESERVED = {"path", "names", "nc", "download", "kpt_shape", "flip_idx", "kpt_names", "channels", "yaml_file", "roboflow", "labels", "text_val"}
#: obj.data keys that are not split lists (darknet)
DARKNET_RESERVED = {"classes", "names", "backup", "eval", "results", "map", "top", "labels"}
SPLIT_KEYS = ("train", "val", "test", "minival")
_IMAGE_SUFFIXES = frozenset(IMAGE_EXTENSIONS)



@dataclass
class Source:
    """One split's images, each with the label files to try in order (the first that exists wins)."""

    split: str | None
    pairs: Callable[[], Iterator[tuple[str, list[str]]]]
    #: identity used to read a folder or list once when two splits name it
    key: str = ""


@dataclass
class Layout:
    kind: str
    root: Path
    names: ClassNames
    sources: list[Source] = field(default_factory=list)


# --- file helpers ------------------------------------------------------------------
def _children(folder: Path) -> dict[str, Path]:
    """Entries of ``folder`` by lower-case name (empty when it is not a folder)."""
    try:
        return {entry.name.lower(): Path(entry.path) for entry in os.scandir(folder)}
    except (FileNotFoundError, NotADirectoryError):
        return {}


def is_image(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in _IMAGE_SUFFIXES


def scan_images(folder: Path, recursive: bool = True) -> list[str]:
    """Image file paths under ``folder``, sorted (recursive, as Ultralytics globs ``**/*.*``).

    Plain strings, not Path objects: this runs per file, and pathlib costs more than the read.
    """
    found: list[str] = []
    stack = [str(folder)]
    while stack:
        current = stack.pop()
        with os.scandir(current) as entries:
            for entry in entries:
                if entry.is_dir():
                    if recursive:
                        stack.append(entry.path)
                elif is_image(entry.name):
                    found.append(entry.path)
    found.sort()
    return found


def read_names_file(path: Path) -> ClassNames:
    """One class name per line (blank lines skipped, as datumaro and LabelImg read them)."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInputError("class names file is not UTF-8 text", file=path) from None
    names = [line.strip() for line in text.splitlines() if line.strip()]
    seen: dict[str, int] = {}
    for number, name in enumerate(names, 1):
        if name in seen:
            raise InvalidInputError(f"class name {name!r} appears twice (also line {seen[name]})", file=path, location=f"line {number}")
        seen[name] = number
    return ClassNames(names, path.name)


def ultralytics_label(image: str) -> str:
    """Ultralytics' rule: the last ``/images/`` of the path becomes ``/labels/``, the suffix ``.txt``."""
    sa, sb = f"{os.sep}images{os.sep}", f"{os.sep}labels{os.sep}"
    return os.path.splitext(sb.join(image.rsplit(sa, 1)))[0] + ".txt"


def label_candidates(image: str) -> list[str]:
    """Label files for an image: by the images->labels rule, then beside the image."""
    beside = os.path.splitext(image)[0] + ".txt"
    by_rule = ultralytics_label(image)
    return [by_rule, beside] if by_rule != beside else [beside]


# --- folder pairs and LabelImg ------------------------------------------------------
def _pair_source(split: str | None, image_dir: Path, label_dir: Path, recursive: bool = True) -> Source:
    def pairs() -> Iterator[tuple[str, list[str]]]:
        base = len(str(image_dir)) + 1
        labels = str(label_dir) + os.sep
        for image in scan_images(image_dir, recursive):
            yield image, [labels + os.path.splitext(image[base:])[0] + ".txt"]

    return Source(split, pairs, str(image_dir))


def _pairs_in(folder: Path) -> tuple[Path, Path] | None:
    """(images folder, labels folder) directly inside ``folder``, if both exist."""
    children = _children(folder)
    images = next((children[n] for n in IMAGE_DIRS if n in children and children[n].is_dir()), None)
    labels = next((children[n] for n in LABEL_DIRS if n in children and children[n].is_dir()), None)
    return (images, labels) if images and labels else None


def _has_txt(folder: Path, depth: int = 2) -> bool:
    """Whether ``folder`` (or a sub-folder, ``depth`` levels down) holds a .txt file."""
    for entry in _children(folder).values():
        if entry.suffix.lower() == ".txt" and entry.name.lower() not in NAMES_FILES:
            return True
    return depth > 0 and any(_has_txt(sub, depth - 1) for sub in _children(folder).values() if sub.is_dir())


def find_names_file(*folders: Path) -> Path | None:
    for folder in folders:
        children = _children(folder)
        for name in NAMES_FILES:
            if name in children and children[name].is_file():
                return children[name]
        for name, path in children.items():
            if name.endswith(".names") and path.is_file():
                return path
    return None


def folder_layout(root: Path) -> Layout | None:
    """images/ + labels/ (split sub-folders inside, or ``<split>/images`` + ``<split>/labels``)."""
    pair = _pairs_in(root)
    sources: list[Source] = []
    label_dirs: list[Path] = []
    if pair:
        image_dir, label_dir = pair
        label_dirs.append(label_dir)
        subdirs = sorted(p for p in _children(image_dir).values() if p.is_dir())
        loose = any(is_image(p.name) for p in _children(image_dir).values())
        if loose or not subdirs:
            sources.append(_pair_source(None, image_dir, label_dir, recursive=False))
        for sub in subdirs:
            sources.append(_pair_source(sub.name, sub, label_dir / sub.name))
    else:
        for sub in sorted(p for p in _children(root).values() if p.is_dir()):
            inner = _pairs_in(sub)
            if inner:
                label_dirs.append(inner[1])
                sources.append(_pair_source(sub.name, inner[0], inner[1]))
    if not sources:
        return None
    names_file = find_names_file(root, *label_dirs)
    names = read_names_file(names_file) if names_file else ClassNames([], None)
    return Layout("folders", root, names, sources)


def labelimg_layout(root: Path) -> Layout:
    """Label files beside the images in one folder, ``classes.txt`` with them (LabelImg's YOLO mode)."""
    names_file = find_names_file(root)
    names = read_names_file(names_file) if names_file else ClassNames([], None)

    def pairs() -> Iterator[tuple[str, list[str]]]:
        for image in scan_images(root, recursive=False):
            yield image, [os.path.splitext(image)[0] + ".txt"]

    return Layout("labelimg", root, names, [Source(None, pairs, str(root))])


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


def _list_source(split: str, list_file: Path, root: Path, labels_dir: Path | None) -> Source:
    def pairs() -> Iterator[tuple[str, list[str]]]:
        stems = UniqueStems()
        text = list_file.read_bytes().decode("utf-8-sig")
        for line in text.splitlines():
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            image = resolve_listed(line, list_file.parent, root)
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
def _yaml_names(data: dict[str, Any], file: Path) -> ClassNames:
    names = data.get("names")
    nc = data.get("nc")
    if names is None:
        if nc is None:
            raise InvalidInputError("no 'names' (and no 'nc'): the class names are unknown", file=file, location="names")
        if not isinstance(nc, int) or nc < 0:
            raise InvalidInputError(f"nc must be a whole number, got {nc!r}", file=file, location="nc")
        return ClassNames([f"class_{i}" for i in range(nc)], file.name)  # what Ultralytics does
    if isinstance(names, dict):
        try:
            by_index = {int(k): str(v) for k, v in names.items()}
        except (TypeError, ValueError):
            raise InvalidInputError("names as a mapping must be {class id: name}", file=file, location="names") from None
        if sorted(by_index) != list(range(len(by_index))):
            raise InvalidInputError(f"class ids in names must run 0..{len(by_index) - 1}, got {sorted(by_index)}", file=file, location="names")
        listed = [by_index[i] for i in range(len(by_index))]
    elif isinstance(names, list):
        listed = [str(n) for n in names]
    else:
        raise InvalidInputError("names must be a list or a {class id: name} mapping", file=file, location="names")
    if isinstance(nc, int) and nc != len(listed):
        raise InvalidInputError(f"nc is {nc} but names lists {len(listed)} classes", file=file, location="nc")
    duplicates = sorted({n for n in listed if listed.count(n) > 1})
    if duplicates:
        raise InvalidInputError(f"class name {duplicates[0]!r} appears twice", file=file, location="names")
    return ClassNames(listed, file.name)


def load_yaml(file: Path) -> dict[str, Any]:
    import yaml

    try:
        data = yaml.safe_load(file.read_bytes().decode("utf-8-sig"))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        raise InvalidInputError(f"not valid YAML ({exc.problem})", file=file, location=f"line {mark.line + 1}" if mark else None) from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"not valid YAML ({exc.__class__.__name__})", file=file) from None
    if not isinstance(data, dict):
        raise InvalidInputError("expected a mapping with train/val and names", file=file)
    return data


def _kpt_shape(data: dict[str, Any], file: Path) -> tuple[int, int] | None:
    shape = data.get("kpt_shape")
    if shape is None:
        return None
    if not (isinstance(shape, list) and len(shape) == 2 and all(isinstance(v, int) for v in shape) and shape[0] > 0 and shape[1] in (2, 3)):
        raise InvalidInputError(f"kpt_shape must be [number of keypoints, 2 or 3], got {shape!r}", file=file, location="kpt_shape")
    return shape[0], shape[1]


def _flip_idx(data: dict[str, Any], file: Path, points: int) -> list[int] | None:
    """``flip_idx``: for each keypoint, its mirror under a horizontal flip (Ultralytics' fliplr needs it)."""
    flip = data.get("flip_idx")
    if flip is None:
        return None
    if not (isinstance(flip, list) and len(flip) == points and all(isinstance(v, int) and 0 <= v < points for v in flip)):
        raise InvalidInputError(f"flip_idx must list {points} keypoint indices (one per keypoint of kpt_shape), got {flip!r}", file=file,
                                location="flip_idx")
    return flip


def _kpt_names(data: dict[str, Any], file: Path, points: int, classes: int) -> dict[int, list[str]]:
    """``kpt_names`` (newer Ultralytics pose YAMLs): class index -> its keypoints' names, as a mapping or a list of lists."""
    raw = data.get("kpt_names")
    if raw is None:
        return {}
    items = raw.items() if isinstance(raw, dict) else enumerate(raw) if isinstance(raw, list) else None
    out: dict[int, list[str]] = {}
    for index, names in items or ():
        if not (isinstance(index, int) and 0 <= index < classes and isinstance(names, list) and len(names) == points):
            items = None
            break
        out[index] = [str(n) for n in names]
    if items is None:
        raise InvalidInputError(f"kpt_names must give each class index a list of {points} keypoint names, got {raw!r}", file=file,
                                location="kpt_names")
    return out


def ultralytics_layout(file: Path, report: Report) -> Layout:
    data = load_yaml(file)
    names = _yaml_names(data, file)
    names.kpt_shape = _kpt_shape(data, file)
    if names.kpt_shape is not None:
        names.flip_idx = _flip_idx(data, file, names.kpt_shape[0])
        names.kpt_names = _kpt_names(data, file, names.kpt_shape[0], len(names.names))
    root = file.parent
    if isinstance(data.get("path"), str) and data["path"].strip():
        wanted = Path(data["path"]).expanduser()
        found = next((p for p in ([wanted] if wanted.is_absolute() else [file.parent / wanted, Path.cwd() / wanted]) if p.is_dir()), None)
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
            target = _yaml_target(entry, root)
            if target is None:
                if key in SPLIT_KEYS:
                    raise InvalidInputError(f"{entry!r} not found (looked in {root})", file=file, location=key)
                continue  # an unknown key whose value is no path: not a split
            if target.is_dir():
                layout.sources.append(_folder_source(key, target))
            else:
                layout.sources.append(_list_source(key, target, root, labels_dir / key if labels_dir else None))
    return layout


def _yaml_target(entry: str, root: Path) -> Path | None:
    """A split entry as Ultralytics resolves it (``../x`` also tried as ``x``)."""
    path = Path(entry).expanduser()
    candidates = [path] if path.is_absolute() else [root / entry]
    if entry.startswith("../"):
        candidates.append(root / entry[3:])
    return next((Path(os.path.normpath(c)) for c in candidates if c.exists()), None)


# --- darknet obj.data --------------------------------------------------------------
def darknet_layout(file: Path, report: Report) -> Layout:
    root = file.parent
    config: dict[str, tuple[str, int]] = {}
    for number, line in enumerate(file.read_bytes().decode("utf-8-sig").splitlines(), 1):
        match = re.match(r"^\s*(\w+)\s*=\s*(.+?)\s*$", line)
        if match:
            config[match.group(1)] = (match.group(2), number)
    if "names" not in config:
        raise InvalidInputError("no 'names = <file>' line: the class names are unknown", file=file)
    names_file = resolve_listed(config["names"][0], root, root)
    if not names_file.is_file():
        raise InvalidInputError(f"names file {config['names'][0]!r} not found", file=file, location=f"line {config['names'][1]}")
    names = read_names_file(names_file)
    if "classes" in config and config["classes"][0].isdigit() and int(config["classes"][0]) != len(names.names):
        report.warn(f"{file}: classes = {config['classes'][0]} but {names_file.name} lists {len(names.names)} names; using the names")
    layout = Layout("darknet", root, names)
    for key, (value, number) in config.items():
        if key in DARKNET_RESERVED:
            continue
        list_file = resolve_listed(value, root, root)
        if not list_file.is_file():
            raise InvalidInputError(f"{key} list {value!r} not found", file=file, location=f"line {number}")
        layout.sources.append(_list_source(key, list_file, root, None))
    return layout


# --- detection ----------------------------------------------------------------------
def find_yaml(folder: Path) -> Path | None:
    """A data.yaml in ``folder`` (by its usual names, else any YAML with ``names`` and ``train``)."""
    children = _children(folder)
    for name in YAML_NAMES:
        if name in children and children[name].is_file():
            return children[name]
    for name, path in sorted(children.items()):
        if name.endswith((".yaml", ".yml")) and path.is_file() and path.stat().st_size < 1_000_000:
            text = path.read_text("utf-8", errors="replace")
            if re.search(r"^names\s*:", text, re.M) and re.search(r"^(train|val)\s*:", text, re.M):
                return path
    return None


def describe(path: Path) -> str | None:
    """Why ``path`` looks like a YOLO dataset (the registry's ``detect``), or None."""
    if path.is_file():
        if path.suffix.lower() in (".yaml", ".yml"):
            text = path.read_text("utf-8", errors="replace") if path.stat().st_size < 1_000_000 else ""
            return "an Ultralytics data.yaml" if re.search(r"^names\s*:", text, re.M) or re.search(r"^nc\s*:", text, re.M) else None
        return "a darknet obj.data" if path.suffix.lower() == ".data" else None
    if not path.is_dir():
        return None
    if find_yaml(path):
        return "a folder with an Ultralytics data.yaml"
    children = _children(path)
    if "obj.data" in children:
        return "a folder with a darknet obj.data"
    names_file = find_names_file(path)
    pair = _pairs_in(path)
    if pair and (names_file or _has_txt(pair[1])):
        return f"{pair[0].name}/ and {pair[1].name}/ folders of YOLO .txt labels"
    if names_file and any(p.suffix.lower() == ".txt" and p != names_file for p in children.values()):
        return f"YOLO .txt labels beside the images with {names_file.name} (LabelImg)"
    return None


def find_layout(path: Path, report: Report) -> Layout:
    """The layout of a YOLO dataset at ``path`` (a folder, a data.yaml or an obj.data)."""
    if path.is_file():
        if path.suffix.lower() in (".yaml", ".yml"):
            return ultralytics_layout(path, report)
        if path.suffix.lower() == ".data":
            return darknet_layout(path, report)
        if path.name.lower() in NAMES_FILES:
            path = path.parent
        else:
            raise InvalidInputError("expected a YOLO folder, a data.yaml or an obj.data", file=path)
    yaml_file = find_yaml(path)
    if yaml_file:
        return ultralytics_layout(yaml_file, report)
    if (path / "obj.data").is_file():
        return darknet_layout(path / "obj.data", report)
    layout = folder_layout(path)
    if layout is None:
        layout = labelimg_layout(path)
    if layout.names.source is None:
        report.warn(f"{path}: no class names file (data.yaml, obj.names or classes.txt); classes are named by their index")
    return layout
