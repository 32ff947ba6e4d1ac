"""Benchmark: ``cvkit stats --imbalance`` on a 1M-object manifest and on a 20k-file VOC tree.

(1) generates a manifest of 1,000,000 objects over 100,000 images (80 classes, Zipf-like
    counts) and times ``cvkit stats --imbalance --json`` (goal: under 3 s);
(2) on the 20k-file VOC tree of the foundation benchmark (``benchmarks/_work/voc20k``,
    generated here from a real corpus XML when absent) compares ``cvkit stats`` with
    ``datum stats`` (datumaro) and ``globox summary`` in the peer venv (goal: >= 10x faster
    than the faster peer).

Run: ``PYTHONPATH=src python benchmarks/stats_imbalance.py [--images 100000] [--objects 1000000]``
"""

from __future__ import annotations

import argparse
import os
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import REPO, WORK, best_of, cvkit_cmd, peers_python, print_table
from convert_voc2coco import generate as generate_voc_tree

CLASSES = 80


def generate_manifest(path: Path, images: int, objects: int, seed: int = 0) -> Path:
    """A manifest with ``objects`` boxes over ``images`` images; class frequencies fall like 1/rank."""
    import orjson

    rng = random.Random(seed)
    names = [f"class_{i:02d}" for i in range(CLASSES)]
    weights = [1.0 / (rank + 1) for rank in range(CLASSES)]
    header = {
        "type": "header",
        "schema": "cvkit.manifest",
        "version": 1,
        "source": {"format": "benchmark"},
        "categories": [{"id": i + 1, "name": n, "parents": []} for i, n in enumerate(names)],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    per_image = [objects // images] * images
    for i in range(objects - sum(per_image)):
        per_image[i] += 1
    with open(path, "wb") as out:
        out.write(orjson.dumps(header) + b"\n")
        for i in range(images):
            labels = rng.choices(names, weights, k=per_image[i])
            objs = []
            for label in labels:
                w, h = rng.randint(4, 300), rng.randint(4, 300)
                objs.append({"label": label, "bbox": [rng.randint(0, 640 - w), rng.randint(0, 480 - h), w, h]})
            rec = {
                "image": f"images/{i:06d}.jpg",
                "width": 640,
                "height": 480,
                "split": "train" if i % 10 else "val",
                "labels": [],
                "objects": objs,
            }
            out.write(orjson.dumps(rec) + b"\n")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=100_000)
    parser.add_argument("--objects", type=int, default=1_000_000)
    parser.add_argument("--voc-files", type=int, default=20_000)
    parser.add_argument("--no-peers", action="store_true", help="Skip the datumaro / globox comparison.")
    args = parser.parse_args()
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))

    manifest = WORK / f"stats_{args.objects}.jsonl"
    if not manifest.exists():
        print(f"generating {manifest} ...", flush=True)
        generate_manifest(manifest, args.images, args.objects)
    rows = {"cvkit stats --imbalance": best_of(cvkit_cmd("stats", str(manifest), "--imbalance", "--json"), env=env)}
    print_table(
        f"stats --imbalance, manifest of {args.objects:,} objects over {args.images:,} images (goal < 3 s)",
        rows,
        "cvkit stats --imbalance",
    )

    # the foundation benchmark's tree (convert_voc2coco.py), generated from a real corpus XML when absent
    voc = generate_voc_tree(WORK / f"voc{args.voc_files // 1000}k", args.voc_files)
    rows = {"cvkit stats": best_of(cvkit_cmd("stats", str(voc), "--format", "voc", "--json"), env=env)}
    if not args.no_peers:
        peers = peers_python(
            "datumaro", "globox", "tabulate", "tensorboardX", "scipy", "matplotlib"
        )  # datum's CLI extras
        if peers is not None:
            bindir = peers.parent
            out = WORK / "out"
            out.mkdir(parents=True, exist_ok=True)
            # annotation statistics only: the tree has no images, and cvkit stats does not decode pixels either
            rows["datum stats"] = _try(
                lambda: best_of(
                    [str(bindir / "datum"), "stats", f"{voc}:voc_detection", "--image-stats", "false"],
                    repeat=2,
                    cwd=out,
                )
            )
            rows["globox summary"] = _try(
                lambda: best_of(
                    [str(bindir / "globox"), "summary", str(voc / "Annotations"), "--format", "pascalvoc"], repeat=2
                )
            )
    print_table(
        f"stats on a {args.voc_files:,}-file VOC tree (goal >= 10x faster than the faster peer)", rows, "cvkit stats"
    )
    peers = {name: r for name, r in rows.items() if r and name != "cvkit stats"}
    if peers:
        cvkit = rows["cvkit stats"]
        print(f"\nfaster peer / cvkit, wall: {min(r['seconds'] for r in peers.values()) / cvkit['seconds']:.1f}x")
        if all(
            "cpu_seconds" in r for r in (cvkit, *peers.values())
        ):  # CPU time: less sensitive to a shared machine's load
            print("CPU seconds: " + ", ".join(f"{name} {r['cpu_seconds']:.2f}" for name, r in rows.items() if r))
            print(
                f"faster peer / cvkit, CPU: {min(r['cpu_seconds'] for r in peers.values()) / cvkit['cpu_seconds']:.1f}x"
            )


def _try(fn):
    try:
        return fn()
    except RuntimeError as exc:
        print(f"peer failed: {exc}")
        return None


if __name__ == "__main__":
    main()
