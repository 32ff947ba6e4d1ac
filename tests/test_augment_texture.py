"""RandConv and AmplitudeMix: their defining properties on a real photo, and the CPU (albumentations/NumPy) and
GPU (torch/kornia, run on CPU tensors) back-ends computing the same thing."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("kornia")
skimage_data = pytest.importorskip("skimage.data")

from cvkit.augment import texture, texture_gpu  # noqa: E402
from cvkit.augment.cpu import classification_transform  # noqa: E402
from cvkit.augment.gpu import GpuAugmenter  # noqa: E402
from cvkit.augment.texture_albu import AmplitudeMix, RandConv  # noqa: E402

#: real photos (bundled with scikit-image), 48 x 64 crops
CAT = skimage_data.chelsea()[100:148, 150:214]
COFFEE = skimage_data.coffee()[200:248, 250:314]


def unit(image: np.ndarray) -> np.ndarray:
    return image.astype(np.float64) / 255.0


def as_batch(*images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).double()


def test_amplitude_mix_keeps_the_phase_and_takes_the_partners_amplitude():
    cat, coffee = unit(CAT), unit(COFFEE)
    swapped = texture.amplitude_mix(cat, coffee, 1.0)
    spectrum, original = np.fft.fft2(swapped, axes=(0, 1)), np.fft.fft2(cat, axes=(0, 1))
    nonzero = np.abs(spectrum) > 1e-9 * np.abs(spectrum).max()
    assert nonzero.mean() > 0.99
    assert np.allclose(np.exp(1j * np.angle(spectrum))[nonzero], np.exp(1j * np.angle(original))[nonzero], atol=1e-6)
    assert np.allclose(np.abs(spectrum), np.abs(np.fft.fft2(coffee, axes=(0, 1))), atol=1e-6)
    assert np.allclose(texture.amplitude_mix(cat, coffee, 0.0), cat)  # mix 0: the image itself
    assert not np.allclose(swapped, cat, atol=0.05)


def test_randconv_with_a_1x1_identity_kernel_returns_the_image():
    identity = np.eye(3)[:, :, None, None]
    assert np.allclose(texture.random_conv(unit(CAT), identity, 0.3), unit(CAT), atol=1e-6)
    step = RandConv(p=1.0)
    assert np.array_equal(step.apply(CAT, kernel=identity, alpha=0.3), CAT)


def test_randconv_blends_by_alpha_with_a_hand_made_kernel():
    image = np.zeros((3, 3, 1))
    image[1, 1, 0] = 1.0  # one white pixel on black: [-1, 1] scale is -1 everywhere but the centre (+1)
    box = np.full((1, 1, 3, 3), 0.1)  # a 3x3 box of 0.1: the centre sees 8 x (-1) + 1 = -7 -> -0.7
    out = texture.random_conv(image, box, 0.5)
    assert out[1, 1, 0] == pytest.approx(0.5 * 1.0 + 0.5 * (-0.7 + 1) / 2)
    corner = 0.1 * (-1 * 3 + 1)  # the corner's window: 3 image pixels at -1, the centre +1, 5 zero-padded
    assert out[0, 0, 0] == pytest.approx(0.5 * 0.0 + 0.5 * (corner + 1) / 2)


@pytest.mark.parametrize("size", [1, 3, 5, 7])
def test_cpu_and_gpu_randconv_agree(size: int):
    rng = np.random.default_rng(size)
    kernel = rng.normal(0.0, texture.kernel_std(size, 3), (3, 3, size, size))
    padded = torch.zeros(1, 3, 3, texture_gpu.MAX_KERNEL, texture_gpu.MAX_KERNEL, dtype=torch.float64)
    start = (texture_gpu.MAX_KERNEL - size) // 2
    padded[0, :, :, start : start + size, start : start + size] = torch.from_numpy(kernel)
    cpu = texture.random_conv(unit(CAT), kernel, 0.25)
    gpu = texture_gpu.random_conv(as_batch(unit(CAT)), padded, torch.tensor([0.25]))
    assert np.allclose(gpu[0].permute(1, 2, 0).numpy(), cpu, atol=1e-5)
    # the kornia module and the albumentations step, given the same draw, give the same uint8 image (+-1 rounding)
    module = texture_gpu.RandomConv(p=1.0)
    params = {"kernels": padded.float(), "alpha": torch.tensor([0.25])}
    on_gpu = module.apply_transform(as_batch(unit(CAT)).float(), params, {})[0].permute(1, 2, 0).numpy()
    on_cpu = RandConv(p=1.0).apply(CAT, kernel=kernel, alpha=0.25)
    assert np.abs(np.rint(on_gpu * 255).astype(int) - on_cpu.astype(int)).max() <= 1


def test_cpu_and_gpu_amplitude_mix_agree():
    mixed = texture.amplitude_mix(unit(CAT), unit(COFFEE), 0.7)
    batch = texture_gpu.amplitude_mix(as_batch(unit(CAT)), as_batch(unit(COFFEE)), torch.tensor([0.7]))
    assert np.allclose(batch[0].permute(1, 2, 0).numpy(), mixed, atol=1e-6)
    # the kornia module's partner is the previous image of the batch, the CPU step's the previous image it saw
    module = texture_gpu.RandomAmplitudeMix(p=1.0)
    on_gpu = module.apply_transform(as_batch(unit(COFFEE), unit(CAT)).float(), {"mix": torch.tensor([0.7, 0.7])}, {})
    step = AmplitudeMix(p=1.0)
    assert np.array_equal(step.apply(COFFEE, mix=0.7), COFFEE)  # the first image has only itself as partner
    on_cpu = step.apply(CAT, mix=0.7)
    assert np.abs(np.rint(on_gpu[1].permute(1, 2, 0).numpy() * 255).astype(int) - on_cpu.astype(int)).max() <= 1


def test_the_texture_preset_runs_on_both_backends():
    image = skimage_data.chelsea()
    out = classification_transform("texture", 32, seed=0)(image)
    assert out.shape == (32, 32, 3) and out.dtype == np.uint8
    batch = torch.from_numpy(image).permute(2, 0, 1)[None].repeat(4, 1, 1, 1)
    augmented = GpuAugmenter("texture", 32, "cpu", seed=0)(batch)
    assert augmented.shape == (4, 3, 32, 32) and float(augmented.min()) >= 0.0 and float(augmented.max()) <= 1.0
    steps = [{"name": "RandConv", "p": 1.0}, {"name": "AmplitudeMix", "p": 1.0, "mix": [1.0, 1.0]}]
    assert classification_transform(steps, 32, seed=1)(image).shape == (32, 32, 3)
