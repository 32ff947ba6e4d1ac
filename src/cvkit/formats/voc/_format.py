"""Pascal VOC: detection, parsing one file (plain files by ``_plain``, the rest by lxml), reading every layout and
writing. What the format holds and its coordinates: the package's docstring.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, NoReturn

from cvkit.core.categories import Category, CategorySet
from cvkit.core.executor import default_workers
from cvkit.core.geometry import polygon_bbox, voc_to_box
from cvkit.core.imageinfo import fill_size_from_header
from cvkit.core.model import Annotation, Dataset, Sample, Shard
from cvkit.core.progress import track
from cvkit.core.report import Report
from cvkit.core.shards import spread_map
from cvkit.core.transport import pack_annotation
from cvkit.core.validate_values import MAX_SIDE
from cvkit.errors import InvalidInputError
from cvkit.io import files_in, read_small_file, relpath_posix

from ._layout import (
    SPLIT_FOLDERS,
    ImageIndex,
    devkit_roots,
    looks_like_voc_xml,
    read_labelmap,
)
from ._plain import BOX_TAGS, flag, parse_plain, parse_value, size_numbers
from ._runs import RUN_FILES, Job, XmlListing, XmlRun, xml_listing
from ._xml import BOOL_TAGS

#: Below this many files parsing stays in-process: worker start-up would cost more than it saves.
PARALLEL_MIN_FILES = 4000


def detect(path: Path) -> str | None:
    if path.is_file():
        return "a Pascal VOC annotation XML" if path.suffix.lower() == ".xml" and looks_like_voc_xml(path) else None
    if not path.is_dir():
        return None
    roots = devkit_roots(path)
    if roots:
        first = next(iter(files_in(roots[0] / "Annotations", ".xml", limit=1)), None)
        if (first is None and (roots[0] / "ImageSets").is_dir()) or (first is not None and looks_like_voc_xml(first)):
            return f"devkit layout ({', '.join(relpath_posix(r / 'Annotations', path) + '/' for r in roots)})"
        return None
    for folder in [path, *(path / name for name in SPLIT_FOLDERS)]:
        xml = next(iter(files_in(folder, ".xml", limit=1)), None)  # none in a missing folder
        if xml is not None and looks_like_voc_xml(xml):
            return f"flat folder of VOC XML ({relpath_posix(xml, path)})"
    return None


# --- parsing one file ------------------------------------------------------------------
@lru_cache(maxsize=1)
def _parser() -> Any:
    """One lxml parser per process (creating one per file costs more than parsing a small file). lxml is imported
    when a file first needs it: plain files are read without it (:mod:`cvkit.formats.voc._plain`)."""
    from lxml import etree

    return etree.XMLParser(resolve_entities=False, no_network=True)


def _text(element: Any, tag: str) -> str | None:
    value = element.findtext(tag)
    return value.strip() if value is not None else None


def _flag_of(element: Any, file: str | Path, location: str) -> bool:
    """A flag element (``<difficult>``, an ``<actions>`` entry): :func:`~cvkit.formats.voc._plain.flag`, else an
    error naming the element."""
    try:
        return flag(element.text)
    except ValueError:
        raise InvalidInputError(f"<{element.tag}> is not 0/1: {element.text!r}", file=file, location=location) from None


def _number(raw: str | None, file: str | Path, location: str) -> float:
    """A coordinate at ``location`` (``object[0]/bndbox/xmin``): a finite number, else an error naming the element."""
    parent, _, tag = location.rpartition("/")
    if raw is None or not raw.strip():
        raise InvalidInputError(f"<{parent.rpartition('/')[2]}> has no <{tag}>", file=file, location=location)
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):  # float() also takes "nan" and "inf"
        raise InvalidInputError(f"<{tag}> is not a number: {raw.strip()!r}", file=file, location=location)
    return value


def _bndbox(box: Any, file: str | Path, where: str, one_based: bool) -> tuple[float, float, float, float]:
    """A ``<bndbox>``: four finite numbers, not negative (VOC counts pixels from 1), not inverted.

    Runs once per object: the common valid box costs four ``float()`` calls and one chained comparison;
    the element paths of an error are built only when there is one (:func:`_bad_box`)."""
    if box is None:
        raise InvalidInputError("object has no <bndbox>", file=file, location=where)
    found = {child.tag: child.text for child in box}
    try:
        xmin, ymin, xmax, ymax = float(found["xmin"]), float(found["ymin"]), float(found["xmax"]), float(found["ymax"])
    except (KeyError, TypeError, ValueError):
        _bad_box(found, file, where)
    if not (0 <= xmin <= xmax < math.inf and 0 <= ymin <= ymax < math.inf):  # false for NaN too
        _bad_box(found, file, where)
    return voc_to_box(xmin, ymin, xmax, ymax, one_based)


def _bad_box(found: dict[str, str | None], file: str | Path, where: str) -> NoReturn:
    """The error of a box that is no valid box: a missing or non-finite coordinate, else a negative or inverted box."""
    xmin, ymin, xmax, ymax = [_number(found.get(tag), file, f"{where}/bndbox/{tag}") for tag in BOX_TAGS]
    if xmin < 0 or ymin < 0:  # VoTT and older RectLabel write boxes dragged past the image edge
        raise InvalidInputError(
            f"negative box coordinate ({xmin:g}, {ymin:g}); fix the box or leave the file out with --skip-invalid",
            file=file,
            location=f"{where}/bndbox",
        )
    raise InvalidInputError(
        f"inverted box: xmin={xmin:g} xmax={xmax:g} ymin={ymin:g} ymax={ymax:g}", file=file, location=f"{where}/bndbox"
    )


def _outline(element: Any, file: str | Path, where: str, one_based: bool) -> list[float] | None:
    """Polygon points of X-AnyLabeling's ``<polygon><x1/><y1/><x2/>...`` or roLabelImg's rotated box
    ``<robndbox><cx/><cy/><w/><h/><angle/>`` (radians, turned as roLabelImg draws it). Like box corners,
    points move by -1 under the 1-based convention, so an outline stays inside its ``<bndbox>``."""
    values = {c.tag: c.text for c in element if isinstance(c.tag, str)}
    loc = f"{where}/{element.tag}"
    if element.tag == "robndbox":
        cx, cy, w, h, angle = (_number(values.get(k), file, f"{loc}/{k}") for k in ("cx", "cy", "w", "h", "angle"))
        cos, sin = math.cos(angle), math.sin(angle)
        corners = ((-w / 2, -h / 2), (w / 2, -h / 2), (w / 2, h / 2), (-w / 2, h / 2))
        points = [v for dx, dy in corners for v in (cx + dx * cos - dy * sin, cy + dx * sin + dy * cos)]
    else:
        points = []
        while f"x{len(points) // 2 + 1}" in values:
            i = len(points) // 2 + 1
            points += [_number(values[f"x{i}"], file, f"{loc}/x{i}"), _number(values.get(f"y{i}"), file, f"{loc}/y{i}")]
        if len(points) < 6:
            return None
    return [v - 1.0 for v in points] if one_based else points


def _object(element: Any, index: int, file: str | Path, one_based: bool) -> Annotation:
    """One ``<object>``: a ``<bndbox>``, X-AnyLabeling's ``<polygon>`` or roLabelImg's ``<robndbox>``."""
    where = f"object[{index}]"
    name = None
    box = outline = None
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
        elif tag == "polygon" and (points := _outline(child, file, where, one_based)) is not None:
            outline = points  # X-AnyLabeling: the shape itself, the <bndbox> its extent
        elif tag in BOOL_TAGS:
            attributes[tag] = _flag_of(child, file, f"{where}/{tag}")
        elif tag == "pose":
            attributes["pose"] = (child.text or "").strip()
        elif tag == "part":
            parts = attributes.setdefault("parts", [])
            pwhere = f"{where}/part[{len(parts)}]"
            parts.append(
                {
                    "label": _text(child, "name") or "",
                    "bbox": list(_bndbox(child.find("bndbox"), file, pwhere, one_based)),
                }
            )
        elif tag == "actions":
            attributes["actions"] = {
                a.tag: _flag_of(a, file, f"{where}/actions/{a.tag}") for a in child if isinstance(a.tag, str)
            }
        elif tag == "attributes":
            for attr in child.iter("attribute"):
                key = _text(attr, "name")
                if key:
                    attributes[key] = parse_value(_text(attr, "value") or "")
        elif len(child) == 0:
            extra[tag] = (child.text or "").strip()
        else:  # another nested element (VOC2012's action <point>, roLabelImg's <robndbox>): kept for the writer
            extra[tag] = {c.tag: (c.text or "").strip() for c in child if isinstance(c.tag, str)}
            if tag == "robndbox" and outline is None:
                outline = _outline(child, file, where, one_based)
    if not name:
        raise InvalidInputError("object has no <name>", file=file, location=f"{where}/name")
    if box is None and outline is None:
        raise InvalidInputError("object has no <bndbox> (nor <polygon> or <robndbox>)", file=file, location=where)
    ann = Annotation(
        name,
        _bndbox(box, file, where, one_based) if box is not None else polygon_bbox([outline]),
        attributes=attributes,
    )
    if outline is not None:
        ann.shape, ann.polygon = "polygon", [outline]
    if extra:
        ann.meta["voc"] = extra
    ann.iscrowd = bool(attributes.pop("iscrowd", False))
    score = attributes.get("score")  # the writer keeps a confidence as <attribute> score (as datumaro does)
    if isinstance(score, (int, float)) and not isinstance(score, bool):
        ann.score = float(attributes.pop("score"))
    return ann


def parse_xml(
    file: str | Path, one_based: bool = True
) -> tuple[str | None, int | None, int | None, list[Annotation], dict[str, Any]]:
    """One annotation file -> (filename, width, height, objects, image-level VOC fields).

    Plain files (most) are read by :func:`cvkit.formats.voc._plain.parse_plain`, the rest by lxml; both give
    the same result."""
    try:
        data = read_small_file(file)
    except OSError as exc:
        raise InvalidInputError(f"cannot read: {exc.strerror or exc}", file=file) from None
    plain = parse_plain(data, one_based)
    return plain if plain is not None else parse_tree(data, file, one_based)


def parse_tree(
    data: bytes, file: str | Path, one_based: bool = True
) -> tuple[str | None, int | None, int | None, list[Annotation], dict[str, Any]]:
    """:func:`parse_xml` of a file's bytes with lxml: any VOC file, and the words of every error."""
    from lxml import etree

    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        line = exc.position[0] if exc.position else None
        raise InvalidInputError(
            f"malformed XML: {exc.msg}", file=file, location=f"line {line}" if line else None
        ) from None
    if root.tag != "annotation":
        raise InvalidInputError(f"root element is <{root.tag}>, expected <annotation>", file=file, location="line 1")
    width = height = None
    filename = None
    verified = root.get("verified")  # LabelImg's <annotation verified="yes">
    meta: dict[str, Any] = {"verified": verified} if verified else {}
    objects: list[Annotation] = []
    for child in root:
        tag = child.tag
        if tag == "object":
            objects.append(_object(child, len(objects), file, one_based))
        elif tag == "filename":
            filename = (child.text or "").strip() or None
        elif tag == "size":
            try:
                width, height, depth = size_numbers({c.tag: (c.text or "").strip() for c in child})
            except (ValueError, OverflowError):
                raise InvalidInputError(
                    f"<size> holds a non-number, a fraction or a side past {MAX_SIDE} pixels",
                    file=file,
                    location="size",
                ) from None
            if depth is not None:
                meta["depth"] = depth
            if width < 0 or height < 0:
                raise InvalidInputError(f"<size> is negative: {width} x {height}", file=file, location="size")
            width, height = width or None, height or None  # 0: unknown, filled from the image header
        elif tag in ("folder", "path", "segmented"):
            if child.text and child.text.strip():
                meta[tag] = child.text.strip()
        elif tag == "source":
            meta["source"] = {c.tag: (c.text or "").strip() for c in child if isinstance(c.tag, str)}
    return filename, width, height, objects, meta


