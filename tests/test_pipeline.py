"""One conversion path, whatever runs it: the same files from this process, forked workers and spawned workers.

A write reads and encodes a dataset's shards on an executor (:mod:`cvkit.core.shards`) and places the results
here. Spawned workers inherit nothing from this process: a conversion they run byte for byte like this process
shows that the shards and the writers' encoders travel as data (what a cluster engine needs).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import cvkit
from conftest import make_image
from cvkit import manifest, manifest_parquet
from cvkit.core import shards
from cvkit.core.categories import Category, CategorySet
from cvkit.core.executor import Executor, InProcess, LocalProcesses, can_fork, using
from cvkit.core.model import Annotation, Dataset, Sample
from cvkit.errors import InvalidInputError
from cvkit.formats import labelme
from cvkit.formats.coco import _format as coco
from cvkit.formats.labelme_mit import _format as labelme_mit_format
from cvkit.formats.voc import _format as voc

EXECUTORS = ["in-process", "fork", "spawn"]


def _executor(kind: str) -> InProcess | LocalProcesses:
    if kind == "in-process":
        return InProcess()
    if kind == "fork" and not can_fork():
        pytest.skip("no fork on this system")
    return LocalProcesses(2, start_method=kind)


def _files(root: Path) -> dict[str, bytes]:
    if root.is_file():
        return {root.name: root.read_bytes()}
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def small_shards(monkeypatch):
    """Runs of two or three samples, so that every conversion below has several shards to spread."""
    monkeypatch.setattr(coco, "SHARD_IMAGES", 2)
    monkeypatch.setattr(voc, "SHARD_FILES", 2)
    monkeypatch.setattr(labelme, "SHARD_FILES", 2)
    monkeypatch.setattr(manifest, "SHARD_BYTES", 300)
    monkeypatch.setattr(manifest_parquet, "ROW_GROUP_ROWS", 2)
    monkeypatch.setattr(labelme_mit_format, "SHARD_FILES", 2)
    monkeypatch.setattr(shards, "SHARD_ITEMS", 2)


def _labelme_folder(root: Path) -> Path:
    for n in range(7):
        make_image(root / f"img{n}.jpg", 50, 40)
        label = ["cat", "dog", f"only{n % 3}"][n % 3]
        shapes = [
            {"label": label, "points": [[1, 1], [20, 1], [20, 15]], "shape_type": "polygon"},
            {"label": "__ignore__", "points": [[25, 20], [30, 30]], "shape_type": "rectangle"},
        ]
        document = {
            "version": "5.2.1",
            "flags": {f"scene{n // 3}": True},
            "shapes": shapes,
            "imagePath": f"img{n}.jpg",
            "imageData": None,
            "imageHeight": 40,
            "imageWidth": 50,
        }
        (root / f"img{n}.json").write_text(json.dumps(document))
    return root


#: representative conversions: every sharded reader, every writer that spreads its encode
CONVERSIONS = [
    "coco2yolo",
    "voc2coco",
    "labelme2coco",
    "manifest2coco",
    "parquet2coco",
    "coco2voc",
    "labelmemit2yolo",
    "cvat2coco",
    "cvatvideo2coco",
    "openimages2coco",
]


def _convert(name: str, tmp_path: Path, corpus, out: Path) -> cvkit.Report:
    referenced = {"images": "reference"}
    if name == "coco2yolo":
        return cvkit.convert(corpus("coco", "coco_instances"), out, "yolo", write_options=referenced)
    if name == "voc2coco":
        return cvkit.convert(corpus("voc", "voc_dataset1"), out / "all.json", "coco", skip_invalid=True)
    if name == "labelme2coco":
        src = tmp_path / "lm"
        if not src.exists():
            _labelme_folder(src)
        return cvkit.convert(src, out, "coco", from_format="labelme")
    if name == "parquet2coco":  # 7 images in row groups of 2: shards a spawned worker opens by path and group
        src = tmp_path / "m.parquet"
        if not src.exists():
            cvkit.convert(_labelme_folder(tmp_path / "lm_for_parquet"), src, "parquet", from_format="labelme")
        return cvkit.convert(src, out, "coco", from_format="manifest")
    if name == "manifest2coco":
        src = tmp_path / "m.jsonl"
        if not src.exists():
            cvkit.convert(corpus("coco", "coco_person_keypoints"), src, "manifest", from_format="coco")
        return cvkit.convert(src, out, "coco", from_format="manifest", write_options={"task": "person_keypoints"})
    if name == "cvat2coco":
        return cvkit.convert(corpus("cvat", "datumaro_export_project"), out, "coco", from_format="cvat")
    if name == "cvatvideo2coco":
        return cvkit.convert(corpus("cvat", "datumaro_for_video"), out, "coco", from_format="cvat")
    if name == "openimages2coco":
        return cvkit.convert(corpus("open_images", "datumaro_v6"), out, "coco", from_format="open_images")
    if name == "labelmemit2yolo":
        src = tmp_path / "mit"
        if not src.exists():
            cvkit.convert(
                _labelme_folder(tmp_path / "lm_for_mit"), src, "labelme_mit", write_options={"images": "copy"}
            )
        return cvkit.convert(src, out, "yolo", from_format="labelme_mit", write_options=referenced)
    return cvkit.convert(corpus("coco", "coco_instances"), out, "voc", from_format="coco", write_options=referenced)


@pytest.mark.parametrize("name", CONVERSIONS)
def test_every_executor_writes_the_same_bytes(tmp_path, corpus, small_shards, name):
    outputs = {}
    for kind in EXECUTORS:
        with using(_executor(kind)):
            report = _convert(name, tmp_path, corpus, tmp_path / kind)
        outputs[kind] = (_files(tmp_path / kind), report.to_dict())
    assert outputs["fork"] == outputs["in-process"]
    assert outputs["spawn"] == outputs["in-process"]
    assert outputs["spawn"][1]["written"]["images"] > 0


def test_one_worker_and_the_default_write_what_workers_write(tmp_path, corpus, small_shards, monkeypatch):
    """``workers=1`` runs the same pipeline in this process; above the size threshold, workers run it."""
    monkeypatch.setattr(shards, "PARALLEL_MIN_SAMPLES", 0)
    src = corpus("coco", "coco_instances")
    for workers in (1, 3):
        options = {"images": "reference", "workers": workers}
        cvkit.convert(src, tmp_path / f"w{workers}", "yolo", from_format="coco", write_options=options)
    assert _files(tmp_path / "w3") == _files(tmp_path / "w1")


def _meta_dataset(root: Path) -> Dataset:
    """Images and objects whose ``meta["coco"]`` names structural keys (ids, file name, geometry) besides its own."""
    samples = []
    for n in range(6):
        structural = {
            "image_id": 99,
            "id": 7,
            "category_id": 42,
            "bbox": [0, 0, 1, 1],
            "segmentation": [[0, 0, 1, 0, 1, 1]],
        }
        objects = [Annotation("cat", (1.0 + n, 2.0, 3.0, 4.0), meta={"coco": {**structural, "source": "kept"}})]
        samples.append(
            Sample(
                f"img{n}.jpg",
                50,
                40,
                "train",
                objects=objects,
                meta={"coco": {"id": 99, "file_name": "elsewhere.jpg", "width": 1, "license": 3}},
            )
        )
    return Dataset(samples, CategorySet([Category(5, "cat")]), root=root)


@pytest.mark.parametrize("workers", [1, 4])
def test_meta_never_overrides_the_ids_and_geometry_coco_writes(tmp_path, small_shards, monkeypatch, workers):
    """A manifest record's ``meta.coco`` keeps its own keys, but the ids, file name, size and geometry are the
    writer's: one worker and four give the same valid file (four used to give ``,,`` in place of an id)."""
    from pycocotools.coco import COCO

    monkeypatch.setattr(shards, "PARALLEL_MIN_SAMPLES", 0)
    cvkit.write(_meta_dataset(tmp_path), tmp_path / "m.jsonl", "manifest")
    out = tmp_path / f"out{workers}.json"
    cvkit.convert(tmp_path / "m.jsonl", out, "coco", write_options={"workers": workers})
    index = COCO(str(out))  # pycocotools indexes the annotations by their image ids
    images = index.dataset["images"]
    assert [image["file_name"] for image in images] == [f"img{n}.jpg" for n in range(6)]
    assert all(image["width"] == 50 and image["license"] == 3 for image in images)
    assert len({image["id"] for image in images}) == 6
    for n, image in enumerate(images):
        (ann,) = index.imgToAnns[image["id"]]
        assert (ann["category_id"], ann["bbox"], ann["segmentation"]) == (5, [1.0 + n, 2.0, 3.0, 4.0], [])
        assert ann["source"] == "kept"
    assert len({ann["id"] for ann in index.dataset["annotations"]}) == 6


