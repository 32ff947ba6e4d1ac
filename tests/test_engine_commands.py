"""The per-image heavy commands on the Ray engine give what the local engine gives: ``ingest -r sizes=true``,
``validate --deep``, ``augment --apply`` and ``stats`` on a Parquet manifest, each run by the CLI with the local
engine and with ``--engine ray --ray-address`` on the session's two-node cluster (tests/conftest.py), on the corpus
and on a 20,000-file tree; outputs byte for byte, reports (``--json``) equal. Ctrl-C during a run on the cluster
ends it with 130 and nothing written."""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # loopback only (see tests/ray_cluster.py)
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

import pytest

from conftest import corpus_path, make_image
from engine_cli import cli, cli_env, same_tree

ray = pytest.importorskip("ray", reason="the Ray engine is an optional extra: pip install 'cvkit[ray]'")

TREE_FILES = 20_000
#: files of the tree that are no image (a header that cannot be read) and JPEGs cut short (pixels that cannot be
#: decoded)
NOT_IMAGES = ("class2/img00002.jpg", "class6/img10006.jpg")
TRUNCATED = ("class4/img00014.jpg", "class8/img15008.jpg")


@pytest.fixture(scope="module")
def image_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A class-per-folder tree of 20,000 small images (20 contents of different sizes, PNG and JPEG, written over
    and over), two of them no image and two JPEGs cut short."""
    from PIL import Image

    blobs = []
    for i in range(20):
        buffer = io.BytesIO()
        kind = "PNG" if i % 2 else "JPEG"
        Image.new("RGB", (8 + i, 6 + 2 * i), (i * 12, 80, 200 - i * 5)).save(buffer, kind)
        blobs.append((buffer.getvalue(), ".png" if i % 2 else ".jpg"))
    root = tmp_path_factory.mktemp("tree") / "images"
    for c in range(10):
        (root / f"class{c}").mkdir(parents=True)
    for n in range(TREE_FILES):
        data, suffix = blobs[n % 20]
        (root / f"class{n % 10}" / f"img{n:05d}{suffix}").write_bytes(data)
    for rel in NOT_IMAGES:
        (root / rel).write_bytes(b"not an image at all")
    for rel in TRUNCATED:
        (root / rel).write_bytes(blobs[0][0][:-40])
    return root


def both(
    cluster: str, args: Callable[[str], list[object]], env: dict[str, str] | None = None
) -> tuple[subprocess.CompletedProcess, ...]:
    """The command ``args(engine)`` run on the local engine and on the cluster; the cluster really ran tasks."""
    local = cli(*args("local"), env=env)
    on_ray = cli(*args("ray"), "--engine", "ray", "--ray-address", cluster, env=env)
    assert local.returncode in (0, 1), local.stderr
    assert on_ray.returncode == local.returncode, on_ray.stderr
    assert re.search(r"engine ray: [1-9]\d* task\(s\) ran on the cluster", on_ray.stderr), on_ray.stderr
    return local, on_ray


def same_json(local: subprocess.CompletedProcess, on_ray: subprocess.CompletedProcess) -> dict:
    doc = json.loads(local.stdout)
    assert json.loads(on_ray.stdout) == doc
    return doc


# --- ingest -r sizes=true -----------------------------------------------------------------------------------------

SIZE_CASES = ["imagenet/imagenet_subsets_dataset", "imagenet_txt/basic"]


@pytest.mark.parametrize("dataset", SIZE_CASES)
def test_ingest_with_sizes_on_ray_is_the_local_manifest(ray_cluster, tmp_path, dataset):
    source = corpus_path(*dataset.split("/"))
    local, on_ray = both(
        ray_cluster,
        lambda engine: ["ingest", source, "-o", tmp_path / engine / "m.jsonl", "-r", "sizes=true", "--json"],
    )
    same_json(local, on_ray)
    same_tree(tmp_path / "local", tmp_path / "ray")
    records = [json.loads(line) for line in (tmp_path / "ray" / "m.jsonl").read_text().splitlines()[1:]]
    assert records and any(r.get("width") for r in records)


def test_ingest_with_sizes_of_a_20k_tree_on_ray(ray_cluster, image_tree, tmp_path):
    local, on_ray = both(
        ray_cluster,
        lambda engine: [
            "ingest", image_tree, "-o", tmp_path / engine / "m.jsonl", "-r", "sizes=true", "--skip-invalid", "--json",
        ],
    )  # fmt: skip
    same_json(local, on_ray)
    same_tree(tmp_path / "local", tmp_path / "ray")
    records = {
        r["image"].split("images/", 1)[1]: (r.get("width"), r.get("height"))
        for r in map(json.loads, (tmp_path / "ray" / "m.jsonl").read_text().splitlines()[1:])
    }
    assert len(records) == TREE_FILES
    assert records["class2/img00012.jpg"] == (8 + 12, 6 + 24)  # the header's size, from a worker
    assert records["class3/img00013.png"] == (8 + 13, 6 + 26)
    skipped = (tmp_path / "ray" / "m.jsonl.skipped.jsonl").read_text()
    assert all(rel in skipped for rel in NOT_IMAGES)


# --- validate --deep ----------------------------------------------------------------------------------------------

VALIDATE_CASES = ["voc/voc_dataset1", "coco/coco_instances", "labelme_json/instance_segmentation"]


@pytest.mark.parametrize("dataset", VALIDATE_CASES)
def test_validate_deep_on_ray_finds_what_the_local_engine_finds(ray_cluster, dataset):
    source = corpus_path(*dataset.split("/"))
    same_json(*both(ray_cluster, lambda _engine: ["validate", source, "--deep", "--json", "--examples", "1000"]))


def test_a_pixel_limit_set_for_the_driver_holds_on_the_cluster(ray_cluster, tmp_path):
    for n in range(6):
        make_image(tmp_path / "tree" / f"class{n % 2}" / f"img{n}.png", 20 + 20 * n, 40)  # 800 .. 4,800 pixels
    run = lambda _engine: ["validate", tmp_path / "tree", "--deep", "--json"]  # noqa: E731
    doc = same_json(*both(ray_cluster, run, env={"CVKIT_MAX_PIXELS": "2000"}))
    refused = doc["checks"]["unreadable_image"]
    assert refused["count"] == 4 and "CVKIT_MAX_PIXELS" in json.dumps(refused)  # on the workers too


def test_validate_deep_of_a_20k_tree_on_ray_names_the_broken_images(ray_cluster, image_tree):
    local, on_ray = both(ray_cluster, lambda _engine: ["validate", image_tree, "--deep", "--json", "--examples", "50"])
    doc = same_json(local, on_ray)
    assert doc["images"] == TREE_FILES
    text = json.dumps(doc)
    for rel in NOT_IMAGES + TRUNCATED:
        assert rel in text
    assert "pixels cannot be decoded" in text  # the truncated JPEGs' headers read; decoding them fails


# --- augment --apply ----------------------------------------------------------------------------------------------

AUGMENT_CASES = [["--copies", "3"], ["--oversample-rare", "--target", "6"]]


@pytest.mark.parametrize("options", AUGMENT_CASES, ids=["copies", "oversample"])
def test_augment_apply_on_ray_writes_the_local_copies(ray_cluster, tmp_path, options):
    source = corpus_path("coco", "coco_instances")
    local, on_ray = both(
        ray_cluster,
        lambda engine: [
            "augment", source, "--apply", "-o", tmp_path / engine, "--preset", "detection", "--seed", "5",
            "--device", "cpu", "--json", *options,
        ],
    )  # fmt: skip
    local_doc, ray_doc = json.loads(local.stdout), json.loads(on_ray.stdout)
    for doc in (local_doc, ray_doc):
        doc.pop("output"), doc.pop("manifest")
    assert ray_doc == local_doc and local_doc["copies"] > 0
    same_tree(tmp_path / "local", tmp_path / "ray")


# --- convert / export --images copy ------------------------------------------------------------------------------


def test_export_with_images_copied_on_ray_is_the_local_tree(ray_cluster, tmp_path):
    manifest = tmp_path / "m.jsonl"
    ingest = cli("ingest", corpus_path("coco", "coco_instances"), "-o", manifest)
    assert ingest.returncode == 0, ingest.stderr
    local, on_ray = both(
        ray_cluster,
        lambda engine: [
            "export",
            manifest,
            tmp_path / engine,
            "--to",
            "voc",
            "--images",
            "copy",
            "--allow-outside-root",
            "--json",
        ],
    )
    same_json(local, on_ray)
    same_tree(tmp_path / "local", tmp_path / "ray")
    assert any(p.suffix == ".jpg" for p in (tmp_path / "ray").rglob("*"))  # the images came along


# --- stats on a Parquet manifest ----------------------------------------------------------------------------------


def parquet_manifest(source: Path, path: Path, rows_per_group: int, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``source`` ingested into a Parquet manifest of many row groups (the engine's shards)."""
    import cvkit.manifest_parquet
    from cvkit.api import convert

    monkeypatch.setattr(cvkit.manifest_parquet, "ROW_GROUP_ROWS", rows_per_group)
    convert(source, path, to_format="parquet", skip_invalid=True)
    assert len(cvkit.manifest_parquet.row_group_sizes(path)) > 4
    return path


