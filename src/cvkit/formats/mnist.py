"""MNIST-style digits: IDX files (MNIST, Fashion-MNIST, KMNIST, EMNIST), CSV rows and Keras' ``mnist.npz``, read only.

IDX (``train-images-idx3-ubyte[.gz]`` + ``train-labels-idx1-ubyte[.gz]``, ``t10k-*`` for test;
any ``<prefix>-images-idx3-ubyte`` with its ``<prefix>-labels-idx1-ubyte``): big-endian headers,
magic ``0x00000803`` (images: count, rows, cols) and ``0x00000801`` (labels: count), then one
unsigned byte per pixel / label. The image count is checked against the file size (datumaro writes
the pixel total in that field; both are accepted). A file present both gzipped and extracted (what
torchvision's download leaves in ``<Name>/raw``) is read once.

CSV (``mnist_train.csv``, ``mnist_test.csv``, Kaggle's ``train.csv``/``test.csv``): one image a row,
``label, p1 .. p784`` (28x28 row-major); a header row is skipped; rows of 784 values (Kaggle's test
set) are images without a label.

NPZ (Keras' ``mnist.npz``): ``x_train`` (N, H, W) uint8, ``y_train``, ``x_test``, ``y_test``, loaded
with ``allow_pickle=False`` (an object array, which needs pickle, is refused).

The folder given may also be torchvision's dataset folder (``MNIST/``, holding ``raw/`` and the
legacy ``processed/``, never read) or its root (``data/`` holding one ``<Name>/raw``). Files of
several datasets sharing a split (torchvision's ``EMNIST/raw`` holds six) need ``-r subset=NAME``
(``balanced``, ``emnist-letters``...).

Class names: ``labels.txt`` (one a line) beside the files; else torchvision's lists for EMNIST
subsets (``emnist-<subset>-*``), Fashion-MNIST and KMNIST (recognised by file or folder names);
else the digits ``0``..``9``. Ids are the class numbers. Splits from the file names (``train``,
``t10k``/``test``). The pixels live in the files, so, as for CIFAR, each image is written as a PNG
into ``images_dir`` (:func:`cvkit.io.extraction_dir`); paths are ``<split>/<index>.png``.
"""

from __future__ import annotations

import gzip
import os
import re
import string
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cvkit.core import shards as sharding
from cvkit.core.categories import Category, CategorySet
from cvkit.core.model import Dataset, Sample, Shard
from cvkit.core.progress import track
from cvkit.core.report import Report
from cvkit.core.shards import read_here, runs
from cvkit.errors import CvkitError, InvalidInputError
from cvkit.io import extraction_dir, open_regular, read_regular_bytes, read_utf8_text, require_regular

#: The reader writes image files: ``cvkit.api.convert`` gives it ``images_dir`` beside the output.
EXTRACTS_IMAGES = True
READ_OPTIONS = ("images_dir", "subset")
IDX_IMAGES = re.compile(r"^(?P<prefix>.*)-images[-.]idx3-ubyte(\.gz)?$")
SPLIT_TOKEN = re.compile(r"(^|[-_.])(train|training|test|testing|t10k)(?=$|[-_.])")
SIDE = 28

Rows = Iterator[tuple[Any, int | None]]

# torchvision.datasets' class lists (FashionMNIST.classes, KMNIST.classes, EMNIST.classes_split_dict)
_MERGED = set("cijklmopsuvwxyz")
_LETTERS = set(string.digits + string.ascii_letters)
KNOWN_CLASSES: dict[str, list[str]] = {
    "fashion": [
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ],
    "kmnist": ["o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"],
    "emnist-byclass": sorted(_LETTERS),
    "emnist-bymerge": sorted(_LETTERS - _MERGED),
    "emnist-balanced": sorted(_LETTERS - _MERGED),
    "emnist-letters": ["N/A", *string.ascii_lowercase],
    "emnist-digits": list(string.digits),
    "emnist-mnist": list(string.digits),
}


@dataclass(frozen=True, slots=True)
class _Source:
    """One file (or IDX pair, or npz split) of images: where it is, its split, the dataset it belongs to, and how its
    rows are read: ``kind`` (``idx``, ``csv``, ``npz``) and its other file (IDX labels) or array (npz key)."""

    file: Path
    split: str
    family: str
    kind: str
    other: Path | str | None = None

    def rows(self) -> Rows:
        if self.kind == "idx":
            assert isinstance(self.other, Path)
            return _idx_rows(self.file, self.other)
        if self.kind == "csv":
            return _csv_rows(self.file)
        return _npz_rows(self.file, str(self.other))


