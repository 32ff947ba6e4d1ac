"""A manifest's index on disk: built once on worker processes, then memory-mapped by every ``cvkit view`` of it.

Building the columns of a large manifest holds many numbers a while (a JSONL manifest: as Python objects); on a
worker process that memory goes back when the worker ends, and the server maps the finished arrays (paged in as
used). The build runs on the executor every pipeline uses (:func:`cvkit.core.executor.chosen`, else
:func:`~cvkit.core.executor.make_executor`): the columns on one task and, for JSON Lines, the record offsets on
another, in parallel. A Parquet manifest's columns come from :func:`cvkit.stats.columns_parquet.columns_from_parquet`
(Arrow columns a row group at a time, no per-sample Python) and its records are found again by row number.
The per-class image lists and the statistics of all images, the slowest answers to compute, are stored with them.
Reopening the same manifest (same path, size and modification time) skips the build (figures: docs/benchmarks.md).
The folder lives under ``cvkit.io.cache_dir("view-index")`` (``$CVKIT_CACHE_DIR``, else ``~/.cache/cvkit``); the
tasks write into it, so the workers of a Ray engine must see this machine's disk (a local Ray does).
"""

from __future__ import annotations

import hashlib
import math
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cvkit import __version__
from cvkit.core import jsonio
from cvkit.core.executor import Executor, chosen, make_executor
from cvkit.core.report import Report
from cvkit.errors import CvkitError
from cvkit.io import cache_dir
from cvkit.manifest import is_parquet_manifest
from cvkit.stats.boxes import MEDIUM_AREA, SMALL_AREA
from cvkit.stats.column_arrays import Columns
from cvkit.stats.columns import columns_from_manifest
from cvkit.stats.counts import image_class_pairs
from cvkit.stats.options import ImbalanceOptions
from cvkit.stats.summary import compute_stats
from cvkit.view.store import parquet_row_starts, record_line_starts

#: changes whenever what is stored changes
INDEX_VERSION = 4
ARRAYS = (
    "image_width",
    "image_height",
    "image_split",
    "obj_image",
    "obj_class",
    "obj_box",
    "obj_mask_area",
    "label_image",
    "label_class",
)
#: objects whose size is worked out at a time
SIZE_BLOCK = 1 << 20
#: the build's tasks: the columns (with class lists and statistics) and the record offsets
BUILD_TASKS = ("columns", "starts")


def index_folder(path: Path) -> Path:
    """Where the index of the manifest ``path`` as it is now is kept."""
    stat = path.stat()
    key = f"{path.resolve()}\0{stat.st_size}\0{stat.st_mtime_ns}\0{INDEX_VERSION}\0{__version__}"
    return cache_dir("view-index", hashlib.blake2b(key.encode("utf-8", "surrogateescape"), digest_size=16).hexdigest())


@dataclass(slots=True)
class StoredIndex:
    """What a build stores: the columns, record offsets (JSONL: bytes; Parquet: first row of each row group),
    per-class image lists and the statistics of all images."""

    columns: Columns
    starts: np.ndarray
    by_class: tuple[np.ndarray, np.ndarray]
    stats: dict[str, Any]
    object_facts: tuple[np.ndarray, np.ndarray]


def class_images(columns: Columns) -> tuple[np.ndarray, np.ndarray]:
    """``(offsets, images)``: the images holding class k (an object or an image label) are
    ``images[offsets[k]:offsets[k + 1]]``, ascending; one sort of the distinct (image, class) pairs."""
    pair_image, pair_class = image_class_pairs(columns)
    order = np.argsort(pair_class, kind="stable")
    offsets = np.zeros(columns.num_classes + 1, dtype=np.int64)
    np.cumsum(np.bincount(pair_class, minlength=columns.num_classes), out=offsets[1:])
    return offsets, pair_image[order]


def count_objects(columns: Columns) -> tuple[np.ndarray, np.ndarray]:
    """``(objects per image, COCO size index per object)``: 0 small, 1 medium, 2 large by box area, -1 without a
    box. Stored with a manifest's index, so that opening it never reads the boxes."""
    count = np.bincount(columns.obj_image, minlength=columns.num_images).astype(np.int32)
    size = np.zeros(columns.num_objects, dtype=np.int8)
    for start in range(0, columns.num_objects, SIZE_BLOCK):  # a block at a time: no 10M-element temporaries
        box = columns.obj_box[start : start + SIZE_BLOCK]
        area = box[:, 2] * box[:, 3]
        part = size[start : start + SIZE_BLOCK]
        part[area >= SMALL_AREA] = 1
        part[area >= MEDIUM_AREA] = 2
        part[np.isnan(area)] = -1
    return count, size


