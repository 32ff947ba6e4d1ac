"""What the ImageNet layouts share: WNIDs, synset name lists, the devkit meta.mat, box XMLs, fast folder walks.

Category ids (docs/formats.md, "ImageNet"): the devkit's ILSVRC2012_ID when a ``meta.mat``
is known; else the 1-based line number of an ordered synset list (``LOC_synset_mapping.txt``,
``synsets.txt``); else the 1-based position in sorted-WNID order. Categories are always
listed in sorted-WNID order, so their 0-based position is the class index torchvision's
``ImageFolder`` and the Kaggle mapping use.
"""

from __future__ import annotations

import io
import os
import re
import tarfile
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cvkit.core import validate_values
from cvkit.core.categories import Category, CategorySet, Hierarchy
from cvkit.core.geometry import voc_to_box
from cvkit.core.imageinfo import IMAGE_EXTENSIONS
from cvkit.core.model import Annotation, Sample
from cvkit.core.report import Report
from cvkit.errors import CvkitError, InvalidInputError
from cvkit.io import read_utf8_text

WNID = re.compile(r"^n\d{8}$")
IMAGE_SUFFIXES = frozenset(IMAGE_EXTENSIONS)
#: Files that name synsets, looked for beside the data when no ``synsets=`` option is given.
SYNSET_FILES = (
    "LOC_synset_mapping.txt",
    "synset_words.txt",
    "words.txt",
    "imagenet_synset_to_lemma.txt",
    "synsets.txt",
)
DEVKIT_PLACES = ("ILSVRC2012_devkit_t12/data/meta.mat", "devkit/data/meta.mat", "data/meta.mat", "meta.mat")
#: the devkit archive as downloaded: torchvision's ``ImageNet(root)`` keeps it beside ``train/``, ``val/`` and
#: ``meta.bin`` (it unpacks it to a temporary folder only), so ``meta.mat`` is read from inside it
DEVKIT_ARCHIVE = "ILSVRC2012_devkit_t12.tar.gz"
DEVKIT_DATA = "ILSVRC2012_devkit_t12/data/"


def is_wnid(name: str) -> bool:
    return WNID.match(name) is not None


def is_image_name(name: str) -> bool:
    dot = name.rfind(".")
    return dot > 0 and name[dot:].lower() in IMAGE_SUFFIXES


def parse_bool(value: Any, option: str) -> bool:
    """A reader option given as true/false (the CLI passes JSON, so bools or strings)."""
    if isinstance(value, bool):
        return value
    if str(value).lower() in ("1", "true", "yes"):
        return True
    if str(value).lower() in ("0", "false", "no"):
        return False
    raise CvkitError(f"option {option} must be true or false (got {value!r})")


def wnid_dirs(folder: Path) -> list[str]:
    """Sorted names of the WNID-named sub-folders of ``folder``."""
    try:
        with os.scandir(folder) as it:
            return sorted(e.name for e in it if is_wnid(e.name) and e.is_dir())
    except (FileNotFoundError, NotADirectoryError):
        return []


def walk_images(folder: str, rel: str) -> Iterator[str]:
    """Relative POSIX paths of the images under ``folder``, recursively, like torchvision.

    One ``os.scandir`` per folder and no ``stat``: the directory entry's type says what
    is a folder, the name's suffix what is an image (case-insensitive, as torchvision).
    Hidden names are skipped: macOS's ``._x.JPEG`` AppleDouble twins are no images, and
    ``.ipynb_checkpoints`` holds copies. Files come sorted by name, then sub-folders in sorted order.
    """
    try:
        with os.scandir(folder) as it:
            entries = sorted((e.name, e.is_dir()) for e in it if e.name[0] != ".")
    except (FileNotFoundError, NotADirectoryError):
        return
    subdirs = []
    prefix = f"{rel}/" if rel else ""
    suffixes = IMAGE_SUFFIXES
    for name, is_dir in entries:
        if is_dir:
            subdirs.append(name)
        else:
            dot = name.rfind(".")  # is_image_name, inlined: this loop runs 1.28M times for ILSVRC train
            if dot > 0 and name[dot:].lower() in suffixes:
                yield prefix + name
    for name in subdirs:
        yield from walk_images(f"{folder}/{name}", f"{rel}/{name}" if rel else name)


# --- synset names ----------------------------------------------------------------------------
@dataclass
class SynsetList:
    """Lemmas per WNID and, for ordered lists (one synset a line), the order."""

    names: dict[str, str] = field(default_factory=dict)
    ordered: list[str] | None = None
    source: Path | None = None