# --- reading -------------------------------------------------------------------------
#: one file's parse result: ("ok", (image path, width, height, objects, fields)), ("error", the error) or
#: ("missing", None) for an image listed without an XML; errors travel back as values so the parent decides
VocParsed = tuple[str, Any]


@dataclass(slots=True)
class _Source:
    """What the runs of one layout share (a shard's source, sent once a worker): where the files are, the image
    index (each process lists the image folder once, for all its runs), the paths' prefix, the box convention.
    The runs themselves are not in it: a worker gets only the runs it reads."""

    listing: XmlListing
    images: ImageIndex
    prefix: str
    one_based: bool


def _parse_job(file: str | None, image_id: str, one_based: bool, index: ImageIndex) -> VocParsed:
    """Parse one file and find its image."""
    if file is None:
        return ("missing", None)
    try:
        filename, width, height, objects, meta = parse_xml(file, one_based)
    except InvalidInputError as exc:
        return ("error", exc)
    return ("ok", (index.image_path(file, filename, image_id, meta.get("path")), width, height, objects, meta))


def _run_results(source: _Source, run: XmlRun) -> Iterator[VocParsed]:
    """The parse results of a run's files, in order, parsed here."""
    one_based, images = source.one_based, source.images
    for file, image_id, _split in source.listing.entries(run):
        yield _parse_job(file, image_id, one_based, images)


