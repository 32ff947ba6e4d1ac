"""CVAT for images 1.1 against datumaro, the library CVAT's own dataset import and export build on (in a venv of its
own: tests/oracle_venvs.py, tests/oracles/datumaro.txt).

What cvkit writes, datumaro's CVAT importer reads with the same images, labels, coordinates, attributes, occluded,
z_order and group ids; a corpus export CVAT wrote reads in datumaro the same before and after cvkit rewrites it; and a
CVAT export datumaro writes reads in cvkit with what datumaro put in it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import cvkit
import oracle_venvs
from conftest import corpus_path, make_image
from cvkit.core.categories import Category, CategorySet
from cvkit.core.geometry import ROTATED_BOX, rotated_box_corners
from cvkit.core.masks import decode, encode
from cvkit.core.model import Annotation, Dataset, Sample


def _datumaro(path: Path) -> dict[str, Any]:
    return oracle_venvs.run("datumaro", "datumaro_cvat.py", path)


def _by_item(read: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(item["subset"], item["id"]): item for item in read["items"]}


def test_corpus_project_export_reads_in_datumaro_the_same_after_cvkit_rewrites_it(tmp_path: Path):
    source = corpus_path("cvat", "datumaro_export_project")
    cvkit.convert(source, tmp_path / "out", to_format="cvat")
    theirs, ours = _datumaro(source), _datumaro(tmp_path / "out")
    assert len(ours["items"]) == 6
    assert sum(len(i["annotations"]) for i in ours["items"]) == 12
    assert ours["labels"] == theirs["labels"] == ["label1", "label2"]
    assert ours["items"] == theirs["items"]  # subsets, sizes, shapes, coordinates, typed attributes, z_order, groups


def test_video_tracks_rewritten_as_images_hold_the_shapes_datumaro_sees_inside_the_frames(tmp_path: Path):
    """CVAT for video's tracks (start frame, frame step, outside keyframes) as datumaro interprets them: every shape
    not ``outside`` on its frame, and nothing else, is in cvkit's CVAT for images rewrite."""
    source = corpus_path("cvat", "datumaro_for_video")
    cvkit.convert(source, tmp_path / "out", to_format="cvat")

    def shapes(read: dict[str, Any]) -> list[tuple[str, str, str, list[float], bool, int]]:
        return [
            (
                item["id"],
                a["type"],
                a["label"],
                a["geometry"],
                a["attributes"]["occluded"],
                int(a["attributes"]["track_id"]),
            )
            for item in read["items"]
            for a in item["annotations"]
            if not a["attributes"].get("outside")
        ]

    theirs, ours = _datumaro(source), _datumaro(tmp_path / "out")
    assert (
        [i["id"] for i in ours["items"]]
        == [i["id"] for i in theirs["items"]]
        == [
            "frame_000010",
            "frame_000013",
            "frame_000016",
        ]
    )
    assert len(shapes(theirs)) == 3  # of 7 keyframes, 4 are outside
    assert shapes(ours) == shapes(theirs)


def _mask(height: int, width: int) -> np.ndarray:
    mask = np.zeros((height, width), dtype=np.uint8)
    mask[5:12, 8:20] = 1
    mask[12:20, 15:18] = 1
    mask[7, 10] = 0  # a hole: runs that start and stop inside the mask's box
    return mask


ROTATED = (30.0, 20.0, 16.0, 8.0, 30.0)


def _generated(root: Path) -> Dataset:
    """Every shape CVAT and datumaro both hold, with typed attributes, occluded, z_order, a group and a tag."""
    make_image(root / "images" / "street.jpg", 64, 48)
    make_image(root / "images" / "crossing.png", 40, 30)
    categories = CategorySet([Category(1, "car"), Category(2, "person"), Category(3, "lane"), Category(4, "day")])
    street = [
        Annotation(
            "car",
            (4.0, 6.0, 20.5, 30.25),
            group=3,
            attributes={"occluded": True, "parked": False, "speed": 2.5, "colour": "red"},
            meta={"cvat": {"z_order": 2}},
        ),
        Annotation(
            "car",
            shape="polygon",
            polygon=[rotated_box_corners(*ROTATED)],
            attributes={"parked": True, "speed": 0.0, "colour": "dark blue"},
            meta={ROTATED_BOX: list(ROTATED)},
        ),
        Annotation("person", shape="polygon", polygon=[[10.0, 10.0, 20.0, 10.0, 15.5, 25.75]], group=3),
        Annotation("lane", shape="linestrip", points=[0.0, 40.0, 30.0, 45.0, 60.0, 40.0]),
        Annotation("person", shape="point", points=[12.5, 8.25, 14.0, 9.0]),
    ]
    crossing = [Annotation("person", shape="mask", rle=encode(_mask(30, 40)), meta={"cvat": {"z_order": 1}})]
    samples = [
        Sample(
            "images/street.jpg",
            64,
            48,
            "train",
            labels=["day"],
            objects=street,
            meta={"cvat": {"tags": [{"label": "day", "attributes": {"sunny": True}, "group": None}]}},
        ),
        Sample("images/crossing.png", 40, 30, "val", objects=crossing),
    ]
    for sample in samples:
        for obj in sample.objects:
            obj.ensure_bbox()
    return Dataset(samples, categories, root=root, source_format="test")


