"""Reading CVAT for images 1.1 and CVAT for video 1.1 (``annotations.xml``, a folder holding it, or the export zip).

The XML is streamed with lxml's safe settings (no entities, no network, no huge trees): each ``<image>`` becomes a
sample as soon as it ends. Video tracks are collected first, then each frame becomes a sample holding one object
per track shape on it (the track id kept as the attribute ``track_id``); shapes marked ``outside="1"`` are the
object having left the frame and are not objects (``-r outside=keep`` keeps them, with ``outside: true``).
"""

from __future__ import annotations

import zipfile
from array import array
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any

from cvkit.core.categories import Category, CategorySet
from cvkit.core.model import Annotation, Dataset, Sample, Shard
from cvkit.core.report import Report
from cvkit.core.shards import shards_of
from cvkit.errors import CvkitError, InvalidInputError
from cvkit.formats.cvat._meta import Meta, parse_meta, skeleton_edges
from cvkit.formats.cvat._shapes import SHAPE_TAGS, _where, read_shape
from cvkit.io import extraction_dir, open_regular

#: image suffixes looked for beside the XML (CVAT's export writes JPEG and PNG frames)
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
SPLIT_BY = ("subset", "job")
OUTSIDE = ("skip", "keep")


def _parser(source: str | IO[bytes]) -> Any:
    from lxml import etree

    return etree.iterparse(
        source,
        events=("end",),
        resolve_entities=False,
        no_network=True,
        huge_tree=False,
        load_dtd=False,
        remove_comments=True,
        remove_pis=True,
    )


def _release(el: Any) -> None:
    """Free a handled element and everything before it (the tree of a big file never builds up)."""
    el.clear(keep_tail=False)
    parent = el.getparent()
    if parent is not None:
        while el.getprevious() is not None:
            del parent[0]


def categories_from_meta(meta: Meta) -> CategorySet:
    """Top-level labels of ``<meta>`` in order (a skeleton's points are its keypoint names, not categories)."""
    categories = CategorySet()
    for spec in meta.labels.values():
        if spec.parent is not None:
            continue
        attributes: dict[str, Any] = {}
        if spec.color:
            attributes["color"] = spec.color
        if spec.type:
            attributes["cvat_type"] = spec.type
        if spec.attributes:
            attributes["cvat_attributes"] = [a.to_dict() for a in spec.attributes.values()]
        names = meta.keypoint_names(spec.name)
        if names:
            attributes["keypoints"] = names
            edges = skeleton_edges(spec.svg, names)
            if edges:
                attributes["skeleton"] = edges
        if spec.svg:
            attributes["cvat_svg"] = spec.svg
        categories.add(Category(len(categories) + 1, spec.name, attributes=attributes))
    return categories


class _Images:
    """Finds the image file of an ``<image name>`` beside the XML: ``images/<subset>/<name>`` (project exports),
    ``images/<name>`` (task exports), ``<name>``."""

    def __init__(self, root: Path):
        self.root = root

    def path(self, name: str, subset: str | None) -> str:
        """A name without a suffix (a video task's ``frame_000010`` exported as images) finds ``<name>.<ext>``, as
        CVAT's and datumaro's importers match images by stem."""
        candidates = ([f"images/{subset}/{name}"] if subset else []) + [f"images/{name}", name]
        if not PurePosixPath(name).suffix:
            candidates += [f"{c}{suffix}" for c in candidates[:] for suffix in IMAGE_SUFFIXES]
        for candidate in candidates:
            if (self.root / candidate).is_file():
                return candidate
        return name

    def frame(self, frame: int, task: Any) -> str:
        """A video frame's image: ``images/frame_NNNNNN.<ext>``, by absolute number, else by the task's frame
        numbering (``start_frame + frame * step`` of ``frame_filter=step=N``)."""
        numbers = [frame]
        if task is not None and (task.start_frame or task.frame_step > 1):
            numbers.append(task.start_frame + frame * task.frame_step)
        for number in numbers:
            for suffix in IMAGE_SUFFIXES:
                for candidate in (f"images/frame_{number:06d}{suffix}", f"frame_{number:06d}{suffix}"):
                    if (self.root / candidate).is_file():
                        return candidate
        return f"images/frame_{frame:06d}.png"


