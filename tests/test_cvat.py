"""CVAT for images / for video 1.1: the corpus exports CVAT wrote, shapes one by one, the writer, hostile input.

Oracles: the XML itself parsed with the standard library (counts, coordinates, attributes), CVAT's documented
layout (pixel corners, rotation clockwise about the centre, RLE of 0/1 runs over the mask box) and hand-computed
geometry. datumaro (the library CVAT's own import and export build on) pins pandas, opencv and pillow below this
project's, so it checks the writer from a venv of its own: tests/test_oracle_cvat.py.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import numpy as np
import pytest

import cvkit
from conftest import corpus_path, make_image
from cvkit.core.categories import Category, CategorySet
from cvkit.core.masks import decode
from cvkit.core.model import Annotation, Dataset, Sample
from cvkit.core.report import Report
from cvkit.errors import CvkitError
from hostile.harness import assert_clean_error, assert_nothing_written, snapshot
from hostile.harness import cvkit as run_cvkit

HEAD = '<?xml version="1.0" encoding="utf-8"?>\n<annotations>\n  <version>1.1</version>\n'


def _xml(tmp: Path, body: str, meta: str = "") -> Path:
    path = tmp / "annotations.xml"
    path.write_text(
        HEAD + (f"  <meta><task><labels>{meta}</labels></task></meta>\n" if meta else "") + body + "</annotations>\n"
    )
    return path


def _read(path: Path, **options) -> tuple[Dataset, Report]:
    report = Report()
    return cvkit.read(path, format="cvat", report=report, **options).materialize(), report


# --- the corpus ------------------------------------------------------------------------
def test_project_export_reads_with_the_corpus_counts():
    root = corpus_path("cvat", "datumaro_export_project")
    xml = ET.parse(root / "annotations.xml").getroot()
    ds, report = _read(root)
    assert cvkit.detect_format(root) == "cvat"
    assert report.read.images == 6 == len(xml.findall("image"))
    assert report.read.objects == 12
    assert dict(report.read.splits) == {"Test": 2, "Train": 2, "Validation": 2}
    shapes = sorted(o.shape for s in ds for o in s.objects)
    assert shapes == sorted(["box"] * 3 + ["polygon"] * 3 + ["linestrip"] * 3 + ["point"] * 3)
    assert ds.categories.names() == ["label1", "label2"]
    for sample, element in zip(ds, xml.findall("image")):
        assert (sample.split, sample.meta["cvat"]["name"]) == (element.get("subset"), element.get("name"))
        assert (ds.root / sample.path).is_file()  # images/<subset>/<name>
        assert (sample.width, sample.height) == (int(element.get("width")), int(element.get("height")))
        for obj, shape in zip(sample.objects, element):
            if shape.tag == "box":
                corners = [float(shape.get(k)) for k in ("xtl", "ytl", "xbr", "ybr")]
                assert obj.bbox == (corners[0], corners[1], corners[2] - corners[0], corners[3] - corners[1])
                # typed by <meta>: checkbox -> bool, number -> float, text and radio stay text ("0003" keeps its zeros)
                assert obj.attributes == {"occluded": True, "a1": True, "a2": "v3", "a3": "0003", "a4": 2.4}
                assert obj.meta["cvat"]["z_order"] == 1
            else:
                flat = [float(v) for pair in shape.get("points").split(";") for v in pair.split(",")]
                assert (obj.polygon[0] if obj.polygon else obj.points) == flat
    specs = {a["name"]: a for a in ds.categories.get("label1").attributes["cvat_attributes"]}
    assert {n: s["input_type"] for n, s in specs.items()} == {
        "a1": "checkbox",
        "a2": "radio",
        "a3": "text",
        "a4": "number",
    }
    assert specs["a2"]["values"] == ["v1", "v2", "v3"]


def test_video_tracks_read_as_frames_with_track_ids():
    root = corpus_path("cvat", "datumaro_for_video")
    ds, report = _read(root)
    assert report.read.images == 3 and report.read.objects == 3  # 7 track shapes, 4 of them outside="1"
    assert any('4 track shape(s) marked outside="1"' in w for w in report.warnings)
    assert [s.path for s in ds] == [f"images/frame_{n:06d}.png" for n in (10, 13, 16)]
    assert all((ds.root / s.path).is_file() and (s.width, s.height) == (25, 20) for s in ds)
    assert ds.categories.names() == ["klhg", "z U k", "II"]
    assert ds.categories.get("klhg").attributes["cvat_attributes"][0]["values"] == ["jk", "hgkf"]  # newline-separated
    frame10 = ds.samples[0]
    box = next(o for o in frame10.objects if o.shape == "box")
    assert (box.label, box.bbox, box.attributes) == ("II", (3.0, 4.0, 7.0, 1.0), {"occluded": True, "track_id": 0})
    points = next(o for o in frame10.objects if o.shape == "point")
    assert points.attributes == {"hgl": "hgkf", "track_id": 1}
    assert [o.attributes["track_id"] for o in ds.samples[1].objects] == [2] and ds.samples[2].objects == []

    kept, report = _read(root, outside="keep")
    assert report.read.objects == 7
    assert sum(1 for s in kept for o in s.objects if o.attributes.get("outside")) == 4
    assert sum(1 for s in kept for o in s.objects if o.meta["cvat"]["keyframe"]) == 7


def test_video_frames_written_as_images_keep_their_file_suffix(tmp_path):
    """CVAT names video frames without a suffix; written as images they take their file's suffix, in the XML and on
    disk, so tools that match images by name (datumaro) find them."""
    root = corpus_path("cvat", "datumaro_for_video")
    cvkit.convert(root, tmp_path / "out", "cvat", write_options={"images": "copy"})
    names = [el.get("name") for el in ET.parse(tmp_path / "out" / "annotations.xml").iter("image")]
    assert names == [f"frame_{n:06d}.png" for n in (10, 13, 16)]
    assert sorted(p.name for p in (tmp_path / "out" / "images").iterdir()) == names
    again, _report = _read(tmp_path / "out")
    assert [(s.path, s.width, s.height) for s in again] == [(f"images/{n}", 25, 20) for n in names]
    xml = tmp_path / "out" / "annotations.xml"  # names without their suffix still find the files, by stem
    xml.write_text(xml.read_text(encoding="utf-8").replace('.png"', '"'), encoding="utf-8")
    stems, _report = _read(tmp_path / "out")
    assert [s.path for s in stems] == [f"images/{n}" for n in names]


def test_project_round_trip_gives_cvat_the_same_values(tmp_path):
    root = corpus_path("cvat", "datumaro_export_project")
    cvkit.write(cvkit.read(root, format="cvat"), tmp_path / "out", format="cvat")
    source, written = (
        ET.parse(root / "annotations.xml").getroot(),
        ET.parse(tmp_path / "out" / "annotations.xml").getroot(),
    )
    assert written.findtext("meta/project/subsets").split("\n") == ["Test", "Train", "Validation"]

    def shapes(xml):
        out = []
        for image in xml.findall("image"):
            for shape in image:
                numbers = {k: float(v) for k, v in shape.attrib.items() if k in ("xtl", "ytl", "xbr", "ybr")}
                points = [float(v) for pair in shape.get("points", "").split(";") if pair for v in pair.split(",")]
                attributes = {a.get("name"): a.text for a in shape.findall("attribute")}
                out.append(
                    (
                        image.get("name"),
                        image.get("subset"),
                        shape.tag,
                        shape.get("label"),
                        numbers,
                        points,
                        attributes,
                        shape.get("occluded", "0"),
                        shape.get("z_order", "0"),
                    )
                )
        return out

    assert shapes(written) == shapes(source)
    assert sorted(
        p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out" / "images").rglob("*.jpg")
    ) == sorted(f"images/{s}/img{i}.jpg" for s in ("Test", "Train", "Validation") for i in (0, 1))


# --- shapes ----------------------------------------------------------------------------
def test_rotated_box_turns_clockwise_about_its_centre_and_comes_back(tmp_path):
    path = _xml(
        tmp_path,
        '  <image id="0" name="a.jpg" width="100" height="100">\n'
        '    <box label="car" occluded="0" xtl="10" ytl="20" xbr="50" ybr="40" rotation="90"/>\n  </image>\n',
    )
    obj = _read(path)[0].samples[0].objects[0]
    # 40x20 box centred on (30, 30) turned a quarter clockwise: 20 wide, 40 tall; its top-left corner goes to (40, 10)
    assert obj.shape == "polygon" and [round(v, 6) for v in obj.polygon[0][:2]] == [40.0, 10.0]
    assert tuple(round(v, 6) for v in obj.bbox) == (20.0, 10.0, 20.0, 40.0)
    cvkit.write(_read(path)[0], tmp_path / "back.xml", format="cvat")
    box = ET.parse(tmp_path / "back.xml").getroot().find("image/box")
    assert {k: box.get(k) for k in ("xtl", "ytl", "xbr", "ybr", "rotation")} == {
        "xtl": "10.00",
        "ytl": "20.00",
        "xbr": "50.00",
        "ybr": "40.00",
        "rotation": "90.00",
    }


def test_ellipse_mask_and_tag(tmp_path):
    path = _xml(
        tmp_path,
        '  <image id="0" name="a.jpg" width="6" height="6">\n'
        '    <ellipse label="o" occluded="0" cx="3" cy="3" rx="2" ry="1"/>\n'
        '    <mask label="m" occluded="0" rle="3, 2, 2, 2" left="1" top="2" width="3" height="3" z_order="0"/>\n'
        '    <tag label="day" source="manual"><attribute name="light">bright</attribute></tag>\n  </image>\n',
    )
    sample = _read(path)[0].samples[0]
    ellipse, mask = sample.objects
    assert ellipse.bbox == (1.0, 2.0, 4.0, 2.0) and ellipse.meta["ellipse"] == [3.0, 3.0, 2.0, 1.0, 0.0]
    # runs over the 3x3 box at (1, 2), row by row, 0s first: 000 / 110 / 011
    assert sorted(zip(*decode(mask.rle).nonzero())) == [(3, 1), (3, 2), (4, 2), (4, 3)]
    assert sample.labels == ["day"]
    cvkit.write(_read(path)[0], tmp_path / "back.xml", format="cvat")
    image = ET.parse(tmp_path / "back.xml").getroot().find("image")
    assert {k: image.find("ellipse").get(k) for k in ("cx", "cy", "rx", "ry")} == {
        "cx": "3.00",
        "cy": "3.00",
        "rx": "2.00",
        "ry": "1.00",
    }
    written = image.find("mask")
    assert [written.get(k) for k in ("rle", "left", "top", "width", "height")] == [
        "0, 2, 2, 2",
        "1",
        "3",
        "3",
        "2",
    ]  # the tight box
    assert image.find("tag").get("label") == "day" and image.find("tag/attribute").text == "bright"


def test_skeleton_reads_as_keypoints_in_meta_order_and_writes_back(tmp_path):
    meta = (
        '<label><name>person</name><type>skeleton</type><svg>&lt;line data-type="edge" data-node-from="1" '
        'data-node-to="2"&gt;&lt;/line&gt;</svg></label>'
        "<label><name>nose</name><type>points</type><parent>person</parent></label>"
        "<label><name>eye</name><type>points</type><parent>person</parent></label>"
    )
    body = (
        '  <image id="0" name="a.jpg" width="50" height="50">\n    <skeleton label="person" z_order="0">\n'
        '      <points label="eye" outside="1" occluded="0" points="5,6"/>\n'
        '      <points label="nose" outside="0" occluded="1" points="1,2"/>\n    </skeleton>\n  </image>\n'
    )
    ds, _ = _read(_xml(tmp_path, body, meta))
    obj = ds.samples[0].objects[0]
    assert obj.shape == "keypoints" and obj.keypoints == [1.0, 2.0, 1.0, 5.0, 6.0, 0.0]
    assert ds.categories.names() == ["person"]
    assert ds.categories.get("person").attributes["keypoints"] == ["nose", "eye"]
    assert ds.categories.get("person").attributes["skeleton"] == [[1, 2]]
    cvkit.write(ds, tmp_path / "back.xml", format="cvat")
    root = ET.parse(tmp_path / "back.xml").getroot()
    labels = {lab.findtext("name"): (lab.findtext("type"), lab.findtext("parent")) for lab in root.iter("label")}
    assert labels == {"person": ("skeleton", None), "nose": ("points", "person"), "eye": ("points", "person")}
    points = {
        p.get("label"): (p.get("points"), p.get("outside"), p.get("occluded")) for p in root.find("image/skeleton")
    }
    assert points == {"nose": ("1.00,2.00", "0", "1"), "eye": ("5.00,6.00", "1", "0")}


def test_writer_describes_attributes_and_reports_what_cvat_cannot_hold(tmp_path):
    make_image(tmp_path / "src" / "a.png", 40, 30)
    sample = Sample(
        "a.png",
        40,
        30,
        objects=[
            Annotation(
                "cat",
                (1.0, 2.0, 10.0, 5.0),
                score=0.5,
                attributes={"truncated": True, "count": 3, "note": "x"},
                keypoints=[2.0, 3.0, 2.0],
            ),
        ],
        attributes={"weather": "rain"},
    )
    ds = Dataset([sample], CategorySet([Category(1, "cat", attributes={"color": "#112233"})]), root=tmp_path / "src")
    report = cvkit.write(ds, tmp_path / "out", format="cvat")
    lost = {what for what, _ in report.losses}
    assert {"score", "keypoints", "image attribute 'weather'"} <= lost
    root = ET.parse(tmp_path / "out" / "annotations.xml").getroot()
    label = root.find("meta/task/labels/label")
    assert label.findtext("color") == "#112233"
    types = {a.findtext("name"): (a.findtext("input_type"), a.findtext("values")) for a in label.iter("attribute")}
    assert types == {"truncated": ("checkbox", "false"), "count": ("number", "3\n3\n1"), "note": ("text", "")}
    back = cvkit.read(tmp_path / "out", format="cvat").materialize().samples[0].objects[0]
    assert back.attributes == {"truncated": True, "count": 3, "note": "x"} and back.bbox == (1.0, 2.0, 10.0, 5.0)


def test_export_zip_reads_its_images_and_refuses_escaping_members(tmp_path):
    make_image(tmp_path / "img.jpg", 12, 8)
    (tmp_path / "in").mkdir()
    archive = tmp_path / "in" / "task.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr(
            "annotations.xml",
            HEAD + '  <image id="0" name="img.jpg" width="12" height="8">\n'
            '    <box label="a" occluded="0" xtl="1" ytl="1" xbr="3" ybr="3"/>\n  </image>\n</annotations>\n',
        )
        z.write(tmp_path / "img.jpg", "images/img.jpg")
    assert cvkit.detect_format(archive) == "cvat"
    ds, report = _read(archive, images_dir=str(tmp_path / "extracted"))
    assert report.read.objects == 1 and (ds.root / ds.samples[0].path).is_file()
    evil = tmp_path / "in" / "evil.zip"
    with zipfile.ZipFile(evil, "w") as z:
        z.writestr("annotations.xml", HEAD + "</annotations>\n")
        z.writestr("../escape.jpg", b"x")
    with pytest.raises(CvkitError, match="leaves the archive"):
        _read(evil, images_dir=str(tmp_path / "extracted2"))
    assert not (tmp_path / "escape.jpg").exists() and not (tmp_path / "in" / "escape.jpg").exists()


# --- hostile input -----------------------------------------------------------------------
def test_entities_are_not_expanded(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    path = tmp_path / "annotations.xml"
    path.write_text(
        f'<?xml version="1.0"?>\n<!DOCTYPE annotations [<!ENTITY x SYSTEM "file://{secret}">]>\n'
        '<annotations><version>1.1</version><image id="0" name="a.jpg" width="4" height="4">'
        '<box label="&x;" occluded="0" xtl="0" ytl="0" xbr="1" ybr="1"/></image></annotations>\n'
    )
    try:
        ds, _ = _read(path)
    except CvkitError:
        return  # refusing the file is as good
    assert all("TOP-SECRET" not in name for name in ds.categories.names())


@pytest.mark.parametrize(
    ("shape", "fragment"),
    [
        ('<box label="a" xtl="nan" ytl="0" xbr="1" ybr="1"/>', "xtl='nan' is not a number"),
        ('<box label="a" xtl="5" ytl="0" xbr="1" ybr="1"/>', "box corners are inverted"),
        ('<polygon label="a" points="1,2;3"/>', "points must be 'x,y;x,y;...'"),
        ('<mask label="a" rle="1, 2" left="0" top="0" width="2" height="2"/>', "rle counts add up to 3"),
        ('<mask label="a" rle="0, 4" left="3" top="0" width="2" height="2"/>', "the 2x2 mask at (3, 0) does not fit"),
        ('<mask label="a" rle="0, 10000000000" left="0" top="0" width="100000" height="100000"/>', "too large"),
    ],
)
def test_bad_shapes_fail_cleanly_naming_file_and_line(tmp_path, shape, fragment):
    path = _xml(tmp_path, f'  <image id="0" name="a.jpg" width="4" height="4">\n    {shape}\n  </image>\n')
    before = snapshot(tmp_path)
    run = run_cvkit("convert", path, tmp_path / "out.json", "--to", "coco", "--from", "cvat")
    assert_clean_error(run, names="annotations.xml")
    assert fragment in run.stderr and "line 5" in run.stderr
    assert_nothing_written(before, tmp_path)


def test_pasted_masks_match_numpy():
    from cvkit.core.masks import paste_rle

    rng = np.random.default_rng(3)
    for _ in range(100):
        height, width = (int(v) for v in rng.integers(1, 12, 2))
        h, w = int(rng.integers(1, height + 1)), int(rng.integers(1, width + 1))
        top, left = int(rng.integers(0, height - h + 1)), int(rng.integers(0, width - w + 1))
        crop = (rng.random((h, w)) > 0.5).astype(np.uint8)
        full = np.zeros((height, width), np.uint8)
        full[top : top + h, left : left + w] = crop
        assert np.array_equal(decode(paste_rle(crop, left, top, height, width)), full)


def test_rotation_geometry_matches_a_hand_rotation():
    from cvkit.core.geometry import rotated_box_corners

    corners = rotated_box_corners(0.0, 0.0, 2.0, 2.0, 45.0)
    assert [round(v, 9) for v in corners[:2]] == [0.0, round(-math.sqrt(2), 9)]  # top-left corner swings up to the top


def test_coco_people_become_skeletons_on_request(tmp_path):
    names = ["nose", "left_eye"]
    person = Annotation("person", (10.0, 10.0, 20.0, 40.0), keypoints=[12.0, 14.0, 2.0, 0.0, 0.0, 0.0])
    categories = CategorySet([Category(1, "person", attributes={"keypoints": names, "skeleton": [[1, 2]]})])

    def people() -> Dataset:
        return Dataset([Sample("a.png", 64, 64, objects=[person])], categories)

    report = cvkit.write(people(), tmp_path / "box.xml", format="cvat")
    assert "keypoints" in {what for what, _ in report.losses}
    report = cvkit.write(people(), tmp_path / "skeleton.xml", format="cvat", keypoints="skeleton")
    assert "box of a keypoint object" in {what for what, _ in report.losses}
    back = cvkit.read(tmp_path / "skeleton.xml", format="cvat").materialize()
    assert back.samples[0].objects[0].keypoints == person.keypoints
    assert back.categories.get("person").attributes["keypoints"] == names
    assert back.categories.get("person").attributes["skeleton"] == [[1, 2]]  # through the written <svg>
