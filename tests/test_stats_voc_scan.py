"""The VOC statistics fast path gives exactly the columns the VOC reader gives, odd files included."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import cvkit
from cvkit.core.report import Report
from cvkit.errors import InvalidInputError
from cvkit.stats import voc_scan
from cvkit.stats.column_arrays import Columns
from cvkit.stats.columns import columns_from_dataset
from cvkit.stats.sources import load_columns

PLAIN = """<annotation><folder>VOC</folder><filename>{stem}.jpg</filename>
<owner><name>someone</name></owner>
<size><width>{w}</width><height>60</height><depth>3</depth></size>
{objects}</annotation>
"""
OBJECT = (
    "<object><name>{name}</name><difficult>0</difficult><bndbox><xmin>{x1}</xmin><ymin>5</ymin><xmax>{x2}</xmax>"
    "<ymax>20.5</ymax></bndbox></object>\n"
)


def devkit(root: Path) -> Path:
    ann = root / "Annotations"
    ann.mkdir(parents=True)
    files = {
        "a": PLAIN.format(
            stem="a", w=80, objects=OBJECT.format(name="cat", x1=1, x2=10) + OBJECT.format(name="dog", x1=3.5, x2=70)
        ),
        "b": PLAIN.format(stem="b", w=90, objects=""),
        # a <part>: its <name> and <bndbox> must not become objects
        "c": PLAIN.format(
            stem="c",
            w=80,
            objects="<object><name>person</name><bndbox><xmin>2</xmin><ymin>2</ymin><xmax>30</xmax><ymax>40</ymax></bndbox>"
            "<part><name>head</name><bndbox><xmin>3</xmin><ymin>3</ymin><xmax>9</xmax><ymax>9</ymax></bndbox></part></object>",
        ),
        # a comment hiding an object, and an entity in a name
        "d": PLAIN.format(
            stem="d",
            w=80,
            objects="<!-- <object><name>ghost</name></object> -->" + OBJECT.format(name="cat &amp; dog", x1=1, x2=2),
        ),
        "e": PLAIN.format(stem="e", w=80, objects=OBJECT.format(name=" dog ", x1=4, x2=4)),
        # empty elements (LabelImg's <difficult/>, an empty <depth/>), attributes on <object> and <name>
        "f": PLAIN.format(
            stem="f",
            w=70,
            objects=OBJECT.format(name="cat", x1=2, x2=9).replace("<difficult>0</difficult>", "<difficult/><pose/>"),
        ).replace("<depth>3</depth>", "<depth/>"),
        "g": PLAIN.format(
            stem="g", w=80, objects=OBJECT.format(name="owl", x1=2, x2=9).replace("<object>", '<object id="7">')
        ),
        "h": PLAIN.format(
            stem="h",
            w=80,
            objects=OBJECT.format(name="x", x1=2, x2=9).replace("<name>x</name>", '<name lang="en">bird</name>'),
        ),
    }
    for stem, text in files.items():
        (ann / f"{stem}.xml").write_text(text)
    main = root / "ImageSets" / "Main"
    main.mkdir(parents=True)
    (main / "train.txt").write_text("a\nb\nc\nf\n")
    (main / "val.txt").write_text("d\ne\ng\nh\n")
    return root


def assert_same(fast: Columns, slow: Columns) -> None:
    assert fast.class_names == slow.class_names
    assert fast.class_ids == slow.class_ids
    assert fast.split_names == slow.split_names
    for field in ("image_width", "image_height", "image_split", "obj_image", "obj_class", "obj_box"):
        np.testing.assert_array_equal(getattr(fast, field), getattr(slow, field), err_msg=field)


@pytest.mark.parametrize(("chunk", "parallel_min"), [(256, 4000), (2, 4000), (2, 1)])
def test_scan_equals_the_reader(tmp_path, monkeypatch, chunk, parallel_min):
    monkeypatch.setattr(voc_scan, "CHUNK_FILES", chunk)  # 2: plain chunks and mixed chunks side by side
    monkeypatch.setattr(voc_scan, "PARALLEL_MIN_FILES", parallel_min)  # 1: chunks scanned by forked workers
    root = devkit(tmp_path / "voc")
    fast = voc_scan.scan_voc_columns(root, Report())
    assert fast is not None
    assert_same(fast, columns_from_dataset(cvkit.read(root, format="voc")))
    assert fast.class_names == ["cat", "dog", "person", "cat & dog", "owl", "bird"]  # the part "head" is no object
    assert fast.obj_box[1].tolist() == [2.5, 4.0, 67.5, 16.5]  # 1-based VOC: x = 3.5 - 1, w = 70 - 3.5 + 1


def test_zero_based_option_is_honoured(tmp_path):
    root = devkit(tmp_path / "voc")
    fast = load_columns(root, "voc", one_based=False)
    assert fast.obj_box[0].tolist() == [1.0, 5.0, 9.0, 15.5]


def test_malformed_file_fails_as_the_reader_fails(tmp_path):
    root = devkit(tmp_path / "voc")
    (root / "Annotations" / "b.xml").write_text("<annotation><size><width>3</width>")
    with pytest.raises(InvalidInputError, match="malformed XML"):
        voc_scan.scan_voc_columns(root, Report())
    report = Report(skip_invalid=True)
    fast = voc_scan.scan_voc_columns(root, report)
    assert fast.num_images == 7 and report.skipped[0].file.endswith("b.xml")


def test_infinite_image_size_fails_as_the_reader_fails(tmp_path):
    # int(float("inf")) raises OverflowError, not ValueError: it escaped the scan and the reader as a traceback
    root = devkit(tmp_path / "voc")
    (root / "Annotations" / "b.xml").write_text(PLAIN.format(stem="b", w="inf", objects=""))
    with pytest.raises(InvalidInputError) as info:
        voc_scan.scan_voc_columns(root, Report())
    assert info.value.describe() == (
        f"{root / 'Annotations' / 'b.xml'}:size: <size> holds a non-number, a fraction or a side past 2147483647 pixels"
    )
    with pytest.raises(InvalidInputError, match="<size> holds a non-number"):
        cvkit.read(root, format="voc").materialize()


def test_layouts_the_scan_does_not_cover_go_to_the_reader(tmp_path, corpus):
    assert voc_scan.scan_voc_columns(corpus("voc", "voc_dataset1"), Report()) is None  # listed image without XML
    assert voc_scan.scan_voc_columns(corpus("voc", "voc_dataset2"), Report()) is None  # no <size>: image headers
    path = corpus("voc", "voc_dataset3")
    assert_same(voc_scan.scan_voc_columns(path, Report()), columns_from_dataset(cvkit.read(path, format="voc")))


def test_scan_equals_the_reader_on_datumaro_lists_and_declared_encodings(tmp_path):
    # default.txt (datumaro's and CVAT's images without a subset) is no split; a file declaring GBK (Chinese
    # LabelImg forks) is decoded as GBK, not read as UTF-8 bytes
    root = devkit(tmp_path / "voc")
    (root / "Annotations" / "f.xml").write_text(
        PLAIN.format(stem="f", w=80, objects=OBJECT.format(name="cat", x1=2, x2=9))
    )
    (root / "Annotations" / "g.xml").write_bytes(
        b"<?xml version='1.0' encoding='GBK'?>\n"
        + PLAIN.format(stem="g", w=80, objects=OBJECT.format(name="猫", x1=1, x2=2)).encode("gbk")
    )
    (root / "ImageSets" / "Main" / "default.txt").write_text("f\ng\n")
    (root / "labelmap.txt").write_text("# label:color_rgb:parts:actions\nbackground:0,0,0::\ndog:::\n")
    fast = voc_scan.scan_voc_columns(root, Report())
    assert_same(fast, columns_from_dataset(cvkit.read(root, format="voc")))
    assert fast.class_names[0] == "dog" and "background" not in fast.class_names and "猫" in fast.class_names


#: files in the plain shape that the reader refuses: a flag that is no flag, a misnested tag, a second root, a
#: tag closed under another name (the byte-level scan that statistics once had read them all as good files)
REFUSED = {
    "flag": OBJECT.format(name="cat", x1=1, x2=10).replace("<difficult>0</difficult>", "<difficult>maybe</difficult>"),
    "misnested": OBJECT.format(name="cat", x1=1, x2=10).replace("<difficult>0</difficult>", "<pose>Left</difficult>"),
    "closed-as-other": OBJECT.format(name="cat", x1=1, x2=10).replace("</name>", "</nam>"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_statistics_and_the_reader_give_one_verdict_on_a_malformed_file(tmp_path, monkeypatch, case):
    """One parser for both: the file ``cvkit convert`` refuses, ``cvkit stats`` refuses in the same words and place."""
    monkeypatch.setattr(voc_scan, "CHUNK_FILES", 1)  # each file its own chunk: odd neighbours send none to the reader
    root = devkit(tmp_path / "voc")
    (root / "Annotations" / "b.xml").write_text(PLAIN.format(stem="b", w=80, objects=REFUSED[case]))
    with pytest.raises(InvalidInputError) as by_reader:
        cvkit.read(root, format="voc").materialize()
    with pytest.raises(InvalidInputError) as by_stats:
        voc_scan.scan_voc_columns(root, Report())
    assert by_stats.value.describe() == by_reader.value.describe()
    report = Report(skip_invalid=True)
    assert voc_scan.scan_voc_columns(root, report).num_images == 7
    assert [(s.file, s.location) for s in report.skipped] == [(by_reader.value.file, by_reader.value.location)]


def test_second_root_is_refused_by_both(tmp_path, monkeypatch):
    monkeypatch.setattr(voc_scan, "CHUNK_FILES", 1)
    root = devkit(tmp_path / "voc")
    second_root = PLAIN.format(stem="b", w=80, objects="") + "<annotation></annotation>\n"
    (root / "Annotations" / "b.xml").write_text(second_root)
    with pytest.raises(InvalidInputError) as by_reader:
        cvkit.read(root, format="voc").materialize()
    with pytest.raises(InvalidInputError) as by_stats:
        voc_scan.scan_voc_columns(root, Report())
    assert by_stats.value.describe() == by_reader.value.describe()
