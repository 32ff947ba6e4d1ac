"""MIT LabelMe XML: detection, reading and writing (one file's objects: ``_xml``). What the format holds: the
package's docstring.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lxml import etree

from cvkit.core import validate_values
from cvkit.core.categories import CategorySet
from cvkit.core.imageinfo import find_image, header_size
from cvkit.core.limits import open_image
from cvkit.core.masks import encode
from cvkit.core.model import Annotation, Dataset, Sample, Shard
from cvkit.core.paths import inside, split_name
from cvkit.core.progress import track
from cvkit.core.report import Report
from cvkit.core.shards import Pipeline, runs
from cvkit.core.transport import pack_sample, unpack_sample
from cvkit.errors import CvkitError, InvalidInputError
from cvkit.formats._xml_text import filename_element
from cvkit.io import IMAGE_MODES, RealPaths, place_image, relpath_posix, walk_files

from ._xml import POINT_SHAPES, annotation_xml, parse_attributes

LAYOUTS = ("webtool", "datumaro")


# --- detection ----------------------------------------------------------------------------
def _looks_like_mit(path: Path) -> bool:
    try:
        with open(path, "rb") as handle:
            head = handle.read(4096)
    except OSError:
        return False
    # <bndbox> is VOC's (X-AnyLabeling's VOC export adds a <polygon> beside it); the web tool draws boxes as polygons
    return (
        b"<annotation" in head
        and b"<bndbox" not in head
        and any(tag in head for tag in (b"<imagesize>", b"<polygon>", b"<segm>", b"<deleted>"))
    )


def detect(path: Path) -> str | None:
    if path.is_file():
        return (
            "an MIT LabelMe XML (<annotation> with <imagesize>/<polygon>/<segm>)"
            if path.suffix.lower() == ".xml" and _looks_like_mit(path)
            else None
        )
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
    parts = Path(os.path.abspath(file)).parent.parts  # not resolved: the root, as given, may be a symbolic link
    if "Annotations" in parts:
        at = len(parts) - 1 - parts[::-1].index("Annotations")
        return Path(*parts[:at]), "/".join(parts[at + 1 :])
    rel = file.parent.relative_to(root) if file.parent != root else Path()
    return None, rel.as_posix() if rel.parts else ""


def _find(candidates: list[Path]) -> Path | None:
    return next((c for c in candidates if c.is_file()), None)


def _points(poly: Any, file: Path, where: str) -> list[float]:
    """The <pt> coordinates of a <polygon>, flat; a point whose <x> or <y> is no finite number is an error."""
    flat: list[float] = []
    for pt in poly.iter("pt"):
        at = f"{where} (line {pt.sourceline})"
        flat += [
            validate_values.parse_finite(_text(pt, "x"), "<pt> <x>", file, at),
            validate_values.parse_finite(_text(pt, "y"), "<pt> <y>", file, at),
        ]
    return flat


def _mask(
    segm: Any, masks_dirs: list[Path], size: tuple[int | None, int | None], file: Path, where: str
) -> dict[str, Any]:
    import numpy as np

    name = _text(segm, "mask")
    found = _find([d / name for d in masks_dirs]) if name else None
    if found is None:
        raise InvalidInputError(
            f"mask file {name!r} not found (looked in {', '.join(str(d) for d in masks_dirs)})",
            file=file,
            location=where,
        )
    with open_image(found) as img:  # refused over the pixel limit (cvkit.core.limits), from its header
        array = np.asarray(img)
    mask = array.any(axis=2) if array.ndim == 3 else array > 0
    height, width = size
    if height is not None and width is not None and mask.shape != (height, width):
        raise InvalidInputError(
            f"mask {name} is {mask.shape[1]}x{mask.shape[0]}, the image {width}x{height}", file=file, location=where
        )
    return encode(mask)


def _object(
    el: Any, n: int, file: Path, masks_dirs: list[Path], size: tuple[int | None, int | None]
) -> Annotation | None:
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
        raise InvalidInputError(
            "object has neither <polygon> nor <segm>", file=file, location=f"{where} (line {el.sourceline})"
        )
    if _text(geometry, "username"):
        attributes["username"] = _text(geometry, "username")
    if poly is not None:
        flat = _points(poly, file, where)
        at = f"{where}/polygon (line {poly.sourceline})"
        if meta.get("type") == "bounding_box":
            if len(flat) < 4:
                raise InvalidInputError(
                    f"a bounding box needs at least 2 points, got {len(flat) // 2}", file=file, location=at
                )
            xs, ys = flat[0::2], flat[1::2]
            obj.shape, obj.bbox = "box", (min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys))
        elif len(flat) >= 6:
            obj.shape, obj.polygon = "polygon", [flat]
        elif (
            flat
        ):  # the web tool closes after 1 or 2 clicks too: its "point" and "line" objects (SetObjectChoicesPointLine)
            obj.shape, obj.points = POINT_SHAPES[len(flat)], flat
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
    in_tree = {o.attributes["parent"] for o in objects if "parent" in o.attributes} | {
        o.id for o in objects if "parent" in o.attributes
    }
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
        raise InvalidInputError(
            f"not a LabelMe annotation: the root element is <{top.tag}>", file=file, location=f"line {top.sourceline}"
        )
    filename, folder = _text(top, "filename"), _text(top, "folder")
    base, below = _layout(file, root)
    if base is not None:
        sub = below or folder
        image_dirs, masks_dirs = [base / "Images" / sub, file.parent], [base / "Masks" / sub, file.parent / "Masks"]
        split = sub or None
    else:
        image_dirs, masks_dirs = (
            [file.parent],
            [file.parent / "Masks", root / (below.split("/")[0] if below else "") / "Masks"],
        )
        split = below.split("/")[0] if below else (folder or None)
    recorded = _text(top, "path")
    image = _find([d / filename for d in image_dirs] + ([Path(recorded)] if recorded else [])) if filename else None
    image = (
        image
        or find_image(file.parent, Path(filename).stem if filename else file.stem)
        or image_dirs[0] / (filename or file.stem + ".jpg")
    )
    rows, cols = _text(top, "imagesize/nrows"), _text(top, "imagesize/ncols")
    height, width = None, None
    if rows.isdigit() and cols.isdigit():
        width, height = validate_values.image_size(int(cols), int(rows), file, "imagesize")
        height, width = (height, width) if height and width else (None, None)
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
    return Sample(
        relpath_posix(image, root), width, height, split, objects=objects, meta={"labelme_mit": meta} if meta else {}
    )


def read(path: Path, report: Report) -> Dataset:
    """Stream every XML under ``path`` (or one file); categories in order of first use. Runs of files are shards
    (:class:`~cvkit.core.model.Shard`) a writer may read and encode on several processes."""
    root = path if path.is_dir() else path.parent
    files = list(walk_files(path, ".xml")) if path.is_dir() else [path]
    categories = CategorySet()

    def samples() -> Iterator[Sample]:
        yield from _samples(track(files, "reading LabelMe XML", len(files)), root, categories, report)
        report.read.categories = len(categories)

    def shards(_workers: int) -> list[Shard]:
        return [Shard(len(run), _read_shard, root, run) for run in runs(files, SHARD_FILES)]

    return Dataset(samples(), categories, root=root, source_format="labelme_mit", shards=shards)


#: XML files in one :class:`~cvkit.core.model.Shard`
SHARD_FILES = 500


def _samples(files: Iterable[Path], root: Path, categories: CategorySet, report: Report) -> Iterator[Sample]:
    """The samples of ``files``, counted; a bad file reported; new labels added to ``categories``."""
    for file in files:
        try:
            sample = parse_file(file, root, report)
        except InvalidInputError as exc:
            report.invalid(exc)
            continue
        for obj in sample.objects:
            categories.ensure(obj.label)
        report.count_read(sample.split, len(sample.objects))
        yield sample


def _read_shard(root: Path, files: list[Path], categories: CategorySet, report: Report) -> Iterator[Sample]:
    """A shard's samples: a run of files, parsed here (new labels go to ``categories``, a worker's copy: writers
    number them in the parent, in order)."""
    return _samples(files, root, categories, report)


def write(
    dataset: Dataset,
    path: Path,
    report: Report,
    images: str = "reference",
    layout: str = "webtool",
    workers: int | None = None,
) -> None:
    """``layout=webtool``: ``Annotations|Images|Masks/<split>/`` as the web tool stores them, the only layout
    current datumaro's (1.13) ``label_me`` importer reads (image at ``Images/<folder>/``, masks at ``Masks/<folder>/``);
    ``layout=datumaro``: ``<split>/x.xml`` beside the image, masks in ``<split>/Masks/`` (older datumaro releases).
    ``workers``: processes that read a sharded source (COCO, a manifest, VOC, LabelMe) and write its XML (default: one
    a CPU); the files are named and written here, in order."""
    if layout not in LAYOUTS:
        raise CvkitError(f"unknown MIT LabelMe layout {layout!r}; choose {' or '.join(LAYOUTS)}")
    if images not in IMAGE_MODES:
        raise CvkitError(f"unknown image mode {images!r}; choose one of {', '.join(IMAGE_MODES)}")
    writer = _MitWriter(MitEncoder(dataset.root, path, report, images, layout))
    pipeline = Pipeline(dataset, report, workers)
    encoder = MitEncoder(dataset.root, path, pipeline.report, images, layout)
    for item in pipeline.samples(encode_mit, encoder, "writing LabelMe XML"):
        writer.place(item)
    unused = [c.name for c in dataset.categories if c.name not in writer.labels]
    if unused:
        report.lose("category without objects", "MIT LabelMe XML lists no categories, only object names", len(unused))
    report.written.categories = len(writer.labels)


#: what :meth:`_MitWriter.encode` gives for one sample: its path, split, object labels, XML (for the image's own
#: file name) and image file
EncodedMitXml = tuple[str, str | None, list[str], bytes, Path]


@dataclass(frozen=True, slots=True)
class _WithMasks:
    """A sample with masks, packed (:mod:`cvkit.core.transport`): the parent encodes it, as the PNGs are named
    after the XML's final name, which only the parent knows (a clash renames it)."""

    sample: tuple[Any, ...]


