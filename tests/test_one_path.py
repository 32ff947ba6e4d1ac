"""One conversion path over the whole format registry: every readable format into every writable one gives the same
bytes whoever runs the shards (this process, forked workers, spawned workers) and when the dataset is iterated here
(read, materialized, written: no shards at all), which is the oracle. Readers really cut a multi-file input into
several shards, and a shard is read by a module-level function from picklable data (spawned workers inherit
nothing)."""

from __future__ import annotations

import copy
import importlib
import io
import tarfile
from pathlib import Path

import pytest

import cvkit
import cvkit.formats.labelme as labelme
from conftest import corpus_path, make_image
from cvkit import manifest, manifest_parquet
from cvkit.core import shards
from cvkit.core.categories import Category, CategorySet
from cvkit.core.executor import InProcess, LocalProcesses, can_fork, using
from cvkit.core.model import Annotation, Dataset, Sample
from cvkit.core.report import Report
from cvkit.errors import CvkitError
from cvkit.formats import all_formats
from cvkit.formats.coco import _format as coco
from cvkit.formats.labelme_mit import _format as labelme_mit_format
from cvkit.formats.voc import _format as voc

SPECS = {spec.name: spec for spec in all_formats()}
READABLE = [name for name, spec in SPECS.items() if spec.can_read]
WRITABLE = [name for name, spec in SPECS.items() if spec.can_write]
#: readable formats no writer makes: their inputs come from the corpus or are made here
CORPUS = {
    "imagenet": ("imagenet", "imagenet_subsets_dataset"),
    "cifar": ("cifar", "cifar10_dataset"),
    "mnist": ("mnist", "mnist_dataset"),
    "open_images": ("open_images", "datumaro_v6"),
}
#: formats read from a folder of files of one image each (LabelImg's CreateML mode), so that they can be cut
ONE_FILE_AN_IMAGE = ("createml",)
#: a few conversions run on spawned workers (each starts a fresh interpreter): every reader into these writers,
#: every writer from this reader
SPAWN_TARGETS = ("coco",)
SPAWN_SOURCE = "manifest"


@pytest.fixture
def small_shards(monkeypatch):
    """Shards of two items, so that the small inputs below are cut into several."""
    monkeypatch.setattr(shards, "SHARD_ITEMS", 2)
    monkeypatch.setattr(shards, "SHARD_FOLDERS", 2)
    monkeypatch.setattr(coco, "SHARD_IMAGES", 2)
    monkeypatch.setattr(voc, "SHARD_FILES", 2)
    monkeypatch.setattr(labelme, "SHARD_FILES", 2)
    monkeypatch.setattr(labelme_mit_format, "SHARD_FILES", 2)
    monkeypatch.setattr(manifest, "SHARD_BYTES", 300)
    monkeypatch.setattr(manifest_parquet, "ROW_GROUP_ROWS", 2)


def _case(name: str):
    return importlib.import_module(f"format_cases.case_{name}")


def _destination(name: str) -> str:
    return getattr(_case(name), "DESTINATION", "out")


def _dataset(root: Path) -> Dataset:
    """Seven images in two splits, labels met in a changing order (a new one in a late image), boxes, a polygon,
    an empty image; one image-level label each (what class-per-folder formats hold)."""
    labels = ["cat", "dog", "cat", "bird", "dog", "cat", "fox"]
    samples = []
    for n, label in enumerate(labels):
        path = f"images/img_{n}.jpg" if n % 3 else f"images/img_{n}.png"
        make_image(root / path, 40 + n, 30 + n)
        objects = [Annotation(label, (1.0 + n, 2.0, 10.0, 12.0))]
        if n % 2:
            objects.append(Annotation(labels[n - 1], (5.0, 5.0, 20.0, 15.0)))
        if n == 4:
            polygon = [2.0, 2.0, 20.0, 2.0, 20.0, 20.0]
            objects.append(Annotation("dog", (2.0, 2.0, 18.0, 18.0), shape="polygon", polygon=[polygon]))
        if n == 5:
            objects = []
        split = "train" if n < 5 else "val"
        samples.append(Sample(path, 40 + n, 30 + n, split, labels=[label], objects=objects))
    return Dataset(samples, CategorySet([Category(1, "cat"), Category(2, "dog")]), root=root, source_format="test")


