"""Inputs that converted to nothing or to the wrong thing with exit 0 (issue 15, item 9), and the 6-field YOLO line
(item 7): each is now a named error, a skipped item, or said out loud."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import make_image
from hostile.harness import assert_clean_error, assert_nothing_written, cvkit, snapshot


def _yolo(root: Path, yaml: str, line: str = "0 0.5 0.5 0.2 0.2") -> Path:
    make_image(root / "images" / "train" / "a.jpg", 64, 48)
    (root / "labels" / "train").mkdir(parents=True)
    (root / "labels" / "train" / "a.txt").write_text(line + "\n")
    (root / "data.yaml").write_text(yaml)
    return root


@pytest.mark.parametrize(
    "yaml", ["path: /etc\ntrain: .\nval: .\nnames: [cat]\n", "train: images/none\nval: images/train\nnames: [cat]\n"]
)
def test_a_listed_split_without_images_is_an_error(yaml, tmp_path):
    src = _yolo(tmp_path / "src", yaml)
    (src / "images" / "none").mkdir()
    before = snapshot(tmp_path)
    run = cvkit("convert", src, tmp_path / "out", "-f", "yolo", "-t", "coco")
    assert_clean_error(run, 2, names="data.yaml:train: split 'train'")
    assert "holds no images" in run.stderr
    assert_nothing_written(before, tmp_path)


def test_six_fields_are_box_and_confidence_and_said_so(tmp_path):
    src = _yolo(tmp_path / "src", "train: images/train\nval: images/train\nnames: [cat]\n", "0 0.5 0.5 0.25 0.5 0.87")
    run = cvkit("convert", src, tmp_path / "out.json", "-f", "yolo", "-t", "coco", "--json")
    assert run.code == 0, run.stderr
    assert any("6 fields: read as class, box and confidence" in w for w in json.loads(run.stdout)["warnings"])
    annotation = json.loads((tmp_path / "out.json").read_text())["annotations"][0]
    assert annotation["score"] == 0.87 and annotation["bbox"] == [24, 12, 16, 24]  # (0.5 - 0.125) * 64, ... by hand


def _coco_with_names(root: Path, names: list[str]) -> Path:
    images = []
    for n, name in enumerate(names, 1):
        make_image(root / "images" / name, 32, 24)
        images.append({"id": n, "file_name": name, "width": 32, "height": 24})
    annotations = [
        {"id": n, "image_id": n, "category_id": 1, "bbox": [1, 1, 5, 5], "area": 25, "iscrowd": 0}
        for n in range(1, len(names) + 1)
    ]
    (root / "instances_train.json").write_text(
        json.dumps({"images": images, "annotations": annotations, "categories": [{"id": 1, "name": "cat"}]})
    )
    return root / "instances_train.json"


@pytest.mark.parametrize(("target", "list_file"), [("yolo", "train.txt"), ("voc", "ImageSets/Main/train.txt")])
@pytest.mark.parametrize("brk", ["\n", "\r", "\u2028"])
def test_a_line_break_in_an_image_name_never_splits_a_list_file(target, list_file, brk, tmp_path):
    src = _coco_with_names(tmp_path / "src", [f"a{brk}b.jpg", "c.jpg"])
    before = snapshot(tmp_path)
    images = ["--images", "reference"]  # YOLO lists referenced images in train.txt
    run = cvkit("convert", src, tmp_path / "out", "-f", "coco", "-t", target, *images)
    assert_clean_error(run, 2, names="holds a line break, which would split")
    assert len(run.stderr.strip().splitlines()) == 1
    assert_nothing_written(before, tmp_path)
    run = cvkit("convert", src, tmp_path / "out", "-f", "coco", "-t", target, *images, "--skip-invalid")
    assert run.code == 0, run.stderr
    listed = (tmp_path / "out" / list_file).read_text().splitlines()
    assert len(listed) == 1 and listed[0].endswith("c.jpg" if target == "yolo" else "c")
    assert "line break" in (tmp_path / "out.skipped.jsonl").read_text()
