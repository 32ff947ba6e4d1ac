"""MNIST-style digits: IDX files (MNIST, Fashion-MNIST, EMNIST) and CSV rows, read only.

IDX (``train-images-idx3-ubyte[.gz]`` + ``train-labels-idx1-ubyte[.gz]``, ``t10k-*`` for test;
any ``<prefix>-images-idx3-ubyte`` with its ``<prefix>-labels-idx1-ubyte``): big-endian headers,
magic ``0x00000803`` (images: count, rows, cols) and ``0x00000801`` (labels: count), then one
unsigned byte per pixel / label. The image count is checked against the file size (datumaro writes
the pixel total in that field; both are accepted).

CSV (``mnist_train.csv``, ``mnist_test.csv``, Kaggle's ``train.csv``/``test.csv``): one image a row,
``label, p1 .. p784`` (28x28 row-major); a header row is skipped; rows of 784 values (Kaggle's test
set) are images without a label.

Class names: ``labels.txt`` (one a line) beside the files, else the digits ``0``..``9``. Splits
from the file names (``train``, ``t10k``/``test``). The pixels live in the files, so, as for CIFAR,
each image is written as a PNG into ``images_dir`` (:func:`cvkit.io.extraction_dir`); paths are
``<split>/<index>.png``.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cvkit.core.categories import Category, CategorySet
from cvkit.core.model import Dataset, Sample
from cvkit.core.progress import track
from cvkit.core.report import Report
from cvkit.errors import InvalidInputError
from cvkit.io import extraction_dir

#: The reader writes image files: ``cvkit.api.convert`` gives it ``images_dir`` beside the output.
EXTRACTS_IMAGES = True
READ_OPTIONS = ("images_dir",)
IDX_IMAGES = re.compile(r"^(?P<prefix>.*)-images[-.]idx3-ubyte(\.gz)?$")
SIDE = 28


def _idx_pairs(folder: Path) -> list[tuple[Path, Path]]:
    """(images, labels) file pairs of a folder, train first."""
    pairs = []
    for images in sorted(folder.iterdir()):
        match = IDX_IMAGES.match(images.name)
        if match is None:
            continue
        candidates = [folder / f"{match['prefix']}-labels{sep}idx1-ubyte{gz}" for sep in ("-", ".") for gz in ("", ".gz")]
        labels = next((c for c in candidates if c.is_file()), None)
        if labels is not None:
            pairs.append((images, labels))
    return sorted(pairs, key=lambda pair: _split(pair[0].name) != "train")


def _csv_files(folder: Path) -> list[Path]:
    return sorted((p for p in folder.glob("*.csv") if _split(p.name) is not None and _looks_like_csv(p)), key=lambda p: _split(p.name) != "train")


def _looks_like_csv(path: Path) -> bool:
    """784 or 785 comma-separated values a row (a header row allowed)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            lines = [handle.readline() for _ in range(2)]
    except OSError:
        return False
    return any(line.count(",") in (783, 784) for line in lines)


def _split(name: str) -> str | None:
    lowered = name.lower()
    if "train" in lowered:
        return "train"
    if "t10k" in lowered or "test" in lowered:
        return "test"
    return None


def detect(path: Path) -> str | None:
    folder = path if path.is_dir() else None
    if folder is None:
        return None
    if _idx_pairs(folder):
        return "MNIST IDX files (*-images-idx3-ubyte + *-labels-idx1-ubyte)"
    if _csv_files(folder):
        return "MNIST CSV rows (label + 784 pixels)"
    return None


def _open(path: Path) -> bytes:
    try:
        return gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise InvalidInputError(f"cannot read ({exc})", file=path) from None