def _touch(path: Path) -> None:
    make_image(path, 12, 10)


def _kaggle(root: Path) -> Path:
    data = root / "ILSVRC" / "Data" / "CLS-LOC"
    for n in range(3):
        _touch(data / "train" / "n01440764" / f"n01440764_{n}.JPEG")
        _touch(data / "train" / "n01443537" / f"n01443537_{n}.JPEG")
        _touch(data / "val" / f"ILSVRC2012_val_0000000{n}.JPEG")
    (root / "LOC_synset_mapping.txt").write_text("n01440764 tench, Tinca tinca\nn01443537 goldfish\n")
    (root / "LOC_train_solution.csv").write_text("ImageId,PredictionString\nn01440764_1,n01440764 1 2 10 9 \n")
    (root / "LOC_val_solution.csv").write_text(
        "ImageId,PredictionString\nILSVRC2012_val_00000001,n01443537 1 1 11 9\nILSVRC2012_val_00000002,n01440764 "
        "1 1 5 5\n"
    )
    return root


def _in21k(root: Path) -> Path:
    root.mkdir(parents=True)
    for wnid in ("n01440764", "n01443537"):
        with tarfile.open(root / f"{wnid}.tar", "w") as tar:
            for n in range(3):
                data = io.BytesIO()
                from PIL import Image

                Image.new("RGB", (12, 10)).save(data, "JPEG")
                info = tarfile.TarInfo(f"{wnid}_{n}.JPEG")
                info.size = len(data.getvalue())
                tar.addfile(info, io.BytesIO(data.getvalue()))
    for n in range(3):
        _touch(root / "n02000000" / f"n02000000_{n}.JPEG")
    return root


def _source(name: str, tmp_path: Path) -> Path:
    """An input of format ``name`` with several files (made once per test folder)."""
    made = tmp_path / "sources" / name
    if name in CORPUS:
        return corpus_path(*CORPUS[name])
    if name == "imagenet_kaggle":
        return made if made.exists() else _kaggle(made)
    if name == "imagenet21k":
        return made if made.exists() else _in21k(made)
    target = made / _destination(name)
    if name in ONE_FILE_AN_IMAGE:
        if not made.exists():
            dataset = _dataset(tmp_path / "sources" / f"{name}_images")
            for n, sample in enumerate(dataset):
                one = Dataset([sample], dataset.categories, root=dataset.root)
                cvkit.write(one, made / f"{n}{target.suffix}", format=name, images="reference")
        return made
    if not made.exists():
        made.mkdir(parents=True)
        options = {"images": "copy"} if name in ("voc", "labelme", "labelme_mit", "yolo", "kitti") else {}
        cvkit.write(_dataset(tmp_path / "sources" / f"{name}_images"), target, format=name, **options)
    return target


