"""Pascal VOC XML: devkit trees, flat folders (LabelImg), per-split folders (Roboflow), no-ImageSets trees.

Coordinates: VOC stores 1-based inclusive pixel indices. By default a box
``xmin..xmax`` becomes ``x = xmin - 1, w = xmax - xmin + 1`` (VOC devkit, detectron2) and
writing inverts it exactly; reader/writer option ``one_based=false`` keeps raw values
for producers that wrote 0-based boxes. See docs/coordinates.md.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lxml import etree

from cvkit.core.categories import Category, CategorySet
from cvkit.core.geometry import box_to_voc, clean_number, voc_to_box
from cvkit.core.imageinfo import find_image, read_image_info
from cvkit.core.model import Annotation, Dataset, Sample
from cvkit.core.parallel import can_fork, chunked, ordered_map
from cvkit.core.progress import track
from cvkit.core.report import Report
from cvkit.core.transport import pack_annotation
from cvkit.errors import CvkitError, InvalidInputError
from cvkit.io import files_in, place_image, read_small_file, relpath_posix

#: Split list names that are unions of others; an image keeps its most specific split.
UNION_SPLITS = ("trainval",)
SPLIT_FOLDERS = ("train", "valid", "val", "test", "trainval")
BOOL_TAGS = ("difficult", "truncated", "occluded")
#: Below this many files parsing stays in-process: worker start-up would cost more than it saves.
PARALLEL_MIN_FILES = 4000


# --- layout discovery ----------------------------------------------------------------
def devkit_root(path: Path) -> Path | None:
    """The folder holding Annotations/ (``path`` itself or its single VOCxxxx child)."""
    if (path / "Annotations").is_dir():
        return path
    years = [p for p in sorted(path.iterdir()) if (p / "Annotations").is_dir()] if path.is_dir() else []
    return years[0] if len(years) == 1 else None


def _looks_like_voc_xml(path: Path) -> bool:
    """VOC XML has <bndbox> boxes (or no objects); MIT LabelMe XML, also <annotation>, has <polygon>/<imagesize>."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(1 << 16)
    except OSError:
        return False
    if b"<annotation" not in data or b"<imagesize" in data or b"<polygon" in data:
        return False
    return b"<bndbox" in data or (b"<object" not in data and (b"<filename" in data or b"<size" in data))


def detect(path: Path) -> str | None:
    if path.is_file():
        return "a Pascal VOC annotation XML" if path.suffix.lower() == ".xml" and _looks_like_voc_xml(path) else None
    if not path.is_dir():
        return None
    root = devkit_root(path)
    if root is not None:
        first = next(iter(files_in(root / "Annotations", ".xml", limit=1)), None)
        if (first is None and (root / "ImageSets").is_dir()) or (first is not None and _looks_like_voc_xml(first)):
            return f"devkit layout ({relpath_posix(root / 'Annotations', path)}/)"
        return None
    for folder in [path, *(path / name for name in SPLIT_FOLDERS)]:
        if folder.is_dir():
            xml = next(iter(files_in(folder, ".xml", limit=1)), None)
            if xml is not None and _looks_like_voc_xml(xml):
                return f"flat folder of VOC XML ({relpath_posix(xml, path)})"
    return None


def _read_split_lists(root: Path) -> dict[str, str]:
    """Image id -> split from ImageSets/Main/<split>.txt (class lists like cat_train.txt ignored)."""
    main = root / "ImageSets" / "Main"
    if not main.is_dir():
        return {}
    membership: dict[str, str] = {}
    lists = sorted((p for p in main.glob("*.txt") if not _is_class_list(p)), key=lambda p: (p.stem in UNION_SPLITS, p.stem))
    for list_file in lists:
        split, text = list_file.stem, list_file.read_text(encoding="utf-8")
        if "#" in text or " " in text or "\t" in text:  # comments or extra columns: the first word of each line
            ids = [words[0] for words in (raw.split("#", 1)[0].split() for raw in text.splitlines()) if words]
        else:  # one id a line, as the devkit writes them
            ids = text.split()
        for image_id in ids:
            membership.setdefault(image_id, split)
    return membership