def whole_stats(columns: Columns) -> dict[str, Any]:
    """``cvkit stats --imbalance`` of every image (what the page shows before any filter)."""
    return compute_stats(columns, ImbalanceOptions())


def _save(folder: Path, name: str, array: np.ndarray) -> None:
    np.save(folder / f"{name}.npy", np.ascontiguousarray(array))


def build_part(_context: None, task: tuple[str, str, str]) -> int:
    """One task of a build (runs on a worker): ``columns`` writes the arrays, names, class lists and statistics,
    ``starts`` the record offsets, into the folder ``work``. Returns how many images that part numbered."""
    part, path, work = task[0], Path(task[1]), Path(task[2])
    if part == "starts":
        starts = parquet_row_starts(path) if is_parquet_manifest(path) else record_line_starts(path)
        _save(work, "starts", starts)
        return int(starts[-1]) if is_parquet_manifest(path) else len(starts)
    columns = columns_from_manifest(path, Report())
    offsets, images = class_images(columns)
    stats = whole_stats(columns)
    for name in ARRAYS:
        array = getattr(columns, name)
        if name == "obj_mask_area" and not np.isfinite(array).any():
            continue  # boxes only: read back as one NaN seen as a column (80 MB less for 10M objects)
        _save(work, name, array)
    _save(work, "class_offsets", offsets)
    _save(work, "class_images", images)
    object_count, object_size = count_objects(columns)
    _save(work, "object_count", object_count)
    _save(work, "object_size", object_size)
    names = {
        "class_names": columns.class_names,
        "class_ids": columns.class_ids,
        "split_names": columns.split_names,
        "source": columns.source,
        "objects": columns.num_objects,
    }
    (work / "names.json").write_bytes(jsonio.dumps(names))
    (work / "stats.json").write_bytes(jsonio.dumps(stats))
    return columns.num_images


def build_executor() -> Executor:
    """The executor set for every pipeline (``--engine``, tests), else the engine's own
    (:func:`~cvkit.core.executor.make_executor`) with a process per build task, so the build's memory goes back
    to the system when it ends."""
    override = chosen()
    return override if override is not None else make_executor(workers=len(BUILD_TASKS))


def build(path: Path, folder: Path) -> None:
    """Build and store the index of one manifest; the folder appears complete or not at all."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    executor = build_executor()
    try:
        counts = dict(
            zip(BUILD_TASKS, executor.map(build_part, None, [(t, str(path), str(work)) for t in BUILD_TASKS]))
        )
        if counts["starts"] != counts["columns"]:
            unit = "rows" if is_parquet_manifest(path) else "record lines"
            raise CvkitError(
                f"the manifest has {counts['starts']} {unit} but {counts['columns']} readable records; "
                "run `cvkit validate` on it",
                file=path,
            )
        if not (work / "stats.json").is_file():
            raise CvkitError(f"the index build wrote nothing to {work}: the engine's workers cannot see this disk")
        os.replace(work, folder)
    except OSError:
        if not folder.is_dir():  # another process may have stored the same index meanwhile
            raise
    finally:
        if executor is not chosen():
            executor.close()
        shutil.rmtree(work, ignore_errors=True)


def load(path: Path, folder: Path) -> StoredIndex:
    """The stored index of the manifest ``path``, its arrays memory-mapped read-only."""
    names = jsonio.loads((folder / "names.json").read_bytes())

    def array(name: str) -> np.ndarray:
        if name == "obj_mask_area" and not (folder / "obj_mask_area.npy").is_file():
            return np.broadcast_to(np.float64(math.nan), (names["objects"],))
        return np.load(folder / f"{name}.npy", mmap_mode="r")

    columns = Columns(
        class_names=names["class_names"],
        class_ids=names["class_ids"],
        split_names=names["split_names"],
        source=names["source"],
        root=path.parent,
        **{name: array(name) for name in ARRAYS},
    )
    stats = jsonio.loads((folder / "stats.json").read_bytes())
    return StoredIndex(
        columns,
        array("starts"),
        (array("class_offsets"), array("class_images")),
        stats,
        (array("object_count"), array("object_size")),
    )


def manifest_index(path: Path) -> StoredIndex:
    """The index of a manifest (JSON Lines or Parquet): from the cache, else built on worker processes and cached."""
    folder = index_folder(path)
    if not (folder / "stats.json").is_file():
        build(path, folder)
    return load(path, folder)