@dataclass(slots=True)
class MitEncoder:
    """The sample-alone half of an MIT LabelMe write (runs on the workers; picklable)."""

    root: Path | None
    path: Path
    report: Report
    images: str
    layout: str
    real_path: RealPaths = field(default_factory=RealPaths)  # <path> names the image's real place, as VOC's does

    def folders(self, folder: str) -> tuple[Path, Path, Path]:
        """The XML, image and mask folders of a split."""
        if folder:
            split_name(folder)
        if self.layout == "webtool":
            return self.path / "Annotations" / folder, self.path / "Images" / folder, self.path / "Masks" / folder
        return self.path / folder, self.path / folder, self.path / folder / "Masks"

    def encoded(self, sample: Sample, name: str) -> EncodedMitXml:
        """The sample's XML naming its image ``name``."""
        folder = sample.split or ""
        source = sample.resolve(self.root)
        recorded = self.real_path(os.fspath(source)) if self.images == "reference" else None
        xml = annotation_xml(
            sample,
            name,
            folder if self.layout == "webtool" else "",
            self.folders(folder)[2],
            Path(name).stem,
            recorded,
            self.report,
        )
        return sample.path, sample.split, [o.label for o in sample.objects], xml, source


def encode_mit(encoder: MitEncoder, sample: Sample) -> EncodedMitXml | _WithMasks:
    """The sample's XML for its image's own file name; a sample with masks is left to the placing side."""
    if any(obj.shape == "mask" and obj.rle is not None for obj in sample.objects):
        return _WithMasks(pack_sample(sample))
    return encoder.encoded(sample, Path(sample.path).name)