def _attributes(obj: Annotation) -> dict[str, Any]:
    """What datumaro gives back: occluded always (CVAT's common attribute), the others as typed."""
    return {"occluded": False} | obj.attributes


def test_every_shape_cvkit_writes_reads_in_datumaro_with_its_geometry_and_attributes(tmp_path: Path):
    dataset = _generated(tmp_path / "src")
    cvkit.write(dataset, tmp_path / "out", format="cvat")
    read = _datumaro(tmp_path / "out")
    items = _by_item(read)
    assert set(items) == {("train", "street"), ("val", "crossing")}
    assert set(read["labels"]) == {"car", "person", "lane", "day"}
    assert items["train", "street"]["size"] == [48, 64]
    assert items["val", "crossing"]["size"] == [30, 40]

    street = items["train", "street"]["annotations"]
    assert [a["type"] for a in street] == ["bbox", "rotated_bbox", "polygon", "polyline", "points", "label"]
    box, rotated, polygon, line, points, tag = street
    objects = dataset.samples[0].objects
    assert box["geometry"] == pytest.approx(list(objects[0].bbox))
    assert (box["label"], box["group"], box["z_order"]) == ("car", 3, 2)
    assert box["attributes"] == {"occluded": True, "parked": False, "speed": 2.5, "colour": "red"}
    assert rotated["geometry"] == pytest.approx(list(ROTATED), abs=0.01)  # written with 2 decimals, as CVAT does
    assert rotated["attributes"] == _attributes(objects[1])
    assert polygon["geometry"] == objects[2].polygon[0]
    assert (polygon["label"], polygon["group"]) == ("person", 3)
    assert (line["type"], line["geometry"], line["label"]) == ("polyline", objects[3].points, "lane")
    assert points["geometry"] == objects[4].points
    assert all(a["attributes"] == {"occluded": False} for a in (polygon, line, points))
    assert (tag["label"], tag["attributes"]) == ("day", {"sunny": True})

    (mask,) = items["val", "crossing"]["annotations"]
    assert (mask["type"], mask["label"], mask["z_order"]) == ("mask", "person", 1)
    assert mask["geometry"] == np.flatnonzero(_mask(30, 40)).tolist()  # CVAT's RLE, decoded by datumaro


def test_cvat_export_written_by_datumaro_reads_in_cvkit_with_what_datumaro_put_in_it(tmp_path: Path):
    written = oracle_venvs.run("datumaro", "datumaro_cvat_export.py", tmp_path / "dm")
    items = _by_item(written)
    ds = cvkit.read(tmp_path / "dm" / "train.xml", format="cvat").materialize()
    assert len(ds) == len(items) == 2
    assert [c.name for c in ds.categories] == written["labels"]
    for sample in ds:
        item = items["train", Path(sample.path).stem]
        assert [sample.height, sample.width] == item["size"]
        assert (ds.root / sample.path).is_file()  # images/<name>, as datumaro saved them
        shapes = [a for a in item["annotations"] if a["type"] != "label"]
        assert sample.labels == [a["label"] for a in item["annotations"] if a["type"] == "label"]
        assert len(sample.objects) == len(shapes)
        for obj, ann in zip(sample.objects, shapes, strict=True):
            assert obj.label == ann["label"]
            assert {"occluded": False} | obj.attributes == ann["attributes"]
            assert (obj.group or 0) == ann["group"]
            assert obj.meta.get("cvat", {}).get("z_order", 0) == ann["z_order"]
            if ann["type"] == "bbox":
                assert obj.bbox == pytest.approx(ann["geometry"], abs=0.005)
            elif ann["type"] == "rotated_bbox":
                assert obj.meta[ROTATED_BOX] == pytest.approx(ann["geometry"], abs=0.005)
            elif ann["type"] == "polygon":
                assert obj.polygon == [pytest.approx(ann["geometry"], abs=0.005)]
            elif ann["type"] == "mask":
                assert np.flatnonzero(decode(obj.rle)).tolist() == ann["geometry"]
            else:
                assert (obj.shape, obj.points) == (
                    {"polyline": "linestrip", "points": "point"}[ann["type"]],
                    pytest.approx(ann["geometry"], abs=0.005),
                )
