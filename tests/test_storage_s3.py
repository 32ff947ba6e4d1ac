"""Sources and destinations in object storage (``s3://``), against a local S3 server (moto's server mode on
127.0.0.1, started and stopped here). Objects are put and read back with boto3, not through cvkit or fsspec; the
local engine's output on the same files is the oracle for what a URL run must give."""

from __future__ import annotations

import json
import logging
import os
import socket
import time
import uuid
from pathlib import Path

import pytest

from conftest import corpus_path
from engine_cli import cli

boto3 = pytest.importorskip("boto3", reason="the cloud extra's S3 client: pip install 'cvkit[cloud]'")
pytest.importorskip("s3fs", reason="s3:// URLs need s3fs: pip install 'cvkit[cloud]'")
moto_server = pytest.importorskip("moto.server", reason="the local S3 server: pip install 'moto[server]'")


VOC = ("voc", "voc_dataset1")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def s3_endpoint():
    """A moto S3 server on 127.0.0.1, reached by cvkit (in subprocesses) through the usual AWS environment."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    port = _free_port()
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    with pytest.MonkeyPatch.context() as env:
        for key, value in {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }.items():
            env.setenv(key, value)
        env.delenv("AWS_PROFILE", raising=False)
        try:
            yield endpoint
        finally:
            server.stop()


@pytest.fixture
def bucket(s3_endpoint):
    """A fresh bucket: ``(name, boto3 client)``."""
    client = boto3.client("s3", endpoint_url=s3_endpoint)
    name = f"cvkit-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=name)
    return name, client


def upload_tree(client, bucket: str, root: Path, prefix: str) -> None:
    for path in sorted(root.rglob("*")):
        if path.is_file():
            client.upload_file(str(path), bucket, f"{prefix}/{path.relative_to(root).as_posix()}")


def keys(client, bucket: str, prefix: str = "") -> list[str]:
    found: list[str] = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        found.extend(obj["Key"] for obj in page.get("Contents", []))
    return sorted(found)


def download_prefix(client, bucket: str, prefix: str, target: Path) -> None:
    for key in keys(client, bucket, prefix + "/"):
        path = target / key[len(prefix) + 1 :]
        path.parent.mkdir(parents=True, exist_ok=True)
        client.download_file(bucket, key, str(path))


@pytest.fixture
def voc_bucket(bucket):
    """The corpus VOC sample at ``s3://<bucket>/voc``."""
    name, client = bucket
    upload_tree(client, name, corpus_path(*VOC), "voc")
    return name, client


def same_tree(a: Path, b: Path, replaced: tuple[str, str] = ("", "")) -> None:
    """``b`` holds ``a``'s files with ``a``'s bytes, with ``replaced[0]`` written as ``replaced[1]`` (the source's
    path, which an output such as COCO's ``info.image_root`` records, and a URL source's output records as its URL)."""
    files_a = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert files_a == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    old, new = (text.encode() for text in replaced)
    for rel in files_a:
        expected = (a / rel).read_bytes()
        assert (b / rel).read_bytes() == (expected.replace(old, new) if old else expected), rel


def refused(result, url: str) -> str:
    """The one-line error of a refused run, which names ``url``."""
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and url in lines[0], result.stderr
    return lines[0]


# --- sources and destinations ------------------------------------------------------------------
def test_convert_from_s3_gives_the_local_bytes(voc_bucket, tmp_path):
    name, _ = voc_bucket
    local = cli("convert", "voc2coco", corpus_path(*VOC), tmp_path / "local")
    assert local.returncode == 0, local.stderr
    remote = cli("convert", "voc2coco", f"s3://{name}/voc", tmp_path / "from_s3")
    assert remote.returncode == 0, remote.stderr
    same_tree(tmp_path / "local", tmp_path / "from_s3", (os.path.realpath(corpus_path(*VOC)), f"s3://{name}/voc"))