def _idx_rows(images: Path, labels: Path) -> Iterator[tuple[Any, int | None]]:
    """``(28x28 uint8 array, label)`` per image of an IDX pair; headers and sizes checked."""
    import numpy as np

    image_bytes, label_bytes = _open(images), _open(labels)
    if len(image_bytes) < 16 or int.from_bytes(image_bytes[:4], "big") != 0x803:
        raise InvalidInputError("not an IDX image file (magic 0x00000803 expected)", file=images, location="header")
    if len(label_bytes) < 8 or int.from_bytes(label_bytes[:4], "big") != 0x801:
        raise InvalidInputError("not an IDX label file (magic 0x00000801 expected)", file=labels, location="header")
    declared, rows, cols = (int.from_bytes(image_bytes[i : i + 4], "big") for i in (4, 8, 12))
    if rows <= 0 or cols <= 0 or (len(image_bytes) - 16) % (rows * cols):
        raise InvalidInputError(f"{len(image_bytes) - 16} pixel bytes are not whole {rows}x{cols} images", file=images, location="header")
    count = (len(image_bytes) - 16) // (rows * cols)
    if declared not in (count, count * rows * cols):
        raise InvalidInputError(f"the header says {declared} images, the file holds {count}", file=images, location="header")
    label_count = int.from_bytes(label_bytes[4:8], "big")
    if label_count != count or len(label_bytes) - 8 != count:
        raise InvalidInputError(f"{count} images but {len(label_bytes) - 8} labels", file=labels, location="header")
    pixels = np.frombuffer(image_bytes, dtype=np.uint8, offset=16).reshape(count, rows, cols)
    for index in range(count):
        yield pixels[index], label_bytes[8 + index]


def _csv_rows(path: Path) -> Iterator[tuple[Any, int | None]]:
    import numpy as np

    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            fields = line.strip().split(",")
            if fields == [""]:
                continue
            if number == 1 and not fields[0].strip().isdigit():
                continue  # header row (Kaggle: label,pixel0,...)
            if len(fields) not in (SIDE * SIDE, SIDE * SIDE + 1):
                raise InvalidInputError(f"expected {SIDE * SIDE + 1} values (label + {SIDE}x{SIDE} pixels), got {len(fields)}", file=path,
                                        location=f"line {number}")
            try:
                values = [int(v) for v in fields]
            except ValueError:
                raise InvalidInputError("values must be integers", file=path, location=f"line {number}") from None
            label = values.pop(0) if len(values) == SIDE * SIDE + 1 else None
            if not all(0 <= v <= 255 for v in values):
                raise InvalidInputError("pixel values must be 0..255", file=path, location=f"line {number}")
            yield np.array(values, dtype=np.uint8).reshape(SIDE, SIDE), label


def read(path: Path, report: Report, images_dir: str | None = None) -> Dataset:
    """Read MNIST IDX files or CSV rows from a folder, writing each image as a PNG into ``images_dir``."""
    path = Path(path)
    if not path.is_dir():
        raise InvalidInputError("give the folder holding the MNIST files", file=path)
    sources: list[tuple[Path, str, Iterator[tuple[Any, int | None]]]] = []
    for images, labels in _idx_pairs(path):
        sources.append((images, _split(images.name) or images.name.split("-")[0], _idx_rows(images, labels)))
    if not sources:
        sources = [(csv, _split(csv.name) or csv.stem, _csv_rows(csv)) for csv in _csv_files(path)]
    if not sources:
        raise InvalidInputError("no MNIST IDX pairs or MNIST CSV files here", file=path)
    names_file = path / "labels.txt"
    names = [line.strip() for line in names_file.read_text(encoding="utf-8").splitlines() if line.strip()] if names_file.is_file() else \
        [str(d) for d in range(10)]
    categories = CategorySet(Category(i, name) for i, name in enumerate(names))
    target = extraction_dir(path, images_dir)

    def samples() -> Iterator[Sample]:
        from PIL import Image

        for file, split, rows in sources:
            folder = target / split
            folder.mkdir(parents=True, exist_ok=True)
            try:
                for index, (pixels, label) in enumerate(track(rows, f"{file.name}: writing PNGs")):
                    if label is not None and not 0 <= label < len(names):
                        report.invalid(InvalidInputError(f"label {label}, but there are {len(names)} classes", file=file, location=f"image {index}"))
                        continue
                    Image.fromarray(pixels).save(folder / f"{index:05d}.png", format="PNG")
                    sample = Sample(f"{split}/{index:05d}.png", pixels.shape[1], pixels.shape[0], split,
                                    labels=[names[label]] if label is not None else [], meta={"mnist": {"file": file.name, "index": index}})
                    report.count_read(split, 0)
                    yield sample
            except InvalidInputError as err:  # an unreadable file: skip the file
                report.invalid(err)

    return Dataset(samples(), categories, root=target, source_format="mnist")