def _is_class_list(path: Path) -> bool:
    """``<class>_<split>.txt`` of the devkit: lines ``<id> -1|0|1``. A split named with an underscore
    (``train_2023.txt``, one id a line) is a split list, not a class list."""
    if "_" not in path.stem:
        return False
    with open(path, "rb") as handle:
        first = next((line.split() for line in handle if line.strip() and not line.startswith(b"#")), [])
    return len(first) == 2 and first[1] in (b"-1", b"0", b"1")


def read_labelmap(root: Path) -> list[str]:
    """Category order from a datumaro-style labelmap.txt (``name:color:parts:actions``), if any."""
    path = root / "labelmap.txt"
    if not path.is_file():
        return []
    names = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            names.append(line.split(":", 1)[0].strip())
    return names


# --- parsing one file ------------------------------------------------------------------
#: One parser per process (creating one per file costs more than parsing a small file).
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True)


def _text(element: Any, tag: str) -> str | None:
    value = element.findtext(tag)
    return value.strip() if value is not None else None


def _children(element: Any) -> dict[str, Any]:
    """Tag -> first child element, in one pass (faster than repeated find())."""
    out: dict[str, Any] = {}
    for child in element:
        tag = child.tag
        if isinstance(tag, str) and tag not in out:
            out[tag] = child
    return out


def _flag(value: str | None) -> bool:
    """VOC flags: 1/0, true/false, yes/no; empty tags such as ``<difficult/>`` are false."""
    if not value:
        return False
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes"):
        return True
    if lowered in ("0", "false", "no", ""):
        return False
    return float(value) != 0


def _bndbox(box: Any, file: str | Path, where: str, one_based: bool) -> tuple[float, float, float, float]:
    if box is None:
        raise InvalidInputError("object has no <bndbox>", file=file, location=where)
    found = {child.tag: child.text for child in box}
    values = []
    for tag in ("xmin", "ymin", "xmax", "ymax"):
        raw = found.get(tag)
        if raw is None or not raw.strip():
            raise InvalidInputError(f"<bndbox> has no <{tag}>", file=file, location=f"{where}/bndbox/{tag}")
        try:
            values.append(float(raw))
        except ValueError:
            raise InvalidInputError(f"<{tag}> is not a number: {raw.strip()!r}", file=file, location=f"{where}/bndbox/{tag}") from None
    xmin, ymin, xmax, ymax = values
    if xmin < 0 or ymin < 0:
        raise InvalidInputError(f"negative box coordinate ({xmin:g}, {ymin:g})", file=file, location=f"{where}/bndbox")
    if xmax < xmin or ymax < ymin:
        raise InvalidInputError(f"inverted box: xmin={xmin:g} xmax={xmax:g} ymin={ymin:g} ymax={ymax:g}", file=file, location=f"{where}/bndbox")
    return voc_to_box(xmin, ymin, xmax, ymax, one_based)


def _object(element: Any, index: int, file: str | Path, one_based: bool) -> Annotation:
    where = f"object[{index}]"
    name = None
    box = None
    attributes: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for child in element:
        tag = child.tag
        if not isinstance(tag, str):
            continue
        if tag == "name":
            name = (child.text or "").strip()
        elif tag == "bndbox":
            box = child
        elif tag in BOOL_TAGS:
            try:
                attributes[tag] = _flag(child.text)
            except ValueError:
                raise InvalidInputError(f"<{tag}> is not 0/1: {child.text!r}", file=file, location=f"{where}/{tag}") from None
        elif tag == "pose":
            attributes["pose"] = (child.text or "").strip()
        elif tag == "part":
            parts = attributes.setdefault("parts", [])
            pwhere = f"{where}/part[{len(parts)}]"
            parts.append({"label": _text(child, "name") or "", "bbox": list(_bndbox(child.find("bndbox"), file, pwhere, one_based))})
        elif tag == "actions":
            attributes["actions"] = {a.tag: _flag(a.text) for a in child if isinstance(a.tag, str)}
        elif tag == "attributes":
            for attr in child.iter("attribute"):
                key = _text(attr, "name")
                if key:
                    attributes[key] = _parse_value(_text(attr, "value") or "")
        elif len(child) == 0:
            extra[tag] = (child.text or "").strip()
        else:  # another nested element, e.g. VOC2012's action <point><x/><y/></point>: kept for the writer
            extra[tag] = {c.tag: (c.text or "").strip() for c in child if isinstance(c.tag, str)}
    if not name:
        raise InvalidInputError("object has no <name>", file=file, location=f"{where}/name")
    ann = Annotation(name, _bndbox(box, file, where, one_based), attributes=attributes)
    if extra:
        ann.meta["voc"] = extra
    ann.iscrowd = bool(attributes.pop("iscrowd", False))
    score = attributes.get("score")  # the writer keeps a confidence as <attribute> score (as datumaro does)
    if isinstance(score, (int, float)) and not isinstance(score, bool):
        ann.score = float(attributes.pop("score"))
    return ann


