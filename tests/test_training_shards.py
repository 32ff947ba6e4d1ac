"""WebDataset tar shards and Hugging Face Parquet shards, read back by their own libraries."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import cvkit as cvkit_api
from cvkit.core.training_shards import parse_byte_size
from cvkit.errors import CvkitError
from cvkit.manifest import iter_records, read_manifest
from hostile.harness import assert_clean_error, assert_nothing_written, cvkit, snapshot

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the datasets library never reaches for the Hub here
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")


@pytest.fixture
def manifest(tmp_path, small) -> Path:
    """The small dataset as a manifest: cat_01 labelled cat, dog_02 labelled dog, empty_03 unlabelled and in val."""
    samples = small.materialize().samples
    samples[0].labels, samples[1].labels = ["cat"], ["dog"]
    samples[2].split = "val"
    path = tmp_path / "src" / "m.jsonl"
    cvkit_api.write(small, path, format="manifest")
    return path


def test_webdataset_shards_read_back_by_webdataset_match_the_manifest(manifest, tmp_path):
    wds = pytest.importorskip("webdataset")
    out = tmp_path / "shards"
    cvkit_api.convert(manifest, out, to_format="webdataset", from_format="manifest", write_options={"shard_size": 1})
    assert sorted(p.name for p in out.iterdir()) == [
        "classes.txt",
        "train-000000.tar",
        "train-000001.tar",
        "val-000000.tar",
    ]
    assert (out / "classes.txt").read_text().split() == ["cat", "dog"]  # the header's order: .cls numbers
    expected = {rec["image"]: rec for _, rec in iter_records(manifest)}
    root = manifest.parent
    seen = []
    for sample in wds.WebDataset(
        str(out / "{train-000000,train-000001,val-000000}.tar"), shardshuffle=False, empty_check=False
    ):
        record = json.loads(sample["json"])
        image = record["image"]
        assert record == expected[image]
        suffix = Path(image).suffix.lstrip(".")
        assert sample[suffix] == (root / image).read_bytes()  # the image's own bytes, not re-encoded
        labels = expected[image]["labels"]
        assert ("cls" in sample) == (len(labels) == 1)
        if labels:
            assert int(sample["cls"]) == ["cat", "dog"].index(labels[0])
        seen.append(image)
    assert sorted(seen) == sorted(expected)


def test_webdataset_shards_close_at_a_byte_size(manifest, tmp_path):
    out = tmp_path / "shards"
    report = cvkit_api.convert(
        manifest, out, to_format="webdataset", from_format="manifest", write_options={"shard_bytes": "1KB"}
    )
    # every sample is bigger than 1 KB with its tar headers: one a shard, never an empty shard
    assert sorted(p.name for p in out.glob("*.tar")) == ["train-000000.tar", "train-000001.tar", "val-000000.tar"]
    assert report.written.images == 3


def test_hf_shards_open_in_datasets_with_their_features(manifest, tmp_path):
    datasets = pytest.importorskip("datasets")
    out = tmp_path / "hf"
    cvkit_api.convert(manifest, out, to_format="hf", from_format="manifest")
    files = sorted(p.name for p in (out / "data").iterdir())
    assert files == ["train-00000-of-00001.parquet", "val-00000-of-00001.parquet"]
    loaded = datasets.load_dataset(
        "parquet", data_files={"train": str(out / "data" / "train-*.parquet")}, cache_dir=str(tmp_path / "cache")
    )
    train = loaded["train"]
    features = train.features
    assert isinstance(features["image"], datasets.Image)
    assert features["labels"].feature.names == ["cat", "dog"]
    assert features["objects"]["category"].feature.names == ["cat", "dog"]
    source = read_manifest(manifest).materialize()
    by_path = {s.path: s for s in source}
    assert train.num_rows == 2
    for row in train:
        sample = by_path[row["image_path"]]
        assert row["image"].size == (sample.width, sample.height)
        assert [features["labels"].feature.int2str(n) for n in row["labels"]] == sample.labels
        assert row["objects"]["bbox"] == [list(o.bbox) for o in sample.objects]
        assert [features["objects"]["category"].feature.int2str(n) for n in row["objects"]["category"]] == [
            o.label for o in sample.objects
        ]
    # the dataset card maps the splits: the folder itself loads too
    whole = datasets.load_dataset(str(out), cache_dir=str(tmp_path / "cache2"))
    assert sorted(whole) == ["train", "val"] and whole["val"].num_rows == 1


def test_hf_shards_split_by_count(manifest, tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    out = tmp_path / "hf"
    cvkit_api.convert(manifest, out, to_format="hf", from_format="manifest", write_options={"shard_size": 1})
    names = sorted(p.name for p in (out / "data").iterdir())
    assert names == ["train-00000-of-00002.parquet", "train-00001-of-00002.parquet", "val-00000-of-00001.parquet"]
    rows = [pq.read_table(out / "data" / name).column("image_path").to_pylist() for name in names]
    assert rows == [["images/cat_01.jpg"], ["images/dog_02.png"], ["images/empty_03.jpg"]]


def test_a_missing_image_stops_the_export_naming_it_and_nothing_is_written(manifest, tmp_path):
    (manifest.parent / "images" / "dog_02.png").unlink()
    before = snapshot(tmp_path)
    for to in ("webdataset", "hf"):
        run = cvkit("export", manifest, tmp_path / f"out_{to}", "--to", to)
        assert_clean_error(run, names="dog_02.png")
    assert_nothing_written(before, tmp_path)


@pytest.mark.parametrize("options", [{"shard_size": 0}, {"shard_bytes": "lots"}, {"shard_size": "ten"}])
def test_bad_shard_limits_are_refused(manifest, tmp_path, options):
    with pytest.raises(CvkitError, match="shard_"):
        cvkit_api.convert(
            manifest, tmp_path / "out", to_format="webdataset", from_format="manifest", write_options=options
        )
    assert not (tmp_path / "out").exists()


def test_byte_sizes_read_as_users_write_them():
    assert parse_byte_size("500MB") == 500 * 10**6
    assert parse_byte_size("1GiB") == 2**30
    assert parse_byte_size("2e3") == 2000
    assert parse_byte_size(4096) == 4096


def test_webdataset_image_extension_of_a_tar_member(tmp_path):
    from cvkit.core.model import Sample
    from cvkit.core.training_shards import image_extension

    assert image_extension(Sample("n01440764.tar#n01440764_10026.JPEG")) == "jpeg"
    assert image_extension(Sample("a/b")) == "jpg"
