"""FiftyOne directory exports written by FiftyOne 1.22.1: read with their counts, masks decoded, and the
FiftyOneImageDetectionDataset written as FiftyOne's importer reads it (labels as indices into classes)."""

from __future__ import annotations

import base64
import io
import json
import zlib
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

import cvkit
from conftest import corpus_path, make_image
from cvkit.errors import CvkitError


def test_image_detection_export_reads_with_its_counts():
    root = corpus_path("fiftyone", "kitti_fo_image_detection")
    assert cvkit.detect_format(root) == "fiftyone"
    ds = cvkit.read(root).materialize()
    assert len(ds) == 2
    assert Counter(o.label for s in ds for o in s.objects) == {
        "Car": 1,
        "Cyclist": 1,
        "Pedestrian": 1,
        "Truck": 1,
        "DontCare": 4,
    }
    assert all(
        set(o.attributes) == {"occluded", "alpha", "dimensions", "location", "rotation_y", "truncated"}
        for s in ds
        for o in s.objects
    )


def test_fiftyone_dataset_export_reads_fields_splits_and_masks():
    root = corpus_path("fiftyone", "coco_instances_fo_dataset")
    raw = json.loads((root / "samples.json").read_text())["samples"]
    assert cvkit.detect_format(root) == "fiftyone"
    ds = cvkit.read(root).materialize()
    assert Counter(s.split for s in ds) == {"train": 1, "val": 1}
    assert ds.categories.names() == ["a", "b", "c"]  # metadata.json's default_classes
    fields = Counter(o.meta["fiftyone"]["field"] for s in ds for o in s.objects)
    assert fields == {"gt_detections": 3, "gt_segmentations": 2}
    by_path = {s.path: s for s in ds}
    for record in raw:
        sample = by_path[record["filepath"]]
        width, height = record["metadata"]["width"], record["metadata"]["height"]
        for det, obj in zip(
            record.get("gt_segmentations", {}).get("detections", []),
            [o for o in sample.objects if o.meta["fiftyone"]["field"] == "gt_segmentations"],
            strict=True,
        ):
            mask = np.load(io.BytesIO(zlib.decompress(base64.b64decode(det["mask"]["$binary"]["base64"]))))
            assert obj.area() == mask.sum()
            x, y, w, h = det["bounding_box"]
            assert obj.bbox == pytest.approx((x * width, y * height, w * width, h * height))
    extras = next(o for o in by_path["data/b.jpg"].objects if o.attributes.get("x") == 1)
    assert extras.attributes["y"] == "hello"
    assert sum(o.iscrowd for s in ds for o in s.objects) == 2


def test_written_image_detection_dataset_has_classes_indices_and_relative_boxes(small, tmp_path):
    out = tmp_path / "fo"
    report = cvkit.write(small, out, format="fiftyone")
    doc = json.loads((out / "labels.json").read_text())
    assert doc["classes"] == ["cat", "dog"]
    assert sorted(p.name for p in (out / "data").iterdir()) == ["cat_01.jpg", "dog_02.png", "empty_03.jpg"]
    # cat_01 is 64 x 48 with cat at (4, 6, 20, 30): relative (4/64, 6/48, 20/64, 30/48)
    cat = next(d for d in doc["labels"]["cat_01"] if d["label"] == 0)
    assert cat["bounding_box"] == pytest.approx([4 / 64, 6 / 48, 20 / 64, 30 / 48])
    assert doc["labels"]["empty_03"] == []
    assert ("split", "a FiftyOneImageDetectionDataset has no splits (write one per split)") in report.losses


def test_fiftyone_bad_labels_name_the_json_path(tmp_path):
    make_image(tmp_path / "data" / "a.png", 8, 8)
    (tmp_path / "labels.json").write_text(
        '{"classes": ["x"], "labels": {"a": [{"label": 3, "bounding_box": [0, 0, 1, 1]}]}}'
    )
    with pytest.raises(CvkitError) as info:
        cvkit.read(tmp_path, format="fiftyone").materialize()
    assert "labels.a[0].label" in info.value.describe() and Path(info.value.file).name == "labels.json"


def test_fiftyone_bridge_without_fiftyone_says_how_to_install(monkeypatch, small):
    import sys

    monkeypatch.setitem(sys.modules, "fiftyone", None)  # as when the optional extra is not installed
    with pytest.raises(CvkitError, match=r"cvkit\[fiftyone\]"):
        cvkit.to_fiftyone(small)
