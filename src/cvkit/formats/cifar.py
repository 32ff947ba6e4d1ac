"""CIFAR-10 and CIFAR-100: python pickle batches and the binary ``.bin`` version.

Python version (``cifar-10-batches-py``: ``data_batch_1..5``, ``test_batch``, ``batches.meta``;
``cifar-100-python``: ``train``, ``test``, ``meta``): dicts with ``data`` (rows of 3072 bytes,
the R, G and B planes of a 32x32 image), ``labels`` or ``fine_labels`` + ``coarse_labels``,
``filenames``. The real files were pickled by Python 2 and have bytes keys; files written by
other tools (datumaro) have str keys, per-image arrays and an ``image_sizes`` list (H, W):
both are read. Pickles are untrusted input: :class:`RestrictedUnpickler` builds only lists,
dicts, strings, numbers and numpy arrays, and refuses any other global with
:class:`UnsafePickleError` before anything runs.

Binary version (``*.bin``): CIFAR-10 records are 1 label byte + 3072 pixel bytes
(``batches.meta.txt`` names the classes); CIFAR-100 records are coarse byte, fine byte,
3072 bytes (``coarse_label_names.txt``, ``fine_label_names.txt``).

The path may also be torchvision's root (``CIFAR10(root="data")`` keeps ``cifar-10-batches-py/``
beside the archive there): the one unpacked CIFAR folder in it is read.

Pixels live inside the batches, so the reader writes each image as a PNG into
``images_dir``: ``cvkit ingest`` / ``convert`` put it beside the output
(``<output>_images/``); called from Python without ``images_dir`` it is a per-input cache
folder under ``~/.cache/cvkit/images/`` (:func:`cvkit.io.extraction_dir`). The input folder is never written to. Paths
are ``<batch>/<filename>`` (``<batch>/<index>.png`` without file names). Splits come from the batch names
(``data_batch_*``/``train`` -> train, ``test*`` -> test). Category ids are the class numbers of the batches (0-based, as
the source writes them); CIFAR-100's coarse classes become the parents of the fine classes in the hierarchy.
"""

from __future__ import annotations

import io
import os
import pickle
from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import Any

from cvkit.core import shards as sharding
from cvkit.core import validate_values
from cvkit.core.categories import Category, CategorySet, Hierarchy
from cvkit.core.model import Dataset, Sample, Shard
from cvkit.core.progress import track
from cvkit.core.report import Report
from cvkit.core.shards import read_here, runs
from cvkit.errors import CvkitError, InvalidInputError, UnsafePickleError
from cvkit.io import extraction_dir, open_regular, read_utf8_text

#: The reader writes image files: ``cvkit.api.convert`` gives it ``images_dir`` beside the output.
EXTRACTS_IMAGES = True
READ_OPTIONS = ("images_dir",)
PICKLE_BATCHES = ("data_batch_", "test_batch", "train", "test")
#: the folders the CIFAR archives unpack to: torchvision's ``CIFAR10(root)`` keeps them (and the archive) in ``root``
ARCHIVE_FOLDERS = ("cifar-10-batches-py", "cifar-100-python", "cifar-10-batches-bin", "cifar-100-binary")
SIDE = 32
PLANE = SIDE * SIDE * 3

#: (module, name) pairs a CIFAR pickle may name: numpy array reconstruction, nothing else.
ALLOWED_GLOBALS = frozenset(
    {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("_codecs", "encode"),  # how Python 3 protocol-2 pickles store bytes
    }
)