def _parse_value(raw: str) -> Any:
    """Attribute values written by cvkit/datumaro: booleans and numbers come back typed."""
    lowered = raw.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    for kind in (int, float):
        try:
            return kind(raw)
        except ValueError:
            pass
    return raw


def parse_xml(file: str | Path, one_based: bool = True) -> tuple[str | None, int | None, int | None, list[Annotation], dict[str, Any]]:
    """One annotation file -> (filename, width, height, objects, image-level VOC fields)."""
    try:
        root = etree.fromstring(read_small_file(file), _PARSER)
    except etree.XMLSyntaxError as exc:
        line = exc.position[0] if exc.position else None
        raise InvalidInputError(f"malformed XML: {exc.msg}", file=file, location=f"line {line}" if line else None) from None
    except OSError as exc:
        raise InvalidInputError(f"cannot read: {exc.strerror or exc}", file=file) from None
    if root.tag != "annotation":
        raise InvalidInputError(f"root element is <{root.tag}>, expected <annotation>", file=file, location="line 1")
    width = height = None
    filename = None
    meta: dict[str, Any] = {}
    objects: list[Annotation] = []
    for child in root:
        tag = child.tag
        if tag == "object":
            objects.append(_object(child, len(objects), file, one_based))
        elif tag == "filename":
            filename = (child.text or "").strip() or None
        elif tag == "size":
            size = {c.tag: (c.text or "").strip() for c in child}
            try:
                width = int(float(size.get("width") or 0)) or None
                height = int(float(size.get("height") or 0)) or None
                if size.get("depth"):
                    meta["depth"] = int(float(size["depth"]))
            except ValueError:
                raise InvalidInputError("<size> holds a non-number", file=file, location="size") from None
        elif tag in ("folder", "path", "segmented"):
            if child.text and child.text.strip():
                meta[tag] = child.text.strip()
        elif tag == "source":
            meta["source"] = {c.tag: (c.text or "").strip() for c in child if isinstance(c.tag, str)}
    return filename, width, height, objects, meta


# --- reading -------------------------------------------------------------------------
def annotation_jobs(path: Path) -> tuple[Path, list[tuple[str | Path | None, str, str | None]]]:
    """(image root, [(xml file or None, image id, split)]) for every layout."""
    if path.is_file():
        return path.parent, [(path, path.stem, None)]
    devkit = devkit_root(path)
    if devkit is not None:
        splits = _read_split_lists(devkit)
        xml_ids = _xml_files_by_id(str(devkit / "Annotations"), "")
        ordered = sorted(set(splits) | set(xml_ids))
        return devkit, [(xml_ids.get(image_id), image_id, splits.get(image_id)) for image_id in ordered]
    jobs: list[tuple[str | Path | None, str, str | None]] = []
    split_dirs = [path / s for s in SPLIT_FOLDERS if files_in(path / s, ".xml", limit=1)]
    for folder in split_dirs or [path]:
        split = folder.name if split_dirs else None
        jobs.extend((xml, xml.stem, split) for xml in files_in(folder, ".xml"))
    return path, jobs


def _xml_files_by_id(folder: str, prefix: str) -> dict[str, str]:
    """Image id -> XML path under Annotations/, subfolders included: datumaro and CVAT write an item id
    ``city/a`` as ``Annotations/city/a.xml`` (plain strings: Path objects cost more than parsing here)."""
    found: dict[str, str] = {}
    with os.scandir(folder) as entries:
        for entry in entries:
            name = entry.name
            if name.lower().endswith(".xml"):
                found[prefix + name[:-4]] = entry.path
            elif entry.is_dir() and not name.startswith("."):
                found.update(_xml_files_by_id(entry.path, f"{prefix}{name}/"))
    return found


