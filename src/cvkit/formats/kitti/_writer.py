"""The KITTI object writer: ``[<split>/]label_2/<stem>.txt`` per image, the image in ``image_2/`` and its
``calib/`` file when the source had one. Fields cvkit does not hold are written as KITTI writes an unknown."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from cvkit.core.model import Annotation, Dataset, Sample
from cvkit.core.progress import track
from cvkit.core.report import Report
from cvkit.errors import CvkitError, InvalidInputError
from cvkit.io import IMAGE_MODES, place_image

KITTI_ATTRIBUTES = ("truncated", "occluded", "alpha", "dimensions", "location", "rotation_y")
#: KITTI's value for a field it does not know, per attribute (the devkit's DontCare rows and its readme)
NOT_GIVEN: dict[str, float | list[float]] = {
    "truncated": -1.0,
    "occluded": -1,
    "alpha": -10.0,
    "dimensions": [-1.0, -1.0, -1.0],
    "location": [-1000.0, -1000.0, -1000.0],
    "rotation_y": -10.0,
}


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


def _stem(sample: Sample, taken: set[str]) -> str:
    stem, n = Path(sample.path).stem, 1
    name = stem
    while name in taken:
        n += 1
        name = f"{stem}_{n}"
    taken.add(name)
    return name


def write(dataset: Dataset, path: Path, report: Report, images: str = "copy") -> None:
    """Write ``path/[<split>/]label_2/*.txt`` and the images into ``image_2/`` (``images`` copy|hardlink|symlink:
    KITTI finds an image only by its frame name beside the labels, so it cannot reference images elsewhere)."""
    if images not in IMAGE_MODES or images == "reference":
        raise CvkitError(
            f"KITTI writer option images={images!r}: choose copy, hardlink or symlink (KITTI keeps images in image_2/)"
        )
    taken: dict[str | None, set[str]] = {}
    for sample in track(dataset, "writing KITTI"):
        root = path / sample.split if sample.split else path
        stem = _stem(sample, taken.setdefault(sample.split, set()))
        source = sample.resolve(dataset.root)
        if not source.is_file():
            report.invalid(InvalidInputError("image file not found; KITTI needs the image in image_2/", file=source))
            continue
        place_image(source, root / "image_2" / (stem + source.suffix.lower()), images)
        lines = [line for obj in sample.objects if (line := label_line(obj, report)) is not None]
        label_file = root / "label_2" / f"{stem}.txt"
        label_file.parent.mkdir(parents=True, exist_ok=True)
        label_file.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        calib = (sample.meta.get("kitti") or {}).get("calib") if isinstance(sample.meta.get("kitti"), dict) else None
        if isinstance(calib, str) and dataset.root is not None and (dataset.root / calib).is_file():
            (root / "calib").mkdir(parents=True, exist_ok=True)
            shutil.copyfile(dataset.root / calib, root / "calib" / f"{stem}.txt")
        report.lose_image_labels("KITTI", len(sample.labels))
        report.lose_image_attributes(sample.attributes, "KITTI")
        report.count_written(sample.split, len(lines))
    if len(dataset.hierarchy):
        report.lose("hierarchy", "KITTI classes are flat", len(dataset.hierarchy))
