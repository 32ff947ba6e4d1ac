"""Pascal VOC: real devkit samples, coordinate convention, layouts, attributes, bad input."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

import cvkit
from conftest import make_image
from cvkit.core.report import Report
from cvkit.errors import InvalidInputError


def by_stem(ds):
    return {Path(s.path).stem: s for s in ds}


def test_devkit_sample_reads_boxes_attributes_parts_and_listed_image_without_xml(corpus):
    ds = cvkit.read(corpus("voc", "voc_dataset1"), format="voc").materialize()
    samples = by_stem(ds)
    assert set(samples) == {"2007_000001", "2007_000002"}
    first = samples["2007_000001"]
    assert (first.width, first.height, first.split) == (20, 10, "train")
    cat, person = first.objects
    # <xmin>1</xmin><ymin>2</ymin><xmax>3</xmax><ymax>4</ymax>, 1-based inclusive -> x=0, y=1, w=3, h=3
    assert cat.label == "cat" and cat.bbox == (0.0, 1.0, 3.0, 3.0)
    assert cat.attributes == {"pose": "Unspecified", "truncated": True, "difficult": False}
    assert person.attributes["parts"] == [{"label": "head", "bbox": [4.5, 5.0, 3.0, 3.0]}]
    assert person.attributes["actions"]["phoning"] is True and person.attributes["actions"]["jumping"] is False
    # listed in ImageSets/Main/test.txt with a JPEG but no XML: kept, size read from the JPEG header
    second = samples["2007_000002"]
    assert (second.objects, second.split, second.width, second.height) == ([], "test", 20, 10)
    assert ds.categories.names() == ["cat", "person"]


def test_sizeless_xml_without_images_keeps_labelmap_order_and_occluded(corpus):
    report = Report()
    ds = cvkit.read(corpus("voc", "voc_dataset2"), format="voc", report=report).materialize()
    samples = by_stem(ds)
    assert set(samples) == {"@", "a", "b", "c", "d"}
    assert samples["@"].objects == []
    assert samples["a"].width is None and samples["a"].objects[0].attributes["occluded"] is True
    assert samples["c"].objects[0].bbox == (2.0, 0.0, 9.0, 6.0)  # floats 3.0,1.0,11.0,6.0
    # labelmap.txt (datumaro's VOC label map) starts with "background", the masks' class 0: not an object class
    # up front; here one object is named "background", so it becomes a category where it first appears
    assert ds.categories.names()[:3] == ["aeroplane", "bicycle", "bird"] and ds.categories.names()[-1] == "background"
    assert {s.split for s in ds} == {"trainval"}
    assert any("no <size>" in w for w in report.warnings)


def test_imagesets_with_blank_lines_and_comments(corpus):
    ds = cvkit.read(corpus("voc", "voc_dataset3"), format="voc").materialize()
    assert [(Path(s.path).name, s.split, len(s.objects)) for s in ds] == [("2007_000001.jpg", "train", 1)]


def test_ilsvrc_box_xml_with_filename_without_extension(corpus):
    ds = cvkit.read(corpus("imagenet", "ilsvrc_bbox_xml"), format="voc").materialize()
    (sample,) = ds.samples
    assert sample.path.startswith("ILSVRC2012_val_00000001")
    assert sample.objects[0].label == "n01751748"
    assert sample.objects[0].bbox == (110.0, 107.0, 331.0, 86.0)


def write_xml(
    path: Path, objects: str, size: str = "<size><width>40</width><height>30</height><depth>3</depth></size>"
) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f"<annotation><folder></folder><filename>{path.stem}.jpg</filename>{size}{objects}</annotation>",
        encoding="utf-8",
    )
    return path


BOX = (
    "<object><name>{name}</name>{extra}<bndbox><xmin>{x1}</xmin><ymin>{y1}</ymin><xmax>{x2}</xmax><ymax>{y2}</ymax>"
    "</bndbox></object>"
)


def test_empty_flag_tags_read_as_false_and_zero_based_switch(tmp_path):
    write_xml(
        tmp_path / "img.xml",
        BOX.format(name="dog", extra="<difficult/><truncated></truncated>", x1=0, y1=0, x2=9, y2=4),
    )
    one_based = cvkit.read(tmp_path, format="voc").samples[0].objects[0]
    assert one_based.attributes == {"difficult": False, "truncated": False}
    assert one_based.bbox == (-1.0, -1.0, 10.0, 5.0)
    raw = cvkit.read(tmp_path, format="voc", one_based=False).samples[0].objects[0]
    assert raw.bbox == (0.0, 0.0, 9.0, 4.0)


def test_missing_size_filled_from_image_header_and_flat_labelimg_folder(tmp_path):
    make_image(tmp_path / "photo.jpg", 33, 21)
    write_xml(
        tmp_path / "photo.xml",
        BOX.format(name="cat", extra="", x1=1, y1=1, x2=5, y2=5),
        size="<size><width>0</width><height>0</height></size>",
    )
    sample = cvkit.read(tmp_path, format="voc").samples[0]
    assert (sample.width, sample.height) == (33, 21)
    assert sample.path == "photo.jpg"


def test_roboflow_split_folders(tmp_path):
    for split in ("train", "valid"):
        write_xml(tmp_path / split / f"{split}_1.xml", BOX.format(name="car", extra="", x1=1, y1=1, x2=4, y2=4))
    ds = cvkit.read(tmp_path, format="voc").materialize()
    assert sorted((s.path, s.split) for s in ds) == [("train/train_1.jpg", "train"), ("valid/valid_1.jpg", "valid")]


def test_voc_manifest_voc_roundtrip_keeps_xml_content(corpus, tmp_path):
    src = corpus("voc", "voc_dataset1")
    cvkit.convert(src, tmp_path / "m.jsonl", to_format="manifest")
    cvkit.convert(tmp_path / "m.jsonl", tmp_path / "voc", to_format="voc")
    original = etree.parse(str(src / "Annotations" / "2007_000001.xml")).getroot()
    written = etree.parse(str(tmp_path / "voc" / "Annotations" / "2007_000001.xml")).getroot()
    for tag in ("filename", "size/width", "size/height", "segmented"):
        assert written.findtext(tag) == original.findtext(tag)
    for o_obj, w_obj in zip(original.iterfind("object"), written.iterfind("object")):
        assert w_obj.findtext("name") == o_obj.findtext("name")
        for tag in ("xmin", "ymin", "xmax", "ymax"):
            assert float(w_obj.findtext(f"bndbox/{tag}")) == float(o_obj.findtext(f"bndbox/{tag}"))
        for tag in ("truncated", "difficult", "pose", "part/name", "part/bndbox/xmin", "actions/phoning"):
            if o_obj.find(tag) is not None:
                assert w_obj.findtext(tag) == o_obj.findtext(tag), tag
    lists = tmp_path / "voc" / "ImageSets" / "Main"
    assert (lists / "train.txt").read_text() == "2007_000001\n" and (lists / "test.txt").read_text() == "2007_000002\n"


def test_voc_coco_voc_gives_back_integer_boxes(corpus, tmp_path):
    src = corpus("voc", "voc_dataset1")
    cvkit.convert(src, tmp_path / "coco", to_format="coco")
    cvkit.convert(tmp_path / "coco", tmp_path / "voc", to_format="voc")
    before = {(o.label, o.bbox) for s in cvkit.read(src, format="voc") for o in s.objects}
    after = {(o.label, o.bbox) for s in cvkit.read(tmp_path / "voc", format="voc") for o in s.objects}
    assert before == after
    xml = etree.parse(str(tmp_path / "voc" / "Annotations" / "2007_000001.xml")).getroot()
    assert [xml.findtext(f"object/bndbox/{t}") for t in ("xmin", "ymin", "xmax", "ymax")] == ["1", "2", "3", "4"]


def test_writer_reports_polygons_written_as_boxes(tmp_path, small):
    sample = small.samples[0]
    sample.objects[0].polygon, sample.objects[0].shape = [[4, 6, 24, 6, 24, 36]], "polygon"
    report = cvkit.write(small, tmp_path / "voc", format="voc")
    assert report.losses[("polygon", "VOC XML holds boxes only; written as its bounding box")] == 1


@pytest.mark.parametrize(
    ("objects", "location", "message"),
    [
        (
            BOX.format(name="cat", extra="", x1=5, y1=1, x2=2, y2=4),
            "object[0]/bndbox",
            "inverted box: xmin=5 xmax=2 ymin=1 ymax=4",
        ),
        (
            BOX.format(name="cat", extra="", x1=1, y1=1, x2="wide", y2=4),
            "object[0]/bndbox/xmax",
            "<xmax> is not a number: 'wide'",
        ),
        ("<object><name>cat</name></object>", "object[0]", "object has no <bndbox> (nor <polygon> or <robndbox>)"),
        (BOX.format(name="", extra="", x1=1, y1=1, x2=2, y2=2), "object[0]/name", "object has no <name>"),
        (
            BOX.format(name="cat", extra="", x1=-3, y1=1, x2=2, y2=2),
            "object[0]/bndbox",
            "negative box coordinate (-3, 1); fix the box or leave the file out with --skip-invalid",
        ),
        (
            "<object><name>cat</name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>2</xmax></bndbox></object>",
            "object[0]/bndbox/ymax",
            "<bndbox> has no <ymax>",
        ),
        # float() takes "nan" and "inf": such a box would reach every output as NaN
        (
            BOX.format(name="cat", extra="", x1=1, y1=1, x2="inf", y2=4),
            "object[0]/bndbox/xmax",
            "<xmax> is not a number: 'inf'",
        ),
        (
            BOX.format(name="cat", extra="", x1="nan", y1=1, x2=2, y2=4),
            "object[0]/bndbox/xmin",
            "<xmin> is not a number: 'nan'",
        ),
        (
            "<object><name>ship</name><robndbox><cx>5</cx><cy>5</cy><w>2</w><h>NaN</h><angle>0</angle></robndbox></object>",
            "object[0]/robndbox/h",
            "<h> is not a number: 'NaN'",
        ),
        (
            "<object><name>ship</name><robndbox><cx>5</cx><cy>5</cy><w>2</w><h>1</h></robndbox></object>",
            "object[0]/robndbox/angle",
            "<robndbox> has no <angle>",
        ),
        (
            BOX.format(name="person", extra="<actions><jumping>maybe</jumping></actions>", x1=1, y1=1, x2=2, y2=2),
            "object[0]/actions/jumping",
            "<jumping> is not 0/1: 'maybe'",
        ),
    ],
)
def test_bad_boxes_name_file_and_element(tmp_path, objects, location, message):
    bad = write_xml(tmp_path / "bad.xml", objects)
    with pytest.raises(InvalidInputError) as info:
        cvkit.read(tmp_path, format="voc").materialize()
    assert info.value.describe() == f"{bad}:{location}: {message}"


def test_skip_invalid_keeps_good_files_and_lists_bad_ones(tmp_path):
    write_xml(tmp_path / "good.xml", BOX.format(name="cat", extra="", x1=1, y1=1, x2=4, y2=4))
    (tmp_path / "bad.xml").write_text("<annotation><object>")
    report = Report(skip_invalid=True)
    ds = cvkit.read(tmp_path, format="voc", report=report).materialize()
    assert [Path(s.path).stem for s in ds] == ["good"]
    assert len(report.skipped) == 1 and report.skipped[0].file.endswith("bad.xml")
    assert report.skipped[0].location == "line 1"


def test_many_files_parse_in_parallel_in_order(tmp_path):
    for i in range(40):
        write_xml(tmp_path / f"img_{i:03d}.xml", BOX.format(name=f"c{i % 3}", extra="", x1=1, y1=1, x2=i + 2, y2=4))
    from cvkit.formats.voc import _format as voc

    old = voc.PARALLEL_MIN_FILES
    voc.PARALLEL_MIN_FILES = 10
    try:
        parallel = list(cvkit.read(tmp_path, format="voc", workers=2))
    finally:
        voc.PARALLEL_MIN_FILES = old
    serial = list(cvkit.read(tmp_path, format="voc", workers=1))
    assert parallel == serial and len(serial) == 40  # every field: attributes, meta, boxes, order
    assert [s.objects[0].bbox[2] for s in serial] == [float(i + 2) for i in range(40)]


@pytest.mark.parametrize("workers", [1, 2])
def test_two_datasets_read_side_by_side_each_find_their_own_images(tmp_path, monkeypatch, workers):
    # the image lookup runs where the XML is parsed (forked workers, or in-process): two lazy readers iterated
    # together (train and val read side by side) must not find images in each other's folders
    from cvkit.formats.voc import _format as voc

    monkeypatch.setattr(voc, "PARALLEL_MIN_FILES", 2)
    for name in ("a", "b"):
        for i in range(3):  # <filename> names a .png, the image is a .jpg: found from the folder listing
            write_xml(tmp_path / name / f"{name}{i}.xml", BOX.format(name="car", extra="", x1=1, y1=1, x2=5, y2=5))
            (tmp_path / name / f"{name}{i}.xml").write_text(
                (tmp_path / name / f"{name}{i}.xml").read_text().replace(".jpg", ".png")
            )
            make_image(tmp_path / name / f"{name}{i}.jpg", 40, 30)
    first, second = (iter(cvkit.read(tmp_path / name, format="voc", workers=workers)) for name in ("a", "b"))
    paths = [next(first).path, next(second).path, next(first).path, next(second).path, next(first).path]
    assert paths == ["a0.jpg", "b0.jpg", "a1.jpg", "b1.jpg", "a2.jpg"]


def test_detection_tells_voc_from_mit_labelme_xml(corpus):
    # both are <annotation> XML under Annotations/; only VOC has <bndbox>
    assert cvkit.detect_format(corpus("voc", "voc_dataset1")) == "voc"
    assert cvkit.detect_format(corpus("voc", "voc_dataset2")) == "voc"  # includes an XML without objects
    assert cvkit.detect_format(corpus("labelme_mit", "datumaro_labelme_xml")) == "labelme_mit"


def test_voc2012_action_point_round_trips(tmp_path):
    # VOC2012's action annotations: a reference <point> and <actions> flags inside the object
    extra = (
        "<pose>Unspecified</pose><point><x>12</x><y>9</y></point><actions><jumping>1</jumping><phoning>0</phoning>"
        "</actions>"
    )
    write_xml(tmp_path / "src" / "a.xml", BOX.format(name="person", extra=extra, x1=2, y1=3, x2=20, y2=25))
    person = cvkit.read(tmp_path / "src", format="voc").samples[0].objects[0]
    assert person.meta["voc"] == {"point": {"x": "12", "y": "9"}}
    assert person.attributes["actions"] == {"jumping": True, "phoning": False}
    cvkit.convert(tmp_path / "src", tmp_path / "out", to_format="voc", write_options={"images": "reference"})
    again = cvkit.read(tmp_path / "out", format="voc").samples[0].objects[0]
    assert again.meta == person.meta and again.bbox == person.bbox
    assert again.attributes == {
        **person.attributes,
        "truncated": False,
        "difficult": False,
    }  # the devkit's tags are always written


def test_devkit_tree_with_an_images_folder_instead_of_jpegimages(tmp_path):
    # Label Studio, Labelbox and imglab export Annotations/ + images/ (<folder>images</folder>)
    make_image(tmp_path / "export" / "images" / "a.jpg", 40, 30)
    write_xml(tmp_path / "export" / "Annotations" / "a.xml", BOX.format(name="cat", extra="", x1=1, y1=1, x2=5, y2=5))
    ds = cvkit.read(tmp_path / "export", format="voc").materialize()
    assert [s.path for s in ds] == ["images/a.jpg"] and ds.samples[0].resolve(ds.root).is_file()
    cvkit.convert(tmp_path / "export", tmp_path / "yolo", to_format="yolo")  # copying the image needs the right path
    assert (tmp_path / "yolo" / "images" / "train" / "a.jpg").is_file()


def test_devkit_item_ids_with_subfolders_as_datumaro_and_cvat_write_them(tmp_path):
    # datumaro's VOC exporter (CVAT's VOC export) writes Annotations/<item.id>.xml with os.makedirs, so an id
    # "city/a" gives Annotations/city/a.xml, JPEGImages/city/a.jpg and the line "city/a" in ImageSets/Main/<subset>.txt
    root = tmp_path / "export"
    make_image(root / "JPEGImages" / "city" / "a.jpg", 40, 30)
    xml = write_xml(root / "Annotations" / "city" / "a.xml", BOX.format(name="car", extra="", x1=1, y1=1, x2=5, y2=5))
    xml.write_text(
        xml.read_text().replace("<filename>a.jpg", "<filename>city/a.jpg")
    )  # <filename> is the id + extension
    write_xml(root / "Annotations" / "b.xml", BOX.format(name="bus", extra="", x1=2, y1=2, x2=6, y2=6))
    (root / "ImageSets" / "Main").mkdir(parents=True)
    (root / "ImageSets" / "Main" / "default.txt").write_text("b\ncity/a\n")  # datumaro's DEFAULT_SUBSET_NAME: no subset
    ds = cvkit.read(root, format="voc").materialize()
    assert [(s.id, s.split, [o.label for o in s.objects]) for s in ds] == [
        ("b", None, ["bus"]),
        ("city/a", None, ["car"]),
    ]
    assert ds.samples[1].path == "JPEGImages/city/a.jpg"
    from cvkit.stats.sources import load_columns

    assert load_columns(root, "voc").num_objects == 2  # the statistics fast path lists the same files


def test_split_lists_with_underscores_are_splits_and_class_lists_are_not(tmp_path):
    write_xml(tmp_path / "Annotations" / "a.xml", BOX.format(name="car", extra="", x1=1, y1=1, x2=5, y2=5))
    write_xml(tmp_path / "Annotations" / "b.xml", BOX.format(name="car", extra="", x1=1, y1=1, x2=5, y2=5))
    main = tmp_path / "ImageSets" / "Main"
    main.mkdir(parents=True)
    (main / "train_2023.txt").write_text(
        "a\n"
    )  # a subset named with an underscore (datumaro/CVAT name lists by subset)
    (main / "val.txt").write_text("b\n")
    (main / "car_val.txt").write_text("b  1\n")  # the devkit's per-class list: id and -1/0/1
    ds = cvkit.read(tmp_path, format="voc").materialize()
    assert {s.id: s.split for s in ds} == {"a": "train_2023", "b": "val"}


@pytest.mark.parametrize("name", ["labelmap.txt", "ImageSets/Main/train.txt"])
def test_split_list_or_label_map_not_in_utf8_is_an_error_naming_file_and_line(tmp_path, name):
    write_xml(tmp_path / "Annotations" / "a.xml", BOX.format(name="car", extra="", x1=1, y1=1, x2=5, y2=5))
    (tmp_path / "ImageSets" / "Main").mkdir(parents=True)
    (tmp_path / name).write_bytes("a\ncaf\xe9\n".encode("latin-1"))  # saved in a Windows code page
    with pytest.raises(InvalidInputError) as info:
        cvkit.read(tmp_path, format="voc").materialize()
    assert info.value.describe() == f"{tmp_path / name}:line 2: not UTF-8 text (byte 0xe9)"