def _parse_run(source: _Source, run: XmlRun) -> list[VocParsed]:
    """Worker side: a run's parse results; annotations travel packed as tuples (:mod:`cvkit.core.transport`)."""
    out: list[VocParsed] = []
    for status, result in _run_results(source, run):
        if status == "ok":
            path, width, height, objects, meta = result
            result = (path, width, height, [pack_annotation(o) for o in objects], meta)
        out.append((status, result))
    return out


def _from_plain(result: tuple[Any, ...]) -> tuple[Any, ...]:
    """Main side: rebuild the annotations a worker sent packed."""
    path, width, height, objects, meta = result
    return path, width, height, [Annotation(*packed) for packed in objects], meta


def _parsed(source: _Source, runs: list[XmlRun], files: int, workers: int) -> Iterator[VocParsed]:
    """Parse results of ``runs`` in order, on several processes when there are many files."""
    if workers <= 1 or files < PARALLEL_MIN_FILES:
        for run in runs:
            yield from _run_results(source, run)
        return
    for results in spread_map(_parse_run, source, runs, workers, PARALLEL_MIN_FILES, files):
        for status, result in results:
            yield status, (_from_plain(result) if status == "ok" else result)


def read(path: Path, report: Report, one_based: bool = True, workers: int | None = None) -> Dataset:
    """Stream samples from any VOC layout; categories follow labelmap.txt, else first appearance.

    Several devkit folders side by side (``VOCdevkit/VOC2007`` + ``VOC2012``, or ``train/`` + ``val/``)
    read as one dataset rooted at their parent: paths and ids start with the folder's name, and a folder
    named like a split is the split of its images that no ImageSets list names.

    The files are listed here, once, into compact runs (:mod:`cvkit.formats.voc._runs`): about the length of a
    file's name a file, whichever way the samples are read."""
    roots = devkit_roots(path) if path.is_dir() else []
    if len(roots) > 1:
        listed = [
            (f"{root.name}/", xml_listing(root, [root], root.name if root.name in SPLIT_FOLDERS else None, SHARD_FILES))
            for root in roots
        ]
        dataset_root = roots[0].parent
    else:
        listed = [("", xml_listing(path, roots, None, SHARD_FILES))]  # the roots found once, not looked for again
        dataset_root = listed[0][1][0].image_root
    names = dict.fromkeys(name for _, (listing, _) in listed for name in read_labelmap(listing.image_root))
    categories = CategorySet(Category(i + 1, name) for i, name in enumerate(names))
    workers = default_workers(workers)

    def parts() -> Iterator[tuple[_Source, list[XmlRun]]]:
        for prefix, (listing, runs) in listed:
            yield _part(listing, runs, prefix, one_based, report), runs

    def samples() -> Iterator[Sample]:
        for source, runs in parts():
            files = sum(run.count for run in runs)
            entries = (entry for run in runs for entry in source.listing.entries(run))
            results = track(_parsed(source, runs, files, workers), "reading VOC", files)
            yield from _samples(source, entries, results, categories, report)
        report.read.categories = len(categories)

    def shards(_workers: int) -> list[Shard]:
        return [Shard(run.count, _read_shard, source, run) for source, runs in parts() for run in runs]

    # ``workers=1`` (``-r workers=1``) keeps reading to one process: no shards for a writer to spread
    return Dataset(
        samples(), categories, root=dataset_root, source_format="voc", shards=shards if workers > 1 else None
    )


