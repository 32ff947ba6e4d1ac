"""COCO files as real tools write them: FiftyOne, Label Studio, Roboflow, supervision, detectron2.

Each fixture is built the way the named tool's exporter writes it (the source is cited above
the fixture), so these tests say what users of those tools get.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import cvkit
from conftest import make_image
from cvkit.core.report import Report
from cvkit.errors import InvalidInputError


def write_json(path: Path, data: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2))
    return path


def test_fiftyone_export_reads_images_from_its_data_folder(tmp_path):
    # fiftyone/utils/coco.py, COCODetectionDatasetExporter: images go to data/ (default data_path "data/"),
    # labels to labels.json; categories numbered from 0 with "supercategory": None; images carry
    # "license": None and "coco_url": None; COCOObject.to_anno_dict() leaves out a missing segmentation
    # and writes custom attributes as top-level keys
    make_image(tmp_path / "data" / "000001.jpg", 64, 48)
    make_image(tmp_path / "data" / "000002.jpg", 32, 32)
    write_json(
        tmp_path / "labels.json",
        {
            "info": {
                "year": "",
                "version": "",
                "description": "Exported from FiftyOne",
                "contributor": "",
                "url": "https://voxel51.com/fiftyone",
                "date_created": "2024-05-01T10:00:00",
            },
            "licenses": [],
            "categories": [
                {"id": 0, "name": "cat", "supercategory": None},
                {"id": 1, "name": "dog", "supercategory": None},
            ],
            "images": [
                {"id": 1, "file_name": "000001.jpg", "height": 48, "width": 64, "license": None, "coco_url": None},
                {"id": 2, "file_name": "000002.jpg", "height": 32, "width": 32, "license": None, "coco_url": None},
            ],
            "annotations": [
                {
                    "id": 1,
                    "image_id": 1,
                    "category_id": 1,
                    "bbox": [4.0, 6.0, 20.0, 30.0],
                    "score": 0.9,
                    "area": 600.0,
                    "iscrowd": 0,
                    "occluded": True,
                }
            ],
        },
    )
    assert cvkit.detect_format(tmp_path) == "coco"
    ds = cvkit.read(tmp_path, format="coco").materialize()
    assert [(s.path, s.width, s.height) for s in ds] == [("data/000001.jpg", 64, 48), ("data/000002.jpg", 32, 32)]
    assert all(s.resolve(ds.root).is_file() for s in ds)
    assert [(c.id, c.name) for c in ds.categories] == [(0, "cat"), (1, "dog")] and len(ds.hierarchy) == 0
    (dog,) = ds.samples[0].objects
    assert (dog.label, dog.bbox, dog.score, dog.shape) == ("dog", (4.0, 6.0, 20.0, 30.0), 0.9, "box")
    cvkit.write(ds, tmp_path / "out", format="coco", images="copy")
    back = cvkit.read(tmp_path / "out", format="coco").materialize()
    assert all(s.resolve(back.root).is_file() for s in back)
    written = json.loads((tmp_path / "out" / "annotations" / "instances_default.json").read_text())
    assert written["annotations"][0]["occluded"] is True  # FiftyOne's custom attribute survives


def label_studio_result(tmp_path: Path, file_names: list[str], sizes: list[tuple[int | None, int | None]]) -> Path:
    """result.json as label_studio_sdk/converter/converter.py ``convert_to_coco`` writes it: categories from id 0
    without supercategory, boxes with ``"segmentation": []`` and ``"ignore": 0``, ``info`` with year/version;
    ``add_image(images, None, None, ...)`` when the image could not be opened at export time."""
    return write_json(
        tmp_path / "result.json",
        {
            "images": [
                {"width": w, "height": h, "id": i, "file_name": name}
                for i, (name, (w, h)) in enumerate(zip(file_names, sizes, strict=True))
            ],
            "categories": [{"id": 0, "name": "Airplane"}, {"id": 1, "name": "Car"}],
            "annotations": [
                {
                    "id": 0,
                    "image_id": 0,
                    "category_id": 1,
                    "segmentation": [],
                    "bbox": [10.5, 4.25, 20.0, 8.0],
                    "ignore": 0,
                    "iscrowd": 0,
                    "area": 160.0,
                }
            ],
            "info": {
                "year": 2025,
                "version": "1.0",
                "description": "",
                "contributor": "Label Studio",
                "url": "",
                "date_created": "2025-03-27 10:00:00.000000",
            },
        },
    )


def test_label_studio_on_windows_writes_backslashes_in_file_name(tmp_path):
    # Label Studio issue #7294: on Windows the export holds "file_name": "images\\cb0618f6-x.png"
    # (os.path.relpath of the downloaded image against the export folder)
    make_image(tmp_path / "images" / "cb0618f6-a.png", 80, 60)
    make_image(tmp_path / "images" / "9a1b2c3d-b.png", 40, 30)
    label_studio_result(tmp_path, ["images\\cb0618f6-a.png", "images\\9a1b2c3d-b.png"], [(80, 60), (40, 30)])
    ds = cvkit.read(tmp_path, format="coco").materialize()
    assert [s.path for s in ds] == ["images/cb0618f6-a.png", "images/9a1b2c3d-b.png"]
    assert all(s.resolve(ds.root).is_file() for s in ds)
    (car,) = ds.samples[0].objects
    assert (car.label, car.bbox, car.meta["coco"]) == ("Car", (10.5, 4.25, 20.0, 8.0), {"ignore": 0, "area": 160.0})
    assert [s.split for s in ds] == [None, None]


def test_label_studio_image_without_size_gets_it_from_the_image_header(tmp_path):
    # convert_to_coco writes "width": null, "height": null for an image it could not open while exporting
    make_image(tmp_path / "images" / "a.jpg", 80, 60)
    make_image(tmp_path / "images" / "b.jpg", 40, 30)
    label_studio_result(
        tmp_path, ["images/a.jpg", "images/b.jpg", "images/gone.jpg"], [(None, None), (40, 30), (None, None)]
    )
    report = Report()
    ds = cvkit.read(tmp_path / "result.json", format="coco", report=report).materialize()
    assert [(s.path, s.width, s.height) for s in ds] == [
        ("images/a.jpg", 80, 60),
        ("images/b.jpg", 40, 30),
        ("images/gone.jpg", None, None),
    ]
    assert any("no width/height and no readable image file" in w for w in report.warnings)
    from pycocotools.coco import COCO

    cvkit.write(ds, tmp_path / "out.json", format="coco")
    written = COCO(str(tmp_path / "out.json"))
    assert (written.imgs[0]["width"], written.imgs[0]["height"]) == (80, 60)


@pytest.mark.parametrize(
    "file_name",
    [
        # Label Studio 1.16 on Windows (issue #7294)
        "..\\..\\label-studio\\label-studio\\media\\upload\\4\\cb0618f6-a.png",
        "/data/upload/4/cb0618f6-a.png",  # Label Studio's own URLs, left in file_name when the image is not downloaded
        # (converter.py: the path stays as it was when the download fails; issue #4903)
        "/data/local-files/?d=shop/cb0618f6-a.png",
        # detectron2's convert_to_coco_json: the absolute path it was given
        "/home/someone/datasets/shop/val/cb0618f6-a.png",
    ],
)
def test_file_names_that_point_elsewhere_find_the_images_by_name(tmp_path, file_name):
    make_image(tmp_path / "images" / "cb0618f6-a.png", 80, 60)
    label_studio_result(tmp_path, [file_name], [(80, 60)])
    report = Report()
    ds = cvkit.read(tmp_path / "result.json", format="coco", report=report).materialize()
    assert [s.path for s in ds] == ["images/cb0618f6-a.png"]
    assert ds.samples[0].resolve(ds.root).is_file()
    assert any("found by their file name in images" in w for w in report.warnings)


# Roboflow's COCO export: category 0 is named after the dataset with "supercategory": "none", the classes
# have it as their supercategory (supervision's coco_categories_to_classes skips "none" ones for this reason)
ROBOFLOW_CATEGORIES = [
    {"id": 0, "name": "cells", "supercategory": "none"},
    {"id": 1, "name": "rbc", "supercategory": "cells"},
    {"id": 2, "name": "wbc", "supercategory": "cells"},
]


def roboflow_export(root: Path) -> Path:
    return write_json(
        root / "valid" / "_annotations.coco.json",
        {
            "info": {"year": "2023", "version": "3", "description": "Exported from roboflow.com"},
            "licenses": [{"id": 1, "url": "https://creativecommons.org/licenses/by/4.0/", "name": "CC BY 4.0"}],
            "categories": ROBOFLOW_CATEGORIES,
            "images": [
                {
                    "id": 0,
                    "license": 1,
                    "file_name": "a_jpg.rf.1.jpg",
                    "height": 30,
                    "width": 40,
                    "date_captured": "2023-01-01T00:00:00+00:00",
                }
            ],
            "annotations": [
                {
                    "id": 0,
                    "image_id": 0,
                    "category_id": 2,
                    "bbox": [1, 2, 10, 12],
                    "area": 120,
                    "segmentation": [],
                    "iscrowd": 0,
                }
            ],
        },
    )


def test_roboflow_none_supercategory_is_no_parent(tmp_path):
    src = roboflow_export(tmp_path)
    ds = cvkit.read(tmp_path, format="coco").materialize()
    assert "none" not in ds.hierarchy
    assert (
        ds.hierarchy.parents("cells") == []
        and ds.hierarchy.parents("wbc") == ["cells"]
        and ds.hierarchy.roots() == ["cells"]
    )
    cvkit.write(ds, tmp_path / "out.json", format="coco")
    assert json.loads((tmp_path / "out.json").read_text())["categories"] == ROBOFLOW_CATEGORIES
    assert json.loads(src.read_text())["categories"] == ROBOFLOW_CATEGORIES


def test_roboflow_dataset_group_is_no_class(tmp_path):
    # "cells" only groups the classes (no object uses it), so it is no YOLO class, as in Roboflow's own YOLO
    # export of the dataset (names: [rbc, wbc]); COCO -> manifest -> COCO keeps it
    roboflow_export(tmp_path)
    ds = cvkit.read(tmp_path / "valid", format="coco").materialize()
    assert ds.categories.names() == ["rbc", "wbc"] and [c.id for c in ds.categories] == [1, 2]
    assert ds.samples[0].objects[0].label == "wbc"
    make_image(tmp_path / "valid" / "a_jpg.rf.1.jpg", 40, 30)
    cvkit.convert(tmp_path / "valid", tmp_path / "yolo", to_format="yolo")
    assert "names:\n  0: rbc\n  1: wbc\n" in (tmp_path / "yolo" / "data.yaml").read_text()
    assert (tmp_path / "yolo" / "labels" / "valid" / "a_jpg.rf.1.txt").read_text().startswith("1 ")
    cvkit.convert(tmp_path / "valid", tmp_path / "m.jsonl", to_format="manifest")
    cvkit.convert(tmp_path / "m.jsonl", tmp_path / "back.json", to_format="coco")
    assert json.loads((tmp_path / "back.json").read_text())["categories"] == ROBOFLOW_CATEGORIES


def test_roboflow_group_is_not_written_over_a_category_that_took_its_id(tmp_path):
    from cvkit.core.categories import Category

    roboflow_export(tmp_path)
    ds = cvkit.read(tmp_path / "valid", format="coco").materialize()
    ds.categories.add(Category(0, "platelet"))  # the group's id 0 is a class now
    cvkit.write(ds, tmp_path / "out.json", format="coco")
    ids = [c["id"] for c in json.loads((tmp_path / "out.json").read_text())["categories"]]
    assert sorted(ids) == [0, 1, 2]  # no second category 0


@pytest.mark.parametrize("group_id", ["cells", None])
def test_roboflow_like_group_without_an_integer_id_is_an_error_naming_it(tmp_path, group_id):
    group = {"name": "cells", "supercategory": "none"} | ({"id": group_id} if group_id is not None else {})
    path = write_json(
        tmp_path / "a.json",
        {"images": [], "annotations": [], "categories": [group, {"id": 1, "name": "rbc", "supercategory": "cells"}]},
    )
    with pytest.raises(InvalidInputError) as info:
        cvkit.read(path, format="coco").materialize()
    assert info.value.describe() == f"{path}:categories[0]: category needs an integer 'id' and a 'name'"


def test_supervision_flat_polygon_reads_as_one_polygon(tmp_path):
    # supervision 0.13 DetectionDataset.as_coco() (supervision/dataset/formats/coco.py, issue #205) wrote
    # "segmentation": list(polygon.flatten()), one polygon without the enclosing list
    write_json(
        tmp_path / "annotations.json",
        {
            "info": {},
            "licenses": [{"id": 1, "url": "https://creativecommons.org/licenses/by/4.0/", "name": "CC BY 4.0"}],
            "categories": [{"id": 0, "name": "cat", "supercategory": "common-objects"}],
            "images": [
                {
                    "id": 0,
                    "license": 1,
                    "file_name": "a.jpg",
                    "height": 20,
                    "width": 20,
                    "date_captured": "07/21/2023,11:28:21",
                }
            ],
            "annotations": [
                {
                    "id": 0,
                    "image_id": 0,
                    "category_id": 0,
                    "bbox": [2.0, 2.0, 10.0, 8.0],
                    "area": 80.0,
                    "segmentation": [2, 2, 12, 2, 12, 10, 2, 10],
                    "iscrowd": 0,
                }
            ],
        },
    )
    ds = cvkit.read(tmp_path / "annotations.json", format="coco").materialize()
    (cat,) = ds.samples[0].objects
    assert (cat.shape, cat.polygon, cat.bbox) == (
        "polygon",
        [[2.0, 2.0, 12.0, 2.0, 12.0, 10.0, 2.0, 10.0]],
        (2.0, 2.0, 10.0, 8.0),
    )
    cvkit.write(ds, tmp_path / "out.json", format="coco")
    from pycocotools.coco import COCO

    written = COCO(str(tmp_path / "out.json"))
    (ann,) = written.anns.values()  # annotation id 0 became 1 (COCOeval reads 0 as "unmatched")
    assert ann["segmentation"] == [[2, 2, 12, 2, 12, 10, 2, 10]]
    assert written.annToMask(ann).sum() > 0


@pytest.mark.parametrize(
    ("segmentation", "message"),
    [
        ('"abc"', "segmentation must be polygons [[x1, y1, ...], ...] or RLE {counts, size}, got 'abc'"),
        (
            "[[1, 2, 3, 4, 5, 6], 7]",
            "segmentation must be polygons [[x1, y1, ...], ...] or RLE {counts, size}, got [[1, 2, 3, 4, 5, 6], 7]",
        ),
    ],
)
def test_malformed_segmentation_names_file_and_json_path(tmp_path, segmentation, message):
    path = tmp_path / "bad.json"
    path.write_text(
        '{"images": [{"id": 1, "file_name": "a.jpg", "width": 8, "height": 8}], "categories": [{"id": 1, "name": "a"}],'
        '"annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1], '
        f'"segmentation": {segmentation}}}]}}'
    )
    with pytest.raises(InvalidInputError) as info:
        cvkit.read(path, format="coco").materialize()
    assert info.value.describe() == f"{path}:annotations[0].segmentation: {message}"


def test_file_name_that_is_no_string_names_file_and_json_path(tmp_path):
    path = write_json(
        tmp_path / "bad.json", {"images": [{"id": 1, "file_name": 17}], "categories": [], "annotations": []}
    )
    with pytest.raises(InvalidInputError) as info:
        cvkit.read(path, format="coco").materialize()
    assert info.value.describe() == f"{path}:images[0].file_name: file_name must be a string, got 17"


def test_detectron2_json_with_string_image_ids_and_null_licenses_writes_valid_coco(tmp_path):
    # detectron2/data/datasets/coco.py convert_to_coco_dict: image ids are the dataset dicts' "image_id"
    # (strings for many custom datasets), categories have no supercategory, and "licenses": None
    make_image(tmp_path / "x_01.jpg", 64, 48)
    write_json(
        tmp_path / "shop_val_coco_format.json",
        {
            "info": {
                "date_created": "2024-05-01 10:00:00.000000",
                "description": "Automatically generated COCO json file for Detectron2.",
            },
            "images": [{"id": "x_01", "width": 64, "height": 48, "file_name": "x_01.jpg"}],
            "categories": [{"id": 0, "name": "bottle"}, {"id": 1, "name": "can"}],
            "licenses": None,
            "annotations": [
                {
                    "id": 1,
                    "image_id": "x_01",
                    "bbox": [1.0, 2.0, 30.0, 40.0],
                    "area": 1200.0,
                    "iscrowd": 0,
                    "category_id": 1,
                }
            ],
        },
    )
    ds = cvkit.read(tmp_path / "shop_val_coco_format.json", format="coco").materialize()
    assert [(s.id, [(o.label, o.bbox) for o in s.objects]) for s in ds] == [("x_01", [("can", (1.0, 2.0, 30.0, 40.0))])]
    cvkit.write(ds, tmp_path / "out.json", format="coco")
    written = json.loads((tmp_path / "out.json").read_text())
    assert written["licenses"] == []
    assert written["annotations"][0]["image_id"] == written["images"][0]["id"] and isinstance(
        written["images"][0]["id"], int
    )
    from pycocotools.coco import COCO

    assert COCO(str(tmp_path / "out.json")).getAnnIds(imgIds=[written["images"][0]["id"]]) == [1]


def test_lvis_images_named_by_coco_url_only(tmp_path):
    # LVIS v1 (lvis_v1_val.json) images have no file_name, only coco_url; detectron2's lvis.get_file_name and
    # mmdetection's LVIS loader take its last two parts ("val2017/000000000139.jpg") under the COCO image folder
    make_image(tmp_path / "val2017" / "000000000139.jpg", 64, 48)
    write_json(
        tmp_path / "annotations" / "lvis_v1_val.json",
        {
            "info": {"year": 2020, "version": "1.0"},
            "licenses": [],
            "categories": [
                {
                    "id": 3,
                    "name": "aerosol_can",
                    "synset": "aerosol.n.02",
                    "synonyms": ["aerosol_can", "spray_can"],
                    "def": "a dispenser that holds a substance under pressure",
                    "frequency": "c",
                    "image_count": 64,
                    "instance_count": 109,
                }
            ],
            "images": [
                {
                    "id": 139,
                    "coco_url": "http://images.cocodataset.org/val2017/000000000139.jpg",
                    "height": 48,
                    "width": 64,
                    "flickr_url": "http://farm9.staticflickr.com/8035/8024364858_9c41dc1666_z.jpg",
                    "license": 2,
                    "date_captured": "2013-11-21 01:34:01",
                    "neg_category_ids": [],
                    "not_exhaustive_category_ids": [3],
                }
            ],
            "annotations": [
                {
                    "id": 1,
                    "image_id": 139,
                    "category_id": 3,
                    "segmentation": [[10.0, 10.0, 30.0, 10.0, 30.0, 20.0]],
                    "area": 100.0,
                    "bbox": [10.0, 10.0, 20.0, 10.0],
                }
            ],
        },
    )
    ds = cvkit.read(tmp_path, format="coco").materialize()
    (sample,) = ds.samples
    assert (sample.path, sample.width, sample.height) == ("val2017/000000000139.jpg", 64, 48)
    assert sample.resolve(ds.root).is_file() and sample.meta["coco"]["not_exhaustive_category_ids"] == [3]
    assert [(o.label, o.shape, o.bbox) for o in sample.objects] == [
        ("aerosol_can", "polygon", (10.0, 10.0, 20.0, 10.0))
    ]
    assert ds.categories.get("aerosol_can").attributes["frequency"] == "c"


def test_json_saved_with_a_byte_order_mark_is_detected_and_read(tmp_path):
    # .NET's Encoding.UTF8 and Windows PowerShell 5's `Out-File -Encoding utf8` put a UTF-8 BOM before the text
    data = {
        "images": [{"id": 1, "file_name": "a.jpg", "width": 20, "height": 10}],
        "categories": [{"id": 1, "name": "cat"}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 4, 4]}],
    }
    (tmp_path / "instances_train.json").write_bytes(b"\xef\xbb\xbf" + json.dumps(data).encode())
    assert cvkit.detect_format(tmp_path) == "coco"
    ds = cvkit.read(tmp_path, format="coco").materialize()
    assert [o.bbox for o in ds.samples[0].objects] == [(1.0, 1.0, 4.0, 4.0)]
    createml = tmp_path / "createml"
    createml.mkdir()
    (createml / "labels.json").write_bytes(
        b"\xef\xbb\xbf"
        + json.dumps(
            [
                {
                    "image": "a.jpg",
                    "annotations": [{"label": "cat", "coordinates": {"x": 3, "y": 3, "width": 4, "height": 4}}],
                }
            ]
        ).encode()
    )
    assert cvkit.detect_format(createml) == "createml"
    assert cvkit.read(createml, format="createml").materialize().samples[0].objects[0].bbox == (1.0, 1.0, 4.0, 4.0)


def test_duplicate_image_ids_are_an_error_not_doubled_objects(tmp_path):
    # a merged or hand-edited file with one image id twice: pycocotools keeps one image; cvkit would have given
    # the id's annotations to both
    path = write_json(
        tmp_path / "merged.json",
        {
            "images": [
                {"id": 1, "file_name": "a.jpg", "width": 20, "height": 10},
                {"id": 1, "file_name": "b.jpg", "width": 20, "height": 10},
            ],
            "categories": [{"id": 1, "name": "cat"}],
            "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 4, 4]}],
        },
    )
    with pytest.raises(InvalidInputError, match=r"duplicate image id 1") as caught:
        cvkit.read(path, format="coco").materialize()
    assert caught.value.location == "images[1].id"
    report = Report(skip_invalid=True)
    ds = cvkit.read(path, format="coco", report=report).materialize()
    assert [(s.path, len(s.objects)) for s in ds] == [("a.jpg", 1)] and len(report.skipped) == 1


def test_cvat_default_subset_is_no_split(tmp_path):
    # CVAT's "COCO 1.0" export (datumaro's coco exporter): annotations/instances_default.json and images/default/,
    # "default" being datumaro's name for items without a subset; cvkit writes unsplit samples the same way
    make_image(tmp_path / "images" / "default" / "a.jpg", 40, 30)
    write_json(
        tmp_path / "annotations" / "instances_default.json",
        {
            "licenses": [{"name": "", "id": 0, "url": ""}],
            "info": {"contributor": "", "date_created": "", "description": "", "url": "", "version": "", "year": ""},
            "categories": [{"id": 1, "name": "car", "supercategory": ""}],
            "images": [
                {
                    "id": 1,
                    "width": 40,
                    "height": 30,
                    "file_name": "a.jpg",
                    "license": 0,
                    "flickr_url": "",
                    "coco_url": "",
                    "date_captured": 0,
                }
            ],
            "annotations": [
                {
                    "id": 1,
                    "image_id": 1,
                    "category_id": 1,
                    "segmentation": [],
                    "area": 20.0,
                    "bbox": [1.0, 1.0, 5.0, 4.0],
                    "iscrowd": 0,
                    "attributes": {"occluded": False},
                }
            ],
        },
    )
    ds = cvkit.read(tmp_path, format="coco").materialize()
    assert [(s.split, s.path) for s in ds] == [(None, "images/default/a.jpg")] and ds.samples[0].resolve(
        ds.root
    ).is_file()
    cvkit.write(ds, tmp_path / "out", format="coco")
    assert [p.name for p in (tmp_path / "out" / "annotations").iterdir()] == ["instances_default.json"]


def test_a_sliver_ring_beside_good_rings_is_dropped_and_counted(tmp_path):
    # real datasets carry 1- and 2-point rings beside the real outline; detectron2's
    # convert_to_coco_dict / annotations_to_instances drop such rings (polygons need >= 3 points), keeping the rest
    path = write_json(
        tmp_path / "instances_train.json",
        {
            "images": [{"id": 1, "file_name": "a.jpg", "width": 40, "height": 30}],
            "categories": [{"id": 1, "name": "log"}],
            "annotations": [
                {
                    "id": 1,
                    "image_id": 1,
                    "category_id": 1,
                    "bbox": [1, 1, 9, 9],
                    "iscrowd": 0,
                    "segmentation": [[1, 1, 10, 1, 10, 10], [3, 3, 4, 4]],
                }
            ],
        },
    )
    report = Report()
    (sample,) = cvkit.read(path, format="coco", report=report).materialize()
    assert sample.objects[0].polygon == [[1.0, 1.0, 10.0, 1.0, 10.0, 10.0]]
    assert (
        report.losses[
            (
                "polygon ring with fewer than 3 points",
                "dropped from an annotation that has other rings (as detectron2 does)",
            )
        ]
        == 1
    )
