"""Writing LabelMe JSON: one file per image next to the image, as labelme 5.5 saves it."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from cvkit.core import jsonio
from cvkit.core.imageinfo import fill_size_from_header, read_image_info
from cvkit.core.limits import open_image
from cvkit.core.model import Annotation, Dataset, Sample
from cvkit.core.paths import check_image_source, inside
from cvkit.core.report import Report
from cvkit.core.shards import Pipeline
from cvkit.errors import CvkitError
from cvkit.io import IMAGE_MODES, RealPaths, place_image

from ._shapes import (
    IGNORE_LABEL,
    ROTATED_TYPES,
    mask_shape_parts,
    point_pairs,
    rectangle_points,
    same_points,
    shape_record,
)

VERSION = "5.5.0"


def _json_base(sample: Sample) -> PurePosixPath:
    """Where the sample's JSON goes before a clash renames it: where its reader found it, else the image path with
    .json. Absolute paths and paths leaving the dataset root keep only the file name."""
    recorded = sample.meta.get("labelme", {}).get("file")
    base = PurePosixPath(recorded) if isinstance(recorded, str) else PurePosixPath(sample.path).with_suffix(".json")
    return PurePosixPath(base.name) if base.is_absolute() or ".." in base.parts else base


def _unique(base: PurePosixPath, used: set[str], report: Report) -> PurePosixPath:
    """``base``, or ``<stem>_2.json``, ``_3``, ... in the same folder when an earlier sample took it."""
    candidate, n = base, 1
    while candidate.as_posix().lower() in used:
        n += 1
        candidate = base.with_name(f"{base.stem}_{n}.json")
    if n > 1:
        report.warn("several images map to the same LabelMe JSON name; later ones got a _2, _3, ... suffix")
    used.add(candidate.as_posix().lower())
    return candidate


def _image_data(image: Path) -> str:
    """base64 of the image as displayed: the file's bytes, or re-encoded after EXIF rotation. Only an image the
    source may place (:func:`cvkit.core.paths.check_image_source`) is embedded, as only such a one is copied."""
    check_image_source(image)
    info = read_image_info(image)
    if info.orientation == 1:
        return base64.b64encode(image.read_bytes()).decode("ascii")
    import io

    from PIL import ImageOps

    with open_image(image) as img:
        rotated = ImageOps.exif_transpose(img)
        buffer = io.BytesIO()
        rotated.save(buffer, format="PNG" if "A" in rotated.mode else "JPEG", quality=95)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _flags(sample: Sample) -> dict[str, bool]:
    """Image flags: the source's (false ones kept), true for every image-level label."""
    source = sample.meta.get("labelme", {}).get("flags") or {}
    flags = {k: (k in sample.labels) for k in source}
    if IGNORE_LABEL in source:
        flags[IGNORE_LABEL] = bool(source[IGNORE_LABEL])
    for label in sample.labels:
        flags[label] = True
    return flags


class _Groups:
    """Hands out group ids for split polygons that are not already used in the image."""

    def __init__(self, objects: list[Annotation]):
        self.used = {o.group for o in objects if o.group is not None}

    def take(self, wanted: int | None) -> int:
        if wanted is not None:
            return wanted
        new = max(self.used, default=-1) + 1
        self.used.add(new)
        return new


def _merged_shapes(obj: Annotation, parts: list[dict[str, Any]], group: int) -> list[dict[str, Any]] | None:
    """The original parts of a group_id instance, when they still describe the annotation."""
    if obj.shape == "polygon":
        expected = []
        for part in parts:
            if part["shape_type"] == "mask":
                return None
            pts = part["points"]
            if part["shape_type"] == "rectangle":
                xs, ys = [p[0] for p in pts], [p[1] for p in pts]
                pts = [[min(xs), min(ys)], [max(xs), min(ys)], [max(xs), max(ys)], [min(xs), max(ys)]]
            expected.append(pts)
        actual = [[[poly[i], poly[i + 1]] for i in range(0, len(poly), 2)] for poly in obj.polygon or []]
        if len(actual) != len(expected) or not all(same_points(a, e) for a, e in zip(actual, expected)):
            return None
        return [shape_record(obj, p["shape_type"], p["points"], group, part=p) for p in parts]
    if obj.shape == "mask" and obj.rle is not None:
        out = []
        for part in parts:
            if part["shape_type"] == "mask":
                made = mask_shape_parts(obj.rle, part["points"], part=True)
                if made is None:
                    return None
                out.append(shape_record(obj, "mask", made[0], group, made[1], part=part))
            else:
                out.append(shape_record(obj, part["shape_type"], part["points"], group, part=part))
        return out
    return None


