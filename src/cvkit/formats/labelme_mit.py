"""MIT LabelMe XML (the LabelMe web tool, CSAIL): one ``<annotation>`` per image.

Two layouts are read: the web tool's (``Annotations/<folder>/x.xml``, ``Images/<folder>/``,
``Masks/<folder>/``, ``Scribbles/<folder>/``) (also current datumaro's) and older datumaro's (``<subset>/x.xml`` next to
the image, masks in ``<subset>/Masks/``). Objects: ``<polygon>`` (a box when
``<type>bounding_box</type>``; a point or a line with 1 or 2 ``<pt>``, as the web tool
saves them), ``<segm>`` masks (any non-zero pixel of the mask PNG);
``<deleted>1</deleted>`` objects are skipped; ``<occluded>yes|no`` -> attribute ``occluded``;
the free-text ``<attributes>`` (``a=b, c`` with ``\\,`` escapes) -> attributes; parts
(``<hasparts>``/``<ispartof>``) -> ``Annotation.id``, attribute ``parent`` and ``group``
(the id of the part tree's root). The split is the collection folder (datumaro's subset).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lxml import etree

from cvkit.core.categories import CategorySet
from cvkit.core.geometry import box_corners, clean_number
from cvkit.core.imageinfo import find_image, header_size
from cvkit.core.model import Annotation, Dataset, Sample
from cvkit.core.progress import track
from cvkit.core.report import Report
from cvkit.errors import CvkitError, InvalidInputError
from cvkit.io import IMAGE_MODES, place_image, relpath_posix, walk_files

LAYOUTS = ("webtool", "datumaro")
#: Flat coordinate count of a 1- or 2-point <polygon> -> the shape it is.
_POINT_SHAPES = {2: "point", 4: "line"}
#: The mask colour datumaro paints (RGBA); any non-zero pixel reads back as inside.
MASK_RGBA = (255, 203, 0, 153)
_ESCAPED = re.compile(r"\\(.)")


# --- free-text attributes ----------------------------------------------------------------
def _split_unescaped(text: str, sep: str, limit: int = -1) -> list[str]:
    """Split on ``sep`` not preceded by a backslash (escapes kept for the caller)."""
    parts, current, i = [], [], 0
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text):
            current.append(text[i : i + 2])
            i += 2
            continue
        if char == sep and (limit < 0 or len(parts) < limit):
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
        i += 1
    parts.append("".join(current))
    return parts


def parse_attributes(text: str | None) -> dict[str, Any]:
    """``"a=b, c, n=3, s=\\"3\\""`` -> ``{"a": "b", "c": True, "n": 3, "s": "3"}`` (datumaro's rules)."""
    out: dict[str, Any] = {}
    for item in _split_unescaped(text or "", ","):
        item = item.strip()
        if not item:
            continue
        pieces = _split_unescaped(item, "=", 1)
        name = _ESCAPED.sub(r"\1", pieces[0].strip())
        if len(pieces) == 1:
            out[name] = True
            continue
        raw = pieces[1].strip()
        value: Any
        if raw.lower() in ("true", "false"):
            value = raw.lower() == "true"
        elif len(raw) > 1 and raw[0] == raw[-1] == '"':
            value = _ESCAPED.sub(r"\1", raw[1:-1])
        else:
            value = _ESCAPED.sub(r"\1", raw)
            for kind in (int, float):
                try:
                    if str(kind(raw)) == raw:
                        value = kind(raw)
                        break
                except ValueError:
                    pass
        out[name] = value
    return out


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("=", "\\=").replace('"', '\\"').replace(",", "\\,")


def format_attributes(attributes: dict[str, Any]) -> str:
    """Inverse of :func:`parse_attributes`; True values are written as bare names."""
    items = []
    for key, value in attributes.items():
        if value is True:
            items.append(_escape(key))
        elif isinstance(value, bool):
            items.append(f"{_escape(key)}=false")
        elif isinstance(value, (int, float)):
            items.append(f"{_escape(key)}={value}")
        else:
            text = str(value)
            looks_typed = text.lower() in ("true", "false") or parse_attributes(f"x={_escape(text)}")["x"] != text
            items.append(f'{_escape(key)}="{_escape(text)}"' if looks_typed else f"{_escape(key)}={_escape(text)}")
    return ", ".join(items)


# --- detection ----------------------------------------------------------------------------
def _looks_like_mit(path: Path) -> bool:
    try:
        with open(path, "rb") as handle:
            head = handle.read(4096)
    except OSError:
        return False
    # <bndbox> is VOC's (X-AnyLabeling's VOC export adds a <polygon> beside it); the web tool draws boxes as polygons
    return b"<annotation" in head and b"<bndbox" not in head and any(tag in head for tag in (b"<imagesize>", b"<polygon>", b"<segm>", b"<deleted>"))


def detect(path: Path) -> str | None:
    if path.is_file():
        return "an MIT LabelMe XML (<annotation> with <imagesize>/<polygon>/<segm>)" if path.suffix.lower() == ".xml" and _looks_like_mit(path) else None
    if path.is_dir():
        for checked, file in enumerate(walk_files(path, ".xml")):
            if _looks_like_mit(file):
                return f"MIT LabelMe XML files ({relpath_posix(file, path)}, ...)"
            if checked >= 4:
                break
    return None


# --- reading ------------------------------------------------------------------------------
def _text(element: Any, tag: str) -> str:
    found = element.find(tag)
    return (found.text or "").strip() if found is not None and found.text else ""


def _layout(file: Path, root: Path) -> tuple[Path | None, str]:
    """(web tool base folder holding Annotations/, or None; the path of the xml's folder below it)."""
    parts = file.resolve().parent.parts
    if "Annotations" in parts:
        at = len(parts) - 1 - parts[::-1].index("Annotations")
        return Path(*parts[:at]), "/".join(parts[at + 1 :])
    rel = file.parent.relative_to(root) if file.parent != root else Path()
    return None, rel.as_posix() if rel.parts else ""


def _find(candidates: list[Path]) -> Path | None:
    return next((c for c in candidates if c.is_file()), None)


def _points(poly: Any, file: Path, where: str) -> list[float]:
    flat: list[float] = []
    for pt in poly.iter("pt"):
        try:
            flat += [float(_text(pt, "x")), float(_text(pt, "y"))]
        except ValueError:
            raise InvalidInputError("every <pt> needs numeric <x> and <y>", file=file, location=f"{where} (line {pt.sourceline})") from None
    return flat


def _mask(segm: Any, masks_dirs: list[Path], size: tuple[int | None, int | None], file: Path, where: str) -> dict[str, Any]:
    import numpy as np
    from PIL import Image

    from cvkit.core.masks import encode

    name = _text(segm, "mask")
    found = _find([d / name for d in masks_dirs]) if name else None
    if found is None:
        raise InvalidInputError(f"mask file {name!r} not found (looked in {', '.join(str(d) for d in masks_dirs)})", file=file, location=where)
    with Image.open(found) as img:
        array = np.asarray(img)
    mask = array.any(axis=2) if array.ndim == 3 else array > 0
    height, width = size
    if height is not None and width is not None and mask.shape != (height, width):
        raise InvalidInputError(f"mask {name} is {mask.shape[1]}x{mask.shape[0]}, the image {width}x{height}", file=file, location=where)
    return encode(mask)


def _object(el: Any, n: int, file: Path, masks_dirs: list[Path], size: tuple[int | None, int | None]) -> Annotation | None:
    """One <object>; None when deleted."""
    where = f"object[{n}]"
    if _text(el, "deleted") in ("1", "true", "yes"):
        return None
    label = _text(el, "name")
    if not label:
        raise InvalidInputError("object has no <name>", file=file, location=f"{where} (line {el.sourceline})")
    attributes = parse_attributes(_text(el, "attributes"))
    attributes["occluded"] = _text(el, "occluded").lower() == "yes"
    obj = Annotation(label, attributes=attributes)
    ident = _text(el, "id")
    obj.id = int(ident) if ident.lstrip("-").isdigit() else n
    meta: dict[str, Any] = {k: _text(el, k) for k in ("date", "verified", "type") if _text(el, k)}
    poly, segm = el.find("polygon"), el.find("segm")
    geometry = poly if poly is not None else segm
    if geometry is None:
        raise InvalidInputError("object has neither <polygon> nor <segm>", file=file, location=f"{where} (line {el.sourceline})")
    if _text(geometry, "username"):
        attributes["username"] = _text(geometry, "username")
    if poly is not None:
        flat = _points(poly, file, where)
        at = f"{where}/polygon (line {poly.sourceline})"
        if meta.get("type") == "bounding_box":
            if len(flat) < 4:
                raise InvalidInputError(f"a bounding box needs at least 2 points, got {len(flat) // 2}", file=file, location=at)
            xs, ys = flat[0::2], flat[1::2]
            obj.shape, obj.bbox = "box", (min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys))
        elif len(flat) >= 6:
            obj.shape, obj.polygon = "polygon", [flat]
        elif flat:  # the web tool closes after 1 or 2 clicks too: its "point" and "line" objects (SetObjectChoicesPointLine)
            obj.shape, obj.points = _POINT_SHAPES[len(flat)], flat
        else:
            raise InvalidInputError(f"object {label!r} has a <polygon> without <pt> points", file=file, location=at)
    else:
        obj.shape, obj.rle = "mask", _mask(segm, masks_dirs, size, file, f"{where}/segm")
        scribbles = segm.find("scribbles")
        if scribbles is not None:
            meta["scribbles"] = {child.tag: (child.text or "") for child in scribbles}
    obj.ensure_bbox()
    parent = _text(el, "parts/ispartof").split(",")[0].strip()
    if parent.lstrip("-").isdigit():
        attributes["parent"] = int(parent)
    if meta:
        obj.meta["labelme_mit"] = meta
    return obj


