"""`cvkit stats`: counts, imbalance, weights file, box statistics, plot, JSON keys, fast manifest path."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import cvkit
from cvkit.cli import app
from cvkit.core.categories import Category, CategorySet
from cvkit.core.model import Annotation, Dataset, Sample
from cvkit.stats import dataset_stats
from cvkit.stats.columns import columns_from_dataset, columns_from_manifest
from cvkit.stats.summary import ImbalanceOptions
from cvkit.stats.weights import METHODS, compute_class_weights, load_class_weights

runner = CliRunner()


def issue_manifest(path: Path) -> Path:
    """The issue's counts as detection data: 5000 / 500 / 50 objects of a / b / c in 111 images."""
    cats = CategorySet([Category(1, "a"), Category(2, "b"), Category(3, "c")])
    samples = []
    for i in range(100):  # 50 'a' each
        samples.append(Sample(f"a{i}.jpg", 640, 480, "train", objects=[Annotation("a", (10.0, 10.0, 20.0, 20.0))] * 50))
    for i in range(10):  # 50 'b' each
        samples.append(Sample(f"b{i}.jpg", 640, 480, "val", objects=[Annotation("b", (0.0, 0.0, 100.0, 50.0))] * 50))
    samples.append(Sample("c.jpg", 640, 480, "val", objects=[Annotation("c", (600.0, 400.0, 40.0, 80.0))] * 50))
    cvkit.write(Dataset(samples, cats), path, format="manifest")
    return path


def _json(args: list[str]) -> dict:
    out = runner.invoke(app, args)
    assert out.exit_code == 0, out.output
    return json.loads(out.stdout)


def test_counts_per_class_and_split(tmp_path):
    doc = _json(["stats", str(issue_manifest(tmp_path / "m.jsonl")), "--json"])
    assert (doc["images"], doc["objects"], doc["num_classes"]) == (111, 5550, 3)
    assert doc["splits"] == {"train": {"images": 100, "objects": 5000}, "val": {"images": 11, "objects": 550}}
    c = {row["name"]: row for row in doc["classes"]}
    assert (c["a"]["images"], c["a"]["objects"], c["a"]["id"]) == (100, 5000, 1)
    assert c["c"]["object_share"] == pytest.approx(50 / 5550)
    assert c["b"]["image_share"] == pytest.approx(10 / 111)
    assert c["b"]["splits"] == {"train": {"images": 0, "objects": 0}, "val": {"images": 10, "objects": 500}}


def test_imbalance_section_has_the_issue_known_answers(tmp_path):
    doc = _json(["stats", str(issue_manifest(tmp_path / "m.jsonl")), "--imbalance", "--threshold", "0.05", "--json"])
    imb = doc["imbalance"]
    assert imb["basis"] == "objects"
    assert imb["imbalance_ratio"] == 100.0
    assert round(imb["gini"], 3) == 0.595 and round(imb["normalized_entropy"], 3) == 0.322
    w = imb["weights"]
    assert [w["balanced"][k] for k in "abc"] == pytest.approx([0.37, 3.7, 37.0])
    assert [w["effective"][k] for k in "abc"] == pytest.approx([0.126, 0.317, 2.557], abs=6e-4)
    assert set(w) == set(METHODS)
    # LVIS groups by images: a in 100 (common), b in 10 and c in 1 (rare)
    assert imb["frequency_groups"]["classes"] == {"a": "common", "b": "rare", "c": "rare"}
    # repeat factors with t = 0.05: f_c = 1/111 -> sqrt(0.05 * 111) = 2.356; f_b = 10/111 > t -> 1
    assert w["repeat-factor"] == pytest.approx({"a": 1.0, "b": 1.0, "c": math.sqrt(0.05 * 111)})
    assert imb["repeat_factor"]["images_repeated"] == 1
    assert imb["repeat_factor"]["epoch_images"] == pytest.approx(110 + math.sqrt(0.05 * 111))


