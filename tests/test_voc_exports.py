"""Pascal VOC as real tools write and read it: CVAT/datumaro, Label Studio, LabelImg and its forks,
X-AnyLabeling, VoTT, the VOC tar files; and whether what cvkit writes is what those tools read."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from lxml import etree
from typer.testing import CliRunner

import cvkit
from conftest import make_image, small_dataset
from cvkit.cli import app
from cvkit.core.report import Report
from cvkit.errors import InvalidInputError
from cvkit.formats import voc
from cvkit.stats import voc_scan
from cvkit.stats.columns import columns_from_dataset

runner = CliRunner()
SIZE = "<size><width>40</width><height>30</height><depth>3</depth></size>"


def box(x1: float, y1: float, x2: float, y2: float) -> str:
    return f"<bndbox><xmin>{x1}</xmin><ymin>{y1}</ymin><xmax>{x2}</xmax><ymax>{y2}</ymax></bndbox>"


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def cvat_export(root: Path) -> Path:
    """CVAT's "PASCAL VOC 1.1" export without images (its default), as datumaro's VocExporter writes it
    (datumaro/plugins/data_formats/voc/exporter.py): labelmap.txt always starts with "background"; items
    without a subset go to ImageSets/Main/default.txt; an image without boxes is listed but gets no XML
    (the XML is written inside the loop over its boxes) and, without images, no JPEG either."""
    write(root / "labelmap.txt", "# label:color_rgb:parts:actions\nbackground:::\ncar:::\nperson:::\n")
    write(root / "ImageSets" / "Main" / "default.txt", "a\nempty\n")
    write(root / "ImageSets" / "Main" / "train.txt", "b\n")
    head = (
        "<annotation><folder></folder><filename>{}.jpg</filename><source><database>Unknown</database><annotation>Unknown</annotation>"
        "<image>Unknown</image></source>" + SIZE + "<segmented>0</segmented>"
    )
    write(
        root / "Annotations" / "a.xml",
        head.format("a") + "<object><name>car</name><truncated>0</truncated><occluded>1</occluded>"
        "<difficult>0</difficult>"
        + box(1.0, 2.0, 6.0, 8.0)
        + "<attributes><attribute><name>color</name><value>red</value></attribute>"
        "</attributes></object></annotation>",
    )
    write(
        root / "Annotations" / "b.xml",
        head.format("b") + "<object><name>person</name><truncated>0</truncated><occluded>0</occluded>"
        "<difficult>0</difficult>" + box(1.5, 2.0, 6.5, 8.0) + "</object></annotation>",
    )
    (root / "JPEGImages").mkdir()  # datumaro makes the folder even when it saves no image
    return root


def test_cvat_export_without_images_reads_every_listed_image_without_a_background_class(tmp_path):
    report = Report()
    ds = cvkit.read(cvat_export(tmp_path / "cvat"), format="voc", report=report).materialize()
    got = {s.id: (s.path, s.split, [(o.label, o.bbox) for o in s.objects]) for s in ds}
    assert got == {
        "a": ("JPEGImages/a.jpg", None, [("car", (0.0, 1.0, 6.0, 7.0))]),  # default.txt: datumaro's "no subset"
        "b": ("JPEGImages/b.jpg", "train", [("person", (0.5, 1.0, 6.0, 7.0))]),
        "empty": ("JPEGImages/empty.jpg", None, []),  # listed, no XML, no image: kept, not an error
    }
    assert ds.categories.names() == ["car", "person"]  # YOLO class 0 is "car", as in CVAT's own YOLO export
    assert any("neither an XML nor an image" in w for w in report.warnings)


def test_cvat_export_without_images_converts_from_the_command_line(tmp_path):
    src = cvat_export(tmp_path / "cvat")
    result = runner.invoke(app, ["convert", str(src), str(tmp_path / "coco"), "--to", "coco", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["read"]["images"] == 3 and summary["read"]["categories"] == 2


def test_written_devkit_tree_is_what_datumaro_torchvision_and_labelimg_read(tmp_path):
    ds = small_dataset(tmp_path / "src")
    for sample in ds.samples:
        sample.split = None
    ds.samples[0].objects[0].attributes = {
        "parts": [{"label": "head", "bbox": [5.0, 7.0, 4.0, 4.0]}],
        "actions": {"jumping": True},
    }
    cvkit.write(ds, tmp_path / "voc", format="voc", images="copy")
    out = tmp_path / "voc"
    # datumaro's VocImporter finds a dataset by ImageSets/Main/*.txt; items without a subset are in default.txt
    assert (out / "ImageSets" / "Main" / "default.txt").read_text() == "cat_01\ndog_02\nempty_03\n"
    # datumaro refuses a <part> whose name no label of labelmap.txt declares ("Undeclared label 'head'")
    assert (out / "labelmap.txt").read_text().splitlines()[1:] == ["cat::head:jumping", "dog:::"]
    xml = etree.parse(str(out / "Annotations" / "cat_01.xml")).getroot()
    # torchvision's VOCDetection and mmdetection read <difficult> with int(); LabelImg with int(float())
    assert [xml.findtext(f"object/{t}") for t in ("difficult", "bndbox/xmin", "bndbox/xmax")] == ["0", "5", "24"]
    back = cvkit.read(out, format="voc").materialize()
    assert {s.split for s in back} == {None}  # default.txt reads back as "no split"
    assert back.categories.names() == ["cat", "dog"]


@pytest.mark.parametrize("layout", ["VOCdevkit", "extracted"])
def test_voc2007_and_voc2012_side_by_side_read_as_one_dataset(tmp_path, layout):
    # mmdetection's data/VOCdevkit/{VOC2007,VOC2012} ("07+12") and Ultralytics' VOC.yaml download; the VOC
    # tar files extract to VOCdevkit/VOC20xx, so users also point at the folder holding VOCdevkit/
    base = tmp_path / "data" / "VOCdevkit"
    for year, image_id, split in (("VOC2007", "000005", "test"), ("VOC2012", "2008_000008", "train")):
        make_image(base / year / "JPEGImages" / f"{image_id}.jpg", 40, 30)
        write(
            base / year / "Annotations" / f"{image_id}.xml",
            f"<annotation><filename>{image_id}.jpg</filename>{SIZE}<object><name>{year}</name>{box(1, 1, 5, 5)}"
            "</object></annotation>",
        )
        write(base / year / "ImageSets" / "Main" / f"{split}.txt", f"{image_id}\n")
    path = base if layout == "VOCdevkit" else tmp_path / "data"
    assert cvkit.detect_format(path) == "voc"
    ds = cvkit.read(path, format="voc").materialize()
    assert [(s.id, s.path, s.split) for s in ds] == [
        ("VOC2007/000005", "VOC2007/JPEGImages/000005.jpg", "test"),
        ("VOC2012/2008_000008", "VOC2012/JPEGImages/2008_000008.jpg", "train"),
    ]
    assert all(s.resolve(ds.root).is_file() for s in ds)
    assert voc_scan.scan_voc_columns(path, Report()) is None  # several trees: statistics use the reader


def test_devkit_tree_per_split_folder(tmp_path):
    # Kaggle-style uploads: train/{Annotations,JPEGImages} and test/{Annotations,JPEGImages}, no ImageSets
    for split in ("train", "test"):
        write(
            tmp_path / split / "Annotations" / f"{split}_1.xml",
            f"<annotation><filename>{split}_1.jpg</filename>{SIZE}<object><name>dog</name>{box(1, 1, 5, 5)}</object>"
            "</annotation>",
        )
    ds = cvkit.read(tmp_path, format="voc").materialize()
    assert [(s.path, s.split) for s in ds] == [
        ("test/JPEGImages/test_1.jpg", "test"),
        ("train/JPEGImages/train_1.jpg", "train"),
    ]


def test_extracted_voc2012_tar_reads_and_the_stats_scan_agrees(tmp_path):
    # VOCtrainval_11-May-2012.tar extracts to VOCdevkit/VOC2012/; pointing at the extraction folder works
    root = tmp_path / "VOCdevkit" / "VOC2012"
    write(
        root / "Annotations" / "2008_000008.xml",
        f"<annotation><filename>2008_000008.jpg</filename>{SIZE}<object><name>horse</name>{box(1, 1, 5, 5)}</object>"
        "</annotation>",
    )
    write(root / "ImageSets" / "Main" / "train.txt", "2008_000008\n")
    ds = cvkit.read(tmp_path, format="voc").materialize()
    assert [(s.path, s.split) for s in ds] == [("JPEGImages/2008_000008.jpg", "train")] and ds.root == root
    fast = voc_scan.scan_voc_columns(tmp_path, Report())
    assert fast is not None and fast.class_names == columns_from_dataset(ds).class_names == ["horse"]


def test_negative_coordinates_are_an_error_naming_the_box(tmp_path):
    # VoTT's and older RectLabel's Pascal VOC exports write boxes dragged past the edge (xmin -2); VOC counts pixels
    # from 1, so cvkit refuses them (issue 2: negative boxes are errors) and --skip-invalid leaves the file out
    write(
        tmp_path / "a.xml",
        f"<annotation><filename>a.jpg</filename>{SIZE}<object><name>car</name>{box(-2, -0.5, 10, 12)}</object>"
        "</annotation>",
    )
    write(
        tmp_path / "b.xml",
        f"<annotation><filename>b.jpg</filename>{SIZE}<object><name>car</name>{box(2, 1, 10, 12)}</object>"
        "</annotation>",
    )
    with pytest.raises(InvalidInputError, match=r"negative box coordinate \(-2, -0.5\)") as caught:
        cvkit.read(tmp_path, format="voc").materialize()
    assert caught.value.location == "object[0]/bndbox" and str(caught.value.file).endswith("a.xml")
    report = Report(skip_invalid=True)
    assert [s.id for s in cvkit.read(tmp_path, format="voc", report=report).materialize()] == ["b"] and len(
        report.skipped
    ) == 1


def test_label_studio_filename_without_extension_finds_the_image(tmp_path):
    # label_studio_converter convert_to_voc: <folder>images</folder>, <filename> is the image name without its
    # extension (os.path.splitext(basename)[0]); Roboflow-style names hold dots: "cat_jpg.rf.3f2a"
    root = tmp_path / "ls"
    make_image(root / "images" / "cat_jpg.rf.3f2a.jpg", 40, 30)
    write(
        root / "Annotations" / "cat_jpg.rf.3f2a.xml",
        f"<annotation><folder>images</folder><filename>cat_jpg.rf.3f2a</filename>"
        f"<source><database>MyDatabase</database></source>{SIZE}<segmented>0</segmented>"
        "<object><name>cat</name><pose>Unspecified</pose><truncated>0</truncated><difficult>0</difficult>"
        f"{box(1, 1, 5, 5)}</object></annotation>",
    )
    ds = cvkit.read(root, format="voc").materialize()
    assert [s.path for s in ds] == ["images/cat_jpg.rf.3f2a.jpg"]
    cvkit.convert(root, tmp_path / "yolo", to_format="yolo")  # copies the image: needs its real path
    assert (tmp_path / "yolo" / "images" / "train" / "cat_jpg.rf.3f2a.jpg").is_file()


def test_image_is_the_one_named_by_the_xml_when_filename_disagrees(tmp_path):
    # torchvision, mmdetection, darknet's voc_label.py and Ultralytics open JPEGImages/<id>.jpg; LabelImg pairs
    # files by name. An XML copied for an augmented image keeps the original's <filename>; a <filename> can
    # also name .jpg when the images were converted to .png
    make_image(tmp_path / "JPEGImages" / "img.jpg", 40, 30)
    make_image(tmp_path / "JPEGImages" / "img_flip.jpg", 40, 30)
    make_image(tmp_path / "JPEGImages" / "scan.png", 40, 30)
    for stem, filename in (("img", "img.jpg"), ("img_flip", "img.jpg"), ("scan", "scan.jpg")):
        write(
            tmp_path / "Annotations" / f"{stem}.xml", f"<annotation><filename>{filename}</filename>{SIZE}</annotation>"
        )
    ds = cvkit.read(tmp_path, format="voc").materialize()
    assert {s.id: s.path for s in ds} == {
        "img": "JPEGImages/img.jpg",
        "img_flip": "JPEGImages/img_flip.jpg",
        "scan": "JPEGImages/scan.png",
    }


def test_x_anylabeling_polygons_and_objects_without_a_box(tmp_path):
    # X-AnyLabeling's custom_to_voc opens an <object> for every shape and adds <bndbox> only for the exported
    # kinds (a point gets an empty object); in polygon mode a polygon also gets <polygon><x1/><y1/>...
    head = f"<annotation><folder>out</folder><filename>a.jpg</filename>{SIZE}<source><database>https://github.com/CVHub520/X-AnyLabeling</database></source>"
    flags = "<pose>Unspecified</pose><truncated>0</truncated><occluded>0</occluded><difficult>0</difficult>"
    polygon = "<polygon><x1>10.5</x1><y1>4.0</y1><x2>20.0</x2><y2>4.0</y2><x3>15.0</x3><y3>12.25</y3></polygon>"
    xml = write(
        tmp_path / "a.xml",
        head + f"<object><name>leaf</name>{flags}{box(10, 4, 20, 12)}{polygon}</object></annotation>",
    )
    assert voc.detect(xml) and voc.detect(tmp_path)  # a <polygon> beside a <bndbox> is still VOC
    assert cvkit.detect_format(xml) == cvkit.detect_format(tmp_path) == "voc"  # and not MIT LabelMe's polygons
    (sample,) = cvkit.read(tmp_path, format="voc").materialize()
    (leaf,) = sample.objects
    assert (leaf.label, leaf.shape, leaf.bbox) == ("leaf", "polygon", (9.0, 3.0, 11.0, 9.0))
    assert leaf.polygon == [[9.5, 3.0, 19.0, 3.0, 14.0, 11.25]]  # 1-based like the box corners
    assert cvkit.read(tmp_path, format="voc", one_based=False).samples[0].objects[0].polygon == [
        [10.5, 4.0, 20.0, 4.0, 15.0, 12.25]
    ]
    # an object with no geometry (X-AnyLabeling's point) is a missing required field: an error naming it
    write(tmp_path / "a.xml", head + f"<object><name>tip</name>{flags}</object></annotation>")
    with pytest.raises(InvalidInputError, match=r"object has no <bndbox>") as caught:
        cvkit.read(tmp_path, format="voc").materialize()
    assert caught.value.location == "object[0]"


def test_rolabelimg_rotated_boxes_read_as_polygons_and_write_back(tmp_path):
    # roLabelImg (libs/pascal_voc_io.py): <annotation verified="no">, <type>robndbox</type> and
    # <robndbox><cx/><cy/><w/><h/><angle/></robndbox> (radians) instead of <bndbox>
    write(
        tmp_path / "src" / "a.xml",
        f"""<annotation verified="no"><folder>img</folder><filename>a.jpg</filename>