def _parse_job(job: tuple[str | Path | None, str, str | None, bool]) -> tuple[str, Any]:
    """Worker: parse one file; errors travel back as values so the parent decides."""
    file, _image_id, _split, one_based = job
    if file is None:
        return ("missing", None)
    try:
        return ("ok", parse_xml(file, one_based))
    except InvalidInputError as exc:
        return ("error", exc)


def _parse_chunk(jobs: list[tuple[str | Path | None, str, str | None, bool]]) -> list[tuple[str, Any]]:
    """Worker side: parse many files; annotations travel packed as tuples (:mod:`cvkit.core.transport`)."""
    out: list[tuple[str, Any]] = []
    for job in jobs:
        status, result = _parse_job(job)
        if status == "ok":
            filename, width, height, objects, meta = result
            result = (filename, width, height, [pack_annotation(o) for o in objects], meta)
        out.append((status, result))
    return out


def _from_plain(result: tuple[Any, ...]) -> tuple[Any, ...]:
    """Main side: rebuild the annotations a worker sent packed."""
    filename, width, height, objects, meta = result
    return filename, width, height, [Annotation(*packed) for packed in objects], meta


def _parsed(jobs: list[tuple[str | Path | None, str, str | None, bool]], workers: int) -> Iterator[tuple[str, Any]]:
    """Parse results in input order, on several processes when there are many files."""
    if workers <= 1 or len(jobs) < PARALLEL_MIN_FILES or not can_fork():
        yield from map(_parse_job, jobs)
        return
    for results in ordered_map(_parse_chunk, chunked(jobs, workers, smallest=64), workers):
        for status, result in results:
            yield status, (_from_plain(result) if status == "ok" else result)


def read(path: Path, report: Report, one_based: bool = True, workers: int | None = None) -> Dataset:
    """Stream samples from any VOC layout; categories follow labelmap.txt, else first appearance."""
    image_root, job_list = annotation_jobs(path)
    categories = CategorySet(Category(i + 1, name) for i, name in enumerate(read_labelmap(image_root)))
    workers = workers if workers is not None else (os.cpu_count() or 1)
    jobs = [(file, image_id, split, one_based) for file, image_id, split in job_list]
    image_folder = _devkit_image_folder(image_root) if (image_root / "Annotations").is_dir() else None
    folder_of = _ImageFolders(image_root, image_folder)

    def samples() -> Iterator[Sample]:
        for (file, image_id, split, _), (status, result) in zip(jobs, track(_parsed(jobs, workers), "reading VOC", len(jobs))):
            if status == "error":
                report.invalid(result)
                continue
            if status == "missing":
                sample = _listed_without_xml(image_root, image_folder, image_id, split, report)
                if sample is None:
                    continue
            else:
                filename, width, height, objects, meta = result
                rel_path = _image_path(image_root, folder_of(file), filename, image_id, meta.get("path"))
                sample = Sample(rel_path, width, height, split, objects=objects, id=image_id, meta={"voc": meta} if meta else {})
                if width is None or height is None:
                    _fill_size(sample, sample.resolve(image_root), report)
                for obj in objects:
                    if obj.label not in categories:
                        categories.ensure(obj.label)
            report.count_read(sample.split, len(sample.objects))
            yield sample
        report.read.categories = len(categories)

    return Dataset(samples(), categories, root=image_root, source_format="voc")


class _ImageFolders:
    """The images' folder (relative to the root, ``/``-terminated) for each XML file: the devkit's image
    folder, else the XML's own folder, whose relative form is computed once per folder."""

    def __init__(self, root: Path, devkit_folder: str | None):
        self.root, self.devkit_folder = str(root), devkit_folder
        self.cache: dict[str, str] = {}

    def __call__(self, xml_file: str | Path) -> str:
        if self.devkit_folder:
            return self.devkit_folder
        parent = os.fspath(xml_file).rpartition(os.sep)[0]
        folder = self.cache.get(parent)
        if folder is None:
            rel = os.path.relpath(parent, self.root).replace(os.sep, "/")
            folder = self.cache[parent] = "" if rel == "." else rel + "/"
        return folder