def _split(name: str) -> str | None:
    lowered = name.lower()
    if "train" in lowered:
        return "train"
    if "t10k" in lowered or "test" in lowered:
        return "test"
    return None


def _family(name: str) -> str:
    """The dataset a file belongs to: its name without the split word (``emnist-balanced-train`` ->
    ``emnist-balanced``)."""
    return SPLIT_TOKEN.sub("", name.lower(), count=1).strip("-_.")


def _idx_pairs(folder: Path) -> list[tuple[Path, Path]]:
    """(images, labels) file pairs of a folder, train first; a pair present gzipped and not is taken once (not
    gzipped)."""
    images_of: dict[str, Path] = {}
    for name in sorted(
        os.listdir(folder)
    ):  # names, not Path objects (folders of 100,000 files); sorted: one choice every run
        match = IDX_IMAGES.match(name)
        if match is not None and (match["prefix"] not in images_of or not name.endswith(".gz")):
            images_of[match["prefix"]] = folder / name
    pairs = []
    for prefix, images in images_of.items():
        candidates = [folder / f"{prefix}-labels{sep}idx1-ubyte{gz}" for gz in ("", ".gz") for sep in ("-", ".")]
        labels = next((c for c in candidates if c.is_file()), None)
        if labels is not None:
            pairs.append((images, labels))
    return sorted(pairs, key=lambda pair: (_split(pair[0].name) != "train", pair[0].name))


def _csv_files(folder: Path) -> list[Path]:
    return sorted(
        (p for p in folder.glob("*.csv") if _split(p.name) is not None and _looks_like_csv(p)),
        key=lambda p: _split(p.name) != "train",
    )


def _npz_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.npz") if _npz_keys(p))


def _npz_keys(path: Path, checked: bool = True) -> list[str]:
    """The ``x_<split>`` arrays of a Keras-style npz that have their ``y_<split>`` and (when ``checked``) are (N, H, W)
    integers.

    Only the zip directory and the arrays' ``.npy`` headers are read: Keras' ``imdb.npz``, whose
    ``x_train`` is an object array of word ids, is not claimed.
    """
    import zipfile

    import numpy as np

    keys = []
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            for split in ("train", "test"):
                if f"x_{split}.npy" not in names or f"y_{split}.npy" not in names:
                    continue
                if not checked:
                    keys.append(f"x_{split}")
                    continue
                with archive.open(f"x_{split}.npy") as handle:
                    version = np.lib.format.read_magic(handle)
                    header = (
                        np.lib.format.read_array_header_1_0
                        if version == (1, 0)
                        else np.lib.format.read_array_header_2_0
                    )
                    shape, _fortran, dtype = header(handle)
                if len(shape) == 3 and dtype.kind in "ui":
                    keys.append(f"x_{split}")
    except (OSError, ValueError, zipfile.BadZipFile):
        return []
    return keys


def _looks_like_csv(path: Path) -> bool:
    """784 or 785 comma-separated values a row (a header row allowed); a FIFO or a device is not looked into."""
    if not path.is_file():
        return False
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            lines = [handle.readline() for _ in range(2)]
    except OSError:
        return False
    return any(line.count(",") in (783, 784) for line in lines)


def _kind(folder: Path) -> str | None:
    """The files ``folder`` holds, looked for in the order :func:`_sources` takes them: ``idx``, ``csv``, ``npz``."""
    if not folder.is_dir():
        return None
    if _idx_pairs(folder):
        return "idx"
    if _csv_files(folder):
        return "csv"
    return "npz" if _npz_files(folder) else None


def _data_folders(path: Path) -> list[tuple[Path, str]]:
    """Where the files are, with their kind: ``path``, its ``raw/`` (torchvision's ``MNIST/``), or the ``<Name>/raw``
    folders of a torchvision root."""
    for folder in (path, path / "raw"):
        if kind := _kind(folder):
            return [(folder, kind)]
    with os.scandir(path) as entries:  # the entry's type: no stat per file of a big flat folder
        subs = sorted(entry.name for entry in entries if entry.is_dir())
    return [(path / name / "raw", kind) for name in subs if (kind := _kind(path / name / "raw"))]


NPZ_REASON = "a Keras-style npz (x_train, y_train, x_test, y_test)"
_KIND_REASONS = {
    "idx": "MNIST IDX files (*-images-idx3-ubyte + *-labels-idx1-ubyte)",
    "csv": "MNIST CSV rows (label + 784 pixels)",
    "npz": NPZ_REASON,
}


