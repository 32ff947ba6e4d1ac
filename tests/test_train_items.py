"""Trainer items as arrays: the same items as tuples gave, from JSON Lines record by record or Parquet column-wise."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import cvkit
from cvkit.core.categories import Category, CategorySet
from cvkit.core.model import Annotation, Dataset, Sample
from cvkit.errors import CvkitError

pytest.importorskip("torch")
from cvkit.train.data import load_items
from cvkit.train.items import ItemArrays, item_targets


def test_item_arrays_give_back_every_kind_of_item():
    items = [("/data/é/a.jpg", 3, None), ("b.png", 0, (1.0, 2.0, 3.0, 4.0)), ("c.jpg", 7, None)]
    arrays = ItemArrays.from_items(items)
    assert list(arrays) == items and arrays[-1] == items[-1] and len(arrays) == 3
    multi = [("a.jpg", (0, 2), None), ("b.jpg", (), None), ("c.jpg", (1,), None)]
    assert list(ItemArrays.from_items(multi)) == multi
    assert item_targets(ItemArrays.from_items(multi)) == [(0, 2), (), (1,)]
    with pytest.raises(IndexError):
        arrays[3]


@pytest.fixture
def labelled(tmp_path) -> Dataset:
    """Five images: single labels in train and val, one unlabelled, one with a box for crops."""
    cats = CategorySet([Category(1, "cat"), Category(2, "dog")])
    samples = [
        Sample("img/a.jpg", 8, 8, "train", labels=["cat"]),
        Sample("img/b.jpg", 8, 8, "val", labels=["dog"]),
        Sample("img/c.jpg", 8, 8, None, labels=["dog"]),
        Sample("img/d.jpg", 8, 8, "train"),
        Sample("/abs/e.jpg", 8, 8, "test", labels=["cat"], objects=[Annotation("dog", (1.0, 1.0, 4.0, 4.0))]),
    ]
    return Dataset(samples, cats, root=tmp_path / "src")


@pytest.mark.parametrize(
    "task", [{}, {"split": "train"}, {"exclude_splits": ["val", "test"]}, {"multi_label": True}, {"crops": True}]
)
def test_parquet_and_jsonl_manifests_give_the_same_items(labelled, tmp_path, task):
    pytest.importorskip("pyarrow")
    labelled.materialize()
    cvkit.write(labelled, tmp_path / "m.jsonl", format="manifest")
    cvkit.write(labelled, tmp_path / "m.parquet", format="parquet")
    from_jsonl, from_parquet = load_items(tmp_path / "m.jsonl", **task), load_items(tmp_path / "m.parquet", **task)
    assert list(from_parquet.items) == list(from_jsonl.items)
    assert (from_parquet.unlabelled, from_parquet.counts) == (from_jsonl.unlabelled, from_jsonl.counts)
    assert isinstance(from_parquet.items.targets, np.ndarray)
    expected_paths = {Path(p).name for p, _, _ in from_parquet.items}
    if not task:
        assert expected_paths == {"a.jpg", "b.jpg", "c.jpg", "e.jpg"} and from_parquet.unlabelled == 1


def test_several_labels_and_unknown_labels_are_refused_on_both_paths(tmp_path):
    pytest.importorskip("pyarrow")
    cats = CategorySet([Category(1, "cat"), Category(2, "dog")])
    for labels, message in ((["cat", "dog"], "has 2 labels"), (["cat"], "not one of the model's classes")):
        data = Dataset([Sample("a.jpg", 8, 8, None, labels=labels)], cats, root=tmp_path)
        for name in ("m.jsonl", "m.parquet"):
            cvkit.write(
                data.materialize(),
                tmp_path / name,
                format="parquet" if name.endswith("parquet") else "manifest",
                overwrite=True,
            )
            with pytest.raises(CvkitError, match=message):
                load_items(tmp_path / name, class_names=["dog"] if message.startswith("not") else None)
