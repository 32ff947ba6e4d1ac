"""YOLO txt labels: Ultralytics ``data.yaml``, darknet ``obj.data``, ``images/``+``labels/`` folders
and LabelImg's ``classes.txt`` beside the images (reader and writer).

A label file holds one object a line: ``class cx cy w h`` (a box) or ``class x1 y1 x2 y2 ...``
(a polygon, Ultralytics segmentation), normalised by the displayed image size read from the
image header (docs/coordinates.md, "YOLO"). An empty or missing label file is an image
without objects, and is kept. Class index ``i`` is category ``i`` (its id in cvkit).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cvkit.core.categories import Category, CategorySet
from cvkit.core.imageinfo import read_image_info
from cvkit.core.model import Dataset, Sample
from cvkit.core.progress import track
from cvkit.core.report import Report
from cvkit.errors import CvkitError, InvalidInputError

from ._labels import ClassNames, parse_label_file
from ._layouts import Layout, describe, find_layout
from ._writer import write

__all__ = ["detect", "read", "write"]


def detect(path: Path) -> str | None:
    """A short reason when ``path`` is a YOLO dataset folder, data.yaml or obj.data."""
    return describe(path)


def read(path: Path, report: Report, **options: Any) -> Dataset:
    """Read a YOLO dataset in any of its layouts; samples stream, categories are the class names."""
    if options:
        raise CvkitError(f"the YOLO reader takes no options (got {', '.join(options)})")
    layout = find_layout(path, report)
    categories = _categories(layout.names, path)
    return Dataset(track(_samples(layout, categories, report), "reading YOLO labels"), categories, root=layout.root, source_format="yolo")


def _categories(names: ClassNames, path: Path) -> CategorySet:
    categories = CategorySet()
    for index, name in enumerate(names.names):
        categories.add(Category(index, name))
    return categories


def _read_label(candidates: list[Path]) -> tuple[bytes | None, Path]:
    for candidate in candidates:
        try:
            with open(candidate, "rb") as handle:
                return handle.read(), candidate
        except (FileNotFoundError, NotADirectoryError):
            continue
    return None, candidates[0]


def _relative(image: Path, root_prefix: str) -> str:
    text = os.path.normpath(str(image))
    if text.startswith(root_prefix):
        text = text[len(root_prefix):]
    return text.replace(os.sep, "/")


def _samples(layout: Layout, categories: CategorySet, report: Report) -> Iterator[Sample]:
    names = layout.names
    root_prefix = os.path.normpath(str(layout.root)) + os.sep
    seen_sources: dict[str, str | None] = {}
    seen_images: set[str] = set()
    for source in layout.sources:
        if source.key in seen_sources:
            report.warn(f"{source.split} names the same images as {seen_sources[source.key]}; they are read once, as {seen_sources[source.key]}")
            continue
        seen_sources[source.key] = source.split
        for image, candidates in source.pairs():
            key = str(image)
            if key in seen_images:
                continue
            seen_images.add(key)
            data, label_file = _read_label(candidates)
            try:
                info = read_image_info(image)
            except InvalidInputError as err:
                if data is None or not data.strip():
                    report.invalid(err)
                    continue
                report.invalid(InvalidInputError(f"{err.message} ({image.name}), so its normalised coordinates cannot be converted", file=label_file))
                continue
            width, height = info.width, info.height
            try:
                objects = parse_label_file(data, label_file, names, width, height, report) if data else []
            except InvalidInputError as err:
                report.invalid(err)
                continue
            for index in range(len(categories), len(names.names)):  # indices named on the fly (no names file)
                categories.add(Category(index, names.names[index]))
            sample = Sample(_relative(image, root_prefix), width, height, source.split, objects=objects)
            report.count_read(source.split, len(objects))
            yield sample
