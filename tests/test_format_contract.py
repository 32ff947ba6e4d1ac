"""The contract every registered format keeps: read, write, round-trip, bad input."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

import cvkit
from cvkit.errors import CvkitError
from cvkit.formats import all_formats
from cvkit.io import check_destination

#: the formats each contract applies to: a read-only format has no round trip, a write-only one no reader
READ_WRITE = [spec.name for spec in all_formats() if spec.can_read and spec.can_write]
READABLE = [spec.name for spec in all_formats() if spec.can_read]
WRITABLE = [spec.name for spec in all_formats() if spec.can_write]


def case(name: str):
    try:
        return importlib.import_module(f"format_cases.case_{name}")
    except ModuleNotFoundError:
        pytest.fail(f"format {name!r} is registered but tests/format_cases/case_{name}.py is missing")


def _boxes(ds) -> dict[str, list[tuple]]:
    out: dict[str, list[tuple]] = {}
    for s in ds:
        key = Path(s.path).stem
        out[key] = sorted((o.label, tuple(round(v, 3) for v in o.bbox)) for o in s.objects)
    return out


@pytest.mark.parametrize("name", READ_WRITE)
def test_roundtrip_keeps_images_boxes_and_labels(name, small, tmp_path):
    c = case(name)
    if not getattr(c, "HOLDS_BOXES", True):
        _roundtrip_image_labels(c, name, small, tmp_path)
        return
    expected = _boxes(small.materialize())
    dst = tmp_path / getattr(c, "DESTINATION", "out")
    report = cvkit.write(small, dst, format=name)
    assert report.written.images == 3
    back = cvkit.read(dst, format=name).materialize()
    assert _boxes(back) == expected
    assert sorted(back.categories.names()) == ["cat", "dog"]
    if getattr(c, "EXACT_IDS", False):
        assert {c.name: c.id for c in back.categories} == {"cat": 3, "dog": 7}
    sizes = {Path(s.path).stem: (s.width, s.height) for s in back}
    assert sizes == {"cat_01": (64, 48), "dog_02": (80, 60), "empty_03": (32, 32)}


def _as_classification(c, small):
    """For ``HOLDS_BOXES = False`` formats: replace boxes by the case's ``IMAGE_LABELS``."""
    if getattr(c, "HOLDS_BOXES", True):
        return small
    for sample in small.materialize():
        sample.objects = []
        sample.labels = list(c.IMAGE_LABELS[Path(sample.path).stem])
    return small


def _roundtrip_image_labels(c, name, small, tmp_path):
    """Classification formats (``HOLDS_BOXES = False``): the images get ``IMAGE_LABELS`` instead of
    boxes, and the round trip must keep the image set and each image's labels."""
    _as_classification(c, small)
    dst = tmp_path / getattr(c, "DESTINATION", "out")
    report = cvkit.write(small, dst, format=name)
    assert report.written.images == 3
    back = cvkit.read(dst, format=name, **getattr(c, "READ_OPTIONS", {})).materialize()
    assert {Path(s.path).stem: sorted(s.labels) for s in back} == {k: sorted(v) for k, v in c.IMAGE_LABELS.items()}
    assert sorted(back.categories.names()) == ["cat", "dog"]
    sizes = {Path(s.path).stem: (s.width, s.height) for s in back}
    assert sizes == {"cat_01": (64, 48), "dog_02": (80, 60), "empty_03": (32, 32)}


@pytest.mark.parametrize("name", READ_WRITE)
def test_written_output_is_detected_as_its_format(name, small, tmp_path):
    c = case(name)
    dst = tmp_path / getattr(c, "DESTINATION", "out")
    cvkit.write(_as_classification(c, small), dst, format=name)
    assert cvkit.detect_format(dst) == getattr(c, "DETECTS_AS", name)


@pytest.mark.parametrize("name", READABLE)
def test_bad_input_names_the_file_and_problem(name, tmp_path):
    path, fragment = case(name).bad_input(tmp_path)
    with pytest.raises(CvkitError) as info:
        cvkit.read(path, format=name).materialize()
    message = info.value.describe()
    assert fragment in message
    assert path.name in message or (info.value.file and Path(info.value.file).name in message)


@pytest.mark.parametrize("name", WRITABLE)
def test_writer_refuses_existing_destination(name, small, tmp_path):
    dst = tmp_path / getattr(case(name), "DESTINATION", "out")
    cvkit.write(_as_classification(case(name), small).materialize(), dst, format=name)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    with pytest.raises(CvkitError, match="--overwrite"):
        cvkit.write(small, dst, format=name)
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before
    with pytest.raises(CvkitError):
        check_destination(dst, overwrite=False)
