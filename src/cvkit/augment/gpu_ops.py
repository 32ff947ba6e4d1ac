"""Kornia augmentations cvkit needs that kornia lacks, with albumentations' parameter meaning.

Both are per-image (one draw per image in the batch) and take float images in [0, 1]:

- :class:`RandomHSVShift` adds hue/saturation/value shifts in OpenCV's 8-bit units
  (hue 0-180, saturation and value 0-255), as ``A.HueSaturationValue`` does on uint8 images;
- :class:`RandomGaussNoise` adds per-channel Gaussian noise whose std, a fraction of full
  scale, is drawn per image from a range, as ``A.GaussNoise(std_range, per_channel=True)``.

This module imports torch and kornia at import time; only the GPU back-end imports it.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from kornia.augmentation import random_generator as rg
from kornia.augmentation._2d.intensity.base import IntensityAugmentationBase2D
from kornia.color import hsv_to_rgb, rgb_to_hsv


class RandomHSVShift(IntensityAugmentationBase2D):
    """Shift hue, saturation and value by per-image amounts drawn from the given ranges."""

    def __init__(
        self,
        hue_shift: tuple[float, float],
        sat_shift: tuple[float, float],
        val_shift: tuple[float, float],
        p: float = 0.5,
    ) -> None:
        super().__init__(p=p, same_on_batch=False)
        self._param_generator = rg.PlainUniformGenerator(
            (torch.tensor(hue_shift, dtype=torch.float32), "hue_shift", None, None),
            (torch.tensor(sat_shift, dtype=torch.float32), "sat_shift", None, None),
            (torch.tensor(val_shift, dtype=torch.float32), "val_shift", None, None),
        )

    def apply_transform(
        self,
        input: torch.Tensor,
        params: dict[str, torch.Tensor],
        flags: dict[str, Any],
        transform: torch.Tensor | None = None,
    ) -> torch.Tensor:
        hsv = rgb_to_hsv(input.clamp(0.0, 1.0))
        shape = (-1, 1, 1)
        hue_rad = params["hue_shift"].to(input).view(shape) * (2.0 * math.pi / 180.0)  # OpenCV hue unit: 2 degrees
        h = torch.remainder(hsv[:, 0] + hue_rad, 2.0 * math.pi)
        s = (hsv[:, 1] + params["sat_shift"].to(input).view(shape) / 255.0).clamp(0.0, 1.0)
        v = (hsv[:, 2] + params["val_shift"].to(input).view(shape) / 255.0).clamp(0.0, 1.0)
        return hsv_to_rgb(torch.stack([h, s, v], dim=1))


class RandomGaussNoise(IntensityAugmentationBase2D):
    """Add N(0, std^2) noise independently per pixel and channel; std drawn per image."""

    def __init__(self, std: tuple[float, float], p: float = 0.5) -> None:
        super().__init__(p=p, same_on_batch=False)
        self._param_generator = rg.PlainUniformGenerator((torch.tensor(std, dtype=torch.float32), "std", None, None))

    def apply_transform(
        self,
        input: torch.Tensor,
        params: dict[str, torch.Tensor],
        flags: dict[str, Any],
        transform: torch.Tensor | None = None,
    ) -> torch.Tensor:
        std = params["std"].to(input).view(-1, 1, 1, 1)
        return (input + torch.randn_like(input) * std).clamp(0.0, 1.0)
