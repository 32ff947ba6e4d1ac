"""Benchmark: the trainer's items for ImageNet-21k's size (issue 16; goals: built in < 30 s, 8 workers < 2 GB together).

Generates (once, in ``benchmarks/_work``) a Parquet manifest of 14,000,000 single-label records over 21,841 classes
(ImageNet-21k's counts; paths ``nXXXXXXXX/nXXXXXXXX_N.JPEG``, no image files), then in a fresh process:

1. times ``cvkit.train.data.load_items`` on it (the training set the trainer builds) and its peak RSS;
2. starts a DataLoader with 8 workers over those items that looks up ``--lookups`` random items (path and class, as
   ``ManifestDataset`` does before decoding; there are no pixels to decode) and reports each worker's resident
   (RSS) and proportional (PSS: shared pages split between the processes sharing them) memory at the end.

``--baseline N`` runs step 2 also over N items kept as a list of Python tuples (the trainer's former form), whose
reference counts make each worker copy the pages it reads.

Run: ``PYTHONPATH=src python benchmarks/train_items.py [--records 14000000] [--lookups 400000] [--baseline 2000000]``
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import REPO, WORK

CLASSES = 21_841
CHUNK = 1_000_000


def generate(path: Path, records: int, seed: int = 0) -> Path:
    """A Parquet manifest of ``records`` single-label training records, a million at a time."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from cvkit.core import jsonio
    from cvkit.manifest_parquet import HEADER_KEY, ROW_GROUP_ROWS, manifest_schema

    rng = np.random.default_rng(seed)
    wnids = pa.array([f"n{10_000_000 + i:08d}" for i in range(CLASSES)])
    schema = manifest_schema()
    header = {
        "type": "header",
        "schema": "cvkit.manifest",
        "version": 1,
        "source": {"format": "benchmark"},
        "categories": [{"id": i, "name": name, "parents": []} for i, name in enumerate(wnids.to_pylist())],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    with pq.ParquetWriter(path.with_suffix(".tmp"), schema, compression="zstd") as writer:
        for first in range(0, records, CHUNK):
            count = min(CHUNK, records - first)
            classes = pa.array(rng.integers(0, CLASSES, size=count).astype(np.int32))
            names = pa.DictionaryArray.from_arrays(classes, wnids).cast(pa.string())
            numbers = pc.cast(pa.array(np.arange(first, first + count)), pa.string())
            images = pc.binary_join_element_wise(names, pc.binary_join_element_wise(names, numbers, "_"), "/")
            images = pc.binary_join_element_wise(images, pa.array([".JPEG"] * count), "")
            labels = pa.ListArray.from_arrays(pa.array(np.arange(count + 1, dtype=np.int32)), names)
            columns = {
                "image": images,
                "split": pa.array(["train"] * count),
                "labels": labels,
                "objects": pa.array([[]] * count, type=schema.field("objects").type),
            }
            table = pa.table([columns.get(f.name, pa.nulls(count, f.type)) for f in schema], schema=schema)
            writer.write_table(table, row_group_size=ROW_GROUP_ROWS)
        writer.add_key_value_metadata({HEADER_KEY: jsonio.dumps(header)})
    path.with_suffix(".tmp").rename(path)
    return path


def _memory() -> tuple[float, float]:
    """This process's (RSS, PSS) in MB, from /proc/self/smaps_rollup."""
    fields = {}
    with open("/proc/self/smaps_rollup") as handle:
        for line in handle:
            parts = line.split()
            if len(parts) >= 2 and parts[0].endswith(":") and parts[1].isdigit():
                fields[parts[0][:-1]] = int(parts[1]) / 1024
    return fields.get("Rss", 0.0), fields.get("Pss", 0.0)


class Lookups:
    """A map-style dataset that does what ManifestDataset does before decoding: take an item, keep path and class.
    Every :data:`PROBE_EVERY`-th lookup also reports the worker's memory."""

    def __init__(self, items, lookups: int, seed: int = 0):
        self.items = items
        self.order = np.random.default_rng(seed).integers(0, len(items), size=lookups)

    def __len__(self) -> int:
        return len(self.order)

    def __getitem__(self, index: int):
        path, target, _ = self.items[int(self.order[index])]
        if index % PROBE_EVERY == PROBE_EVERY - 1:
            import torch

            return (torch.utils.data.get_worker_info().id, *_memory())
        return len(path) + target


PROBE_EVERY = 1000


def measure_workers(items, lookups: int, workers: int = 8) -> dict:
    """Each worker's (RSS, PSS) in MB at its last probe, after its share of ``lookups`` random item lookups."""
    import torch

    loader = torch.utils.data.DataLoader(
        Lookups(items, lookups), batch_size=PROBE_EVERY, num_workers=workers, collate_fn=list
    )
    per_worker: dict[int, tuple[float, float]] = {}
    start = time.perf_counter()
    for batch in loader:
        for value in batch:
            if isinstance(value, tuple):
                per_worker[value[0]] = (value[1], value[2])
    return {"seconds": time.perf_counter() - start, "workers": per_worker}


def child(manifest: Path, lookups: int, baseline: int) -> None:
    """Runs in a fresh process: build the items, then the workers; prints JSON."""
    from cvkit.train.data import load_items

    start = time.perf_counter()
    item_set = load_items(manifest)
    build = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result = {
        "records": len(item_set.items),
        "build_seconds": build,
        "build_peak_mb": peak,
        "arrays": measure_workers(item_set.items, lookups),
    }
    if baseline:
        tuples = [item_set.items[i] for i in range(baseline)]
        result["tuples"] = {"items": baseline, **measure_workers(tuples, lookups)}
    print(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=14_000_000)
    parser.add_argument("--lookups", type=int, default=400_000)
    parser.add_argument("--baseline", type=int, default=0, help="Also measure N items as Python tuples.")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.lookups, args.baseline)
        return
    manifest = WORK / f"train_items_{args.records}.parquet"
    if not manifest.exists():
        print(f"generating {manifest} ...", flush=True)
        generate(manifest, args.records)
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    command = [
        sys.executable,
        __file__,
        "--child",
        str(manifest),
        "--lookups",
        str(args.lookups),
        "--baseline",
        str(args.baseline),
    ]
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode:
        raise SystemExit(done.stderr[-2000:])
    result = json.loads(done.stdout.strip().splitlines()[-1])
    print(
        f"\nload_items of {result['records']:,} records: {result['build_seconds']:.1f} s, peak "
        f"{result['build_peak_mb']:.0f} MB "
        "(goal < 30 s)"
    )
    for name in ("arrays", "tuples"):
        if name in result:
            workers = result[name]["workers"]
            rss, pss = sum(w[0] for w in workers.values()), sum(w[1] for w in workers.values())
            print(
                f"{name}: {len(workers)} workers, {args.lookups:,} random lookups in {result[name]['seconds']:.1f} s; "
                f"RSS together {rss:,.0f} MB, PSS together {pss:,.0f} MB, largest worker PSS "
                f"{max(w[1] for w in workers.values()):,.0f} MB (goal: 8 workers < 2 GB)"
            )


if __name__ == "__main__":
    main()
