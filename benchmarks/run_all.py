"""Run every benchmark in turn (``make bench``) and print the goal lines together at the end.

Usage: python benchmarks/run_all.py [--only NAME ...] [--skip NAME ...] [--quick]

Each benchmark is its own script with its own tables (see docs/benchmarks.md); this runner
starts them one after the other in fresh processes, streams their output, and closes with the
lines that compare cvkit with the peers ("... faster than ...", "goal ..."), so one run of
``make bench`` answers "are the goals met on this machine today". ``--quick`` passes each
script smaller sizes where it has them (a smoke run, not figures to publish).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

#: (name, script, arguments for --quick); in the order the issues list them
BENCHMARKS: list[tuple[str, str, list[str]]] = [
    ("voc2coco", "convert_voc2coco.py", ["--files", "2000"]),
    ("labelme2coco", "convert_labelme2coco.py", ["--files", "1000"]),
    ("coco2yolo", "convert_coco2yolo.py", ["--images", "1000"]),
    ("matrix", "matrix.py", ["--quick"]),
    ("stats", "stats_imbalance.py", ["--images", "10000", "--objects", "100000", "--voc-files", "2000"]),
    ("ingest_imagenet", "ingest_imagenet.py", ["--images", "20000", "--repeat", "1"]),
    ("augment", "augment.py", ["--seconds", "1", "--repeat", "1"]),
    ("train_throughput", "train_throughput.py", ["--images", "64", "--steps", "5"]),
    ("view", "view.py", ["--images", "20000", "--objects", "200000"]),
    ("stats_parquet", "stats_parquet.py", ["--images", "100000", "--objects", "1000000"]),
    ("train_items", "train_items.py", ["--records", "200000", "--lookups", "40000"]),
]
#: output lines worth repeating in the closing summary
SUMMARY_LINE = re.compile(r"faster than|faster peer|not measured|no CUDA", re.IGNORECASE)


def run(name: str, script: str, extra: list[str]) -> tuple[int, float, list[str]]:
    """Run one benchmark script, echoing its output; returns (exit code, seconds, summary lines)."""
    print(f"\n=== {name}: {script} {' '.join(extra)}".rstrip(), flush=True)
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, str(HERE / script), *extra], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert proc.stdout is not None
    keep: list[str] = []
    for line in proc.stdout:
        print(line, end="", flush=True)
        if SUMMARY_LINE.search(line):
            keep.append(line.strip())
    return proc.wait(), time.perf_counter() - start, keep


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    names = [name for name, _, _ in BENCHMARKS]
    parser.add_argument("--only", nargs="+", choices=names, help="Run just these.")
    parser.add_argument("--skip", nargs="+", choices=names, default=[], help="Leave these out.")
    parser.add_argument(
        "--quick", action="store_true", help="Small sizes: checks the scripts run, figures not for publishing."
    )
    args = parser.parse_args()
    results = []
    for name, script, quick_args in BENCHMARKS:
        if (args.only and name not in args.only) or name in args.skip:
            continue
        results.append((name, *run(name, script, quick_args if args.quick else [])))
    print("\n=== summary")
    failed = 0
    for name, code, seconds, lines in results:
        status = "ok" if code == 0 else f"FAILED (exit {code})"
        failed += code != 0
        print(f"{name:<18} {status:<18} {seconds:7.1f} s")
        for line in lines[-4:]:
            print(f"    {line}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