def detect(path: Path) -> str | None:
    if path.is_file():
        return NPZ_REASON if path.suffix.lower() == ".npz" and _npz_keys(path) else None
    if not path.is_dir():
        return None
    found = _data_folders(path)
    if not found:
        return None
    where = (
        ""
        if found[0][0] == path and len(found) == 1
        else f" in {', '.join(str(f.relative_to(path)) + '/' for f, _ in found)}"
    )
    return _KIND_REASONS[found[0][1]] + where


def _open(path: Path) -> bytes:
    try:
        return gzip.decompress(read_regular_bytes(path)) if path.suffix == ".gz" else read_regular_bytes(path)
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise InvalidInputError(f"cannot read ({exc})", file=path) from None


def _idx_shape(images: Path, labels: Path) -> tuple[int, int, int]:
    """``(count, rows, cols)`` of an IDX pair; headers and sizes checked (the whole files are read)."""
    image_bytes, label_bytes = _open(images), _open(labels)
    if len(image_bytes) < 16 or int.from_bytes(image_bytes[:4], "big") != 0x803:
        raise InvalidInputError("not an IDX image file (magic 0x00000803 expected)", file=images, location="header")
    if len(label_bytes) < 8 or int.from_bytes(label_bytes[:4], "big") != 0x801:
        raise InvalidInputError("not an IDX label file (magic 0x00000801 expected)", file=labels, location="header")
    declared, rows, cols = (int.from_bytes(image_bytes[i : i + 4], "big") for i in (4, 8, 12))
    if rows <= 0 or cols <= 0 or (len(image_bytes) - 16) % (rows * cols):
        raise InvalidInputError(
            f"{len(image_bytes) - 16} pixel bytes are not whole {rows}x{cols} images", file=images, location="header"
        )
    count = (len(image_bytes) - 16) // (rows * cols)
    if declared not in (count, count * rows * cols):
        raise InvalidInputError(
            f"the header says {declared} images, the file holds {count}", file=images, location="header"
        )
    label_count = int.from_bytes(label_bytes[4:8], "big")
    if label_count != count or len(label_bytes) - 8 != count:
        raise InvalidInputError(f"{count} images but {len(label_bytes) - 8} labels", file=labels, location="header")
    return count, rows, cols


def _byte_range(path: Path, offset: int, size: int) -> bytes:
    """``size`` bytes of ``path`` from ``offset`` (a ``.gz`` file is decompressed up to there, not held whole)."""
    try:
        with open_regular(path) as raw:
            handle = gzip.GzipFile(fileobj=raw) if path.suffix == ".gz" else raw
            handle.seek(offset)
            data = handle.read(size)
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise InvalidInputError(f"cannot read ({exc})", file=path) from None
    if len(data) != size:
        raise InvalidInputError(f"cannot read (the file ends {size - len(data)} bytes early)", file=path)
    return data


def _idx_rows(
    images: Path, labels: Path, start: int = 0, stop: int | None = None, shape: tuple[int, int, int] | None = None
) -> Rows:
    """``(rows x cols uint8 array, label)`` per image ``start..stop`` of an IDX pair whose ``shape`` (count, rows,
    cols) :func:`_idx_shape` gave; without it, the headers are checked here first."""
    import numpy as np

    count, rows, cols = shape or _idx_shape(images, labels)
    stop = count if stop is None else min(stop, count)
    side = rows * cols
    pixels = np.frombuffer(_byte_range(images, 16 + start * side, (stop - start) * side), dtype=np.uint8)
    pixels = pixels.reshape(stop - start, rows, cols)
    label_bytes = _byte_range(labels, 8 + start, stop - start)
    for index in range(stop - start):
        yield pixels[index], label_bytes[index]


def _csv_rows(path: Path) -> Rows:
    import numpy as np

    with open(path, encoding="utf-8-sig") as handle:  # -sig: a BOM must not turn the first row into a "header"
        for number, line in enumerate(handle, 1):
            fields = line.strip().split(",")
            if fields == [""]:
                continue
            if number == 1 and not fields[0].strip().isdigit():
                continue  # header row (Kaggle: label,pixel0,...)
            if len(fields) not in (SIDE * SIDE, SIDE * SIDE + 1):
                raise InvalidInputError(
                    f"expected {SIDE * SIDE + 1} values (label + {SIDE}x{SIDE} pixels), got {len(fields)}",
                    file=path,
                    location=f"line {number}",
                )
            try:
                values = [int(v) for v in fields]
            except ValueError:
                raise InvalidInputError("values must be integers", file=path, location=f"line {number}") from None
            label = values.pop(0) if len(values) == SIDE * SIDE + 1 else None
            if not all(0 <= v <= 255 for v in values):
                raise InvalidInputError("pixel values must be 0..255", file=path, location=f"line {number}")
            yield np.array(values, dtype=np.uint8).reshape(SIDE, SIDE), label


