"""One image's Open Images rows as cvkit objects and labels (normalised corners to pixels: docs/coordinates.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from cvkit.core.categories import CategorySet
from cvkit.core.imageinfo import read_image_info
from cvkit.core.limits import open_image
from cvkit.core.masks import encode
from cvkit.core.model import Annotation, Sample
from cvkit.core.report import Report
from cvkit.errors import InvalidInputError

from ._columns import Table

#: Open Images flag column -> object attribute (1 true, 0 false, -1 unknown: left out)
FLAGS = {
    "IsOccluded": "occluded",
    "IsTruncated": "truncated",
    "IsGroupOf": "group_of",
    "IsDepiction": "depiction",
    "IsInside": "inside",
}


class Sizes:
    """Image sizes: ``images.meta`` first, else the image header."""

    def __init__(self, listed: dict[str, tuple[int, int]], report: Report):
        self.listed, self.report = listed, report

    def of(self, image_id: str, image: Path | None) -> tuple[int | None, int | None]:
        if image_id in self.listed:
            return self.listed[image_id]
        if image is not None:
            info = read_image_info(image)
            return info.width, info.height
        return None, None


def _corners(
    table: Table, row: int, names: tuple[str, str, str, str], sample: Sample
) -> tuple[float, float, float, float]:
    """A row's normalised ``XMin, XMax, YMin, YMax`` as a pixel box; errors name the CSV line."""
    x_min, x_max, y_min, y_max = (float(table.columns[n][row]) for n in names)
    line = f"line {row + 2}"
    if not all(0.0 <= v <= 1.0 for v in (x_min, x_max, y_min, y_max)):  # NaN fails too
        raise InvalidInputError(
            f"coordinates must be in [0, 1], got {x_min}, {x_max}, {y_min}, {y_max}", file=table.file, location=line
        )
    if x_max < x_min or y_max < y_min:
        raise InvalidInputError(
            f"{names[1]} below {names[0]} or {names[3]} below {names[2]}", file=table.file, location=line
        )
    if sample.width is None or sample.height is None:
        raise InvalidInputError(
            f"image {sample.id!r} has boxes but no image file or images.meta line gives its size",
            file=table.file,
            location=line,
        )
    w, h = sample.width, sample.height
    return (x_min * w, y_min * h, (x_max - x_min) * w, (y_max - y_min) * h)


def box_objects(table: Table, rows: Any, sample: Sample, categories: CategorySet, report: Report) -> list[Annotation]:
    objects = []
    confidence = table.columns.get("Confidence")
    for row in rows.tolist():
        label = table.text("LabelName", row)
        categories.ensure(label)
        attributes: dict[str, Any] = {
            attr: bool(table.columns[col][row])
            for col, attr in FLAGS.items()
            if col in table.columns and table.columns[col][row] in (0, 1)
        }
        if "Source" in table.columns:
            attributes["source"] = table.text("Source", row)
        score = (
            float(confidence[row])
            if confidence is not None and not np.isnan(confidence[row]) and confidence[row] != 1
            else None
        )
        objects.append(
            Annotation(
                label,
                _corners(table, row, ("XMin", "XMax", "YMin", "YMax"), sample),
                score=score,
                attributes=attributes,
            )
        )
    return objects


def _mask_file(folder: Path, name: str, table: Table, row: int) -> Path:
    for candidate in (folder / name, folder / name[:1] / name):
        if candidate.is_file():
            return candidate
    raise InvalidInputError(f"mask {name!r} not found in {folder}", file=table.file, location=f"line {row + 2}")


def mask_objects(
    table: Table, rows: Any, sample: Sample, folder: Path, categories: CategorySet, report: Report
) -> list[Annotation]:
    """Instance masks: the PNG (resized to the image, nearest neighbour, when Open Images stored it smaller) as RLE."""
    from PIL import Image

    objects = []
    for row in rows.tolist():
        label = table.text("LabelName", row)
        categories.ensure(label)
        box = _corners(table, row, ("BoxXMin", "BoxXMax", "BoxYMin", "BoxYMax"), sample)
        with open_image(_mask_file(folder, table.text("MaskPath", row), table, row)) as picture:  # the pixel limit
            mask = picture.convert("L")
            if mask.size != (sample.width, sample.height):
                mask = mask.resize((sample.width, sample.height), Image.NEAREST)
            pixels = (np.asarray(mask) > 0).astype(np.uint8)
        attributes: dict[str, Any] = {}
        if "BoxID" in table.columns:
            attributes["box_id"] = table.text("BoxID", row)
        iou = table.columns.get("PredictedIoU")
        if iou is not None and not np.isnan(iou[row]):
            attributes["predicted_iou"] = float(iou[row])
        objects.append(Annotation(label, box, shape="mask", rle=encode(pixels), attributes=attributes))
    return objects


def image_labels(table: Table, rows: Any, sample: Sample, categories: CategorySet) -> None:
    """Human-verified labels: Confidence 1 (present) to ``labels``, 0 (verified absent) to
    ``attributes["negative_labels"]``."""
    negative = []
    for row in rows.tolist():
        label = table.text("LabelName", row)
        categories.ensure(label)
        if table.columns["Confidence"][row] > 0:
            sample.labels.append(label)
        else:
            negative.append(label)
    if negative:
        sample.attributes["negative_labels"] = negative
