"""Object storage staging (issue 17): ``cvkit convert voc2coco`` of an N-file VOC tree to and from a local S3 server.

Usage: python benchmarks/storage_s3.py [--files 2000]

The server is moto's (a Python mock of S3 on 127.0.0.1, in this process): it, not cvkit, bounds the throughput, so
the figures measure cvkit's own cost (its CPU seconds) and the shape of a run, not S3's speed. The peer is what a
user does by hand: ``s3fs`` downloads the prefix (``fs.get(..., recursive=True)``), then a local ``cvkit convert``.
"""

from __future__ import annotations

import argparse
import logging
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
XML = (
    "<annotation><filename>{name}.jpg</filename><size><width>32</width><height>24</height><depth>3</depth></size>"
    "<object><name>cat</name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>20</xmax><ymax>20</ymax></bndbox></object>"
    "</annotation>"
)


def voc_tree(root: Path, files: int) -> list[Path]:
    """A VOC tree of ``files`` annotations and small JPEGs; returns every file."""
    from PIL import Image

    for sub in ("Annotations", "JPEGImages", "ImageSets/Main"):
        (root / sub).mkdir(parents=True)
    names = [f"img{i:06d}" for i in range(files)]
    Image.new("RGB", (32, 24), (1, 2, 3)).save(root / "JPEGImages" / f"{names[0]}.jpg")
    jpeg = (root / "JPEGImages" / f"{names[0]}.jpg").read_bytes()
    for name in names:
        (root / "JPEGImages" / f"{name}.jpg").write_bytes(jpeg)
        (root / "Annotations" / f"{name}.xml").write_text(XML.format(name=name))
    (root / "ImageSets" / "Main" / "train.txt").write_text("\n".join(names) + "\n")
    return [p for p in root.rglob("*") if p.is_file()]


def timed(label: str, command: list[str], env: dict[str, str]) -> float:
    """Run ``command``; print its wall time and the CPU seconds of its process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    if result.returncode:
        raise SystemExit(f"{label} failed: {result.stderr}")
    print(f"{label:44s} wall {wall:7.2f} s   its CPU {cpu:6.2f} s")
    return wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=2000, help="annotations (and as many images) in the tree")
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    import boto3
    import s3fs
    from moto.server import ThreadedMotoServer

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    aws = {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench"}
    os.environ.update(aws | {"AWS_DEFAULT_REGION": "us-east-1"})
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    work = Path(tempfile.mkdtemp(prefix="cvkit-bench-s3-"))
    try:
        client = boto3.client("s3")
        client.create_bucket(Bucket="bench")
        files = voc_tree(work / "voc", args.files)
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(lambda p: client.upload_file(str(p), "bench", f"voc/{p.relative_to(work / 'voc')}"), files))
        print(f"{args.files} annotations, {len(files)} objects; server: moto on 127.0.0.1 (in this process)")
        cvkit = [sys.executable, "-m", "cvkit", "convert", "voc2coco"]
        local = timed("local -> local", [*cvkit, str(work / "voc"), str(work / "a"), "--images", "copy"], env)
        start = time.perf_counter()
        s3fs.S3FileSystem().get("bench/voc", str(work / "fetched"), recursive=True)
        fetched = time.perf_counter() - start
        print(f"{'peer: s3fs get of the prefix':44s} wall {fetched:7.2f} s")
        peer_convert = [*cvkit, str(work / "fetched"), str(work / "b"), "--images", "copy"]
        peer = fetched + timed("peer: then local -> local", peer_convert, env)
        down = timed("s3 -> local (cvkit stages)", [*cvkit, "s3://bench/voc", str(work / "c"), "--images", "copy"], env)
        up = timed("local -> s3", [*cvkit, str(work / "voc"), "s3://bench/out1", "--images", "copy"], env)
        both = timed("s3 -> s3 (one bucket)", [*cvkit, "s3://bench/voc", "s3://bench/out2", "--images", "copy"], env)
        print(
            f"ratios: s3->local {down / peer:.2f}x the peer's download+convert; vs local->local: s3->local "
            f"{down / local:.1f}x, local->s3 {up / local:.1f}x, s3->s3 {both / local:.1f}x"
        )
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
