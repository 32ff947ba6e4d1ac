"""Losses, by name in :data:`LOSS_REGISTRY`: cross-entropy / BCE, focal, center and magnet loss.

A loss is an ``nn.Module`` called as ``loss(logits, target)``. A loss that also needs the
features the classifier sees (the input of its last layer) sets ``needs_features = True``
and is called as ``loss(logits, target, features)``; ``validation_loss(logits, target)``
is what validation and ``cvkit evaluate`` report for it (the loss on the logits alone).
A loss may name the classification ``head`` it needs (magnet loss classifies by its
cluster means). New losses register with :func:`register_loss`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class LossContext:
    """What a loss builder may use besides the config."""

    num_classes: int
    class_weights: list[float] | None = None
    feature_dim: int | None = None


LossBuilder = Callable[[Any, LossContext], nn.Module]
#: loss name -> builder ``(TrainConfig, LossContext) -> nn.Module``
LOSS_REGISTRY: dict[str, LossBuilder] = {}
#: loss name -> the classification head its model needs (``linear`` unless named here)
LOSS_HEADS: dict[str, str] = {}


def register_loss(name: str, head: str = "linear") -> Callable[[LossBuilder], LossBuilder]:
    """Decorator: make a loss builder available as ``--loss NAME``."""

    def add(builder: LossBuilder) -> LossBuilder:
        LOSS_REGISTRY[name] = builder
        LOSS_HEADS[name] = head
        return builder

    return add


def smooth_binary_targets(target: torch.Tensor, smoothing: float) -> torch.Tensor:
    """Label smoothing for sigmoid outputs: each 0/1 target moves ``smoothing / 2`` towards 1/2."""
    return target * (1.0 - smoothing) + smoothing / 2.0 if smoothing else target


class SmoothedBCE(nn.Module):
    """BCE with logits on label-smoothed targets (``y (1 - eps) + eps / 2``), per-class weights."""

    def __init__(self, weight: torch.Tensor | None = None, label_smoothing: float = 0.0):
        super().__init__()
        self.label_smoothing = label_smoothing
        self.register_buffer("weight", weight)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.binary_cross_entropy_with_logits(
            logits, smooth_binary_targets(target, self.label_smoothing), weight=self.weight
        )


class FocalLoss(nn.Module):
    """Focal loss (Lin et al. 2017): ``(1 - p_t)^gamma`` down-weights easy examples.

    Softmax form for single-label targets (class indices), sigmoid form for
    multi-label targets (0/1 vectors, smoothed as in :class:`SmoothedBCE`). ``weight`` is a per-class weight.
    """

    def __init__(
        self,
        gamma: float = 2.0,
        weight: torch.Tensor | None = None,
        multi_label: bool = False,
        label_smoothing: float = 0.0,
    ):
        super().__init__()
        self.gamma = gamma
        self.multi_label = multi_label
        self.label_smoothing = label_smoothing
        self.register_buffer("weight", weight if weight is not None else None)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if self.multi_label:
            bce = F.binary_cross_entropy_with_logits(
                logits, smooth_binary_targets(target, self.label_smoothing), reduction="none"
            )
            p_t = torch.exp(-bce)
            loss = (1 - p_t) ** self.gamma * bce
            if self.weight is not None:
                loss = loss * self.weight
            return loss.mean()
        log_p = F.log_softmax(logits, dim=1)
        ce = F.nll_loss(log_p, target, reduction="none")
        p_t = torch.exp(-ce)
        if self.label_smoothing:
            ce = (1 - self.label_smoothing) * ce - self.label_smoothing * log_p.mean(dim=1)
        loss = (1 - p_t) ** self.gamma * ce
        if self.weight is not None:
            w = self.weight[target]
            return (loss * w).sum() / w.sum()
        return loss.mean()


def _weight(ctx: LossContext) -> torch.Tensor | None:
    return torch.tensor(ctx.class_weights, dtype=torch.float32) if ctx.class_weights is not None else None


def classification_loss(cfg: Any, ctx: LossContext) -> nn.Module:
    """Cross-entropy (single-label, label smoothing, soft targets from mixup) or smoothed BCE (multi-label)."""
    if cfg.multi_label:
        return SmoothedBCE(_weight(ctx), cfg.label_smoothing)
    return nn.CrossEntropyLoss(weight=_weight(ctx), label_smoothing=cfg.label_smoothing)


register_loss("ce")(classification_loss)


@register_loss("focal")
def _focal(cfg: Any, ctx: LossContext) -> nn.Module:
    return FocalLoss(cfg.focal_gamma, _weight(ctx), cfg.multi_label, cfg.label_smoothing)


def build_loss(
    cfg: Any, num_classes: int, class_weights: list[float] | None = None, feature_dim: int | None = None
) -> nn.Module:
    """The training loss ``cfg.loss`` names; ``class_weights`` (one per class) re-weight rare classes."""
    return LOSS_REGISTRY[cfg.loss](cfg, LossContext(num_classes, class_weights, feature_dim))


def head_options(cfg: Any) -> dict[str, Any]:
    """The model options a run's loss implies: ``--embed-dim``, the head its loss needs, and its clusters per class."""
    return {"embed_dim": cfg.embed_dim, "head": LOSS_HEADS.get(cfg.loss, "linear"), "clusters": cfg.magnet_clusters}


def validation_loss(loss_fn: nn.Module, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """What validation and ``cvkit evaluate`` report: the training loss, on the logits alone for feature losses."""
    return loss_fn.validation_loss(logits, target) if hasattr(loss_fn, "validation_loss") else loss_fn(logits, target)


def apply_loss(
    loss_fn: nn.Module, logits: torch.Tensor, target: torch.Tensor, features: torch.Tensor | None
) -> torch.Tensor:
    """One training step's loss, with the features for losses that need them."""
    if getattr(loss_fn, "needs_features", False):
        return loss_fn(logits, target, features)
    return loss_fn(logits, target)