def _listed_without_xml(root: Path, image_folder: str | None, image_id: str, split: str | None, report: Report) -> Sample | None:
    """An image listed in ImageSets without an XML: kept without objects when its image exists."""
    image = find_image(root / image_folder, image_id) if image_folder else None
    if image is None:
        message = f"image {image_id!r} is listed in ImageSets but has neither an XML nor an image"
        report.invalid(InvalidInputError(message, file=root / "ImageSets" / "Main"))
        return None
    sample = Sample(relpath_posix(image, root), split=split, id=image_id)
    _fill_size(sample, image, report)
    return sample


def _devkit_image_folder(root: Path) -> str | None:
    """Where a devkit tree keeps its images: ``JPEGImages/`` (the devkit), else ``images/`` (Label Studio,
    Labelbox and imglab exports write ``<folder>images</folder>``), else None: beside the XML files."""
    for name in ("JPEGImages", "images"):
        if (root / name).is_dir():
            return name + "/"
    return None


def _image_path(root: Path, folder: str, filename: str | None, image_id: str, recorded: str | None) -> str:
    """The image's path relative to ``root``: ``folder + filename`` without touching the disk in the
    common case; else a found extension (ILSVRC omits it) or LabelImg's absolute ``<path>``."""
    if filename and "." in filename and not recorded:
        return folder + filename
    directory = root / folder if folder else root
    if filename and (directory / filename).is_file():
        return folder + filename
    if recorded and Path(recorded).is_file():
        return relpath_posix(recorded, root)
    found = find_image(directory, Path(filename).stem if filename else image_id)
    if found is not None:
        return folder + found.name
    return folder + (filename or f"{image_id}.jpg")


def _fill_size(sample: Sample, image: Path, report: Report) -> None:
    """Missing or zero <size>: read it from the image header (never decoding the image)."""
    try:
        info = read_image_info(image)
    except InvalidInputError:
        report.warn("some images have no <size> and no readable image file; their size stays unknown")
        return
    sample.width, sample.height = info.width, info.height


# --- writing -------------------------------------------------------------------------
def _sub(parent: Any, tag: str, text: Any = None) -> Any:
    el = etree.SubElement(parent, tag)
    if text is not None:
        el.text = str(text)
    return el


def _write_box(parent: Any, box: Any, one_based: bool) -> None:
    bnd = _sub(parent, "bndbox")
    for tag, value in zip(("xmin", "ymin", "xmax", "ymax"), box_to_voc(box, one_based)):
        _sub(bnd, tag, clean_number(round(value, 6)))