class _Opaque:
    """Stands in for numpy arrays when only labels are wanted: built from nothing, holds nothing."""

    def __init__(self, *args: object) -> None:
        pass

    def __setstate__(self, state: object) -> None:
        pass


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only :data:`ALLOWED_GLOBALS` (see the module docstring).

    With ``arrays=False`` numpy arrays are not even built (each becomes an empty
    placeholder): reading a batch's label lists then costs no pixel memory.
    """

    def __init__(self, handle: io.BufferedIOBase, file: Path, arrays: bool = True):
        super().__init__(handle, encoding="latin1")  # numpy's advice for Python 2 array pickles
        self.file = file
        self.arrays = arrays

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in ALLOWED_GLOBALS:
            raise UnsafePickleError(
                f"refused to unpickle the global {module}.{name}: CIFAR batches hold only lists, dicts and numpy "
                "arrays",
                file=self.file,
            )
        if module == "_codecs":
            import codecs

            return codecs.encode
        if not self.arrays:
            return _Opaque
        import numpy as np

        if module == "numpy":
            return getattr(np, name)
        try:
            from numpy._core import multiarray
        except ImportError:  # numpy < 2
            from numpy.core import multiarray  # type: ignore[no-redef]
        return getattr(multiarray, name)

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafePickleError("refused a persistent id: CIFAR batches have none", file=self.file)


def load_pickle(path: Path, arrays: bool = True) -> dict[str, Any]:
    """A CIFAR pickle as a dict with str keys (bytes keys of the real files decoded);
    ``arrays=False`` leaves the pixel arrays out (labels and names only)."""
    try:
        with open_regular(path) as handle:
            data = RestrictedUnpickler(handle, path, arrays).load()
    except UnsafePickleError:
        raise
    except FileNotFoundError:
        raise InvalidInputError("file not found", file=path) from None
    except Exception as exc:  # pickle raises UnpicklingError, EOFError, ValueError, TypeError, ...
        raise InvalidInputError(f"corrupt or truncated pickle ({exc.__class__.__name__}: {exc})", file=path) from None
    if not isinstance(data, dict):
        raise InvalidInputError(f"expected a dict, the pickle holds a {type(data).__name__}", file=path)
    return {(k.decode("latin1") if isinstance(k, bytes) else str(k)): v for k, v in data.items()}


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def label_names(meta: dict[str, Any], key: str, file: Path) -> list[str]:
    """The class names ``meta[key]`` holds (``label_names``, ``fine_label_names``...), bytes decoded."""
    value = meta.get(key)
    if not isinstance(value, list | tuple):
        raise InvalidInputError(f"no {key!r} list in the meta file", file=file)
    return [_text(v) for v in value]


def split_of(batch: str) -> str:
    return "test" if batch.startswith("test") else "train"


# --- layouts ---------------------------------------------------------------------------------
class _Source:
    """One layout: its class names (fine, and coarse for CIFAR-100) and its batches in order."""

    def __init__(self, path: Path):
        self.folder = path if path.is_dir() else path.parent
        batches = (
            [path]
            if path.is_file()
            else sorted(p for p in path.iterdir() if p.is_file() and p.name.startswith(PICKLE_BATCHES))
        )
        self.binary = any(p.suffix == ".bin" for p in batches)
        self.batches = [p for p in batches if (p.suffix == ".bin") == self.binary and p.suffix in ("", ".bin")]
        if not self.batches:
            raise CvkitError(
                "no CIFAR batches here (data_batch_*, test_batch, train, test, or their .bin files)", file=path
            )
        self.fine: list[str]
        self.coarse: list[str] | None = None
        if self.binary:
            self._binary_meta()
        else:
            self._pickle_meta()

    def _pickle_meta(self) -> None:
        for name in ("batches.meta", "meta"):
            meta_path = self.folder / name
            if meta_path.is_file():
                meta = load_pickle(meta_path)
                if "fine_label_names" in meta:
                    self.fine = label_names(meta, "fine_label_names", meta_path)
                    self.coarse = label_names(meta, "coarse_label_names", meta_path)
                else:
                    self.fine = label_names(meta, "label_names", meta_path)
                return
        raise InvalidInputError(
            "missing the class names: no batches.meta (CIFAR-10) or meta (CIFAR-100) beside the batches",
            file=self.folder,
        )

    def _binary_meta(self) -> None:
        def lines(name: str) -> list[str]:
            return [line.strip() for line in read_utf8_text(self.folder / name).splitlines() if line.strip()]

        if (self.folder / "fine_label_names.txt").is_file():
            if not (self.folder / "coarse_label_names.txt").is_file():
                raise InvalidInputError("missing coarse_label_names.txt beside fine_label_names.txt", file=self.folder)
            self.fine, self.coarse = lines("fine_label_names.txt"), lines("coarse_label_names.txt")
        elif (self.folder / "batches.meta.txt").is_file():
            self.fine = lines("batches.meta.txt")
        else:
            raise InvalidInputError(
                "missing the class names: no batches.meta.txt (CIFAR-10) or fine_label_names.txt (CIFAR-100)",
                file=self.folder,
            )


def _pickle_rows(path: Path, coarse: bool) -> Iterator[tuple[Any, Any, Any, tuple[int, int], str | None]]:
    """``(fine, coarse, pixels, (h, w), filename)`` per image of a pickle batch; labels as the pickle holds them
    (:func:`_sample` checks them, so one bad label skips its image, not the batch)."""
    import numpy as np

    batch = load_pickle(path)
    key = "fine_labels" if coarse else "labels"
    if "data" not in batch or key not in batch:
        raise InvalidInputError(
            f"a CIFAR batch needs 'data' and {key!r} (found: {', '.join(sorted(batch))})", file=path
        )
    data = batch["data"]
    if isinstance(data, (str, bytes)) or not hasattr(data, "__len__"):
        raise InvalidInputError(
            f"'data' must be an array of images, got {type(data).__name__}", file=path, location="data"
        )
    labels = _whole_numbers(batch[key], key, path)
    has_coarse = coarse and "coarse_labels" in batch
    coarse_labels = _whole_numbers(batch["coarse_labels"], "coarse_labels", path) if has_coarse else None
    names = [_text(n) for n in batch.get("filenames", [])]
    sizes = batch.get("image_sizes")
    if len(data) != len(labels):
        raise InvalidInputError(f"{len(data)} images but {len(labels)} labels", file=path)
    for i, (row, label) in enumerate(zip(data, labels)):
        where = f"image {i}"
        h, w = (SIDE, SIDE)
        if sizes is not None:  # ImageNet32-style batches: each image's (height, width)
            h, w = (
                validate_values.image_side(sizes[i][0], "image_sizes height", path, where) or 0,
                validate_values.image_side(sizes[i][1], "image_sizes width", path, where) or 0,
            )
        pixels = np.asarray(row, dtype=np.uint8).reshape(-1)
        if pixels.size != 3 * h * w:
            raise InvalidInputError(f"image {i} has {pixels.size} values, expected 3 x {h} x {w}", file=path)
        coarse_label = coarse_labels[i] if coarse_labels else None
        yield label, coarse_label, pixels, (h, w), (names[i] if i < len(names) else None)


def _whole_numbers(values: Any, key: str, path: Path) -> list[int]:
    """A batch's label list, every entry a whole number (not a string, not a float)."""
    import numpy as np

    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise InvalidInputError(
            f"{key!r} must be a list of whole numbers, got {type(values).__name__}", file=path, location=key
        )
    listed = list(values)
    for i, value in enumerate(listed):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise InvalidInputError(
                f"labels must be whole numbers, got {value!r}"[:200], file=path, location=f"{key}[{i}]"
            )
    return listed


