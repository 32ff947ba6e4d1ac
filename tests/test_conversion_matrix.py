"""Every readable format x every writable format, over the registry (new formats join automatically).

A small dataset with boxes, a polygon and an image-level label is written in format A, read
back, written in format B and read back. What comes back must equal the source, or the
summary (``report.losses``) must say what could not be represented.
A pair is skipped only while a format's ``tests/format_cases/case_<name>.py`` is missing.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

import cvkit
from conftest import make_image
from cvkit.core.categories import Category, CategorySet
from cvkit.core.model import Annotation, Dataset, Sample
from cvkit.core.report import Report
from cvkit.formats import all_formats

SPECS = {spec.name: spec for spec in all_formats()}
PAIRS = [
    (a, b)
    for a in SPECS
    for b in SPECS
    if SPECS[a].can_read and SPECS[a].can_write and SPECS[b].can_write and SPECS[b].can_read
]
POLYGON = [10.0, 10.0, 30.0, 10.0, 30.0, 40.0, 10.0, 40.0]


def _case(name: str):
    try:
        return importlib.import_module(f"format_cases.case_{name}")
    except ModuleNotFoundError:
        pytest.skip(f"tests/format_cases/case_{name}.py is not there yet")


def _dataset(root: Path) -> Dataset:
    """Integer boxes (exact in VOC and YOLO), one polygon, one image-level label, an image attribute,
    and a score, an attribute and keypoints on boxes."""
    make_image(root / "images" / "cat_01.jpg", 64, 48)
    make_image(root / "images" / "dog_02.png", 80, 60)
    cats = CategorySet([Category(1, "cat"), Category(2, "dog")])
    samples = [
        Sample(
            "images/cat_01.jpg",
            64,
            48,
            "train",
            labels=["cat"],
            attributes={"weather": "rain"},
            objects=[
                Annotation("cat", (4.0, 6.0, 20.0, 30.0), score=0.75, attributes={"color": "red"}),
                Annotation("dog", (30.0, 2.0, 10.0, 12.0), keypoints=[34.0, 6.0, 2.0]),
            ],
        ),
        Sample(
            "images/dog_02.png",
            80,
            60,
            "train",
            objects=[Annotation("dog", (10.0, 10.0, 20.0, 30.0), shape="polygon", polygon=[POLYGON])],
        ),
    ]
    return Dataset(samples, cats, root=root, source_format="test")


def _through(dataset: Dataset, name: str, folder: Path, report: Report) -> Dataset:
    dst = folder / getattr(_case(name), "DESTINATION", "out")
    cvkit.write(dataset, dst, format=name, report=report)
    return cvkit.read(dst, format=name).materialize()


def _by_image(ds: Dataset) -> dict[str, Sample]:
    return {Path(s.path).stem: s for s in ds}


def _boxes(sample: Sample) -> list[tuple]:
    return sorted((o.label, tuple(round(v, 3) for v in o.bbox)) for o in sample.objects if o.bbox is not None)


@pytest.mark.parametrize(("first", "second"), PAIRS, ids=[f"{a}-{b}" for a, b in PAIRS])
def test_conversion_keeps_what_both_hold_and_reports_the_rest(first, second, tmp_path):
    _case(first), _case(second)
    source = _dataset(tmp_path / "src")
    report = Report()
    middle = _through(source, first, tmp_path / "a", report)
    final = _by_image(_through(middle, second, tmp_path / "b", report))
    expected = _by_image(_dataset(tmp_path / "src"))
    holds = SPECS[first].holds & SPECS[second].holds
    lost = {what for what, _why in report.losses}

    if not all(getattr(_case(name), "HOLDS_BOXES", True) for name in (first, second)):
        _check_classification_pair(final, lost)
        return
    assert set(final) == set(expected)
    for stem, want in expected.items():
        got = final[stem]
        assert (got.width, got.height) == (want.width, want.height)
        assert _boxes(got) == _boxes(want)  # every format holds boxes; a polygon keeps at least its box

    polygon_back = [[round(v, 3) for v in o.polygon[0]] for o in final["dog_02"].objects if o.polygon]
    if polygon_back != [POLYGON]:
        assert "polygons" not in holds or lost, (
            f"{first} and {second} both list polygons, yet the polygon was lost unreported"
        )
        assert any("polygon" in what or "segmentation" in what for what in lost), report.losses

    if final["cat_01"].labels != ["cat"]:
        # registry "holds" is a claim; the summary must say what was not represented either way
        assert any("label" in what for what in lost), report.losses

    if final["cat_01"].attributes.get("weather") != "rain":
        assert "image attribute 'weather'" in lost, report.losses

    cat = next(o for o in final["cat_01"].objects if o.label == "cat")
    dog = next(o for o in final["cat_01"].objects if o.label == "dog")
    if cat.score != 0.75:
        assert "score" in lost, report.losses
    if cat.attributes.get("color") != "red":
        assert "object attribute 'color'" in lost, report.losses
    if [round(v, 3) for v in dog.keypoints or []] != [34.0, 6.0, 2.0]:
        assert "keypoints" in lost, report.losses


def _check_classification_pair(final: dict[str, Sample], lost: set[str]) -> None:
    """A classification format (case ``HOLDS_BOXES = False``) holds image labels, not objects:
    the boxes and any image it cannot place (no single label) must be in the summary."""
    assert set(final) <= {"cat_01", "dog_02"}
    if set(final) != {"cat_01", "dog_02"}:
        assert any("image" in what for what in lost), lost
    assert any("object" in what for what in lost), lost
    if "cat_01" in final and final["cat_01"].labels != ["cat"]:
        assert any("label" in what for what in lost), lost
    if "cat_01" in final and final["cat_01"].attributes.get("weather") != "rain":
        assert "image attribute 'weather'" in lost, lost