def test_convert_to_s3_uploads_the_local_bytes(bucket, tmp_path):
    name, client = bucket
    local = cli("convert", "voc2coco", corpus_path(*VOC), tmp_path / "local")
    assert local.returncode == 0, local.stderr
    remote = cli("convert", "voc2coco", corpus_path(*VOC), f"s3://{name}/out/coco")
    assert remote.returncode == 0, remote.stderr
    download_prefix(client, name, "out/coco", tmp_path / "back")
    same_tree(tmp_path / "local", tmp_path / "back")
    written = (tmp_path / "local").rglob("*")
    assert keys(client, name) == sorted(f"out/coco/{p.relative_to(tmp_path / 'local').as_posix()}" for p in written
                                        if p.is_file())  # fmt: skip


def test_ingest_and_export_webdataset_in_the_bucket(voc_bucket, tmp_path):
    """``ingest s3://b/voc -o s3://b/m.parquet``: the manifest's image paths lead to the images in the bucket;
    ``export s3://b/m.parquet --to webdataset s3://b/wds``: shards the webdataset library reads, holding the images'
    own bytes."""
    import pyarrow.parquet as pq
    import webdataset as wds

    name, client = voc_bucket
    result = cli("ingest", f"s3://{name}/voc", "-o", f"s3://{name}/m.parquet")
    assert result.returncode == 0, result.stderr
    client.download_file(name, "m.parquet", str(tmp_path / "m.parquet"))
    images = pq.read_table(tmp_path / "m.parquet", columns=["image"]).column("image").to_pylist()
    in_bucket = set(keys(client, name, "voc/"))
    assert images and all(image in in_bucket for image in images)  # relative to the manifest: the bucket's root

    result = cli("export", f"s3://{name}/m.parquet", f"s3://{name}/wds", "--to", "webdataset")
    assert result.returncode == 0, result.stderr
    download_prefix(client, name, "wds", tmp_path / "wds")
    shards = sorted(str(p) for p in (tmp_path / "wds").glob("*.tar"))
    assert shards and (tmp_path / "wds" / "classes.txt").is_file()
    read_back: dict[str, bytes] = {}
    for sample in wds.WebDataset(shards, shardshuffle=False, empty_check=False):
        record = json.loads(sample["json"])
        image_key = next(k for k in sample if k not in ("json", "cls", "__key__", "__url__", "__local_path__"))
        read_back[record["image"]] = sample[image_key]
    expected = {image: (corpus_path(*VOC) / image.removeprefix("voc/")).read_bytes() for image in images}
    assert read_back == expected


def test_parquet_manifest_from_s3_to_local_is_refused_not_left_pointing_at_staging(voc_bucket, tmp_path):
    name, _ = voc_bucket
    result = cli("ingest", f"s3://{name}/voc", "-o", tmp_path / "m.parquet")
    assert "records where its images are" in refused(result, str(tmp_path / "m.parquet"))
    assert not (tmp_path / "m.parquet").exists()


# --- refusals, nothing partial ---------------------------------------------------------------
@pytest.mark.parametrize("key", ["evil/../escape.xml", "evil//double.xml", "evil/back\\slash.xml"])
def test_keys_that_are_not_plain_relative_names_are_refused(bucket, tmp_path, key):
    name, client = bucket
    upload_tree(client, name, corpus_path(*VOC), "evil")
    client.put_object(Bucket=name, Key=key, Body=b"<annotation/>")
    before = keys(client, name)
    result = cli("ingest", f"s3://{name}/evil", "-o", f"s3://{name}/e.parquet")
    assert "plain relative names" in refused(result, f"s3://{name}/evil")
    assert keys(client, name) == before


def test_a_destination_inside_or_holding_the_source_is_refused(voc_bucket):
    name, client = voc_bucket
    before = keys(client, name)
    inside = cli("convert", "voc2coco", f"s3://{name}/voc", f"s3://{name}/voc/coco")
    assert "inside the source" in refused(inside, f"s3://{name}/voc/coco")
    holding = cli("convert", "voc2coco", f"s3://{name}/voc", f"s3://{name}", "--overwrite")
    assert "holds the source" in refused(holding, f"s3://{name}")
    assert keys(client, name) == before


