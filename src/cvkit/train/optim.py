"""Optimisers and learning-rate schedules.

Weight decay applies to weights only: biases and normalisation parameters (every
tensor with one dimension) are excluded, as in the torchvision and timm recipes.
``cosine`` and ``step`` are per-step multipliers (so warm-up is smooth); ``plateau``
reduces the rate when the validation loss stops improving.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from cvkit.train.config import TrainConfig


def param_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Trainable parameters split into decayed (>= 2-D weights) and not decayed (BN, LayerNorm, biases)."""
    decay, no_decay = [], []
    for param in model.parameters():
        if param.requires_grad:
            (no_decay if param.ndim <= 1 else decay).append(param)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def build_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    groups = param_groups(model, cfg.weight_decay)
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=cfg.lr)
    return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov and cfg.momentum > 0)


def lr_multiplier(step: int, cfg: TrainConfig, steps_per_epoch: int) -> float:
    """Learning-rate factor after ``step`` optimiser steps: linear warm-up, then cosine, step or constant."""
    warmup = int(cfg.warmup_epochs * steps_per_epoch)
    if step < warmup:
        return (step + 1) / warmup
    if cfg.schedule == "cosine":
        total = max(1, cfg.epochs * steps_per_epoch - warmup)
        progress = min(1.0, (step - warmup) / total)
        floor = cfg.min_lr / cfg.lr if cfg.lr else 0.0
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))
    if cfg.schedule == "step":
        epoch = step // max(1, steps_per_epoch)
        return cfg.gamma ** sum(1 for m in cfg.milestones if epoch >= m)
    return 1.0


class Schedule:
    """One object the loop calls after each optimiser step and each epoch, whatever the schedule."""

    def __init__(self, optimizer: torch.optim.Optimizer, cfg: TrainConfig, steps_per_epoch: int):
        self.per_step: torch.optim.lr_scheduler.LambdaLR | None = None
        self.plateau: torch.optim.lr_scheduler.ReduceLROnPlateau | None = None
        if cfg.schedule == "plateau":
            self.plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(
                optimizer, factor=cfg.gamma, patience=cfg.plateau_patience, min_lr=cfg.min_lr
            )
        else:
            self.per_step = torch.optim.lr_scheduler.LambdaLR(
                optimizer, lambda step: lr_multiplier(step, cfg, steps_per_epoch)
            )
        self.optimizer = optimizer

    def after_step(self) -> None:
        if self.per_step is not None:
            self.per_step.step()

    def after_epoch(self, val_loss: float | None) -> None:
        if self.plateau is not None and val_loss is not None:
            self.plateau.step(val_loss)

    @property
    def lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    def state_dict(self) -> dict[str, Any]:
        return (self.plateau or self.per_step).state_dict()  # type: ignore[union-attr]

    def load_state_dict(self, state: dict[str, Any]) -> None:
        (self.plateau or self.per_step).load_state_dict(state)  # type: ignore[union-attr]