def _npz_rows(path: Path, key: str) -> Rows:
    """``x_<split>`` / ``y_<split>`` of a Keras npz, loaded without pickle."""
    import numpy as np

    try:
        with np.load(path, allow_pickle=False) as data:
            images, labels = data[key], data["y" + key[1:]]
    except (OSError, ValueError) as exc:  # object arrays: "Object arrays cannot be loaded when allow_pickle=False"
        raise InvalidInputError(f"cannot read {key} ({exc})", file=path, location=key) from None
    if images.ndim != 3 or images.dtype.kind not in "ui" or labels.ndim != 1 or labels.dtype.kind not in "ui":
        raise InvalidInputError(
            f"{key} must be (N, H, W) integers and y{key[1:]} (N,) integers, got {images.shape} {images.dtype} and "
            f"{labels.shape} {labels.dtype}",
            file=path,
            location=key,
        )
    if len(images) != len(labels):
        raise InvalidInputError(f"{len(images)} images but {len(labels)} labels", file=path, location=key)
    if images.size and (images.min() < 0 or images.max() > 255):
        raise InvalidInputError("pixel values must be 0..255", file=path, location=key)
    images = images.astype(np.uint8, copy=False)
    for index in range(len(images)):
        yield images[index], int(labels[index])


def _sources(folder: Path, npz: Path | None) -> list[_Source]:
    """The image files of ``folder`` (IDX pairs, else CSVs, else npz files), or of the one npz file given."""
    if npz is None:
        pairs = _idx_pairs(folder)
        if pairs:
            return [
                _Source(
                    images,
                    _split(images.name) or images.name.split("-")[0],
                    _family(images.name.split("-images")[0]),
                    "idx",
                    labels,
                )
                for images, labels in pairs
            ]
        csvs = _csv_files(folder)
        if csvs:
            return [_Source(csv, _split(csv.name) or csv.stem, _family(csv.stem), "csv") for csv in csvs]
    files = [npz] if npz else _npz_files(folder)
    # every x_<split> with its y_<split>, checked or not: one _npz_rows refuses by name (an object-array x_train was
    # left out here, and the train split silently with it)
    return [
        _Source(file, key[2:], file.stem.lower(), "npz", key)
        for file in files
        for key in _npz_keys(file, checked=False)
    ]


def _choose(sources: list[_Source], subset: str | None, folder: Path) -> list[_Source]:
    """The sources of one dataset: all of them unless two share a split (then ``subset`` picks the family)."""
    families = sorted({s.family for s in sources})
    if subset:
        wanted = str(subset).lower()
        chosen = [
            s for s in sources if s.family == wanted or s.family.endswith(f"-{wanted}")
        ]  # "letters": emnist-letters
        if not chosen:
            raise CvkitError(f"no files of subset {subset!r} here (there are: {', '.join(families)})", file=folder)
        return chosen
    splits = [s.split for s in sources]
    if len(set(splits)) < len(splits):
        raise CvkitError(
            f"this folder holds several datasets ({', '.join(families)}) with the same splits: choose one with -r "
            "subset=NAME",
            file=folder,
        )
    return sources


def _class_names(folder: Path, sources: list[_Source]) -> list[str]:
    """``labels.txt``, else torchvision's list for a recognised dataset, else the digits."""
    names_file = folder / "labels.txt"
    if names_file.is_file():
        return [line.strip() for line in read_utf8_text(names_file).splitlines() if line.strip()]
    families = {s.family for s in sources}
    if len(families) == 1 and (family := families.pop()) in KNOWN_CLASSES:
        return KNOWN_CLASSES[family]
    hint = " ".join(
        [*(s.family for s in sources), folder.name.lower(), folder.parent.name.lower()]
    )  # FashionMNIST/raw, fashion-mnist/
    for key in ("fashion", "kmnist"):
        if key in hint:
            return KNOWN_CLASSES[key]
    return [str(d) for d in range(10)]


