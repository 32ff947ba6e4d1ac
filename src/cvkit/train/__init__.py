"""The bundled classifier trainer: manifest -> trained, evaluated, exported model (``cvkit train``).

Import the heavy parts lazily: ``from cvkit.train import train, TrainConfig``
loads torch only when the names are used. See docs/train.md.
"""

from __future__ import annotations

from typing import Any

from cvkit.train.config import TrainConfig

__all__ = ["TrainConfig", "evaluate", "export_model", "predict", "train"]


def __getattr__(name: str) -> Any:
    if name in ("train", "evaluate", "predict", "export_model"):
        module = {"train": "trainer", "evaluate": "evaluate", "predict": "predict", "export_model": "export"}[name]
        return getattr(__import__(f"cvkit.train.{module}", fromlist=[name]), name)
    raise AttributeError(name)
