"""YOLO datasets laid out exactly as real tools write them (Ultralytics, Roboflow, darknet, CVAT, LabelImg, Label
Studio).

Each fixture is built in ``tmp_path`` the way the named tool writes it; the comment above it says
where in that tool's source or docs the layout comes from.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

import cvkit
from conftest import make_image
from cvkit.cli import app
from cvkit.core.model import Dataset
from cvkit.core.report import Report
from cvkit.errors import InvalidInputError


def read(path: Path, **options) -> tuple[Dataset, Report]:
    report = Report()
    return cvkit.read(path, format="yolo", report=report, **options).materialize(), report


def boxes(ds: Dataset) -> list[tuple[str, str | None, list[tuple[str, tuple[float, ...]]]]]:
    return [(s.path, s.split, [(o.label, tuple(round(v, 3) + 0.0 for v in o.bbox)) for o in s.objects]) for s in ds]


def labelled(
    root: Path, image: str, label: str | None, label_text: str = "0 0.5 0.5 0.5 0.5\n", size: tuple[int, int] = (40, 20)
) -> None:
    make_image(root / image, *size)
    if label is not None:
        (root / label).parent.mkdir(parents=True, exist_ok=True)
        (root / label).write_text(label_text)


# --- Ultralytics ------------------------------------------------------------------------------
def test_macos_appledouble_files_beside_images_are_not_images(tmp_path):
    # macOS tar/zip and copies to exFAT drives leave "._name" AppleDouble files beside each file.
    # Ultralytics lists images with glob("**/*.*") (ultralytics/data/base.py get_img_files), which skips
    # dot-files, so it trains on such a folder; cvkit must read it too.
    labelled(tmp_path, "images/train/a.jpg", "labels/train/a.txt")
    (tmp_path / "images/train/._a.jpg").write_bytes(b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        ")
    (tmp_path / "labels/train/._a.txt").write_bytes(b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        ")
    (tmp_path / "images/train/.ipynb_checkpoints").mkdir()
    (tmp_path / "images/train/.ipynb_checkpoints/a-checkpoint.jpg").write_bytes(b"not an image")
    (tmp_path / "data.yaml").write_text("train: images/train\nval: images/train\nnames: [cat]\n")
    ds, _ = read(tmp_path)
    assert boxes(ds) == [("images/train/a.jpg", "train", [("cat", (10.0, 5.0, 20.0, 10.0))])]


def test_overshoot_within_ultralytics_one_percent_is_read_and_beyond_is_an_error(tmp_path):
    # Ultralytics verify_image_label (ultralytics/data/utils.py): "Coordinate points check with 1% tolerance",
    # points.max() <= 1.01 and lb.min() >= -0.01; such labels train, so cvkit reads them.
    labelled(tmp_path, "a.jpg", "a.txt", "0 0.5 0.5 1.008 0.5\n0 -0.009 0.5 0.01 0.5\n")
    (tmp_path / "classes.txt").write_text("cat\n")
    ds, _ = read(tmp_path)
    assert len(ds.samples[0].objects) == 2
    (tmp_path / "a.txt").write_text("0 0.5 0.5 0.2 0.2\n0 0.5 0.5 1.02 0.5\n")
    with pytest.raises(InvalidInputError) as info:
        read(tmp_path)
    assert (info.value.file, info.value.location) == (str(tmp_path / "a.txt"), "line 2")
    assert info.value.message.startswith("value 1.02 is outside [0, 1]")


def test_validation_key_is_the_val_split(tmp_path):
    # Ultralytics check_det_dataset: "renaming data YAML 'validation' key to 'val' to match YOLO format".
    labelled(tmp_path, "images/train/a.jpg", "labels/train/a.txt")
    labelled(tmp_path, "images/validation/b.jpg", "labels/validation/b.txt")
    (tmp_path / "data.yaml").write_text("train: images/train\nvalidation: images/validation\nnames: [cat]\n")
    ds, _ = read(tmp_path)
    assert [(s.path, s.split) for s in ds] == [("images/train/a.jpg", "train"), ("images/validation/b.jpg", "val")]


def test_obb_corner_lines_are_four_point_polygons_and_write_back_unchanged(tmp_path):
    # Ultralytics OBB labels are "class x1 y1 x2 y2 x3 y3 x4 y4" (docs.ultralytics.com/datasets/obb), as CVAT's
    # YOLOv8OrientedBoxesConverter and Label Studio's YOLO_OBB export write them; data.yaml has no task key
    # (cfg/datasets/DOTAv1.yaml), so an OBB is read as what it is: a 4-corner polygon, corners kept exactly.
    line = "0 0.100000 0.200000 0.600000 0.100000 0.700000 0.600000 0.200000 0.700000\n"
    labelled(tmp_path, "images/train/a.jpg", "labels/train/a.txt", line, size=(100, 50))
    (tmp_path / "data.yaml").write_text("train: images/train\nval: images/train\nnames:\n  0: plane\n")
    ds, _ = read(tmp_path)
    (obb,) = ds.samples[0].objects
    assert (obb.label, obb.shape) == ("plane", "polygon")
    assert [round(v, 6) for v in obb.polygon[0]] == [10.0, 10.0, 60.0, 5.0, 70.0, 30.0, 20.0, 35.0]
    assert tuple(round(v, 6) for v in obb.bbox) == (10.0, 5.0, 60.0, 30.0)
    cvkit.write(cvkit.read(tmp_path, format="yolo"), tmp_path / "out", format="yolo", task="segment")
    assert (tmp_path / "out/labels/train/a.txt").read_text() == line


# --- Roboflow ---------------------------------------------------------------------------------
ROBOFLOW_KEYS = (
    "roboflow:\n  license: CC BY 4.0\n  project: p\n  url: https://universe.roboflow.com/w/p/dataset/3\n"
    "  version: 3\n  workspace: w\n"
)


def test_roboflow_yolov8_download_with_test_key_but_no_test_folder(tmp_path):
    # roboflow-python Version.__reformat_yaml (roboflow/core/version.py), format "yolov8" with ultralytics 8.0.196:
    # content["test"] = "test/images" is written whether or not the version has a test split. Ultralytics only
    # requires train and val to exist (check_det_dataset), so the dataset trains; cvkit reads it, with a warning.
    labelled(tmp_path, "train/images/a.jpg", "train/labels/a.txt")
    labelled(tmp_path, "valid/images/b.jpg", "valid/labels/b.txt")
    (tmp_path / "data.yaml").write_text(
        "names:\n- cat\nnc: 1\n" + ROBOFLOW_KEYS + "test: test/images\ntrain: train/images\nval: valid/images\n"
    )
    ds, report = read(tmp_path)
    assert [(s.path, s.split, len(s.objects)) for s in ds] == [
        ("train/images/a.jpg", "train", 1),
        ("valid/images/b.jpg", "val", 1),
    ]
    assert report.warnings == [f"{tmp_path / 'data.yaml'}: test 'test/images' not found; that split is not read"]


@pytest.mark.parametrize("location", ["Pets-3", "/content/datasets/Pets-3"])
def test_roboflow_yolov5_download_paths_relative_to_the_download_folder(tmp_path, location):
    # roboflow-python Version.__reformat_yaml, formats yolov5pytorch/yolov7pytorch:
    #   content["train"] = location + content["train"].lstrip("..")   (same for val; test left as "../test/images")
    # where location is "<name>-<version>" relative to the working directory, or "$DATASET_DIRECTORY/<name>-<version>".
    # Those paths only hold from the folder the download ran in; the split folders are found under the YAML's folder.
    root = tmp_path / "Pets-3"
    labelled(root, "train/images/a.jpg", "train/labels/a.txt")
    labelled(root, "valid/images/b.jpg", "valid/labels/b.txt")
    (root / "data.yaml").write_text(
        f"names:\n- cat\nnc: 1\ntest: ../test/images\ntrain: {location}/train/images\nval: {location}/valid/images\n"
    )
    ds, report = read(root)
    assert [(s.path, s.split, len(s.objects)) for s in ds] == [
        ("train/images/a.jpg", "train", 1),
        ("valid/images/b.jpg", "val", 1),
    ]
    assert (
        f"{root / 'data.yaml'}: train '{location}/train/images' not found; read {root / 'train' / 'images'}"
        in report.warnings
    )


def test_roboflow_yolo_darknet_export_split_folders_with_darknet_labels(tmp_path):
    # Roboflow "YOLO Darknet" export: train/, valid/, test/ each hold the images, one .txt per image beside it
    # and _darknet.labels (the class names; darknet users copy it to data/obj.names), README.roboflow.txt at the root.
    for split, name in (("train", "a_jpg.rf.0f1e.jpg"), ("valid", "b_jpg.rf.9a8b.jpg")):
        labelled(tmp_path, f"{split}/{name}", f"{split}/{Path(name).stem}.txt", "1 0.5 0.5 0.5 0.5\n")
        (tmp_path / split / "_darknet.labels").write_text("cat\ndog\n")
    (tmp_path / "README.roboflow.txt").write_text("Pets - v3\n")
    assert cvkit.detect_format(tmp_path) == "yolo"
    ds, report = read(tmp_path)
    assert boxes(ds) == [
        ("train/a_jpg.rf.0f1e.jpg", "train", [("dog", (10.0, 5.0, 20.0, 10.0))]),
        ("valid/b_jpg.rf.9a8b.jpg", "valid", [("dog", (10.0, 5.0, 20.0, 10.0))]),
    ]
    assert ds.categories.names() == ["cat", "dog"]
    assert report.warnings == []


# --- darknet ----------------------------------------------------------------------------------
@pytest.mark.parametrize("moved", [False, True])
def test_darknet_voc_layout_labels_folder_beside_jpegimages(tmp_path, moved):
    # pjreddie darknet scripts/voc_label.py writes VOCdevkit/VOC2007/labels/<id>.txt and lists
    # "%s/VOCdevkit/VOC%s/JPEGImages/%s.jpg" % (getcwd(), year, id) in 2007_train.txt; darknet finds the label by
    # replacing "/JPEGImages/" with "/labels/" (src/utils.c replace_image_to_label; cfg/voc.data names the lists).
    # moved: the lists were written on another machine (/home/pjreddie/data/voc), the folder copied here since.
    voc = tmp_path / "VOCdevkit" / "VOC2007"
    labelled(voc, "JPEGImages/000005.jpg", "labels/000005.txt", "1 0.5 0.5 0.5 0.5\n")
    written_in = Path("/home/pjreddie/data/voc") if moved else tmp_path
    (tmp_path / "2007_train.txt").write_text(f"{written_in / 'VOCdevkit/VOC2007/JPEGImages/000005.jpg'}\n")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "voc.names").write_text("aeroplane\nbicycle\n")
    (tmp_path / "voc.data").write_text(
        f"classes= 2\ntrain  = {tmp_path / '2007_train.txt'}\nnames = data/voc.names\nbackup = backup\n"
    )
    ds, report = read(tmp_path / "voc.data")
    assert boxes(ds) == [("VOCdevkit/VOC2007/JPEGImages/000005.jpg", "train", [("bicycle", (10.0, 5.0, 20.0, 10.0))])]
    assert report.warnings == (
        [
            f"{tmp_path / '2007_train.txt'}: listed paths not found where the list says, found by their tail under "
            f"{tmp_path} (first: '{written_in}/VOCdevkit/VOC2007/JPEGImages/000005.jpg' -> "
            f"{voc / 'JPEGImages/000005.jpg'})"
        ]
        if moved
        else []
    )


def test_blank_line_inside_a_names_file_keeps_its_class_index(tmp_path):
    # darknet reads names with get_paths (src/data.c: one entry per line, blank lines included) and LabelImg
    # writes classes.txt from label_hist, which keeps blank lines of predefined_classes.txt (labelImg.py
    # load_predefined_classes; libs/yolo_io.py YOLOWriter.save): class 2 below is "cat", not out of range.
    labelled(tmp_path, "a.jpg", "a.txt", "2 0.5 0.5 0.5 0.5\n0 0.5 0.5 0.5 0.5\n")
    (tmp_path / "classes.txt").write_text("dog\n\ncat\n\n")
    ds, _ = read(tmp_path)
    assert [o.label for o in ds.samples[0].objects] == ["cat", "dog"]
    assert ds.categories.names() == [
        "dog",
        "class_1",
        "cat",
    ]  # the blank line is Ultralytics' name for an unnamed class


def test_labelimg_classes_txt_in_the_windows_code_page(tmp_path):
    # LabelImg libs/yolo_io.py YOLOWriter.save: open(classes_file, 'w') without an encoding, so on a Chinese
    # Windows classes.txt is written in the ANSI code page (GBK), while the label file itself is UTF-8.
    labelled(tmp_path, "猫.jpg", "猫.txt", "1 0.5 0.5 0.5 0.5\n")
    (tmp_path / "classes.txt").write_bytes("狗\n猫\n".encode("gbk"))
    with pytest.raises(InvalidInputError) as info:
        read(tmp_path)
    assert info.value.file == str(tmp_path / "classes.txt")
    assert "-r names_encoding=" in info.value.message
    ds, _ = read(tmp_path, names_encoding="gbk")
    assert [o.label for o in ds.samples[0].objects] == ["猫"]
    outside = tmp_path.with_name(tmp_path.name + "-out")  # never inside the source folder
    result = CliRunner().invoke(
        app, ["convert", "yolo2coco", str(tmp_path), str(outside / "out.json"), "-r", "names_encoding=gbk"]
    )
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(
        app, ["convert", "yolo2coco", str(tmp_path), str(outside / "o2.json"), "-r", "names_encoding=gbkk"]
    )
    assert result.exit_code == 2 and "unknown encoding 'gbkk' (reader option names_encoding)" in result.output


def test_windows_line_ends_bom_blank_lines_and_scientific_notation(tmp_path):
    # LabelImg on Windows writes labels in text mode (CRLF); Notepad saves with a BOM; Label Studio's YOLO export
    # (label-studio-sdk converter/exports/yolo.py) writes str(float), so small values come out as "1e-05".
    labelled(tmp_path, "a.jpg", None)
    (tmp_path / "a.txt").write_bytes(
        b"\xef\xbb\xbf0 5e-1 0.5 0.5 0.5  \r\n\r\n \t \r\n1 0.5E0 5.0e-01 1e-05 2.5e-1\t\r\n"
    )
    (tmp_path / "classes.txt").write_bytes(b"\xef\xbb\xbfcat\r\ndog\r\n")
    ds, _ = read(tmp_path)
    assert boxes(ds) == [("a.jpg", None, [("cat", (10.0, 5.0, 20.0, 10.0)), ("dog", (20.0, 7.5, 0.0, 5.0))])]


# --- Label Studio -----------------------------------------------------------------------------
def test_label_studio_yolo_export_without_images_warns_about_unread_labels(tmp_path):
    # label-studio-sdk converter.py convert_to_yolo: images/ is always created, but images are copied only for
    # "YOLO with Images"; plain "YOLO" leaves it empty beside labels/, classes.txt and notes.json.
    (tmp_path / "images").mkdir()
    (tmp_path / "labels").mkdir()
    for name in ("1a2b3c4d-cat.txt", "5e6f7a8b-dog.txt"):
        (tmp_path / "labels" / name).write_text("0 0.5 0.5 0.25 0.25\n")
    (tmp_path / "classes.txt").write_text("cat\n")
    (tmp_path / "notes.json").write_text(
        '{"categories": [{"id": 0, "name": "cat"}], "info": {"contributor": "Label Studio"}}'
    )
    ds, report = read(tmp_path)
    assert len(ds.samples) == 0
    assert report.warnings == [
        f"{tmp_path / 'labels'}: 2 label files have no image in {tmp_path / 'images'} (first: 1a2b3c4d-cat.txt); "
        "their objects are not read (YOLO coordinates need the image size)"
    ]


def test_class_name_listed_twice_keeps_both_indices(tmp_path):
    # Ultralytics (check_det_dataset) and darknet take names as they are: a name listed twice is two classes
    # whose index is what the labels use; cvkit keeps both and names the second one apart
    make_image(tmp_path / "images" / "train" / "a.jpg", 40, 20)
    (tmp_path / "labels" / "train").mkdir(parents=True)
    (tmp_path / "labels" / "train" / "a.txt").write_text("0 0.5 0.5 0.2 0.2\n2 0.5 0.5 0.4 0.4\n")
    (tmp_path / "data.yaml").write_text("train: images/train\nval: images/train\nnames: [car, person, car]\n")
    report = Report()
    ds = cvkit.read(tmp_path, format="yolo", report=report).materialize()
    assert ds.categories.names() == ["car", "person", "car (class 2)"]
    assert [o.label for o in ds.samples[0].objects] == ["car", "car (class 2)"]
    assert any("listed twice" in w for w in report.warnings)