def _binary_rows(
    path: Path, coarse: bool, start: int = 0, stop: int | None = None
) -> Iterator[tuple[int, int | None, Any, tuple[int, int], str | None]]:
    """The records ``start..stop`` of a binary batch (only their bytes are read)."""
    import numpy as np

    head = 2 if coarse else 1
    record = PLANE + head
    size = path.stat().st_size
    if size % record:
        raise InvalidInputError(
            f"size {size} is not a multiple of the {record}-byte records of {'CIFAR-100' if coarse else 'CIFAR-10'}",
            file=path,
        )
    stop = size // record if stop is None else min(stop, size // record)
    count = max(stop - start, 0)
    records = np.fromfile(path, dtype=np.uint8, count=count * record, offset=start * record).reshape(-1, record)
    for row in records:
        fine = int(row[1] if coarse else row[0])
        yield fine, (int(row[0]) if coarse else None), row[head:], (SIDE, SIDE), None


def _unpacked(path: Path) -> list[Path]:
    """The CIFAR archive folders inside a torchvision root (``data/cifar-10-batches-py``...), when ``path`` is one."""
    return [path / name for name in ARCHIVE_FOLDERS if (path / name).is_dir()] if path.is_dir() else []


#: what the shards of one read share: the layout and the folder the PNGs are written to
_Shared = tuple[_Source, Path]
#: a shard's task: the batch's place in the layout, and its rows ``start..stop`` (None: to the end)
_Task = tuple[int, int, int | None]
#: the tally (:attr:`~cvkit.core.report.Report.tallies`) of a fine class met under a coarse one: this prefix +
#: ``fine NUL coarse``; the reader's finisher turns them into hierarchy edges, in the order one process meets them
_PARENT = "cifar.parent:"


