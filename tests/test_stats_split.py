"""`cvkit split`: ratios, class stratification (multi-label too), seeds, groups kept together."""

from __future__ import annotations

import json
import random
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from typer.testing import CliRunner

import cvkit
from cvkit.cli import app
from cvkit.core.categories import Category, CategorySet
from cvkit.core.model import Annotation, Dataset, Sample
from cvkit.errors import CvkitError
from cvkit.stats.split import iterative_stratification, parse_ratios, split_dataset

runner = CliRunner()


def detection_manifest(path: Path, images: int = 400, seed: int = 1, groups: int = 0) -> Path:
    """Imbalanced multi-label detection data: 'common' everywhere-ish, 'rare' in 20 images."""
    rng = random.Random(seed)
    cats = CategorySet([Category(1, "common"), Category(2, "medium"), Category(3, "rare")])
    samples = []
    for i in range(images):
        objects = [Annotation("common", (1.0, 1.0, 5.0, 5.0)) for _ in range(rng.randint(0, 3))]
        if i % 4 == 0:
            objects.append(Annotation("medium", (2.0, 2.0, 4.0, 4.0)))
        if i % 20 == 0:
            objects.append(Annotation("rare", (3.0, 3.0, 4.0, 4.0)))
        attributes = {"video": f"v{i % groups}"} if groups else {}
        samples.append(Sample(f"img_{i:04d}.jpg", 32, 32, objects=objects, attributes=attributes))
    cvkit.write(Dataset(samples, cats), path, format="manifest")
    return path


def _splits(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()[1:]]


def test_split_hits_ratios_and_stratifies_every_class(tmp_path):
    src = detection_manifest(tmp_path / "in.jsonl")
    doc = split_dataset(src, "0.8,0.1,0.1", tmp_path / "out.jsonl", seed=3)
    assert [s["images"] for s in doc["splits"]] == [320, 40, 40]
    # images holding each class: common ~ 300, medium 100, rare 20 -> 80/10/10 within one image
    for cls, counts in doc["classes"].items():
        total = sum(counts.values())
        for name, ratio in (("train", 0.8), ("val", 0.1), ("test", 0.1)):
            assert abs(counts[name] - ratio * total) <= 1, (cls, counts)
    assert doc["classes"]["rare"] == {"train": 16, "val": 2, "test": 2}
    records = _splits(tmp_path / "out.jsonl")
    assert Counter(r["split"] for r in records) == {"train": 320, "val": 40, "test": 40}


def test_same_seed_same_split_other_seed_other_split(tmp_path):
    src = detection_manifest(tmp_path / "in.jsonl")
    split_dataset(src, "0.5,0.5", tmp_path / "a.jsonl", seed=1)
    split_dataset(src, "0.5,0.5", tmp_path / "b.jsonl", seed=1)
    split_dataset(src, "0.5,0.5", tmp_path / "c.jsonl", seed=2)
    a, b, c = ([r["split"] for r in _splits(tmp_path / n)] for n in ("a.jsonl", "b.jsonl", "c.jsonl"))
    assert a == b
    assert a != c


def test_group_by_keeps_groups_in_one_split(tmp_path):
    src = detection_manifest(tmp_path / "in.jsonl", groups=40)
    doc = split_dataset(src, "0.8,0.2", tmp_path / "out.jsonl", group_by="video", seed=0)
    where = defaultdict(set)
    for r in _splits(tmp_path / "out.jsonl"):
        where[r["attributes"]["video"]].add(r["split"])
    assert all(len(s) == 1 for s in where.values())
    assert [s["images"] for s in doc["splits"]] == [320, 80]  # 40 groups of 10 -> 32 / 8 groups
    assert doc["images_without_group"] == 0


def test_iterative_stratification_places_rare_labels_first():
    # 10 single-image groups; label 1 in two of them: one must go to each of two equal splits
    labels = [{0: 1}] * 8 + [{0: 1, 1: 1}, {1: 1}]
    out = iterative_stratification(labels, [1] * 10, [0.5, 0.5], num_labels=2, seed=0)
    assert sorted(out[[8, 9]].tolist()) == [0, 1]
    assert Counter(out.tolist()) == {0: 5, 1: 5}


def test_bad_ratios_are_refused():
    with pytest.raises(CvkitError, match="must sum to 1"):
        parse_ratios("0.8,0.1")
    with pytest.raises(CvkitError, match="must be > 0"):
        parse_ratios("1,0")


def test_cli_prints_the_per_split_class_table(tmp_path):
    src = detection_manifest(tmp_path / "in.jsonl")
    out = runner.invoke(
        app, ["split", str(src), "--ratios", "0.8,0.1,0.1", "-o", str(tmp_path / "out.jsonl"), "--seed", "3"]
    )
    assert out.exit_code == 0, out.output
    assert "rare" in out.output and "16 (80%)" in out.output
    assert f"written to {tmp_path / 'out.jsonl'}" in out.output
    again = runner.invoke(app, ["split", str(src), "--ratios", "0.8,0.1,0.1", "-o", str(tmp_path / "out.jsonl")])
    assert again.exit_code == 2 and "destination exists; pass --overwrite" in again.output
    bad = runner.invoke(
        app, ["split", str(src), "--ratios", "0.8,0.1,0.1", "--names", "a,b", "-o", str(tmp_path / "x.jsonl")]
    )
    assert bad.exit_code == 2 and "--names needs 3 distinct non-empty names" in bad.output
