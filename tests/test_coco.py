"""COCO: real samples, exact ids, masks, keypoints, pycocotools compatibility, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import cvkit
from cvkit.core.report import Report
from cvkit.errors import InvalidInputError


def load(path: Path) -> dict:
    return json.loads(path.read_text())


def test_instances_keep_ids_attributes_rle_and_empty_images(corpus):
    ds = cvkit.read(corpus("coco", "coco_instances"), format="coco").materialize()
    assert [(c.id, c.name) for c in ds.categories] == [(1, "a"), (2, "b"), (4, "c")]
    by_id = {s.id: s for s in ds}
    assert set(by_id) == {5, 40}
    train, val = by_id[5], by_id[40]
    assert (train.split, train.width, train.height, train.path) == ("train", 10, 5, "images/train/a.jpg")
    (box,) = train.objects
    assert (box.label, box.bbox, box.shape, box.id) == (
        "b",
        (2.0, 2.0, 3.0, 1.0),
        "box",
        1,
    )  # empty segmentation: a plain box
    polygon, crowd = val.objects
    assert polygon.polygon == [[0.0, 0.0, 1.0, 0.0, 1.0, 2.0, 0.0, 2.0]] and polygon.attributes == {
        "x": 1,
        "y": "hello",
    }
    assert crowd.iscrowd and crowd.rle == {"size": [10, 5], "counts": [0, 20, 30]} and crowd.shape == "mask"


def test_roundtrip_through_manifest_gives_back_the_same_json(corpus, tmp_path):
    src = corpus("coco", "coco_instances")
    cvkit.convert(src, tmp_path / "m.jsonl", to_format="manifest")
    cvkit.convert(tmp_path / "m.jsonl", tmp_path / "out", to_format="coco")
    for split in ("train", "val"):
        before = load(src / "annotations" / f"instances_{split}.json")
        after = load(tmp_path / "out" / "annotations" / f"instances_{split}.json")
        assert after["categories"] == before["categories"]
        assert after["annotations"] == before["annotations"]
        assert [{k: i[k] for k in ("id", "width", "height", "license", "coco_url")} for i in after["images"]] == [
            {k: i[k] for k in ("id", "width", "height", "license", "coco_url")} for i in before["images"]
        ]
        assert [Path(i["file_name"]).name for i in after["images"]] == [i["file_name"] for i in before["images"]]


def test_keypoint_names_and_skeleton_survive(corpus, tmp_path):
    cvkit.convert(corpus("coco", "coco_person_keypoints"), tmp_path / "kp.json", to_format="coco", write_options={})
    out = load(tmp_path / "kp.json")
    assert out["categories"][0]["skeleton"] == [[0, 1], [1, 2]]
    ann = next(a for a in out["annotations"] if a["image_id"] == 5)
    assert ann["keypoints"] == [0, 0, 0, 0, 2, 1, 4, 1, 2] and ann["num_keypoints"] == 2


def test_labels_task_becomes_image_level_labels(corpus):
    ds = cvkit.read(corpus("coco", "coco_labels"), format="coco").materialize()
    assert {s.id: sorted(s.labels) for s in ds} == {5: ["b"], 40: ["a", "b"]}
    assert all(not s.objects for s in ds)


def test_folder_with_many_tasks_reads_instances_and_says_what_it_skipped(corpus):
    report = Report()
    ds = cvkit.read(corpus("coco", "coco"), format="coco", report=report).materialize()
    assert len(ds) == 2 and sum(len(s.objects) for s in ds) == 3
    assert any("not read: captions_train.json" in w for w in report.warnings)
    kp = cvkit.read(corpus("coco", "coco"), format="coco", task="person_keypoints").materialize()
    assert sum(1 for s in kp for o in s.objects if o.keypoints) == 3


def test_results_list_with_ground_truth_and_compressed_rle(corpus):
    results = corpus("coco", "cocoapi_results", "instances_val2014_fakesegm100_results.json")
    ds = cvkit.read(results, format="coco").materialize()
    raw = json.loads(results.read_text())
    assert sum(len(s.objects) for s in ds) == len(raw)
    first = next(o for s in ds for o in s.objects)
    assert first.score is not None and isinstance(first.rle["counts"], str) and first.bbox is not None


def test_output_loads_in_pycocotools_and_evaluates_to_ap_one(corpus, tmp_path):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    cvkit.convert(corpus("voc", "voc_dataset1"), tmp_path / "gt.json", to_format="coco")
    gt = COCO(str(tmp_path / "gt.json"))
    dets = [
        {"image_id": a["image_id"], "category_id": a["category_id"], "bbox": a["bbox"], "score": 1.0}
        for a in gt.dataset["annotations"]
    ]
    evaluation = COCOeval(gt, gt.loadRes(dets), "bbox")
    evaluation.evaluate()
    evaluation.accumulate()
    evaluation.summarize()
    assert evaluation.stats[0] == pytest.approx(1.0)
    assert len(gt.getImgIds()) == 2  # the image without annotations is kept


def test_area_computed_and_annotation_ids_unique(tmp_path, small):
    small.samples[0].objects[0].id = 9
    small.samples[0].objects[1].id = 9
    cvkit.write(small, tmp_path / "x.json", format="coco")
    anns = load(tmp_path / "x.json")["annotations"]
    assert [a["area"] for a in anns] == [600.0, 120.0, 4800.0]
    assert len({a["id"] for a in anns}) == 3 and anns[0]["id"] == 9


def test_annotation_id_zero_is_renumbered_for_cocoeval(tmp_path, small):
    # pycocotools' COCOeval.evaluateImg stores the matched gt id in dtm and reads 0 as "unmatched": a gt annotation
    # with id 0 (MIT LabelMe XML and Roboflow number objects from 0) turns its perfect detection into a false
    # positive. Annotation ids are kept only when positive; image ids (which results files refer to) are kept as they
    # are.
    for n, obj in enumerate(o for s in small for o in s.objects):
        obj.id = n
    small.samples[0].id = 0
    report = cvkit.write(small, tmp_path / "x.json", format="coco")
    data = load(tmp_path / "x.json")
    assert [a["id"] for a in data["annotations"]] == [1, 2, 3]
    assert data["images"][0]["id"] == 0
    assert report.warnings == [
        "annotation ids of 0 (or below) were renumbered: pycocotools' COCOeval takes a match with annotation id 0 "
        "for no match"
    ]


def test_unknown_image_size_is_read_from_the_image(tmp_path, small):
    # mmdetection's CocoDataset drops images with min(width, height) < min_size and clips every box to width x
    # height (a 0 size drops them all); detectron2 checks the declared size against the image: 0 is never right.
    small.samples[0].width = small.samples[0].height = None
    report = cvkit.write(small, tmp_path / "x.json", format="coco")
    assert [(i["width"], i["height"]) for i in load(tmp_path / "x.json")["images"]] == [(64, 48), (80, 60), (32, 32)]
    assert report.warnings == []
    small.samples[0].path = "images/gone.jpg"
    report = cvkit.write(small, tmp_path / "y.json", format="coco")
    assert load(tmp_path / "y.json")["images"][0]["width"] == 0
    assert report.warnings == [
        "some images have no known size and no readable file; their width and height are written as 0"
    ]


def test_split_folder_layout_and_copied_images(tmp_path, small):
    small.samples[1].split = "val"
    cvkit.write(small, tmp_path / "out", format="coco", images="copy")
    train = load(tmp_path / "out" / "annotations" / "instances_train.json")
    assert [i["file_name"] for i in train["images"]] == ["cat_01.jpg", "empty_03.jpg"]
    assert (tmp_path / "out" / "images" / "val" / "dog_02.png").is_file()
    back = cvkit.read(tmp_path / "out", format="coco").materialize()
    assert all(s.resolve(back.root).is_file() for s in back)


def coco_file(tmp: Path, annotations: str) -> Path:
    path = tmp / "bad.json"
    path.write_text(
        '{"images": [{"id": 1, "file_name": "a.jpg", "width": 8, "height": 8}], '
        '"categories": [{"id": 1, "name": "a"}],\n'
        f'"annotations": {annotations}}}'
    )
    return path


@pytest.mark.parametrize(
    ("annotations", "message"),
    [
        (
            '[{"id": 1, "image_id": 1, "category_id": 3, "bbox": [0, 0, 1, 1]}]',
            "annotations[0].category_id: unknown category id 3",
        ),
        (
            '[{"id": 1, "image_id": 7, "category_id": 1, "bbox": [0, 0, 1, 1]}]',
            "annotations[0].image_id: annotation refers to unknown image id 7",
        ),
        (
            '[{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, -1, 1]}]',
            "annotations[0].bbox: bbox has a negative width or height: [0, 0, -1, 1]",
        ),
        (
            '[{"id": 1, "image_id": 1, "category_id": 1, "segmentation": [[1, 2, 3, 4]]}]',
            "annotations[0].segmentation: polygon with fewer than 3 points",
        ),
    ],
)
def test_bad_annotations_name_file_and_json_path(tmp_path, annotations, message):
    path = coco_file(tmp_path, annotations)
    with pytest.raises(InvalidInputError) as info:
        cvkit.read(path, format="coco").materialize()
    assert info.value.describe() == f"{path}:{message}"


def test_malformed_json_gives_line_and_column(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"images": [\n  {"id": 1,, "file_name": "a.jpg"}]}')
    with pytest.raises(InvalidInputError, match=r"broken.json:line 2, column \d+: malformed JSON"):
        cvkit.read(path, format="coco")


def test_category_that_is_its_own_supercategory_reads_and_round_trips(tmp_path):
    # the real COCO files: {"supercategory": "person", "id": 1, "name": "person"}
    categories = [
        {"supercategory": "person", "id": 1, "name": "person"},
        {"supercategory": "vehicle", "id": 2, "name": "bicycle"},
    ]
    src = tmp_path / "instances_val.json"
    src.write_text(
        json.dumps(
            {
                "images": [{"id": 1, "file_name": "a.jpg", "width": 10, "height": 10}],
                "categories": categories,
                "annotations": [
                    {"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 2, 2], "area": 4, "iscrowd": 0}
                ],
            }
        )
    )
    ds = cvkit.read(src, format="coco").materialize()
    assert ds.hierarchy.parents("person") == [] and ds.hierarchy.parents("bicycle") == ["vehicle"]
    cvkit.write(ds, tmp_path / "out.json", format="coco")
    assert json.loads((tmp_path / "out.json").read_text())["categories"] == categories


def test_captions_become_an_image_attribute_and_write_back_as_captions(corpus, tmp_path):
    src = corpus("coco", "coco_captions")  # datumaro's export: captions_train.json and captions_val.json
    ds = cvkit.read(src, format="coco").materialize()
    assert {s.id: s.attributes["captions"] for s in ds} == {5: ["hello"], 40: ["world", "text"]}
    assert sum(len(s.objects) for s in ds) == 0 and len(ds.categories) == 0
    cvkit.write(ds, tmp_path / "out", format="coco", task="captions")
    written = json.loads((tmp_path / "out" / "annotations" / "captions_val.json").read_text())
    assert [(a["image_id"], a["caption"]) for a in written["annotations"]] == [(40, "world"), (40, "text")]
    # as in COCO's own captions_*.json: no "categories" key, since pycocotools' COCO.createIndex indexes every
    # annotation's category_id (which caption records lack) as soon as the file has one (a KeyError in COCO())
    assert "categories" not in written
    again = cvkit.read(tmp_path / "out", format="coco").materialize()
    assert {s.id: s.attributes["captions"] for s in again} == {5: ["hello"], 40: ["world", "text"]}
    report = cvkit.convert(src, tmp_path / "yolo", to_format="yolo")  # YOLO cannot hold them: said so
    assert report.losses[("image attribute 'captions'", "YOLO cannot hold image attributes")] == 2
    # a dataset with classes written as captions: its objects and categories are not in the file, and the summary says
    # so
    ds.categories.ensure("cat")
    report = cvkit.write(ds, tmp_path / "again", format="coco", task="captions")
    assert report.losses[("category", "COCO captions files hold no categories")] == 1 and report.written.categories == 0


def test_roboflow_coco_export_one_file_per_split_folder(tmp_path):
    from conftest import make_image

    root = tmp_path / "export"
    for split, names in (("train", ["a_jpg.rf.1.jpg", "b_jpg.rf.2.jpg"]), ("valid", ["c_jpg.rf.3.jpg"])):
        for name in names:
            make_image(root / split / name, 40, 30)
        (root / split / "_annotations.coco.json").write_text(
            json.dumps(
                {
                    "categories": [
                        {"id": 0, "name": "cells", "supercategory": "none"},
                        {"id": 1, "name": "cell", "supercategory": "cells"},
                    ],
                    "images": [{"id": i, "file_name": name, "width": 40, "height": 30} for i, name in enumerate(names)],
                    "annotations": [
                        {"id": i, "image_id": i, "category_id": 1, "bbox": [1, 2, 10, 12], "area": 120, "iscrowd": 0}
                        for i in range(len(names))
                    ],
                }
            )
        )
    (root / "README.roboflow.txt").write_text("exported from roboflow")
    assert cvkit.detect_format(root) == "coco"
    ds = cvkit.read(root, format="coco").materialize()
    assert sorted((s.split, s.path) for s in ds) == [
        ("train", "train/a_jpg.rf.1.jpg"),
        ("train", "train/b_jpg.rf.2.jpg"),
        ("valid", "valid/c_jpg.rf.3.jpg"),
    ]
    assert all(s.resolve(ds.root).is_file() for s in ds)
    single = cvkit.read(root / "valid" / "_annotations.coco.json", format="coco").materialize()
    assert [s.split for s in single] == ["valid"]


@pytest.mark.parametrize(
    ("names", "splits"),
    [
        (["result.json"], [None]),  # Label Studio's export: one file, no split in its name
        (["train.json"], ["train"]),
        (["a.json", "b.json"], ["a", "b"]),  # several loose files: each its own split
    ],
)
def test_split_of_files_not_named_task_split(names, splits, tmp_path):
    for i, name in enumerate(names):
        (tmp_path / name).write_text(
            json.dumps(
                {
                    "images": [{"id": i, "file_name": f"{i}.jpg", "width": 4, "height": 4}],
                    "annotations": [],
                    "categories": [],
                }
            )
        )
    assert [s.split for s in cvkit.read(tmp_path, format="coco")] == splits
    if len(names) == 1:  # the file given directly gets the same split
        assert [s.split for s in cvkit.read(tmp_path / names[0], format="coco")] == splits


def test_panoptic_segments_become_objects_with_masks_from_the_pngs(corpus, tmp_path):
    from cvkit.core.masks import rle_area

    report = Report()
    ds = cvkit.read(corpus("coco", "coco_panoptic"), format="coco", report=report).materialize()
    by_id = {s.id: s for s in ds}
    seven, twenty = by_id[40].objects  # panoptic_val/b.png: segment 7 in columns 0-1, segment 20 in columns 2-3
    assert (seven.label, seven.bbox, seven.shape, seven.id, seven.iscrowd) == (
        "a",
        (0.0, 0.0, 1.0, 9.0),
        "mask",
        7,
        False,
    )
    assert (twenty.label, twenty.id, twenty.iscrowd) == ("b", 20, True)
    assert rle_area(seven.rle) == 20 and rle_area(twenty.rle) == 20 and seven.rle["size"] == [10, 5]
    # panoptic_train/a.png is 5x5 for a 10x5 image: that segment stays a box, and the summary says why
    (only,) = by_id[5].objects
    assert only.rle is None and only.bbox == (2.0, 0.0, 4.0, 4.0)
    assert any("differ in size from their image" in w for w in report.warnings)
    cvkit.write(ds, tmp_path / "instances.json", format="coco")  # written as instances with RLE masks
    from pycocotools.coco import COCO

    written = COCO(str(tmp_path / "instances.json"))
    assert sorted(a["id"] for a in written.dataset["annotations"]) == [7, 20, 460551]
    assert written.annToMask(written.anns[7]).sum() == 20


def test_folder_with_several_tasks_reads_instances_and_names_the_rest(tmp_path):
    for task in ("instances", "panoptic", "captions"):
        (tmp_path / "annotations").mkdir(exist_ok=True)
        (tmp_path / "annotations" / f"{task}_val.json").write_text(
            json.dumps({"images": [], "annotations": [], "categories": []})
        )
    report = Report()
    list(cvkit.read(tmp_path, format="coco", report=report))
    assert report.warnings == [
        "split 'val': read instances_val.json; not read: captions_val.json, panoptic_val.json (choose with -r "
        "task=NAME)"
    ]


def test_folder_of_results_lists_shares_categories_named_by_id(corpus):
    # cocoapi's example results: bbox, segm, keypoints and caption lists side by side, no ground truth
    report = Report()
    ds = cvkit.read(corpus("coco", "cocoapi_results"), format="coco", report=report).materialize()
    splits = {s.split for s in ds}
    assert splits == {
        "val2014_fakebbox100_results",
        "val2014_fakesegm100_results",
        "val2014_fakekeypoints100_results",
        "val2014_fakecap_results",
    }
    assert all(c.name == str(c.id) for c in ds.categories)  # results name no categories: each is named by its id, once
    captioned = [s for s in ds if s.split == "val2014_fakecap_results"]
    assert captioned and all(s.attributes["captions"] and not s.objects for s in captioned)
    assert all(o.score is not None for s in ds for o in s.objects)


def test_detection_needs_images_or_annotations_not_just_categories(tmp_path):
    # Label Studio's YOLO export has a notes.json with categories: no COCO dataset
    (tmp_path / "notes.json").write_text(json.dumps({"categories": [{"id": 0, "name": "cat"}], "info": {"year": 2024}}))
    from cvkit.formats import coco

    assert coco.detect(tmp_path / "notes.json") is None
    # datumaro writes categories first: a long list pushes "images" far from the start, and it is still COCO
    many = [{"id": i, "name": f"class_{i}", "supercategory": ""} for i in range(3000)]
    (tmp_path / "big.json").write_text(
        json.dumps({"licenses": [], "info": {}, "categories": many, "images": [], "annotations": []})
    )
    assert coco.detect(tmp_path / "big.json") is not None


def test_keypoint_results_get_the_box_pycocotools_gives_them(corpus, tmp_path):
    # cocoapi's keypoint results carry no bbox; COCO.loadRes boxes them by the extent of all their points
    from pycocotools.coco import COCO

    path = corpus("coco", "cocoapi_results", "person_keypoints_val2014_fakekeypoints100_results.json")
    ds = cvkit.read(path, format="coco").materialize()
    raw = json.loads(path.read_text())[0]
    xs, ys = raw["keypoints"][0::3], raw["keypoints"][1::3]
    first = next(o for s in ds for o in s.objects)
    assert first.bbox == (min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys))
    gt = COCO()
    gt.dataset = {"images": [{"id": s.id} for s in ds], "categories": [{"id": 1, "name": "person"}], "annotations": []}
    gt.createIndex()
    assert gt.loadRes(str(path)).anns[1]["bbox"] == list(first.bbox)
    cvkit.write(ds, tmp_path / "out.json", format="coco")
    written = json.loads((tmp_path / "out.json").read_text())["annotations"][0]
    assert written["bbox"] == list(first.bbox) and written["bbox"] != [0, 0, 0, 0]


def test_ids_taken_a_run_at_a_time_are_the_ids_taken_one_by_one():
    import random

    from cvkit.formats.coco._spool import Ids

    rng = random.Random(7)
    for positive in (False, True):
        for _ in range(200):
            wanted = [rng.choice([None, None, None, rng.randint(-3, 30), "x"]) for _ in range(rng.randint(0, 40))]
            one, runs = Ids(positive), Ids(positive)
            expected = [one.take(w) for w in wanted]
            got: list[int] = []
            start = 0
            while start < len(wanted):  # runs as workers send them: str ids already None
                stop = start + rng.randint(1, 8)
                got += runs.take_all([w if type(w) is int else None for w in wanted[start:stop]])
                start = stop
            assert got == expected and runs.replaced_low == one.replaced_low


def test_a_spool_larger_than_memory_moves_to_a_file_and_writes_the_same(tmp_path, small, monkeypatch):
    from cvkit.formats.coco import _spool as coco_spool

    cvkit.write(small, tmp_path / "memory.json", "coco")
    monkeypatch.setattr(coco_spool, "SPOOL_MEMORY", 16)
    monkeypatch.setattr(coco_spool, "BATCH", 1)
    cvkit.write(small, tmp_path / "file.json", "coco")
    assert (tmp_path / "file.json").read_bytes() == (tmp_path / "memory.json").read_bytes()
