"""The Parquet manifest: the same records as JSON Lines, read by every manifest command and by pandas without cvkit."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

import cvkit
from conftest import CORPUS, corpus_path
from cvkit import manifest_parquet
from cvkit.cli import app
from cvkit.core.report import Report
from cvkit.errors import CvkitError, InvalidInputError
from cvkit.manifest import iter_records, manifest_shards, read_header, read_manifest
from cvkit.stats import dataset_stats
from cvkit.stats.options import ImbalanceOptions

pq = pytest.importorskip("pyarrow.parquet", reason="Parquet manifests need the parquet extra (pyarrow)")
runner = CliRunner()


def corpus_datasets() -> list[Path]:
    """Every dataset folder of the corpus (``<group>/<dataset>``); which ones cvkit reads is decided by detection."""
    root = corpus_path()
    return sorted(ds for group in root.iterdir() if group.is_dir() for ds in group.iterdir() if ds.is_dir())


def records(path: Path) -> list[dict]:
    return [rec for _, rec in iter_records(path)]


def test_whole_corpus_round_trips_jsonl_parquet_jsonl_with_the_same_records_and_stats(tmp_path):
    converted = []
    for number, dataset in enumerate(corpus_datasets()):
        try:
            cvkit.detect_format(dataset)
        except CvkitError:
            continue  # not a format cvkit reads (yet)
        jsonl, parquet, back = (tmp_path / f"{number}{suffix}" for suffix in (".jsonl", ".parquet", "_back.jsonl"))
        cvkit.convert(dataset, jsonl, to_format="manifest", skip_invalid=True)
        cvkit.convert(jsonl, parquet, to_format="parquet", from_format="manifest")
        cvkit.convert(parquet, back, to_format="manifest", from_format="manifest")
        name = str(dataset.relative_to(CORPUS))
        assert records(parquet) == records(jsonl), name
        assert records(back) == records(jsonl), name
        assert read_header(parquet) == read_header(jsonl), name
        # stats read Parquet column-wise and JSONL line by line: the same document
        assert dataset_stats(parquet, imbalance=ImbalanceOptions()) == dataset_stats(
            jsonl, imbalance=ImbalanceOptions()
        ), name
        converted.append(name)
    assert len(converted) >= 25, converted
    assert {
        "coco/coco_panoptic",
        "labelme_json/primitives",
        "lvis/lvis_api_val100_v0_5",
        "cifar/cifar100_dataset",
    } <= set(converted)


def test_pandas_reads_the_parquet_manifest_without_cvkit(tmp_path, corpus):
    pd = pytest.importorskip("pandas")
    jsonl, parquet = tmp_path / "m.jsonl", tmp_path / "m.parquet"
    cvkit.convert(corpus("coco", "coco_instances"), jsonl, to_format="manifest")
    cvkit.convert(jsonl, parquet, to_format="parquet", from_format="manifest")
    lines = [json.loads(line) for line in jsonl.read_text().splitlines()]
    frame = pd.read_parquet(parquet)
    assert list(frame["image"]) == [rec["image"] for rec in lines[1:]]
    assert list(frame["split"]) == [rec["split"] for rec in lines[1:]]
    for (_, row), rec in zip(frame.iterrows(), lines[1:], strict=True):
        assert [obj["label"] for obj in row["objects"]] == [obj["label"] for obj in rec["objects"]]
        boxes = [[obj["bbox"][k] for k in "xywh"] if obj["bbox"] is not None else None for obj in row["objects"]]
        assert boxes == [obj.get("bbox") for obj in rec["objects"]]
    header = json.loads(pq.read_metadata(parquet).metadata[b"cvkit.manifest"])
    assert header == lines[0]
    # docs/manifest.md's lines: one row per object, counted by label
    boxes = frame.explode("objects").dropna(subset=["objects"])
    labels = boxes["objects"].map(lambda obj: obj["label"]).value_counts()
    expected = Counter(obj["label"] for rec in lines[1:] for obj in rec["objects"])
    assert labels.to_dict() == dict(expected)


def test_ingest_and_every_manifest_command_take_parquet(tmp_path, corpus):
    voc = corpus("voc", "voc_dataset1")
    parquet = tmp_path / "voc.parquet"
    out = runner.invoke(app, ["ingest", str(voc), "-o", str(parquet), "--json"])
    assert out.exit_code == 0, out.output
    assert parquet.read_bytes()[:4] == b"PAR1" and cvkit.detect_format(parquet) == "parquet"
    jsonl = tmp_path / "voc.jsonl"
    assert runner.invoke(app, ["ingest", str(voc), "-o", str(jsonl)]).exit_code == 0
    stats = runner.invoke(app, ["stats", str(parquet), "--imbalance", "--json"])
    assert stats.exit_code == 0, stats.output
    assert json.loads(stats.stdout) == json.loads(
        runner.invoke(app, ["stats", str(jsonl), "--imbalance", "--json"]).stdout
    )
    validate = runner.invoke(app, ["validate", str(parquet), "--json", "--no-images"])
    assert json.loads(validate.stdout)["images"] == 2
    split = runner.invoke(app, ["split", str(parquet), "--ratios", "0.5,0.5", "-o", str(tmp_path / "split.parquet")])
    assert split.exit_code == 0, split.output
    assert sorted(rec["split"] for rec in records(tmp_path / "split.parquet")) == ["train", "val"]
    # the manifests lie in tmp_path and their images in the corpus: copying them needs --allow-outside-root
    refused = runner.invoke(app, ["export", str(parquet), str(tmp_path / "refused"), "--to", "yolo"])
    assert refused.exit_code == 2 and "--allow-outside-root" in refused.output
    assert not (tmp_path / "refused").exists()
    yolo = runner.invoke(app, ["export", str(parquet), str(tmp_path / "yolo"), "--to", "yolo", "--allow-outside-root"])
    assert yolo.exit_code == 0, yolo.output
    from_jsonl = runner.invoke(
        app, ["export", str(jsonl), str(tmp_path / "yolo2"), "--to", "yolo", "--allow-outside-root"]
    )
    assert from_jsonl.exit_code == 0, from_jsonl.output
    assert _tree(tmp_path / "yolo") == _tree(tmp_path / "yolo2")


def test_hierarchy_commands_read_and_write_parquet(tmp_path, corpus):
    cifar = corpus("cifar", "cifar100_dataset")
    # one folder each: CIFAR's pixels are extracted to c_images/ beside the manifest, which a second ingest beside
    # the first would find occupied; both manifests then name their images alike (c_images/...)
    jsonl, parquet = tmp_path / "jsonl" / "c.jsonl", tmp_path / "parquet" / "c.parquet"
    for path in (jsonl, parquet):
        assert runner.invoke(app, ["ingest", str(cifar), "-o", str(path)]).exit_code == 0
    shown = [runner.invoke(app, ["hierarchy", "show", str(path), "--json"]) for path in (jsonl, parquet)]
    assert shown[1].exit_code == 0, shown[1].output
    assert json.loads(shown[1].stdout) == json.loads(shown[0].stdout)
    coarse = [path.parent / f"coarse{path.suffix}" for path in (jsonl, parquet)]  # beside its source: same image paths
    for path, out in zip((jsonl, parquet), coarse):
        remapped = runner.invoke(app, ["remap", str(path), "-o", str(out), "--level", "coarse"])
        assert remapped.exit_code == 0, remapped.output
    assert records(coarse[1]) == records(coarse[0])


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file() and p.suffix != ".yaml"
    }


def test_row_groups_bound_what_a_reader_holds_and_become_shards(tmp_path, small, monkeypatch):
    monkeypatch.setattr(manifest_parquet, "ROW_GROUP_ROWS", 2)
    path = tmp_path / "m.parquet"
    cvkit.write(small, path, format="parquet")
    assert pq.ParquetFile(path).metadata.num_row_groups == 2  # 3 images, 2 a group
    dataset = read_manifest(path)
    shards = manifest_shards(path)
    assert [shard.size for shard in shards] == [2, 1]
    read = [s.path for shard in shards for s in shard.samples(dataset.categories, Report())]
    assert read == [s.path for s in read_manifest(path)]


def test_integer_and_string_ids_attributes_and_masks_come_back(tmp_path):
    header = {
        "type": "header",
        "schema": "cvkit.manifest",
        "version": 1,
        "categories": [{"id": 1, "name": "a", "parents": []}],
    }
    recs = [
        {
            "image": "x.jpg",
            "width": 4,
            "height": 3,
            "split": None,
            "labels": ["a"],
            "id": 7,
            "objects": [
                {
                    "label": "a",
                    "bbox": [0.5, 1.0, 2.0, 1.5],
                    "shape": "polygon",
                    "polygon": [[0, 0, 2, 0, 2, 2]],
                    "iscrowd": True,
                    "rle": {"size": [3, 4], "counts": [0, 5, 7]},
                    "attributes": {"difficult": False, "pose": "Left"},
                    "id": 3,
                    "group": 2,
                }
            ],
        },
        {
            "image": "y.jpg",
            "width": None,
            "height": None,
            "split": "val",
            "labels": [],
            "id": "y-1",
            "meta": {"coco": {"license": 1}},
            "objects": [{"label": "a", "keypoints": [1, 2, 2], "score": 0.25, "rle": {"size": [3, 4], "counts": "52"}}],
        },
    ]
    path = tmp_path / "m.parquet"
    with open(path, "wb") as handle:
        manifest_parquet.write_rows(recs, lambda: header, handle, path)
    assert records(path) == recs


def test_errors_name_the_file_and_row(tmp_path):
    plain = tmp_path / "plain.parquet"
    pq.write_table(_table({"a": [1]}), plain)  # a Parquet file, not a manifest
    with pytest.raises(InvalidInputError, match=r"no 'cvkit\.manifest' metadata") as info:
        read_header(plain)
    assert info.value.file == str(plain)
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"PAR1 not really")
    with pytest.raises(InvalidInputError, match="not a readable Parquet file"):
        read_header(broken)
    bad = tmp_path / "bad.parquet"
    header = {"type": "header", "schema": "cvkit.manifest", "version": 1, "categories": []}
    with pytest.raises(InvalidInputError) as info, open(bad, "wb") as handle:
        manifest_parquet.write_rows([{"image": "a.jpg", "width": "wide", "objects": []}], lambda: header, handle, bad)
    assert info.value.location == "row 1" and "a.jpg" in info.value.message
    out = runner.invoke(app, ["stats", str(plain)])
    assert out.exit_code == 2 and "plain.parquet" in out.output and "Traceback" not in out.output


def _table(columns: dict):
    import pyarrow as pa

    return pa.table(columns)


def test_ingest_refuses_other_suffixes(tmp_path, small):
    cvkit.write(small, tmp_path / "m.jsonl", format="manifest")
    out = runner.invoke(app, ["ingest", str(tmp_path / "m.jsonl"), "-o", str(tmp_path / "m.csv")])
    assert out.exit_code == 2 and ".parquet" in out.output
    assert not (tmp_path / "m.csv").exists()