class CvatReader:
    """One CVAT XML turned into samples: streamed (:meth:`samples`), or indexed into runs that
    :func:`_read_images` and :func:`_read_frames` read anywhere (:meth:`index`). ``categories``: where the labels
    met go (the dataset's, or a shard's copy); ``meta``: the ``<meta>`` read already (a shard's)."""

    def __init__(
        self,
        file: Path,
        root: Path,
        report: Report,
        split_by: str,
        outside: str,
        categories: CategorySet | None = None,
        meta: Meta | None = None,
    ):
        self.file, self.root, self.report, self.split_by = file, root, report, split_by
        self.outside_mode, self.keep_outside = outside, outside == "keep"
        self.images = _Images(root)
        self.meta = meta if meta is not None else Meta()
        self.categories = categories if categories is not None else CategorySet()
        self.outside = 0
        self.cuboids = 0

    def _split(self, subset: str | None, task_id: str | None, frame: int) -> str | None:
        task = self.meta.task(task_id)
        if self.split_by == "job" and task is not None:
            job = next((j for j in task.jobs if j[1] <= frame <= j[2]), None)
            return f"job_{job[0]}" if job else None
        return subset or (task.subset if task is not None else None)

    def _shape(self, el: Any, label: str, size: tuple[int | None, int | None]) -> Annotation | None:
        if el.tag == "cuboid":
            self.cuboids += 1
            return None
        if not label:
            raise InvalidInputError("shape without a label", file=self.file, location=_where(el))
        obj = read_shape(el, label, self.meta, size, self.file)
        if label not in self.categories:
            self.categories.ensure(label)
        return obj

    def _image(self, el: Any) -> Sample:
        name = el.get("name")
        if not name:
            raise InvalidInputError("<image> without a name", file=self.file, location=_where(el))
        try:
            width = int(el.get("width")) if el.get("width") else None
            height = int(el.get("height")) if el.get("height") else None
            frame = int(el.get("id", "0"))
        except ValueError:
            raise InvalidInputError(
                "<image> id, width and height must be integers", file=self.file, location=_where(el)
            ) from None
        subset, task_id = el.get("subset"), el.get("task_id")
        sample = Sample(self.images.path(name, subset), width, height, self._split(subset, task_id, frame), id=frame)
        sample.meta["cvat"] = {"name": name, **({"task_id": task_id} if task_id else {})}
        tags = []
        for child in el:
            if child.tag in SHAPE_TAGS:
                obj = self._shape(child, child.get("label", ""), (width, height))
                if obj is not None:
                    sample.objects.append(obj)
            elif child.tag == "tag":
                self._tag(child, sample, tags)
        if tags:
            sample.meta["cvat"]["tags"] = tags
        sample.objects = merge_skeletons(sample.objects)
        return sample

    def image_sample(self, el: Any) -> Sample | None:
        """The sample of one ``<image>``, counted; None when it is invalid (and skipped)."""
        try:
            sample = self._image(el)
        except InvalidInputError as err:
            self.report.invalid(err)
            return None
        self.report.count_read(sample.split, len(sample.objects))
        return sample

    def _tag(self, el: Any, sample: Sample, tags: list[dict[str, Any]]) -> None:
        """An image tag is an image-level label; its attributes and group stay in meta for the writer."""
        label = el.get("label", "")
        if not label:
            raise InvalidInputError("<tag> without a label", file=self.file, location=_where(el))
        if label not in self.categories:
            self.categories.ensure(label)
        sample.labels.append(label)
        probe = read_shape(el, label, self.meta, (None, None), self.file)  # attributes and group only
        if probe.attributes or probe.group is not None:
            tags.append({"label": label, "attributes": probe.attributes, "group": probe.group})

    def _track(self, el: Any, frames: dict[int, list[Annotation]]) -> None:
        label, track_id = el.get("label", ""), el.get("id")
        task = self.meta.task(el.get("task_id"))
        size = task.size if task is not None and task.size else (None, None)
        for child in el:
            if child.tag not in SHAPE_TAGS:
                continue
            try:
                frame = int(child.get("frame", ""))
            except ValueError:
                raise InvalidInputError(
                    "a track shape needs an integer frame", file=self.file, location=_where(child)
                ) from None
            outside = child.get("outside") == "1"
            if outside and not self.keep_outside:
                self.outside += 1
                frames.setdefault(frame, [])
                continue
            if el.get("group_id") not in (None, "", "0"):
                child.set("group_id", el.get("group_id"))
            obj = self._shape(child, label, size)
            if obj is None:
                continue
            if outside:
                obj.attributes["outside"] = True
            if track_id is not None:
                obj.attributes["track_id"] = int(track_id) if track_id.isdigit() else track_id
            obj.meta.setdefault("cvat", {})["keyframe"] = child.get("keyframe") == "1"
            frames.setdefault(frame, []).append(obj)

    def frame_sample(self, frame: int, objects: list[Annotation]) -> Sample:
        """The sample of one video frame holding its tracks' shapes, counted."""
        task = self.meta.task(None)
        width, height = task.size if task is not None and task.size else (None, None)
        sample = Sample(self.images.frame(frame, task), width, height, self._split(None, None, frame), id=frame)
        sample.objects = objects
        sample.meta["cvat"] = {"name": f"frame_{frame:06d}", "frame": frame}
        self.report.count_read(sample.split, len(sample.objects))
        return sample

    def _walk(self, source: str | IO[bytes], frames: dict[int, list[Annotation]]) -> Iterator[Any]:
        """The document's ``<image>`` elements in order, each freed once the caller is done with it; ``<meta>`` is
        read into :attr:`meta` and the categories, ``<track>`` s into ``frames`` (frame -> objects)."""
        from lxml import etree

        try:
            for _event, el in _parser(source):
                if el.tag == "meta" and el.getparent() is not None and el.getparent().tag == "annotations":
                    self.meta = parse_meta(el, self.file)
                    for category in categories_from_meta(self.meta):
                        self.categories.add(category)
                elif el.tag == "image":
                    yield el
                elif el.tag == "track":
                    try:
                        self._track(el, frames)
                    except InvalidInputError as err:
                        self.report.invalid(err)
                else:
                    continue
                _release(el)
        except etree.XMLSyntaxError as exc:
            raise InvalidInputError(
                f"malformed XML: {exc.msg}", file=self.file, location=f"line {exc.lineno}"
            ) from None

    def samples(self, source: str | IO[bytes]) -> Iterator[Sample]:
        """Every sample, streamed: the images as they end, then the video frames in order."""
        frames: dict[int, list[Annotation]] = {}
        for el in self._walk(source, frames):
            sample = self.image_sample(el)
            if sample is not None:
                yield sample
        for frame in sorted(frames):
            yield self.frame_sample(frame, frames[frame])

    def index(self, source: str | IO[bytes]) -> tuple[list[_Fragment], list[tuple[int, list[Annotation]]]]:
        """The document cut for shards: each ``<image>`` as its XML and the lines of its elements (plain data a
        worker parses again), and the video frames with their tracks' objects (read here: a track spans frames)."""
        from lxml import etree

        frames: dict[int, list[Annotation]] = {}
        images = [
            (etree.tostring(el), array("I", [node.sourceline or 0 for node in el.iter()]))
            for el in self._walk(source, frames)
        ]
        return images, sorted(frames.items())

    def word(self, report: Report, cuboids: int = 0) -> None:
        """The warnings of a whole read (``cuboids``: those the shards counted), once every sample has been seen."""
        if self.outside:
            report.warn(
                f'{self.outside} track shape(s) marked outside="1" (the object is not in that frame) are not objects '
                "(-r outside=keep keeps them)"
            )
        if self.cuboids + cuboids:
            report.warn(f"{self.cuboids + cuboids} cuboid(s) left out: cvkit holds no 3-D boxes")
        report.read.categories = max(report.read.categories, len(self.categories))


