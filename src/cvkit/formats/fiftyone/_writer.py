"""The FiftyOneImageDetectionDataset writer: ``labels.json`` and the images copied into ``data/``.

``classes`` lists every category (so classes without objects survive) and each ``label`` is an index into it,
as FiftyOne's exporter writes with ``classes`` given; boxes are relative to the image size."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from cvkit.core import jsonio
from cvkit.core.imageinfo import known_size
from cvkit.core.model import Annotation, Dataset
from cvkit.core.progress import track
from cvkit.core.report import Report
from cvkit.errors import CvkitError, InvalidInputError
from cvkit.io import IMAGE_MODES, atomic_file, place_image


def _record(obj: Annotation, index: int, size: tuple[int, int], report: Report) -> dict[str, Any] | None:
    box = obj.bbox if obj.bbox is not None else obj.ensure_bbox()
    if box is None:
        report.lose(
            f"{obj.shape} shape", "FiftyOneImageDetectionDataset holds boxes only; a shape without a box was left out"
        )
        return None
    if obj.shape != "box" or obj.polygon or obj.rle is not None:
        report.lose(
            "mask" if obj.rle is not None and obj.shape == "box" else obj.shape,
            "FiftyOneImageDetectionDataset holds boxes only; written as its box",
        )
    report.lose_object_extras(obj, "FiftyOneImageDetectionDataset", holds=("score", "attributes"))
    width, height = size
    x, y, w, h = box
    record: dict[str, Any] = {"label": index, "bounding_box": [x / width, y / height, w / width, h / height]}
    if obj.score is not None:
        record["confidence"] = obj.score
    attributes = dict(obj.attributes)
    if obj.iscrowd:
        attributes["iscrowd"] = 1
    if attributes:
        record["attributes"] = attributes
    return record


def write(dataset: Dataset, path: Path, report: Report, images: str = "copy") -> None:
    """``path/labels.json`` and ``path/data/<name>`` (``images`` copy|hardlink|symlink: FiftyOne finds an image by
    its stem in ``data/``)."""
    if images not in IMAGE_MODES or images == "reference":
        raise CvkitError(
            f"FiftyOne writer option images={images!r}: choose copy, hardlink or symlink (images live in data/)"
        )
    labels: dict[str, list[dict[str, Any]]] = {}
    index = dataset.categories.index_of()
    for sample in track(dataset, "writing FiftyOne"):
        source = sample.resolve(dataset.root)
        size = known_size(sample, dataset.root)
        if not source.is_file() or size is None:
            report.invalid(
                InvalidInputError(
                    "image file not found; FiftyOne needs it in data/ (and its size for relative boxes)", file=source
                )
            )
            continue
        stem, suffix = os.path.splitext(os.path.basename(sample.path))
        name, n = stem, 1
        while name in labels:
            n += 1
            name = f"{stem}_{n}"
        place_image(source, path / "data" / (name + suffix), images)
        records = []
        for obj in sample.objects:
            if obj.label not in index:
                index[obj.label] = len(index)
                dataset.categories.ensure(obj.label)
            record = _record(obj, index[obj.label], size, report)
            if record is not None:
                records.append(record)
        labels[name] = records
        report.lose_image_labels("FiftyOneImageDetectionDataset", len(sample.labels))
        report.lose_image_attributes(sample.attributes, "FiftyOneImageDetectionDataset")
        if sample.split:
            report.lose("split", "a FiftyOneImageDetectionDataset has no splits (write one per split)")
        report.count_written(sample.split, len(records))
    if len(dataset.hierarchy):
        report.lose("hierarchy", "FiftyOne classes are flat", len(dataset.hierarchy))
    with atomic_file(path / "labels.json", "wb", encoding=None) as handle:
        handle.write(jsonio.dumps({"classes": list(index), "labels": labels}))
    report.written.categories = len(index)
