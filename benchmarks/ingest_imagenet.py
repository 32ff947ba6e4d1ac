"""Benchmark: ingest a 1,281,167-image ILSVRC-style train tree into a manifest.

Generates (once, reused from ``benchmarks/_work/ilsvrc_train``) 1000 class folders named by
real ImageNet-1k WNIDs holding hard links to one small JPEG (hard links cost no inodes or
data blocks), then times in the same run:

- ``cvkit ingest TREE --format imagenet -o train.jsonl``
- ``torchvision.datasets.ImageFolder(TREE)`` construction (its indexing walk)

Usage: ``python benchmarks/ingest_imagenet.py [--images 1281167] [--cleanup]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import CORPUS, WORK, best_of, cvkit_cmd, print_table

TOTAL = 1_281_167


def wnids(count: int) -> list[str]:
    """The real ImageNet-1k WNIDs when the corpus has them, else made-up ones."""
    listing = CORPUS / "imagenet" / "timm_synsets" / "imagenet_synsets.txt"
    if listing.exists():
        names = listing.read_text().split()[:count]
        if len(names) == count:
            return names
    return [f"n{10000000 + i:08d}" for i in range(count)]


def generate(root: Path, total: int, classes: int = 1000) -> Path:
    """An ILSVRC train tree of ``total`` hard links; reused when complete (a marker file says so)."""
    marker = root / ".complete"
    if marker.exists() and marker.read_text().strip() == str(total):
        return root
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    from PIL import Image

    seed = root.parent / "seed.JPEG"
    Image.new("RGB", (8, 8), (120, 90, 60)).save(seed, format="JPEG")
    data = seed.read_bytes()
    per_class, extra = divmod(total, classes)
    for index, wnid in enumerate(wnids(classes)):
        folder = root / wnid
        folder.mkdir()
        count = per_class + (1 if index < extra else 0)
        prefix = f"{folder}/{wnid}_"
        first = f"{prefix}1.JPEG"
        with open(
            first, "wb"
        ) as handle:  # one real JPEG per class; the rest hard-link to it (ext4 allows 65,000 links)
            handle.write(data)
        for i in range(1, count):
            os.link(first, f"{prefix}{i + 1}.JPEG")
    marker.write_text(str(total))
    return root


TORCHVISION = "import sys; from torchvision.datasets import ImageFolder; ds = ImageFolder(sys.argv[1]); print(len(ds))"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, default=TOTAL)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--cleanup", action="store_true", help="delete the generated tree afterwards")
    args = parser.parse_args()
    tree = generate(WORK / ("ilsvrc_train" if args.images == TOTAL else f"ilsvrc_train_{args.images}"), args.images)
    out = WORK / "imagenet_train.jsonl"
    rows = {
        "cvkit ingest": best_of(
            cvkit_cmd("ingest", str(tree), "--format", "imagenet", "-o", str(out), "--overwrite", "--json"), args.repeat
        ),
        "torchvision ImageFolder": best_of([sys.executable, "-c", TORCHVISION, str(tree)], args.repeat),
    }
    print_table(f"ingest an ILSVRC train tree of {args.images:,} images", rows, baseline="cvkit ingest")
    # wall time on a shared 2-core machine depends on the other load; CPU time does not
    print("cpu seconds (user+sys): " + ", ".join(f"{name} {r['cpu_seconds']:.1f}" for name, r in rows.items()))
    print(f"load average while measuring: {os.getloadavg()[0]:.1f}")
    with open(out, "rb") as handle:
        lines = sum(1 for _ in handle) - 1
    print(f"manifest records: {lines:,}")
    out.unlink(missing_ok=True)
    if args.cleanup:
        shutil.rmtree(tree)


if __name__ == "__main__":
    main()