def annotation_shapes(obj: Annotation, groups: _Groups, report: Report) -> list[dict[str, Any]]:
    """The LabelMe shapes for one annotation; what LabelMe cannot hold goes to the report."""
    parts = obj.meta.get("labelme", {}).get("parts")
    if parts:
        merged = _merged_shapes(obj, parts, groups.take(obj.group))
        if merged is not None:
            return merged
    report.lose_object_extras(obj, "LabelMe JSON", holds=("score", "attributes"))
    shape = obj.shape
    if shape == "mask" and obj.rle is not None:
        made = mask_shape_parts(obj.rle, obj.meta.get("labelme", {}).get("points"))
        if made is None:
            report.lose("empty mask", "a mask with no pixels has no LabelMe shape; dropped")
            return []
        return [shape_record(obj, "mask", made[0], obj.group, made[1])]
    if shape == "polygon" and obj.polygon:
        usable = [p for p in obj.polygon if len(p) >= 6]
        if len(usable) < len(obj.polygon):
            report.lose(
                "polygon part with fewer than 3 points",
                "LabelMe polygons need 3 points; part dropped",
                len(obj.polygon) - len(usable),
            )
        group = obj.group if len(usable) < 2 else groups.take(obj.group)
        rotated = obj.meta.get("labelme", {}).get("shape_type")  # a rotated box read as its corners
        shape_type = rotated if rotated in ROTATED_TYPES and len(usable) == 1 and len(usable[0]) == 8 else "polygon"
        return [shape_record(obj, shape_type, point_pairs(p), group) for p in usable]
    if shape in ("circle", "point", "line", "linestrip") and obj.points:
        return [shape_record(obj, shape, point_pairs(obj.points), obj.group)]
    if obj.bbox is not None:
        return [shape_record(obj, "rectangle", rectangle_points(obj), obj.group)]
    report.lose(f"{shape} shape", "no geometry LabelMe can hold; dropped")
    return []


def _place(
    sample: Sample,
    root: Path | None,
    path: Path,
    json_rel: PurePosixPath,
    images: str,
    embed: bool,
    real_paths: RealPaths,
) -> tuple[str, str | None]:
    """(imagePath relative to the JSON, imageData or None), placing the image when asked."""
    source = sample.resolve(root)
    meta = sample.meta.get("labelme", {})
    embedded = bool(meta.get("embedded"))
    json_dir = inside(path, json_rel.parent.as_posix())
    if images != "reference":
        name = (json_rel.stem + source.suffix) if embedded else PurePosixPath(sample.path).name
        place_image(source, json_dir / name, images)
        return name, _image_data(json_dir / name) if embed else None
    if embedded or embed:  # an image that came embedded stays embedded when not copied out
        recorded = meta.get("imagePath") if embedded else None
        data = _image_data(source) if source.is_file() else None
        return (recorded if isinstance(recorded, str) else json_rel.stem + source.suffix), data
    return real_paths.relative(source, json_dir), None


def sample_record(sample: Sample, image_path: str, image_data: str | None, report: Report) -> dict[str, Any]:
    """The whole JSON document for one image."""
    groups = _Groups(sample.objects)
    shapes = [s for obj in sample.objects for s in annotation_shapes(obj, groups, report)]
    record: dict[str, Any] = {
        "version": VERSION,
        "flags": _flags(sample),
        "shapes": shapes,
        "imagePath": image_path,
        "imageData": image_data,
        "imageHeight": sample.height,
        "imageWidth": sample.width,
    }
    if sample.attributes:
        record["attributes"] = sample.attributes  # LabelMe keeps unknown top-level keys
    record.update(sample.meta.get("labelme", {}).get("other") or {})
    return record


