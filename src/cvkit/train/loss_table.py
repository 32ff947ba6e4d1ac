"""Every loss the trainer knows, registered: the classification losses of :mod:`cvkit.train.losses` and the feature
losses (center, magnet) of :mod:`cvkit.train.feature_losses`, which register themselves on import. Code that looks a
loss up by name imports it from here, so no loss is missing whichever module was loaded first."""

from __future__ import annotations

from cvkit.train import feature_losses  # noqa: F401  (registers center and magnet)
from cvkit.train.losses import LOSS_HEADS, LOSS_REGISTRY, build_loss, head_options, validation_loss

__all__ = ["LOSS_HEADS", "LOSS_REGISTRY", "build_loss", "head_options", "validation_loss"]
