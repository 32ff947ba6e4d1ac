"""MNIST IDX files and CSV rows: real datumaro exports, real-MNIST headers, names, bad input."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

import cvkit
from cvkit.cli import app
from cvkit.errors import CvkitError

runner = CliRunner()


def write_idx(
    folder: Path, prefix: str, images: np.ndarray, labels: list[int], gz: bool = True, declared: int | None = None
) -> None:
    """IDX files as the MNIST site ships them: header count = number of images (``declared`` overrides it)."""
    n, rows, cols = images.shape
    head = (
        (0x803).to_bytes(4, "big")
        + (n if declared is None else declared).to_bytes(4, "big")
        + rows.to_bytes(4, "big")
        + cols.to_bytes(4, "big")
    )
    pack = gzip.compress if gz else (lambda b: b)
    suffix = ".gz" if gz else ""
    (folder / f"{prefix}-images-idx3-ubyte{suffix}").write_bytes(pack(head + images.astype(np.uint8).tobytes()))
    (folder / f"{prefix}-labels-idx1-ubyte{suffix}").write_bytes(
        pack((0x801).to_bytes(4, "big") + n.to_bytes(4, "big") + bytes(labels))
    )


def pixels(ds, sample) -> np.ndarray:
    return np.asarray(Image.open(sample.resolve(ds.root)))


def test_corpus_idx_and_csv_exports_hold_the_same_digits(corpus, tmp_path):
    idx = cvkit.read(corpus("mnist", "mnist_dataset"), format="mnist", images_dir=str(tmp_path / "a")).materialize()
    csv = cvkit.read(corpus("mnist", "mnist_csv_dataset"), format="mnist", images_dir=str(tmp_path / "b")).materialize()
    assert (
        [(s.split, s.labels) for s in idx]
        == [(s.split, s.labels) for s in csv]
        == [("train", ["5"]), ("train", ["7"]), ("test", ["0"]), ("test", ["2"]), ("test", ["1"])]
    )
    assert all(np.array_equal(pixels(idx, a), pixels(csv, b)) for a, b in zip(idx, csv))
    assert all((s.width, s.height) == (28, 28) for s in idx)
    assert idx.categories.names() == [str(d) for d in range(10)]
    assert cvkit.detect_format(corpus("mnist", "mnist_dataset")) == "mnist"
    assert cvkit.detect_format(corpus("mnist", "mnist_csv_dataset")) == "mnist"


def test_real_mnist_headers_gz_or_not_and_class_names_from_labels_txt(tmp_path):
    src = tmp_path / "fashion"
    src.mkdir()
    rng = np.random.default_rng(0)
    train = rng.integers(0, 256, size=(3, 28, 28))
    write_idx(src, "train", train, [9, 0, 3], gz=True)
    write_idx(src, "t10k", rng.integers(0, 256, size=(2, 28, 28)), [1, 1], gz=False)
    (src / "labels.txt").write_text(
        "\n".join(
            ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
        )
        + "\n"
    )
    ds = cvkit.read(src, format="mnist", images_dir=str(tmp_path / "png")).materialize()
    assert [(s.path, s.labels) for s in ds] == [
        ("train/00000.png", ["Ankle boot"]),
        ("train/00001.png", ["T-shirt/top"]),
        ("train/00002.png", ["Dress"]),
        ("test/00000.png", ["Trouser"]),
        ("test/00001.png", ["Trouser"]),
    ]
    assert np.array_equal(pixels(ds, ds.samples[1]), train[1])
    assert sorted(p.name for p in src.iterdir()) == [
        "labels.txt",
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
    ]  # input untouched


def test_csv_with_a_header_and_a_test_file_without_labels(tmp_path):
    src = tmp_path / "kaggle"
    src.mkdir()
    header = "label," + ",".join(f"pixel{i}" for i in range(784))
    (src / "train.csv").write_text(header + "\n" + "4," + ",".join(["0"] * 784) + "\n")
    (src / "test.csv").write_text(",".join(f"pixel{i}" for i in range(784)) + "\n" + ",".join(["255"] * 784) + "\n")
    ds = cvkit.read(src, format="mnist", images_dir=str(tmp_path / "png")).materialize()
    assert [(s.split, s.labels) for s in ds] == [("train", ["4"]), ("test", [])]
    assert pixels(ds, ds.samples[1]).min() == 255


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda d: write_idx(d, "train", np.zeros((2, 28, 28)), [1, 2], declared=5),
            "train-images-idx3-ubyte.gz:header: the header says 5 images, the file holds 2",
        ),
        (
            lambda d: (d / "mnist_train.csv").write_text(
                "3," + ",".join(["0"] * 784) + "\n7,1,2\n" + "0," * 783 + "0\n"
            ),
            "mnist_train.csv:line 2: expected 785 values (label + 28x28 pixels), got 3",
        ),
        (
            lambda d: write_idx(d, "train", np.zeros((1, 28, 28)), [12]),
            "train-images-idx3-ubyte.gz:image 0: label 12, but there are 10 classes",
        ),
    ],
)
def test_bad_files_name_the_file_and_place(make, message, tmp_path):
    src = tmp_path / "bad"
    src.mkdir()
    make(src)
    result = runner.invoke(app, ["ingest", str(src), "--format", "mnist", "-o", str(tmp_path / "out.jsonl")])
    assert result.exit_code == 2
    assert result.output.strip() == f"error: {src / message.split(':')[0]}:{message.split(':', 1)[1]}"
    assert not (tmp_path / "out.jsonl").exists()


def test_images_are_never_written_inside_the_input(tmp_path):
    write_idx(tmp_path, "train", np.zeros((1, 28, 28)), [1])
    with pytest.raises(CvkitError, match="must not be inside the input folder"):
        cvkit.read(tmp_path, format="mnist", images_dir=str(tmp_path / "png"))