def test_an_existing_destination_needs_overwrite_which_replaces_it_whole(voc_bucket, tmp_path):
    name, client = voc_bucket
    client.put_object(Bucket=name, Key="coco/stale.json", Body=b"{}")
    first = cli("convert", "voc2coco", f"s3://{name}/voc", f"s3://{name}/coco")
    assert "--overwrite" in refused(first, f"s3://{name}/coco")
    assert keys(client, name, "coco/") == ["coco/stale.json"]
    second = cli("convert", "voc2coco", f"s3://{name}/voc", f"s3://{name}/coco", "--overwrite")
    assert second.returncode == 0, second.stderr
    written = keys(client, name, "coco/")
    assert "coco/stale.json" not in written and any(k.endswith(".json") for k in written)


def test_a_malformed_source_names_its_url_and_writes_nothing(bucket):
    name, client = bucket
    upload_tree(client, name, corpus_path(*VOC), "voc")
    client.put_object(Bucket=name, Key="voc/Annotations/2007_000001.xml", Body=b"<annotation><object>")
    before = keys(client, name)
    result = cli("convert", "voc2coco", f"s3://{name}/voc", f"s3://{name}/coco")
    line = refused(result, f"s3://{name}/voc/Annotations/2007_000001.xml")
    assert "staging" not in line
    assert keys(client, name) == before


def test_a_failed_upload_removes_what_it_uploaded_and_manifests_go_last(voc_bucket, monkeypatch):
    """In-process: the second upload batch fails; the first batch's keys are deleted again. The batches run data
    first, the manifest last."""
    import s3fs

    from cvkit.api import convert
    from cvkit.errors import CvkitError

    name, client = voc_bucket
    batches: list[list[str]] = []
    real_put = s3fs.S3FileSystem._put

    async def recording_put(self, lpath, rpath, *args, **kwargs):
        batches.append(list(rpath))
        return await real_put(self, lpath, rpath, *args, **kwargs)

    monkeypatch.setattr(s3fs.S3FileSystem, "_put", recording_put)
    convert(f"s3://{name}/voc", f"s3://{name}/m.parquet", "parquet", "voc")
    assert batches[-1] == [f"{name}/m.parquet"]
    batches.clear()
    convert(f"s3://{name}/voc", f"s3://{name}/wds", "webdataset", "voc")
    assert [Path(k).suffix for k in batches[0]] == [".tar"] * len(batches[0])
    assert batches[-1] == [f"{name}/wds/classes.txt"]

    async def failing_put(self, lpath, rpath, *args, **kwargs):
        if batches:
            raise OSError("connection reset")
        batches.append(list(rpath))
        return await real_put(self, lpath, rpath, *args, **kwargs)

    batches.clear()
    monkeypatch.setattr(s3fs.S3FileSystem, "_put", failing_put)
    with pytest.raises(CvkitError, match="connection reset") as caught:
        convert(f"s3://{name}/voc", f"s3://{name}/wds2", "webdataset", "voc")
    assert caught.value.file == f"s3://{name}/wds2"
    assert batches and keys(client, name, "wds2") == []


def test_ctrl_c_during_an_upload_stops_it_and_leaves_no_key(voc_bucket, monkeypatch):
    """In-process: Ctrl-C arrives while a batch is half uploaded (one image put, the rest still to go): the transfer
    is stopped, not left running on fsspec's thread, and the image already put is deleted."""
    import asyncio
    import signal

    import s3fs

    from cvkit.api import convert

    name, client = voc_bucket
    real_put = s3fs.S3FileSystem._put

    async def interrupted_put(self, lpath, rpath, *args, **kwargs):
        await real_put(self, lpath[:1], rpath[:1])
        under_way = [(key, Path(path).read_bytes()) for path, key in zip(lpath[1:], rpath[1:])]  # files held open
        os.kill(os.getpid(), signal.SIGINT)
        await asyncio.sleep(2)
        for key, data in under_way:
            await self._pipe_file(key, data)

    monkeypatch.setattr(s3fs.S3FileSystem, "_put", interrupted_put)
    with pytest.raises(KeyboardInterrupt):
        convert(f"s3://{name}/voc", f"s3://{name}/coco", "coco", "voc", write_options={"images": "copy"})
    time.sleep(3)  # what a transfer left running would have put by now
    assert keys(client, name, "coco") == []