<path>/home/u/img/a.jpg</path><source><database>Unknown</database></source>{SIZE}<segmented>0</segmented>
<object><type>robndbox</type><name>ship</name><pose>Unspecified</pose><truncated>0</truncated><difficult>0</difficult>
<robndbox><cx>20.0</cx><cy>15.0</cy><w>10.0</w><h>4.0</h><angle>{math.pi / 2}</angle></robndbox>\
</object></annotation>""",
    )
    assert cvkit.detect_format(tmp_path / "src") == "voc"
    ship = cvkit.read(tmp_path / "src", format="voc", one_based=False).samples[0].objects[0]
    assert ship.shape == "polygon" and [round(v, 6) for v in ship.bbox] == [18.0, 10.0, 4.0, 10.0]  # turned a quarter
    cvkit.convert(
        tmp_path / "src",
        tmp_path / "out",
        to_format="voc",
        read_options={"one_based": False},
        write_options={"one_based": False},
    )
    xml = etree.parse(str(tmp_path / "out" / "Annotations" / "a.xml")).getroot()
    assert xml.get("verified") == "no" and xml.findtext("object/type") == "robndbox"  # roLabelImg reads the type back
    assert xml.findtext("object/robndbox/angle") == str(math.pi / 2)


def test_labelimg_verified_flag_survives_a_round_trip(tmp_path):
    # LabelImg's PascalVocWriter.genXML: <annotation verified="yes"> once the user ticks "verify image"
    write(
        tmp_path / "src" / "a.xml",
        f'<annotation verified="yes"><folder>src</folder><filename>a.jpg</filename>{SIZE}'
        f"<object><name>dog</name>{box(1, 1, 5, 5)}</object></annotation>",
    )
    cvkit.convert(tmp_path / "src", tmp_path / "out", to_format="voc", write_options={"layout": "flat"})
    assert etree.parse(str(tmp_path / "out" / "a.xml")).getroot().get("verified") == "yes"


def test_split_list_saved_by_notepad_with_a_byte_order_mark(tmp_path):
    write(tmp_path / "Annotations" / "000001.xml", f"<annotation><filename>000001.jpg</filename>{SIZE}</annotation>")
    write(tmp_path / "ImageSets" / "Main" / "train.txt", b"\xef\xbb\xbf000001\r\n")
    write(tmp_path / "labelmap.txt", b"\xef\xbb\xbfdog:::\r\ncat:::\r\n")
    ds = cvkit.read(tmp_path, format="voc").materialize()
    assert [(s.id, s.split) for s in ds] == [("000001", "train")] and ds.categories.names() == ["dog", "cat"]


def test_xml_in_gbk_bom_crlf_and_utf16_read_alike_by_reader_and_stats_scan(tmp_path):
    # Chinese LabelImg forks declare encoding="GBK"; Windows tools write CRLF, a UTF-8 BOM or UTF-16
    body = (
        f"<annotation><filename>{{}}.jpg</filename>{SIZE}<object><name>猫</name>{box(1, 1, 5, 5)}</object></annotation>"
    )
    files = {
        "gbk": b"<?xml version='1.0' encoding='GBK'?>\n" + body.format("gbk").encode("gbk"),
        "bom": b"\xef\xbb\xbf<?xml version='1.0' encoding='utf-8'?>\r\n"
        + body.format("bom").replace("><", ">\r\n<").encode(),
        "u16": ("<?xml version='1.0' encoding='utf-16'?>\n" + body.format("u16")).encode("utf-16"),
    }
    for stem, data in files.items():
        write(tmp_path / "Annotations" / f"{stem}.xml", data)
    write(tmp_path / "ImageSets" / "Main" / "train.txt", "bom\ngbk\nu16\n")
    assert cvkit.detect_format(tmp_path) == "voc"
    ds = cvkit.read(tmp_path, format="voc").materialize()
    assert [o.label for s in ds for o in s.objects] == ["猫", "猫", "猫"]
    fast = voc_scan.scan_voc_columns(tmp_path, Report())
    assert fast.class_names == ["猫"]  # GBK bytes for 猫 happen to be valid UTF-8 ("è"): not read as UTF-8
    flat = tmp_path / "flat"
    write(flat / "u16.xml", files["u16"])
    assert cvkit.detect_format(flat) == "voc"


def test_segmentation_masks_are_said_to_be_unread(tmp_path):
    # CVAT/datumaro write polygons and masks to SegmentationObject/*.png, not to the XML
    root = cvat_export(tmp_path / "cvat")
    write(root / "SegmentationObject" / "a.png", b"\x89PNG")
    report = Report()
    cvkit.read(root, format="voc", report=report).materialize()
    assert "SegmentationObject/ masks are not read: objects come from the boxes in Annotations/" in report.warnings


def test_unknown_image_size_is_read_from_the_image_or_left_out_never_written_as_zero(tmp_path):
    # mmdetection's XMLDataset takes int(<size>/<width>) when <size> exists, else reads the image; a 0 makes its
    # filter_data (VOC configs: min_size=32) drop the image. cvkit wrote <width>0</width> for unknown sizes.
    ds = small_dataset(tmp_path / "src")
    ds.samples[0].width = ds.samples[0].height = None  # its image exists: the header gives 64x48
    ds.samples[1].width = ds.samples[1].height = None
    (tmp_path / "src" / "images" / "dog_02.png").unlink()  # no image, no size: no <size> at all
    cvkit.write(ds, tmp_path / "voc", format="voc")
    cat = etree.parse(str(tmp_path / "voc" / "Annotations" / "cat_01.xml")).getroot()
    dog = etree.parse(str(tmp_path / "voc" / "Annotations" / "dog_02.xml")).getroot()
    assert (cat.findtext("size/width"), cat.findtext("size/height")) == ("64", "48")
    assert dog.find("size") is None


@pytest.mark.parametrize("layout", ["devkit", "flat"])
def test_macos_appledouble_twins_of_the_xml_files_are_skipped(tmp_path, layout):
    # a dataset copied from a Mac onto a FAT/exFAT drive or zipped there: every file gets a "._" twin of resource-fork
    # bytes
    folder = tmp_path / "Annotations" if layout == "devkit" else tmp_path
    write(
        folder / "a.xml",
        f"<annotation><filename>a.jpg</filename>{SIZE}<object><name>car</name>{box(1, 1, 5, 5)}</object></annotation>",
    )
    write(folder / "._a.xml", b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        ")
    assert cvkit.detect_format(tmp_path) == "voc"
    assert [(s.id, [o.label for o in s.objects]) for s in cvkit.read(tmp_path, format="voc").materialize()] == [
        ("a", ["car"])
    ]


def test_a_folder_where_the_image_should_be_is_no_traceback(tmp_path):
    # a sizeless XML whose <filename> names a folder: the header read that fills the size found a folder and
    # raised IsADirectoryError out of the reader and the COCO writer; it is an unreadable image like any other
    write(
        tmp_path / "v" / "imgs.xml",
        f"<annotation><filename>imgs</filename><object><name>car</name>{box(1, 1, 5, 5)}</object></annotation>",
    )
    (tmp_path / "v" / "imgs").mkdir()
    report = cvkit.convert(tmp_path / "v", tmp_path / "out.json", from_format="voc", to_format="coco")
    assert report.warnings == [
        "some images have no <size> and no readable image file; their size stays unknown",
        "some images have no known size and no readable file; their width and height are written as 0",
    ]
    assert [(i["width"], i["height"]) for i in json.loads((tmp_path / "out.json").read_text())["images"]] == [(0, 0)]


def test_negative_image_size_is_an_error_naming_size(tmp_path):
    write(
        tmp_path / "a.xml",
        "<annotation><filename>a.jpg</filename><size><width>-5</width><height>30</height></size></annotation>",
    )
    with pytest.raises(InvalidInputError, match=r"<size> is negative: -5 x 30") as caught:
        cvkit.read(tmp_path, format="voc").materialize()
    assert caught.value.location == "size"
