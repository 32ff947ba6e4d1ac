"""The YOLO line writer's short paths give what its general path (``_other_line``) gives: the same text and the
same losses, on random objects of every kind (boxes, polygons, keypoints, masks, scores, attributes, crowds,
boxes past the image edge)."""

from __future__ import annotations

import random

import pytest

from cvkit.core.model import Annotation
from cvkit.core.report import Report
from cvkit.formats.yolo._labels import LineWriter


def _random_object(rng: random.Random) -> Annotation:
    x, y = rng.uniform(-20, 600), rng.uniform(-20, 440)
    w, h = rng.uniform(0, 200), rng.uniform(0, 200)
    kind = rng.randrange(9)
    obj = Annotation(rng.choice("abc"), (x, y, w, h))
    if kind in (1, 2, 3):  # a polygon inside its box; kind 3: a polygon kept on an object still called a box
        obj.polygon = [[x, y, x + w, y, x + w / 2, y + h]]
        obj.shape = "box" if kind == 3 else "polygon"
    if kind in (2, 4):  # COCO person_keypoints: keypoints on a box or a polygon
        obj.keypoints = [rng.uniform(0, 640), rng.uniform(0, 480), 2.0] * 17
    if kind == 5:
        obj.rle, obj.shape = {"counts": [1, 2], "size": [2, 2]}, "mask"
    if kind == 6:
        obj.score = 0.5
    if kind == 7:
        obj.attributes = {"color": "red"}
    if kind == 8:
        obj.shape = "point"
    obj.iscrowd = rng.random() < 0.05
    return obj


def _general_path(writer: LineWriter, objects: list[Annotation], index: dict[str, int], w: int, h: int) -> str:
    out = []
    for obj in objects:
        if obj.iscrowd and not writer.keep_crowd:
            writer.report.lose(
                "crowd region",
                "YOLO has no crowd flag; left out as Ultralytics' COCO converter does (-w crowd=keep writes it as "
                "an object)",
            )
            continue
        out.append(writer._other_line(obj, index[obj.label], w, h) or "")
    return "".join(out)


@pytest.mark.parametrize("keep_crowd", [False, True])
def test_short_paths_write_what_the_general_path_writes(keep_crowd: bool) -> None:
    rng = random.Random(14)
    index = {"a": 0, "b": 1, "c": 2}
    seen: set[str] = set()
    for _ in range(300):
        objects = [_random_object(rng) for _ in range(rng.randrange(0, 12))]
        fast, slow = LineWriter(Report(), False, keep_crowd, 6), LineWriter(Report(), False, keep_crowd, 6)
        text = fast.lines(objects, index, index.__getitem__, 640, 480)
        assert text == _general_path(slow, objects, index, 640, 480)
        assert fast.report.losses == slow.report.losses
        seen.update(what for what, _ in fast.report.losses)
    assert {"polygon", "keypoints", "mask", "score", "point", "box outside the image"} <= seen


def test_polygons_and_keypoints_are_counted_as_losses() -> None:
    writer = LineWriter(Report(), False, False, 6)
    polygon = Annotation("a", (1.0, 2.0, 3.0, 4.0), shape="polygon", polygon=[[1.0, 2.0, 4.0, 2.0, 4.0, 6.0]])
    person = Annotation("a", (1.0, 2.0, 3.0, 4.0), keypoints=[1.0, 2.0, 2.0])
    text = writer.lines([polygon, person, polygon], {"a": 0}, lambda label: 0, 10, 10)
    assert text == "0 0.250000 0.400000 0.300000 0.400000\n" * 3
    losses = {what: count for (what, _), count in writer.report.losses.items()}
    assert losses == {"polygon": 2, "keypoints": 1}