@pytest.mark.parametrize(("dataset", "rows"), [("lvis/lvis_api_val100_v0_5", 7), ("tree", 1000)])
def test_stats_of_a_parquet_manifest_on_ray_are_the_local_stats(
    ray_cluster, image_tree, tmp_path, monkeypatch, dataset, rows
):
    source = image_tree if dataset == "tree" else corpus_path(*dataset.split("/"))
    manifest = parquet_manifest(source, tmp_path / "m.parquet", rows, monkeypatch)
    doc = same_json(*both(ray_cluster, lambda _engine: ["stats", manifest, "--imbalance", "--json"]))
    assert doc["images"] == (TREE_FILES if dataset == "tree" else 100)


# --- Ctrl-C -------------------------------------------------------------------------------------------------------


def test_ctrl_c_on_ray_cancels_the_run_and_writes_nothing(ray_cluster, image_tree, tmp_path):
    parent = tmp_path / "out"
    parent.mkdir()
    command = [sys.executable, "-m", "cvkit", "augment", str(image_tree), "--apply", "-o", str(parent / "aug")]
    command += ["--copies", "3", "--device", "cpu", "--engine", "ray", "--ray-address", ray_cluster]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli_env())
    deadline = time.monotonic() + 120
    while not any(parent.iterdir()) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)  # the output's temporary folder appears once the copies are being made
    assert process.poll() is None, process.communicate()
    time.sleep(2)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert list(parent.iterdir()) == []  # nothing partial: no output, no temporary folder
    if not ray.is_initialized():
        ray.init(address=ray_cluster, log_to_driver=False)
    deadline = time.monotonic() + 60
    while ray.available_resources().get("CPU", 0) < 2 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert ray.available_resources().get("CPU", 0) == 2  # no task of the run still holds a CPU of the cluster
