"""An exponential moving average of the weights whose decay warms up, so short runs are not stuck near the start.

With a fixed decay of 0.999 the average of a 300-step run still holds about 74% of the
random initial weights (0.999^300): a chance-level model. As TensorFlow's
``ExponentialMovingAverage(num_updates=...)`` and timm's ``ModelEmaV3`` do, the decay of
update ``t`` (0-based) is ``min(decay, (1 + t) / (10 + t))``: 0.1 at the first update,
0.5 at the ninth, reaching 0.999 only after about 9,000 updates.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn


def warmed_decay(decay: float, updates: int) -> float:
    """The decay of update number ``updates`` (0-based)."""
    return min(decay, (1 + updates) / (10 + updates))


class ModelEma:
    """``module`` holds the averaged weights (buffers such as BatchNorm statistics are copied, not averaged)."""

    def __init__(self, model: nn.Module, decay: float):
        self.module = copy.deepcopy(model).eval()
        for param in self.module.parameters():
            param.requires_grad_(False)
        self.decay = decay
        self.updates = 0

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        decay = warmed_decay(self.decay, self.updates)
        averaged = dict(self.module.named_parameters())
        for name, param in model.named_parameters():
            averaged[name].lerp_(param.detach(), 1.0 - decay)
        own_buffers = dict(self.module.named_buffers())
        for name, buffer in model.named_buffers():
            own_buffers[name].copy_(buffer)
        self.updates += 1

    def state_dict(self) -> dict[str, Any]:
        return self.module.state_dict()

    def load_state_dict(self, state: dict[str, Any], updates: int) -> None:
        self.module.load_state_dict(state)
        self.updates = updates
