"""COCO panoptic segmentation, part of the ``coco`` format: ``panoptic_<split>.json`` + one PNG per image.

An annotation of a panoptic file is an image's record: ``file_name`` of its PNG (in
``panoptic_<split>/`` beside the JSON) and ``segments_info``. Each segment becomes an object with
its category, ``bbox``, ``iscrowd``, ``area`` and ``id`` kept as written, and an RLE mask made of
the PNG pixels whose colour encodes the segment id (``R + 256 G + 256^2 B``, panopticapi's
``rgb2id``). A missing or mis-sized PNG leaves the segments as boxes, with a warning. cvkit writes
these objects as COCO instances with RLE masks; it does not write panoptic PNGs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cvkit.core.limits import open_image
from cvkit.core.masks import encode
from cvkit.core.model import Annotation
from cvkit.core.report import Report
from cvkit.errors import InvalidInputError


def is_panoptic(annotation: Any) -> bool:
    return isinstance(annotation, dict) and "segments_info" in annotation


def segment_masks(png: Path, width: int | None, height: int | None, report: Report) -> dict[int, dict[str, Any]]:
    """Segment id -> RLE of one panoptic PNG; empty (and a warning) when it is missing or mis-sized."""
    import numpy as np

    try:
        with open_image(png) as image:  # the pixel limit (cvkit.core.limits), from the header
            rgb = np.asarray(image.convert("RGB"), dtype=np.uint32)
    except (OSError, ValueError):
        report.warn(f"some panoptic PNGs are missing or unreadable (e.g. {png}); their segments are read as boxes")
        return {}
    if (width, height) != (rgb.shape[1], rgb.shape[0]):
        report.warn(
            f"some panoptic PNGs differ in size from their image (e.g. {png.name}: {rgb.shape[1]}x{rgb.shape[0]}, "
            f"image {width}x{height}); their segments are read as boxes"
        )
        return {}
    ids = rgb[..., 0] + 256 * rgb[..., 1] + 65536 * rgb[..., 2]
    return {int(segment): encode(ids == segment) for segment in np.unique(ids) if segment != 0}


def panoptic_objects(
    record: dict[str, Any],
    index: int,
    file: Path,
    names: dict[int, str],
    size: tuple[int | None, int | None],
    report: Report,
) -> list[Annotation]:
    """The objects of one image's panoptic record; a bad segment goes through ``report.invalid``."""
    segments = record.get("segments_info")
    if not isinstance(segments, list):
        report.invalid(
            InvalidInputError("segments_info must be a list", file=file, location=f"annotations[{index}].segments_info")
        )
        return []
    png_name = record.get("file_name")
    masks = segment_masks(file.parent / file.stem / png_name, *size, report) if isinstance(png_name, str) else {}
    objects = []
    for j, segment in enumerate(segments):
        where = f"annotations[{index}].segments_info[{j}]"
        label = names.get(segment.get("category_id")) if isinstance(segment, dict) else None
        bbox = segment.get("bbox") if isinstance(segment, dict) else None
        if label is None or not (
            isinstance(bbox, list) and len(bbox) == 4 and all(isinstance(v, (int, float)) for v in bbox)
        ):
            report.invalid(
                InvalidInputError(
                    "a segment needs a known category_id and a bbox of 4 numbers", file=file, location=where
                )
            )
            continue
        obj = Annotation(
            label, tuple(float(v) for v in bbox), iscrowd=bool(segment.get("iscrowd", 0)), id=segment.get("id")
        )  # type: ignore[arg-type]
        rle = masks.get(segment.get("id"))  # type: ignore[arg-type]
        if rle is not None:
            obj.rle, obj.shape = rle, "mask"
        if "area" in segment:
            obj.meta["coco"] = {"area": segment["area"]}
        objects.append(obj)
    return objects
