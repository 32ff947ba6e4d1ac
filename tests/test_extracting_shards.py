"""CIFAR, MNIST and label lists read as shards (issue #14): runs of rows of a batch or an IDX pair, runs of lines of
a list. Whoever reads the runs (this process, forked or spawned workers), the conversion writes what the dataset
iterated here writes (the oracle: read, materialized, written without shards), the PNGs the readers extract
included, and the report adds up the same; a bad image or line is skipped the same way, and without
``--skip-invalid`` the same one-line error stops it."""

from __future__ import annotations

import gzip
import pickle
from pathlib import Path

import numpy as np
import pytest

import cvkit
from conftest import make_image
from cvkit.core import shards
from cvkit.core.executor import InProcess, LocalProcesses, can_fork, using
from cvkit.core.model import Dataset
from cvkit.core.report import Report
from cvkit.errors import CvkitError

KINDS = ("serial", "in-process", "fork", "spawn")


@pytest.fixture(autouse=True)
def small_shards(monkeypatch):
    """Runs of two rows or lines, so that the small inputs below are cut into several."""
    monkeypatch.setattr(shards, "SHARD_ITEMS", 2)


def _cifar100(root: Path) -> Path:
    """A CIFAR-100 train batch written as datumaro does (str keys, one array an image, ``image_sizes``): names
    repeated (prefixed by the reader), a coarse label out of range (that image skipped), an image with too few
    values (the rest of the batch skipped); a test batch as well."""
    folder = root / "cifar-100-python"
    folder.mkdir(parents=True)
    meta = {"fine_label_names": ["apple", "bee", "cloud"], "coarse_label_names": ["food", "insects", "sky"]}
    (folder / "meta").write_bytes(pickle.dumps(meta, protocol=2))
    rng = np.random.default_rng(5)
    sizes = [(4, 5)] * 9
    data = [rng.integers(0, 256, 3 * h * w, dtype=np.uint8) for h, w in sizes]
    data[7] = data[7][:10]
    train = {
        "data": data,
        "fine_labels": [0, 1, 0, 2, 1, 2, 0, 1, 2],
        "coarse_labels": [0, 1, 0, 7, 1, 2, 0, 1, 2],
        "filenames": ["a.png", "b.png", "a.png", "c.png", "a.png", "d", "e.png", "f.png", "g.png"],
        "image_sizes": sizes,
    }
    (folder / "train").write_bytes(pickle.dumps(train, protocol=2))
    test = {"data": data[:3], "fine_labels": [2, 1, 0], "coarse_labels": [2, 1, 0], "image_sizes": sizes[:3]}
    (folder / "test").write_bytes(pickle.dumps(test, protocol=2))
    return folder


def _cifar10_bin(root: Path) -> Path:
    """Binary CIFAR-10 batches, one record with a label beyond the class names."""
    folder = root / "cifar-10-batches-bin"
    folder.mkdir(parents=True)
    (folder / "batches.meta.txt").write_text("airplane\nautomobile\nbird\n")
    rng = np.random.default_rng(3)
    for name, labels in (("data_batch_1.bin", [0, 2, 9, 1, 1]), ("test_batch.bin", [2, 0, 1])):
        records = b"".join(bytes([label]) + rng.integers(0, 256, 3072, dtype=np.uint8).tobytes() for label in labels)
        (folder / name).write_bytes(records)
    return folder


def _idx(folder: Path, prefix: str, labels: list[int], gz: bool) -> None:
    images = np.random.default_rng(len(labels)).integers(0, 256, (len(labels), 6, 7), dtype=np.uint8)
    pack = gzip.compress if gz else (lambda data: data)
    suffix = ".gz" if gz else ""
    head = b"".join(value.to_bytes(4, "big") for value in (0x803, len(labels), 6, 7))
    (folder / f"{prefix}-images-idx3-ubyte{suffix}").write_bytes(pack(head + images.tobytes()))
    labels_head = (0x801).to_bytes(4, "big") + len(labels).to_bytes(4, "big")
    (folder / f"{prefix}-labels-idx1-ubyte{suffix}").write_bytes(pack(labels_head + bytes(labels)))


def _mnist(root: Path) -> Path:
    """IDX pairs (train gzipped, test not), one label beyond the digits."""
    folder = root / "mnist"
    folder.mkdir(parents=True)
    _idx(folder, "train", [5, 0, 4, 12, 9, 2, 1], gz=True)
    _idx(folder, "t10k", [7, 2, 1], gz=False)
    return folder