def test_meta_gives_the_same_bytes_on_one_and_four_workers(tmp_path, small_shards, monkeypatch):
    monkeypatch.setattr(shards, "PARALLEL_MIN_SAMPLES", 0)
    cvkit.write(_meta_dataset(tmp_path), tmp_path / "m.jsonl", "manifest")
    for workers in (1, 4):
        cvkit.convert(tmp_path / "m.jsonl", tmp_path / f"out{workers}.json", "coco", write_options={"workers": workers})
    assert (tmp_path / "out4.json").read_bytes() == (tmp_path / "out1.json").read_bytes()


def _drop_some_and_tag(sample: Sample) -> Sample | None:
    """Drop every third image; give the others a label no category has yet."""
    if sample.path.endswith(("0.jpg", "3.jpg", "6.jpg")):
        return None
    sample.labels.append("seen")
    return sample


@pytest.mark.parametrize("kind", EXECUTORS)
def test_a_mapped_dataset_keeps_its_shards(tmp_path, small_shards, kind):
    """``Dataset.map`` runs where the shards are read; dropped samples and new labels come out as in one process."""
    src = _labelme_folder(tmp_path / "lm")
    unsharded = cvkit.read(src, format="labelme", workers=1).map(_drop_some_and_tag)
    expected = cvkit.write(unsharded, tmp_path / "one", "coco", workers=1)
    mapped = cvkit.read(src, format="labelme").map(_drop_some_and_tag)
    with using(_executor(kind)):
        report = cvkit.write(mapped, tmp_path / "many", "coco", workers=2)
    assert _files(tmp_path / "many") == _files(tmp_path / "one")
    assert report.written.images == expected.written.images == 4