#: XML files in one :class:`~cvkit.core.model.Shard` (writers that use several processes take them)
SHARD_FILES = RUN_FILES


def _part(listing: XmlListing, runs: list[XmlRun], prefix: str, one_based: bool, report: Report) -> _Source:
    """The source of one layout (a devkit folder, a flat or per-split folder, or one file), its warnings given."""
    image_root = listing.image_root
    if not runs:
        report.warn(f"no VOC annotation XML files found under {image_root}")
    images = ImageIndex(image_root, (image_root / "Annotations").is_dir())
    if images.devkit:
        _warn_masks_not_read(image_root, report)
    # the image folder listed here, once: forked workers share its pages (looking a name up writes none of them);
    # spawned ones and other machines list it for themselves (an index pickles without its listings)
    images.names(images.folder_of(None))
    return _Source(listing, images, prefix, one_based)


def _read_shard(source: _Source, run: XmlRun, categories: CategorySet, report: Report) -> Iterator[Sample]:
    """A shard's samples (:class:`~cvkit.core.model.Shard`): a run of files of one layout, parsed here. New labels
    go to ``categories`` (a worker's copy: writers number them in the parent, in order)."""
    return _samples(source, source.listing.entries(run), _run_results(source, run), categories, report)


def _samples(
    source: _Source, entries: Iterable[Job], results: Iterable[VocParsed], categories: CategorySet, report: Report
) -> Iterator[Sample]:
    """The samples of the parse results of ``entries`` (``(xml file, image id, split)``), counted; the source's
    prefix starts their paths and ids (one of several devkit folders)."""
    image_root, images, prefix = source.listing.image_root, source.images, source.prefix
    for (_file, image_id, split), (status, result) in zip(entries, results):
        sample = _sample_of(image_root, images, image_id, split, status, result, categories, report)
        if sample is not None:
            if prefix:
                sample.path, sample.id = prefix + sample.path, f"{prefix}{sample.id}"
            report.count_read(sample.split, len(sample.objects))
            yield sample


