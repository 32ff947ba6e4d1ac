"""The trainer's device paths on every device: GPU batches (decode + transform once), bf16 autocast, channels-last,
EMA, gradient clipping, accumulation and early stopping. CPU always; CUDA where there is one
(tests/device_params.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from cvkit.cli import app

torch = pytest.importorskip("torch")
from device_params import cpu_and_cuda  # noqa: E402
from train_fixtures import digit_folder  # noqa: E402

runner = CliRunner()
SIZE = 32


def _halves(path: Path, fmt: str) -> Path:
    """A square image, bright left half and dark right half: a horizontal flip is visible in its left column."""
    from PIL import Image

    pixels = np.zeros((SIZE, SIZE, 3), dtype=np.uint8)
    pixels[:, : SIZE // 2] = 250
    Image.fromarray(pixels).save(path, format=fmt, quality=95)
    return path


@pytest.mark.parametrize("device", cpu_and_cuda())
def test_gpu_batches_augment_non_jpeg_images_once_like_jpeg_ones(tmp_path: Path, device: str):
    from cvkit.train.config import TrainConfig
    from cvkit.train.data import AugmentTransform, GpuJpegBatches, ManifestDataset

    spec = tmp_path / "flip.json"
    spec.write_text(json.dumps({"transforms": [{"name": "HorizontalFlip", "p": 1.0}]}))
    cfg = TrainConfig("small_cnn", "m.jsonl", aug=str(spec), image_size=SIZE)
    items = [(str(_halves(tmp_path / "a.jpg", "JPEG")), 0, None), (str(_halves(tmp_path / "b.png", "PNG")), 0, None)]
    dataset = ManifestDataset(items, 1, AugmentTransform(str(spec), SIZE, True), encoded=True)
    batch = GpuJpegBatches(cfg, torch.device(device), train=True)([dataset[0][0], dataset[1][0]])
    assert batch.shape == (2, 3, SIZE, SIZE)
    left, right = batch[:, :, :, : SIZE // 4].mean(dim=(1, 2, 3)), batch[:, :, :, -SIZE // 4 :].mean(dim=(1, 2, 3))
    assert (left < 0.1).all() and (
        right > 0.9
    ).all()  # flipped once: the bright half is now on the right, for both files
    assert (batch[0] - batch[1]).abs().mean() < 0.02  # the PNG comes out as the JPEG does (JPEG rounding aside)


@pytest.mark.parametrize("device", cpu_and_cuda())
def test_gpu_batches_without_aug_resize_and_crop_every_image(tmp_path: Path, device: str):
    from cvkit.train.config import TrainConfig
    from cvkit.train.data import GpuJpegBatches, ManifestDataset, eval_transform

    cfg = TrainConfig("small_cnn", "m.jsonl", aug="none", image_size=16)
    items = [(str(_halves(tmp_path / "a.jpg", "JPEG")), 0, None), (str(_halves(tmp_path / "b.png", "PNG")), 0, None)]
    dataset = ManifestDataset(items, 1, eval_transform(16), encoded=True)
    assert dataset[0][0].dim() == 1 and dataset[1][0].shape == (3, SIZE, SIZE)  # JPEG bytes; the PNG decoded, untouched
    batch = GpuJpegBatches(cfg, torch.device(device), train=False)([dataset[0][0], dataset[1][0]])
    assert batch.shape == (2, 3, 16, 16) and batch.dtype == torch.uint8 and batch.device.type == device
    assert (batch[1].cpu() == eval_transform(16)(dataset[1][0])).all()


@pytest.mark.parametrize("device", cpu_and_cuda())
def test_decode_images_falls_back_to_the_cpu_decoder_for_non_jpeg_files(tmp_path: Path, device: str):
    from PIL import Image

    from cvkit.augment.gpu import decode_images

    paths = [_halves(tmp_path / "a.png", "PNG"), _halves(tmp_path / "b.jpg", "JPEG")]
    decoded = decode_images(paths, device)
    for path, image in zip(paths, decoded):
        expected = torch.from_numpy(np.array(Image.open(path).convert("RGB"))).permute(2, 0, 1)
        assert image.device.type == device and image.shape == expected.shape
        assert (
            image.cpu().float() - expected.float()
        ).abs().mean() < 2.0  # PNG exact, JPEG decoders may round differently
    assert torch.equal(
        decoded[0].cpu(), torch.from_numpy(np.array(Image.open(paths[0]).convert("RGB"))).permute(2, 0, 1)
    )


class _Recorder(torch.nn.Module):
    """A conv + linear model that records the input memory format and the conv output dtype of each forward."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3, padding=1)
        self.fc = torch.nn.Linear(4, 2)
        self.seen: list[tuple[bool, torch.dtype]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hidden = self.conv(x)
        self.seen.append((x.is_contiguous(memory_format=torch.channels_last), hidden.dtype))
        return self.fc(hidden.mean(dim=(2, 3)))


def _batches(count: int, size: int, seed: int = 0) -> list[tuple[torch.Tensor, torch.Tensor]]:
    generator = torch.Generator().manual_seed(seed)
    return [
        (
            torch.randint(0, 255, (size, 3, 8, 8), dtype=torch.uint8, generator=generator),
            torch.randint(0, 2, (size,), generator=generator),
        )
        for _ in range(count)
    ]


class _NoSchedule:
    lr = 1.0

    def after_step(self) -> None:
        pass


def _one_epoch(model: torch.nn.Module, batches: list, device: str, **ctx_options) -> dict:
    from cvkit.train.loop import StepContext, train_one_epoch

    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    ctx = StepContext(torch.device(device), **ctx_options)
    return train_one_epoch(model, model, batches, torch.nn.CrossEntropyLoss(), optimizer, _NoSchedule(), None, ctx)


@pytest.mark.parametrize("device", cpu_and_cuda())
def test_bf16_autocast_and_channels_last_reach_the_model(device: str):
    torch.manual_seed(0)
    model = _Recorder().to(device)
    stats = _one_epoch(model, _batches(2, 4), device, amp_dtype=torch.bfloat16, channels_last=True)
    assert model.seen == [(True, torch.bfloat16)] * 2 and stats["steps"] == 2 and np.isfinite(stats["loss"])
    plain = _Recorder().to(device)
    _one_epoch(plain, _batches(1, 4), device, amp_dtype=None, channels_last=False)
    assert plain.seen == [(False, torch.float32)]


@pytest.mark.parametrize("device", cpu_and_cuda())
def test_two_accumulated_half_batches_take_the_step_of_one_whole_batch(device: str):
    torch.manual_seed(0)
    whole = torch.nn.Linear(3 * 8 * 8, 2).to(device)
    halves = torch.nn.Linear(3 * 8 * 8, 2).to(device)
    halves.load_state_dict(whole.state_dict())
    flat = torch.nn.Flatten()
    ((images, labels),) = _batches(1, 8)
    steps = _one_epoch(
        torch.nn.Sequential(flat, whole), [(images, labels)], device, amp_dtype=None, channels_last=False
    )["steps"]
    split = [(images[:4], labels[:4]), (images[4:], labels[4:])]
    accumulated = _one_epoch(
        torch.nn.Sequential(flat, halves), split, device, amp_dtype=None, channels_last=False, accum_steps=2
    )["steps"]
    assert steps == accumulated == 1
    for a, b in zip(whole.parameters(), halves.parameters()):
        assert torch.allclose(a, b, atol=1e-5)


@pytest.mark.parametrize("device", cpu_and_cuda())
def test_clip_grad_bounds_the_step_and_ema_follows_every_optimiser_step(device: str):
    from cvkit.train.ema import ModelEma
    from cvkit.train.loop import StepContext, train_one_epoch

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 8 * 8, 2)).to(device)
    before = torch.cat([p.detach().flatten().clone() for p in model.parameters()])
    ema = ModelEma(model, 0.999)
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)  # plain SGD: the step is -lr * (clipped) gradient
    ctx = StepContext(torch.device(device), None, False, clip_grad=1e-3)
    stats = train_one_epoch(
        model, model, _batches(3, 4), torch.nn.CrossEntropyLoss(), optimizer, _NoSchedule(), None, ctx, ema
    )
    after = torch.cat([p.detach().flatten() for p in model.parameters()])
    assert float((after - before).norm()) <= 3 * 1e-3 + 1e-6  # three steps of norm at most 1e-3 each
    assert ema.updates == stats["steps"] == 3


