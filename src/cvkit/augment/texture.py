"""Texture-randomising augmentations that need no pretrained network, as spec steps on both back-ends.

- ``RandConv`` (Xu et al. 2021, "Robust and generalizable visual representation learning via random
  convolutions"): convolve the image with a random kernel (size drawn from ``sizes``, weights Gaussian with
  std ``1/sqrt(k*k*C)``), on the image scaled to [-1, 1] as the paper's normalised inputs, and blend with the
  original: ``alpha * x + (1 - alpha) * conv(x)``, ``alpha`` uniform in ``alpha``. Local texture and colour
  change at random; shapes stay.
- ``AmplitudeMix`` (Chen et al. 2021, amplitude-phase recombination, APR-P): keep the image's Fourier phase
  (where its shapes live) and replace its amplitude spectrum (much of its texture) by
  ``(1 - mix) * |F(x)| + mix * |F(partner)|``, ``mix`` uniform in ``mix`` (1: a full swap). The partner is the
  previous image of the batch on the GPU back-end, the previous image this step transformed on the CPU one.

This module holds the NumPy definitions (the CPU back-end, :mod:`cvkit.augment.texture_albu`, runs them);
:mod:`cvkit.augment.texture_gpu` is the torch/kornia twin, checked against these. :mod:`cvkit.augment.transforms`
registers the steps.
"""

from __future__ import annotations

import math

import numpy as np


def kernel_std(size: int, channels: int) -> float:
    """RandConv's weight std: ``1 / sqrt(k * k * C_in)`` keeps the output's scale near the input's."""
    return 1.0 / math.sqrt(size * size * channels)


def random_conv(image: np.ndarray, kernel: np.ndarray, alpha: float) -> np.ndarray:
    """``image`` (H x W x C floats in [0, 1]) convolved with ``kernel`` (C_out x C_in x k x k, odd k, zero padding,
    cross-correlation as torch's conv2d) on the [-1, 1] scale, blended with the original by ``alpha``; clipped."""
    import cv2

    signed = (2.0 * image - 1.0).astype(np.float32)
    convolved = np.stack(
        [
            sum(
                cv2.filter2D(signed[:, :, i], -1, kernel[o, i].astype(np.float32), borderType=cv2.BORDER_CONSTANT)
                for i in range(kernel.shape[1])
            )
            for o in range(kernel.shape[0])
        ],
        axis=-1,
    )
    return np.clip(alpha * image + (1.0 - alpha) * (convolved + 1.0) / 2.0, 0.0, 1.0)


def amplitude_mix(image: np.ndarray, partner: np.ndarray, mix: float) -> np.ndarray:
    """``image`` (H x W x C floats) with its per-channel Fourier amplitude blended towards ``partner``'s and its
    phase kept; not clipped (the step clips)."""
    spectrum = np.fft.fft2(image, axes=(0, 1))
    amplitude = (1.0 - mix) * np.abs(spectrum) + mix * np.abs(np.fft.fft2(partner, axes=(0, 1)))
    return np.real(np.fft.ifft2(amplitude * np.exp(1j * np.angle(spectrum)), axes=(0, 1)))
