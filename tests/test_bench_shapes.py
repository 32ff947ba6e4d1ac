"""The benchmark matrix's inputs are valid: every shape ``benchmarks/shapes.py`` writes converts with cvkit to the
objects the generator put in (its own ground truth, computed from the numbers it wrote, not read back)."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

import pytest
import yaml

from conftest import corpus_path
from cvkit.api import convert

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import shapes  # benchmarks/ holds the generators (it is no installed package)


def _key(label: str, box: list[float] | tuple[float, ...]) -> tuple[str, tuple[float, ...]]:
    return label, tuple(round(v, 3) for v in box)


def _coco_objects(path: Path) -> dict[str, Counter]:
    """image file name -> Counter of (label, rounded box) of a COCO file cvkit wrote."""
    doc = json.loads(path.read_text())
    names = {c["id"]: c["name"] for c in doc["categories"]}
    files = {image["id"]: Path(image["file_name"]).name for image in doc["images"]}
    found: dict[str, Counter] = {name: Counter() for name in files.values()}
    for ann in doc["annotations"]:
        found[files[ann["image_id"]]][_key(names[ann["category_id"]], ann["bbox"])] += 1
    return found


def _expected(truth: shapes.Truth) -> dict[str, Counter]:
    return {Path(name).name: Counter(_key(label, box) for label, box in objects) for name, objects in truth.items()}


@pytest.fixture(autouse=True)
def _jpeg() -> None:
    corpus_path("labelme_json", "primitives", "primitives.jpg")


@pytest.mark.parametrize("shape", shapes.VOC_SHAPES)
def test_voc_shapes_convert_to_their_boxes(tmp_path: Path, shape: str) -> None:
    truth = shapes.write_voc(tmp_path / "in", shape, 12)
    convert(shapes.voc_input(tmp_path / "in", shape), tmp_path / "out.json", "coco")
    found = _coco_objects(tmp_path / "out.json")
    assert found == _expected(truth)
    assert sum(c.total() for c in found.values()) == sum(map(len, truth.values())) >= 12


@pytest.mark.parametrize("shape", shapes.LABELME_SHAPES)
def test_labelme_shapes_convert_to_their_boxes(tmp_path: Path, shape: str) -> None:
    truth = shapes.write_labelme(tmp_path / "in", shape, 6, per_file=4)
    convert(tmp_path / "in", tmp_path / "out.json", "coco", from_format="labelme")
    assert _coco_objects(tmp_path / "out.json") == _expected(truth)


@pytest.mark.parametrize("shape", shapes.COCO_SHAPES)
def test_coco_shapes_convert_to_their_yolo_lines(tmp_path: Path, shape: str) -> None:
    source, truth = shapes.write_coco(tmp_path / "in", shape, 8, per_image=5)
    sizes = {
        image["file_name"]: (image["width"], image["height"]) for image in json.loads(source.read_text())["images"]
    }
    convert(source, tmp_path / "out", "yolo", write_options={"images": "reference"})
    names = yaml.safe_load((tmp_path / "out" / "data.yaml").read_text())["names"]
    names = names if isinstance(names, list) else [names[k] for k in sorted(names)]
    for name, objects in truth.items():
        width, height = sizes[name]
        expected = sorted(
            (label, [(x + w / 2) / width, (y + h / 2) / height, w / width, h / height])
            for label, (x, y, w, h) in objects
        )
        lines = (tmp_path / "out" / "labels" / "train" / Path(name).with_suffix(".txt")).read_text().split("\n")
        written = sorted(
            (names[int(fields[0])], [float(v) for v in fields[1:]])
            for fields in (line.split() for line in lines if line)
        )
        assert [label for label, _ in written] == [label for label, _ in expected], name
        assert [box for _, box in written] == [pytest.approx(box, abs=2e-6) for _, box in expected], name
    if shape == "crowds":  # the crowd regions are in the input, and left out as YOLO has no crowd flag
        annotations = json.loads(source.read_text())["annotations"]
        assert sum(a["iscrowd"] for a in annotations) == 8
