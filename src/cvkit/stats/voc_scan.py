"""Statistics fast path for Pascal VOC devkit trees: only names, boxes and sizes, in one pass.

``cvkit stats`` needs four numbers and a name per object, not the full :class:`Sample` the VOC reader builds.
Files are read by the VOC reader's own plain-file parser (:func:`cvkit.formats.voc.plain_boxes`: the same
files read and the same refused as ``cvkit convert``, without building annotations); every other file goes
through the reader's :func:`cvkit.formats.voc.parse_xml`, so errors and odd content are handled exactly as
``cvkit convert`` handles them. Layout, split lists, category order and the 1-based box convention are the
reader's too; tests check that both paths give identical columns. Only the devkit layout with an XML for
every listed image takes this path; anything else uses the reader.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING

from cvkit.core.progress import track
from cvkit.core.report import Report
from cvkit.core.shards import spread_map
from cvkit.errors import InvalidInputError
from cvkit.formats.voc import Boxes, annotation_jobs, devkit_root, parse_xml, plain_boxes, read_labelmap
from cvkit.io import read_small_file

if TYPE_CHECKING:  # numpy comes with these: imported once the scan's workers run
    from cvkit.stats.column_arrays import Columns, ColumnsBuilder

#: files scanned per chunk; a chunk with one non-plain file is redone file by file
CHUNK_FILES = 256
#: below this many files the scan stays in-process (starting workers would cost more than it saves)
PARALLEL_MIN_FILES = 4000


def scan_voc_columns(path: Path, report: Report, one_based: bool = True) -> Columns | None:
    """Columns of a VOC devkit tree, or None when the layout needs the full reader.

    ``report`` gets the read counts and skipped files only when the scan completes.
    """
    own = Report(skip_invalid=report.skip_invalid)
    columns = _scan(path, own, one_based)
    if columns is not None:
        report.read.images += own.read.images
        report.read.objects += own.read.objects
        report.read.splits.update(own.read.splits)
        report.read.categories = columns.num_classes
        report.skipped.extend(own.skipped)
    return columns


@dataclass(slots=True)
class ChunkScan:
    """Plain results of consecutive files, flattened so the parent only concatenates lists."""

    widths: list[float] = field(default_factory=list)
    heights: list[float] = field(default_factory=list)
    counts: list[int] = field(default_factory=list)  # objects per file
    names: list[str] = field(default_factory=list)
    boxes: list[float] = field(default_factory=list)
    plain: bool = True  # False: some file needs the reader's parser; the parent redoes this chunk file by file


def _scan_file(file: str, one_based: bool) -> Boxes | None:
    """The plain-file result, or None when the reader's lxml path must read this file (or its size is unknown)."""
    try:
        scanned = plain_boxes(read_small_file(file), one_based)
    except OSError:
        return None
    return scanned if scanned is not None and scanned[0] is not None and scanned[1] is not None else None


def _scan_chunk(one_based: bool, files: list[str]) -> ChunkScan:
    out = ChunkScan()
    for file in files:
        scanned = _scan_file(file, one_based)
        if scanned is None:
            return ChunkScan(plain=False)
        width, height, objects = scanned
        out.widths.append(float(width))  # type: ignore[arg-type]
        out.heights.append(float(height))  # type: ignore[arg-type]
        out.counts.append(len(objects))
        for name, box in objects:
            out.names.append(name)
            out.boxes.extend(box)
    return out


def _chunks(files: list[str], one_based: bool, size: int, workers: int) -> Iterator[tuple[int, int, ChunkScan]]:
    """``(start, stop, scan)`` per chunk of files, in order; on ``workers`` processes when there are at least
    :data:`PARALLEL_MIN_FILES` (a chunk's results are flat lists, cheap to send back)."""
    bounds = [(start, min(start + size, len(files))) for start in range(0, len(files), size)]
    tasks = [files[start:stop] for start, stop in bounds]
    scans = spread_map(_scan_chunk, one_based, tasks, workers, PARALLEL_MIN_FILES, len(files))
    for (start, stop), scan in zip(bounds, scans):
        yield start, stop, scan


def _scan(path: Path, report: Report, one_based: bool) -> Columns | None:
    root = devkit_root(path) if path.is_dir() else None
    if root is None:
        return None  # not a devkit tree, or several side by side (VOC2007 + VOC2012): the reader's job
    image_root, jobs = annotation_jobs(root, [root])
    if any(file is None for file, _, _ in jobs):
        return None  # images listed without an XML: the reader looks for the image file
    categories = read_labelmap(image_root)
    files = [str(file) for file, _, _ in jobs]
    size = CHUNK_FILES
    workers = os.cpu_count() or 1
    chunks = _chunks(files, one_based, size, workers)
    first_chunk = next(chunks, None)  # the workers are at it now: numpy (the columns) is imported meanwhile
    from cvkit.stats.column_arrays import ColumnsBuilder

    builder = ColumnsBuilder(categories, list(range(1, len(categories) + 1)))
    runs = chain([first_chunk] if first_chunk is not None else [], chunks)
    for start, stop, scan in track(runs, "reading VOC", total=-(-len(files) // size)):
        splits = [split for _, _, split in jobs[start:stop]]
        if not scan.plain:
            if not _add_one_by_one(builder, files[start:stop], splits, one_based, report):
                return None
            continue
        first = len(builder.widths)
        builder.widths.extend(scan.widths)
        builder.heights.extend(scan.heights)
        builder.splits.extend(map(builder.split_of, splits))
        builder.obj_image.extend(image for image, count in enumerate(scan.counts, first) for _ in range(count))
        builder.obj_class.extend(map(builder.class_of, scan.names))
        builder.boxes.extend(scan.boxes)
        report.read.images += len(scan.counts)
        report.read.objects += len(scan.names)
        report.read.splits.update(split or "-" for split in splits)
    columns = builder.build("voc")
    columns.class_ids = list(range(1, columns.num_classes + 1))
    columns.root = image_root
    return columns


def _add_one_by_one(
    builder: ColumnsBuilder, files: list[str], splits: list[str | None], one_based: bool, report: Report
) -> bool:
    """A chunk holding non-plain files, each parsed by the VOC reader (plain files take its plain path again).

    False when a file lacks its size (the reader then reads image headers: not this path's job).
    """
    from cvkit.stats.columns import NAN_BOX

    for file, split in zip(files, splits, strict=True):
        try:
            _name, width, height, parsed, _meta = parse_xml(file, one_based)
        except InvalidInputError as exc:
            report.invalid(exc)
            continue
        if width is None or height is None:
            return False
        image = len(builder.widths)
        builder.widths.append(float(width))
        builder.heights.append(float(height))
        builder.splits.append(builder.split_of(split))
        for obj in parsed:
            builder.obj_image.append(image)
            builder.obj_class.append(builder.class_of(obj.label))
            builder.boxes.extend(obj.bbox if obj.bbox is not None else NAN_BOX)
        report.count_read(split, len(parsed))
    return True