def test_ctrl_c_during_a_download_leaves_no_staging_folder(voc_bucket, monkeypatch, tmp_path):
    """In-process: Ctrl-C while the source is half downloaded; the transfers still under way are stopped before the
    staging folder is removed, so nothing is written there afterwards."""
    import asyncio
    import signal

    import s3fs

    from cvkit.api import convert

    name, _ = voc_bucket
    real_get = s3fs.S3FileSystem._get

    async def interrupted_get(self, rpath, lpath, *args, **kwargs):
        await real_get(self, rpath[:1], lpath[:1])
        os.kill(os.getpid(), signal.SIGINT)
        await asyncio.sleep(2)
        for path in lpath[1:]:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            Path(path).write_bytes(b"late")

    monkeypatch.setattr(s3fs.S3FileSystem, "_get", interrupted_get)
    monkeypatch.setenv("CVKIT_STAGING_DIR", str(tmp_path / "staging"))
    with pytest.raises(KeyboardInterrupt):
        convert(f"s3://{name}/voc", tmp_path / "out", "coco", "voc")
    time.sleep(3)  # what a transfer left running would have written by now
    assert list((tmp_path / "staging").iterdir()) == [] and not (tmp_path / "out").exists()


def test_local_paths_refuse_storage_options(tmp_path):
    result = cli("convert", "voc2coco", corpus_path(*VOC), tmp_path / "out", "-r", "storage.anon=true")
    assert result.returncode == 2 and "storage.* options" in result.stderr
    assert not (tmp_path / "out").exists()