class _MitWriter:
    """The placing half of one write: names and writes the files in order (``encoder``: the placing side's, which
    encodes a sample with masks)."""

    def __init__(self, encoder: MitEncoder):
        self.encoder, self.report, self.images = encoder, encoder.report, encoder.images
        self.folders = encoder.folders
        self.used: set[str] = set()
        self.labels: set[str] = set()
        self.made: set[Path] = set()

    def place(self, item: EncodedMitXml | _WithMasks) -> None:
        """Write an encoded sample's XML (and image) under a name no earlier sample of its split took."""
        sample = unpack_sample(item.sample) if isinstance(item, _WithMasks) else None
        path, split = (sample.path, sample.split) if sample is not None else item[:2]  # type: ignore[index]
        folder = split or ""
        natural = Path(path).name
        name, stem = natural, Path(natural).stem
        if f"{folder}/{stem}".lower() in self.used:
            stem = Path(path).with_suffix("").as_posix().replace("/", "__").lstrip("_.")
            name = stem + Path(natural).suffix
            self.report.warn(
                "images with the same file name in different folders were renamed with their folder as prefix"
            )
        self.used.add(f"{folder}/{stem}".lower())
        _path, _split, labels, xml, source = self.encoder.encoded(sample, name) if sample is not None else item  # type: ignore[misc]
        if sample is None and name != natural:  # encoded for the image's own name: only <filename> names it
            xml = xml.replace(filename_element(natural), filename_element(name), 1)
        xml_dir, image_dir, _ = self.folders(folder)
        if xml_dir not in self.made:
            xml_dir.mkdir(parents=True, exist_ok=True)
            self.made.add(xml_dir)
        if self.images != "reference":
            place_image(source, inside(image_dir, name), self.images)
        (xml_dir / f"{stem}.xml").write_bytes(xml)
        self.labels.update(labels)
        self.report.count_written(split, len(labels))
