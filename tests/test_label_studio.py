"""Label Studio JSON: the corpus exports Label Studio and its SDK wrote, the import files cvkit writes, brush RLE.

Oracle: label-studio-converter (Label Studio's own converter and brush codec, the dev extra): it converts the
exports and cvkit's import files to COCO and JSON-MIN, and its brush functions encode and decode masks; the SDK's
test image (thresholded at 128 as its test does) is the brush mask's truth.
"""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from label_studio_converter import Converter, brush
from PIL import Image

import cvkit
from conftest import corpus_path, make_image
from cvkit.core.categories import Category, CategorySet
from cvkit.core.masks import decode, encode
from cvkit.core.model import Annotation, Dataset, Sample
from cvkit.core.report import Report
from cvkit.errors import CvkitError
from cvkit.formats.label_studio._brush import decode_mask, encode_mask

EXPORTS = ("label_studio", "converter_exports")


def _read(path: Path, **options) -> tuple[Dataset, Report]:
    report = Report()
    return cvkit.read(path, format="label_studio", report=report, **options).materialize(), report


def _oracle_coco(config: Path, tasks: Path, out: Path) -> dict:
    """Label Studio's converter's COCO of ``tasks`` (exports carry task ids; an import file gets them on import)."""
    data = json.loads(tasks.read_text())
    for number, task in enumerate(data, 1):
        task.setdefault("id", number)
    out.mkdir(parents=True, exist_ok=True)
    numbered = out / "numbered.json"
    numbered.write_text(json.dumps(data))
    Converter(config=config.read_text(), project_dir=str(out), download_resources=False).convert_to_coco(
        str(numbered), str(out / "coco"), is_dir=False
    )
    return json.loads((out / "coco" / "result.json").read_text())


# --- the corpus ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("parts", "images", "objects", "labels"),
    [
        (("test_export_json_min", "data.json"), 1, 1, []),
        (("test_export_yolo", "data.json"), 2, 6, []),
        (("test_export_yolo", "data_polygons.json"), 1, 1, []),
        (("test_export_csv", "csv_test2.json"), 1, 0, ['Yes " "" \n \t \t а б в \n']),
        (("test_export_csv", "csv_test_history.json"), 1, 0, ["Positive"]),
    ],
)
def test_full_exports_read_with_the_corpus_counts(parts, images, objects, labels):
    path = corpus_path(*EXPORTS, *parts)
    assert cvkit.detect_format(path) == "label_studio"
    ds, report = _read(path)
    assert (report.read.images, report.read.objects) == (images, objects)
    assert [label for s in ds for label in s.labels] == labels


def test_boxes_match_label_studios_converter(tmp_path):
    folder = corpus_path(*EXPORTS, "test_export_yolo")
    ds, _ = _read(folder / "data.json")
    assert ds.categories.names() == ["parasites", "white"]
    assert [len({o.meta["label_studio"]["annotation"] for o in s.objects}) for s in ds] == [
        2,
        1,
    ]  # 3 annotations, 2 annotators
    coco = _oracle_coco(folder / "label_config.xml", folder / "data.json", tmp_path)
    ours = sorted(tuple(round(v, 6) for v in o.bbox) for s in ds for o in s.objects)
    assert ours == sorted(tuple(round(v, 6) for v in a["bbox"]) for a in coco["annotations"])


def test_json_min_reads_as_the_full_export_it_came_from():
    full, _ = _read(corpus_path(*EXPORTS, "test_export_yolo", "data.json"))
    for name, source in (("result_rectangles.json", "data.json"), ("result_polygons.json", "data_polygons.json")):
        minimal, _ = _read(corpus_path("label_studio", "sdk_json_min", name))
        original, _ = _read(corpus_path(*EXPORTS, "test_export_yolo", source))
        assert cvkit.detect_format(corpus_path("label_studio", "sdk_json_min", name)) == "label_studio"
        shapes = lambda ds: sorted((s.id, o.label, tuple(round(v, 6) for v in o.bbox)) for s in ds for o in s.objects)  # noqa: E731
        assert shapes(minimal) == shapes(original)
    assert (
        _read(corpus_path("label_studio", "sdk_json_min", "result_rectangles.json"))[1].read.images
        == len(full.samples)
        == 2
    )
    assert _read(corpus_path("label_studio", "sdk_json_min", "result_polygon.json"))[1].read.objects == 1


