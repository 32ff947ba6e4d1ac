"""Benchmark: ``cvkit view`` on a generated manifest (default 1,000,000 images, 10,000,000 boxes).

Generates the manifest (``stats_imbalance.generate_manifest``: 80 classes, counts falling like 1/rank, 640x480
images, every tenth image in ``val``) when absent, then in one process, as ``cvkit view`` runs:

- opens it twice (``ViewIndex.open``): the first builds the index on a worker process (the statistics' manifest
  fast path plus the record offsets) and stores it, the second maps the stored one,
- starts the server on 127.0.0.1 and times over HTTP the first page (``/api/meta`` + ``/api/samples``) and
  ``/api/stats``, then filter queries (each the first page of its result) and their statistics,
- reports the process's peak resident memory (and the resident memory at the end: its own, and the memory-mapped
  index's file pages).

``--parquet`` views the same manifest written as Parquet (made once from the JSONL one, streaming).

Thumbnails are not part of it (the generated manifest has no image files); their cost is per image shown.
Goals (issue 20): first page < 2 s, filters < 300 ms, server memory < 1 GB.

Run: ``PYTHONPATH=src python benchmarks/view.py [--images 1000000] [--objects 10000000]``
"""

from __future__ import annotations

import argparse
import http.client
import resource
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import WORK
from stats_imbalance import generate_manifest

FILTERS = [
    "has=class_05",
    "lacks=class_00",
    "size=small",
    "has=class_79&size=large",
    "split=val&min_objects=12",
    "min_objects=3&max_objects=5&has=class_10",
    "lacks=class_00&lacks=class_01&split=train",
]


def get(port: int, path: str) -> tuple[float, int]:
    """Seconds and bytes of one GET."""
    start = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    connection.request("GET", path)
    response = connection.getresponse()
    body = response.read()
    connection.close()
    if response.status != 200:
        raise RuntimeError(f"{path}: {response.status} {body[:200]!r}")
    return time.perf_counter() - start, len(body)


def write_parquet_copy(manifest: Path, parquet: Path) -> None:
    """The JSONL manifest as a Parquet manifest, streamed (row groups of the writer's default size)."""
    from cvkit.manifest import iter_records, read_header
    from cvkit.manifest_parquet import write_rows

    print(f"writing {parquet} ...", flush=True)
    start = time.perf_counter()
    header = read_header(manifest)
    partial = parquet.with_suffix(".parquet.partial")
    with open(partial, "wb") as handle:
        write_rows((record for _, record in iter_records(manifest)), lambda: header, handle, parquet)
    partial.replace(parquet)
    print(f"written in {time.perf_counter() - start:.1f} s ({parquet.stat().st_size / 1e6:.0f} MB)", flush=True)


def resident_now() -> str:
    """The process's resident memory now, split into anonymous (its own) and file-backed (the mapped index, clean
    pages the kernel may drop) as Linux reports them."""
    try:
        fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    except OSError:
        return "unknown"
    return ", ".join(
        f"{key} {int(fields[key].split()[0]) / 1024:.0f} MB" for key in ("RssAnon", "RssFile") if key in fields
    )


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1_000_000)
    parser.add_argument("--objects", type=int, default=10_000_000)
    parser.add_argument("--parquet", action="store_true", help="View the same manifest written as Parquet.")
    parser.add_argument("--generate-only", action="store_true", help="Write the manifests and stop.")
    args = parser.parse_args()
    manifest = WORK / f"view_{args.images}_{args.objects}.jsonl"
    if not manifest.exists():
        print(f"generating {manifest} ...", flush=True)
        start = time.perf_counter()
        generate_manifest(manifest, args.images, args.objects)
        print(f"generated in {time.perf_counter() - start:.1f} s ({manifest.stat().st_size / 1e6:.0f} MB)", flush=True)
    if args.parquet or args.generate_only:
        parquet = manifest.with_suffix(".parquet")
        if not parquet.exists():
            write_parquet_copy(manifest, parquet)
        manifest = parquet
    if args.generate_only:
        return

    from cvkit.view.cache import index_folder
    from cvkit.view.index import ViewIndex
    from cvkit.view.server import serve_in_thread

    stored = index_folder(manifest)
    if stored.exists():  # the first open builds the index: measure that, not a reopen
        shutil.rmtree(stored)
    index = None
    for attempt in ("first open (index built on a worker)", "second open (stored index)"):
        index = None  # the first index is gone before the second opens, as in a new `cvkit view`
        start = time.perf_counter()
        index = ViewIndex.open(manifest)
        opened = time.perf_counter() - start
        worker = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(
            f"{attempt}: {opened:.2f} s; server process peak {peak_mb():.0f} MB, build worker peak {worker:.0f} MB",
            flush=True,
        )
    print(f"{index.num_images:,} images, {index.columns.num_objects:,} objects", flush=True)
    server, _ = serve_in_thread(index)
    port = server.server_address[1]
    meta, _ = get(port, "/api/meta")
    page, size = get(port, "/api/samples?limit=60")
    stats, _ = get(port, "/api/stats")
    print(
        f"first page: meta {meta * 1000:.0f} ms + samples {page * 1000:.0f} ms ({size / 1e3:.0f} kB) = "
        f"{(meta + page) * 1000:.0f} ms; stats of all {stats * 1000:.0f} ms",
        flush=True,
    )
    print(f"{'filter':<48}{'samples ms':>12}{'stats ms':>10}")
    for query in FILTERS:
        seconds, _ = get(port, f"/api/samples?{query}&limit=60")
        stats_seconds, _ = get(port, f"/api/stats?{query}")
        print(f"{query:<48}{seconds * 1000:>12.0f}{stats_seconds * 1000:>10.0f}", flush=True)
    print(f"peak resident memory of the process: {peak_mb():.0f} MB (now: {resident_now()})")
    server.shutdown()


if __name__ == "__main__":
    main()