def _lists(root: Path) -> Path:
    """imagenet_txt lists (CRLF lines, a comment, a blank line, a missing image, an index beyond the synsets) and a
    CSV beside them; the images in ``images/``."""
    folder = root / "lists"
    for n in range(6):
        make_image(folder / "images" / f"{n}.jpg", 10 + n, 8)
    (folder / "synsets.txt").write_text("cat\ndog\nfox\n")
    lines = ["0.jpg 0", "# a comment", "1.jpg 1 2", "", "2.jpg 7", "3.jpg 2", "gone.jpg 1", "4.jpg 0", "5.jpg 1"]
    (folder / "train.txt").write_bytes("".join(line + "\r\n" for line in lines).encode())
    (folder / "val.txt").write_text("5.jpg 2\n0.jpg 1\n3.jpg 0")
    return folder


def _kaggle(root: Path) -> Path:
    """Kaggle's ``labels.csv`` beside ``train/``: ids without a suffix, found by looking into the sub-folder."""
    folder = root / "kaggle"
    for n in range(5):
        make_image(folder / "train" / f"id{n}.jpg", 12, 9)
    (folder / "labels.csv").write_text("id,breed\n" + "".join(f"id{n},breed{n % 2}\n" for n in (0, 1, 9, 2, 3, 4)))
    return folder


INPUTS = {"cifar100": _cifar100, "cifar10_bin": _cifar10_bin, "mnist": _mnist, "lists": _lists, "kaggle": _kaggle}
FORMATS = {"cifar100": "cifar", "cifar10_bin": "cifar", "mnist": "mnist", "lists": "labels", "kaggle": "labels"}


def _files(root: Path) -> dict[str, bytes]:
    here = str(root).encode()
    return {
        p.relative_to(root).as_posix(): p.read_bytes().replace(here, b"<out>")
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _convert(name: str, src: Path, out: Path, kind: str, skip_invalid: bool = True) -> tuple[dict, dict]:
    options = {"from_format": FORMATS[name], "skip_invalid": skip_invalid, "allow_outside_root": True}
    out.mkdir(parents=True)
    if kind == "serial":
        report = cvkit.convert(src, out / "m.jsonl", "manifest", transform=Dataset.materialize, **options)
    else:
        if kind == "fork" and not can_fork():
            pytest.skip("no fork on this system")
        executor = InProcess() if kind == "in-process" else LocalProcesses(2, start_method=kind)
        with using(executor):
            report = cvkit.convert(src, out / "m.jsonl", "manifest", **options)
    return _files(out), report.to_dict()


@pytest.mark.parametrize("name", sorted(INPUTS))
def test_every_executor_writes_what_one_process_writes(name, tmp_path):
    src = INPUTS[name](tmp_path / "in")
    results = {kind: _convert(name, src, tmp_path / kind, kind) for kind in KINDS}
    files, report = results["serial"]
    assert any(path.endswith(".png") for path in files) or FORMATS[name] == "labels"
    assert report["skipped"] or name == "kaggle"
    for kind in KINDS[1:]:
        assert results[kind] == results["serial"], f"{name}: {kind} differs from one process"


@pytest.mark.parametrize("name", sorted(INPUTS))
def test_the_shards_hold_the_samples_in_order(name, tmp_path):
    src = INPUTS[name](tmp_path / "in")
    options = {"images_dir": tmp_path / "png"} if FORMATS[name] != "labels" else {}
    dataset = cvkit.read(src, format=FORMATS[name], skip_invalid=True, **options)
    found = dataset.take_shards(100)
    assert found is not None
    report = Report(skip_invalid=True)
    samples = [s for shard in found for s in shard.samples(dataset.categories, report)]
    serial = cvkit.read(src, format=FORMATS[name], skip_invalid=True, **options)
    assert samples == serial.samples
    if name == "kaggle":  # where the images are is learnt line by line: one run
        assert len(found) == 1
    else:
        assert len(found) > 2


def test_a_pickle_batch_is_cut_into_runs_of_rows(tmp_path):
    """Each run loads the whole pickle: about one run a worker, two rows at least here."""
    src = _cifar100(tmp_path / "in")
    tasks = [shard.task for shard in cvkit.read(src, format="cifar", images_dir=tmp_path / "png").take_shards(3)]
    assert tasks == [(0, 0, 3), (1, 0, 4), (1, 4, 8), (1, 8, 9)]  # test, then train: 12 rows, runs of 12 / 3
    whole = cvkit.read(src, format="cifar", images_dir=tmp_path / "p").take_shards(1)
    assert [shard.task for shard in whole] == [(0, 0, None), (1, 0, None)]  # one process: each batch loaded once


@pytest.mark.parametrize("name", ["cifar100", "mnist", "lists"])
def test_without_skip_invalid_the_first_bad_item_stops_every_executor_alike(name, tmp_path):
    src = INPUTS[name](tmp_path / "in")
    errors = set()
    for kind in ("serial", "in-process", "spawn"):
        with pytest.raises(CvkitError) as caught:
            _convert(name, src, tmp_path / kind, kind, skip_invalid=False)
        errors.add(str(caught.value).replace(str(tmp_path), "<tmp>"))
    assert len(errors) == 1
    assert "\n" not in errors.pop()
