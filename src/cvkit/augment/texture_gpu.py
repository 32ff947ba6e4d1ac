"""The GPU (torch/kornia) back-end of :mod:`cvkit.augment.texture`'s steps: the same arithmetic on float
N x C x H x W batches in [0, 1], one draw per image; imports torch and kornia."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from kornia.augmentation._2d.intensity.base import IntensityAugmentationBase2D

from cvkit.augment.texture import kernel_std

#: kernels of every size are stored zero-padded to this size (a centred k x k kernel inside gives the same output)
MAX_KERNEL = 7


def random_conv(images: torch.Tensor, kernels: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """Each image convolved with its own kernel (N x C x C x K x K, odd K) on the [-1, 1] scale and blended with
    itself by its ``alpha`` (N); clipped to [0, 1]. Twin of :func:`cvkit.augment.texture.random_conv`."""
    n, c, h, w = images.shape
    size = kernels.shape[-1]
    signed = (2.0 * images - 1.0).reshape(1, n * c, h, w)
    convolved = F.conv2d(signed, kernels.reshape(n * c, c, size, size).to(images), padding=size // 2, groups=n)
    weight = alpha.to(images).view(-1, 1, 1, 1)
    return (weight * images + (1.0 - weight) * (convolved.reshape(n, c, h, w) + 1.0) / 2.0).clamp(0.0, 1.0)


def amplitude_mix(images: torch.Tensor, partners: torch.Tensor, mix: torch.Tensor) -> torch.Tensor:
    """Per-channel Fourier amplitude blended towards the partners' by ``mix`` (N), phase kept; not clipped.
    Twin of :func:`cvkit.augment.texture.amplitude_mix`."""
    spectrum = torch.fft.fft2(images.double())
    weight = mix.double().to(images.device).view(-1, 1, 1, 1)
    amplitude = (1.0 - weight) * spectrum.abs() + weight * torch.fft.fft2(partners.double()).abs()
    return torch.fft.ifft2(torch.polar(amplitude, spectrum.angle())).real.to(images.dtype)


class RandomConv(IntensityAugmentationBase2D):
    """RandConv per image: a kernel size from ``sizes``, Gaussian weights, alpha uniform in ``alpha``."""

    def __init__(self, sizes: tuple[int, ...] = (1, 3, 5, 7), alpha: tuple[float, float] = (0.0, 1.0), p: float = 0.5):
        super().__init__(p=p, same_on_batch=False)
        self.sizes, self.alpha = tuple(int(s) for s in sizes), (float(alpha[0]), float(alpha[1]))

    def generate_parameters(self, batch_shape: tuple[int, ...]) -> dict[str, torch.Tensor]:
        n, c = batch_shape[0], batch_shape[1]
        width = max(MAX_KERNEL, *self.sizes)
        kernels = torch.zeros(n, c, c, width, width)
        for i, pick in enumerate(torch.randint(len(self.sizes), (n,)).tolist()):
            size = self.sizes[pick]
            start = (width - size) // 2
            weights = torch.randn(c, c, size, size) * kernel_std(size, c)
            kernels[i, :, :, start : start + size, start : start + size] = weights
        alpha = torch.empty(n).uniform_(*self.alpha)
        return {"kernels": kernels, "alpha": alpha}

    def apply_transform(
        self, input: torch.Tensor, params: dict[str, torch.Tensor], flags: dict[str, Any], transform: Any = None
    ) -> torch.Tensor:
        return random_conv(input, params["kernels"], params["alpha"])


class RandomAmplitudeMix(IntensityAugmentationBase2D):
    """APR-P per image: the partner of image i is image i-1 of the batch (the first takes the last)."""

    def __init__(self, mix: tuple[float, float] = (1.0, 1.0), p: float = 0.5):
        super().__init__(p=p, same_on_batch=False)
        self.mix = (float(mix[0]), float(mix[1]))

    def generate_parameters(self, batch_shape: tuple[int, ...]) -> dict[str, torch.Tensor]:
        return {"mix": torch.empty(batch_shape[0]).uniform_(*self.mix)}

    def apply_transform(
        self, input: torch.Tensor, params: dict[str, torch.Tensor], flags: dict[str, Any], transform: Any = None
    ) -> torch.Tensor:
        return amplitude_mix(input, torch.roll(input, 1, dims=0), params["mix"]).clamp(0.0, 1.0)
