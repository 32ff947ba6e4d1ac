"""Atomic output: a failure part-way leaves the destination exactly as it was."""

from __future__ import annotations

import pytest

import cvkit
from cvkit.core.model import Sample
from cvkit.io import atomic_dir, atomic_file


def test_failed_folder_write_leaves_no_destination_and_no_temp(tmp_path, small):
    def explode(sample: Sample) -> Sample:
        if sample.path.endswith("dog_02.png"):
            raise RuntimeError("disk full")
        return sample

    with pytest.raises(RuntimeError, match="disk full"):
        cvkit.write(small.map(explode), tmp_path / "voc", format="voc")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src"]


def test_failed_overwrite_keeps_the_old_dataset(tmp_path):
    dst = tmp_path / "out"
    dst.mkdir()
    (dst / "old.txt").write_text("old")
    with pytest.raises(ValueError), atomic_dir(dst, overwrite=True) as tmp:
        (tmp / "new.txt").write_text("new")
        raise ValueError("crash")
    assert [p.name for p in dst.iterdir()] == ["old.txt"]
    with atomic_dir(dst, overwrite=True) as tmp:
        (tmp / "new.txt").write_text("new")
    assert [p.name for p in dst.iterdir()] == ["new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_failed_file_write_keeps_the_old_file(tmp_path):
    target = tmp_path / "a.json"
    target.write_text("old")
    with pytest.raises(KeyError), atomic_file(target) as handle:
        handle.write("half")
        raise KeyError("crash")
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_inputs_are_never_modified(corpus, tmp_path):
    src = corpus("voc", "voc_dataset1")
    before = {p: p.stat().st_mtime_ns for p in src.rglob("*")}
    cvkit.convert(src, tmp_path / "coco", to_format="coco", write_options={"images": "copy"})
    cvkit.convert(src, tmp_path / "m.jsonl", to_format="manifest")
    assert {p: p.stat().st_mtime_ns for p in src.rglob("*")} == before
