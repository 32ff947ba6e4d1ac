"""LabelMe JSON and MIT LabelMe XML exactly as the real tools write them.

Each fixture is built the way the named tool's source writes its files (cited next to it),
so these tests check cvkit against exports we cannot ship as files.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import cvkit
from conftest import make_image
from cvkit.cli import app
from cvkit.errors import CvkitError, InvalidInputError

runner = CliRunner()


def _labelme(path: Path, shapes: list, **top) -> Path:
    """A labelme 5.x document (labelme/_label_file.py ``LabelFile.save``: key order and nulls as written)."""
    doc = {
        "version": "5.5.0",
        "flags": {},
        "shapes": shapes,
        "imagePath": path.stem + ".jpg",
        "imageData": None,
        "imageHeight": 100,
        "imageWidth": 200,
    }
    doc.update(top)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, ensure_ascii=False, indent=2), encoding="utf-8")
    return path


def _xany(label: str, points: list, shape_type: str, **extra) -> dict:
    """One shape as X-AnyLabeling saves it (label_widget.py ``format_shape``: score, difficult, attributes,
    kie_linking on every shape; ``direction`` on rotation shapes; flags and description may be null)."""
    shape = {
        "label": label,
        "score": None,
        "points": points,
        "group_id": None,
        "description": None,
        "difficult": False,
        "shape_type": shape_type,
        "flags": None,
        "attributes": {},
        "kie_linking": [],
    }
    shape.update(extra)
    return shape


def _convert(src: Path, out: Path, command: str = "labelme2coco", *extra: str) -> dict:
    result = runner.invoke(app, ["convert", command, str(src), str(out), "--json", *extra])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _losses(report: dict) -> dict[str, int]:
    return {item["what"]: item["count"] for item in report["not_represented"]}


# --- LabelMe JSON: rotated boxes -------------------------------------------------------------
ROTATED = [[40.0, 10.0], [80.0, 30.0], [70.0, 50.0], [30.0, 30.0]]  # a rectangle turned by ~26.6 degrees

ROTATED_SHAPES = {
    # labelme (wkentaro/labelme PR #1980, merged 2026): shape_type "oriented_rectangle", 4 corner points
    # (labelme/_shape/_model.py ORIENTED_RECTANGLE_POINT_COUNT = 4; shape_to_mask draws them as a polygon)
    "labelme": {
        "label": "car",
        "points": ROTATED,
        "group_id": None,
        "description": "",
        "shape_type": "oriented_rectangle",
        "flags": {},
        "mask": None,
    },
    # X-AnyLabeling: shape_type "rotation", 4 corner points plus the angle in "direction" (shape.py, label_widget.py)
    "x-anylabeling": _xany("car", ROTATED, "rotation", direction=0.4636),
}


@pytest.mark.parametrize("tool", sorted(ROTATED_SHAPES))
def test_rotated_box_reads_as_its_polygon_and_is_reported(tool, tmp_path):
    shape = ROTATED_SHAPES[tool]
    _labelme(
        tmp_path / "in" / "a.json", [shape, {"label": "car", "points": [[1, 2], [11, 12]], "shape_type": "rectangle"}]
    )
    report = _convert(tmp_path / "in", tmp_path / "out.json")
    assert (report["read"]["images"], report["read"]["objects"]) == (1, 2)
    assert _losses(report)[f"LabelMe shape type {shape['shape_type']!r}"] == 1
    coco = json.loads((tmp_path / "out.json").read_text())
    rotated = coco["annotations"][0]
    assert rotated["segmentation"] == [[40, 10, 80, 10 + 20, 70, 50, 30, 30]]
    assert rotated["bbox"] == [30, 10, 50, 40]  # the axis-aligned box around the four corners


@pytest.mark.parametrize("tool", sorted(ROTATED_SHAPES))
def test_rotated_box_is_written_back_with_its_type(tool, tmp_path):
    shape = ROTATED_SHAPES[tool]
    _labelme(tmp_path / "in" / "a.json", [shape])
    cvkit.convert(tmp_path / "in", tmp_path / "m.jsonl", to_format="manifest", from_format="labelme")
    cvkit.convert(tmp_path / "m.jsonl", tmp_path / "back", to_format="labelme", from_format="manifest")
    back = json.loads((tmp_path / "back" / "a.json").read_text())["shapes"][0]
    assert back["shape_type"] == shape["shape_type"] and back["points"] == [[int(x), int(y)] for x, y in ROTATED]
    if tool == "x-anylabeling":
        assert back["direction"] == 0.4636


def test_unknown_shape_types_are_bad_input_and_skip_invalid_keeps_the_rest(tmp_path):
    # a shape type neither labelme nor X-AnyLabeling writes (a fork's "ellipse", "cuboid") is bad input, as the
    # LabelMe issue lists it: exit code 2 naming the JSON path; --skip-invalid leaves that shape out and reads the rest
    shapes = [
        {"label": "a", "points": [[0, 0], [4, 4]], "shape_type": "rectangle"},
        {"label": "b", "points": [[1, 1], [5, 5]], "shape_type": "ellipse"},
    ]
    _labelme(tmp_path / "in" / "a.json", shapes)
    result = CliRunner().invoke(
        app, ["convert", str(tmp_path / "in"), str(tmp_path / "out.json"), "--from", "labelme", "--to", "coco"]
    )
    assert result.exit_code == 2 and "shapes[1].shape_type: unknown shape type 'ellipse'" in result.output
    assert not (tmp_path / "out.json").exists()
    report = cvkit.convert(tmp_path / "in", tmp_path / "out.json", to_format="coco", skip_invalid=True)
    assert report.read.objects == 1 and len(report.skipped) == 1


def test_known_shape_with_wrong_points_is_still_an_error(tmp_path):
    path = _labelme(
        tmp_path / "a.json", [{"label": "a", "points": [[0, 0], [1, 1], [2, 2]], "shape_type": "oriented_rectangle"}]
    )
    with pytest.raises(InvalidInputError) as info:
        cvkit.read(path, format="labelme").materialize()
    assert info.value.file == str(path) and info.value.location == "shapes[0].points"
    assert info.value.message == "an oriented_rectangle needs 4 points (its corners), got 3"


# --- LabelMe JSON: X-AnyLabeling keys ---------------------------------------------------------
def test_x_anylabeling_difficult_reaches_voc_and_stays_a_key(tmp_path):
    # X-AnyLabeling saves rectangles as 4 corners and "difficult" as a shape key (docs/en/user_guide.md, section 2.1)
    corners = [[10.0, 20.0], [50.0, 20.0], [50.0, 60.0], [10.0, 60.0]]
    shapes = [
        _xany("person", corners, "rectangle", difficult=True, score=0.87, attributes={"color": "red"}),
        _xany("person", [[60.0, 10.0], [90.0, 10.0], [90.0, 40.0], [60.0, 40.0]], "rectangle"),
    ]
    _labelme(tmp_path / "in" / "a.json", shapes, version="2.4.4", description="")
    make_image(tmp_path / "in" / "a.jpg", 200, 100)
    sample = cvkit.read(tmp_path / "in", format="labelme").samples[0]
    hard, easy = sample.objects
    assert hard.bbox == (10.0, 20.0, 40.0, 40.0) and hard.score == 0.87
    assert hard.attributes == {"difficult": True, "color": "red"} and easy.attributes == {}
    cvkit.convert(tmp_path / "in", tmp_path / "voc", to_format="voc", from_format="labelme")
    xml = next((tmp_path / "voc").rglob("a.xml")).read_text()
    assert xml.count("<difficult>1</difficult>") == 1 and xml.count("<difficult>0</difficult>") == 1
    # back to LabelMe: still X-AnyLabeling's key (not a shape flag), corners as drawn
    cvkit.convert(tmp_path / "in", tmp_path / "back", to_format="labelme", from_format="labelme")
    back = json.loads((tmp_path / "back" / "a.json").read_text())["shapes"]
    assert [s["difficult"] for s in back] == [True, False] and all(s["flags"] == {} for s in back)
    assert back[0]["points"] == [[10, 20], [50, 20], [50, 60], [10, 60]] and back[0]["kie_linking"] == []


# --- LabelMe JSON: files from older labelme versions -------------------------------------------
def _labelme3(path: Path, label: str, encoding: str) -> Path:
    """labelme 3.x ``LabelFile.save``: ``open(filename, 'w')`` in the system encoding with ``ensure_ascii=False``,
    so a Chinese Windows machine wrote GBK (fixed by labelme PR #683 in mid-2020); lineColor/fillColor, no
    imageHeight."""
    doc = {
        "flags": {},
        "shapes": [
            {
                "label": label,
                "line_color": None,
                "fill_color": None,
                "points": [[1, 2], [30, 40]],
                "shape_type": "rectangle",
                "flags": {},
            }
        ],
        "lineColor": [0, 255, 0, 128],
        "fillColor": [255, 0, 0, 128],
        "imagePath": path.stem + ".jpg",
        "imageData": None,
        "version": "3.16.7",
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(json.dumps(doc, ensure_ascii=False, indent=2).encode(encoding))
    return path


def test_legacy_system_encoding_is_named_and_readable_with_an_option(tmp_path):
    path = _labelme3(tmp_path / "in" / "a.json", "汽车", "gbk")
    make_image(tmp_path / "in" / "a.jpg", 64, 48)
    with pytest.raises(InvalidInputError) as info:
        cvkit.read(tmp_path / "in", format="labelme").materialize()
    assert info.value.file == str(path) and "not UTF-8" in info.value.message and "encoding=" in info.value.message
    assert cvkit.detect_format(tmp_path / "in") == "labelme"
    sample = cvkit.read(tmp_path / "in", format="labelme", encoding="gbk").samples[0]
    assert [o.label for o in sample.objects] == ["汽车"] and (sample.width, sample.height) == (64, 48)
    # UTF-8 files in the same folder are read as UTF-8 whatever the option says
    _labelme3(tmp_path / "in" / "b.json", "café", "utf-8")
    make_image(tmp_path / "in" / "b.jpg", 64, 48)
    labels = [o.label for s in cvkit.read(tmp_path / "in", format="labelme", encoding="gbk") for o in s.objects]
    assert labels == ["汽车", "café"]
    with pytest.raises(CvkitError, match="unknown encoding 'gbkk'"):
        cvkit.read(tmp_path / "in", format="labelme", encoding="gbkk")


def test_byte_order_mark_is_accepted(tmp_path):
    # a JSON re-saved by Windows Notepad ("UTF-8 with BOM"), e.g. after fixing imagePath by hand
    path = _labelme(tmp_path / "a.json", [{"label": "a", "points": [[0, 0], [4, 4]], "shape_type": "rectangle"}])
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert [o.label for o in cvkit.read(path, format="labelme").samples[0].objects] == ["a"]
    # a BOM before text in another encoding: the error shows the offending byte, not the one 3 bytes before it
    gbk = _labelme3(tmp_path / "gbk.json", "汽车", "gbk")
    gbk.write_bytes(b"\xef\xbb\xbf" + gbk.read_bytes())
    with pytest.raises(InvalidInputError, match=f"not UTF-8 text \\(byte 0x{'汽'.encode('gbk')[0]:02x}\\)"):
        cvkit.read(gbk, format="labelme").materialize()


def test_labelme3_file_round_trips_its_colours(tmp_path):
    _labelme3(tmp_path / "in" / "a.json", "car", "utf-8")
    make_image(tmp_path / "in" / "a.jpg", 64, 48)
    cvkit.convert(tmp_path / "in", tmp_path / "back", to_format="labelme", from_format="labelme")
    back = json.loads((tmp_path / "back" / "a.json").read_text())
    assert back["lineColor"] == [0, 255, 0, 128] and back["fillColor"] == [255, 0, 0, 128]
    assert back["shapes"][0]["line_color"] is None and (back["imageWidth"], back["imageHeight"]) == (64, 48)


def test_windows_image_path_relative_to_the_json(tmp_path):
    # labelme on Windows with --output to another folder: imagePath "..\\images\\x.jpg" (labelme issue #1725)
    make_image(tmp_path / "data" / "images" / "x 1.jpg", 40, 30)
    _labelme(
        tmp_path / "data" / "labels" / "x 1.json",
        [{"label": "a", "points": [[0, 0], [4, 4]], "shape_type": "rectangle"}],
        imagePath="..\\images\\x 1.jpg",
        imageHeight=None,
        imageWidth=None,
    )
    sample = cvkit.read(tmp_path / "data", format="labelme").samples[0]
    assert sample.path == "images/x 1.jpg" and (sample.width, sample.height) == (40, 30)


def test_image_data_without_image_path(tmp_path):
    # labelme's LabelFile.load reads imageData first and needs no imagePath when it is there; scripts that embed
    # images often leave imagePath out altogether
    import base64
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (30, 20), (1, 2, 3)).save(buffer, format="PNG")
    path = _labelme(
        tmp_path / "a.json",
        [{"label": "a", "points": [[0, 0], [4, 4]], "shape_type": "rectangle"}],
        imageData=base64.b64encode(buffer.getvalue()).decode(),
        imageHeight=None,
        imageWidth=None,
    )
    doc = json.loads(path.read_text())
    del doc["imagePath"]
    path.write_text(json.dumps(doc))
    sample = cvkit.read(path, format="labelme", extract_dir=str(tmp_path / "x")).samples[0]
    assert Path(sample.path).parent == tmp_path / "x" and (sample.width, sample.height) == (30, 20)


# --- MIT LabelMe XML (the web tool) ---------------------------------------------------------
def _web_tool_object(name: str, points: list[tuple[str, str]], obj_id: int, extra: str = "") -> str:
    """An <object> as the web tool's SubmitQuery writes it (annotationTools/js/handler.js)."""
    pts = "".join(f"<pt><x>{x}</x><y>{y}</y></pt>" for x, y in points)
    return (
        f"<object><name>{name}</name><deleted>0</deleted><verified>0</verified><occluded>no</occluded><attributes></attributes>"
        "<parts><hasparts></hasparts><ispartof></ispartof></parts>"
        f"<date>07-Jun-2005 19:32:50</date><id>{obj_id}</id>{extra}"
        f"<polygon><username>anonymous</username>{pts}</polygon></object>"
    )


def _web_tool_xml(path: Path, objects: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "<annotation><filename>a.jpg</filename><folder>f</folder><source>"
        "<sourceImage>The MIT-CSAIL database of objects and scenes</sourceImage>"
        "<sourceAnnotation>LabelMe Webtool</sourceAnnotation></source><imagesize><nrows>100</nrows>"
        f"<ncols>200</ncols></imagesize>{objects}</annotation>"
    )
    return path


def test_web_tool_points_and_lines_are_read_not_rejected(tmp_path):
    # The web tool closes a polygon after 1 or 2 clicks too and offers the names "point" and
    # "line, horizon line" for them (SetObjectChoicesPointLine in annotationTools/js/my_scripts.js)
    objects = (
        _web_tool_object("point", [("12", "34")], 0)
        + _web_tool_object("horizon line", [("0", "50"), ("199", "48")], 1)
        + _web_tool_object("car", [("10", "10"), ("60", "10"), ("60", "40")], 2)
    )
    _web_tool_xml(tmp_path / "src" / "Annotations" / "f" / "a.xml", objects)
    ds = cvkit.read(tmp_path / "src", format="labelme_mit").materialize()
    point, line, car = ds.samples[0].objects
    assert (point.shape, point.points, point.label) == ("point", [12.0, 34.0], "point")
    assert (line.shape, line.points, line.label) == ("line", [0.0, 50.0, 199.0, 48.0], "horizon line")
    assert car.shape == "polygon" and ds.categories.names() == ["point", "horizon line", "car"]
    # written back as the 1- and 2-point polygons they were
    report = cvkit.write(ds, tmp_path / "out", format="labelme_mit", layout="webtool")
    assert report.losses == {}
    back = cvkit.read(tmp_path / "out", format="labelme_mit").materialize()
    assert [(o.label, o.shape, o.points, o.polygon) for o in back.samples[0].objects] == [
        (o.label, o.shape, o.points, o.polygon) for o in ds.samples[0].objects
    ]


def test_web_tool_empty_tags_spaces_and_float_points(tmp_path):
    # empty <attributes/>, <occluded/>, <parts><hasparts/><ispartof/></parts>; the video branch of handler.js
    # writes '<type> bounding_box </type>' with spaces; other LabelMe servers write "12.50" or padded numbers
    obj = (
        "<object><name> car </name><deleted>0</deleted><verified>0</verified><occluded/><attributes/>"
        "<parts><hasparts/><ispartof/></parts><date/><id>0</id><type> bounding_box </type><polygon><username/>"
        "<pt><x> 12.50 </x><y>\n20\n</y></pt><pt><x>52.5</x><y>20</y></pt>"
        "<pt><x>52.5</x><y>60.25</y></pt><pt><x>12.50</x><y>60.25</y></pt></polygon></object>"
    )
    _web_tool_xml(tmp_path / "a.xml", obj)
    (car,) = cvkit.read(tmp_path / "a.xml", format="labelme_mit").samples[0].objects
    assert (car.label, car.shape, car.bbox) == ("car", "box", (12.5, 20.0, 40.0, 40.25))
    assert car.attributes == {"occluded": False}


def test_polygon_without_points_names_file_object_and_line(tmp_path):
    path = _web_tool_xml(tmp_path / "a.xml", _web_tool_object("car", [], 0))
    with pytest.raises(InvalidInputError) as info:
        cvkit.read(path, format="labelme_mit").materialize()
    assert info.value.file == str(path) and info.value.location == "object[0]/polygon (line 1)"
    assert info.value.message == "object 'car' has a <polygon> without <pt> points"


def test_losses_come_back_from_worker_processes(monkeypatch, tmp_path):
    """Shapes left out or read as polygons on forked workers are reported exactly as in one process."""
    from cvkit.core.report import Report
    from cvkit.formats import labelme

    for i in range(4):
        _labelme(
            tmp_path / f"{i}.json",
            [ROTATED_SHAPES["x-anylabeling"], {"label": "b", "points": [[1, 1], [5, 5]], "shape_type": "rectangle"}],
        )
    serial, parallel = Report(), Report()
    one = cvkit.read(tmp_path, format="labelme", report=serial, workers=1).materialize()
    monkeypatch.setattr(labelme, "PARALLEL_MIN_FILES", 1)
    two = cvkit.read(tmp_path, format="labelme", report=parallel, workers=2).materialize()
    assert two.samples == one.samples and parallel.losses == serial.losses
    assert {what: n for (what, _), n in serial.losses.items()} == {"LabelMe shape type 'rotation'": 4}