@pytest.mark.parametrize("device", cpu_and_cuda())
def test_patience_stops_a_run_that_stopped_improving_and_zero_means_off(tmp_path: Path, device: str):
    manifest = digit_folder(tmp_path / "d", 48, 16)
    common = [
        "train",
        "small_cnn",
        str(manifest),
        "--epochs",
        "3",
        "-b",
        "16",
        "--image-size",
        "28",
        "--device",
        device,
        "--workers",
        "0",
        "--lr",
        "0",
        "--aug",
        "none",
        "--json",
    ]  # learning rate 0: epoch 1 is the best there will be
    stopped = json.loads(runner.invoke(app, [*common, "-o", str(tmp_path / "p1"), "--patience", "1"]).stdout)
    assert stopped["stopped_early"] and stopped["epochs"] == 2 and stopped["best_epoch"] == 1
    off = runner.invoke(app, [*common, "-o", str(tmp_path / "p0"), "--patience", "0"])
    assert off.exit_code == 0, off.output
    assert not json.loads(off.stdout)["stopped_early"] and json.loads(off.stdout)["epochs"] == 3
    refused = runner.invoke(app, [*common, "-o", str(tmp_path / "pn"), "--patience", "-1"])
    assert refused.exit_code == 2 and "--patience must be >= 0 (0: no early stopping)" in refused.stderr


@pytest.mark.parametrize("device", cpu_and_cuda())
def test_worker_batches_travel_packed_and_unpack_to_the_same_images(tmp_path: Path, device: str):
    """Two tensors a batch cross from the DataLoader workers (not one per image), and give the same pixels."""
    from cvkit.train.config import TrainConfig
    from cvkit.train.data import GpuJpegBatches, ManifestDataset, PackedImages, eval_transform, make_loader

    cfg = TrainConfig("small_cnn", "m.jsonl", aug="none", image_size=16)
    files = [_halves(tmp_path / f"{i}.{'jpg' if i % 2 else 'png'}", "JPEG" if i % 2 else "PNG") for i in range(6)]
    dataset = ManifestDataset([(str(f), 0, None) for f in files], 1, eval_transform(16), encoded=True)
    loader = make_loader(dataset, 4, None, workers=2, pin_memory=False, prefetch_factor=2, seed=0)
    batches = list(loader)
    assert [len(targets) for _, targets in batches] == [4, 2]
    gpu = GpuJpegBatches(cfg, torch.device(device), train=False)
    for index, (packed, _) in enumerate(batches):
        assert isinstance(packed, PackedImages) and packed.data.dim() == 1
        alone = [dataset[i][0] for i in range(index * 4, min(index * 4 + 4, len(files)))]
        assert [(a.shape, bool((a == b).all())) for a, b in zip(alone, packed.unpack())] == [
            (a.shape, True) for a in alone
        ]
        assert (gpu(packed) == gpu(alone)).all()