def read(path: Path, report: Report, **options: Any) -> Dataset:
    """Read CIFAR batches, writing each image as a PNG into ``images_dir``; runs of rows of a batch are shards."""
    path = Path(path)
    inner = [] if _describe(path) else _unpacked(path)
    if len(inner) > 1:
        raise CvkitError(
            f"several CIFAR folders here ({', '.join(p.name for p in inner)}): give one of them", file=path
        )
    source = _Source(inner[0] if inner else path)
    shared: _Shared = (source, extraction_dir(path, options.get("images_dir")))
    categories = CategorySet(Category(i, name) for i, name in enumerate(source.fine))
    hierarchy = Hierarchy()
    if source.coarse:
        for name in source.coarse:
            hierarchy.node(name)

    def shards(workers: int) -> list[Shard]:
        return _shards(shared, workers)

    def finish(merged: Report | None) -> None:
        tallies = (merged if merged is not None else report).tallies
        for key in [key for key in tallies if key.startswith(_PARENT)]:
            del tallies[key]
            fine, coarse = key.removeprefix(_PARENT).split("\0")
            hierarchy.add_edge(fine, coarse)

    dataset = Dataset(
        track(read_here(shards, categories, report), "writing CIFAR PNGs"),
        categories,
        hierarchy,
        root=shared[1],
        source_format="cifar",
        shards=shards,
    )
    dataset.finishers.append(finish)
    return dataset


def _row_count(batch: Path, source: _Source) -> int | None:
    """How many images ``batch`` holds (its labels alone are read); None when that cannot be told (the shard that
    reads the whole batch says why)."""
    coarse = source.coarse is not None
    try:
        if source.binary:
            size, record = batch.stat().st_size, PLANE + (2 if coarse else 1)
            return None if size % record else size // record
        labels = load_pickle(batch, arrays=False).get("fine_labels" if coarse else "labels")
    except (OSError, CvkitError):
        return None
    return len(labels) if isinstance(labels, list | tuple) else None


