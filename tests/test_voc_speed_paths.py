"""Speed paths of the VOC reader checked against the plain way they replace (same answers on every case)."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from cvkit.formats.voc._layout import ImageIndex
from cvkit.formats.voc._plain import parse_value


def _isfile_way(recorded: str, root: str) -> str | None:
    """What the reader did before: one ``os.path.isfile`` per XML file."""
    return Path(os.path.relpath(recorded, root)).as_posix() if os.path.isfile(recorded) else None


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    images = tmp_path / "images"
    (images / "sub").mkdir(parents=True)
    (images / "a.jpg").write_bytes(b"x")
    (images / "sub" / "b.jpg").write_bytes(b"x")
    (images / "folder.jpg").mkdir()
    (images / "link.jpg").symlink_to(images / "a.jpg")
    (images / "broken.jpg").symlink_to(images / "gone.jpg")
    (tmp_path / "linked").symlink_to(images, target_is_directory=True)
    (tmp_path / "labels" / "deep").mkdir(parents=True)
    return tmp_path


def test_recorded_paths_resolve_as_isfile_and_relpath_do(tree: Path) -> None:
    images = tree / "images"
    cases = [
        images / "a.jpg",
        images / "sub" / "b.jpg",
        images / "missing.jpg",
        images / "folder.jpg",  # a folder, not a file
        images / "link.jpg",  # a link to a file counts as one
        images / "broken.jpg",
        tree / "linked" / "a.jpg",  # through a linked folder
        tree / "nowhere" / "a.jpg",  # the folder of the machine that wrote the file
        images / "a.jpg" / "x.jpg",  # a file taken for a folder
    ]
    texts = [str(c) for c in cases] + [f"{images}/../images/a.jpg", f"{images}//a.jpg", f"{images}/", "/"]
    for root in (tree / "labels", tree / "labels" / "deep", images, tree):
        index = ImageIndex(root, False)
        for _ in range(2):  # the second time from the kept listings
            for text in texts:
                assert index.recorded_file(text) == _isfile_way(text, str(root)), (text, root)


def test_a_folder_that_cannot_be_listed_is_checked_file_by_file(tree: Path, monkeypatch) -> None:
    index = ImageIndex(tree / "labels", False)

    def refuse(path):
        raise PermissionError(13, "Permission denied", path)

    monkeypatch.setattr(os, "scandir", refuse)
    assert index.recorded_file(str(tree / "images" / "a.jpg")) == "../images/a.jpg"
    assert index.recorded_file(str(tree / "images" / "missing.jpg")) is None


def _parse_value_by_trying(raw: str):
    """What parse_value did before it skipped texts without digits: try int, then float."""
    lowered = raw.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    for kind in (int, float):
        try:
            return kind(raw)
        except ValueError:
            pass
    return raw


def test_attribute_values_read_as_trying_int_and_float_reads_them() -> None:
    texts = [
        "",
        " ",
        "red",
        "True",
        "FALSE",
        "12",
        " 12 ",
        "+5",
        "-0",
        "1_000",
        "1__0",
        "٣",
        "²",
        "1e5",
        "1E-3",
        ".5",
        "5.",
        "nan",
        " -NaN ",
        "+inf",
        "Infinity",
        "-infinity ",
        "+-inf",
        "infinit",
        "0x10",
        "1.2.3",
        "\u00a012\u00a0",
        "12\u2003",
        "inf\n",
        "e",
        "_1",
        "١٫٥",
        "Ⅻ",
        "1/2",
        "None",
    ]
    rng = random.Random(14)
    alphabet = "0123456789 +-._eEinfatyIN\u00a0٣x"
    texts += ["".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 7))) for _ in range(20000)]
    for text in texts:
        got, expected = parse_value(text), _parse_value_by_trying(text)
        assert (type(got), got if got == got else "nan") == (
            type(expected),
            expected if expected == expected else "nan",
        ), text
