"""Real corpus datasets (VOC and COCO as published by their tools) through stats and validate."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from cvkit.cli import app
from cvkit.stats import dataset_stats
from cvkit.stats.summary import ImbalanceOptions
from cvkit.stats.validate import validate_dataset

runner = CliRunner()


def test_voc_devkit_stats(corpus):
    doc = dataset_stats(corpus("voc", "voc_dataset1"), "voc", ImbalanceOptions())
    assert (doc["images"], doc["objects"]) == (2, 2)
    assert doc["splits"] == {"train": {"images": 1, "objects": 2}, "test": {"images": 1, "objects": 0}}
    present = {c["name"]: (c["images"], c["objects"]) for c in doc["classes"] if c["objects"]}
    assert present == {"cat": (1, 1), "person": (1, 1)}
    assert doc["images_without_annotations"] == 1
    assert doc["imbalance"]["frequency_groups"]["classes"]["cat"] == "rare"


def test_voc_devkit_validate_finds_the_identical_train_and_test_photo(corpus):
    # the devkit's two JPEGs are byte-identical, one listed in train, one in test: leakage
    result = validate_dataset(corpus("voc", "voc_dataset1"), "voc")
    found = {check: n for check, n in result.counts.items() if n}
    assert found == {"split_leakage": 1, "image_without_annotations": 1}
    assert "in splits test, train" in result.findings["split_leakage"][0].message


def test_voc_without_images_reports_each_missing_file_with_exit_one(corpus):
    path = corpus("voc", "voc_dataset2")
    out = runner.invoke(app, ["validate", str(path), "--format", "voc", "--json"])
    assert out.exit_code == 1
    doc = json.loads(out.stdout)
    assert doc["checks"]["missing_image"]["count"] == doc["images"] == 5
    # annotations alone are fine
    annotations_only = runner.invoke(app, ["validate", str(path), "--format", "voc", "--no-images"])
    assert annotations_only.exit_code == 0, annotations_only.output


def test_coco_instances_stats_and_validate(corpus):
    path = corpus("coco", "coco_instances")
    doc = dataset_stats(path, "coco", ImbalanceOptions())
    assert (doc["images"], doc["objects"]) == (2, 3)
    counts = {c["name"]: c["objects"] for c in doc["classes"]}
    assert counts == {"a": 1, "b": 2, "c": 0}  # category c is declared but unused
    imb = doc["imbalance"]
    assert imb["empty_classes"] == 1 and imb["frequency_groups"]["classes"]["c"] == "absent"
    assert imb["params"]["median_frequency_from"] == "pixels"  # polygons and RLE masks present
    assert imb["weights"]["balanced"] == {"a": 1.5, "b": 0.75, "c": 0.0}
    # COCO numbers annotations per file: id 1 in train and in val is not a duplicate
    result = validate_dataset(path, "coco")
    assert result.errors == 0 and result.warnings == 0


def test_coco_stats_cli_on_the_annotation_file(corpus):
    path = corpus("coco", "coco_instances", "annotations", "instances_val.json")
    out = runner.invoke(app, ["stats", str(path), "--format", "coco", "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["objects"] == 2
