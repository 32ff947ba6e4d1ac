"""The bundled classifier trainer: manifest -> trained, evaluated, exported model (``cvkit train``).

Import the heavy parts lazily: ``from cvkit.train import train, TrainConfig``
loads torch only when the names are used. See docs/train.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def __getattr__(name: str) -> Any:
    if name == "TrainConfig":
        from cvkit.train.config import TrainConfig

        return TrainConfig
    if name in ("train", "evaluate", "predict", "export_model"):
        module = {"train": "trainer", "evaluate": "evaluate", "predict": "predict", "export_model": "export"}[name]
        return getattr(__import__(f"cvkit.train.{module}", fromlist=[name]), name)
    raise AttributeError(name)


def quick_demo(manifest: str | Path, out_dir: str | Path, epochs: int = 3, image_size: int = 32, print_table: bool = True) -> dict[str, Any]:
    """Train ``small_cnn`` briefly on the CPU (well under a minute on a few thousand small images),
    print the metrics table and return the run summary. What ``make demo`` calls."""
    from cvkit.train.config import TrainConfig
    from cvkit.train.console import print_metrics_table
    from cvkit.train.trainer import train

    cfg = TrainConfig(arch="small_cnn", manifest=str(manifest), output=str(out_dir), epochs=epochs, batch_size=64, image_size=image_size,
                      lr=3e-3, optimizer="adamw", weight_decay=0.01, workers=0, device="cpu", aug="none", overwrite=True)
    summary = train(cfg)
    if print_table and summary.get("best"):
        print_metrics_table(summary["best"], title=f"small_cnn, {summary['epochs']} epochs, {summary['run']}")
    return summary