def _format_value(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def annotation_xml(sample: Sample, filename: str, image_path: str | None, one_based: bool, report: Report) -> bytes:
    """The XML of one sample, as the devkit and LabelImg read it."""
    meta = sample.meta.get("voc", {})
    root = etree.Element("annotation")
    _sub(root, "folder", meta.get("folder", "JPEGImages" if image_path is None else ""))
    _sub(root, "filename", filename)
    if image_path:
        _sub(root, "path", image_path)
    source = _sub(root, "source")
    for key, value in (meta.get("source") or {"database": "Unknown"}).items():
        _sub(source, key, value)
    size = _sub(root, "size")
    _sub(size, "width", sample.width or 0)
    _sub(size, "height", sample.height or 0)
    _sub(size, "depth", meta.get("depth", 3))
    _sub(root, "segmented", meta.get("segmented", 0))
    report.lose_image_labels("VOC XML", len(sample.labels))
    report.lose_image_attributes(sample.attributes, "VOC XML")
    for obj in sample.objects:
        if obj.ensure_bbox() is None:
            report.lose(f"{obj.shape} shape", "VOC XML holds boxes only; a shape without area is dropped")
            continue
        if obj.shape in ("polygon", "mask", "circle") or obj.polygon or obj.rle:
            report.lose(obj.shape if obj.shape != "box" else "segmentation", "VOC XML holds boxes only; written as its bounding box")
        report.lose_object_extras(obj, "VOC XML", holds=("score", "attributes"))  # both written as <attributes>
        el = _sub(root, "object")
        _sub(el, "name", obj.label)
        attrs = dict(obj.attributes)
        _sub(el, "pose", attrs.pop("pose", "Unspecified"))
        for tag in BOOL_TAGS:
            if tag in attrs or tag != "occluded":
                _sub(el, tag, int(bool(attrs.pop(tag, False))))
        _write_box(el, obj.bbox, one_based)
        for part in attrs.pop("parts", []):
            part_el = _sub(el, "part")
            _sub(part_el, "name", part.get("label", ""))
            _write_box(part_el, part["bbox"], one_based)
        if "actions" in attrs:
            actions = _sub(el, "actions")
            for key, value in attrs.pop("actions").items():
                _sub(actions, key, int(bool(value)))
        if obj.iscrowd:
            attrs["iscrowd"] = True
        if obj.score is not None:
            attrs["score"] = obj.score
        if attrs:
            attr_el = _sub(el, "attributes")
            for key, value in attrs.items():
                if isinstance(value, (dict, list)):
                    report.lose(f"attribute {key!r}", "VOC attributes hold plain values only")
                    continue
                one = _sub(attr_el, "attribute")
                _sub(one, "name", key)
                _sub(one, "value", _format_value(value))
        for key, value in obj.meta.get("voc", {}).items():
            if isinstance(value, dict):
                nested = _sub(el, key)
                for inner, text in value.items():
                    _sub(nested, inner, text)
            else:
                _sub(el, key, value)
    return etree.tostring(root, pretty_print=True, encoding="utf-8")


def write(dataset: Dataset, path: Path, report: Report, one_based: bool = True, images: str = "reference", layout: str = "devkit") -> None:
    """Write a devkit tree (Annotations/, JPEGImages/, ImageSets/Main/) or, with
    ``layout=flat``, XML next to the images as LabelImg does."""
    if layout not in ("devkit", "flat"):
        raise CvkitError(f"unknown VOC layout {layout!r}; choose devkit or flat")
    ann_dir = path / "Annotations" if layout == "devkit" else path
    img_dir = path / "JPEGImages" if layout == "devkit" else path
    ann_dir.mkdir(parents=True, exist_ok=True)
    split_members: dict[str, list[str]] = {}
    used: set[str] = set()
    for sample in track(dataset, "writing VOC"):
        stem = _unique_stem(sample, used, report)
        source = sample.resolve(dataset.root)
        filename = stem + Path(sample.path).suffix
        recorded = None
        if images == "reference":
            recorded = str(source.resolve()) if dataset.root is not None or source.is_absolute() else sample.path
        else:
            place_image(source, img_dir / filename, images)
        xml = annotation_xml(sample, filename, recorded, one_based, report)
        (ann_dir / f"{stem}.xml").write_bytes(xml)
        if sample.split:
            split_members.setdefault(sample.split, []).append(stem)
        report.count_written(sample.split, len(sample.objects))
    report.written.categories = len(dataset.categories)
    if layout == "devkit":
        _write_split_lists(path, split_members)
    (path / "labelmap.txt").write_text("# label:color_rgb:parts:actions\n" + "".join(f"{c.name}:::\n" for c in dataset.categories), encoding="utf-8")


def _unique_stem(sample: Sample, used: set[str], report: Report) -> str:
    """File stem for a sample; images with the same name in different folders get a folder prefix."""
    stem = Path(sample.path).stem
    if stem in used:
        stem = Path(sample.path).with_suffix("").as_posix().replace("/", "__")
        report.warn("images with the same file name in different folders were renamed with their folder as prefix")
    used.add(stem)
    return stem


def _write_split_lists(path: Path, members: dict[str, list[str]]) -> None:
    """ImageSets/Main/<split>.txt, plus trainval.txt when train and val exist (the devkit's convention)."""
    if not members:
        return
    main = path / "ImageSets" / "Main"
    main.mkdir(parents=True, exist_ok=True)
    if "train" in members and "val" in members and "trainval" not in members:
        members = {**members, "trainval": members["train"] + members["val"]}
    for split, stems in members.items():
        (main / f"{split}.txt").write_text("".join(f"{s}\n" for s in stems), encoding="utf-8")