def read_synset_file(path: Path) -> SynsetList:
    """``words.txt`` (``wnid<TAB>lemmas``), ``LOC_synset_mapping.txt`` / ``synset_words.txt``
    (``wnid lemmas``, ordered: line i is class i) or a bare WNID list (ordered).

    ``words.txt`` and ``imagenet_synset_to_lemma.txt`` cover all of WordNet, so their order is
    not a class order.
    """
    result = SynsetList(source=path)
    order: list[str] = []
    try:
        text = read_utf8_text(path)
    except FileNotFoundError:
        raise CvkitError("synset list not found", file=path) from None
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        wnid, _, lemmas = line.replace("\t", " ", 1).partition(" ")
        if not is_wnid(wnid):
            raise InvalidInputError(
                f"expected a WNID such as n01440764 at the start of the line, got {wnid!r}",
                file=path,
                location=f"line {number}",
            )
        order.append(wnid)
        if lemmas.strip():
            result.names[wnid] = lemmas.strip()
    if path.name not in ("words.txt", "imagenet_synset_to_lemma.txt"):
        result.ordered = order
    return result


def find_synset_file(*folders: Path) -> Path | None:
    for folder in folders:
        for name in SYNSET_FILES:
            if (folder / name).is_file():
                return folder / name
    return None


# --- the ILSVRC2012 devkit ---------------------------------------------------------------------
@dataclass
class Devkit:
    """The synsets of ``meta.mat``: ids, lemmas, and the child -> parents tree."""

    path: Path
    wnid_by_id: dict[int, str]
    id_by_wnid: dict[str, int]
    words: dict[str, str]
    leaves: list[str]
    hierarchy: Hierarchy


def _scalar(value: Any) -> Any:
    """Unwrap the 0-d / 1-element arrays scipy.io.loadmat returns for MATLAB scalars."""
    while hasattr(value, "shape") and value.shape in ((), (1,), (1, 1)):
        value = value.item() if value.shape == () else value.reshape(-1)[0]
    return value


def _int_list(value: Any) -> list[int]:
    import numpy as np

    return [int(v) for v in np.asarray(value).reshape(-1)]


def load_devkit(path: Path) -> Devkit:
    """Read ``meta.mat``'s ``synsets`` struct array with scipy (ids are the devkit's own order)."""
    try:
        import scipy.io
    except ImportError as exc:  # pragma: no cover - scipy is a core dependency
        raise CvkitError(f"reading meta.mat needs scipy ({exc})") from None
    try:
        mat = scipy.io.loadmat(_mat_file(path), squeeze_me=False)
    except FileNotFoundError:
        raise CvkitError("devkit meta.mat not found", file=path) from None
    except Exception as exc:  # scipy raises ValueError/TypeError/... for files that are not MAT
        raise InvalidInputError(f"not a readable MATLAB file ({exc.__class__.__name__}: {exc})", file=path) from None
    synsets = mat.get("synsets")
    if synsets is None or synsets.dtype.names is None:
        raise InvalidInputError("no 'synsets' struct array (expected the ILSVRC2012 devkit's data/meta.mat)", file=path)
    missing = {"ILSVRC2012_ID", "WNID"} - set(synsets.dtype.names)
    if missing:
        raise InvalidInputError(f"'synsets' lacks the field(s) {', '.join(sorted(missing))}", file=path)
    has = set(synsets.dtype.names)
    wnid_by_id: dict[int, str] = {}
    words: dict[str, str] = {}
    children: dict[str, list[int]] = {}
    row_of: dict[str, int] = {}
    for row, entry in enumerate(synsets.reshape(-1)):
        ident, wnid = int(_scalar(entry["ILSVRC2012_ID"])), str(_scalar(entry["WNID"]))
        if not is_wnid(wnid):
            raise InvalidInputError(f"WNID {wnid!r} is not a WordNet noun id", file=path, location=f"synsets[{row}]")
        wnid_by_id[ident] = wnid
        row_of[wnid] = row
        if "words" in has:
            words[wnid] = str(_scalar(entry["words"]))
        children[wnid] = _int_list(entry["children"]) if "children" in has else []
    hierarchy = Hierarchy()
    for wnid, kids in children.items():
        node = hierarchy.node(wnid)
        node.display_name = words.get(wnid)
        where = f"synsets[{row_of[wnid]}].children"
        for kid in kids:
            if kid not in wnid_by_id:
                raise InvalidInputError(
                    f"child ILSVRC2012_ID {kid} is not a synset in the file", file=path, location=where
                )
            try:
                hierarchy.add_edge(wnid_by_id[kid], wnid)
            except CvkitError as exc:  # a synset listed as its own child
                raise InvalidInputError(exc.message, file=path, location=where) from None
    hierarchy.check_acyclic()
    leaves = sorted(w for w, kids in children.items() if not kids)
    return Devkit(path, wnid_by_id, {w: i for i, w in wnid_by_id.items()}, words, leaves, hierarchy)


def is_archive(path: Path) -> bool:
    return path.name.endswith((".tar.gz", ".tgz", ".tar"))


def devkit_member(archive: Path, name: str, required: bool = True) -> bytes | None:
    """The bytes of ``data/<name>`` inside the devkit archive (None when absent and not ``required``)."""
    try:
        with tarfile.open(archive) as tar:
            member = tar.extractfile(DEVKIT_DATA + name)
            if member is None:
                raise KeyError(name)
            return member.read()
    except KeyError:
        if not required:
            return None
        raise InvalidInputError(f"no {DEVKIT_DATA}{name} in the archive", file=archive) from None
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise InvalidInputError(f"not a readable devkit archive ({exc})", file=archive) from None