def _files(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (the destination and what lies beside it), ``root`` itself named ``<out>``."""
    here = str(root).encode()
    return {
        p.relative_to(root).as_posix(): p.read_bytes().replace(here, b"<out>")
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


#: the made inputs keep their images beside them (``<name>_images``), outside the folder a writer may copy from
OUTSIDE = {"allow_outside_root": True}


def _convert(source: str, target: str, src: Path, out: Path, kind: str) -> tuple[dict[str, bytes], dict]:
    dst = out / _destination(target)
    out.mkdir(parents=True)
    if kind == "serial":  # materialized: a list of samples, no shards, iterated here
        report = cvkit.convert(
            src, dst, target, from_format=source, skip_invalid=True, transform=Dataset.materialize, **OUTSIDE
        )
    else:
        executor = InProcess() if kind == "in-process" else LocalProcesses(2, start_method=kind)
        with using(executor):
            report = cvkit.convert(src, dst, target, from_format=source, skip_invalid=True, **OUTSIDE)
    return _files(out), report.to_dict()


def _same_everywhere(source: str, target: str, tmp_path: Path, kinds: tuple[str, ...]) -> None:
    src = _source(source, tmp_path)
    results = {}
    for kind in kinds:
        try:
            results[kind] = _convert(source, target, src, tmp_path / f"{source}2{target}" / kind, kind)
        except CvkitError as err:  # a pair the writer refuses refuses the same way on every executor
            results[kind] = ({}, {"error": str(err)})
    reference = kinds[1]  # the shards run in this process (or spawned)
    for kind in kinds[2:]:
        assert results[kind] == results[reference], f"{source} -> {target}: {kind} differs from {reference}"
    assert results[reference][0] == results["serial"][0], f"{source} -> {target}: {reference} differs from serial"
    assert results[reference][1].get("written") == results["serial"][1].get("written")


@pytest.mark.parametrize("target", WRITABLE)
@pytest.mark.parametrize("source", READABLE)
def test_every_conversion_writes_the_same_bytes_in_process_and_forked(source, target, tmp_path, small_shards):
    if not can_fork():
        pytest.skip("no fork on this system")
    _same_everywhere(source, target, tmp_path, ("serial", "in-process", "fork"))


SPAWNED = sorted({(s, t) for s in READABLE for t in SPAWN_TARGETS} | {(SPAWN_SOURCE, t) for t in WRITABLE})


@pytest.mark.parametrize(("source", "target"), SPAWNED)
def test_spawned_workers_write_the_same_bytes(source, target, tmp_path, small_shards):
    """Spawned workers inherit nothing: shards and encoders that travel as data give the serial path's bytes."""
    _same_everywhere(source, target, tmp_path, ("serial", "spawn"))


@pytest.mark.parametrize("source", READABLE)
def test_every_reader_cuts_a_multi_file_input_into_shards(source, tmp_path, small_shards):
    dataset = cvkit.read(_source(source, tmp_path), format=source, skip_invalid=True)
    found = dataset.take_shards(2)
    assert found is not None and len(found) > 1, f"{source} gives no shards"
    categories = copy.deepcopy(dataset.categories)  # as a pipeline hands them to its workers
    samples = [s for shard in found for s in shard.samples(categories, Report(skip_invalid=True))]
    assert samples == cvkit.read(_source(source, tmp_path), format=source, skip_invalid=True).samples


@pytest.mark.parametrize("kind", ["in-process", "fork"])
def test_counts_kept_across_shards_are_worded_once(tmp_path, monkeypatch, kind):
    """A reader's counts over every shard (ImageNet's box XMLs no image took) make one loss, as in one process."""
    from test_imagenet_formats import BOX_XML

    monkeypatch.setattr(shards, "SHARD_ITEMS", 1)
    monkeypatch.setattr(shards, "SHARD_FOLDERS", 1)
    root = tmp_path / "ILSVRC2012"
    for wnid in ("n01440764", "n01443537", "n02119789"):
        _touch(root / "train" / wnid / f"{wnid}_1.JPEG")
    (root / "bbox").mkdir()
    for stem, wnid in (("n01440764_1", "n01440764"), ("n02119789_1", "n02119789"), ("gone_1", "n02000000")):
        (root / "bbox" / f"{stem}.xml").write_text(BOX_XML.format(stem=stem, wnid=wnid))
    serial = cvkit.convert(root, tmp_path / "serial.json", "coco", transform=Dataset.materialize)
    executor = InProcess() if kind == "in-process" else LocalProcesses(2, start_method=kind)
    with using(executor):
        spread = cvkit.convert(root, tmp_path / "spread.json", "coco")
    assert cvkit.read(root, format="imagenet").take_shards(2) is not None
    losses = [loss for loss in spread.to_dict()["not_represented"] if loss["what"] == "box XML"]
    assert losses == [{"what": "box XML", "why": "no image with its file name in the dataset", "count": 1}]
    assert spread.to_dict()["not_represented"] == serial.to_dict()["not_represented"]
    assert (tmp_path / "spread.json").read_bytes() == (tmp_path / "serial.json").read_bytes()
    assert not spread.tallies
