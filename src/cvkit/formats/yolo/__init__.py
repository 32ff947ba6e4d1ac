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
from cvkit.core.imageinfo import ImageInfo, read_image_info
from cvkit.core.model import Dataset, Sample, Shard
from cvkit.core.progress import track
from cvkit.core.report import Report
from cvkit.core.shards import read_here, shards_of
from cvkit.errors import InvalidInputError
from cvkit.io import known_encoding, open_regular

from ._labels import ClassNames, parse_label_file
from ._layouts import Layout, Source, describe, find_layout
from ._writer import write

__all__ = ["detect", "read", "write"]


def detect(path: Path) -> str | None:
    """A short reason when ``path`` is a YOLO dataset folder, data.yaml or obj.data."""
    return describe(path)


def read(path: Path, report: Report, names_encoding: str | None = None) -> Dataset:
    """Read a YOLO dataset in any of its layouts; samples stream, categories are the class names.

    ``names_encoding``: text encoding of obj.names / classes.txt when not UTF-8 (LabelImg on Windows
    writes classes.txt in the system code page, e.g. ``gbk``).
    """
    known_encoding(names_encoding, "names_encoding")
    layout = find_layout(path, report, names_encoding)
    categories = _categories(layout.names, report)
    names = layout.names
    info = {"yolo": {"kpt_shape": list(names.kpt_shape), "flip_idx": names.flip_idx}} if names.kpt_shape else {}
    source = (names, os.path.normpath(str(layout.root)) + os.sep)

    def shards(_workers: int) -> list[Shard]:
        found: list[Shard] = []
        for split, pairs in _new_pairs(layout, report):
            found += shards_of(_read_shard, source, [(split, *pair) for pair in pairs])
        return found

    return Dataset(
        track(read_here(shards, categories, report), "reading YOLO labels"),
        categories,
        root=layout.root,
        source_format="yolo",
        info=info,
        shards=shards,
    )


def _categories(names: ClassNames, report: Report) -> CategorySet:
    """1-based ids like COCO (the class index is the position); pose data gives every class keypoint
    names, from ``kpt_names`` or else ``"0".."K-1"``, which COCO's person_keypoints categories need.

    A name listed twice (Ultralytics and darknet accept it; the index is what counts) keeps its index as
    ``name (class N)`` from its second listing on, with a warning."""
    categories = CategorySet()
    numbered = [str(k) for k in range(names.kpt_shape[0])] if names.kpt_shape else None
    for index, name in enumerate(names.names):
        if name in categories:
            report.warn(
                f"class name {name!r} is listed twice in {names.source}; the later index is named {name!r} + ' "
                "(class N)'"
            )
            name = names.names[index] = f"{name} (class {index})"  # labels are looked up in names.names
        keypoints = names.kpt_names.get(index, numbered)
        categories.add(Category(index + 1, name, attributes={"keypoints": list(keypoints)} if keypoints else {}))
    return categories


def _read_label(candidates: list[str]) -> tuple[bytes | None, str]:
    for candidate in candidates:
        try:
            with open_regular(candidate) as handle:
                return handle.read(), candidate
        except (FileNotFoundError, NotADirectoryError):
            continue
    return None, candidates[0]


def _load(image: str, candidates: list[str]) -> tuple[bytes | None, str, ImageInfo | InvalidInputError]:
    """Label bytes and image header of one image (runs on a worker thread)."""
    data, label_file = _read_label(candidates)
    try:
        return data, label_file, read_image_info(image)
    except InvalidInputError as err:
        return data, label_file, err


def _prefetched(
    pairs: Iterator[tuple[str, list[str]]], workers: int = 8, ahead: int = 256
) -> Iterator[tuple[str, Any]]:
    """``_load`` of each pair, in order, read ``ahead`` files in advance by a few threads
    (reading a file mostly waits on the disk; the parsing stays in the caller's thread)."""
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cvkit-yolo") as pool:
        pending: deque[tuple[str, Any]] = deque()
        for image, candidates in pairs:
            pending.append((image, pool.submit(_load, image, candidates)))
            if len(pending) >= ahead:
                done_image, future = pending.popleft()
                yield done_image, future.result()
        while pending:
            done_image, future = pending.popleft()
            yield done_image, future.result()


def _relative(image: str, root_prefix: str) -> str:
    text = os.path.normpath(image)
    if text.startswith(root_prefix):
        text = text[len(root_prefix) :]
    return text.replace(os.sep, "/")


def _new_pairs(layout: Layout, report: Report) -> Iterator[tuple[str | None, list[tuple[str, list[str]]]]]:
    """Each source's split and pairs, leaving out sources and images an earlier split already named."""
    seen_sources: dict[str, str | None] = {}
    seen_images: set[str] = set()
    for source in layout.sources:
        if source.key in seen_sources:
            report.warn(
                f"{source.split} names the same images as {seen_sources[source.key]}; they are read once, as "
                f"{seen_sources[source.key]}"
            )
            continue
        seen_sources[source.key] = source.split

        def fresh(pairs: Iterator[tuple[str, list[str]]], source: Source = source) -> Iterator[tuple[str, list[str]]]:
            found = False
            for image, candidates in pairs:
                found = True
                if image not in seen_images:
                    seen_images.add(image)
                    yield image, candidates
            if not found and source.listed_in is not None:
                raise InvalidInputError(
                    f"split {source.split!r} ({source.key}) holds no images; check its entry and 'path'",
                    file=source.listed_in,
                    location=source.split,
                )

        yield source.split, list(fresh(source.pairs()))


def _read_shard(
    source: tuple[ClassNames, str],
    run: list[tuple[str | None, str, list[str]]],
    categories: CategorySet,
    report: Report,
) -> Iterator[Sample]:
    """A shard's samples (:class:`~cvkit.core.model.Shard`): a run of images of one split, their label files parsed
    here. Class indices a dataset without names meets are named here and go to ``categories``."""
    names, root_prefix = source
    split = run[0][0] if run else None
    for image, (data, label_file, info) in _prefetched((image, candidates) for _, image, candidates in run):
        if isinstance(info, InvalidInputError):
            if data is None or not data.strip():
                report.invalid(info)
            else:
                report.invalid(
                    InvalidInputError(
                        f"{info.message} ({os.path.basename(image)}), so its normalised coordinates cannot be "
                        "converted",
                        file=label_file,
                    )
                )
            continue
        width, height = info.width, info.height
        try:
            objects = parse_label_file(data, label_file, names, width, height, report) if data else []
        except InvalidInputError as err:
            report.invalid(err)
            continue
        for index in range(len(categories), len(names.names)):  # indices named on the fly (no names file)
            categories.ensure(names.names[index])
        report.count_read(split, len(objects))
        yield Sample(_relative(image, root_prefix), width, height, split, objects=objects)