def test_brush_prediction_decodes_to_the_sdk_test_mask():
    folder = corpus_path("label_studio", "sdk_brush_task")
    ds, report = _read(folder / "task.json")
    assert (report.read.images, report.read.objects) == (1, 1)
    obj = ds.samples[0].objects[0]
    assert (obj.label, obj.shape, obj.score) == ("Airplane", "mask", 0.5)
    assert obj.meta["label_studio"]["source"] == "prediction" and obj.meta["label_studio"]["model_version"] == "v1"
    truth = np.array(Image.open(folder / "test.png").convert("L")) > 128  # what the SDK's test encoded
    assert np.array_equal(decode(obj.rle).astype(bool), truth)


def test_brush_codec_matches_the_sdk_byte_for_byte():
    rng = np.random.default_rng(7)
    for shape in ((37, 53), (1, 1), (300, 300)):
        mask = (rng.random(shape) > 0.7).astype(np.uint8)
        mask[: shape[0] // 2] = 1  # long runs (past 2**16 values) as well as single pixels
        assert encode_mask(mask) == brush.mask2rle(mask * 255)
        assert np.array_equal(decode_mask(brush.mask2rle(mask * 255), shape[1], shape[0]), mask)
    with pytest.raises(ValueError, match="holds 16 values"):
        decode_mask(brush.mask2rle(np.ones((2, 2), np.uint8)), 3, 3)


def test_brush_round_trip_gives_label_studio_the_same_rle(tmp_path):
    task = corpus_path("label_studio", "sdk_brush_task", "task.json")
    cvkit.write(cvkit.read(task, format="label_studio"), tmp_path / "out.json", format="label_studio")
    written = json.loads((tmp_path / "out.json").read_text())[0]["predictions"][0]
    original = json.loads(task.read_text())["predictions"][0]
    assert written["result"][0]["value"]["rle"] == original["result"][0]["value"]["rle"]
    assert written["model_version"] == "v1" and written["result"][0]["score"] == 0.5


# --- coordinates -----------------------------------------------------------------------
def _task(value: dict, width: int, height: int, kind: str = "rectanglelabels") -> dict:
    return {
        "id": 1,
        "data": {"image": "/data/upload/1/a.png"},
        "annotations": [
            {
                "id": 1,
                "result": [
                    {
                        "id": "r1",
                        "type": kind,
                        "from_name": "label",
                        "to_name": "image",
                        "original_width": width,
                        "original_height": height,
                        "value": {**value, kind: ["car"]},
                    }
                ],
            }
        ],
    }


def _export(folder: Path, *tasks: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "export.json"
    path.write_text(json.dumps(list(tasks)))
    return path


def test_rotated_rectangle_turns_about_its_top_left_corner(tmp_path):
    value = {"x": 10, "y": 20, "width": 30, "height": 10, "rotation": 90}
    path = _export(tmp_path / "in", _task(value, 200, 100))
    obj = _read(path)[0].samples[0].objects[0]
    # 60x10 px from (20, 20), turned a quarter clockwise about that corner: down the left side, 10 px to the left
    assert [round(v, 6) for v in obj.polygon[0]] == [20.0, 20.0, 20.0, 80.0, 10.0, 80.0, 10.0, 20.0]
    assert tuple(round(v, 6) for v in obj.bbox) == (10.0, 20.0, 10.0, 60.0)
    cvkit.write(_read(path)[0], tmp_path / "back.json", format="label_studio")
    back = json.loads((tmp_path / "back.json").read_text())[0]["annotations"][0]["result"][0]["value"]
    assert {k: round(back[k], 9) for k in value} == value


def test_rotation_agrees_with_label_studios_converter_on_a_square_image(tmp_path):
    # the converter rotates in percent space, which equals pixels only on a square image
    value = {"x": 40, "y": 30, "width": 20, "height": 10, "rotation": 30}
    obj = _read(_export(tmp_path / "in", _task(value, 500, 500)))[0].samples[0].objects[0]
    x, y, w, h = Converter.rotated_rectangle(value)
    assert [round(v, 6) for v in obj.bbox] == [round(v * 5, 6) for v in (x, y, w, h)]


def test_percent_and_pixels_round_trip_both_ways(tmp_path):
    make_image(tmp_path / "src" / "a.png", 640, 480)
    sample = Sample(
        "a.png",
        640,
        480,
        objects=[
            Annotation("car", (64.5, 48.25, 100.0, 50.5), attributes={"parked": True, "doors": 4, "note": "red"}),
            Annotation(
                "road", (10.0, 10.0, 20.0, 30.0), shape="polygon", polygon=[[10.0, 10.0, 30.0, 10.0, 30.0, 40.0]]
            ),
            Annotation("sign", None, shape="point", points=[320.0, 240.0]),
        ],
        labels=["day"],
    )
    ds = Dataset(
        [sample], CategorySet([Category(1, "car"), Category(2, "road"), Category(3, "sign")]), root=tmp_path / "src"
    )
    cvkit.write(ds, tmp_path / "out", format="label_studio")
    task = json.loads((tmp_path / "out" / "tasks.json").read_text())[0]
    assert (
        task["data"]["image"] == "/data/local-files/?d=images/a.png"
        and (tmp_path / "out" / "images" / "a.png").is_file()
    )
    values = {r["type"]: r["value"] for r in task["annotations"][0]["result"]}
    assert [values["rectanglelabels"][k] for k in ("x", "y", "width", "height")] == [
        64.5 / 6.4,
        48.25 / 4.8,
        100 / 6.4,
        50.5 / 4.8,
    ]
    assert values["keypointlabels"]["x"] == 50.0 and values["choices"]["choices"] == ["day"]
    back = cvkit.read(tmp_path / "out", format="label_studio").materialize().samples[0]
    assert back.labels == ["day"] and (back.width, back.height) == (640, 480)
    for got, want in zip(back.objects, sample.objects):
        assert got.label == want.label
        assert all(math.isclose(a, b, abs_tol=1e-9) for a, b in zip(got.bbox or got.points, want.bbox or want.points))
    config = ET.parse(tmp_path / "out" / "label_config.xml").getroot()
    declared = {el.get("name"): el.tag for el in config if el.get("toName") == "image"}
    used = {r["from_name"]: r["type"] for r in task["annotations"][0]["result"]}
    assert {name: tag.lower() for name, tag in declared.items()} == {
        name: {"textarea": "textarea", "number": "number"}.get(kind, kind) for name, kind in used.items()
    }


def test_written_import_file_converts_with_label_studio(tmp_path):
    folder = corpus_path(*EXPORTS, "test_export_yolo")
    cvkit.write(cvkit.read(folder / "data.json", format="label_studio"), tmp_path / "out", format="label_studio")
    written = json.loads((tmp_path / "out" / "tasks.json").read_text())
    assert [len(t["annotations"]) for t in written] == [2, 1] and "predictions" not in written[0]
    ours = _oracle_coco(tmp_path / "out" / "label_config.xml", tmp_path / "out" / "tasks.json", tmp_path / "a")
    theirs = _oracle_coco(folder / "label_config.xml", folder / "data.json", tmp_path / "b")
    boxes = lambda coco: sorted(tuple(round(v, 6) for v in a["bbox"]) for a in coco["annotations"])  # noqa: E731
    assert boxes(ours) == boxes(theirs)


def test_predictions_keep_scores_and_annotations_report_them(tmp_path):
    make_image(tmp_path / "src" / "a.png", 100, 100)

    def ds() -> Dataset:
        objects = [Annotation("car", (1.0, 2.0, 3.0, 4.0), score=0.9)]
        samples = [Sample("a.png", 100, 100, objects=objects)]
        return Dataset(samples, CategorySet([Category(1, "car")]), root=tmp_path / "src")

    report = cvkit.write(ds(), tmp_path / "ann.json", format="label_studio")
    assert "score" in {what for what, _ in report.losses}
    cvkit.write(ds(), tmp_path / "pred.json", format="label_studio", **{"as": "predictions"})
    prediction = json.loads((tmp_path / "pred.json").read_text())[0]["predictions"][0]
    assert prediction["result"][0]["score"] == 0.9 and prediction["score"] == 0.9
    assert cvkit.read(tmp_path / "pred.json", format="label_studio").materialize().samples[0].objects[0].score == 0.9


# --- image references ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("reference", "stored"),
    [
        ("/data/upload/29/example.png", "example.png"),
        ("/data/upload/29/example.png", "29/example.png"),
        ("/data/upload/3/e97d4735-000000000025.jpg", "000000000025.jpg"),
        ("/data/local-files/?d=photos%2Fday%2Fa.jpg", "photos/day/a.jpg"),
        ("https://example.com/bucket/x/b.jpg?token=1", "b.jpg"),
    ],
)
def test_image_references_resolve_under_image_root(tmp_path, reference, stored):
    make_image(tmp_path / "media" / stored, 30, 20)
    path = tmp_path / "export.json"
    path.write_text(json.dumps([{"id": 5, "data": {"image": reference}, "annotations": []}]))
    sample = _read(path, image_root=str(tmp_path / "media"))[0].samples[0]
    assert (sample.path, sample.width, sample.height) == (stored, 30, 20)


def test_bad_brush_and_missing_size_are_named(tmp_path):
    path = tmp_path / "export.json"
    path.write_text(json.dumps([_task({"format": "rle", "rle": [0, 0, 0, 60]}, 4, 4, "brushlabels")]))
    with pytest.raises(
        CvkitError,
        match=r"\[0\].annotations\[0\].result\[0\].value.rle: brush RLE: the RLE holds 60 values, the image's RGBA",
    ):
        _read(path)
    task = _task({"x": 1, "y": 1, "width": 1, "height": 1}, 4, 4)
    del task["annotations"][0]["result"][0]["original_width"]
    path.write_text(json.dumps([task]))
    with pytest.raises(CvkitError, match="original_width/original_height"):
        _read(path)


def test_mask_objects_write_as_brush(tmp_path):
    mask = np.zeros((6, 8), np.uint8)
    mask[1:3, 2:5] = 1
    ds = Dataset(
        [Sample("a.png", 8, 6, objects=[Annotation("blob", None, shape="mask", rle=encode(mask))])],
        CategorySet([Category(1, "blob")]),
    )
    cvkit.write(ds, tmp_path / "out.json", format="label_studio")
    result = json.loads((tmp_path / "out.json").read_text())[0]["annotations"][0]["result"][0]
    assert result["type"] == "brushlabels"
    decoded = brush.decode_rle(result["value"]["rle"]).reshape(6, 8, 4)[:, :, 3]
    assert np.array_equal(decoded > 0, mask.astype(bool))


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('[{"id": 1, "data": {"image": "a.png"}, "annotations": [', "malformed JSON"),
        ('[{"id": 1, "data": {"image": "a.png"}, "annotations": [{"result": {"x": 1}}]}]', "'result' must be a list"),
        (
            json.dumps([_task({"format": "rle", "rle": [0, 255, 255, 255]}, 100000, 100000, "brushlabels")]),
            "larger than cvkit decodes",
        ),
    ],
)
def test_hostile_exports_fail_cleanly(tmp_path, text, fragment):
    from hostile.harness import assert_clean_error, assert_nothing_written, snapshot
    from hostile.harness import cvkit as run_cvkit

    (tmp_path / "in").mkdir()
    path = tmp_path / "in" / "export.json"
    path.write_text(text)
    before = snapshot(tmp_path)
    run = run_cvkit("convert", path, tmp_path / "out.json", "--to", "coco", "--from", "label_studio")
    assert_clean_error(run, names="export.json")
    assert fragment in run.stderr
    assert_nothing_written(before, tmp_path)