def _assign_groups(objects: list[Annotation]) -> None:
    """Objects in a part tree get ``group`` = the id of the tree's root (a cycle stops the walk)."""
    by_id = {o.id: o for o in objects}
    in_tree = {o.attributes["parent"] for o in objects if "parent" in o.attributes} | {o.id for o in objects if "parent" in o.attributes}
    for obj in objects:
        if obj.id not in in_tree:
            continue
        current, seen = obj, {obj.id}
        while current.attributes.get("parent") in by_id and current.attributes["parent"] not in seen:
            current = by_id[current.attributes["parent"]]
            seen.add(current.id)
        obj.group = current.id


def parse_file(file: Path, root: Path, report: Report) -> Sample | None:
    """One XML as a Sample; bad objects go through ``report.invalid`` (skippable)."""
    try:
        tree = etree.parse(str(file), etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError as exc:
        raise InvalidInputError(f"malformed XML ({exc.msg})", file=file, location=f"line {exc.lineno}") from None
    top = tree.getroot()
    if top.tag != "annotation":
        raise InvalidInputError(f"not a LabelMe annotation: the root element is <{top.tag}>", file=file, location=f"line {top.sourceline}")
    filename, folder = _text(top, "filename"), _text(top, "folder")
    base, below = _layout(file, root)
    if base is not None:
        sub = below or folder
        image_dirs, masks_dirs = [base / "Images" / sub, file.parent], [base / "Masks" / sub, file.parent / "Masks"]
        split = sub or None
    else:
        image_dirs, masks_dirs = [file.parent], [file.parent / "Masks", root / (below.split("/")[0] if below else "") / "Masks"]
        split = below.split("/")[0] if below else (folder or None)
    recorded = _text(top, "path")
    image = _find([d / filename for d in image_dirs] + ([Path(recorded)] if recorded else [])) if filename else None
    image = image or find_image(file.parent, Path(filename).stem if filename else file.stem) or image_dirs[0] / (filename or file.stem + ".jpg")
    rows, cols = _text(top, "imagesize/nrows"), _text(top, "imagesize/ncols")
    height, width = (int(rows), int(cols)) if rows.isdigit() and cols.isdigit() and int(rows) and int(cols) else (None, None)
    if height is None:
        size = header_size(image)
        if size is None:
            report.warn("some images have no <imagesize> and no readable image file; their size stays unknown")
        else:
            width, height = size
    objects: list[Annotation] = []
    for n, el in enumerate(top.iter("object")):
        try:
            obj = _object(el, n, file, masks_dirs, (height, width))
        except InvalidInputError as exc:
            report.invalid(exc)
            continue
        if obj is not None:
            objects.append(obj)
    _assign_groups(objects)
    source = {child.tag: child.text or "" for child in top.find("source")} if top.find("source") is not None else {}
    meta = {k: v for k, v in (("folder", folder), ("source", source)) if v}
    return Sample(relpath_posix(image, root), width, height, split, objects=objects, meta={"labelme_mit": meta} if meta else {})


def read(path: Path, report: Report) -> Dataset:
    """Stream every XML under ``path`` (or one file); categories in order of first use."""
    root = path if path.is_dir() else path.parent
    files = list(walk_files(path, ".xml")) if path.is_dir() else [path]
    categories = CategorySet()

    def samples() -> Iterator[Sample]:
        for file in track(files, "reading LabelMe XML", len(files)):
            try:
                sample = parse_file(file, root, report)
            except InvalidInputError as exc:
                report.invalid(exc)
                continue
            for obj in sample.objects:
                categories.ensure(obj.label)
            report.count_read(sample.split, len(sample.objects))
            yield sample
        report.read.categories = len(categories)

    return Dataset(samples(), categories, root=root, source_format="labelme_mit")


# --- writing ------------------------------------------------------------------------------
def _sub(parent: Any, tag: str, text: Any = None) -> Any:
    el = etree.SubElement(parent, tag)
    if text is not None:
        el.text = str(text)
    return el


def _num(value: float) -> str:
    return str(clean_number(round(float(value), 6)))


def _polygon(parent: Any, flat: list[float], username: str) -> None:
    poly = _sub(parent, "polygon")
    _sub(poly, "username", username)
    for i in range(0, len(flat) - 1, 2):
        pt = _sub(poly, "pt")
        _sub(pt, "x", _num(flat[i]))
        _sub(pt, "y", _num(flat[i + 1]))


def _object_ids(objects: list[Annotation]) -> list[int]:
    """The source's object ids when they are unique integers, else 0..n-1."""
    ids = [o.id for o in objects]
    if all(isinstance(i, int) and not isinstance(i, bool) for i in ids) and len(set(ids)) == len(ids):
        return ids  # type: ignore[return-value]
    return list(range(len(objects)))


def _parents(objects: list[Annotation], ids: list[int]) -> list[int | None]:
    """Each object's parent id: its ``parent`` attribute, else the first object of its ``group``."""
    known = set(ids)
    leaders: dict[int, int] = {}
    out: list[int | None] = []
    for obj, ident in zip(objects, ids):
        parent = obj.attributes.get("parent")
        if isinstance(parent, int) and parent in known and parent != ident:
            out.append(parent)
        elif obj.group is not None and "parent" not in obj.attributes and obj.group not in {o.id for o in objects}:
            leader = leaders.setdefault(obj.group, ident)
            out.append(leader if leader != ident else None)
        else:
            out.append(None)
    return out


def _writable(objects: list[Annotation], report: Report) -> list[tuple[Annotation, str, list[float] | None]]:
    """(object, kind, polygon part) for what MIT LabelMe holds; the rest reported."""
    out: list[tuple[Annotation, str, list[float] | None]] = []
    for obj in objects:
        report.lose_object_extras(obj, "MIT LabelMe XML", holds=("attributes",))
        if obj.iscrowd:
            report.lose("crowd flag", "MIT LabelMe XML has no crowd regions; written as an ordinary object")
        if obj.shape == "mask" and obj.rle is not None:
            out.append((obj, "mask", None))
        elif obj.shape == "polygon" and obj.polygon:
            out.append((obj, "polygon", obj.polygon[0]))
            if len(obj.polygon) > 1:
                report.lose("polygon part", "an MIT LabelMe object holds one polygon; further parts dropped", len(obj.polygon) - 1)
        elif obj.shape in ("point", "line") and obj.points and len(obj.points) in _POINT_SHAPES:
            out.append((obj, "polygon", obj.points))  # a 1- or 2-point <polygon>, as the web tool saves them
        elif obj.shape in ("point", "line", "linestrip"):
            report.lose(f"{obj.shape} shape", "MIT LabelMe XML holds polygons, boxes, masks, points and lines; dropped")
        elif obj.ensure_bbox() is not None:
            if obj.shape not in ("box", "keypoints"):
                report.lose(f"{obj.shape} shape", "MIT LabelMe XML has no such shape; written as its bounding box")
            out.append((obj, "box", None))
    return out


def _write_mask(rle: dict[str, Any], target: Path) -> None:
    import numpy as np
    from PIL import Image

    from cvkit.core.masks import decode

    painted = np.zeros((*rle["size"], 4), dtype=np.uint8)
    painted[decode(rle).astype(bool)] = MASK_RGBA
    target.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(painted, "RGBA").save(target)


def annotation_xml(sample: Sample, filename: str, folder: str, masks_dir: Path, stem: str, recorded: str | None, report: Report) -> bytes:
    """The XML document of one image (masks are written into ``masks_dir`` on the way)."""
    meta = sample.meta.get("labelme_mit", {})
    top = etree.Element("annotation")
    _sub(top, "filename", filename)
    _sub(top, "folder", folder)
    if recorded:
        _sub(top, "path", recorded)
    source = _sub(top, "source")
    for key, value in (meta.get("source") or {"sourceImage": "", "sourceAnnotation": "cvkit"}).items():
        _sub(source, key, value)
    if sample.width and sample.height:
        size = _sub(top, "imagesize")
        _sub(size, "nrows", sample.height)
        _sub(size, "ncols", sample.width)
    report.lose_image_labels("MIT LabelMe XML", len(sample.labels))
    report.lose_image_attributes(sample.attributes, "MIT LabelMe XML")
    items = _writable(sample.objects, report)
    objects = [obj for obj, _, _ in items]
    ids = _object_ids(objects)
    parents = _parents(objects, ids)
    for (obj, kind, part), ident, parent in zip(items, ids, parents):
        extra = obj.meta.get("labelme_mit", {})
        attrs = {k: v for k, v in obj.attributes.items() if k not in ("occluded", "username", "parent")}
        el = _sub(top, "object")
        _sub(el, "name", obj.label)
        _sub(el, "deleted", "0")
        _sub(el, "verified", extra.get("verified", "0"))
        _sub(el, "occluded", "yes" if obj.attributes.get("occluded") is True else "no")
        _sub(el, "attributes", format_attributes(attrs))
        parts = _sub(el, "parts")
        _sub(parts, "hasparts", ",".join(str(i) for i, p in zip(ids, parents) if p == ident))
        _sub(parts, "ispartof", "" if parent is None else parent)
        _sub(el, "date", extra.get("date", ""))
        _sub(el, "id", ident)
        username = str(obj.attributes.get("username", ""))
        if kind == "box":
            _sub(el, "type", "bounding_box")
            _polygon(el, box_corners(obj.bbox), username)  # type: ignore[arg-type]
        elif kind == "polygon":
            _polygon(el, part or [], username)
        else:
            if extra.get("type"):
                _sub(el, "type", extra["type"])
            mask_name = f"{stem}_mask_{ident}.png"
            _write_mask(obj.rle, masks_dir / mask_name)  # type: ignore[arg-type]
            segm = _sub(el, "segm")
            _sub(segm, "username", username)
            x, y, w, h = obj.ensure_bbox()  # type: ignore[misc]
            box = _sub(segm, "box")
            for tag, value in (("xmin", x), ("ymin", y), ("xmax", x + w - 1), ("ymax", y + h - 1)):
                _sub(box, tag, _num(value))
            _sub(segm, "mask", mask_name)
            if "scribbles" in extra:
                report.lose("mask scribbles", "the scribble images a mask was drawn from are not carried over; the mask is")
    return etree.tostring(top, pretty_print=True, encoding="utf-8")


def write(dataset: Dataset, path: Path, report: Report, images: str = "reference", layout: str = "webtool") -> None:
    """``layout=webtool``: ``Annotations|Images|Masks/<split>/`` as the web tool stores them, the only layout
    current datumaro's (1.13) ``label_me`` importer reads (image at ``Images/<folder>/``, masks at ``Masks/<folder>/``);
    ``layout=datumaro``: ``<split>/x.xml`` beside the image, masks in ``<split>/Masks/`` (older datumaro releases)."""
    if layout not in LAYOUTS:
        raise CvkitError(f"unknown MIT LabelMe layout {layout!r}; choose {' or '.join(LAYOUTS)}")
    if images not in IMAGE_MODES:
        raise CvkitError(f"unknown image mode {images!r}; choose one of {', '.join(IMAGE_MODES)}")
    used: set[str] = set()
    labels: set[str] = set()
    for sample in track(dataset, "writing LabelMe XML"):
        folder = sample.split or ""
        name = Path(sample.path).name
        stem = Path(name).stem
        key = f"{folder}/{stem}".lower()
        if key in used:
            stem = Path(sample.path).with_suffix("").as_posix().replace("/", "__").lstrip("_.")
            name = stem + Path(name).suffix
            report.warn("images with the same file name in different folders were renamed with their folder as prefix")
        used.add(f"{folder}/{stem}".lower())
        if layout == "webtool":
            xml_dir, image_dir, masks_dir = path / "Annotations" / folder, path / "Images" / folder, path / "Masks" / folder
        else:
            xml_dir = image_dir = path / folder
            masks_dir = xml_dir / "Masks"
        xml_dir.mkdir(parents=True, exist_ok=True)
        source = sample.resolve(dataset.root)
        recorded = None
        if images == "reference":
            recorded = os.path.abspath(source)
        else:
            place_image(source, image_dir / name, images)
        xml = annotation_xml(sample, name, folder if layout == "webtool" else "", masks_dir, stem, recorded, report)
        (xml_dir / f"{stem}.xml").write_bytes(xml)
        labels.update(o.label for o in sample.objects)
        report.count_written(sample.split, len(sample.objects))
    unused = [c.name for c in dataset.categories if c.name not in labels]
    if unused:
        report.lose("category without objects", "MIT LabelMe XML lists no categories, only object names", len(unused))
    report.written.categories = len(labels)