def test_attaching_a_hierarchy_keeps_the_shards(tmp_path, small_shards, monkeypatch):
    """The hierarchy is attached once every run has been placed: the shards are read all the same."""
    from cvkit.core.categories import Hierarchy

    monkeypatch.setattr(shards, "PARALLEL_MIN_SAMPLES", 0)
    src = _labelme_folder(tmp_path / "lm")
    hierarchy = Hierarchy()
    # the COCO writer makes __ignore__ (LabelMe's crowd regions) a category too
    for name in ("cat", "dog", "only2", "scene0", "scene1", "scene2", "__ignore__"):
        hierarchy.add_edge(name, "thing")
    used: list[int] = []
    original = shards.make_executor

    def recording(engine: str | None = None, workers: int | None = None, address: str | None = None) -> Executor:
        used.append(workers)
        return original(engine, workers, address)

    monkeypatch.setattr(shards, "make_executor", recording)
    from cvkit.hierarchy import attach_hierarchy

    dataset = attach_hierarchy(cvkit.read(src, format="labelme"), hierarchy)
    cvkit.write(dataset, tmp_path / "out.json", "coco", workers=2)
    assert used == [2]
    categories = json.loads((tmp_path / "out.json").read_text())["categories"]
    assert {c["name"]: c["supercategory"] for c in categories}["cat"] == "thing"


def test_the_executor_map_keeps_order_and_runs_elsewhere():
    """Results in task order; spawned workers get the context by pickling."""
    import os

    results = list(shards.spread_map(_pid_and_scaled, 3, list(range(40)), workers=2, smallest_total=0, items=40))
    assert [value for _, value in results] == [3 * n for n in range(40)]
    assert {pid for pid, _ in results} != {os.getpid()}
    few = shards.spread_map(_pid_and_scaled, 2, [1, 2], workers=2, smallest_total=10, items=2)  # below the threshold
    assert list(few) == [(os.getpid(), 2), (os.getpid(), 4)]