def test_weights_out_is_what_the_trainer_loads(tmp_path):
    src = issue_manifest(tmp_path / "m.jsonl")
    out = runner.invoke(
        app, ["stats", str(src), "--weights-out", str(tmp_path / "w.json"), "--method", "effective", "--beta", "0.99"]
    )
    assert out.exit_code == 0, out.output
    assert f"effective class weights written to {tmp_path / 'w.json'}" in out.output
    doc = json.loads((tmp_path / "w.json").read_text())
    assert doc["method"] == "effective" and doc["params"] == {"basis": "objects", "beta": 0.99}
    assert doc["classes"] == ["a", "b", "c"] and doc["counts"] == {"a": 5000, "b": 500, "c": 50}
    raw = [(1 - 0.99) / (1 - 0.99**n) for n in (5000, 500, 50)]
    assert load_class_weights(tmp_path / "w.json", ["a", "b", "c"]) == pytest.approx([3 * r / sum(raw) for r in raw])


def test_unknown_method_is_exit_code_two(tmp_path):
    out = runner.invoke(app, ["stats", str(issue_manifest(tmp_path / "m.jsonl")), "--method", "focal"])
    assert out.exit_code == 2
    assert "unknown --method 'focal'; choose one of balanced, inverse" in out.output


@pytest.mark.parametrize("method", METHODS)
def test_every_library_weight_method_is_offered_and_written_by_the_cli(tmp_path, method):
    help_text = " ".join(runner.invoke(app, ["stats", "--help"]).output.split())
    assert method in help_text
    manifest = issue_manifest(tmp_path / "m.jsonl")
    out = runner.invoke(app, ["stats", str(manifest), "--weights-out", str(tmp_path / "w.json"), "--method", method])
    assert out.exit_code == 0, out.output
    written = json.loads((tmp_path / "w.json").read_text())
    assert written["method"] == method
    # the manifest's a / b / c: 5000 / 500 / 50 objects in 100 / 10 / 1 of its 111 images
    expected = compute_class_weights([5000, 500, 50], method, image_counts=[100, 10, 1], num_images=111)
    assert load_class_weights(tmp_path / "w.json", ["a", "b", "c"]) == pytest.approx(list(expected))


def test_box_statistics(tmp_path):
    cats = CategorySet([Category(1, "x")])
    boxes = [(0.0, 0.0, 10.0, 10.0), (20.0, 20.0, 50.0, 25.0), (10.0, 10.0, 100.0, 100.0), (5.0, 5.0, 30.0, 60.0)]
    samples = [Sample("i.jpg", 200, 100, objects=[Annotation("x", b) for b in boxes]), Sample("j.jpg", 10, 10)]
    cvkit.write(Dataset(samples, cats), tmp_path / "m.jsonl", format="manifest")
    b = _json(["stats", str(tmp_path / "m.jsonl"), "--json"])["boxes"]
    # areas 100 (small), 1250 (medium), 10000 (large, >= 96^2 = 9216), 1800 (medium)
    assert b["sizes"] == {"small": 1, "medium": 2, "large": 1}
    assert b["sizes_by_class"] == {"x": {"small": 1, "medium": 2, "large": 1}}
    # touching: (0,0) corner and the box reaching y2 = 110 > 100
    assert b["touching_border"] == 2
    assert b["aspect_ratio"]["histogram"]["counts"] == [0, 0, 0, 1, 0, 2, 0, 1, 0, 0]  # 0.5 in [1/2, 2/3), 1, 1, 2
    assert b["objects_per_image"]["max"] == 4.0 and b["objects_per_image"]["histogram"]["counts"][0] == 1
    # sqrt(100 / 20000) = 0.0707 -> bin 0.05-0.1
    assert b["relative_size"]["histogram"]["counts"][2] == 1


