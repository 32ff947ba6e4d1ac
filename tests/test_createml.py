"""CreateML JSON: centre coordinates, image lookup, LabelImg folders, missing keys, writer, detection vs COCO."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import cvkit
from conftest import make_image
from cvkit.core.categories import Category, CategorySet
from cvkit.core.model import Annotation, Dataset, Sample
from cvkit.core.report import Report
from cvkit.errors import CvkitError, InvalidInputError
from cvkit.formats import createml


def boxes(ds: Dataset) -> list[tuple[str, list[tuple[str, tuple[float, ...]]]]]:
    return [(s.path, [(o.label, o.bbox) for o in s.objects]) for s in ds]


def test_x_y_are_the_box_centre_and_sizes_come_from_the_image_header(tmp_path):
    make_image(tmp_path / "a.jpg", 64, 48)
    make_image(tmp_path / "images" / "b.png", 30, 20)
    path = tmp_path / "train.json"
    path.write_text(
        json.dumps(
            [
                {
                    "image": "a.jpg",
                    "annotations": [{"label": "cat", "coordinates": {"x": 30, "y": 20, "width": 20, "height": 10}}],
                },
                {"image": "b.png", "annotations": []},
            ]
        )
    )
    report = Report()
    ds = cvkit.read(path, format="createml", report=report).materialize()
    assert boxes(ds) == [("a.jpg", [("cat", (20.0, 15.0, 20.0, 10.0))]), ("images/b.png", [])]
    assert [(s.width, s.height) for s in ds] == [(64, 48), (30, 20)]
    assert (report.read.images, report.read.objects, ds.categories.names()) == (2, 1, ["cat"])
    assert cvkit.detect_format(path) == "createml"


def test_labelimg_folder_of_per_image_lists_with_chinese_names(tmp_path):
    make_image(tmp_path / "苹果.jpg", 40, 40)
    make_image(tmp_path / "梨.jpg", 40, 40)
    (tmp_path / "苹果.json").write_text(
        json.dumps(
            [
                {
                    "image": "苹果.jpg",
                    "verified": True,
                    "annotations": [
                        {"label": "水果", "coordinates": {"x": 10.5, "y": 10.5, "width": 5.0, "height": 7.0}}
                    ],
                }
            ],
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    (tmp_path / "梨.json").write_text(
        json.dumps([{"image": "梨.jpg", "verified": False, "annotations": []}]), encoding="utf-8"
    )
    assert cvkit.detect_format(tmp_path) == "createml"
    ds = cvkit.read(tmp_path, format="createml").materialize()
    assert boxes(ds) == [("梨.jpg", []), ("苹果.jpg", [("水果", (8.0, 7.0, 5.0, 7.0))])]
    assert [s.meta["createml"]["verified"] for s in ds] == [False, True]
    out = tmp_path / "out.json"
    cvkit.write(ds, out, format="createml")
    written = json.loads(out.read_text(encoding="utf-8"))
    assert written[1] == {
        "image": "苹果.jpg",
        "verified": True,
        "annotations": [{"label": "水果", "coordinates": {"x": 10.5, "y": 10.5, "width": 5, "height": 7}}],
    }


def test_missing_image_is_kept_with_unknown_size_and_a_warning(tmp_path):
    path = tmp_path / "a.json"
    path.write_text(
        '[{"image": "nowhere.jpg", "annotations": [{"label": "x", "coordinates": {"x": 5, "y": 5, "width": 2, '
        '"height": 2}}]}]'
    )
    report = Report()
    ds = cvkit.read(path, format="createml", report=report).materialize()
    assert [(s.path, s.width, s.height) for s in ds] == [("nowhere.jpg", None, None)]
    assert report.warnings == [
        "some images were not found next to the CreateML JSON; their sizes are unknown (read option image_dir=FOLDER)"
    ]


@pytest.mark.parametrize(
    ("entries", "location", "message"),
    [
        ('[{"annotations": []}]', "[0].image", "missing key 'image'"),
        (
            '[{"image": "a.jpg", "annotations": []}, {"image": "b.jpg", "annotations": [{"coordinates": {}}]}]',
            "[1].annotations[0].label",
            "missing key 'label'",
        ),
        (
            '[{"image": "a.jpg", "annotations": [{"label": "c"}]}]',
            "[0].annotations[0].coordinates",
            "missing key 'coordinates'",
        ),
        (
            '[{"image": "a.jpg", "annotations": [{"label": "c", "coordinates": {"x": 1, "y": 1, "width": 3}}]}]',
            "[0].annotations[0].coordinates.height",
            "missing key 'height'",
        ),
        (
            '[{"image": "a.jpg", "annotations": [{"label": "c", "coordinates": {"x": "1", "y": 1, "width": 3, '
            '"height": 3}}]}]',
            "[0].annotations[0].coordinates.x",
            "expected a number, got '1'",
        ),
        ('{"images": []}', None, "expected a JSON list of {image, annotations} entries (CreateML)"),
    ],
)
def test_bad_input_names_the_json_path(tmp_path, entries, location, message):
    path = tmp_path / "bad.json"
    path.write_text(entries)
    with pytest.raises(InvalidInputError) as info:
        cvkit.read(path, format="createml").materialize()
    assert (info.value.file, info.value.location, info.value.message) == (str(path), location, message)


def test_skip_invalid_drops_the_bad_annotation_only(tmp_path):
    path = tmp_path / "a.json"
    path.write_text(
        '[{"image": "a.jpg", "annotations": [{"label": "c", "coordinates": {"x": 4, "y": 4, "width": 2, "height": 2}},'
        ' {"label": "d", "coordinates": {"x": 4}}]}]'
    )
    report = Report(skip_invalid=True)
    ds = cvkit.read(path, format="createml", report=report).materialize()
    assert [o.label for o in ds.samples[0].objects] == ["c"]
    assert [(s.location, s.reason) for s in report.skipped] == [("[0].annotations[1].coordinates.y", "missing key 'y'")]


def test_writer_reports_what_createml_cannot_hold(tmp_path):
    cats = CategorySet([Category(1, "a"), Category(2, "b"), Category(3, "unused")])
    ds = Dataset(
        [
            Sample(
                "x.jpg",
                10,
                10,
                "train",
                labels=["day"],
                objects=[
                    Annotation("a", (1.0, 1.0, 4.0, 4.0), shape="polygon", polygon=[[1.0, 1.0, 5.0, 1.0, 5.0, 5.0]]),
                    Annotation("b", (2.0, 2.0, 2.0, 2.0), iscrowd=True),
                ],
            )
        ],
        cats,
        root=tmp_path,
    )
    report = cvkit.write(ds, tmp_path / "o.json", format="createml")
    assert json.loads((tmp_path / "o.json").read_text()) == [
        {"image": "x.jpg", "annotations": [{"label": "a", "coordinates": {"x": 3, "y": 3, "width": 4, "height": 4}}]}
    ]
    assert {what for what, _ in report.losses} == {
        "polygon",
        "crowd region",
        "image-level label",
        "split",
        "category without objects",
    }
    assert (report.written.images, report.written.objects) == (1, 1)


def test_folder_destination_copies_images_beside_annotations_json(small, tmp_path):
    cvkit.write(small, tmp_path / "cm", format="createml")
    assert sorted(p.name for p in (tmp_path / "cm").iterdir()) == [
        "annotations.json",
        "cat_01.jpg",
        "dog_02.png",
        "empty_03.jpg",
    ]
    entries = json.loads((tmp_path / "cm" / "annotations.json").read_text())
    assert [e["image"] for e in entries] == ["cat_01.jpg", "dog_02.png", "empty_03.jpg"]
    back = cvkit.read(tmp_path / "cm" / "annotations.json", format="createml").materialize()
    assert [(s.path, s.width, s.height, len(s.objects)) for s in back] == [
        ("cat_01.jpg", 64, 48, 2),
        ("dog_02.png", 80, 60, 1),
        ("empty_03.jpg", 32, 32, 0),
    ]


def test_copying_into_a_json_file_destination_is_refused(small, tmp_path):
    with pytest.raises(CvkitError, match="write to a folder to copy them beside the JSON"):
        cvkit.write(small, tmp_path / "o.json", format="createml", images="copy")


def test_createml_and_coco_files_are_told_apart(tmp_path):
    coco = tmp_path / "instances.json"
    coco.write_text('{"images": [{"id": 1, "file_name": "a.jpg"}], "annotations": [], "categories": []}')
    cml = tmp_path / "cml.json"
    cml.write_text('[{"image": "a.jpg", "annotations": []}]')
    results = tmp_path / "results.json"
    results.write_text('[{"image_id": 1, "category_id": 1, "bbox": [1, 1, 2, 2], "score": 0.9}]')
    assert createml.detect(coco) is None and createml.detect(results) is None
    assert cvkit.detect_format(cml) == "createml"
    assert cvkit.detect_format(coco) == "coco"


def test_yolo_to_createml_to_yolo_keeps_boxes(tmp_path):
    make_image(tmp_path / "src" / "p.jpg", 200, 100)
    (tmp_path / "src" / "p.txt").write_text("1 0.25 0.5 0.1 0.2\n")
    (tmp_path / "src" / "classes.txt").write_text("a\nb\n")
    cvkit.convert(tmp_path / "src", tmp_path / "p.json", to_format="createml", from_format="yolo")
    assert json.loads((tmp_path / "p.json").read_text())[0]["annotations"] == [
        {"label": "b", "coordinates": {"x": 50, "y": 50, "width": 20, "height": 20}}
    ]
    report = cvkit.convert(tmp_path / "p.json", tmp_path / "y", to_format="yolo", write_options={"layout": "labelimg"})
    assert (tmp_path / "y" / "p.txt").read_text() == "0 0.250000 0.500000 0.100000 0.200000\n"
    assert (tmp_path / "y" / "classes.txt").read_text() == "b\n"  # CreateML knows only the labels it uses
    assert report.written.objects == 1
    assert Path(tmp_path / "y" / "p.jpg").is_file()


def test_roboflow_createml_export_one_file_per_split_folder(tmp_path):
    root = tmp_path / "export"
    for split in ("train", "valid"):
        make_image(root / split / f"x_{split}.jpg", 40, 30)
        (root / split / "_annotations.createml.json").write_text(
            json.dumps(
                [
                    {
                        "image": f"x_{split}.jpg",
                        "annotations": [{"label": "cell", "coordinates": {"x": 10, "y": 10, "width": 4, "height": 6}}],
                    }
                ]
            )
        )
    assert cvkit.detect_format(root) == "createml"
    ds = cvkit.read(root, format="createml").materialize()
    assert [(s.split, s.path, s.width) for s in ds] == [
        ("train", "train/x_train.jpg", 40),
        ("valid", "valid/x_valid.jpg", 40),
    ]
    assert ds.samples[0].objects[0].bbox == (8.0, 7.0, 4.0, 6.0)  # centre (10, 10), size 4 x 6
