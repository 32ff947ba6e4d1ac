"""Checkpoints: ``best.pt`` and ``last.pt`` hold everything to resume, evaluate, predict and export.

Keys: ``format`` ("cvkit.checkpoint"), ``version``, ``model`` (state dict, no DDP or
compile prefixes), ``ema`` (state dict or None), ``optimizer``, ``scheduler``,
``ema_updates``, ``eval_weights`` ("ema" or "raw": which of the two validated better and is
used by evaluate/predict/export), ``scaler`` (None unless fp16), ``epoch`` (completed epochs),
``step`` (optimiser steps), ``best_metric``, ``best_epoch``, ``epochs_without_improvement``,
``config`` (TrainConfig as a dict), ``class_names``, ``metrics`` (the epoch's record),
``class_weights`` (the resolved per-class weights or None), ``loss_state`` (center loss's
centres), ``rng`` (every rank's generator states, for an exact resume). Everything is plain
tensors and Python values, so loading uses ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import torch

from cvkit.core.limits import check_side
from cvkit.errors import InvalidInputError
from cvkit.io import atomic_file, require_regular
from cvkit.train.config import TrainConfig

FORMAT = "cvkit.checkpoint"
VERSION = 1


def save_checkpoint(state: dict[str, Any], path: Path) -> None:
    """Write atomically: a crash mid-save leaves the previous checkpoint intact."""
    with atomic_file(path, "wb", encoding=None) as handle:
        torch.save({"format": FORMAT, "version": VERSION, **state}, handle)


def resolve_checkpoint(path: str | Path) -> Path:
    """A ``.pt`` file, or a run folder (its ``best.pt``, else ``last.pt``)."""
    path = Path(path)
    if path.is_dir():
        for name in ("best.pt", "last.pt"):
            if (path / name).is_file():
                return path / name
        raise InvalidInputError("run folder has no best.pt or last.pt", file=path)
    if not path.is_file():
        raise InvalidInputError("checkpoint not found", file=path)
    return path


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load a cvkit checkpoint safely (weights-only unpickler) on the CPU."""
    path = resolve_checkpoint(path)
    require_regular(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:  # torch's message ends in advice to turn the safe loader off: not given here
        raise InvalidInputError(
            "refused: the checkpoint holds Python objects other than tensors and plain values, "
            "which could run code when loaded; cvkit loads only what its own checkpoints hold",
            file=path,
        ) from None
    except Exception as exc:  # RuntimeError, EOFError for foreign or truncated files
        raise InvalidInputError(
            f"not a readable PyTorch checkpoint (truncated, or another kind of file: {exc.__class__.__name__})",
            file=path,
        ) from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise InvalidInputError("not a cvkit training checkpoint (no 'format': 'cvkit.checkpoint')", file=path)
    _check_config(state, path)
    return state


def _check_config(state: dict[str, Any], path: Path) -> None:
    """What the rest of cvkit builds from a checkpoint, checked here so that every error names the file: a known
    architecture, an image size within :func:`cvkit.core.limits.max_side`, class names that are strings."""
    config, names = state.get("config"), state.get("class_names")
    if not isinstance(config, dict):
        raise InvalidInputError("the checkpoint has no training config", file=path, location="config")
    try:
        cfg = TrainConfig.from_dict(config)
    except TypeError as exc:
        raise InvalidInputError(f"odd training config ({exc})", file=path, location="config") from None
    if not isinstance(cfg.image_size, int) or isinstance(cfg.image_size, bool) or cfg.image_size < 8:
        raise InvalidInputError(
            f"image_size must be a whole number of at least 8, got {cfg.image_size!r}",
            file=path,
            location="config.image_size",
        )
    check_side(cfg.image_size, "image_size", file=path, location="config.image_size")
    if not isinstance(names, list) or not names or not all(isinstance(name, str) for name in names):
        raise InvalidInputError("class_names must be a non-empty list of strings", file=path, location="class_names")
    if not isinstance(cfg.arch, str) or not _known_architecture(cfg.arch):
        raise InvalidInputError(
            f"the checkpoint names an unknown model architecture {cfg.arch!r}; "
            "`cvkit train --list-models` lists the names",
            file=path,
            location="config.arch",
        )


def _known_architecture(arch: str) -> bool:
    import torchvision

    from cvkit.train.models import SMALL_CNN

    return arch == SMALL_CNN or arch in torchvision.models.list_models(module=torchvision.models)


def model_from_checkpoint(state: dict[str, Any], use_ema: bool = True) -> tuple[torch.nn.Module, Any]:
    """Rebuild the trained model in eval mode, plus its config: the EMA weights when they validated better
    (``eval_weights``; checkpoints from before it was recorded use the EMA whenever there is one)."""
    model, cfg, _ = model_and_info(state, use_ema)
    return model, cfg


def model_and_info(state: dict[str, Any], use_ema: bool = True) -> tuple[torch.nn.Module, Any, dict[str, Any]]:
    """:func:`model_from_checkpoint` plus the model facts (``feature_layer``, ``feature_dim``)."""
    from cvkit.train.loss_table import head_options
    from cvkit.train.models import build_model

    cfg = TrainConfig.from_dict(state["config"])
    model, info = build_model(cfg.arch, len(state["class_names"]), **head_options(cfg))
    use_ema = use_ema and bool(state.get("ema")) and state.get("eval_weights", "ema") == "ema"
    model.load_state_dict(state["ema"] if use_ema else state["model"])
    return model.eval(), cfg, info


class EarlyStopping:
    """Stops when the monitored metric has not improved for ``patience`` epochs (None or 0: never)."""

    def __init__(self, patience: int | None, higher_is_better: bool = True):
        self.patience = patience
        self.higher_is_better = higher_is_better
        self.best: float | None = None
        self.best_epoch = 0
        self.bad_epochs = 0

    def update(self, value: float | None, epoch: int) -> bool:
        """Record an epoch's value; True when it is the best so far."""
        if value is None or value != value:  # missing or NaN
            self.bad_epochs += 1
            return False
        better = self.best is None or (value > self.best if self.higher_is_better else value < self.best)
        if better:
            self.best, self.best_epoch, self.bad_epochs = value, epoch, 0
        else:
            self.bad_epochs += 1
        return better

    @property
    def should_stop(self) -> bool:
        return bool(self.patience) and self.bad_epochs >= self.patience  # type: ignore[operator]

    def state_dict(self) -> dict[str, Any]:
        return {"best_metric": self.best, "best_epoch": self.best_epoch, "epochs_without_improvement": self.bad_epochs}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best = state.get("best_metric")
        self.best_epoch = state.get("best_epoch", 0)
        self.bad_epochs = state.get("epochs_without_improvement", 0)
