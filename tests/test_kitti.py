"""KITTI object labels: the corpus frames with their counts, the box convention checked against FiftyOne's own
conversion of the same files, and labels written back as KITTI wrote them."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

import cvkit
from conftest import corpus_path
from cvkit.core.report import Report
from cvkit.errors import CvkitError
from cvkit.formats import kitti


def _lines(folder: Path) -> dict[str, list[list[str]]]:
    return {
        f.stem: [line.split() for line in f.read_text().splitlines() if line.strip()]
        for f in sorted(folder.glob("*.txt"))
    }


def _same_numbers(a: list[str], b: list[str]) -> bool:
    return (
        a[0] == b[0]
        and len(a) == len(b)
        and all(abs(float(x) - float(y)) < 1e-9 for x, y in zip(a[1:], b[1:], strict=True))
    )


def test_kitti_object_vis_reads_with_its_counts():
    root = corpus_path("kitti", "kitti_object_vis")
    assert cvkit.detect_format(root) == "kitti"
    ds = cvkit.read(root).materialize()
    assert {Path(s.path).name: (s.width, s.height) for s in ds} == {
        "000000.png": (1224, 370),
        "000001.png": (1242, 375),
    }
    assert Counter(o.label for s in ds for o in s.objects) == {
        "Car": 1,
        "Cyclist": 1,
        "Pedestrian": 1,
        "Truck": 1,
        "DontCare": 4,
    }
    assert all(s.meta["kitti"]["calib"].endswith(f"calib/{Path(s.path).stem}.txt") for s in ds)
    cyclist = next(o for s in ds for o in s.objects if o.label == "Cyclist")
    assert cyclist.attributes == {
        "truncated": 0.0,
        "occluded": 3,
        "alpha": -1.65,
        "dimensions": [1.86, 0.6, 2.02],
        "location": [4.59, 1.32, 45.84],
        "rotation_y": -1.55,
    }
    assert all(o.attributes == {} for s in ds for o in s.objects if o.label == "DontCare")  # every field "not given"


def test_datumaro_kitti_detection_reads_with_its_counts():
    ds = cvkit.read(corpus_path("kitti", "datumaro_kitti_detection")).materialize()
    assert len(ds) == 2 and {s.split for s in ds} == {"training"}
    assert Counter(o.label for s in ds for o in s.objects) == {"Truck": 1, "Van": 4}
    truck = next(o for s in ds for o in s.objects if o.label == "Truck")
    assert truck.bbox == (0.0, 1.0, 2.0, 2.0)  # "0 1 2 3": continuous corners, width = right - left


def test_kitti_boxes_match_fiftyones_conversion_of_the_same_frames():
    """FiftyOne 1.22.1 imported these label_2 files and wrote relative [x, y, w, h]: an independent reading of the
    convention."""
    ours = cvkit.read(corpus_path("kitti", "kitti_object_vis")).materialize()
    theirs = cvkit.read(corpus_path("fiftyone", "kitti_fo_image_detection")).materialize()
    boxes = {Path(s.path).stem: sorted((o.label, o.bbox) for o in s.objects) for s in ours}
    other = {Path(s.path).stem: sorted((o.label, o.bbox) for o in s.objects) for s in theirs}
    assert boxes.keys() == other.keys()
    for stem in boxes:
        for (label, box), (label2, box2) in zip(boxes[stem], other[stem], strict=True):
            assert label == label2 and box == pytest.approx(box2, abs=1e-6)


@pytest.mark.parametrize("source", [("kitti", "kitti_object_vis"), ("fiftyone", "kitti_fo_image_detection")])
def test_kitti_written_back_gives_the_original_label_lines(source, tmp_path):
    out = tmp_path / "out"
    cvkit.write(cvkit.read(corpus_path(*source)), out, format="kitti")
    written = _lines(next(out.rglob("label_2")))
    original = _lines(corpus_path("kitti", "kitti_object_vis", "training", "label_2"))
    assert written.keys() == original.keys()
    for stem, lines in original.items():
        assert len(written[stem]) == len(lines)
        assert all(_same_numbers(a, b) for a, b in zip(sorted(written[stem]), sorted(lines), strict=True)), stem
    assert sorted(p.name for p in out.rglob("calib/*.txt")) == (
        ["000000.txt", "000001.txt"] if source[0] == "kitti" else []
    )


def test_kitti_line_errors_name_the_file_and_line(tmp_path):
    file = tmp_path / "000007.txt"
    with pytest.raises(CvkitError, match="expected 15 fields"):
        kitti.parse_line("Car 0 0 1 2 3", file, 4)
    with pytest.raises(CvkitError) as info:
        kitti.parse_line("Car 0.00 0 -1 30 20 10 40 1 1 1 1 1 1 1", file, 9)
    assert info.value.location == "line 9" and "before left/top" in info.value.describe()


def test_kitti_score_column_is_the_object_score(tmp_path):
    obj = kitti.parse_line(
        "Car -1 -1 -10 1.00 2.00 11.00 7.00 -1 -1 -1 -1000 -1000 -1000 -10 0.87", tmp_path / "a.txt", 1
    )
    assert obj.score == 0.87 and obj.bbox == (1.0, 2.0, 10.0, 5.0) and obj.attributes == {}
    line = kitti._writer.label_line(obj, Report())
    assert line == "Car -1.00 -1 -10.00 1.00 2.00 11.00 7.00 -1.00 -1.00 -1.00 -1000.00 -1000.00 -1000.00 -10.00 0.87"


def test_kitti_type_with_spaces_is_written_joined_and_said(tmp_path):
    report = Report()
    obj = kitti.parse_line("Car 0.00 0 -1 1 2 3 4 -1 -1 -1 -1000 -1000 -1000 -10", tmp_path / "a.txt", 1)
    obj.label = "traffic light"
    assert kitti._writer.label_line(obj, report).startswith("traffic_light 0.00 0 -1.00 1.00 2.00 3.00 4.00")
    assert any("'traffic light' written as 'traffic_light'" in w for w in report.warnings)