def _sample_of(
    image_root: Path,
    images: ImageIndex,
    image_id: str,
    split: str | None,
    status: str,
    result: Any,
    categories: CategorySet,
    report: Report,
) -> Sample | None:
    """The sample of one parse result (None: a bad file, reported); a new label is added to ``categories``."""
    if status == "error":
        report.invalid(result)
        return None
    if status == "missing":
        return _listed_without_xml(image_root, images, image_id, split, report)
    rel_path, width, height, objects, meta = result
    sample = Sample(rel_path, width, height, split, objects=objects, id=image_id, meta={"voc": meta} if meta else {})
    if width is None or height is None:
        _fill_size(sample, sample.resolve(image_root), report)
    for obj in objects:
        if obj.label not in categories:
            categories.ensure(obj.label)
    return sample


def _warn_masks_not_read(root: Path, report: Report) -> None:
    """CVAT and datumaro write polygons and masks to SegmentationObject/ PNGs, not to the XML: say so."""
    for name in ("SegmentationObject", "SegmentationClass"):
        if files_in(root / name, ".png", limit=1):
            report.warn(f"{name}/ masks are not read: objects come from the boxes in Annotations/")


def _listed_without_xml(root: Path, images: ImageIndex, image_id: str, split: str | None, report: Report) -> Sample:
    """An image listed in ImageSets without an XML: kept without objects. datumaro and CVAT write no XML
    for an image without boxes, and exports without images have no image file either."""
    folder = images.missing_folder(images.image_folder or "")
    found = images.find(folder, image_id, is_filename=False)
    if found is None:
        report.warn(
            "some images listed in ImageSets have neither an XML nor an image file (an export without images); kept "
            "without objects, their size unknown"
        )
        return Sample(f"{folder}{image_id}.jpg", split=split, id=image_id)
    sample = Sample(found, split=split, id=image_id)
    _fill_size(sample, root / found, report)
    return sample


def _fill_size(sample: Sample, image: Path, report: Report) -> None:
    """Missing or zero <size>: read it from the image header (never decoding the image)."""
    fill_size_from_header(
        sample, image, report, "some images have no <size> and no readable image file; their size stays unknown"
    )