def _shards(shared: _Shared, workers: int) -> list[Shard]:
    """Runs of rows of each batch. A binary batch's run reads its own records; a pickle is loaded whole by each run
    of it, so a pickle batch is cut only into about one run a worker."""
    source = shared[0]
    if workers <= 1 and not source.binary:  # one process: each batch a run, loaded once
        return [Shard(1, _read_run, shared, (number, 0, None)) for number in range(len(source.batches))]
    counts = [_row_count(batch, source) for batch in source.batches]
    total = sum(count or 0 for count in counts)
    size = sharding.SHARD_ITEMS if source.binary else max(sharding.SHARD_ITEMS, -(-total // max(workers, 1)))
    found: list[Shard] = []
    for number, count in enumerate(counts):
        if not count:
            found.append(Shard(1, _read_run, shared, (number, 0, None)))
            continue
        found += [Shard(len(run), _read_run, shared, (number, run.start, run.stop)) for run in runs(range(count), size)]
    return found


def _read_run(shared: _Shared, task: _Task, categories: CategorySet, report: Report) -> Iterator[Sample]:
    """A shard's samples (:class:`~cvkit.core.model.Shard`): rows ``start..stop`` of one batch, each written as a PNG.

    A pickle batch is read from its first row: the rows before ``start`` are checked (not written, not reported)
    so that names repeated in the batch get the same prefix, and an image that ends the batch ends it for every
    later run too, as when one process reads the batch. What is wrong with the batch itself is reported by its first
    run."""
    source, images_dir = shared
    number, start, stop = task
    batch = source.batches[number]
    stem = batch.name.removesuffix(".bin")
    coarse = source.coarse is not None
    first = start if source.binary else 0
    rows = _binary_rows(batch, coarse, start, stop) if source.binary else _pickle_rows(batch, coarse)
    used: set[str] = set()
    following: int | None = None  # the row the batch gives next; None before its first
    try:
        for index, (fine, parent, pixels, (h, w), filename) in enumerate(islice(rows, stop), first):
            following = index + 1
            try:
                label, coarse_name, rel = _checked(source, batch, index, fine, parent, filename, used)
            except InvalidInputError as err:  # one bad image: skip it, keep the batch
                if index >= start:
                    report.invalid(err)
                continue
            if index < start:
                continue
            sample = _write(images_dir, stem, rel, index, pixels, h, w, label, coarse_name, filename)
            if coarse_name is not None:
                report.tallies[f"{_PARENT}{label}\0{coarse_name}"] = 1
            report.count_read(sample.split, 0)
            yield sample
    except UnsafePickleError:
        raise
    except InvalidInputError as err:  # an unreadable batch, or an image that ends it: skip the rest of the batch
        if (start == 0) if following is None else following >= start:
            report.invalid(err)


def _checked(
    source: _Source, batch: Path, index: int, fine: Any, coarse: Any, filename: str | None, used: set[str]
) -> tuple[str, str | None, str]:
    """Check one image's labels (whole numbers: a label 3.7 was read as class 3) and name it: its class, its coarse
    class (CIFAR-100) and its file name in the batch's folder (made unique in the batch: ``used``)."""
    fine = validate_values.whole_number(fine, "label", batch, f"image {index}")
    if coarse is not None:
        coarse = validate_values.whole_number(coarse, "coarse label", batch, f"image {index}")
    if not 0 <= fine < len(source.fine):
        raise InvalidInputError(
            f"label {fine}, but there are {len(source.fine)} classes", file=batch, location=f"image {index}"
        )
    coarse_name = None
    if coarse is not None and source.coarse is not None:
        if not 0 <= coarse < len(source.coarse):
            raise InvalidInputError(
                f"coarse label {coarse}, but there are {len(source.coarse)} coarse classes",
                file=batch,
                location=f"image {index}",
            )
        coarse_name = source.coarse[coarse]
    name = os.path.basename(filename) if filename else f"{index:05d}.png"
    name = name if name.lower().endswith(".png") else name + ".png"
    if name in used:
        name = f"{index:05d}_{name}"
    used.add(name)
    return source.fine[fine], coarse_name, name


def _write(
    images_dir: Path,
    stem: str,
    name: str,
    index: int,
    pixels: Any,
    h: int,
    w: int,
    label: str,
    coarse_name: str | None,
    filename: str | None,
) -> Sample:
    """Write one image as a PNG and build its sample."""
    import numpy as np
    from PIL import Image

    rel = f"{stem}/{name}"
    target = images_dir / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    image = np.ascontiguousarray(pixels.reshape(3, h, w).transpose(1, 2, 0))  # CHW planes -> HWC, read as RGB
    Image.fromarray(image).save(target, format="PNG")
    meta: dict[str, Any] = {"batch": stem, "index": index}
    if coarse_name is not None:
        meta["coarse_label"] = coarse_name
    if filename:
        meta["filename"] = filename
    return Sample(rel, w, h, split_of(stem), labels=[label], meta={"cifar": meta})


def _describe(path: Path) -> str | None:
    """What CIFAR files the folder ``path`` holds itself, None when none."""
    names = set(os.listdir(path)) if path.is_dir() else set()
    if ("batches.meta" in names or "meta" in names) and names & {"data_batch_1", "test_batch", "train", "test"}:
        return "CIFAR python batches with their meta file"
    if names & {"batches.meta.txt", "fine_label_names.txt"} and any(n.endswith(".bin") for n in names):
        return "CIFAR binary batches (*.bin) with their label names"
    return None


def detect(path: Path) -> str | None:
    found = _describe(path)
    if found is None and (inner := [(p, what) for p in _unpacked(path) if (what := _describe(p))]):
        return f"{inner[0][1]} in {', '.join(p.name + '/' for p, _ in inner)} (a torchvision root)"
    return found
