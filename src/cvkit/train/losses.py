"""Losses: cross-entropy (label smoothing, class weights), focal loss, and BCE for multi-label."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class FocalLoss(nn.Module):
    """Focal loss (Lin et al. 2017): ``(1 - p_t)^gamma`` down-weights easy examples.

    Softmax form for single-label targets (class indices), sigmoid form for
    multi-label targets (0/1 vectors). ``weight`` is a per-class weight.
    """

    def __init__(self, gamma: float = 2.0, weight: torch.Tensor | None = None, multi_label: bool = False, label_smoothing: float = 0.0):
        super().__init__()
        self.gamma = gamma
        self.multi_label = multi_label
        self.label_smoothing = label_smoothing
        self.register_buffer("weight", weight if weight is not None else None)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if self.multi_label:
            bce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
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


def build_loss(multi_label: bool, kind: str = "ce", class_weights: list[float] | None = None, label_smoothing: float = 0.0,
               focal_gamma: float = 2.0) -> nn.Module:
    """The training loss for the task; ``class_weights`` (one per class) re-weight rare classes."""
    weight = torch.tensor(class_weights, dtype=torch.float32) if class_weights is not None else None
    if kind == "focal":
        return FocalLoss(focal_gamma, weight, multi_label, label_smoothing)
    if multi_label:
        return nn.BCEWithLogitsLoss(weight=weight)
    return nn.CrossEntropyLoss(weight=weight, label_smoothing=label_smoothing)
