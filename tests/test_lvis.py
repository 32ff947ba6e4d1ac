"""LVIS: the lvis-api sample (v0.5) read with its counts, LVIS -> cvkit -> LVIS gives the same JSON content, a v1
file (coco_url only) keeps its shape, and cvkit stats takes the file's own r/c/f groups."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import cvkit
from conftest import corpus_path, make_image
from cvkit.formats.lvis import frequency_of
from cvkit.stats import dataset_stats
from cvkit.stats.options import ImbalanceOptions


def _val100() -> Path:
    return corpus_path("lvis", "lvis_api_val100_v0_5", "lvis_val_100.json")


def test_lvis_sample_reads_with_the_counts_of_the_file():
    path = _val100()
    raw = json.loads(path.read_text())
    assert cvkit.detect_format(path) == "lvis"
    ds = cvkit.read(path).materialize()
    assert len(ds) == len(raw["images"]) == 100
    assert sum(1 for s in ds if s.objects) == len({a["image_id"] for a in raw["annotations"]}) == 93
    assert sum(len(s.objects) for s in ds) == 977
    assert (
        sum(len(o.polygon or []) for s in ds for o in s.objects)
        == sum(len(a["segmentation"]) for a in raw["annotations"])
        == 1135
    )
    assert len(ds.categories) == 1230
    assert Counter(c.attributes["frequency"] for c in ds.categories) == {"r": 454, "c": 461, "f": 315}
    negatives = sum(len(s.meta["coco"]["neg_category_ids"]) for s in ds)
    assert negatives == sum(len(i["neg_category_ids"]) for i in raw["images"]) == 942
    assert sum(len(s.meta["coco"]["not_exhaustive_category_ids"]) for s in ds) == 16


def _by_id(records: list[dict]) -> dict:
    return {r["id"]: r for r in records}


def test_lvis_round_trip_gives_the_same_json_content(tmp_path):
    path = _val100()
    out = tmp_path / "lvis_again.json"
    cvkit.write(cvkit.read(path, format="lvis"), out, format="lvis")
    before, after = json.loads(path.read_text()), json.loads(out.read_text())
    assert set(after) == set(before)
    for key in ("images", "annotations", "categories"):
        assert _by_id(after[key]) == _by_id(before[key]), key
    assert after["info"] == before["info"] and after["licenses"] == before["licenses"]


def test_lvis_v1_images_named_by_coco_url_keep_no_file_name(tmp_path):
    make_image(tmp_path / "src" / "val2017" / "000000000139.jpg", 40, 30)
    v1 = {
        "info": {"version": "v1"},
        "licenses": [],
        "images": [
            {
                "id": 139,
                "coco_url": "http://images.cocodataset.org/val2017/000000000139.jpg",
                "height": 30,
                "width": 40,
                "neg_category_ids": [2],
                "not_exhaustive_category_ids": [],
            }
        ],
        "annotations": [
            {
                "id": 5,
                "image_id": 139,
                "category_id": 1,
                "bbox": [1.0, 2.0, 10.0, 5.0],
                "area": 50.0,
                "segmentation": [[1.0, 2.0, 11.0, 2.0, 11.0, 7.0, 1.0, 7.0]],
            }
        ],
        "categories": [
            {
                "id": 1,
                "name": "aerosol_can",
                "synset": "aerosol.n.02",
                "frequency": "c",
                "image_count": 21,
                "instance_count": 64,
                "synonyms": ["aerosol_can"],
                "def": "a dispenser",
            },
            {
                "id": 2,
                "name": "acorn",
                "synset": "acorn.n.01",
                "frequency": "r",
                "image_count": 1,
                "instance_count": 2,
                "synonyms": ["acorn"],
                "def": "nut",
            },
        ],
    }
    source = tmp_path / "src" / "lvis_v1_val.json"
    source.write_text(json.dumps(v1))
    ds = cvkit.read(source).materialize()
    assert ds.samples[0].width == 40 and ds.samples[0].path.endswith("val2017/000000000139.jpg")
    out = tmp_path / "out.json"
    cvkit.write(ds, out, format="lvis")
    again = json.loads(out.read_text())
    assert again["images"] == v1["images"]
    assert again["annotations"] == v1["annotations"]
    assert _by_id(again["categories"]) == _by_id(v1["categories"])


def test_lvis_written_from_another_format_gets_the_fields_lvis_evaluation_reads(small, tmp_path):
    out = tmp_path / "lvis.json"
    cvkit.write(small, out, format="lvis")
    doc = json.loads(out.read_text())
    assert all(i["neg_category_ids"] == [] and i["not_exhaustive_category_ids"] == [] for i in doc["images"])
    cats = _by_id(doc["categories"])
    # small: cat in 1 image (1 box), dog in 2 images (2 boxes); <= 10 images is LVIS's rare
    assert (cats[3]["image_count"], cats[3]["instance_count"], cats[3]["frequency"]) == (1, 1, "r")
    assert (cats[7]["image_count"], cats[7]["instance_count"], cats[7]["frequency"]) == (2, 2, "r")
    assert [frequency_of(n) for n in (10, 11, 100, 101)] == ["r", "c", "c", "f"]


def test_stats_uses_the_frequency_groups_the_lvis_file_states(tmp_path):
    stats = dataset_stats(_val100(), imbalance=ImbalanceOptions())
    groups = stats["imbalance"]["frequency_groups"]
    assert groups["from"] == "file"
    assert groups["sizes"] == {"rare": 454, "common": 461, "frequent": 315}
    # counted in this 100-image slice every class is rare or absent; the file's word wins over the count
    raw = json.loads(_val100().read_text())
    images_of = Counter(cat for cat, _image in {(a["category_id"], a["image_id"]) for a in raw["annotations"]})
    seldom_frequent = [c["name"] for c in raw["categories"] if c["frequency"] == "f" and 0 < images_of[c["id"]] <= 10]
    assert seldom_frequent
    assert all(groups["classes"][name] == "frequent" for name in seldom_frequent)


def test_stats_keeps_the_file_groups_through_a_manifest(tmp_path):
    cvkit.convert(_val100(), tmp_path / "lvis.jsonl", to_format="manifest")
    groups = dataset_stats(tmp_path / "lvis.jsonl", imbalance=ImbalanceOptions())["imbalance"]["frequency_groups"]
    assert groups["from"] == "file" and groups["sizes"] == {"rare": 454, "common": 461, "frequent": 315}


def test_stats_without_declared_groups_counts_images(small, tmp_path):
    cvkit.write(small, tmp_path / "coco.json", format="coco")
    groups = dataset_stats(tmp_path / "coco.json", imbalance=ImbalanceOptions())["imbalance"]["frequency_groups"]
    assert groups["from"] == "image counts" and groups["classes"] == {"cat": "rare", "dog": "rare"}