def write(
    dataset: Dataset,
    path: Path,
    report: Report,
    images: str = "reference",
    image_data: bool = False,
    workers: int | None = None,
) -> None:
    """One JSON per image; ``images=copy|hardlink|symlink`` puts each image beside its JSON,
    ``reference`` points ``imagePath`` at the image where it is. ``image_data=true`` embeds it. ``workers``: processes
    that read a sharded source (COCO, a manifest, VOC, LabelMe) and write its JSON documents, with images referenced
    and not embedded (default: one a CPU); the files are named and written here, in order."""
    if images not in IMAGE_MODES:
        raise CvkitError(f"unknown image mode {images!r}; choose one of {', '.join(IMAGE_MODES)}")
    if path.suffix.lower() == ".json":
        raise CvkitError("LabelMe writes one JSON per image: give a folder, not a .json file", file=path)
    writer = _LabelMeWriter(path, report)
    # an image placed or embedded is read or written by encode: in this process, in order
    pipeline = Pipeline(dataset, report, workers if images == "reference" and not image_data else 1)
    # the placing side's encoder, for samples whose image came embedded
    writer.encoder = JsonEncoder(dataset.root, path, report, images, image_data)
    encoder = JsonEncoder(dataset.root, path, pipeline.report, images, image_data)
    for item in pipeline.samples(encode_json, encoder, "writing LabelMe"):
        writer.place(item)
    unused = [c.name for c in dataset.categories if c.name not in writer.holds_labels]
    if unused:
        report.lose(
            "category without objects", "LabelMe JSON lists no categories, only labels of drawn shapes", len(unused)
        )
    report.written.categories = len(writer.holds_labels - {IGNORE_LABEL})


#: what :meth:`_LabelMeWriter.encode` gives for one sample: its split, its JSON's path before a clash renames it, the
#: JSON, its labels, and its number of objects
EncodedJson = tuple[str | None, PurePosixPath, bytes, set[str], int]


@dataclass(slots=True)
class JsonEncoder:
    """The sample-alone half of a LabelMe write (runs on the workers; picklable)."""

    root: Path | None
    path: Path
    report: Report
    images: str
    image_data: bool
    real_paths: RealPaths = field(default_factory=RealPaths)

    def encoded(self, sample: Sample, json_rel: PurePosixPath) -> EncodedJson:
        """The sample's JSON document for ``json_rel``."""
        if sample.width is None or sample.height is None:
            fill_size_from_header(
                sample,
                sample.resolve(self.root),
                self.report,
                "some images have no known size and no readable file; imageHeight/imageWidth are null",
            )
        image_path, data = _place(sample, self.root, self.path, json_rel, self.images, self.image_data, self.real_paths)
        record = sample_record(sample, image_path, data, self.report)
        if sample.split:
            self.report.lose("split", "LabelMe JSON has no splits")
        labels = {o.label for o in sample.objects}
        labels.update(sample.labels)
        return sample.split, json_rel, jsonio.dumps(record, indent=True) + b"\n", labels, len(sample.objects)


def encode_json(encoder: JsonEncoder, sample: Sample) -> EncodedJson | Sample:
    """The sample's JSON for where :func:`_json_base` puts it (a clash renames the file, not its folder). A sample
    whose image came embedded is named after its JSON's final name: it is handed on to the placing side."""
    if sample.meta.get("labelme", {}).get("embedded"):
        return sample
    return encoder.encoded(sample, _json_base(sample))


class _LabelMeWriter:
    """The placing half of one write: names and writes the files in order."""

    def __init__(self, path: Path, report: Report):
        self.path, self.report = path, report
        self.used: set[str] = set()
        self.holds_labels: set[str] = set()
        self.folders: set[Path] = set()
        self.encoder: JsonEncoder | None = None

    def place(self, item: EncodedJson | Sample) -> None:
        """Write an encoded sample's JSON under a name no earlier sample took."""
        if isinstance(item, Sample):
            assert self.encoder is not None
            json_rel = _unique(_json_base(item), self.used, self.report)
            split, json_rel, document, labels, objects = self.encoder.encoded(item, json_rel)
        else:
            split, base, document, labels, objects = item
            json_rel = _unique(base, self.used, self.report)
        target = inside(self.path, json_rel.as_posix())
        if target.parent not in self.folders:
            target.parent.mkdir(parents=True, exist_ok=True)
            self.folders.add(target.parent)
        target.write_bytes(document)
        self.holds_labels.update(labels)
        self.report.count_written(split, objects)
