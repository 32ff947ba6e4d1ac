"""Open Images CSVs: datumaro's V6 fixture and the official class list + 600-class hierarchy, read with their
counts; boxes placed from normalised corners; rows of one image found wherever they sit in the file; the
hierarchy used by ``cvkit hierarchy`` and ``cvkit remap``."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import pytest
from PIL import Image

import cvkit
from conftest import corpus_path, make_image
from cvkit.errors import CvkitError
from cvkit.hierarchy.load import load_hierarchy
from cvkit.hierarchy.remap import remap
from cvkit.hierarchy.summary import summarize

BOX_HEADER = (
    "ImageID,Source,LabelName,Confidence,XMin,XMax,YMin,YMax,IsOccluded,IsTruncated,IsGroupOf,IsDepiction,IsInside\n"
)


def _walk(node: dict, parent: str | None, relation: str, out: list[tuple[str, str | None, str]]) -> None:
    out.append((node["LabelName"], parent, relation))
    for key in ("Subcategory", "Part"):
        for child in node.get(key, []):
            _walk(child, node["LabelName"], key, out)


def test_datumaro_v6_reads_with_its_counts():
    root = corpus_path("open_images", "datumaro_v6")
    assert cvkit.detect_format(root) == "open_images"
    ds = cvkit.read(root).materialize()
    assert Counter(s.split for s in ds) == {"train": 2, "test": 1, "validation": 1}
    assert Counter(o.shape for s in ds for o in s.objects) == {"box": 2, "mask": 1}
    labels = sum(len(s.labels) + len(s.attributes.get("negative_labels", [])) for s in ds)
    assert labels == 4  # 2 train + 2 test human image-label rows
    assert len(ds.categories) == 4 and ds.categories.get("/m/0").display_name == "Generic label #0"
    assert len(ds.hierarchy) == 3 and ds.hierarchy.parents("/m/1") == ["/m/0"]
    by_id = {s.id: s for s in ds}
    assert by_id["b"].attributes["negative_labels"] == ["/m/0"] and by_id["a"].labels == ["/m/0"]


def test_boxes_are_normalised_corners_times_the_image_size():
    root = corpus_path("open_images", "datumaro_v6")
    ds = {s.id: s for s in cvkit.read(root)}
    rows = [
        row
        for name in ("oidv6-train-annotations-bbox.csv", "test-annotations-bbox.csv")
        for row in csv.DictReader((root / "annotations" / name).read_text().splitlines())
    ]
    for row in rows:
        sample = ds[row["ImageID"]]
        width, height = Image.open(root / sample.path).size  # b is also in images.meta: same size
        x0, x1, y0, y1 = (float(row[k]) for k in ("XMin", "XMax", "YMin", "YMax"))
        box = next(o.bbox for o in sample.objects if o.shape == "box")
        assert box == pytest.approx((x0 * width, y0 * height, (x1 - x0) * width, (y1 - y0) * height))
    c = next(o for o in ds["c"].objects)
    assert c.attributes | {"source": None} == {
        "occluded": True,
        "truncated": False,
        "group_of": True,
        "depiction": False,
        "inside": False,
        "source": None,
    }
    assert c.score == 0.7
    b = next(o for o in ds["b"].objects if o.shape == "box")
    assert set(b.attributes) == {"source"}  # every flag -1: unknown, left out


def test_official_class_list_and_hierarchy():
    folder = corpus_path("open_images", "official_metadata")
    tree = json.loads((folder / "bbox_labels_600_hierarchy.json").read_text())
    nodes: list[tuple[str, str | None, str]] = []
    _walk(tree, None, "", nodes)
    ds = cvkit.read(folder, format="open_images").materialize()
    assert len(ds) == 0 and len(ds.categories) == 601 and len(nodes) == 848
    assert set(ds.hierarchy.nodes) == {name for name, _, _ in nodes} and len(ds.hierarchy) == 602
    parents: dict[str, set[str]] = {}
    for name, parent, relation in nodes:
        if relation == "Subcategory":
            parents.setdefault(name, set()).add(parent)
    assert {n: set(node.parents) for n, node in ds.hierarchy.nodes.items() if node.parents} == parents
    assert any(len(p) > 1 for p in parents.values())
    assert sorted(map(tuple, ds.info["open_images"]["parts"])) == sorted((n, p) for n, p, r in nodes if r == "Part")
    assert ds.hierarchy.display("/m/0bl9f") == "Entity"
    loaded = load_hierarchy(folder / "bbox_labels_600_hierarchy.json")  # what --hierarchy PATH loads
    assert {n: set(node.parents) for n, node in loaded.nodes.items()} == {
        n: set(node.parents) for n, node in ds.hierarchy.nodes.items()
    }


def test_rows_of_one_image_are_grouped_wherever_they_sit(tmp_path):
    """The official CSVs are sorted by ImageID, but nothing requires it: interleaved rows still meet their image."""
    ann = tmp_path / "annotations"
    ann.mkdir()
    rows = [("img1", 0.1, 0.2), ("img2", 0.3, 0.5), ("img1", 0.4, 0.6), ("img3", 0.0, 1.0), ("img2", 0.2, 0.9)]
    (ann / "validation-annotations-bbox.csv").write_text(
        BOX_HEADER + "".join(f"{i},xclick,/m/k,1,{a},{b},{a},{b},0,0,0,0,0\n" for i, a, b in rows)
    )
    for name in ("img1", "img2", "img3"):
        make_image(tmp_path / "images" / "validation" / f"{name}.jpg", 100, 50)
    ds = {s.id: s for s in cvkit.read(tmp_path, format="open_images")}
    expected: dict[str, list] = {}
    for image, a, b in rows:
        expected.setdefault(image, []).append(pytest.approx((a * 100, a * 50, (b - a) * 100, (b - a) * 50)))
    assert {k: [o.bbox for o in s.objects] for k, s in ds.items()} == expected


def test_missing_size_and_bad_rows_are_errors_naming_the_line(tmp_path):
    ann = tmp_path / "annotations"
    ann.mkdir()
    (ann / "train-annotations-bbox.csv").write_text(BOX_HEADER + "x,xclick,/m/k,1,0.1,0.2,0.1,0.2,0,0,0,0,0\n")
    with pytest.raises(CvkitError) as info:
        cvkit.read(tmp_path, format="open_images").materialize()
    assert "line 2" in str(info.value.describe()) and "size" in info.value.describe()
    (ann / "train-annotations-bbox.csv").write_text(BOX_HEADER + "x,xclick,/m/k,1,zero,0.2,0.1,0.2,0,0,0,0,0\n")
    with pytest.raises(CvkitError) as info:
        cvkit.read(tmp_path, format="open_images").materialize()
    assert Path(info.value.file).name == "train-annotations-bbox.csv" and "zero" in info.value.describe()


def test_open_images_hierarchy_drives_hierarchy_show_and_remap(tmp_path):
    root = corpus_path("open_images", "datumaro_v6")
    summary = summarize(cvkit.read(root))
    # images at or below a node: a (label /m/0), b (box, mask /m/0), c (label /m/1, a Subcategory of /m/0)
    assert (summary.images["/m/x"], summary.images["/m/0"], summary.images["/m/1"], summary.images["/m/3"]) == (
        3,
        3,
        1,
        1,
    )
    ds, _table = remap(cvkit.read(root), to=["/m/0"], unmapped="drop")
    ds.materialize()
    labels = Counter(o.label for s in ds for o in s.objects) + Counter(label for s in ds for label in s.labels)
    # /m/1 is a Subcategory of /m/0: its image label joins /m/0; /m/3 has no path to /m/0 and is dropped
    assert set(labels) == {"/m/0"} and labels["/m/0"] == 2 + 2
