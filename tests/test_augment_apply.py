"""--apply: augmented copies and oversampling write a valid manifest with the expected counts."""

from __future__ import annotations

from pathlib import Path

import pytest

from cvkit.augment.apply import apply_augmentations, plan_oversampling
from cvkit.errors import DestinationExistsError
from cvkit.manifest import load_schema, read_header, read_manifest

FLIP = [{"name": "HorizontalFlip", "p": 1.0}]


def records(path: Path):
    return read_manifest(path).materialize().samples


def test_copies_write_images_and_a_manifest_of_originals_plus_copies(small, tmp_path):
    out = tmp_path / "aug"
    result = apply_augmentations(small, out, FLIP, copies=2, device="cpu")
    samples = records(out / "manifest.jsonl")
    assert (result.originals, result.copies, len(samples)) == (3, 6, 9)
    for s in samples:
        assert s.resolve(out).is_file(), s.path
    copy = next(s for s in samples if s.attributes.get("augmented_from", "").endswith("cat_01.jpg"))
    # cat_01 is 64 px wide: the flipped cat box (4, 6, 20, 30) becomes (64 - 4 - 20, 6, 20, 30)
    assert sorted(o.bbox for o in copy.objects) == [(24.0, 2.0, 10.0, 12.0), (40.0, 6.0, 20.0, 30.0)]
    assert [c.name for c in read_manifest(out / "manifest.jsonl").categories] == ["cat", "dog"]


def test_manifest_validates_against_the_schema(small, tmp_path):
    jsonschema = pytest.importorskip("jsonschema")
    import json

    out = tmp_path / "aug"
    apply_augmentations(small, out, FLIP, copies=1, device="cpu")
    schema = load_schema()
    lines = (out / "manifest.jsonl").read_text().splitlines()
    jsonschema.validate(json.loads(lines[0]), {**schema, "$ref": "#/$defs/header"})
    for line in lines[1:]:
        jsonschema.validate(json.loads(line), {**schema, "$ref": "#/$defs/record"})
    assert read_header(out / "manifest.jsonl")["info"]["augment"]["spec"]["transforms"][0]["name"] == "HorizontalFlip"


def test_oversampling_lifts_every_class_to_the_target(small, tmp_path):
    # cat is in 1 image (cat_01, which also holds a dog), dog in 2: two copies of cat_01 make cat 3 and dog 4
    assert plan_oversampling(small.samples, 3) == [(0, "cat"), (0, "cat"), (0, "dog")]
    result = apply_augmentations(small, tmp_path / "aug", FLIP, oversample_target=3, device="cpu")
    assert result.before == {"cat": 1, "dog": 2}
    assert result.after == {"cat": 3, "dog": 4}
    assert result.copies == 2 and result.short == {}
    assert len(records(tmp_path / "aug" / "manifest.jsonl")) == 5


def test_refuses_a_non_empty_output_without_overwrite(small, tmp_path):
    out = tmp_path / "aug"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    with pytest.raises(DestinationExistsError):
        apply_augmentations(small, out, FLIP, device="cpu")
    assert (out / "keep.txt").read_text() == "x"


RANDOM = [{"name": "Affine", "p": 1.0, "rotate": [-30, 30], "scale": [0.7, 1.3]}, {"name": "GaussNoise", "p": 1.0}]


def copy_images(out: Path) -> dict[tuple[str, int], bytes]:
    """(original image, its copy number) -> the copy's bytes, whatever the file is called."""
    made: dict[tuple[str, int], bytes] = {}
    for sample in records(out / "manifest.jsonl"):
        origin = sample.attributes.get("augmented_from")
        if origin is not None:
            number = sum(1 for key in made if key[0] == origin)
            made[(origin, number)] = (out / sample.path).read_bytes()
    return made


def test_each_copy_comes_from_its_own_seed_whatever_runs_it(small, tmp_path, monkeypatch):
    from cvkit.augment import apply
    from cvkit.core.executor import LocalProcesses, using

    one = apply_augmentations(small, tmp_path / "one", RANDOM, copies=1, seed=7, device="cpu")
    three = apply_augmentations(small, tmp_path / "three", RANDOM, copies=3, seed=7, device="cpu")
    monkeypatch.setattr(apply, "COPIES_PER_TASK", 2)  # another split into tasks, on worker processes
    with using(LocalProcesses(2)):
        spread = apply_augmentations(small, tmp_path / "spread", RANDOM, copies=3, seed=7, device="cpu")
    assert (one.copies, three.copies, spread.copies) == (3, 9, 9)
    first, all_three = copy_images(tmp_path / "one"), copy_images(tmp_path / "three")
    assert {key: all_three[key] for key in first} == first  # copy 0 of each image is the same with --copies 1 or 3
    assert len(set(all_three.values())) == 9  # every copy drew its own parameters
    assert copy_images(tmp_path / "spread") == all_three
    other = apply_augmentations(small, tmp_path / "other", RANDOM, copies=1, seed=8, device="cpu")
    assert other.copies == 3 and copy_images(tmp_path / "other") != first
