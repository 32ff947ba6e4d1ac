"""A manifest's index on disk: built once on a worker process, then memory-mapped by every ``cvkit view`` of it.

Building the columns of a large JSONL manifest holds every number as a Python object for a while; on a worker
process that memory goes back when the worker ends, and the server maps the finished arrays (paged in as used).
The per-class image lists and the statistics of all images, the slowest answers to compute, are stored with them.
Reopening the same manifest (same path, size and modification time) skips the build (figures: docs/benchmarks.md). The folder lives under
``cvkit.io.cache_dir("view-index")`` (``$CVKIT_CACHE_DIR``, else ``~/.cache/cvkit``).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cvkit import __version__
from cvkit.core import jsonio
from cvkit.core.executor import LocalProcesses
from cvkit.core.report import Report
from cvkit.errors import CvkitError
from cvkit.io import cache_dir
from cvkit.stats.columns import Columns, columns_from_manifest
from cvkit.stats.counts import image_class_pairs
from cvkit.stats.options import ImbalanceOptions
from cvkit.stats.summary import compute_stats
from cvkit.view.store import record_line_starts

#: changes whenever what is stored changes
INDEX_VERSION = 2
ARRAYS = ("image_width", "image_height", "image_split", "obj_image", "obj_class", "obj_box", "obj_mask_area", "label_image", "label_class")


def index_folder(path: Path) -> Path:
    """Where the index of the manifest ``path`` as it is now is kept."""
    stat = path.stat()
    key = f"{path.resolve()}\0{stat.st_size}\0{stat.st_mtime_ns}\0{INDEX_VERSION}\0{__version__}"
    return cache_dir("view-index", hashlib.blake2b(key.encode("utf-8", "surrogateescape"), digest_size=16).hexdigest())


def class_images(columns: Columns) -> tuple[np.ndarray, np.ndarray]:
    """``(offsets, images)``: the images holding class k (an object or an image label) are
    ``images[offsets[k]:offsets[k + 1]]``, ascending; one sort of the distinct (image, class) pairs."""
    pair_image, pair_class = image_class_pairs(columns)
    order = np.argsort(pair_class, kind="stable")
    offsets = np.zeros(columns.num_classes + 1, dtype=np.int64)
    np.cumsum(np.bincount(pair_class, minlength=columns.num_classes), out=offsets[1:])
    return offsets, pair_image[order]


def whole_stats(columns: Columns) -> dict[str, Any]:
    """``cvkit stats --imbalance`` of every image (what the page shows before any filter)."""
    return compute_stats(columns, ImbalanceOptions())


@dataclass(slots=True)
class StoredIndex:
    """What a build stores: the columns, record offsets, per-class image lists and the statistics of all images."""

    columns: Columns
    starts: np.ndarray
    by_class: tuple[np.ndarray, np.ndarray]
    stats: dict[str, Any]


def build(_context: None, task: tuple[str, str]) -> None:
    """Build and store the index of one manifest (runs on a worker process; the folder appears complete or not at all)."""
    path, folder = Path(task[0]), Path(task[1])
    columns = columns_from_manifest(path, Report())
    starts = record_line_starts(path)
    if len(starts) != columns.num_images:
        raise CvkitError(f"the manifest has {len(starts)} record lines but {columns.num_images} readable records; "
                         "run `cvkit validate` on it", file=path)
    offsets, images = class_images(columns)
    stats = whole_stats(columns)
    folder.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        arrays = {name: getattr(columns, name) for name in ARRAYS} | {"starts": starts, "class_offsets": offsets, "class_images": images}
        for name, array in arrays.items():
            np.save(work / f"{name}.npy", np.ascontiguousarray(array))
        names = {"class_names": columns.class_names, "class_ids": columns.class_ids, "split_names": columns.split_names, "source": columns.source}
        (work / "names.json").write_bytes(jsonio.dumps(names))
        (work / "stats.json").write_bytes(jsonio.dumps(stats))
        os.replace(work, folder)
    except OSError:
        shutil.rmtree(work, ignore_errors=True)
        if not folder.is_dir():  # another process may have stored the same index meanwhile
            raise


def load(path: Path, folder: Path) -> StoredIndex:
    """The stored index of the manifest ``path``, its arrays memory-mapped read-only."""
    names = jsonio.loads((folder / "names.json").read_bytes())

    def array(name: str) -> np.ndarray:
        return np.load(folder / f"{name}.npy", mmap_mode="r")

    columns = Columns(class_names=names["class_names"], class_ids=names["class_ids"], split_names=names["split_names"],
                      source=names["source"], root=path.parent, **{name: array(name) for name in ARRAYS})
    stats = jsonio.loads((folder / "stats.json").read_bytes())
    return StoredIndex(columns, array("starts"), (array("class_offsets"), array("class_images")), stats)


def manifest_index(path: Path) -> StoredIndex:
    """The index of a JSONL manifest: from the cache, else built on a worker process and cached."""
    folder = index_folder(path)
    if not (folder / "stats.json").is_file():
        with LocalProcesses(1) as worker:
            for _ in worker.map(build, None, [(str(path), str(folder))]):
                pass
    return load(path, folder)