def read(path: Path, report: Report, images_dir: str | None = None, subset: str | None = None) -> Dataset:
    """Read MNIST IDX files, CSV rows or a Keras npz, writing each image as a PNG into ``images_dir``."""
    path = Path(path)
    npz = path if path.is_file() and path.suffix.lower() == ".npz" else None
    if npz is None and not path.is_dir():
        raise InvalidInputError("give the folder holding the MNIST files (or a Keras mnist.npz)", file=path)
    folders = [path.parent] if npz else [folder for folder, _ in _data_folders(path)]
    if len(folders) > 1:
        raise CvkitError(
            f"several datasets here ({', '.join(str(f.relative_to(path)) for f in folders)}): give one of those "
            "folders",
            file=path,
        )
    if not folders:
        for csv in sorted(path.glob("*.csv")):  # named as MNIST's, but not its rows: that file is the problem
            if _split(csv.name) is not None:
                require_regular(csv)
                next(_csv_rows(csv), None)  # raises naming the file and line
        raise InvalidInputError("no MNIST IDX pairs, MNIST CSV files or Keras npz files here", file=path)
    sources = _sources(folders[0], npz)
    if not sources:
        raise InvalidInputError("no x_train/y_train or x_test/y_test arrays in the npz", file=path)
    sources = _choose(sources, subset, folders[0])
    names = _class_names(folders[0], sources)
    categories = CategorySet(Category(i, name) for i, name in enumerate(names))
    shared: _Shared = (sources, names, extraction_dir(path, images_dir))

    def shards(_workers: int) -> list[Shard]:
        return _shards(shared)

    return Dataset(
        track(read_here(shards, categories, report), "writing MNIST PNGs"),
        categories,
        root=shared[2],
        source_format="mnist",
        shards=shards,
    )


#: what the shards of one read share: the sources, the class names, the folder the PNGs are written to
_Shared = tuple[list[_Source], list[str], Path]
#: a shard's task: the source's place, its rows ``start..stop`` (None: to the end), the IDX ``(count, rows, cols)``
_Task = tuple[int, int, int | None, tuple[int, int, int] | None]
#: a CSV run is one file: about this many bytes a row steer its size (progress, whether workers start)
CSV_ROW_BYTES = 2 * SIDE * SIDE


def _shards(shared: _Shared) -> list[Shard]:
    """Runs of rows of each IDX pair (each reads its byte ranges of the two files); a CSV file or an npz array is one
    run. A pair whose headers are wrong is one run, which reports it."""
    found: list[Shard] = []
    for number, source in enumerate(shared[0]):
        if source.kind == "idx":
            assert isinstance(source.other, Path)
            try:
                shape = _idx_shape(source.file, source.other)
            except InvalidInputError:
                shape = None
            if shape is not None and shape[0]:
                found += [
                    Shard(len(run), _read_run, shared, (number, run.start, run.stop, shape))
                    for run in runs(range(shape[0]), sharding.SHARD_ITEMS)
                ]
                continue
        size = source.file.stat().st_size // CSV_ROW_BYTES if source.kind == "csv" else 1
        found.append(Shard(max(size, 1), _read_run, shared, (number, 0, None, None)))
    return found


def _read_run(shared: _Shared, task: _Task, categories: CategorySet, report: Report) -> Iterator[Sample]:
    """A shard's samples (:class:`~cvkit.core.model.Shard`): rows ``start..stop`` of one source, each written as a
    PNG ``<split>/<index>.png``; an unreadable file is skipped (reported by its first run)."""
    from PIL import Image

    sources, names, target = shared
    number, start, stop, shape = task
    source = sources[number]
    file, split = source.file, source.split
    folder = target / split
    folder.mkdir(parents=True, exist_ok=True)
    rows = _idx_rows(file, Path(source.other or ""), start, stop, shape) if shape is not None else source.rows()
    try:
        for index, (pixels, label) in enumerate(rows, start):
            if label is not None and not 0 <= label < len(names):
                report.invalid(
                    InvalidInputError(
                        f"label {label}, but there are {len(names)} classes", file=file, location=f"image {index}"
                    )
                )
                continue
            Image.fromarray(pixels).save(folder / f"{index:05d}.png", format="PNG")
            sample = Sample(
                f"{split}/{index:05d}.png",
                pixels.shape[1],
                pixels.shape[0],
                split,
                labels=[names[label]] if label is not None else [],
                meta={"mnist": {"file": file.name, "index": index}},
            )
            report.count_read(split, 0)
            yield sample
    except InvalidInputError as err:  # an unreadable file: skip the file
        report.invalid(err)
