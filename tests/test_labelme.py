"""LabelMe desktop JSON: the real corpus samples, every shape type, round trips, bad input, EXIF."""

from __future__ import annotations

import base64
import io
import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

import cvkit
from cvkit.cli import app
from cvkit.core.report import Report
from cvkit.errors import InvalidInputError
from cvkit.formats.labelme._shapes import decode_mask_png

runner = CliRunner()


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    """Embedded images are extracted into a per-test cache, never into ~/.cache."""
    monkeypatch.setenv("CVKIT_CACHE_DIR", str(tmp_path / "cache"))


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {p.relative_to(folder).as_posix(): (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*")}


# Expected counts, from the files themselves:
# bbox_detection: 3 JSON; rectangles 2 + 4 + 3 = 9; labels person, bus, car.
# instance_segmentation: 2011_000003 has 5 shapes, two "person" parts share group_id 0 -> 4 objects
#   (incl. one __ignore__); 2011_000006 has 10 shapes, four "sofa" parts share group_id 0 -> 7 objects
#   (incl. one __ignore__); 2011_000025 has 3 -> 14 objects; categories person, bottle, chair, sofa,
#   bus, car = 6 (__ignore__ is not a category).
# classification: 2 JSON, no shapes; flags cat (0001) and dog (0002) -> 2 categories.
# primitives: 1 JSON, 8 shapes, labels rectangle (x2), circle, polygon, line, point, line_strip, octagon -> 7.
# tutorial: 1 JSON, 4 polygons with 4 different labels; the image is embedded (imagePath is wrong).
CORPUS_COUNTS = {
    "bbox_detection": (3, 9, 3),
    "instance_segmentation": (3, 14, 6),
    "classification": (2, 0, 2),
    "primitives": (1, 8, 7),
    "tutorial": (1, 4, 4),
}


@pytest.mark.parametrize("name", sorted(CORPUS_COUNTS))
def test_corpus_sample_ingests_with_exact_counts(name, corpus, tmp_path):
    src = corpus("labelme_json", name)
    before = _snapshot(src)
    result = runner.invoke(app, ["ingest", str(src), "-o", str(tmp_path / "m.jsonl"), "--format", "labelme", "--json"])
    assert result.exit_code == 0, result.output
    read = json.loads(result.stdout)["read"]
    assert (read["images"], read["objects"], read["categories"]) == CORPUS_COUNTS[name]
    assert _snapshot(src) == before  # inputs never modified


@pytest.mark.parametrize("name", sorted(CORPUS_COUNTS))
def test_corpus_sample_converts_to_coco_that_pycocotools_loads(name, corpus, tmp_path):
    from pycocotools.coco import COCO

    result = runner.invoke(
        app, ["convert", "labelme2coco", str(corpus("labelme_json", name)), str(tmp_path / "out.json")]
    )
    assert result.exit_code == 0, result.output
    if name == "primitives":
        assert "not represented: 1 x point shape" in result.output and "1 x linestrip shape" in result.output
    coco = COCO(str(tmp_path / "out.json"))
    images, objects, _ = CORPUS_COUNTS[name]
    assert len(coco.getImgIds()) == images
    assert len(coco.getAnnIds()) == objects - (
        3 if name == "primitives" else 0
    )  # point, line and linestrip have no area
    for ann in coco.loadAnns(coco.getAnnIds()):
        if ann["segmentation"]:
            assert coco.annToMask(ann).shape == (
                coco.imgs[ann["image_id"]]["height"],
                coco.imgs[ann["image_id"]]["width"],
            )


def test_detects_labelme_folders_and_files(corpus):
    assert cvkit.detect_format(corpus("labelme_json", "primitives")) == "labelme"
    assert cvkit.detect_format(corpus("labelme_json", "tutorial", "apc2016_obj3.json")) == "labelme"


def test_every_primitive_shape_maps_to_its_geometry(corpus):
    ds = cvkit.read(corpus("labelme_json", "primitives"), format="labelme").materialize()
    by_label = {o.label: o for o in ds.samples[0].objects}
    rect = by_label["rectangle"]
    assert rect.shape == "box" and rect.bbox is not None
    circle = by_label["circle"]
    # centre (195, 84), rim (225, 125): r = sqrt(30^2 + 41^2) = 50.80...
    r = (30**2 + 41**2) ** 0.5
    assert circle.shape == "circle" and circle.points == [195.0, 84.0, 225.0, 125.0]
    assert circle.bbox == pytest.approx((195 - r, 84 - r, 2 * r, 2 * r))
    assert by_label["polygon"].polygon == [[69.0, 318.0, 45.0, 403.0, 173.0, 406.0, 198.0, 321.0]]
    assert by_label["point"].shape == "point" and by_label["point"].points == [345.0, 174.0]
    assert by_label["line"].shape == "line" and by_label["line"].points == [188.0, 178.0, 160.0, 224.0]
    assert by_label["line_strip"].shape == "linestrip" and len(by_label["line_strip"].points) == 6
    mask = by_label["octagon"]
    # the PNG is 100x100 at int(417.39..), 305 and holds 7275 set pixels
    assert mask.shape == "mask" and mask.rle["size"] == [450, 560] and mask.area() == 7275
    assert mask.bbox == (417.0, 305.0, 100.0, 100.0)


def test_rectangle_corners_in_any_order(tmp_path):
    _write_json(tmp_path / "a.json", [{"label": "car", "points": [[50, 40], [10, 20]], "shape_type": "rectangle"}])
    obj = cvkit.read(tmp_path / "a.json", format="labelme").samples[0].objects[0]
    assert obj.bbox == (10.0, 20.0, 40.0, 20.0)


def test_group_id_parts_merge_into_one_instance(corpus):
    ds = cvkit.read(corpus("labelme_json", "instance_segmentation"), format="labelme").materialize()
    sample = next(s for s in ds if s.path.endswith("2011_000006.jpg"))
    sofas = [o for o in sample.objects if o.label == "sofa"]
    assert len(sofas) == 1
    sofa = sofas[0]
    assert sofa.shape == "polygon" and len(sofa.polygon) == 4 and sofa.group == 0
    assert [len(p) // 2 for p in sofa.polygon] == [9, 3, 9, 4]
    persons = [o for o in sample.objects if o.label == "person"]
    assert len(persons) == 4 and all(p.group is None for p in persons)


def test_ignore_label_is_a_crowd_region_not_a_category(corpus):
    ds = cvkit.read(corpus("labelme_json", "instance_segmentation"), format="labelme").materialize()
    ignored = [o for s in ds for o in s.objects if o.label == "__ignore__"]
    assert len(ignored) == 2 and all(o.iscrowd for o in ignored)
    assert "__ignore__" not in ds.categories


def test_image_flags_are_image_labels(corpus):
    ds = cvkit.read(corpus("labelme_json", "classification"), format="labelme").materialize()
    assert {Path(s.path).name: s.labels for s in ds} == {"0001.jpg": ["cat"], "0002.jpg": ["dog"]}


def test_embedded_image_is_extracted_outside_the_input(corpus, tmp_path):
    src = corpus("labelme_json", "tutorial")
    before = _snapshot(src)
    ds = cvkit.read(src, format="labelme", extract_dir=str(tmp_path / "x")).materialize()
    sample = ds.samples[0]
    extracted = Path(sample.path)
    raw = base64.b64decode(json.loads((src / "apc2016_obj3.json").read_bytes())["imageData"])
    assert extracted.parent == tmp_path / "x" and extracted.read_bytes() == raw
    with Image.open(extracted) as image:
        assert (sample.width, sample.height) == (1210, 907) == image.size
    assert _snapshot(src) == before
    # copied out: the image lands next to its JSON under the JSON's name
    cvkit.write(cvkit.read(src, format="labelme"), tmp_path / "copy", format="labelme", images="copy")
    written = json.loads((tmp_path / "copy" / "apc2016_obj3.json").read_bytes())
    assert written["imagePath"] == "apc2016_obj3.jpg" and written["imageData"] is None
    assert (tmp_path / "copy" / "apc2016_obj3.jpg").read_bytes() == raw
    # referenced: it stays embedded, as it came
    cvkit.write(cvkit.read(src, format="labelme"), tmp_path / "ref", format="labelme")
    assert base64.b64decode(json.loads((tmp_path / "ref" / "apc2016_obj3.json").read_bytes())["imageData"]) == raw


def _write_json(path: Path, shapes: list, **top) -> Path:
    doc = {
        "version": "5.5.0",
        "flags": {},
        "shapes": shapes,
        "imagePath": path.stem + ".jpg",
        "imageData": None,
        "imageHeight": 40,
        "imageWidth": 60,
    }
    doc.update(top)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def _mask_b64(mask: np.ndarray) -> str:
    buf = io.BytesIO()
    Image.fromarray(mask.astype(np.uint8)).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


def _rich_document(folder: Path) -> Path:
    """Every shape type, groups of polygons and of masks, flags, description, crowd, extra keys."""
    mask = np.zeros((5, 6), dtype=bool)
    mask[1:4, 2:5] = True
    mask2 = np.zeros((3, 3), dtype=bool)
    mask2[0, 0] = mask2[2, 2] = True
    shapes = [
        {
            "label": "car",
            "points": [[30.5, 20], [10, 5.25]],
            "shape_type": "rectangle",
            "group_id": None,
            "flags": {"truncated": True},
            "description": "parked",
            "mask": None,
        },
        {
            "label": "road",
            "points": [[0, 0], [10, 0], [10, 10]],
            "shape_type": "polygon",
            "group_id": 3,
            "flags": {},
            "description": "",
            "mask": None,
        },
        {
            "label": "road",
            "points": [[20, 20], [30, 20], [30, 30], [20, 30]],
            "shape_type": "polygon",
            "group_id": 3,
            "flags": {"wet": False},
            "description": "",
            "mask": None,
        },
        {
            "label": "ball",
            "points": [[40, 20], [44, 23]],
            "shape_type": "circle",
            "group_id": None,
            "flags": {},
            "description": "",
            "mask": None,
        },
        {
            "label": "eye",
            "points": [[5, 6]],
            "shape_type": "point",
            "group_id": 7,
            "flags": {},
            "description": "",
            "mask": None,
        },
        {
            "label": "edge",
            "points": [[1, 2], [3, 4]],
            "shape_type": "line",
            "group_id": None,
            "flags": {},
            "description": "",
            "mask": None,
        },
        {
            "label": "lane",
            "points": [[1, 2], [3, 4], [5, 9]],
            "shape_type": "linestrip",
            "group_id": None,
            "flags": {},
            "description": "",
            "mask": None,
        },
        {
            "label": "blob",
            "points": [[12.7, 30.2], [17, 34]],
            "shape_type": "mask",
            "group_id": None,
            "flags": {},
            "description": "",
            "mask": _mask_b64(mask),
        },
        {
            "label": "spot",
            "points": [[40, 2], [42, 4]],
            "shape_type": "mask",
            "group_id": 1,
            "flags": {},
            "description": "",
            "mask": _mask_b64(mask2),
        },
        {
            "label": "spot",
            "points": [[50, 30], [52, 32]],
            "shape_type": "mask",
            "group_id": 1,
            "flags": {},
            "description": "",
            "mask": _mask_b64(mask2),
        },
        {
            "label": "__ignore__",
            "points": [[0, 30], [5, 30], [5, 39]],
            "shape_type": "polygon",
            "group_id": None,
            "flags": {},
            "description": "",
            "mask": None,
        },
        {
            "label": "crowd",
            "points": [[50, 0], [59, 9]],
            "shape_type": "rectangle",
            "group_id": None,
            "flags": {"iscrowd": True},
            "description": "",
            "mask": None,
            "line_color": [255, 0, 0, 128],
        },
    ]
    return _write_json(
        folder / "sub" / "rich.json",
        shapes,
        flags={"__ignore__": False, "day": True, "night": False},
        lineColor=[0, 255, 0, 128],
    )


def _normalised(shape: dict) -> dict:
    out = dict(shape)
    out["description"] = shape.get("description") or ""
    out["flags"] = shape.get("flags") or {}
    if shape.get("mask"):
        out["mask"] = decode_mask_png(shape["mask"], Path("x"), "m").tolist()
    return out


def test_labelme_to_manifest_to_labelme_is_lossless(tmp_path):
    from cvkit.core.imageinfo import read_image_info  # noqa: F401  (sizes come from the JSON: no image needed)

    src = _rich_document(tmp_path / "src")
    manifest = tmp_path / "m.jsonl"
    assert (
        runner.invoke(app, ["ingest", str(tmp_path / "src"), "-o", str(manifest), "--format", "labelme"]).exit_code == 0
    )
    result = runner.invoke(app, ["export", str(manifest), str(tmp_path / "back"), "--to", "labelme", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["not_represented"] == []
    original = json.loads(src.read_bytes())
    back = json.loads((tmp_path / "back" / "sub" / "rich.json").read_bytes())
    assert back["version"] == "5.5.0" and back["imageData"] is None
    assert (back["imageHeight"], back["imageWidth"]) == (40, 60)
    assert back["flags"] == original["flags"]
    assert back["lineColor"] == original["lineColor"]
    assert [_normalised(s) for s in back["shapes"]] == [_normalised(s) for s in original["shapes"]]
    # imagePath points from the new JSON to where the image is
    assert os.path.normpath(tmp_path / "back" / "sub" / back["imagePath"]) == os.path.normpath(
        tmp_path / "src" / "sub" / "rich.jpg"
    )


def test_mask_groups_union_and_crowd_flags(tmp_path):
    _rich_document(tmp_path)
    sample = cvkit.read(tmp_path, format="labelme").samples[0]
    spot = [o for o in sample.objects if o.label == "spot"]
    assert len(spot) == 1 and spot[0].shape == "mask" and spot[0].area() == 4 and spot[0].group == 1
    assert spot[0].bbox == (40.0, 2.0, 13.0, 31.0)
    crowd = next(o for o in sample.objects if o.label == "crowd")
    assert crowd.iscrowd and "iscrowd" not in crowd.attributes
    car = next(o for o in sample.objects if o.label == "car")
    assert car.attributes == {"truncated": True, "description": "parked"}
    assert sample.labels == ["day"]


def test_primitives_round_trip_through_manifest(corpus, tmp_path):
    src = corpus("labelme_json", "primitives")
    cvkit.convert(src, tmp_path / "m.jsonl", to_format="manifest", from_format="labelme")
    cvkit.convert(tmp_path / "m.jsonl", tmp_path / "back", to_format="labelme", from_format="manifest")
    original = json.loads((src / "primitives.json").read_bytes())["shapes"]
    back = json.loads((tmp_path / "back" / "primitives.json").read_bytes())["shapes"]
    assert [_normalised(s) for s in back] == [_normalised(s) for s in original]


def test_writer_embeds_image_data_only_when_asked(tmp_path, small):
    cvkit.write(small, tmp_path / "plain", format="labelme")
    doc = json.loads((tmp_path / "plain" / "images" / "cat_01.json").read_bytes())
    assert doc["imageData"] is None and doc["imagePath"] == "../../src/images/cat_01.jpg"
    assert doc["shapes"][0]["points"] == [[4, 6], [24, 36]] and doc["shapes"][0]["shape_type"] == "rectangle"
    cvkit.write(small, tmp_path / "embedded", format="labelme", images="copy", image_data=True)
    doc = json.loads((tmp_path / "embedded" / "images" / "cat_01.json").read_bytes())
    assert doc["imagePath"] == "cat_01.jpg"
    assert base64.b64decode(doc["imageData"]) == (tmp_path / "src" / "images" / "cat_01.jpg").read_bytes()


def test_keypoints_are_reported_not_silently_dropped(tmp_path):
    from cvkit.core.model import Annotation, Dataset, Sample

    ds = Dataset(
        [
            Sample(
                "a.jpg",
                10,
                10,
                objects=[Annotation("person", (1.0, 1.0, 5.0, 5.0), shape="box", keypoints=[2.0, 2.0, 2.0])],
            )
        ]
    )
    report = cvkit.write(ds, tmp_path / "out", format="labelme")
    assert [w for w, _ in report.losses] == ["keypoints"]


# --- bad input ------------------------------------------------------------------------------
BAD_SHAPES = [
    (
        {"label": "a", "points": [[0, 0], [1, 1]], "shape_type": "ellipse"},
        "shapes[1].shape_type: unknown shape type 'ellipse'; LabelMe shapes are rectangle, polygon, circle, point, "
        "line, linestrip, mask, oriented_rectangle, rotation",
    ),
    (
        {"label": "a", "points": [[0, 0], [1, 1]], "shape_type": 3},
        "shapes[1].shape_type: 'shape_type' must be a string",
    ),
    (
        {"label": "a", "points": [[0, 0], [1, 1]], "shape_type": "polygon"},
        "shapes[1].points: a polygon needs at least 3 points, got 2",
    ),
    (
        {"label": "a", "points": [[0, 0]], "shape_type": "rectangle"},
        "shapes[1].points: a rectangle needs 2 points (opposite corners), got 1",
    ),
    ({"label": "a", "shape_type": "rectangle"}, "shapes[1].points: 'points' must be a list of [x, y] pairs"),
    (
        {"label": "a", "points": [[0, 0, 1], [2, 2]], "shape_type": "rectangle"},
        "shapes[1].points: 'points' must be a list of [x, y] pairs",
    ),
    (
        {"label": "a", "points": [[0, "x"], [2, 2]], "shape_type": "rectangle"},
        "shapes[1].points: 'points' must be a list of [x, y] pairs",
    ),
    (
        {"label": "a", "points": [[0, 0], [2, 2]], "shape_type": "rectangle", "flags": ["x"]},
        "shapes[1].flags: 'flags' must be an object of name: true/false",
    ),
]


@pytest.mark.parametrize(("shape", "message"), BAD_SHAPES)
def test_bad_shape_names_file_and_json_path(shape, message, tmp_path):
    good = {"label": "ok", "points": [[0, 0], [4, 4]], "shape_type": "rectangle"}
    path = _write_json(tmp_path / "in" / "bad.json", [good, shape])
    result = runner.invoke(app, ["convert", "labelme2coco", str(tmp_path / "in"), str(tmp_path / "out.json")])
    assert result.exit_code == 2
    assert result.output.strip().endswith(f"error: {path}:{message}") or f"error: {path}:{message}" in result.output
    assert not (tmp_path / "out.json").exists()
    # --skip-invalid drops the one shape and keeps the image and its other shapes
    result = runner.invoke(
        app, ["convert", "labelme2coco", str(tmp_path / "in"), str(tmp_path / "out.json"), "--skip-invalid", "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["read"]["images"], report["read"]["objects"]) == (1, 1)
    assert report["skipped"] == [
        {"file": str(path), "location": message.split(":")[0], "reason": message.split(": ", 1)[1]}
    ]
    assert (tmp_path / "out.json.skipped.jsonl").is_file()


def test_malformed_json_names_line_and_column(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"shapes": [\n  {"label": "a",}\n]}')
    with pytest.raises(InvalidInputError) as info:
        cvkit.read(path, format="labelme").materialize()
    assert info.value.file == str(path) and info.value.location.startswith("line 2, column ")
    assert "not valid JSON" in info.value.message


def test_mask_with_wrong_size_is_reported(tmp_path):
    shape = {
        "label": "m",
        "points": [[0, 0], [9, 9]],
        "shape_type": "mask",
        "mask": _mask_b64(np.ones((3, 3), dtype=bool)),
    }
    path = _write_json(tmp_path / "m.json", [shape])
    with pytest.raises(InvalidInputError, match=r"mask image is 3x3 but its box \[0, 0\]-\[9, 9\] is 10x10"):
        cvkit.read(path, format="labelme").materialize()


# --- EXIF orientation ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "displayed"),
    [
        ("Landscape_1", (1800, 1200)),
        ("Landscape_3", (1800, 1200)),
        ("Landscape_6", (1800, 1200)),
        ("Landscape_8", (1800, 1200)),
        ("Portrait_6", (1200, 1800)),
    ],
)
def test_sizes_are_of_the_displayed_image(name, displayed, corpus, tmp_path):
    image = corpus("exif_orientation", f"{name}.jpg")
    json_path = tmp_path / "in" / f"{name}.json"
    json_path.parent.mkdir()
    rel = os.path.relpath(image, json_path.parent)
    # no imageHeight/imageWidth: the reader takes the displayed size from the image header
    json_path.write_text(
        json.dumps(
            {
                "version": "4.0.0",
                "flags": {},
                "shapes": [
                    {
                        "label": "x",
                        "points": [[10, 10], [displayed[0] - 1, displayed[1] - 1]],
                        "shape_type": "rectangle",
                    }
                ],
                "imagePath": rel,
                "imageData": None,
            }
        )
    )
    sample = cvkit.read(json_path, format="labelme").samples[0]
    assert (sample.width, sample.height) == displayed
    cvkit.write(cvkit.read(json_path, format="labelme"), tmp_path / "out", format="labelme", image_data=True)
    doc = json.loads((tmp_path / "out" / f"{name}.json").read_bytes())
    assert (doc["imageWidth"], doc["imageHeight"]) == displayed
    assert (
        Image.open(io.BytesIO(base64.b64decode(doc["imageData"]))).size == displayed
    )  # embedded as displayed, like LabelMe


def test_report_counts_skipped_items(tmp_path):
    _write_json(tmp_path / "a.json", [{"label": "a", "points": [[0, 0]], "shape_type": "line"}])
    report = Report(skip_invalid=True)
    ds = cvkit.read(tmp_path, format="labelme", report=report).materialize()
    assert len(ds) == 1 and ds.samples[0].objects == []
    assert (
        report.skipped[0].location == "shapes[0].points" and report.skipped[0].reason == "a line needs 2 points, got 1"
    )


@pytest.mark.parametrize("name", ["primitives", "instance_segmentation", "tutorial", "classification"])
def test_parallel_reading_gives_the_same_samples_in_order(name, corpus, monkeypatch, tmp_path):
    """Forked workers send samples back packed as tuples; nothing may change on the way."""
    from cvkit.formats import labelme

    src = corpus("labelme_json", name)
    serial = cvkit.read(src, format="labelme", workers=1, extract_dir=str(tmp_path / "x1")).materialize()
    monkeypatch.setattr(labelme, "PARALLEL_MIN_FILES", 1)
    parallel = cvkit.read(src, format="labelme", workers=2, extract_dir=str(tmp_path / "x1")).materialize()
    assert parallel.samples == serial.samples and len(serial.samples) > 0
    assert parallel.categories.names() == serial.categories.names()
