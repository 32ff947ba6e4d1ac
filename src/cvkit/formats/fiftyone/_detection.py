"""Reading FiftyOne's ``Detection`` records (shared by both exports) and the FiftyOneImageDetectionDataset."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cvkit.core.categories import CategorySet
from cvkit.core.imageinfo import IMAGE_EXTENSIONS, read_image_info
from cvkit.core.model import Annotation, Dataset, Sample, Shard
from cvkit.core.progress import track
from cvkit.core.report import Report
from cvkit.core.shards import read_here, shards_of
from cvkit.errors import InvalidInputError

#: Detection keys cvkit maps to its own fields; any other key is kept as an object attribute
RESERVED = frozenset(
    ("_id", "_cls", "id", "label", "bounding_box", "confidence", "attributes", "mask", "mask_path", "iscrowd", "tags")
)


def relative_box(value: Any, width: int, height: int, file: Path, where: str) -> tuple[float, float, float, float]:
    """FiftyOne's ``[x, y, w, h]`` in [0, 1] of the image size as pixels."""
    if (
        not isinstance(value, list)
        or len(value) != 4
        or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
    ):
        raise InvalidInputError(
            f"bounding_box must be 4 numbers [x, y, w, h] relative to the image, got {value!r}",
            file=file,
            location=f"{where}.bounding_box",
        )
    x, y, w, h = value
    if w < 0 or h < 0:
        raise InvalidInputError(
            "bounding_box width and height must not be negative", file=file, location=f"{where}.bounding_box"
        )
    return (x * width, y * height, w * width, h * height)


def detection(record: Any, label: str, size: tuple[int, int], file: Path, where: str) -> Annotation:
    """One detection record as an object (its FiftyOne ``attributes`` and custom fields as attributes)."""
    box = relative_box(record.get("bounding_box"), size[0], size[1], file, where)
    confidence = record.get("confidence")
    if confidence is not None and (isinstance(confidence, bool) or not isinstance(confidence, (int, float))):
        raise InvalidInputError(
            f"confidence must be a number, got {confidence!r}", file=file, location=f"{where}.confidence"
        )
    attributes: dict[str, Any] = {}
    nested = record.get("attributes")
    if isinstance(nested, dict):  # FiftyOne's old-style Attribute documents hold their value under "value"
        attributes.update({k: v.get("value") if isinstance(v, dict) and "_cls" in v else v for k, v in nested.items()})
    attributes.update({k: v for k, v in record.items() if k not in RESERVED and v is not None})
    if record.get("tags"):
        attributes["tags"] = list(record["tags"])
    return Annotation(
        label,
        box,
        score=None if confidence is None else float(confidence),
        iscrowd=bool(record.get("iscrowd")),
        attributes=attributes,
    )


def image_size(image: Path | None, file: Path, where: str) -> tuple[int, int]:
    """The displayed size of an image relative boxes scale by; no image is an error naming the entry."""
    if image is None:
        raise InvalidInputError(
            "no image in data/ for these labels: relative boxes need the image size", file=file, location=where
        )
    info = read_image_info(image)
    return info.width, info.height


def label_of(raw: Any, classes: list[str] | None, file: Path, where: str) -> str:
    """``label``: a class name, or an index into ``classes`` when the file lists them."""
    if classes is not None and isinstance(raw, int) and not isinstance(raw, bool):
        if not 0 <= raw < len(classes):
            raise InvalidInputError(
                f"label index {raw} outside classes (0..{len(classes) - 1})", file=file, location=f"{where}.label"
            )
        return classes[raw]
    if not isinstance(raw, str) or not raw:
        raise InvalidInputError(
            f"label must be a class name or index, got {raw!r}", file=file, location=f"{where}.label"
        )
    return raw


def _images_by_stem(folder: Path) -> dict[str, Path]:
    if not folder.is_dir():
        return {}
    return {p.stem: p for p in sorted(folder.iterdir()) if p.suffix.lower() in IMAGE_EXTENSIONS}


def read_detection_export(path: Path, top: Any, report: Report) -> Dataset:
    """The FiftyOneImageDetectionDataset in ``path`` (``top``: its parsed labels.json)."""
    file = path / "labels.json"
    if not isinstance(top, dict) or not isinstance(top.get("labels"), dict):
        raise InvalidInputError(
            "expected an object with 'labels' (a mapping of image stem to detections)", file=file, location="labels"
        )
    classes = top.get("classes")
    if classes is not None and not (isinstance(classes, list) and all(isinstance(c, str) for c in classes)):
        raise InvalidInputError("classes must be a list of names or null", file=file, location="classes")
    categories = CategorySet()
    for name in classes or ():
        categories.ensure(name)
    images = _images_by_stem(path / "data")
    labels = top["labels"]

    def shards(_workers: int) -> list[Shard]:
        # an image without a labels entry is unlabeled, and kept
        return shards_of(_read_run, (file, labels, classes, images), sorted(set(images) | set(labels)))

    return Dataset(
        track(read_here(shards, categories, report), "reading FiftyOne labels"),
        categories,
        root=path,
        source_format="fiftyone",
        shards=shards,
    )


def _read_run(
    source: tuple[Path, dict[str, Any], list[str] | None, dict[str, Path]],
    stems: list[str],
    categories: CategorySet,
    report: Report,
) -> Iterator[Sample]:
    """A shard's samples (:class:`~cvkit.core.model.Shard`): the images of a run of stems, their detections read
    here."""
    file, labels, classes, images = source
    for stem in stems:
        image = images.get(stem)
        sample = Sample(f"data/{image.name}" if image else f"data/{stem}", id=stem)
        objects = []
        records = labels.get(stem) or []
        try:
            if not isinstance(records, list):
                raise InvalidInputError("expected a list of detections", file=file, location=f"labels.{stem}")
            if image is not None or records:
                sample.width, sample.height = image_size(image, file, f"labels.{stem}")
            for i, record in enumerate(records):
                where = f"labels.{stem}[{i}]"
                if not isinstance(record, dict):
                    raise InvalidInputError("expected a detection object", file=file, location=where)
                obj = detection(
                    record,
                    label_of(record.get("label"), classes, file, where),
                    (sample.width, sample.height),
                    file,
                    where,
                )
                categories.ensure(obj.label)
                objects.append(obj)
        except InvalidInputError as err:
            report.invalid(err)
            continue
        sample.objects = objects
        report.count_read(None, len(objects))
        yield sample
