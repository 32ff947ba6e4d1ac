"""The CPU (albumentations) back-end of :mod:`cvkit.augment.texture`'s steps; imports albumentations."""

from __future__ import annotations

from typing import Any

import albumentations as A
import numpy as np

from cvkit.augment.texture import amplitude_mix, kernel_std, random_conv


def as_unit_float(image: np.ndarray) -> np.ndarray:
    """uint8 (0-255) or float (0-1) H x W [x C] -> float H x W x C in [0, 1]."""
    scaled = image.astype(np.float32) / 255.0 if image.dtype == np.uint8 else image.astype(np.float32)
    return scaled[:, :, None] if scaled.ndim == 2 else scaled


def like_input(result: np.ndarray, image: np.ndarray) -> np.ndarray:
    """A [0, 1] float result back in ``image``'s dtype and shape."""
    result = np.clip(result, 0.0, 1.0)
    result = result[:, :, 0] if image.ndim == 2 else result
    return np.rint(result * 255.0).astype(np.uint8) if image.dtype == np.uint8 else result.astype(image.dtype)


class RandConv(A.ImageOnlyTransform):
    """Random convolution blended with the image (see :func:`cvkit.augment.texture.random_conv`)."""

    def __init__(self, sizes: tuple[int, ...] = (1, 3, 5, 7), alpha: tuple[float, float] = (0.0, 1.0), p: float = 0.5):
        super().__init__(p=p)
        self.sizes, self.alpha = tuple(int(s) for s in sizes), (float(alpha[0]), float(alpha[1]))

    def get_params_dependent_on_data(self, params: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        channels = 1 if data["image"].ndim == 2 else data["image"].shape[2]
        size = self.sizes[int(self.random_generator.integers(len(self.sizes)))]
        kernel = self.random_generator.normal(0.0, kernel_std(size, channels), (channels, channels, size, size))
        return {"kernel": kernel, "alpha": float(self.random_generator.uniform(*self.alpha))}

    def apply(self, img: np.ndarray, kernel: np.ndarray, alpha: float, **params: Any) -> np.ndarray:
        return like_input(random_conv(as_unit_float(img), kernel, alpha), img)

    def get_transform_init_args_names(self) -> tuple[str, ...]:
        return ("sizes", "alpha")


class AmplitudeMix(A.ImageOnlyTransform):
    """Amplitude-phase recombination with the previous image this step transformed (resized to fit)."""

    def __init__(self, mix: tuple[float, float] = (1.0, 1.0), p: float = 0.5):
        super().__init__(p=p)
        self.mix = (float(mix[0]), float(mix[1]))
        self.previous: np.ndarray | None = None

    def get_params(self) -> dict[str, Any]:
        return {"mix": float(self.random_generator.uniform(*self.mix))}

    def apply(self, img: np.ndarray, mix: float, **params: Any) -> np.ndarray:
        import cv2

        image = as_unit_float(img)
        partner = image if self.previous is None else self.previous
        if partner.shape != image.shape:
            partner = cv2.resize(partner, (image.shape[1], image.shape[0]), interpolation=cv2.INTER_AREA)
            partner = partner.reshape(image.shape)
        self.previous = image
        return like_input(amplitude_mix(image, partner, mix), img)

    def get_transform_init_args_names(self) -> tuple[str, ...]:
        return ("mix",)
