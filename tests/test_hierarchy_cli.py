"""``cvkit hierarchy show``, ``cvkit remap`` and ``cvkit ingest --hierarchy`` through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import corpus_path
from cvkit.cli import app
from cvkit.core.categories import Category, CategorySet
from cvkit.core.model import Annotation, Dataset, Sample
from cvkit.hierarchy import attach_hierarchy
from cvkit.manifest import read_header, read_manifest, write_manifest

runner = CliRunner()
WIDE = {"COLUMNS": "250"}
SORREL, SCHOOL_BUS, CHIHUAHUA, VOLCANO = "n02389026", "n04146614", "n02085620", "n09472597"


def make_manifest(path: Path, with_hierarchy: bool) -> Path:
    names = [SORREL, SCHOOL_BUS, CHIHUAHUA, VOLCANO]
    samples = [Sample(f"{w}.JPEG", 4, 4, "train", labels=[w]) for w in names]
    samples.append(
        Sample(
            "street.jpg", 4, 4, "val", objects=[Annotation(CHIHUAHUA, (0, 0, 1, 1)), Annotation(SORREL, (1, 1, 2, 2))]
        )
    )
    dataset = Dataset(samples, CategorySet(Category(i, w) for i, w in enumerate(names, 1)), root=path.parent)
    if with_hierarchy:
        dataset = attach_hierarchy(dataset, corpus_path("imagenet", "wordnet_hierarchy"))
    write_manifest(dataset, path)
    return path


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    return make_manifest(tmp_path / "train.jsonl", with_hierarchy=True)


def test_show_draws_tree_with_image_counts(manifest: Path):
    result = runner.invoke(app, ["hierarchy", "show", str(manifest), "--node", "animal"], env=WIDE)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "train.jsonl: 4 classes, 32 nodes, 5 images"
    # the street image holds a dog and a horse: counted once under "animal"
    assert lines[1] == "└── animal, animate being, beast, brute, creature, fauna (n00015388)  3 images"
    assert any(line.endswith("sorrel (n02389026)  2 images") for line in lines)
    # dog has two parents (canine, domestic animal): drawn under both, expanded once
    assert any(line.endswith("dog, domestic dog, Canis familiaris (n02084071)  2 images (2 parents)") for line in lines)
    assert any(
        line.endswith("dog, domestic dog, Canis familiaris (n02084071)  2 images (shown above)") for line in lines
    )


def test_show_json_and_depth(manifest: Path):
    result = runner.invoke(app, ["hierarchy", "show", str(manifest), "--depth", "2", "--json"])
    assert result.exit_code == 0, result.output
    records = json.loads(result.output)
    assert [(r["name"], r["depth"], r["images"]) for r in records] == [
        ("n00001740", 0, 5),
        ("n00001930", 1, 5),
        ("n00002684", 2, 5),
    ]


def test_show_with_hierarchy_option_and_errors(tmp_path: Path):
    plain = make_manifest(tmp_path / "plain.jsonl", with_hierarchy=False)
    result = runner.invoke(app, ["hierarchy", "show", str(plain)])
    assert result.exit_code == 2
    assert result.output == "error: the dataset has no hierarchy; pass one (--hierarchy PATH) or attach it at ingest\n"
    hierarchy = corpus_path("imagenet", "wordnet_hierarchy")
    result = runner.invoke(
        app, ["hierarchy", "show", str(plain), "--hierarchy", str(hierarchy), "--node", "n02374451", "--json"]
    )
    assert result.exit_code == 0, result.output
    assert [(r["name"], r["images"], r["is_class"]) for r in json.loads(result.output)] == [
        ("n02374451", 2, False),
        (SORREL, 2, True),
    ]


def test_remap_writes_manifest_and_prints_table(manifest: Path, tmp_path: Path):
    out = tmp_path / "coarse.jsonl"
    result = runner.invoke(
        app, ["remap", str(manifest), "-o", str(out), "--to", "animal,artifact", "--unmapped", "other"], env=WIDE
    )
    assert result.exit_code == 0, result.output
    assert "n04146614 (school bus) │ n00021939 (artifact, artefact)" in result.output
    assert (
        result.output.splitlines()[-1]
        == "wrote " + str(out) + ": 3 categories, 5 images (0 dropped), 2 objects (0 dropped)"
    )
    header = read_header(out)
    assert [(c["id"], c["name"]) for c in header["categories"]] == [(1, "n00015388"), (2, "n00021939"), (3, "other")]
    assert [s.labels or [o.label for o in s.objects] for s in read_manifest(out)] == [
        ["n00015388"],
        ["n00021939"],
        ["n00015388"],
        ["other"],
        ["n00015388", "n00015388"],
    ]


def test_remap_json_drop_and_map_file(manifest: Path, tmp_path: Path):
    mapping = tmp_path / "map.csv"
    mapping.write_text(f"old,new\n{SORREL},horse\n{CHIHUAHUA},dog\n")
    out = tmp_path / "m.jsonl"
    result = runner.invoke(app, ["remap", str(manifest), "-o", str(out), "--map", str(mapping), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["images"] == {"in": 5, "out": 3, "dropped": 2}
    assert [(r["old"], r["new"], r["how"]) for r in data["rows"]] == [
        (SORREL, "horse", "mapping"),
        (SCHOOL_BUS, None, "unmapped: dropped"),
        (CHIHUAHUA, "dog", "mapping"),
        (VOLCANO, None, "unmapped: dropped"),
    ]
    result = runner.invoke(app, ["remap", str(manifest), "-o", str(out), "--map", str(mapping)])
    assert result.exit_code == 2
    assert result.output == f"error: {out}: destination exists; pass --overwrite to replace it\n"


def test_remap_errors_are_clear(manifest: Path, tmp_path: Path):
    out = str(tmp_path / "x.jsonl")
    result = runner.invoke(app, ["remap", str(manifest), "-o", out])
    assert (result.exit_code, result.output) == (2, "error: say how to remap: --to, --level, --depth or --map\n")
    result = runner.invoke(app, ["remap", str(manifest), "-o", out, "--to", "animal", "--level", "coarse"])
    assert result.output == "error: give only one of --to, --level or --depth (add --map to override single classes)\n"
    result = runner.invoke(app, ["remap", str(manifest), "-o", out, "--to", "animal", "--unmapped", "ignore"])
    assert result.output == "error: unknown unmapped policy 'ignore'; choose one of drop, keep, other\n"


def test_ingest_attaches_hierarchy(tmp_path: Path):
    plain = make_manifest(tmp_path / "plain.jsonl", with_hierarchy=False)
    out = tmp_path / "with.jsonl"
    hierarchy = corpus_path("imagenet", "wordnet_hierarchy")
    result = runner.invoke(
        app, ["ingest", str(plain), "--format", "manifest", "-o", str(out), "--hierarchy", str(hierarchy), "--json"]
    )
    assert result.exit_code == 0, result.output
    categories = {c["name"]: c for c in read_header(out)["categories"]}
    assert (categories[SORREL]["display_name"], categories[SORREL]["parents"]) == ("sorrel", ["n02374451"])
    result = runner.invoke(
        app, ["ingest", str(plain), "-o", str(tmp_path / "x.jsonl"), "--hierarchy", str(tmp_path / "nope")]
    )
    assert (result.exit_code, result.output) == (2, f"error: {tmp_path / 'nope'}: hierarchy not found\n")
