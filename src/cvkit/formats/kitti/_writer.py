"""The KITTI object writer: ``[<split>/]label_2/<stem>.txt`` per image, the image in ``image_2/`` and its
``calib/`` file when the source had one. Fields cvkit does not hold are written as KITTI writes an unknown."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cvkit.core.model import Annotation, Dataset, Sample
from cvkit.core.report import Report
from cvkit.core.shards import Pipeline
from cvkit.errors import CvkitError, InvalidInputError
from cvkit.io import IMAGE_MODES, place_image

from ._common import NOT_GIVEN

KITTI_ATTRIBUTES = ("truncated", "occluded", "alpha", "dimensions", "location", "rotation_y")


def _numbers(value: Any, default: Any, count: int) -> list[float]:
    """An attribute as ``count`` numbers; anything else is KITTI's "not given" value."""
    items = value if isinstance(value, (list, tuple)) else [value]
    if len(items) != count or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in items):
        return list(default) if isinstance(default, list) else [default]
    return [float(v) for v in items]


def label_line(obj: Annotation, report: Report) -> str | None:
    """The KITTI line of one object (None, with the loss reported, when it has no box)."""
    box = obj.bbox if obj.bbox is not None else obj.ensure_bbox()
    if box is None:
        report.lose(f"{obj.shape} shape", "KITTI holds boxes only; a shape without a box was left out")
        return None
    if obj.shape != "box" or obj.polygon or obj.rle is not None:
        report.lose(
            "mask" if obj.rle is not None and obj.shape == "box" else obj.shape,
            "KITTI holds boxes only; written as its box",
        )
    if obj.keypoints is not None:
        report.lose("keypoints", "KITTI cannot hold keypoints; the object is written without them")
    for key in obj.attributes:
        if key not in KITTI_ATTRIBUTES:
            report.lose(
                f"object attribute {key!r}",
                "KITTI holds only its own fields (truncated, occluded, alpha, dimensions, location, rotation_y)",
            )
    values = {
        key: _numbers(
            obj.attributes.get(key, NOT_GIVEN[key]), NOT_GIVEN[key], 3 if key in ("dimensions", "location") else 1
        )
        for key in KITTI_ATTRIBUTES
    }
    x, y, w, h = box
    label = "_".join(obj.label.split())
    if label != obj.label:  # a KITTI line is split at whitespace
        report.warn(f"KITTI types hold no spaces: {obj.label!r} written as {label!r}")
    fields = [
        label,
        f"{values['truncated'][0]:.2f}",
        str(int(values["occluded"][0])),
        f"{values['alpha'][0]:.2f}",
        *(f"{v:.2f}" for v in (x, y, x + w, y + h)),
        *(f"{v:.2f}" for v in values["dimensions"] + values["location"]),
        f"{values['rotation_y'][0]:.2f}",
    ]
    if obj.score is not None:
        fields.append(f"{obj.score:.2f}" if obj.score >= 0.01 else repr(obj.score))
    return " ".join(fields)


def _stem(path: str, taken: set[str]) -> str:
    stem, n = Path(path).stem, 1
    name = stem
    while name in taken:
        n += 1
        name = f"{stem}_{n}"
    taken.add(name)
    return name


@dataclass(slots=True)
class KittiEncoder:
    """The sample-alone half of a KITTI write (runs where the shard is read; picklable)."""

    root: Path | None
    report: Report


#: what :func:`encode_labels` gives for one sample: split, path, image file, label text (None: the image is missing),
#: the source's calib file, the number of lines
EncodedLabels = tuple[str | None, str, Path, str | None, Path | None, int]


def encode_labels(encoder: KittiEncoder, sample: Sample) -> EncodedLabels:
    """The sample's label text, and what it loses; a sample whose image is missing is left to the parent."""
    source = sample.resolve(encoder.root)
    if not source.is_file():
        return sample.split, sample.path, source, None, None, 0
    report = encoder.report
    lines = [line for obj in sample.objects if (line := label_line(obj, report)) is not None]
    calib = (sample.meta.get("kitti") or {}).get("calib") if isinstance(sample.meta.get("kitti"), dict) else None
    calib_file = encoder.root / calib if isinstance(calib, str) and encoder.root is not None else None
    report.lose_image_labels("KITTI", len(sample.labels))
    report.lose_image_attributes(sample.attributes, "KITTI")
    text = "".join(line + "\n" for line in lines)
    return (
        sample.split,
        sample.path,
        source,
        text,
        calib_file if calib_file and calib_file.is_file() else None,
        len(lines),
    )


def write(dataset: Dataset, path: Path, report: Report, images: str = "copy", workers: int | None = None) -> None:
    """Write ``path/[<split>/]label_2/*.txt`` and the images into ``image_2/`` (``images`` copy|hardlink|symlink:
    KITTI finds an image only by its frame name beside the labels, so it cannot reference images elsewhere).
    ``workers``: processes that read a sharded source and write its label text; the files are named and written
    here, in order."""
    if images not in IMAGE_MODES or images == "reference":
        raise CvkitError(
            f"KITTI writer option images={images!r}: choose copy, hardlink or symlink (KITTI keeps images in image_2/)"
        )
    taken: dict[str | None, set[str]] = {}
    pipeline = Pipeline(dataset, report, workers)
    encoder = KittiEncoder(dataset.root, pipeline.report)
    for split, sample_path, source, text, calib, count in pipeline.samples(encode_labels, encoder, "writing KITTI"):
        root = path / split if split else path
        stem = _stem(sample_path, taken.setdefault(split, set()))
        if text is None:
            report.invalid(InvalidInputError("image file not found; KITTI needs the image in image_2/", file=source))
            continue
        place_image(source, root / "image_2" / (stem + source.suffix.lower()), images)
        label_file = root / "label_2" / f"{stem}.txt"
        label_file.parent.mkdir(parents=True, exist_ok=True)
        label_file.write_text(text, encoding="utf-8")
        if calib is not None:
            (root / "calib").mkdir(parents=True, exist_ok=True)
            shutil.copyfile(calib, root / "calib" / f"{stem}.txt")
        report.count_written(split, count)
    if len(dataset.hierarchy):
        report.lose("hierarchy", "KITTI classes are flat", len(dataset.hierarchy))
