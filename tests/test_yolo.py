"""YOLO: every corpus layout, Ultralytics data.yaml variants, segmentation, bad input, writer layouts, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

import cvkit
from conftest import make_image
from cvkit.cli import app
from cvkit.core.categories import Category, CategorySet
from cvkit.core.model import Annotation, Dataset, Sample
from cvkit.core.report import Report
from cvkit.errors import CvkitError, InvalidInputError

# Hand-computed from the corpus files: 15x10 image, lines
#   "2 0.133333 0.300000 0.266667 0.200000" -> x = 1.999995 - 2.0000025, y = 3 - 1, w = 4.000005, h = 2
#   "4 0.266667 0.450000 0.133333 0.300000" -> x = 4.000005 - 0.9999975, y = 4.5 - 1.5, w = 1.999995, h = 3
DATUMARO_OBJECTS = [("label_2", (-0.0, 2.0, 4.0, 2.0)), ("label_4", (3.0, 3.0, 2.0, 3.0))]
LABELS_0_TO_9 = [f"label_{i}" for i in range(10)]


def objects(sample: Sample, digits: int = 3) -> list[tuple[str, tuple[float, ...]]]:
    return [(o.label, tuple(round(v, digits) + 0.0 for v in o.bbox)) for o in sample.objects]


def read(path: Path, **kw) -> tuple[Dataset, Report]:
    report = Report(skip_invalid=kw.pop("skip_invalid", False))
    ds = cvkit.read(path, format="yolo", report=report, **kw).materialize()
    return ds, report


# --- corpus ---------------------------------------------------------------------------------
def test_darknet_strict_layout_obj_data_and_train_list(corpus):
    ds, report = read(corpus("yolo", "datumaro_develop", "strict"))
    assert [(s.path, s.split, s.width, s.height) for s in ds] == [("obj_train_data/1.jpg", "train", 15, 10)]
    assert objects(ds.samples[0]) == [("label_2", (0.0, 2.0, 4.0, 2.0)), ("label_4", (3.0, 3.0, 2.0, 3.0))]
    assert ds.categories.names() == LABELS_0_TO_9
    assert [c.id for c in ds.categories] == list(range(1, 11))  # category id = class index + 1 (COCO convention)
    assert (report.read.images, report.read.objects) == (1, 2)


def test_images_and_labels_folders_with_split_subfolders(corpus):
    ds, report = read(corpus("yolo", "datumaro_develop", "labels"))
    assert [(s.path, s.split) for s in ds] == [("images/train/1.jpg", "train"), ("images/val/1.jpg", "val")]
    assert all(objects(s) == [("label_2", (0.0, 2.0, 4.0, 2.0)), ("label_4", (3.0, 3.0, 2.0, 3.0))] for s in ds)
    assert ds.categories.names() == LABELS_0_TO_9
    assert (report.read.images, report.read.objects, dict(report.read.splits)) == (2, 4, {"train": 1, "val": 1})


def test_images_and_annotations_folders_without_splits(corpus):
    ds, report = read(corpus("yolo", "datumaro_develop", "annotations"))
    assert [(s.path, s.split) for s in ds] == [("Images/1.jpg", None)]
    assert len(ds.samples[0].objects) == 2 and len(ds.categories) == 10
    assert report.read.objects == 2


def test_labelimg_txt_beside_image_with_classes_txt(corpus):
    ds, report = read(corpus("labelimg", "yolo_real_repo_408f739"))
    assert (report.read.images, report.read.objects) == (1, 2)
    (sample,) = ds.samples
    assert (sample.path, sample.width, sample.height) == ("tomatoes_helios4eos_gettyimages-edit.jpeg", 720, 720)
    # 720 x "0 0.758333 0.616667 0.216667 0.341667" and "0 0.606944 0.726389 0.244444 0.355556"
    assert objects(sample, 2) == [
        ("round_object", (468.0, 321.0, 156.0, 246.0)),
        ("round_object", (349.0, 395.0, 176.0, 256.0)),
    ]
    assert ds.categories.names() == ["round_object"]


@pytest.mark.parametrize(
    ("parts", "why"),
    [
        (("yolo", "datumaro_develop", "strict"), "darknet obj.data"),
        (("yolo", "datumaro_develop", "labels"), "images/ and labels/"),
        (("yolo", "datumaro_develop", "annotations"), "Images/ and Annotations/"),
        (("labelimg", "yolo_real_repo_408f739"), "classes.txt (LabelImg)"),
    ],
)
def test_every_corpus_layout_is_detected_as_yolo(corpus, parts, why):
    from cvkit.formats.yolo import detect

    path = corpus(*parts)
    assert why in detect(path)
    # voc must not claim an Annotations/ folder of .txt, nor labels a darknet train.txt of bare paths
    assert cvkit.detect_format(path) == "yolo"


# --- Ultralytics data.yaml ------------------------------------------------------------------
def ultralytics(root: Path, yaml_text: str, files: dict[str, str | None]) -> Path:
    """``files``: image path -> label text (None: no label file), labels by the images->labels rule."""
    for image, label in files.items():
        make_image(root / image, 40, 20)
        if label is not None:
            label_path = root / Path(image.replace("images", "labels", 1)).with_suffix(".txt")
            label_path.parent.mkdir(parents=True, exist_ok=True)
            label_path.write_text(label)
    (root / "data.yaml").write_text(yaml_text)
    return root


def test_names_dict_path_and_folders_keep_empty_and_unlabelled_images(tmp_path):
    root = ultralytics(
        tmp_path / "ds",
        "path: .\ntrain: images/train\nval: images/val\nnames:\n  0: cat\n  1: dog\n",
        {
            "images/train/a.jpg": "1 0.5 0.5 0.5 0.5\n",
            "images/train/b.jpg": "",  # empty file: no objects, image kept
            "images/val/c.jpg": None,  # no label file: image kept
        },
    )
    ds, report = read(root)
    assert [(s.path, s.split, len(s.objects)) for s in ds] == [
        ("images/train/a.jpg", "train", 1),
        ("images/train/b.jpg", "train", 0),
        ("images/val/c.jpg", "val", 0),
    ]
    assert objects(ds.samples[0]) == [("dog", (10.0, 5.0, 20.0, 10.0))]
    assert ds.categories.names() == ["cat", "dog"]
    assert (report.read.images, report.read.objects) == (3, 1)
    assert cvkit.detect_format(root / "data.yaml") == "yolo"


def test_roboflow_yaml_with_parent_paths_and_valid_folder(tmp_path):
    root = ultralytics(
        tmp_path / "rf",
        "train: ../train/images\nval: ../valid/images\nnc: 2\nnames: ['car', 'bus']\n",
        {
            "train/images/a.jpg": "0 0.25 0.5 0.5 1\n",
            "valid/images/b.jpg": "1 0.5 0.5 1 1\n",
        },
    )
    ds, _ = read(root)
    assert [(s.path, s.split, objects(s)) for s in ds] == [
        ("train/images/a.jpg", "train", [("car", (0.0, 0.0, 20.0, 20.0))]),
        ("valid/images/b.jpg", "val", [("bus", (0.0, 0.0, 40.0, 20.0))]),
    ]


def test_txt_lists_and_lists_of_folders(tmp_path):
    root = ultralytics(
        tmp_path / "ds",
        "train: [images/a, images/b]\nval: val.txt\nnames: [x]\n",
        {
            "images/a/1.jpg": "0 0.5 0.5 0.5 0.5\n",
            "images/b/2.jpg": "",
            "images/v/3.jpg": "0 0.5 0.5 1 1\n",
        },
    )
    (root / "val.txt").write_text("./images/v/3.jpg\n\n")
    ds, _ = read(root)
    assert [(s.path, s.split, len(s.objects)) for s in ds] == [
        ("images/a/1.jpg", "train", 1),
        ("images/b/2.jpg", "train", 0),
        ("images/v/3.jpg", "val", 1),
    ]


def test_nc_without_names_names_classes_like_ultralytics_and_mismatch_is_an_error(tmp_path):
    root = ultralytics(
        tmp_path / "a", "train: images/train\nval: images/train\nnc: 3\n", {"images/train/a.jpg": "2 0.5 0.5 1 1\n"}
    )
    report = Report()
    ds = cvkit.read(root, format="yolo", report=report).materialize()
    assert ds.categories.names() == ["class_0", "class_1", "class_2"]
    assert len(ds.samples) == 1  # val repeats train: read once
    assert report.warnings == ["val names the same images as train; they are read once, as train"]
    bad = ultralytics(tmp_path / "b", "train: images/train\nnc: 3\nnames: [a, b]\n", {"images/train/a.jpg": ""})
    with pytest.raises(InvalidInputError) as info:
        read(bad)
    assert info.value.describe() == f"{bad / 'data.yaml'}:nc: nc is 3 but names lists 2 classes"


def test_missing_split_folder_names_the_yaml_key(tmp_path):
    root = ultralytics(
        tmp_path / "a", "train: images/train\nval: images/nowhere\nnames: [a]\n", {"images/train/a.jpg": ""}
    )
    with pytest.raises(InvalidInputError) as info:
        read(root)
    assert info.value.describe() == f"{root / 'data.yaml'}:val: 'images/nowhere' not found (looked in {root})"


def test_segmentation_lines_are_polygons_with_derived_boxes(tmp_path):
    root = ultralytics(
        tmp_path / "seg",
        "train: images/train\nval: images/train\nnames: [leaf]\n",
        {
            "images/train/a.jpg": "0 0.1 0.1 0.6 0.1 0.6 0.9 0.1 0.9\n0 0.5 0.5 0.2 0.2\n",
        },
    )
    ds, _ = read(root)
    polygon, box = ds.samples[0].objects
    assert polygon.shape == "polygon"
    assert [round(v, 6) for v in polygon.polygon[0]] == [4.0, 2.0, 24.0, 2.0, 24.0, 18.0, 4.0, 18.0]
    assert tuple(round(v, 6) for v in polygon.bbox) == (4.0, 2.0, 20.0, 16.0)
    assert (box.shape, box.polygon) == ("box", None)


def test_exif_rotated_image_normalises_by_the_displayed_size(tmp_path):
    from PIL import Image

    root = tmp_path / "exif"
    (root / "images").mkdir(parents=True)
    image = Image.new("RGB", (40, 20))  # stored 40 x 20, orientation 6: displayed 20 x 40
    exif = image.getexif()
    exif[0x0112] = 6
    image.save(root / "images" / "p.jpg", exif=exif)
    (root / "labels").mkdir()
    (root / "labels" / "p.txt").write_text("0 0.5 0.25 0.5 0.5\n")
    (root / "classes.txt").write_text("x\n")
    ds, _ = read(root)
    assert (ds.samples[0].width, ds.samples[0].height) == (20, 40)
    assert objects(ds.samples[0]) == [("x", (5.0, 0.0, 10.0, 20.0))]


def test_chinese_file_names_and_labels_labelimg_round_trip(tmp_path):
    src = tmp_path / "标注"
    make_image(src / "猫咪_01.jpg", 50, 40)
    (src / "猫咪_01.txt").write_text("1 0.5 0.5 0.4 0.5\n", encoding="utf-8")
    (src / "classes.txt").write_text("狗\n猫\n", encoding="utf-8")
    ds, _ = read(src)
    assert [(s.path, objects(s)) for s in ds] == [("猫咪_01.jpg", [("猫", (15.0, 10.0, 20.0, 20.0))])]
    out = tmp_path / "输出"
    cvkit.write(cvkit.read(src, format="yolo"), out, format="yolo", layout="labelimg")
    assert sorted(p.name for p in out.iterdir()) == ["classes.txt", "猫咪_01.jpg", "猫咪_01.txt"]
    assert (out / "classes.txt").read_text(encoding="utf-8") == "狗\n猫\n"
    assert (out / "猫咪_01.txt").read_text(encoding="utf-8") == "1 0.500000 0.500000 0.400000 0.500000\n"
    again, _ = read(out)
    assert objects(again.samples[0]) == [("猫", (15.0, 10.0, 20.0, 20.0))]


# --- bad input ------------------------------------------------------------------------------
def labelimg_folder(root: Path, label_text: str, classes: str = "a\nb\n") -> Path:
    make_image(root / "img.jpg", 20, 10)
    (root / "img.txt").write_text(label_text)
    (root / "classes.txt").write_text(classes)
    return root


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            "0 0.5 0.5 0.2",
            "expected 5 fields (class cx cy w h) or a polygon of at least 3 points (class x1 y1 x2 y2 x3 y3 ...), "
            "got 4",
        ),
        (
            "0 0.5 0.5 0.2 0.2 0.1 0.1 0.3",
            "expected 5 fields (class cx cy w h) or a polygon of at least 3 points (class x1 y1 x2 y2 x3 y3 ...), "
            "got 8",
        ),
        ("0 0.5 abc 0.2 0.2", "'abc' is not a number"),
        ("0 0.5 1.5 0.2 0.2", "value 1.5 is outside [0, 1]; YOLO coordinates are normalised by the image size"),
        ("0 -0.2 0.5 0.2 0.2", "value -0.2 is outside [0, 1]; YOLO coordinates are normalised by the image size"),
        ("2 0.5 0.5 0.2 0.2", "class id 2 is beyond the 2 names in classes.txt"),
        ("x 0.5 0.5 0.2 0.2", "class id 'x' is not an integer"),
    ],
)
def test_bad_lines_name_file_and_line(tmp_path, line, message):
    root = labelimg_folder(tmp_path / "d", f"0 0.5 0.5 0.2 0.2\n{line}\n")
    with pytest.raises(InvalidInputError) as info:
        read(root)
    assert info.value.file == str(root / "img.txt")
    assert info.value.location == "line 2"
    assert info.value.message.endswith(message)


def test_small_overshoot_is_tolerated(tmp_path):
    ds, _ = read(labelimg_folder(tmp_path / "d", "0 0.5 0.5 1.0004 1.0004\n"))
    assert len(ds.samples[0].objects) == 1


def test_skip_invalid_drops_only_the_bad_line_and_reports_it(tmp_path):
    root = labelimg_folder(tmp_path / "d", "0 0.5 0.5 0.2 0.2\n7 0.5 0.5 0.2 0.2\n1 0.5 0.5 0.4 0.4\n")
    ds, report = read(root, skip_invalid=True)
    assert [o.label for o in ds.samples[0].objects] == ["a", "b"]
    assert [s.to_dict() for s in report.skipped] == [
        {
            "file": str(root / "img.txt"),
            "location": "line 2",
            "reason": "class id 7 is beyond the 2 names in classes.txt",
        }
    ]


def test_listed_image_that_does_not_exist_is_an_error_naming_it(tmp_path):
    root = tmp_path / "dk"
    root.mkdir()
    (root / "obj.names").write_text("a\n")
    (root / "obj.data").write_text("classes = 1\ntrain = data/train.txt\nnames = data/obj.names\n")
    (root / "train.txt").write_text("data/obj_train_data/missing.jpg\n")
    with pytest.raises(InvalidInputError) as info:
        read(root)
    assert info.value.describe() == f"{root / 'obj_train_data' / 'missing.jpg'}: image file not found"


# --- writer ---------------------------------------------------------------------------------
def coco_like(root: Path) -> Dataset:
    """COCO-style: ids 1 and 5, float boxes, a polygon, a crowd region, an image label, no image files."""
    cats = CategorySet([Category(5, "person"), Category(1, "bicycle")])
    samples = [
        Sample(
            "a.jpg",
            640,
            480,
            "train",
            labels=["outdoor"],
            objects=[
                Annotation("bicycle", (10.5, 20.25, 100.125, 50.75)),
                Annotation(
                    "person", (0.0, 0.0, 64.0, 48.0), shape="polygon", polygon=[[0.0, 0.0, 64.0, 0.0, 64.0, 48.0]]
                ),
                Annotation("person", (300.0, 200.0, 10.0, 10.0), iscrowd=True),
            ],
        ),
        Sample("b.jpg", 320, 240, "val", objects=[Annotation("person", (310.0, 230.0, 20.0, 20.0))]),
    ]
    return Dataset(samples, cats, root=root)


def test_ultralytics_layout_labels_yaml_and_losses(tmp_path):
    report = cvkit.write(coco_like(tmp_path), tmp_path / "out", format="yolo", images="reference")
    out = tmp_path / "out"
    assert (out / "labels" / "train" / "a.txt").read_text() == (
        "1 0.094629 0.095052 0.156445 0.105729\n"  # (10.5 + 50.0625) / 640, (20.25 + 25.375) / 480, ...
        "0 0.050000 0.050000 0.100000 0.100000\n"
    )  # the polygon as its box
    assert (
        out / "labels" / "val" / "b.txt"
    ).read_text() == "0 0.984375 0.979167 0.031250 0.041667\n"  # clipped to 310..320
    data = yaml.safe_load((out / "data.yaml").read_text())
    assert data == {
        "train": "train.txt",
        "val": "val.txt",
        "labels": "labels",
        "nc": 2,
        "names": {0: "person", 1: "bicycle"},
    }
    assert (out / "train.txt").read_text() == f"{tmp_path / 'a.jpg'}\n"
    losses = {what: why for what, why in report.losses}
    assert (
        losses["polygon"]
        == "YOLO detection labels hold boxes only; written as its box (-w task=segment writes polygons)"
    )
    assert losses["crowd region"].startswith("YOLO has no crowd flag")
    assert losses["image-level label"] == "YOLO cannot hold image-level labels"
    assert losses["box outside the image"] == "YOLO coordinates are normalised to [0, 1]; clipped to the image"
    assert report.warnings == ["category ids became YOLO class indices 0..N-1, in the order of the categories"]
    assert (report.written.images, report.written.objects, report.written.categories) == (2, 3, 2)


def test_reference_lists_read_back_with_normalised_boxes_to_the_micro_pixel(tmp_path):
    make_image(tmp_path / "a.jpg", 640, 480)
    make_image(tmp_path / "b.jpg", 320, 240)
    cvkit.write(coco_like(tmp_path), tmp_path / "out", format="yolo", images="reference")
    ds, _ = read(tmp_path / "out")
    assert ds.categories.names() == ["person", "bicycle"]  # category order kept, so names survive COCO -> YOLO -> COCO
    assert [(Path(s.path).name, s.split) for s in ds] == [("a.jpg", "train"), ("b.jpg", "val")]
    (bicycle, person), (clipped,) = ds.samples[0].objects, ds.samples[1].objects
    assert bicycle.label == "bicycle" and person.label == "person" and clipped.label == "person"
    # 6 decimals of a 640-pixel side: within 0.5e-6 * 640 = 0.00032 px per value
    assert bicycle.bbox == pytest.approx((10.5, 20.25, 100.125, 50.75), abs=7e-4)
    assert clipped.bbox == pytest.approx((310.0, 230.0, 10.0, 10.0), abs=7e-4)


def test_missing_image_and_unknown_size_is_skippable_when_writing(tmp_path):
    ds = Dataset(
        [Sample("gone.jpg", None, None, "train", objects=[Annotation("a", (1.0, 1.0, 2.0, 2.0))])], root=tmp_path
    )
    with pytest.raises(InvalidInputError, match="image size unknown and the image cannot be read"):
        cvkit.write(ds, tmp_path / "out", format="yolo", images="reference")
    assert not (tmp_path / "out").exists()


def test_segment_task_writes_polygon_lines(tmp_path):
    ds = coco_like(tmp_path)
    report = cvkit.write(ds, tmp_path / "out", format="yolo", images="reference", task="segment")
    lines = (tmp_path / "out" / "labels" / "train" / "a.txt").read_text().splitlines()
    assert lines[1] == "0 0.000000 0.000000 0.100000 0.000000 0.100000 0.100000"
    assert "polygon" not in {what for what, _ in report.losses}


def test_segment_task_writes_every_object_as_a_polygon_line(tmp_path):
    # Ultralytics (data/utils.py verify_image_label) drops a whole label file whose rows mix polygons and
    # 5-field boxes ("labels mix segment and detection rows"), and YOLODataset.verify_labels refuses a segment
    # dataset with fewer segments than boxes; so with task=segment a box, a mask or a degenerate polygon is
    # written as its box's 4 corners (segments2boxes gives the same box back).
    import numpy as np

    from cvkit.core.masks import encode

    pixels = np.zeros((10, 10), dtype=np.uint8)
    pixels[2:5, 2:5] = 1
    mask = encode(pixels)
    objects = [
        Annotation("a", (1.0, 2.0, 4.0, 3.0)),
        Annotation("a", (0.0, 0.0, 10.0, 10.0), shape="polygon", polygon=[[0.0, 0.0, 10.0, 0.0, 5.0, 10.0]]),
        Annotation("b", shape="mask", rle=mask),
        Annotation("b", (2.0, 2.0, 2.0, 2.0), shape="polygon", polygon=[[2.0, 2.0, 4.0, 4.0]]),
    ]
    make_image(tmp_path / "a.jpg", 10, 10)
    ds = Dataset(
        [Sample("a.jpg", 10, 10, "train", objects=objects)],
        CategorySet([Category(1, "a"), Category(2, "b")]),
        root=tmp_path,
    )
    report = cvkit.write(ds, tmp_path / "out", format="yolo", images="reference", task="segment", precision=2)
    lines = (tmp_path / "out" / "labels" / "train" / "a.txt").read_text().splitlines()
    assert lines == [
        "0 0.10 0.20 0.50 0.20 0.50 0.50 0.10 0.50",
        "0 0.00 0.00 1.00 0.00 0.50 1.00",
        "1 0.20 0.20 0.50 0.20 0.50 0.50 0.20 0.50",
        "1 0.20 0.20 0.40 0.20 0.40 0.40 0.20 0.40",
    ]
    assert all(len(line.split()) >= 7 and len(line.split()) % 2 == 1 for line in lines)
    assert {what for what, _ in report.losses} == {"mask", "polygon part with fewer than 3 points"}
    back, _ = read(tmp_path / "out")
    assert back.samples[0].objects[0].bbox == pytest.approx((1.0, 2.0, 4.0, 3.0))


def test_copy_layout_is_what_ultralytics_trains_on_and_round_trips(small, tmp_path):
    cvkit.write(small, tmp_path / "y", format="yolo")
    out = tmp_path / "y"
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == [
        "data.yaml",
        "images/train/cat_01.jpg",
        "images/train/dog_02.png",
        "images/train/empty_03.jpg",
        "labels/train/cat_01.txt",
        "labels/train/dog_02.txt",
        "labels/train/empty_03.txt",
    ]
    assert (out / "labels" / "train" / "empty_03.txt").read_text() == ""
    assert (out / "data.yaml").read_text().splitlines()[-6:] == [
        "train: images/train",
        "val: images/train",
        "nc: 2",
        "names:",
        "  0: cat",
        "  1: dog",
    ]


def test_darknet_layout_matches_datumaro_strict(small, tmp_path):
    cvkit.write(small, tmp_path / "dk", format="yolo", layout="darknet")
    out = tmp_path / "dk"
    assert (
        out / "obj.data"
    ).read_text() == "classes = 2\ntrain = data/train.txt\nnames = data/obj.names\nbackup = backup/\n"
    assert (
        (out / "train.txt").read_text()
        == "data/obj_train_data/cat_01.jpg\ndata/obj_train_data/dog_02.png\ndata/obj_train_data/empty_03.jpg\n"
    )
    back, _ = read(out)
    assert [(Path(s.path).name, s.split, len(s.objects)) for s in back] == [
        ("cat_01.jpg", "train", 2),
        ("dog_02.png", "train", 1),
        ("empty_03.jpg", "train", 0),
    ]


def test_unknown_writer_option_and_reference_with_darknet_are_refused(small, tmp_path):
    with pytest.raises(CvkitError, match="unknown yolo writer option"):
        cvkit.write(small, tmp_path / "a", format="yolo", colour="red")
    with pytest.raises(CvkitError, match="the darknet layout keeps images next to their labels"):
        cvkit.write(small, tmp_path / "b", format="yolo", layout="darknet", images="reference")


# --- CLI ------------------------------------------------------------------------------------
def test_cli_yolo2createml_and_bad_input_exit_code(corpus, tmp_path):
    runner = CliRunner()
    dst = tmp_path / "out.json"
    result = runner.invoke(
        app, ["convert", "yolo2createml", str(corpus("labelimg", "yolo_real_repo_408f739")), str(dst), "--json"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["written"]["objects"] == 2
    entries = json.loads(dst.read_text())
    first = entries[0]["annotations"][0]
    assert first["label"] == "round_object"
    assert first["coordinates"] == pytest.approx({"x": 546.0, "y": 444.0, "width": 156.0, "height": 246.0}, abs=1e-3)
    bad = labelimg_folder(tmp_path / "bad", "0 0.5 0.5\n")
    result = runner.invoke(app, ["convert", "yolo2createml", str(bad), str(tmp_path / "x.json")])
    assert result.exit_code == 2
    assert result.output == (
        f"error: {bad / 'img.txt'}:line 1: expected 5 fields (class cx cy w h) or a polygon of at least 3 points "
        "(class x1 y1 x2 y2 x3 y3 ...), got 3\n"
    )
    assert not (tmp_path / "x.json").exists()


def test_pose_labels_with_kpt_shape_become_coco_keypoints(tmp_path):
    root = ultralytics(
        tmp_path / "pose",
        "train: images/train\nval: images/train\nkpt_shape: [2, 3]\nnames: [person]\n",
        {
            "images/train/a.jpg": "0 0.5 0.5 0.5 0.5 0.25 0.5 2 0 0 0\n",
        },
    )
    ds, _ = read(root)
    (person,) = ds.samples[0].objects
    assert objects(ds.samples[0]) == [("person", (10.0, 5.0, 20.0, 10.0))]
    assert person.keypoints == [10.0, 10.0, 2.0, 0.0, 0.0, 0.0]
    (root / "labels" / "train" / "a.txt").write_text("0 0.5 0.5 0.5 0.5 0.25 0.5\n")
    with pytest.raises(
        InvalidInputError, match=r"line 1: expected 11 fields \(class cx cy w h \+ 2 keypoints x y v\), got 7"
    ):
        read(root)


def test_yaml_path_that_does_not_exist_falls_back_to_the_yaml_folder(tmp_path):
    root = ultralytics(
        tmp_path / "moved",
        "path: /nowhere/coco8\ntrain: images/train\nval: images/train\nnames: [a]\n",
        {"images/train/a.jpg": "0 0.5 0.5 1 1\n"},
    )
    ds, report = read(root)
    assert [s.path for s in ds] == ["images/train/a.jpg"]
    assert (
        report.warnings[0]
        == f"{root / 'data.yaml'}: path '/nowhere/coco8' not found; reading relative to the YAML's folder"
    )


@pytest.mark.parametrize(
    ("parts", "counts"),
    [
        (("yolo", "datumaro_develop", "strict"), (1, 2, 10)),
        (("yolo", "datumaro_develop", "labels"), (2, 4, 10)),
        (("yolo", "datumaro_develop", "annotations"), (1, 2, 10)),
        (("labelimg", "yolo_real_repo_408f739"), (1, 2, 1)),
    ],
)
def test_corpus_converts_to_coco_that_pycocotools_loads(corpus, tmp_path, parts, counts):
    import contextlib
    import io

    from pycocotools.coco import COCO

    cvkit.convert(corpus(*parts), tmp_path / "out.json", to_format="coco", from_format="yolo")
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(str(tmp_path / "out.json"))
    assert (len(coco.imgs), len(coco.anns), len(coco.cats)) == counts


def test_symlink_and_hardlink_modes_place_images_by_link(small, tmp_path):
    cvkit.write(small, tmp_path / "sym", format="yolo", images="symlink")
    link = tmp_path / "sym" / "images" / "train" / "cat_01.jpg"
    assert link.is_symlink() and link.resolve() == (small.root / "images" / "cat_01.jpg").resolve()
    cvkit.write(small.map(lambda s: s), tmp_path / "hard", format="yolo", images="hardlink")
    assert (tmp_path / "hard" / "images" / "train" / "cat_01.jpg").stat().st_ino == (
        small.root / "images" / "cat_01.jpg"
    ).stat().st_ino


def test_label_studio_yolo_export_with_notes_json(tmp_path):
    # Label Studio: images/, labels/, classes.txt and a notes.json whose "categories" must not make it look like COCO
    make_image(tmp_path / "images" / "a1b2-img.jpg", 64, 48)
    (tmp_path / "labels").mkdir()
    (tmp_path / "labels" / "a1b2-img.txt").write_text("1 0.5 0.5 0.25 0.25\n")
    (tmp_path / "classes.txt").write_text("cat\ndog\n")
    (tmp_path / "notes.json").write_text(
        json.dumps(
            {
                "categories": [{"id": 0, "name": "cat"}, {"id": 1, "name": "dog"}],
                "info": {"year": 2024, "contributor": "Label Studio"},
            }
        )
    )
    assert cvkit.detect_format(tmp_path) == "yolo"
    (sample,) = cvkit.read(tmp_path, format="yolo").materialize().samples
    assert [(o.label, o.bbox) for o in sample.objects] == [("dog", (24.0, 18.0, 16.0, 12.0))]