def test_storage_options_reach_fsspec(voc_bucket, tmp_path, s3_endpoint):
    """``-r storage.endpoint_url=...`` wins over the environment's endpoint (here: a closed port, so the run only
    works because the option reached s3fs)."""
    name, _ = voc_bucket
    env = {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{_free_port()}"}
    result = cli(
        "convert",
        "voc2coco",
        f"s3://{name}/voc",
        tmp_path / "out",
        "-r",
        f"storage.endpoint_url={s3_endpoint}",
        env=env,
    )
    assert result.returncode == 0, result.stderr


# --- Ray ---------------------------------------------------------------------------------------
def test_ray_engine_on_a_staged_source_gives_the_local_bytes(voc_bucket, ray_cluster, tmp_path):
    """The driver stages the source; Ray's workers read the staged files (on one machine they see its disk)."""
    name, _ = voc_bucket
    local = cli("convert", "voc2coco", corpus_path(*VOC), tmp_path / "local")
    assert local.returncode == 0, local.stderr
    on_ray = cli(
        "convert", "voc2coco", f"s3://{name}/voc", tmp_path / "ray", "--engine", "ray", "--ray-address", ray_cluster
    )
    assert on_ray.returncode == 0, on_ray.stderr
    assert "task(s) ran on the cluster" in on_ray.stderr
    same_tree(tmp_path / "local", tmp_path / "ray", (os.path.realpath(corpus_path(*VOC)), f"s3://{name}/voc"))


def test_image_paths_that_would_lead_nowhere_are_refused_and_copies_are_not(voc_bucket, tmp_path):
    """LabelMe's ``imagePath`` is relative to its JSON: from a bucket to this machine's disk, or from the (deleted)
    staging folder, it would lead nowhere; with ``--images copy`` the images travel with the output."""
    name, client = voc_bucket
    before = keys(client, name)
    to_local = cli("convert", f"s3://{name}/voc", tmp_path / "labelme", "--from", "voc", "--to", "labelme")
    assert "staging folder" in refused(to_local, str(tmp_path / "labelme"))
    to_bucket = cli("convert", corpus_path(*VOC), f"s3://{name}/labelme", "--from", "voc", "--to", "labelme")
    assert "this machine's disk" in refused(to_bucket, f"s3://{name}/labelme")
    assert not (tmp_path / "labelme").exists() and keys(client, name) == before

    copied = cli(
        "convert", f"s3://{name}/voc", tmp_path / "labelme", "--from", "voc", "--to", "labelme", "--images", "copy"
    )
    assert copied.returncode == 0, copied.stderr
    for label_file in (tmp_path / "labelme").rglob("*.json"):
        image = label_file.parent / json.loads(label_file.read_text())["imagePath"]
        assert image.is_file() and image.resolve().is_relative_to((tmp_path / "labelme").resolve())


def test_too_many_objects_and_an_object_that_is_also_a_folder_are_refused(voc_bucket, tmp_path):
    name, client = voc_bucket
    count = len(keys(client, name, "voc/"))
    many = cli("convert", "voc2coco", f"s3://{name}/voc", tmp_path / "a", "-r", f"storage.max_files={count - 1}")
    assert f"more than {count - 1} objects" in refused(many, f"s3://{name}/voc")
    client.put_object(Bucket=name, Key="voc/JPEGImages", Body=b"not a folder")
    clash = cli("convert", "voc2coco", f"s3://{name}/voc", tmp_path / "b")
    assert "both an object and a folder" in refused(clash, f"s3://{name}/voc")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_a_missing_source_names_its_url(bucket, tmp_path):
    name, _ = bucket
    for url in (f"s3://{name}/nothing-here", f"s3://{name}-missing/voc"):
        result = cli("convert", "voc2coco", url, tmp_path / "out")
        assert "not found" in refused(result, url)
    assert not (tmp_path / "out").exists()


def test_extracted_images_travel_beside_the_output_and_other_keys_stay(bucket, tmp_path):
    """CIFAR holds pixels: the read extracts them to ``<dst>_images/`` beside the output, which is uploaded with it
    (the same files a local run writes). Keys that were beside an output before are never taken for its own."""
    name, client = bucket
    upload_tree(client, name, corpus_path("cifar", "cifar10_dataset"), "cifar")
    local = cli(
        "convert", corpus_path("cifar", "cifar10_dataset"), tmp_path / "coco", "--from", "cifar", "--to", "coco"
    )
    assert local.returncode == 0, local.stderr
    remote = cli("convert", f"s3://{name}/cifar", f"s3://{name}/coco", "--from", "cifar", "--to", "coco")
    assert remote.returncode == 0, remote.stderr
    download_prefix(client, name, "coco_images", tmp_path / "back_images")
    same_tree(tmp_path / "coco_images", tmp_path / "back_images")

    client.put_object(Bucket=name, Key="voc_out_images/keep.txt", Body=b"not cvkit's")
    upload_tree(client, name, corpus_path(*VOC), "voc")
    for _ in range(2):
        again = cli("convert", "voc2coco", f"s3://{name}/voc", f"s3://{name}/voc_out", "--overwrite")
        assert again.returncode == 0, again.stderr
    assert keys(client, name, "voc_out_images/") == ["voc_out_images/keep.txt"]
    client.put_object(Bucket=name, Key="fresh_images/keep.txt", Body=b"not cvkit's")
    taken = cli("convert", f"s3://{name}/cifar", f"s3://{name}/fresh", "--from", "cifar", "--to", "coco")
    assert "extracted images' folder exists" in refused(taken, f"s3://{name}/fresh_images")
    assert keys(client, name, "fresh") == ["fresh_images/keep.txt"]


def test_skipped_items_name_their_urls(bucket, tmp_path):
    name, client = bucket
    upload_tree(client, name, corpus_path(*VOC), "voc")
    client.put_object(Bucket=name, Key="voc/Annotations/2007_000001.xml", Body=b"<annotation><object>")
    result = cli("convert", "voc2coco", f"s3://{name}/voc", tmp_path / "coco", "--skip-invalid", "--json")
    assert result.returncode == 0, result.stderr
    bad = f"s3://{name}/voc/Annotations/2007_000001.xml"
    assert [item["file"] for item in json.loads(result.stdout)["skipped"]] == [bad]
    written = [json.loads(line) for line in (tmp_path / "coco.skipped.jsonl").read_text().splitlines()]
    assert [item["file"] for item in written] == [bad]
