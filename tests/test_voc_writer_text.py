"""The VOC writer's text templates give the bytes lxml gives, and hand everything else to lxml.

Most samples (boxes with a pose and the three flags) are written from templates for speed; a reader of the
output (the devkit, LabelImg, datumaro, torchvision) must not be able to tell which path wrote a file.
"""

from __future__ import annotations

import pytest
from lxml import etree

from cvkit.core.model import Annotation
from cvkit.formats.voc import _xml as voc

TRICKY = [
    "cat",
    "a&b<c>d\"e'f",
    "carriage\rreturn",
    "tab\tand\nnewline",
    "中文 é ü",
    "]]>",
    " padded ",
    "",
    "\u2028\x85\x7f",
]


def _both(meta, filename, image_path, size, objects, one_based=True):
    from cvkit.core.report import Report

    plain = voc._plain_xml(meta, filename, image_path, size, objects, one_based)
    return plain, voc._lxml_xml(meta, filename, image_path, size, objects, one_based, Report())


@pytest.mark.parametrize("text", TRICKY)
def test_templates_write_what_lxml_writes(text):
    objects = [
        Annotation(text or "x", (0.0, 1.5, 10.25, 3.0), attributes={"pose": text, "difficult": True, "truncated": 0}),
        Annotation("dog", (2.0, 3.0, 4.0, 5.0), attributes={"occluded": 1}),
        Annotation("tiny", (0.1234567, 0.0, 1e-7, 2.0)),
    ]
    meta = {
        "folder": text,
        "source": {"database": text, "annotation": None},
        "depth": 1,
        "segmented": text,
        "verified": text or "yes",
    }
    for image_path in (None, f"/data/{text}.jpg"):
        for size in (None, (640, 480)):
            for one_based in (True, False):
                plain, reference = _both(meta, f"{text}.jpg", image_path, size, objects, one_based)
                assert plain == reference
    plain, reference = _both({}, "a.jpg", None, (3, 4), [])
    assert plain == reference and etree.fromstring(plain).findtext("source/database") == "Unknown"


@pytest.mark.parametrize(
    "odd",
    [
        {"attributes": {"parts": [{"label": "head", "bbox": [1, 1, 2, 2]}]}},
        {"attributes": {"actions": {"jumping": 1}}},
        {"attributes": {"color": "red"}},
        {"iscrowd": True},
        {"score": 0.5},
        {"meta": {"voc": {"robndbox": {"cx": "1"}}}},
    ],
)
def test_anything_beyond_a_plain_box_takes_lxml(odd):
    obj = Annotation("cat", (0.0, 0.0, 4.0, 4.0), **odd)
    assert voc._plain_xml({}, "a.jpg", None, (8, 8), [obj], True) is None


def test_text_xml_cannot_hold_is_left_to_lxml_which_refuses_it():
    obj = Annotation("bad\x01name", (0.0, 0.0, 4.0, 4.0))
    assert voc._plain_xml({}, "a.jpg", None, (8, 8), [obj], True) is None
    with pytest.raises(ValueError, match="XML compatible"):
        _both({}, "a.jpg", None, (8, 8), [obj])
    assert voc._plain_xml({"source": {"not a name": "x"}}, "a.jpg", None, None, [], True) is None


@pytest.mark.parametrize("name", ["a/b.jpg", "b.tar.gz", ".hidden", "b.", "a.b/c", "x", "a/.b.jpg", "a/b..jpg"])
def test_file_stems_and_suffixes_split_as_pathlib_splits_them(name):
    from pathlib import PurePosixPath

    from cvkit.formats.voc._writer import _name_parts

    assert _name_parts(name) == (PurePosixPath(name).stem, PurePosixPath(name).suffix)


def test_recorded_image_paths_resolve_links_as_pathlib_does(tmp_path, monkeypatch):
    """<path> holds the image's real path; folders are resolved once, each file looked at on its own."""
    import os
    from pathlib import Path

    from cvkit.io import RealPaths

    (tmp_path / "real" / "sub").mkdir(parents=True)
    (tmp_path / "real" / "sub" / "x.jpg").write_bytes(b"")
    (tmp_path / "link").symlink_to(tmp_path / "real", target_is_directory=True)
    (tmp_path / "real" / "sub" / "y.jpg").symlink_to(tmp_path / "real" / "sub" / "x.jpg")
    monkeypatch.chdir(tmp_path)
    resolve = RealPaths()
    for path in (
        "link/sub/x.jpg",
        str(tmp_path / "link/sub/y.jpg"),
        "link/sub/../sub/x.jpg",
        "real/missing.jpg",
        "link/sub/x.jpg",
    ):
        assert resolve(path) == str(Path(path).resolve()), path
    assert resolve("link/sub/y.jpg") == os.path.join(tmp_path, "real", "sub", "x.jpg")


def test_labels_labelmap_txt_cannot_hold_are_left_out_of_it_and_reported(tmp_path):
    """datumaro's labelmap.txt splits at ':' (and lists at ','): such a name is left out, not misread."""
    import cvkit
    from cvkit.core.categories import Category, CategorySet
    from cvkit.core.model import Dataset, Sample

    objects = [
        Annotation("cat", (0.0, 0.0, 4.0, 4.0)),
        Annotation("ns:dog", (1.0, 1.0, 4.0, 4.0)),
        Annotation(
            "person", (0.0, 0.0, 8.0, 8.0), attributes={"parts": [{"label": "hand,left", "bbox": [1, 1, 2, 2]}]}
        ),
    ]
    data = Dataset(
        [Sample("a.jpg", 10, 10, "train", objects=objects)],
        CategorySet([Category(1, "cat"), Category(2, "ns:dog"), Category(3, "person")]),
    )
    report = cvkit.write(data, tmp_path / "voc", "voc")
    assert (tmp_path / "voc" / "labelmap.txt").read_text().splitlines()[1:] == ["cat:::", "person:::"]
    losses = {what for what, _ in report.losses}
    assert {"label name", "part or action name"} <= losses
    back = cvkit.read(tmp_path / "voc", format="voc").materialize()
    assert [o.label for o in back.samples[0].objects] == ["cat", "ns:dog", "person"]  # every object kept
    assert back.categories.names() == ["cat", "person", "ns:dog"]  # the left-out label by first appearance
