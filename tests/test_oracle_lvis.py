"""LVIS against the LVIS API (lvis-api 0.5.3, in a venv of its own with numpy 1.23: tests/oracle_venvs.py,
tests/oracles/lvis.txt).

The LVIS file cvkit writes loads in the LVIS API with the categories' frequency, image_count, synset and synonyms,
the images' neg_category_ids and not_exhaustive_category_ids, and the annotations' boxes of the source; LVISEval,
which reads those federated fields, scores the same detections the same against the corpus file and cvkit's rewrite.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import cvkit
import oracle_venvs
from conftest import corpus_path
from cvkit.core.model import Dataset


def _lvis(annotations: Path, results: Path | None = None) -> dict[str, Any]:
    return oracle_venvs.run("lvis", "lvis_api.py", annotations, *([results] if results else []))


def _detections(source: dict[str, Any]) -> list[dict[str, Any]]:
    """Detections a model might give: every object's box moved a little, scored unevenly, and on each image a false
    positive of a category marked absent (neg_category_ids, counted) and of one not exhaustively labelled (ignored)."""
    out = []
    for i, ann in enumerate(source["annotations"]):
        x, y, w, h = ann["bbox"]
        shift = (i % 5) * 0.1 * min(w, h)
        out.append(
            {"image_id": ann["image_id"], "category_id": ann["category_id"], "bbox": [x + shift, y, w, h]}
            | {"score": 1 / (1 + i % 7)}
        )
    for image in source["images"]:
        for category in image["neg_category_ids"][:2] + image["not_exhaustive_category_ids"][:1]:
            out.append({"image_id": image["id"], "category_id": category, "bbox": [0, 0, 50, 50], "score": 0.9})
    return out


def test_corpus_lvis_rewritten_by_cvkit_loads_and_evaluates_in_the_lvis_api_as_the_source(tmp_path: Path):
    source = corpus_path("lvis", "lvis_api_val100_v0_5", "lvis_val_100.json")
    cvkit.convert(source, tmp_path / "out.json", to_format="lvis")
    results = tmp_path / "results.json"
    results.write_text(json.dumps(_detections(json.loads(source.read_text(encoding="utf-8")))))
    theirs, ours = _lvis(source, results), _lvis(tmp_path / "out.json", results)
    assert (len(ours["images"]), len(ours["annotations"]), len(ours["categories"])) == (100, 977, 1230)
    assert sum(len(i["neg_category_ids"]) for i in ours["images"].values()) == 942
    assert sum(len(i["not_exhaustive_category_ids"]) for i in ours["images"].values()) == 16
    assert {c["frequency"] for c in ours["categories"].values()} == {"r", "c", "f"}
    assert ours["categories"] == theirs["categories"]  # frequency, image_count, synset, synonyms, def, images
    assert ours["images"] == theirs["images"]  # sizes, federated ids, annotation counts
    assert ours["annotations"] == theirs["annotations"]  # image, category, box and area of each
    assert 0 < ours["eval"]["AP"] < 1  # the shifted boxes and the false positive on a neg category cost something
    assert ours["eval"] == pytest.approx(theirs["eval"])


def test_lvis_written_from_another_format_loads_with_counted_category_fields(small: Dataset, tmp_path: Path):
    cvkit.write(small, tmp_path / "out.json", format="lvis")
    read = _lvis(tmp_path / "out.json")
    by_name = {c["name"]: c for c in read["categories"].values()}
    assert set(by_name) == {"cat", "dog"}
    # counted by cvkit where the source had none: cat in 1 image once, dog in 2 images twice; <= 10 images is rare
    assert [by_name["cat"][k] for k in ("image_count", "instance_count", "frequency", "images")] == [1, 1, "r", 1]
    assert [by_name["dog"][k] for k in ("image_count", "instance_count", "frequency", "images")] == [2, 2, "r", 2]
    assert len(read["images"]) == 3
    assert all(i["neg_category_ids"] == i["not_exhaustive_category_ids"] == [] for i in read["images"].values())
    assert sorted(i["size"] for i in read["images"].values()) == sorted([s.width, s.height] for s in small.samples)
    id_of = {c["name"]: int(k) for k, c in read["categories"].items()}
    expected = sorted(
        (id_of[o.label], [float(v) for v in o.bbox], o.bbox[2] * o.bbox[3]) for s in small.samples for o in s.objects
    )
    assert sorted((a[1], a[2], a[3]) for a in read["annotations"]) == expected