def _declares_dtd(source: str | IO[bytes]) -> bool:
    """Whether the document starts with a DTD (its first element tells; a malformed start is the read's error)."""
    from lxml import etree

    try:
        for _event, el in _parser(source):
            return el.getroottree().docinfo.internalDTD is not None
    except etree.XMLSyntaxError:
        pass
    return False


#: one ``<image>`` element as shards carry it: its XML, and the source line of each of its elements (in document
#: order), so that errors name the lines of the file
_Fragment = tuple[bytes, array]


@dataclass(frozen=True, slots=True)
class _Source:
    """What the shards of one document share (sent once a worker): plain data, no parsed tree."""

    file: Path
    root: Path
    meta: Meta
    split_by: str
    outside: str

    def reader(self, categories: CategorySet, report: Report) -> CvatReader:
        return CvatReader(self.file, self.root, report, self.split_by, self.outside, categories, self.meta)


#: the tally (:attr:`~cvkit.core.report.Report.tallies`) of the cuboids the shards left out
_CUBOIDS = "cvat.cuboids"


def _read_images(source: _Source, run: list[_Fragment], categories: CategorySet, report: Report) -> Iterator[Sample]:
    """A shard's samples (:class:`~cvkit.core.model.Shard`): a run of ``<image>`` elements, parsed here again."""
    from lxml import etree

    reader = source.reader(categories, report)
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    for xml, lines in run:
        el = etree.fromstring(xml, parser)
        for node, line in zip(el.iter(), lines, strict=True):
            node.sourceline = line
        sample = reader.image_sample(el)
        if sample is not None:
            yield sample
    if reader.cuboids:
        report.tallies[_CUBOIDS] += reader.cuboids


