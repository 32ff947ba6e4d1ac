"""The FiftyOneImageDetectionDataset writer: ``labels.json`` and the images copied into ``data/``.

``classes`` lists every category (so classes without objects survive) and each ``label`` is an index into it,
as FiftyOne's exporter writes with ``classes`` given; boxes are relative to the image size."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cvkit.core import jsonio
from cvkit.core.imageinfo import known_size
from cvkit.core.model import Annotation, Dataset, Sample
from cvkit.core.report import Report
from cvkit.core.shards import Pipeline
from cvkit.core.training_shards import ClassNumbers
from cvkit.errors import CvkitError, InvalidInputError
from cvkit.io import IMAGE_MODES, atomic_file, place_image


def _record(obj: Annotation, index: int | str, size: tuple[int, int], report: Report) -> dict[str, Any] | None:
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


@dataclass(slots=True)
class DetectionEncoder:
    """The sample-alone half of a FiftyOne write (runs where the shard is read; picklable)."""

    root: Path | None
    report: Report


#: what :func:`encode_records` gives: split, path, image file, its records (None: the image or its size is missing)
#: with their label names where the parent puts class numbers
EncodedRecords = tuple[str | None, str, Path, list[dict[str, Any]] | None]


def encode_records(encoder: DetectionEncoder, sample: Sample) -> EncodedRecords:
    """The sample's detection records, each ``label`` still a name (class numbers are the parent's), and what it
    loses."""
    source = sample.resolve(encoder.root)
    size = known_size(sample, encoder.root)
    if not source.is_file() or size is None:
        return sample.split, sample.path, source, None
    report = encoder.report
    records = [record for obj in sample.objects if (record := _record(obj, obj.label, size, report)) is not None]
    report.lose_image_labels("FiftyOneImageDetectionDataset", len(sample.labels))
    report.lose_image_attributes(sample.attributes, "FiftyOneImageDetectionDataset")
    if sample.split:
        report.lose("split", "a FiftyOneImageDetectionDataset has no splits (write one per split)")
    return sample.split, sample.path, source, records


def write(dataset: Dataset, path: Path, report: Report, images: str = "copy", workers: int | None = None) -> None:
    """``path/labels.json`` and ``path/data/<name>`` (``images`` copy|hardlink|symlink: FiftyOne finds an image by
    its stem in ``data/``). A class number is the label's place in the categories, which readers and this writer
    only add to, so ``classes`` is every category once all are known. ``workers``: processes that read a sharded
    source and make its records; names, numbers and files are placed here, in order."""
    if images not in IMAGE_MODES or images == "reference":
        raise CvkitError(
            f"FiftyOne writer option images={images!r}: choose copy, hardlink or symlink (images live in data/)"
        )
    labels: dict[str, list[dict[str, Any]]] = {}
    categories = dataset.categories
    numbers = ClassNumbers(categories)
    pipeline = Pipeline(dataset, report, workers)
    encoder = DetectionEncoder(dataset.root, pipeline.report)
    for split, sample_path, source, records in pipeline.samples(encode_records, encoder, "writing FiftyOne"):
        if records is None:
            report.invalid(
                InvalidInputError(
                    "image file not found; FiftyOne needs it in data/ (and its size for relative boxes)", file=source
                )
            )
            continue
        stem, suffix = os.path.splitext(os.path.basename(sample_path))
        name, n = stem, 1
        while name in labels:
            n += 1
            name = f"{stem}_{n}"
        place_image(source, path / "data" / (name + suffix), images)
        for record in records:
            number = numbers.get(record["label"])
            if number is None:
                categories.ensure(record["label"])
                number = numbers.get(record["label"])
            record["label"] = number
        labels[name] = records
        report.count_written(split, len(records))
    index = numbers.update()
    if len(dataset.hierarchy):
        report.lose("hierarchy", "FiftyOne classes are flat", len(dataset.hierarchy))
    with atomic_file(path / "labels.json", "wb", encoding=None) as handle:
        handle.write(jsonio.dumps({"classes": list(index), "labels": labels}))
    report.written.categories = len(index)
