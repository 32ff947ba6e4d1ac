"""Ultralytics pose labels written by cvkit (``-w task=pose``): kpt_shape, flip_idx, lines, round trips."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

import cvkit
from conftest import make_image
from cvkit.cli import app

runner = CliRunner()

#: COCO's 17 person keypoints, in COCO's order
COCO_KEYPOINTS = [
    "nose",
    "left_eye",
    "right_eye",
    "left_ear",
    "right_ear",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
]
#: flip_idx of Ultralytics' coco-pose.yaml
ULTRALYTICS_COCO_FLIP = [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]


def coco_pose(root: Path) -> Path:
    """A person_keypoints file: one 200x100 image, a person with 2 of 17 keypoints labelled, a person without
    keypoints."""
    make_image(root / "images" / "p.jpg", 200, 100)
    keypoints = [0] * 51
    keypoints[0:3] = [50, 25, 2]  # nose, visible
    keypoints[3:6] = [40, 20, 1]  # left_eye, labelled but occluded
    data = {
        "images": [{"id": 1, "file_name": "p.jpg", "width": 200, "height": 100}],
        "categories": [
            {
                "id": 1,
                "name": "person",
                "supercategory": "person",
                "keypoints": COCO_KEYPOINTS,
                "skeleton": [[16, 14], [14, 12]],
            }
        ],
        "annotations": [
            {
                "id": 1,
                "image_id": 1,
                "category_id": 1,
                "bbox": [20, 10, 60, 40],
                "area": 2400,
                "iscrowd": 0,
                "keypoints": keypoints,
                "num_keypoints": 2,
            },
            {"id": 2, "image_id": 1, "category_id": 1, "bbox": [100, 50, 50, 50], "area": 2500, "iscrowd": 0},
        ],
    }
    path = root / "annotations" / "person_keypoints_train.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(data))
    return path


def test_coco_keypoints_become_pose_lines_with_kpt_shape_and_flip_idx(tmp_path):
    src = coco_pose(tmp_path / "coco")
    result = runner.invoke(
        app, ["convert", "coco2yolo", str(src), str(tmp_path / "yolo"), "-w", "task=pose", "--images", "copy"]
    )
    assert result.exit_code == 0, result.output
    data = yaml.safe_load((tmp_path / "yolo" / "data.yaml").read_text())
    assert data["kpt_shape"] == [17, 3]
    assert data["flip_idx"] == ULTRALYTICS_COCO_FLIP  # left_/right_ pairs swapped, nose kept
    lines = (tmp_path / "yolo" / "labels" / "train" / "p.txt").read_text().splitlines()
    first = lines[0].split()
    # box (20, 10, 60, 40) in a 200x100 image: centre (50, 30) -> 0.25 0.3, size 0.3 0.4
    assert first[:5] == ["0", "0.250000", "0.300000", "0.300000", "0.400000"]
    assert first[5:11] == ["0.250000", "0.250000", "2", "0.200000", "0.200000", "1"]  # nose (50, 25), left_eye (40, 20)
    assert first[11:] == ["0.000000", "0.000000", "0"] * 15 and len(first) == 5 + 17 * 3
    second = lines[1].split()
    assert second[5:] == ["0.000000", "0.000000", "0"] * 17  # no keypoints: unlabelled, as Ultralytics writes them
    assert data["kpt_names"] == {0: COCO_KEYPOINTS}  # newer Ultralytics YAMLs name each class's keypoints
    # the skeleton does not fit in data.yaml: said so
    assert "category attribute 'skeleton'" in result.output and "category attribute 'keypoints'" not in result.output


def test_pose_round_trips_through_yolo_and_back_to_coco(tmp_path):
    src = coco_pose(tmp_path / "coco")
    cvkit.convert(src, tmp_path / "yolo", to_format="yolo", write_options={"task": "pose", "images": "copy"})
    again = cvkit.read(tmp_path / "yolo", format="yolo").materialize()
    assert again.info["yolo"] == {"kpt_shape": [17, 3], "flip_idx": ULTRALYTICS_COCO_FLIP}
    assert again.categories.by_id(1).attributes["keypoints"] == COCO_KEYPOINTS  # from kpt_names
    cvkit.convert(
        tmp_path / "yolo", tmp_path / "yolo2", to_format="yolo", write_options={"task": "pose", "images": "copy"}
    )
    assert (tmp_path / "yolo2" / "labels" / "train" / "p.txt").read_text() == (
        tmp_path / "yolo" / "labels" / "train" / "p.txt"
    ).read_text()
    assert yaml.safe_load((tmp_path / "yolo2" / "data.yaml").read_text())["flip_idx"] == ULTRALYTICS_COCO_FLIP
    cvkit.convert(tmp_path / "yolo", tmp_path / "back.json", to_format="coco")
    back = json.loads((tmp_path / "back.json").read_text())
    original = json.loads(src.read_text())["annotations"][0]["keypoints"]
    assert [float(v) for v in original] == back["annotations"][0]["keypoints"]
    assert back["annotations"][1]["keypoints"] == [0.0] * 51
    assert back["categories"][0]["keypoints"] == COCO_KEYPOINTS


def test_keypoint_count_comes_from_the_objects_when_categories_name_none(corpus, tmp_path):
    # datumaro's COCO export leaves the categories' keypoint names empty; the objects have 3 keypoints
    src = corpus("coco", "coco_person_keypoints")
    report = cvkit.convert(src, tmp_path / "yolo", to_format="yolo", write_options={"task": "pose", "images": "copy"})
    assert yaml.safe_load((tmp_path / "yolo" / "data.yaml").read_text())["kpt_shape"] == [3, 3]
    lines = [
        line.split()
        for f in sorted((tmp_path / "yolo" / "labels").rglob("*.txt"))
        for line in f.read_text().splitlines()
    ]
    assert lines and all(len(tokens) == 5 + 3 * 3 for tokens in lines)
    assert report.written.objects == 2  # the crowd region is left out, and reported
    assert any(what == "crowd region" for what, _ in report.losses)


def test_pose_without_any_keypoints_is_refused_with_advice(tmp_path):
    make_image(tmp_path / "voc" / "JPEGImages" / "a.jpg", 20, 10)
    (tmp_path / "voc" / "Annotations").mkdir(parents=True)
    (tmp_path / "voc" / "Annotations" / "a.xml").write_text(
        "<annotation><filename>a.jpg</filename><size><width>20</width><height>10</height></size>"
        "<object><name>cat</name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>5</xmax><ymax>5</ymax></bndbox></object></annotation>"
    )
    result = runner.invoke(
        app, ["convert", "voc2yolo", str(tmp_path / "voc"), str(tmp_path / "yolo"), "-w", "task=pose"]
    )
    assert result.exit_code == 2
    assert result.output.strip() == (
        "error: -w task=pose: no keypoints in the categories nor on the first 1000 images; "
        "pass -w keypoints=N (N keypoints an object)"
    )
    assert not (tmp_path / "yolo").exists()
    result = runner.invoke(
        app,
        ["convert", "voc2yolo", str(tmp_path / "voc"), str(tmp_path / "yolo"), "-w", "task=pose", "-w", "keypoints=4"],
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "yolo" / "labels" / "train" / "a.txt").read_text().split()[5:] == [
        "0.000000",
        "0.000000",
        "0",
    ] * 4


def test_objects_with_another_keypoint_count_are_reported(tmp_path):
    src = coco_pose(tmp_path / "coco")
    data = json.loads(src.read_text())
    # 5 keypoints where the other category names 17 (the COCO reader refuses 5 on a category naming 17)
    data["categories"].append({"id": 2, "name": "robot"})
    data["annotations"][1].update(keypoints=[110, 60, 2] * 5, category_id=2)
    src.write_text(json.dumps(data))
    report = cvkit.convert(src, tmp_path / "yolo", to_format="yolo", write_options={"task": "pose", "images": "copy"})
    assert (
        report.losses[
            (
                "keypoints",
                "YOLO pose labels hold 17 keypoints an object (kpt_shape); objects with another count are written "
                "without",
            )
        ]
        == 1
    )


@pytest.mark.parametrize("layout", ["darknet", "labelimg"])
def test_pose_needs_the_ultralytics_layout(layout, tmp_path):
    src = coco_pose(tmp_path / "coco")
    result = runner.invoke(
        app,
        [
            "convert",
            "coco2yolo",
            str(src),
            str(tmp_path / "yolo"),
            "-w",
            "task=pose",
            "-w",
            f"layout={layout}",
            "--images",
            "copy",
        ],
    )
    assert result.exit_code == 2
    assert (
        result.output.strip()
        == f"error: pose labels need data.yaml's kpt_shape: use the ultralytics layout, not {layout}"
    )


def test_kpt_names_must_name_every_keypoint(tmp_path):
    make_image(tmp_path / "images" / "train" / "a.jpg", 20, 10)
    (tmp_path / "labels" / "train").mkdir(parents=True)
    (tmp_path / "labels" / "train" / "a.txt").write_text("0 0.5 0.5 0.5 0.5 0.5 0.5 2 0.1 0.1 2\n")
    (tmp_path / "data.yaml").write_text(
        "train: images/train\nval: images/train\nkpt_shape: [2, 3]\nnames: [person]\nkpt_names:\n  0: [nose]\n"
    )
    result = runner.invoke(app, ["ingest", str(tmp_path), "-o", str(tmp_path.with_name(tmp_path.name + "-x.jsonl"))])
    assert result.exit_code == 2
    assert result.output.strip() == (
        f"error: {tmp_path / 'data.yaml'}:kpt_names: kpt_names must give each class index a list of 2 keypoint names, "
        "got {0: ['nose']}"
    )