def _read_frames(
    source: _Source, run: list[tuple[int, list[Annotation]]], categories: CategorySet, report: Report
) -> Iterator[Sample]:
    """A shard's samples: a run of video frames with their tracks' objects."""
    reader = source.reader(categories, report)
    for frame, objects in run:
        yield reader.frame_sample(frame, objects)


def merge_skeletons(objects: list[Annotation]) -> list[Annotation]:
    """A skeleton grouped (``group_id``) with exactly one box of its label gives that box its keypoints: the way
    CVAT holds a COCO person (box + skeleton), and how the writer writes a box with keypoints."""
    boxes: dict[tuple[str, int], list[Annotation]] = {}
    for obj in objects:
        if obj.shape == "box" and obj.group is not None and obj.keypoints is None:
            boxes.setdefault((obj.label, obj.group), []).append(obj)
    out = []
    for obj in objects:
        partners = boxes.get((obj.label, obj.group), []) if obj.shape == "keypoints" and obj.group is not None else []
        if len(partners) == 1:
            partners[0].keypoints = obj.keypoints
            names = obj.meta.get("cvat", {}).get("keypoint_names")
            if names:
                partners[0].meta.setdefault("cvat", {})["keypoint_names"] = names
            continue
        out.append(obj)
    return out


def _safe_member(name: str) -> PurePosixPath | None:
    path = PurePosixPath(name)
    return None if path.is_absolute() or ".." in path.parts or not path.parts else path


def open_source(path: Path, images_dir: str | None) -> tuple[Path, Path, Any]:
    """(the XML's path for messages, the folder images are looked up in, an opener of the XML bytes)."""
    if path.is_dir():
        candidates = [path / "annotations.xml", *sorted(p for p in path.glob("*.xml") if p.name != "annotations.xml")]
        xml = next((p for p in candidates if p.is_file()), None)
        if xml is None:
            raise CvkitError("no annotations.xml in this folder", file=path)
        return xml, path, lambda: str(xml)
    if zipfile.is_zipfile(path):
        return _from_zip(path, images_dir)
    return path, path.parent, lambda: str(path)