def _pid_and_scaled(factor: int, n: int) -> tuple[int, int]:
    import os

    return os.getpid(), factor * n


def test_chunks_cover_every_item_once_in_order():
    items = list(range(1000))
    chunks = shards.chunked(items, workers=2, smallest=32, largest=50)
    assert [i for chunk in chunks for i in chunk] == items
    assert all(len(chunk) <= 50 for chunk in chunks) and len(chunks[0]) == 50
    assert len(shards.chunked(items, workers=2, smallest=200)[0]) == 200


def test_a_dataset_iterated_here_gives_the_writers_categories_their_place(tmp_path, small_shards):
    """Read in one process (``-r workers=1``: no shards), samples are encoded in runs; a label only the writer makes a
    category (LabelMe's ``__ignore__`` in COCO) still gets its id before the labels of later images, as with shards."""
    src = _labelme_folder(tmp_path / "lm")
    for read_workers in (1, 2):
        cvkit.convert(
            src,
            tmp_path / f"r{read_workers}.json",
            "coco",
            read_options={"workers": read_workers},
            write_options={"workers": read_workers},
        )
    written = (tmp_path / "r1.json").read_bytes()
    assert written == (tmp_path / "r2.json").read_bytes()
    names = [c["name"] for c in json.loads(written)["categories"]]
    assert names[:4] == ["scene0", "cat", "__ignore__", "dog"]  # in order of first appearance, img0 first


#: a CVAT document whose invalid items (one a tag over two lines) fall in different shards, with a cuboid (a warning
#: counted over the shards) and labels met late
CVAT_ITEMS = """<?xml version="1.0" encoding="utf-8"?>
<annotations>
  <version>1.1</version>
  <image id="0" name="a0.jpg" width="10" height="10">
    <box label="cat" occluded="0"
         xtl="1" ytl="oops" xbr="4" ybr="4"/>
  </image>
  <image id="1" name="a1.jpg" width="10" height="10">
    <box label="dog" occluded="0" xtl="1" ytl="1" xbr="4" ybr="4"/>
  </image>
  <image id="2" name="a2.jpg" width="10" height="10">
    <cuboid label="car" occluded="0"/>
    <box label="cat" occluded="0" xtl="2" ytl="2" xbr="5" ybr="5"/>
  </image>
  <image id="3" name="a3.jpg" width="10" height="10">

    <polygon label="bird" occluded="0" points="1,2;3"/>
  </image>
  <image id="4" name="a4.jpg" width="10" height="10"><tag label="scene"/>
    <polyline label="fox" occluded="0" points="1,1;2,2"/>
  </image>
</annotations>
"""


def test_cvat_items_skipped_on_workers_are_those_one_process_skips(tmp_path, small_shards):
    """The serial read streams the file itself (the oracle); workers parse each image's XML again: the skipped items,
    their lines, the warnings and the bytes are the same; without skipping, a worker's error is the serial one."""
    src = tmp_path / "annotations.xml"
    src.write_text(CVAT_ITEMS)
    serial = cvkit.convert(src, tmp_path / "serial.json", "coco", skip_invalid=True, transform=Dataset.materialize)
    assert [item.location for item in serial.skipped] == ["line 6: <box>", "line 17: <polygon>"]
    two = {"workers": 2}
    for kind in EXECUTORS:
        with using(_executor(kind)):
            report = cvkit.convert(src, tmp_path / f"{kind}.json", "coco", skip_invalid=True, write_options=two)
        assert report.to_dict() == serial.to_dict(), kind
        assert (tmp_path / f"{kind}.json").read_bytes() == (tmp_path / "serial.json").read_bytes(), kind
    with pytest.raises(InvalidInputError) as one:
        cvkit.convert(src, tmp_path / "strict.json", "coco", transform=Dataset.materialize)
    with using(_executor("spawn")), pytest.raises(InvalidInputError) as spread:
        cvkit.convert(src, tmp_path / "strict_spawn.json", "coco", write_options=two)
    assert str(spread.value) == str(one.value) and "line 6" in str(one.value)
