"""A manifest's index on disk: built once on a worker process, then memory-mapped by every ``cvkit view`` of it.

Building the columns of a large JSONL manifest holds every number as a Python object for a while (about 1.6 GB
at its peak for 10 million boxes); on a worker process that memory goes back when the worker ends, and the
server maps the finished arrays (about 0.5 GB for 10 million boxes, paged in as used). Reopening the same
manifest (same path, size and modification time) skips the build. The folder lives under
``cvkit.io.cache_dir("view-index")`` (``$CVKIT_CACHE_DIR``, else ``~/.cache/cvkit``).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from cvkit import __version__
from cvkit.core import jsonio
from cvkit.core.executor import LocalProcesses
from cvkit.core.report import Report
from cvkit.errors import CvkitError
from cvkit.io import cache_dir
from cvkit.stats.columns import Columns, columns_from_manifest
from cvkit.view.store import record_line_starts

#: changes whenever what is stored changes
INDEX_VERSION = 1
ARRAYS = ("image_width", "image_height", "image_split", "obj_image", "obj_class", "obj_box", "obj_mask_area", "label_image", "label_class")


def index_folder(path: Path) -> Path:
    """Where the index of the manifest ``path`` as it is now is kept."""
    stat = path.stat()
    key = f"{path.resolve()}\0{stat.st_size}\0{stat.st_mtime_ns}\0{INDEX_VERSION}\0{__version__}"
    return cache_dir("view-index", hashlib.blake2b(key.encode("utf-8", "surrogateescape"), digest_size=16).hexdigest())


def build(_context: None, task: tuple[str, str]) -> None:
    """Build and store the index of one manifest (runs on a worker process; the folder appears complete or not at all)."""
    path, folder = Path(task[0]), Path(task[1])
    columns = columns_from_manifest(path, Report())
    starts = record_line_starts(path)
    if len(starts) != columns.num_images:
        raise CvkitError(f"the manifest has {len(starts)} record lines but {columns.num_images} readable records; "
                         "run `cvkit validate` on it", file=path)
    folder.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        for name in ARRAYS:
            np.save(work / f"{name}.npy", np.ascontiguousarray(getattr(columns, name)))
        np.save(work / "starts.npy", starts)
        names = {"class_names": columns.class_names, "class_ids": columns.class_ids, "split_names": columns.split_names, "source": columns.source}
        (work / "names.json").write_bytes(jsonio.dumps(names))
        os.replace(work, folder)
    except OSError:
        shutil.rmtree(work, ignore_errors=True)
        if not folder.is_dir():  # another process may have stored the same index meanwhile
            raise


def load(path: Path, folder: Path) -> tuple[Columns, np.ndarray]:
    """The stored columns (memory-mapped, read-only) and record offsets of the manifest ``path``."""
    names = jsonio.loads((folder / "names.json").read_bytes())
    arrays = {name: np.load(folder / f"{name}.npy", mmap_mode="r") for name in ARRAYS}
    columns = Columns(class_names=names["class_names"], class_ids=names["class_ids"], split_names=names["split_names"],
                      source=names["source"], root=path.parent, **arrays)
    return columns, np.load(folder / "starts.npy", mmap_mode="r")


def manifest_index(path: Path) -> tuple[Columns, np.ndarray]:
    """The columns and record offsets of a JSONL manifest: from the cache, else built on a worker process and cached."""
    folder = index_folder(path)
    if not (folder / "names.json").is_file():
        with LocalProcesses(1) as worker:
            for _ in worker.map(build, None, [(str(path), str(folder))]):
                pass
    return load(path, folder)