def _from_zip(path: Path, images_dir: str | None) -> tuple[Path, Path, Any]:
    """An export zip: its ``annotations.xml`` is read from the archive, its images extracted (once) to
    ``images_dir`` or cvkit's cache; member names that would leave that folder are refused."""
    archive = zipfile.ZipFile(path)
    names = archive.namelist()
    xml = next((n for n in names if PurePosixPath(n).name == "annotations.xml"), None) or next(
        (n for n in names if n.endswith(".xml")), None
    )
    if xml is None:
        raise CvkitError("no annotations.xml in this zip", file=path)
    target = extraction_dir(path, images_dir)
    prefix = PurePosixPath(xml).parent
    for name in names:
        member = _safe_member(name)
        if member is None:
            raise InvalidInputError("zip member name leaves the archive's folder", file=path, location=name)
        if member.suffix.lower() in IMAGE_SUFFIXES and member.is_relative_to(prefix):
            out = target / member.relative_to(prefix)
            if not out.is_file():
                out.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(name) as src, open(out, "wb") as dst:
                    while chunk := src.read(1 << 20):
                        dst.write(chunk)
    return path, target, lambda: archive.open(xml)


def read(
    path: Path, report: Report, split_by: str = "subset", outside: str = "skip", images_dir: str | None = None
) -> Dataset:
    if split_by not in SPLIT_BY:
        raise CvkitError(f"CVAT reader option split_by={split_by!r}: choose one of {', '.join(SPLIT_BY)}")
    if outside not in OUTSIDE:
        raise CvkitError(f"CVAT reader option outside={outside!r}: choose one of {', '.join(OUTSIDE)}")
    file, root, opener = open_source(path, images_dir)
    reader = CvatReader(file, root, report, split_by, outside)
    info: dict[str, Any] = {}

    @contextmanager
    def opened() -> Iterator[Any]:
        """The XML's bytes (a path or an open member of the zip), closed after; the project's info once read."""
        source = opener()
        try:
            yield source
        finally:
            if hasattr(source, "close"):
                source.close()
            info["cvat"] = (
                {"project": reader.meta.project, "subsets": reader.meta.subsets} if reader.meta.project else {}
            )

    def samples() -> Iterator[Sample]:
        with opened() as source:
            yield from reader.samples(source)

    def shards(workers: int) -> list[Shard] | None:
        if workers <= 1:  # streamed in this process: the tree of a big file never builds up
            return None
        with opened() as source:
            if _declares_dtd(source):  # its entities would not survive being cut: read in one process
                return None
        with opened() as source:
            images, frames = reader.index(source)
        source = _Source(file, root, reader.meta, split_by, outside)
        return shards_of(_read_images, source, images) + shards_of(_read_frames, source, frames)

    def finish(merged: Report | None) -> None:
        target = merged if merged is not None else report
        reader.word(target, target.tallies.pop(_CUBOIDS, 0))

    dataset = Dataset(samples(), reader.categories, root=root, source_format="cvat", info=info, shards=shards)
    dataset.finishers.append(finish)
    return dataset


def is_cvat_xml(path: Path) -> bool:
    """An XML whose root is ``<annotations>`` starting with ``<version>`` (CVAT 1.1) or ``<meta>``."""
    try:
        with open_regular(path) as handle:  # a FIFO named x.xml is passed over, not waited on
            head = handle.read(2048)
    except (OSError, InvalidInputError):
        return False
    text = head.lstrip(b"\xef\xbb\xbf").lstrip()
    if text.startswith(b"<?xml"):
        text = text[text.find(b"?>") + 2 :].lstrip()
    return text.startswith(b"<annotations>") and (b"<version>" in text or b"<meta>" in text)
