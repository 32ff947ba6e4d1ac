"""Hostile inputs for Open Images, LVIS, KITTI and FiftyOne through the CLI: one clean error line naming the file
and place, exit 2, nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import make_image
from hostile.harness import assert_clean_error, assert_nothing_written, cvkit, snapshot

HEADER = (
    "ImageID,Source,LabelName,Confidence,XMin,XMax,YMin,YMax,IsOccluded,IsTruncated,IsGroupOf,IsDepiction,IsInside\n"
)


def _open_images(root: Path) -> tuple[str, str]:
    (root / "annotations").mkdir(parents=True)
    (root / "annotations" / "train-annotations-bbox.csv").write_text(
        HEADER + "a,xclick,/m/0,1,0.1,0.2,0.1,1.5,0,0,0,0,0\n"
    )
    (root / "annotations" / "images.meta").write_text("a 10 10\n")
    return "train-annotations-bbox.csv:line 2", "open_images"


def _kitti(root: Path) -> tuple[str, str]:
    (root / "label_2").mkdir(parents=True)
    make_image(root / "image_2" / "000000.png", 20, 10)
    (root / "label_2" / "000000.txt").write_text("Car 0.00 0 -1.57 10.0 2.0 5.0 8.0 1.5 1.6 3.7 1.0 1.5 20.0 -1.56\n")
    return "000000.txt:line 1", "kitti"


def _fiftyone(root: Path) -> tuple[str, str]:
    make_image(root / "data" / "a.jpg", 10, 10)
    (root / "labels.json").write_text(
        '{"classes": null, "labels": {"a": [{"label": "x", "bounding_box": [0, 0, -1, 1]}]}}'
    )
    return "labels.json:labels.a[0].bounding_box", "fiftyone"


def _lvis(root: Path) -> tuple[str, str]:
    root.mkdir(parents=True)
    (root / "lvis_v1_val.json").write_text(
        '{"categories": [{"id": 1, "name": "a", "frequency": "r"}], "images": [{"id": 1}], "annotations": []}'
    )
    return "lvis_v1_val.json:images[0]", "lvis"


@pytest.mark.parametrize(
    "make", [_open_images, _kitti, _fiftyone, _lvis], ids=["open_images", "kitti", "fiftyone", "lvis"]
)
def test_bad_input_is_one_clean_error_and_nothing_is_written(make, tmp_path):
    source = tmp_path / "in"
    where, name = make(source)
    before = snapshot(tmp_path)
    run = cvkit("convert", source, tmp_path / "out", "--from", name, "--to", "coco")
    assert_clean_error(run)
    assert where in run.stderr, run.stderr
    assert_nothing_written(before, tmp_path)
