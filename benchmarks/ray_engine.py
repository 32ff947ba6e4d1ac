"""Benchmark: the per-image heavy commands on the local engine and on Ray, on this machine (issue 17).

Generates (once, in ``benchmarks/_work``) a class-per-folder tree of ``--files`` small images (20 contents of
different sizes, JPEG and PNG, written over and over), then times, in fresh processes, best of ``--repeat``:

- ``cvkit ingest TREE -o m.jsonl -r sizes=true`` (every image header read on the engine),
- ``cvkit validate TREE --deep`` (every image decoded on the engine),

with the local engine (this machine's processes), and with ``--engine ray`` on a local Ray cluster of one and of
two one-CPU nodes (tests/ray_cluster.py, on 127.0.0.1). Local vs Ray with two nodes is Ray's overhead on the same
CPUs; one node vs two is the throughput the second node adds. The outputs are the same on every engine
(tests/test_engine_commands.py); this measures only time. ``cpu s`` is the driver process's CPU time (Ray's
workers run in the cluster's processes, not counted there).

Run: ``PYTHONPATH=src python benchmarks/ray_engine.py [--files 20000] [--repeat 2]``
"""

from __future__ import annotations

import argparse
import io
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from _common import WORK, best_of, cvkit_cmd, discard

CONTENTS = 20


def image_tree(files: int) -> Path:
    """``benchmarks/_work/ray_tree_<files>``: 10 class folders of small images (made once)."""
    from PIL import Image

    root = WORK / f"ray_tree_{files}"
    if (root / ".complete").exists():
        return root
    discard(root)
    blobs = []
    for i in range(CONTENTS):
        buffer = io.BytesIO()
        Image.new("RGB", (64 + 8 * i, 48 + 6 * i), (i * 12, 80, 200 - i * 5)).save(buffer, "PNG" if i % 2 else "JPEG")
        blobs.append((buffer.getvalue(), ".png" if i % 2 else ".jpg"))
    for c in range(10):
        (root / f"class{c}").mkdir(parents=True)
    for n in range(files):
        data, suffix = blobs[n % CONTENTS]
        (root / f"class{n % 10}" / f"img{n:06d}{suffix}").write_bytes(data)
    (root / ".complete").touch()
    return root


def jobs(tree: Path, out: Path) -> dict[str, list[str]]:
    return {
        "ingest -r sizes=true": ["ingest", str(tree), "-o", str(out / "m.jsonl"), "-r", "sizes=true", "--overwrite"],
        "validate --deep": ["validate", str(tree), "--deep", "--json"],
    }


def measure(args: list[str], repeat: int, engine: list[str]) -> dict[str, float]:
    result = best_of(cvkit_cmd(*args, *engine), repeat=repeat)
    if result["rc"] not in (0, 1):  # validate exits 1 when it finds errors (duplicates are warnings)
        raise RuntimeError(result["err"])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=2)
    options = parser.parse_args()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    from ray_cluster import running_cluster

    tree = image_tree(options.files)
    out = WORK / "ray_engine_out"
    out.mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()
    results: dict[str, dict[str, dict[str, float]]] = {name: {} for name in jobs(tree, out)}
    for name, args in jobs(tree, out).items():
        results[name]["local"] = measure(args, options.repeat, [])
    for nodes in (1, 2):
        with running_cluster(nodes) as address:
            engine = ["--engine", "ray", "--ray-address", address]
            for name, args in jobs(tree, out).items():
                measure(args, 1, engine)  # the cluster's first job starts its workers and unpacks cvkit's code
                results[name][f"ray, {nodes} node(s)"] = measure(args, options.repeat, engine)
    print(f"\n{options.files:,} images, {os.cpu_count()} CPUs, load average before the run {load[0]:.2f}")
    print(f"{'job':<24}{'engine':<18}{'seconds':>9}{'images/s':>10}{'vs local':>10}{'driver cpu s':>14}")
    for name, rows in results.items():
        base = rows["local"]["seconds"]
        for engine_name, row in rows.items():
            print(
                f"{name:<24}{engine_name:<18}{row['seconds']:>9.2f}{options.files / row['seconds']:>10,.0f}"
                f"{row['seconds'] / base:>9.2f}x{row['cpu_seconds']:>14.2f}"
            )
        one, two = rows["ray, 1 node(s)"]["seconds"], rows["ray, 2 node(s)"]["seconds"]
        print(f"{'':<24}2 Ray nodes vs 1: {one / two:.2f}x the throughput")


if __name__ == "__main__":
    main()
