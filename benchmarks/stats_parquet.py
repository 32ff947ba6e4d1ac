"""Benchmark: ``cvkit stats --imbalance`` on a 10M-object Parquet manifest (issue 16; goal: under 3 s and 1 GB).

Generates (once, in ``benchmarks/_work``) a Parquet manifest of 10,000,000 boxes over 1,000,000 images, 365
classes (Objects365's count) with counts falling like 1/rank, written with cvkit's own schema and header
(:mod:`cvkit.manifest_parquet`) but column by column with numpy, so generating takes seconds; then times
``cvkit stats --imbalance --json`` in a fresh process, best of 3, wall time and peak RSS.
``--jsonl`` also writes the same records as a JSON Lines manifest and times stats on it (minutes to generate).

Run: ``PYTHONPATH=src python benchmarks/stats_parquet.py [--images 1000000] [--objects 10000000] [--jsonl]``
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import REPO, WORK, best_of, cvkit_cmd, print_table

CLASSES = 365
#: images generated per row group (the writer's own row-group size)
CHUNK_IMAGES = 20_000


def _header() -> dict:
    names = [f"class_{i:03d}" for i in range(CLASSES)]
    return {
        "type": "header",
        "schema": "cvkit.manifest",
        "version": 1,
        "source": {"format": "benchmark"},
        "categories": [{"id": i + 1, "name": n, "parents": []} for i, n in enumerate(names)],
    }


def _chunk(rng: np.random.Generator, first: int, images: int, per_image: np.ndarray, schema) -> object:
    """One row group of images ``first..first+images`` as an Arrow table of the manifest schema."""
    import pyarrow as pa

    n = int(per_image.sum())
    weights = 1.0 / np.arange(1, CLASSES + 1)
    classes = rng.choice(CLASSES, size=n, p=weights / weights.sum())
    names = pa.array([f"class_{i:03d}" for i in range(CLASSES)])
    labels = pa.DictionaryArray.from_arrays(pa.array(classes.astype(np.int32)), names).cast(pa.string())
    wh = rng.integers(4, 300, size=(n, 2))
    xy = rng.integers(0, 300, size=(n, 2))
    coordinates = np.concatenate([xy, wh], axis=1).astype(np.float64)
    boxes = pa.StructArray.from_arrays([pa.array(coordinates[:, i]) for i in range(4)], names=["x", "y", "w", "h"])
    obj_type = schema.field("objects").type.value_type
    children = []
    for field in obj_type:
        if field.name == "label":
            children.append(labels)
        elif field.name == "bbox":
            children.append(boxes)
        elif field.name == "iscrowd":
            children.append(pa.array(np.zeros(n, dtype=bool)))
        else:
            children.append(pa.nulls(n, field.type))
    objects = pa.StructArray.from_arrays(children, fields=list(obj_type))
    offsets = pa.array(np.concatenate([[0], np.cumsum(per_image)]).astype(np.int32))
    index = np.arange(first, first + images)
    columns = {
        "image": pa.array([f"images/{i:07d}.jpg" for i in index]),
        "width": pa.array(np.full(images, 640, dtype=np.int32)),
        "height": pa.array(np.full(images, 480, dtype=np.int32)),
        "split": pa.array(np.where(index % 10 == 0, "val", "train")),
        "labels": pa.array([[]] * images, type=pa.list_(pa.string())),
        "objects": pa.ListArray.from_arrays(offsets, objects),
    }
    return pa.table([columns.get(f.name, pa.nulls(images, f.type)) for f in schema], schema=schema)


def generate_parquet(path: Path, images: int, objects: int, seed: int = 0) -> Path:
    """A Parquet manifest with ``objects`` boxes over ``images`` images, a row group per :data:`CHUNK_IMAGES`."""
    import pyarrow.parquet as pq

    from cvkit.core import jsonio
    from cvkit.manifest_parquet import HEADER_KEY, manifest_schema

    rng = np.random.default_rng(seed)
    per_image = np.full(images, objects // images)
    per_image[: objects - int(per_image.sum())] += 1
    schema = manifest_schema()
    path.parent.mkdir(parents=True, exist_ok=True)
    with pq.ParquetWriter(path.with_suffix(".tmp"), schema, compression="zstd") as writer:
        for first in range(0, images, CHUNK_IMAGES):
            count = min(CHUNK_IMAGES, images - first)
            writer.write_table(_chunk(rng, first, count, per_image[first : first + count], schema))
        writer.add_key_value_metadata({HEADER_KEY: jsonio.dumps(_header())})
    path.with_suffix(".tmp").rename(path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1_000_000)
    parser.add_argument("--objects", type=int, default=10_000_000)
    parser.add_argument("--jsonl", action="store_true", help="Also time stats on the same records as JSON Lines.")
    args = parser.parse_args()
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    manifest = WORK / f"stats_parquet_{args.objects}.parquet"
    if not manifest.exists():
        print(f"generating {manifest} ...", flush=True)
        generate_parquet(manifest, args.images, args.objects)
    print(f"{manifest}: {manifest.stat().st_size / 2**20:.0f} MiB")
    rows = {
        "cvkit stats --imbalance (Parquet)": best_of(
            cvkit_cmd("stats", str(manifest), "--imbalance", "--json"), env=env
        )
    }
    if args.jsonl:
        jsonl = manifest.with_suffix(".jsonl")
        if not jsonl.exists():
            print(f"converting to {jsonl} ...", flush=True)
            best_of(cvkit_cmd("export", str(manifest), str(jsonl), "--to", "manifest"), repeat=1, env=env)
        rows["cvkit stats --imbalance (JSONL)"] = best_of(
            cvkit_cmd("stats", str(jsonl), "--imbalance", "--json"), repeat=1, env=env
        )
    title = (
        f"stats --imbalance, Parquet manifest of {args.objects:,} objects, {args.images:,} images (goal < 3 s, < 1 GB)"
    )
    print_table(title, rows, "cvkit stats --imbalance (Parquet)")
    # CPU time too: on a shared machine it moves less with other jobs' load than wall time does
    print("CPU seconds: " + ", ".join(f"{name} {r['cpu_seconds']:.2f}" for name, r in rows.items()))
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