def test_classification_data_counts_images_and_mask_pixels_drive_median_frequency(tmp_path):
    cats = CategorySet([Category(1, "cat"), Category(2, "dog")])
    rle_a = {"size": [10, 10], "counts": [0, 20, 80]}  # 20 of 100 pixels
    rle_b = {"size": [10, 10], "counts": [0, 5, 95]}  # 5 of 100 pixels
    samples = [
        Sample("1.png", 10, 10, labels=["cat"], objects=[Annotation("cat", (0, 0, 10, 2), shape="mask", rle=rle_a)]),
        Sample("2.png", 10, 10, labels=["dog"], objects=[Annotation("dog", (0, 0, 5, 1), shape="mask", rle=rle_b)]),
        Sample("3.png", 10, 10, labels=["cat"]),
    ]
    ds = Dataset(samples, cats)
    doc = dataset_stats(_manifest(ds, tmp_path), imbalance=ImbalanceOptions(basis="images"))
    imb = doc["imbalance"]
    assert imb["counts"] == {"cat": 2, "dog": 1}
    assert imb["params"]["median_frequency_from"] == "pixels"
    # pixel frequencies 0.2 and 0.05, median 0.125
    assert imb["weights"]["median-frequency"] == pytest.approx({"cat": 0.625, "dog": 2.5})


def _manifest(ds: Dataset, tmp_path: Path) -> Path:
    cvkit.write(ds, tmp_path / "m.jsonl", format="manifest")
    return tmp_path / "m.jsonl"


def test_fast_manifest_path_equals_the_generic_reader(tmp_path, small):
    path = _manifest(small, tmp_path)
    fast = columns_from_manifest(path)
    generic = columns_from_dataset(cvkit.read(path, format="manifest"))
    assert fast.class_names == generic.class_names and fast.class_ids == generic.class_ids
    for field in ("image_width", "image_height", "image_split", "obj_image", "obj_class", "obj_box", "label_class"):
        np.testing.assert_array_equal(getattr(fast, field), getattr(generic, field))


def test_bad_record_stops_with_its_line_unless_skipped(tmp_path, small):
    path = _manifest(small, tmp_path)
    with open(path, "a") as handle:
        handle.write('{"image": "x.jpg", "objects": [{"label": "unicorn"}]}\n')
    out = runner.invoke(app, ["stats", str(path)])
    assert out.exit_code == 2
    assert f"error: {path}:line 5: label 'unicorn' is not in the header's categories" in out.output
    doc = _json(["stats", str(path), "--skip-invalid", "--json"])
    assert doc["images"] == 3 and doc["skipped"][0]["location"] == "line 5"


def test_plot_writes_a_png(tmp_path):
    src = issue_manifest(tmp_path / "m.jsonl")
    out = runner.invoke(app, ["stats", str(src), "--imbalance", "--plot", str(tmp_path / "stats.png")])
    assert out.exit_code == 0, out.output
    assert (tmp_path / "stats.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_read_images_counts_channels(tmp_path, small):
    cvkit.write(small, tmp_path / "m.jsonl", format="manifest")
    doc = _json(["stats", str(tmp_path / "m.jsonl"), "--read-images", "--json"])
    assert doc["image_sizes"]["channels"] == {"3": 3}
    assert doc["image_sizes"]["unreadable_images"] == 0


def test_terminal_tables(tmp_path):
    out = runner.invoke(app, ["stats", str(issue_manifest(tmp_path / "m.jsonl")), "--imbalance"])
    assert out.exit_code == 0
    for text in ("classes (most frequent first)", "imbalance ratio (max/min)", "class weights", "COCO"):
        assert text in out.output


def test_empty_manifest_has_null_metrics_not_an_error(tmp_path):
    path = tmp_path / "empty.jsonl"
    path.write_text(
        '{"type": "header", "schema": "cvkit.manifest", "version": 1, "categories": [{"id": 1, "name": "a"}]}\n'
    )
    doc = _json(["stats", str(path), "--imbalance", "--json"])
    assert doc["images"] == 0 and doc["imbalance"]["imbalance_ratio"] is None
    assert doc["imbalance"]["weights"]["repeat-factor"] == {"a": 0.0}
