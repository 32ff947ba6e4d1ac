"""The GPU back-end on every device: box geometry parity with the CPU back-end, batched decode, a full batch.

Each test runs on the CPU everywhere and on CUDA where there is a GPU (``cpu_and_cuda()``,
tests/device_params.py): the CPU run checks the code paths (kornia on CPU tensors, the CPU
decoder fallback), the CUDA run the kernels (nvJPEG, kornia on the GPU, batch 256).
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from cvkit.augment.backends import CpuSampleAugmenter, GpuSampleAugmenter  # noqa: E402
from cvkit.augment.spec import load_spec  # noqa: E402
from cvkit.core.model import Annotation, Sample  # noqa: E402
from device_params import cpu_and_cuda  # noqa: E402

IMAGE = np.random.default_rng(0).integers(0, 255, (100, 200, 3), dtype=np.uint8)
SAMPLE = Sample(
    "x.png", 200, 100, objects=[Annotation("a", (20.0, 30.0, 40.0, 20.0)), Annotation("b", (150.0, 60.0, 50.0, 40.0))]
)


@pytest.mark.parametrize("device", cpu_and_cuda())
@pytest.mark.parametrize(
    "steps",
    [
        [{"name": "HorizontalFlip", "p": 1.0}],
        [{"name": "VerticalFlip", "p": 1.0}, {"name": "Resize", "height": 50, "width": 400}],
        [{"name": "CenterCrop", "height": 60, "width": 100}],
        [{"name": "HorizontalFlip", "p": 1.0}, {"name": "Crop", "x_min": 10, "y_min": 0, "x_max": 190, "y_max": 100}],
    ],
)
def test_gpu_backend_box_geometry_matches_the_cpu_backend(steps, device):
    spec = load_spec({"transforms": steps})
    cpu = CpuSampleAugmenter(spec, seed=0).augment_many(IMAGE, SAMPLE, 1)[0]
    gpu = GpuSampleAugmenter(spec, device, seed=0).augment_many(IMAGE, SAMPLE, 2)
    for result in gpu:
        assert result.image.shape == cpu.image.shape
        assert [o.bbox for o in result.sample.objects] == [o.bbox for o in cpu.sample.objects]


@pytest.mark.parametrize("device", cpu_and_cuda())
def test_batched_decode_matches_the_cpu_decoder(tmp_path, device):
    from PIL import Image

    from cvkit.augment.gpu import decode_images

    # photo-like pixels (smooth gradients, mild noise): on pure noise with 4:2:0 chroma, decoders' chroma
    # upsampling (libjpeg's fancy upsampling against nvJPEG's) differs by tens of levels, as it is allowed to
    paths = []
    for i, (size, subsampling) in enumerate([((64, 48), 0), ((100, 80), 2), ((33, 17), 0), ((96, 64), 2)]):
        rng = np.random.default_rng(i)
        ys, xs = np.mgrid[0 : size[1], 0 : size[0]]
        smooth = np.stack([xs * 255 / size[0], ys * 255 / size[1], (xs + ys) * 127 / sum(size)], axis=-1)
        pixels = np.clip(smooth + rng.normal(0, 4, smooth.shape), 0, 255).astype(np.uint8)
        path = tmp_path / f"{i}.jpg"
        Image.fromarray(pixels).save(path, quality=95, subsampling=subsampling)
        paths.append(path)
    on_device = decode_images(paths, device)
    on_cpu = [torch.from_numpy(np.array(Image.open(path).convert("RGB"))).permute(2, 0, 1) for path in paths]
    for g, c in zip(on_device, on_cpu):
        assert g.device.type == device and g.shape == c.shape
        assert (g.cpu().float() - c.float()).abs().mean() < 2.0  # IDCTs and colour conversions may round differently


@pytest.mark.parametrize("device", cpu_and_cuda())
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_box_safe_crop_after_a_gpu_step_keeps_every_box_whole(device, seed):
    """BoxSafeCrop has no kornia kernel: the CPU fallback gets the boxes where the GPU steps moved them."""
    spec = load_spec({"transforms": [{"name": "HorizontalFlip", "p": 1.0}, {"name": "BoxSafeCrop", "p": 1.0}]})
    results = GpuSampleAugmenter(spec, device, seed=seed).augment_many(IMAGE, SAMPLE, 3)
    for result in results:
        height, width = result.image.shape[:2]
        assert result.boxes_lost == 0 and (height, width) != IMAGE.shape[:2]  # a crop happened, nothing lost
        boxes = {o.label: o.bbox for o in result.sample.objects}
        # a crop without resize keeps box sizes; both boxes lie wholly inside the crop
        assert [boxes["a"][2:], boxes["b"][2:]] == [(40.0, 20.0), (50.0, 40.0)]
        for x, y, w, h in boxes.values():
            assert x >= 0 and y >= 0 and x + w <= width and y + h <= height
        # the flipped boxes keep their distance: b's right edge (flipped to x=0..50) sits left of a's
        assert boxes["a"][0] - boxes["b"][0] == pytest.approx((200 - 20 - 40) - (200 - 150 - 50))


@pytest.mark.parametrize("device", cpu_and_cuda())
def test_a_full_batch_with_the_strong_preset(device):
    from cvkit.augment.gpu import GpuAugmenter

    size = 256 if device == "cuda" else 4  # the CPU run checks the path, CUDA the batch size
    batch = torch.randint(0, 255, (size, 3, 256, 320), dtype=torch.uint8, device=device)
    out = GpuAugmenter("strong", 224, device, seed=0)(batch)
    assert out.shape == (size, 3, 224, 224) and out.device.type == device and out.dtype == torch.float32
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0