def _mat_file(path: Path) -> str | io.BytesIO:
    """``meta.mat`` itself, or its bytes from inside the devkit archive."""
    return io.BytesIO(devkit_member(path, "meta.mat") or b"") if is_archive(path) else str(path)


def find_devkit(*folders: Path) -> Path | None:
    """``meta.mat`` in one of :data:`DEVKIT_PLACES`, else the devkit archive, of the first folder holding one."""
    for folder in folders:
        for place in (*DEVKIT_PLACES, DEVKIT_ARCHIVE):
            if (folder / place).is_file():
                return folder / place
    return None


def build_categories(wnids: list[str], devkit: Devkit | None, synsets: SynsetList | None) -> CategorySet:
    """Categories in sorted-WNID order with ids as the module docstring says."""
    names = dict(synsets.names) if synsets else {}
    if devkit is not None:
        names.update(devkit.words)
        wanted = sorted(set(devkit.leaves) | set(wnids))
        ids = devkit.id_by_wnid
    elif synsets is not None and synsets.ordered:
        wanted = sorted(set(synsets.ordered) | set(wnids))
        ids = {w: i + 1 for i, w in enumerate(synsets.ordered)}
    else:
        wanted = sorted(set(wnids))
        ids = {w: i + 1 for i, w in enumerate(wanted)}
    cats = CategorySet()
    next_id = max(ids.values(), default=0) + 1
    for wnid in wanted:
        ident = ids.get(wnid)
        if ident is None:
            ident, next_id = next_id, next_id + 1
        cats.add(Category(ident, wnid, names.get(wnid)))
    return cats


def build_hierarchy(devkit: Devkit | None) -> Hierarchy:
    return devkit.hierarchy if devkit is not None else Hierarchy()


# --- bounding-box XMLs -----------------------------------------------------------------------
def _text(element: ET.Element, tag: str) -> str | None:
    found = element.find(tag)
    return found.text.strip() if found is not None and found.text else None


def parse_box_xml(path: Path) -> tuple[str, int | None, int | None, list[Annotation]]:
    """An ILSVRC box XML (Pascal VOC layout, WNID names, ``<filename>`` without extension).

    Returns ``(filename, width, height, objects)``; boxes are VOC 1-based inclusive
    pixel indices, converted with :func:`voc_to_box`.
    """
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise InvalidInputError(f"malformed XML ({exc})", file=path) from None
    filename = _text(root, "filename") or path.stem
    width = height = None
    size = root.find("size")
    objects: list[Annotation] = []
    try:
        if size is not None:
            width, height = validate_values.image_size(
                int(_text(size, "width") or 0), int(_text(size, "height") or 0), path, "size"
            )
        for index, obj in enumerate(root.iter("object")):
            name = _text(obj, "name")
            box = obj.find("bndbox")
            if not name or box is None:
                raise InvalidInputError("object without <name> or <bndbox>", file=path, location=f"object[{index}]")
            coords = [float(_text(box, tag) or "nan") for tag in ("xmin", "ymin", "xmax", "ymax")]
            if any(c != c for c in coords):
                raise InvalidInputError(
                    "<bndbox> lacks one of xmin, ymin, xmax, ymax", file=path, location=f"object[{index}]"
                )
            attributes: dict[str, Any] = {}
            for flag in ("truncated", "difficult", "occluded"):
                value = _text(obj, flag)
                if value is not None:
                    attributes[flag] = value == "1"
            pose = _text(obj, "pose")
            if pose and pose != "Unspecified":
                attributes["pose"] = pose
            box = validate_values.box(voc_to_box(*coords), path, f"object[{index}]/bndbox")  # finite, not inverted
            objects.append(Annotation(name, box, attributes=attributes))
    except ValueError as exc:
        raise InvalidInputError(f"not a number ({exc})", file=path) from None
    return filename, width, height, objects


def index_box_xmls(folder: Path) -> dict[str, Path]:
    """Image stem -> XML path for every ``*.xml`` under ``folder`` (the stem is the image's)."""
    found: dict[str, Path] = {}
    for dirpath, _dirs, files in os.walk(folder):
        for name in files:
            if name.lower().endswith(".xml"):
                found[name[:-4]] = Path(dirpath) / name
    return found


def attach_boxes(sample: Sample, xml: Path, report: Report, categories: CategorySet) -> None:
    """Give ``sample`` the objects (and size) of its box XML; bad XMLs go through ``report.invalid``."""
    try:
        _name, width, height, objects = parse_box_xml(xml)
    except InvalidInputError as err:
        report.invalid(err)
        return
    for obj in objects:
        categories.ensure(obj.label)
    sample.objects.extend(objects)
    if sample.width is None and width and height:
        sample.width, sample.height = width, height
