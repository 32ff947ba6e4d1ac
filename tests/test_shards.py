"""Writing a sharded source (COCO) on worker processes gives exactly what one process writes.

COCO -> YOLO reads and encodes runs of images on forked workers (cvkit.core.shards) and places the label
files in the parent. A user must not be able to tell: same files, same bytes, same summary, same skipped
items, same first error.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

import cvkit
from conftest import make_image
from cvkit.core import shards as shards_module
from cvkit.core.categories import Category, CategorySet
from cvkit.core.model import Annotation, Dataset, Sample, Shard
from cvkit.core.report import Report, Skipped
from cvkit.errors import InvalidInputError
from cvkit.formats.coco import _bounded as coco_bounded
from cvkit.formats.coco import _format as coco


def _coco_folder(root: Path, bad: dict[str, int] | None = None, images: bool = False) -> Path:
    """``annotations/instances_{train,val}.json``: 14 and 9 images, images of the same name in two folders
    (the writers rename the second), crowd regions, image-level labels and, where ``bad`` says so,
    a negative box at that annotation of that split; ``images``: the image files too (``images/<split>/``)."""
    folder = root / "annotations"
    folder.mkdir(parents=True)
    for split, count in (("train", 14), ("val", 9)):
        images, annotations = [], []
        for n in range(count):
            images.append({"id": 100 + n, "file_name": f"{'ab'[n % 2]}/img{n // 2}.jpg", "width": 64 + n, "height": 48})
            for k in range(n % 4):
                annotations.append(
                    {
                        "id": len(annotations) + 1,
                        "image_id": 100 + n,
                        "category_id": (3, 7)[k % 2],
                        "bbox": [1.5 + k, 2.0, 10.0 + n, 8.0],
                        "area": 80.0,
                        "iscrowd": int(k == 2),
                        "segmentation": [],
                    }
                )
            if n % 5 == 0:  # no geometry: an image-level label, which YOLO cannot hold
                annotations.append({"id": len(annotations) + 1, "image_id": 100 + n, "category_id": 3})
        if bad and split in bad:
            annotations[bad[split]]["bbox"] = [1.0, 1.0, -4.0, 2.0]
        document = {
            "images": images,
            "annotations": annotations,
            "categories": [
                {"id": 3, "name": "cat", "supercategory": "animal"},
                {"id": 7, "name": "dog", "supercategory": "animal"},
            ],
        }
        (folder / f"instances_{split}.json").write_text(json.dumps(document))
        for n in range(count if images else 0):
            make_image(root / "images" / split / "ab"[n % 2] / f"img{n // 2}.jpg", 64 + n, 48)
    return root


def _one_and_two_workers(
    src: Path, tmp_path: Path, target: str, options: dict, skip_invalid: bool = False
) -> dict[int, tuple[dict[str, bytes], dict]]:
    """{workers: (every output file's bytes, the report)} of converting ``src`` with 1 and 2 workers."""
    outputs = {}
    for workers in (1, 2):
        report = cvkit.convert(
            src,
            tmp_path / f"out{workers}",
            target,
            from_format="coco",
            skip_invalid=skip_invalid,
            write_options={**options, "workers": workers},
        )
        outputs[workers] = (_files(tmp_path / f"out{workers}"), report.to_dict())
    return outputs


def _listed(_source: None, samples: list[Sample], _categories: CategorySet, _report: Report) -> Iterator[Sample]:
    """A shard of samples held in a list (the shards of these tests' hand-made datasets)."""
    return iter(samples)


def _sharded(samples: list[Sample], runs: list[list[Sample]], categories: CategorySet, root: Path) -> Dataset:
    """A dataset of ``samples`` whose shards are ``runs`` of them."""
    return Dataset(
        iter(samples),
        categories,
        root=root,
        shards=lambda _workers: [Shard(len(run), _listed, None, run) for run in runs],
    )


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def on_workers(monkeypatch):
    """Shards of 3 images, and worker processes even for this small dataset; records the worker counts used."""
    monkeypatch.setattr(coco, "SHARD_IMAGES", 3)
    monkeypatch.setattr(shards_module, "PARALLEL_MIN_SAMPLES", 0)
    used: list[int] = []
    original = shards_module.make_executor

    def recording(engine=None, workers=None, address=None):  # type: ignore[no-untyped-def]
        if workers is not None and workers > 1:
            used.append(workers)
        return original(engine, workers, address)

    monkeypatch.setattr(shards_module, "make_executor", recording)
    return used


def _convert(src: Path, dst: Path, workers: int, skip_invalid: bool = False) -> Report:
    return cvkit.convert(
        src,
        dst,
        "yolo",
        from_format="coco",
        skip_invalid=skip_invalid,
        write_options={"images": "reference", "workers": workers},
    )


def test_worker_processes_write_the_same_files_and_summary_as_one_process(tmp_path, on_workers):
    src = _coco_folder(tmp_path / "coco")
    one = _convert(src, tmp_path / "one", workers=1)
    assert on_workers == []  # one worker: the runs are read and encoded in this process
    two = _convert(src, tmp_path / "two", workers=2)
    assert on_workers == [2]
    assert _files(tmp_path / "two") == _files(tmp_path / "one")
    assert two.to_dict() == one.to_dict()
    assert two.written.images == 23 and two.read.splits == {"train": 14, "val": 9}
    labels = sorted(p.name for p in (tmp_path / "two" / "labels" / "train").iterdir())
    assert (
        "img0.txt" in labels and "img0_2.txt" in labels
    )  # a/img0.jpg and b/img0.jpg: the second renamed, as one process does
    losses = {entry["what"] for entry in two.to_dict()["not_represented"]}
    assert {"crowd region", "image-level label"} <= losses


@pytest.mark.parametrize(
    "options",
    [
        {"layout": "darknet", "images": "copy"},
        {"layout": "labelimg", "images": "hardlink"},
        {"task": "segment", "images": "symlink", "crowd": "keep"},
        {"task": "pose", "keypoints": 2, "images": "reference", "paths": "relative"},
    ],
    ids=["darknet-copy", "labelimg-hardlink", "segment-symlink", "pose-reference"],
)
def test_every_layout_and_task_writes_the_same_on_workers(tmp_path, on_workers, options):
    src = _coco_folder(tmp_path / "coco", images=True)
    document = json.loads((src / "annotations" / "instances_train.json").read_text())
    document["annotations"][3]["segmentation"] = [[2.0, 2.0, 12.0, 2.0, 12.0, 9.0]]  # a polygon among the boxes
    (src / "annotations" / "instances_train.json").write_text(json.dumps(document))
    outputs = _one_and_two_workers(src, tmp_path, "yolo", options)
    assert on_workers == [2]
    assert outputs[2] == outputs[1]
    assert outputs[2][1]["written"]["images"] == 23


@pytest.mark.parametrize(
    "options", [{"images": "reference"}, {"images": "copy", "layout": "flat"}, {"one_based": False}]
)
def test_coco_to_voc_on_workers_writes_the_same_files(tmp_path, on_workers, options):
    """Workers write each XML naming the image by its own name; the parent renames a repeated one, in the XML too."""
    outputs = _one_and_two_workers(_coco_folder(tmp_path / "coco", images=True), tmp_path, "voc", options)
    assert on_workers == [2]
    assert outputs[2] == outputs[1]
    files = outputs[2][0]
    renamed = next(name for name in files if name.endswith("__b__img0.xml"))
    stem = renamed.rpartition("/")[2].removesuffix(".xml")
    assert f"<filename>{stem}.jpg</filename>".encode() in files[renamed]  # the name it was written under
    assert outputs[2][1]["written"]["images"] == 23


def test_without_memory_for_workers_one_process_writes_and_says_so(tmp_path, on_workers, monkeypatch):
    """Workers copy the parsed JSON page by page as they read it: a file too big for that is written in one process.
    (A file the bounded reader takes is held in columns, which workers do not copy: here it is read whole.)"""
    monkeypatch.setattr(coco_bounded, "ENABLED", False)
    src = _coco_folder(tmp_path / "coco")
    one = _convert(src, tmp_path / "one", workers=1)
    monkeypatch.setattr(coco, "memory_available", lambda: 1000)  # bytes free: far less than 8x the JSON files
    two = _convert(src, tmp_path / "two", workers=2)
    assert on_workers == []
    assert _files(tmp_path / "two") == _files(tmp_path / "one")
    assert "written in one process: worker processes would need about 0.0 GiB more memory than is free" in two.warnings
    assert two.written.images == one.written.images == 23


def test_skipped_annotations_from_workers_are_reported_in_input_order(tmp_path, on_workers):
    src = _coco_folder(tmp_path / "coco", bad={"train": 12, "val": 2})
    one = _convert(src, tmp_path / "one", workers=1, skip_invalid=True)
    two = _convert(src, tmp_path / "two", workers=2, skip_invalid=True)
    assert on_workers == [2]
    assert [s.location for s in two.skipped] == ["annotations[12].bbox", "annotations[2].bbox"]
    assert two.skipped == one.skipped
    assert _files(tmp_path / "two") == _files(tmp_path / "one")


def test_an_error_on_a_worker_stops_the_conversion_naming_file_and_field(tmp_path, on_workers):
    src = _coco_folder(tmp_path / "coco", bad={"val": 4})
    with pytest.raises(InvalidInputError) as caught:
        _convert(src, tmp_path / "out", workers=2)
    assert caught.value.file == str(src / "annotations" / "instances_val.json")
    assert caught.value.location == "annotations[4].bbox"
    assert "negative width or height" in caught.value.message
    assert not (tmp_path / "out").exists()  # nothing half-written


@pytest.mark.parametrize("task", ["detect", "segment"])
def test_a_label_the_categories_lack_is_indexed_by_the_parent_in_sample_order(tmp_path, on_workers, task):
    """Workers must not number classes on their own copy of the categories: they write placeholders the parent
    numbers, in the order one process numbers them (box and polygon lines alike)."""

    def dataset() -> Dataset:
        categories = CategorySet([Category(1, "cat")])
        samples = [
            Sample(
                f"img{n}.jpg",
                100,
                100,
                "train",
                objects=[
                    Annotation(label, (10.0, 10.0, 20.0, 20.0)),
                    Annotation("cat", polygon=[[1.0, 1.0, 9.0, 1.0, 9.0, 9.0]], shape="polygon"),
                    Annotation(label, (30.0, 30.0, 5.0, 5.0)),
                ],
            )
            for n, label in enumerate(["cat", "zebra", "cat", "ant", "zebra", "cat"])
        ]
        runs = [samples[:2], samples[2:4], samples[4:]]
        return _sharded(samples, runs, categories, tmp_path)

    cvkit.write(dataset(), tmp_path / "one", "yolo", images="reference", workers=1, task=task)
    cvkit.write(dataset(), tmp_path / "two", "yolo", images="reference", workers=2, task=task)
    assert on_workers == [2]
    assert _files(tmp_path / "two") == _files(tmp_path / "one")
    assert yaml.safe_load((tmp_path / "two" / "data.yaml").read_text())["names"] == {0: "cat", 1: "zebra", 2: "ant"}
    lines = (tmp_path / "two" / "labels" / "train" / "img3.txt").read_text().splitlines()
    assert [line.split()[0] for line in lines] == ["2", "0", "2"]


def test_labelme_documents_written_by_workers_are_named_by_the_parent(tmp_path, on_workers):
    """Two images mapping to one JSON name: the later one gets ``_2`` as in one process; an image that came embedded
    in its JSON is named after the JSON's final name, so the parent encodes it."""
    make_image(tmp_path / "a" / "x.jpg", 30, 20)
    make_image(tmp_path / "a" / "x.png", 30, 20)
    make_image(tmp_path / "b" / "y.jpg", 30, 20)

    def dataset() -> Dataset:
        box = Annotation("cat", (1.0, 1.0, 5.0, 5.0))
        samples = [
            Sample("a/x.jpg", 30, 20, objects=[box]),
            Sample("b/y.jpg", 30, 20, objects=[box], meta={"labelme": {"embedded": True}}),
            Sample("a/x.png", 30, 20, labels=["sunny"], objects=[box]),
            Sample("b/y.jpg", 30, 20, objects=[box], meta={"labelme": {"embedded": True}}),
        ]
        runs = [samples[:2], samples[2:]]
        return _sharded(samples, runs, CategorySet([Category(1, "cat")]), tmp_path)

    reports = [cvkit.write(dataset(), tmp_path / f"out{workers}", "labelme", workers=workers) for workers in (1, 2)]
    assert on_workers == [2]
    assert _files(tmp_path / "out2") == _files(tmp_path / "out1")
    assert (reports[1].written, reports[1].losses, reports[1].warnings) == (
        reports[0].written,
        reports[0].losses,
        reports[0].warnings,
    )
    assert sorted(_files(tmp_path / "out2")) == ["a/x.json", "a/x_2.json", "b/y.json", "b/y_2.json"]
    assert json.loads((tmp_path / "out2" / "b" / "y_2.json").read_text())["imagePath"] == "y_2.jpg"
    assert json.loads((tmp_path / "out2" / "a" / "x_2.json").read_text())["flags"] == {"sunny": True}


@pytest.mark.parametrize("images", ["reference", "copy"])
def test_mit_labelme_xml_written_by_workers_is_named_by_the_parent(tmp_path, on_workers, images):
    """Two images of one split with one file name: the later one is renamed in its XML's <filename>, as one process
    does; a sample with a mask is encoded by the parent, which names the mask's PNG after the final name."""
    for folder in ("a", "b"):
        make_image(tmp_path / folder / "x.jpg", 30, 20)
    mask = {"size": [20, 30], "counts": [0, 40, 560]}

    def dataset() -> Dataset:
        box = Annotation("cat", (1.0, 1.0, 5.0, 5.0))
        samples = [
            Sample("a/x.jpg", 30, 20, "train", objects=[box]),
            Sample("b/x.jpg", 30, 20, "train", objects=[box]),
            Sample(
                "a/x.jpg", 30, 20, "val", objects=[Annotation("blob", (0.0, 0.0, 30.0, 2.0), shape="mask", rle=mask)]
            ),
            Sample(
                "b/x.jpg", 30, 20, "val", objects=[Annotation("blob", (0.0, 0.0, 30.0, 2.0), shape="mask", rle=mask)]
            ),
        ]
        runs = [samples[:1], samples[1:3], samples[3:]]
        return _sharded(samples, runs, CategorySet([Category(1, "cat")]), tmp_path)

    reports = [
        cvkit.write(dataset(), tmp_path / f"out{workers}", "labelme_mit", images=images, workers=workers)
        for workers in (1, 2)
    ]
    assert on_workers == [2]
    assert _files(tmp_path / "out2") == _files(tmp_path / "out1")
    assert (reports[1].written, reports[1].losses, reports[1].warnings) == (
        reports[0].written,
        reports[0].losses,
        reports[0].warnings,
    )
    written = _files(tmp_path / "out2")
    assert {"Annotations/train/x.xml", "Annotations/train/b__x.xml", "Masks/val/b__x_mask_0.png"} <= set(written)
    assert b"<filename>b__x.jpg</filename>" in written["Annotations/train/b__x.xml"]


def test_taking_shards_uses_the_dataset_up_like_iterating():
    data = Dataset(iter([Sample("a.jpg")]), shards=lambda _workers: [Shard(1, _listed, None, [Sample("a.jpg")])])
    assert [s.size for s in data.take_shards() or []] == [1]
    with pytest.raises(RuntimeError, match="already iterated"):
        list(data)
    assert Dataset([Sample("a.jpg")], shards=lambda _workers: []).take_shards() is None  # a list is iterated instead


def test_a_workers_report_adds_to_the_parents():
    parent, part = Report(), Report()
    parent.count_read("train", 2)
    parent.lose("crowd region", "why", 1)
    parent.warn("once")
    part.count_read("train", 3)
    part.count_read(None, 1)
    part.lose("crowd region", "why", 2)
    part.skipped.append(Skipped("f.json", "annotations[1].bbox", "bad"))
    part.warn("once")
    parent.merge(part)
    assert (parent.read.images, parent.read.objects, dict(parent.read.splits)) == (3, 6, {"train": 2, "-": 1})
    assert parent.losses[("crowd region", "why")] == 3
    assert [s.location for s in parent.skipped] == ["annotations[1].bbox"] and parent.warnings == ["once"]
    part.clear()
    assert part.to_dict() == Report().to_dict()


@pytest.mark.parametrize("destination", ["all.json", "folder"])
def test_coco_records_written_by_workers_are_numbered_in_order_by_the_parent(tmp_path, on_workers, destination):
    """Workers write each record's JSON without ids; the parent numbers images, categories and objects as one
    process does, a dropped shape (a point) taking its annotation id all the same."""

    def dataset() -> Dataset:
        samples = []
        for n in range(9):
            objects = [
                Annotation(label, (1.0 + k, 2.0, 3.0, 4.0), id=(100 + n if k == 0 else None))
                for k, label in enumerate(["cat", f"new{n % 3}"])
            ]
            objects.insert(1, Annotation("cat", None, shape="point", points=[1.0, 1.0]))
            samples.append(
                Sample(f"img{n}.jpg", 50, 40, ("train", "val")[n % 2], objects=objects, id=n * 7 if n != 4 else "x")
            )
        runs = [samples[:4], samples[4:7], samples[7:]]
        return _sharded(samples, runs, CategorySet([Category(5, "cat")]), tmp_path)

    reports = [
        cvkit.write(dataset(), tmp_path / f"out{workers}" / destination, "coco", workers=workers) for workers in (1, 2)
    ]
    assert on_workers == [2]
    assert _files(tmp_path / "out2") == _files(tmp_path / "out1")
    assert reports[1].written == reports[0].written and reports[1].losses == reports[0].losses
    assert (
        reports[1].written.objects == 18
        and ("point shape", "COCO has no shapes without area (points, lines); dropped") in reports[1].losses
    )


@pytest.mark.parametrize("target", ["yolo", "voc", "coco", "labelme", "labelme_mit"])
@pytest.mark.parametrize(
    "name", ["coco", "coco_instances", "coco_person_keypoints", "coco_panoptic", "coco_labels", "coco_image_info"]
)
def test_real_coco_datasets_convert_the_same_on_workers(tmp_path, corpus, on_workers, monkeypatch, name, target):
    """The corpus's COCO datasets (datumaro's exports of every task), runs of one image each, one vs two workers."""
    monkeypatch.setattr(coco, "SHARD_IMAGES", 1)
    outputs = _one_and_two_workers(corpus("coco", name), tmp_path, target, {"images": "reference"}, skip_invalid=True)
    assert on_workers == [2]
    assert outputs[2] == outputs[1]


def test_real_results_list_converts_the_same_on_workers(tmp_path, corpus, on_workers, monkeypatch):
    """cocoapi's detection results (100 images, no image list): image ids stand in for images."""
    monkeypatch.setattr(coco, "SHARD_IMAGES", 7)
    outputs = _one_and_two_workers(
        corpus("coco", "cocoapi_results", "instances_val2014_fakebbox100_results.json"), tmp_path, "voc", {}
    )
    assert on_workers == [2]
    assert outputs[2] == outputs[1]
    assert outputs[2][1]["written"]["objects"] > 0


def test_coco_and_manifest_sources_write_the_same_coco_on_workers(tmp_path, on_workers):
    src = _coco_folder(tmp_path / "coco")
    (tmp_path / "a").mkdir()
    coco_out = _one_and_two_workers(src, tmp_path / "a", "coco", {})
    assert coco_out[2] == coco_out[1]
    cvkit.convert(src, tmp_path / "m.jsonl", "manifest", from_format="coco", write_options={"workers": 1})
    outputs = {}
    for workers in (1, 2):
        report = cvkit.convert(
            tmp_path / "m.jsonl", tmp_path / f"m{workers}.json", "coco", write_options={"workers": workers}
        )
        outputs[workers] = ((tmp_path / f"m{workers}.json").read_bytes(), report.to_dict())
    assert on_workers == [2, 2]
    assert outputs[2] == outputs[1]


def test_a_manifest_is_read_by_workers_in_runs_of_whole_lines(tmp_path, on_workers, monkeypatch):
    """Manifest runs are byte ranges the workers read themselves; line numbers in errors stay the file's own."""
    from cvkit import manifest

    monkeypatch.setattr(manifest, "SHARD_BYTES", 700)  # a few records a run, cut at line ends
    src = _coco_folder(tmp_path / "coco")
    cvkit.convert(src, tmp_path / "m.jsonl", "manifest", from_format="coco", write_options={"workers": 1})
    lines = (tmp_path / "m.jsonl").read_bytes().split(b"\n")
    lines[5] = b'{"image": broken'  # line 6
    lines[17] = lines[17].replace(b'"label":"cat"', b'"label":"zebra"', 1)  # line 18: a label the header lacks
    (tmp_path / "bad.jsonl").write_bytes(b"\n".join(lines))
    shards = manifest.manifest_shards(tmp_path / "bad.jsonl")
    assert len(shards) > 3 and sum(shard.size for shard in shards) == 23
    outputs = {}
    for workers in (1, 2):
        report = cvkit.convert(
            tmp_path / "bad.jsonl",
            tmp_path / f"out{workers}",
            "yolo",
            skip_invalid=True,
            write_options={"images": "reference", "workers": workers},
        )
        outputs[workers] = (_files(tmp_path / f"out{workers}"), report.to_dict())
    assert on_workers == [2]
    assert outputs[2] == outputs[1]
    assert [s["location"] for s in outputs[2][1]["skipped"]] == ["line 6", "line 18"]
    with pytest.raises(InvalidInputError) as caught:
        cvkit.convert(tmp_path / "bad.jsonl", tmp_path / "strict", "voc", write_options={"workers": 2})
    assert caught.value.location == "line 6" and caught.value.file == str(tmp_path / "bad.jsonl")


@pytest.mark.parametrize("target", ["coco", "yolo", "voc"])
def test_voc_trees_are_read_by_workers_as_one_process_reads_them(tmp_path, on_workers, monkeypatch, target):
    """VOC2007 + VOC2012 side by side, an image listed without XML, a malformed XML skipped, labels first seen
    on a worker: numbered by the parent in order."""
    from cvkit.formats.voc import _format as voc

    monkeypatch.setattr(voc, "SHARD_FILES", 3)
    xml = (
        "<annotation><filename>{id}.jpg</filename><size><width>60</width><height>40</height><depth>3</depth></size>"
        "<object><name>{label}</name><difficult>0</difficult><bndbox><xmin>2</xmin><ymin>3</ymin><xmax>{x}</xmax>"
        "<ymax>30</ymax></bndbox></object></annotation>"
    )
    for year, count in (("VOC2007", 8), ("VOC2012", 5)):
        root = tmp_path / "VOCdevkit" / year
        (root / "Annotations").mkdir(parents=True)
        (root / "ImageSets" / "Main").mkdir(parents=True)
        ids = [f"{year[-2:]}_{n:03d}" for n in range(count)]
        for n, image_id in enumerate(ids):
            make_image(root / "JPEGImages" / f"{image_id}.jpg", 60, 40)
            text = xml.format(id=image_id, label=["dog", "cat", f"{year}-only", "bird"][n % 4], x=10 + n)
            (root / "Annotations" / f"{image_id}.xml").write_text(text if n != 4 else text[:50])  # one malformed file
        (root / "ImageSets" / "Main" / "train.txt").write_text("\n".join([*ids, f"{year[-2:]}_extra"]) + "\n")
        make_image(root / "JPEGImages" / f"{year[-2:]}_extra.jpg", 60, 40)  # listed, no XML: an image without objects
    monkeypatch.setattr(shards_module, "PARALLEL_MIN_SAMPLES", 0)
    outputs = {}
    for workers in (1, 2):
        report = cvkit.convert(
            tmp_path / "VOCdevkit",
            tmp_path / f"out{workers}",
            target,
            from_format="voc",
            skip_invalid=True,
            write_options={"images": "reference", "workers": workers},
        )
        outputs[workers] = (_files(tmp_path / f"out{workers}"), report.to_dict())
    assert on_workers == [2]
    assert outputs[2] == outputs[1]
    summary = outputs[2][1]
    assert summary["written"]["images"] == 13 and [s["file"].rpartition("/")[2] for s in summary["skipped"]] == [
        "07_004.xml",
        "12_004.xml",
    ]


@pytest.mark.parametrize("target", ["coco", "voc", "labelme"])
def test_labelme_folders_are_read_by_workers_as_one_process_reads_them(tmp_path, on_workers, monkeypatch, target):
    """Runs of LabelMe files on workers: a bad shape skipped, groups merged, labels numbered by the parent in order."""
    from cvkit.formats import labelme

    monkeypatch.setattr(labelme, "SHARD_FILES", 2)
    for n in range(7):
        make_image(tmp_path / "lm" / f"sub{n % 2}" / f"img{n}.jpg", 50, 40)
        shapes = [
            {
                "label": ["cat", "dog", f"only{n}"][n % 3],
                "points": [[1, 1], [20, 1], [20, 15]],
                "shape_type": "polygon",
                "group_id": 1,
            },
            {
                "label": ["cat", "dog", f"only{n}"][n % 3],
                "points": [[25, 20], [30, 30]],
                "shape_type": "rectangle",
                "group_id": 1,
            },
            {"label": "bird", "points": [[1, 1]], "shape_type": "polygon" if n == 3 else "point"},
        ]
        document = {
            "version": "5.2.1",
            "flags": {},
            "shapes": shapes,
            "imagePath": f"img{n}.jpg",
            "imageData": None,
            "imageHeight": 40,
            "imageWidth": 50,
        }
        (tmp_path / "lm" / f"sub{n % 2}" / f"img{n}.json").write_text(json.dumps(document))
    outputs = {}
    for workers in (1, 2):
        report = cvkit.convert(
            tmp_path / "lm",
            tmp_path / f"out{workers}",
            target,
            from_format="labelme",
            skip_invalid=True,
            write_options={"workers": workers},
        )
        outputs[workers] = (_files(tmp_path / f"out{workers}"), report.to_dict())
    assert on_workers == [2]
    assert outputs[2] == outputs[1]
    assert [s["location"] for s in outputs[2][1]["skipped"]] == ["shapes[2].points"]  # img3's one-point polygon


@pytest.mark.parametrize("target", ["coco", "yolo", "voc"])
def test_categories_found_on_workers_keep_the_order_one_process_gives(tmp_path, on_workers, monkeypatch, target):
    """Image-level labels (LabelMe flags) and labels first met on objects a writer leaves out (YOLO skips crowd
    regions) are categories all the same, in the order of first appearance."""
    from cvkit.formats import labelme

    monkeypatch.setattr(labelme, "SHARD_FILES", 2)
    for n in range(8):
        make_image(tmp_path / "lm" / f"img{n}.jpg", 50, 40)
        shapes = [{"label": ["cat", "dog"][n % 2], "points": [[1, 1], [20, 15]], "shape_type": "rectangle"}]
        flags = {f"scene{n // 3}": True, "unused": False}
        document = {
            "version": "5.2.1",
            "flags": flags,
            "shapes": shapes,
            "imagePath": f"img{n}.jpg",
            "imageData": None,
            "imageHeight": 40,
            "imageWidth": 50,
        }
        (tmp_path / "lm" / f"img{n}.json").write_text(json.dumps(document))
    outputs = {}
    for workers in (1, 2):
        report = cvkit.convert(
            tmp_path / "lm",
            tmp_path / f"out{workers}",
            target,
            from_format="labelme",
            write_options={"workers": workers},
        )
        outputs[workers] = (_files(tmp_path / f"out{workers}"), report.to_dict())
    assert on_workers == [2]
    assert outputs[2] == outputs[1]
    assert outputs[2][1]["written"]["categories"] == 5  # scene0 cat dog scene1 scene2
    data = cvkit.read(tmp_path / "lm", format="labelme")
    report = cvkit.write(
        data, tmp_path / "library", "voc", report=Report(), workers=2
    )  # no convert() to set counts after
    assert report.read.categories == 5


def test_a_reader_journals_the_categories_it_creates():
    cats = CategorySet([Category(3, "cat")])
    cats.journal = created = []
    cats.ensure("cat")
    cats.ensure("dog")
    assert created == ["dog"] and cats.get("dog").id == 4


def test_a_reader_told_one_worker_gives_no_shards(tmp_path):
    """``-r workers=1`` means one process for the whole conversion: the reader offers writers no shards."""
    (tmp_path / "lm").mkdir()
    (tmp_path / "lm" / "a.json").write_text(
        json.dumps({"shapes": [], "imagePath": "a.jpg", "imageHeight": 4, "imageWidth": 4})
    )
    assert cvkit.read(tmp_path / "lm", format="labelme", workers=1).take_shards() is None
    assert cvkit.read(tmp_path / "lm", format="labelme", workers=2).take_shards() is not None
