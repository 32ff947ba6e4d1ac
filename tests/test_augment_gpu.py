"""CUDA checks of the GPU back-end: box geometry parity with the CPU back-end, nvJPEG decode, batch 256.

These run on any CUDA machine and skip elsewhere. The same kornia code is also checked on
CPU tensors in test_augment_geometry.py, so only the CUDA specifics live here.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (torch.cuda.is_available() is False)")]

from cvkit.augment.backends import CpuSampleAugmenter, GpuSampleAugmenter  # noqa: E402
from cvkit.augment.spec import load_spec  # noqa: E402
from cvkit.core.model import Annotation, Sample  # noqa: E402

IMAGE = np.random.default_rng(0).integers(0, 255, (100, 200, 3), dtype=np.uint8)
SAMPLE = Sample("x.png", 200, 100, objects=[Annotation("a", (20.0, 30.0, 40.0, 20.0)), Annotation("b", (150.0, 60.0, 50.0, 40.0))])


@pytest.mark.parametrize("steps", [
    [{"name": "HorizontalFlip", "p": 1.0}],
    [{"name": "VerticalFlip", "p": 1.0}, {"name": "Resize", "height": 50, "width": 400}],
    [{"name": "CenterCrop", "height": 60, "width": 100}],
    [{"name": "HorizontalFlip", "p": 1.0}, {"name": "Crop", "x_min": 10, "y_min": 0, "x_max": 190, "y_max": 100}],
])
def test_cuda_box_geometry_matches_the_cpu_backend(steps):
    spec = load_spec({"transforms": steps})
    cpu = CpuSampleAugmenter(spec, seed=0).augment_many(IMAGE, SAMPLE, 1)[0]
    gpu = GpuSampleAugmenter(spec, "cuda", seed=0).augment_many(IMAGE, SAMPLE, 2)
    for result in gpu:
        assert result.image.shape == cpu.image.shape
        assert [o.bbox for o in result.sample.objects] == [o.bbox for o in cpu.sample.objects]


def test_nvjpeg_batched_decode_matches_the_cpu_decoder(tmp_path):
    from PIL import Image

    from cvkit.augment.gpu import decode_images

    paths = []
    for i, size in enumerate([(64, 48), (100, 80), (33, 17)]):
        path = tmp_path / f"{i}.jpg"
        Image.fromarray(np.random.default_rng(i).integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)).save(path, quality=95)
        paths.append(path)
    on_gpu = decode_images(paths, "cuda")
    on_cpu = decode_images(paths, "cpu")
    for g, c in zip(on_gpu, on_cpu):
        assert g.is_cuda and g.shape == c.shape
        assert (g.cpu().float() - c.float()).abs().mean() < 2.0  # decoders may round differently


def test_batch_of_256_with_the_strong_preset():
    from cvkit.augment.gpu import GpuAugmenter

    batch = torch.randint(0, 255, (256, 3, 256, 320), dtype=torch.uint8, device="cuda")
    out = GpuAugmenter("strong", 224, "cuda", seed=0)(batch)
    assert out.shape == (256, 3, 224, 224) and out.is_cuda and out.dtype == torch.float32
