"""Training throughput: ResNet-50, 224x224, bf16, channels_last, batch 256 (issue 7).

On CUDA: (a) synthetic tensors already on the GPU (the model's ceiling) and (b) cvkit's
full pipeline from JPEG files on disk (nvJPEG decode + GPU transforms), with (b)/(a).
Without CUDA it says so and measures the CPU data pipeline instead: images/s per core
of cvkit's loader (decode + RandomResizedCrop + flip, uint8 out) against torchvision's
ImageFolder + default transforms (PIL, ToTensor, Normalize), same files, same run;
plus single-core decode speed of each decoder.

    python benchmarks/train_throughput.py [--images 512] [--workers N]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from _common import WORK


def make_jpegs(root: Path, count: int) -> Path:
    """``count`` real photos (scikit-image's samples, random crops, ~500x375) as JPEG in class folders, plus a
    manifest."""
    import skimage.data as sd
    from PIL import Image

    from cvkit.core.categories import Category, CategorySet
    from cvkit.core.model import Dataset, Sample
    from cvkit.manifest import write_manifest

    manifest = root / "manifest.jsonl"
    if manifest.exists() and len(manifest.read_text().splitlines()) == count + 1:
        return manifest
    photos = [getattr(sd, n)() for n in ("astronaut", "coffee", "chelsea", "rocket")]
    rng = np.random.default_rng(0)
    samples = []
    for i in range(count):
        photo = photos[i % len(photos)]
        h, w = photo.shape[:2]
        ch, cw = min(h, 375), min(w, 500)
        y, x = rng.integers(0, h - ch + 1), rng.integers(0, w - cw + 1)
        rel = f"class_{i % 5}/{i:05d}.jpg"
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(photo[y : y + ch, x : x + cw]).convert("RGB").save(root / rel, quality=90)
        samples.append(Sample(rel, cw, ch, "train", labels=[f"class_{i % 5}"]))
    return write_manifest(
        Dataset(samples, CategorySet([Category(i + 1, f"class_{i}") for i in range(5)]), root=root), manifest
    )


def loader_rate(loader, passes: int = 2) -> float:
    """Images/s over ``passes`` full passes (after one warm-up batch)."""
    it = iter(loader)
    next(it)
    count, start = 0, time.perf_counter()
    for _ in range(passes):
        for images, _ in loader:
            count += len(images)
    return count / (time.perf_counter() - start)


def cpu_pipeline(manifest: Path, workers: int) -> None:
    import torch
    import torchvision
    from torchvision import transforms as T

    from cvkit.train.config import TrainConfig
    from cvkit.train.data import (
        DECODER_ORDER,
        ManifestDataset,
        available_decoders,
        decode_image,
        default_transform,
        load_items,
    )

    items = load_items(manifest)
    files = [p for p, _, _ in items.items]
    print(f"\nsingle-core decode of {len(files)} JPEGs (~500x375):")
    torch.set_num_threads(1)
    for name in available_decoders():
        decode_image(files[0], name)
        start = time.perf_counter()
        for f in files:
            decode_image(f, name)
        print(f"  {name:<12}{len(files) / (time.perf_counter() - start):8.0f} img/s")
    print(f"  (cvkit's order of preference: {', '.join(DECODER_ORDER)})")

    cfg = TrainConfig("resnet50", str(manifest))
    rows = {}
    for decoder in available_decoders():
        dataset = ManifestDataset(items.items, len(items.class_names), default_transform(224, True), decoder)
        loader = torch.utils.data.DataLoader(
            dataset,
            batch_size=64,
            shuffle=True,
            num_workers=workers,
            persistent_workers=True,
            prefetch_factor=cfg.prefetch_factor,
        )
        rows[f"cvkit ({decoder}, uint8)"] = loader_rate(loader)
    tv_transform = T.Compose(
        [
            T.RandomResizedCrop(224),
            T.RandomHorizontalFlip(),
            T.ToTensor(),
            T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
        ]
    )
    folder = torchvision.datasets.ImageFolder(str(manifest.parent), transform=tv_transform)
    loader = torch.utils.data.DataLoader(
        folder, batch_size=64, shuffle=True, num_workers=workers, persistent_workers=True
    )
    rows["torchvision ImageFolder"] = loader_rate(loader)
    base = rows["torchvision ImageFolder"]
    print(f"\nCPU data pipeline, {workers} worker(s), RandomResizedCrop(224) + flip, {len(files)} JPEGs x 2 passes:")
    print(f"{'pipeline':<32}{'img/s':>10}{'img/s/core':>12}{'vs ImageFolder':>16}")
    for name, rate in rows.items():
        print(f"{name:<32}{rate:>10.0f}{rate / workers:>12.0f}{rate / base:>15.2f}x")


def gpu_benchmarks(manifest: Path, workers: int, steps: int) -> None:
    import torch
    import torchvision

    device = torch.device("cuda")
    model = torchvision.models.resnet50(num_classes=1000).to(device, memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x = torch.randn(256, 3, 224, 224, device=device).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 1000, (256,), device=device)

    def step() -> None:
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = torch.nn.functional.cross_entropy(model(x).float(), y)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    for _ in range(10):
        step()
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    torch.cuda.synchronize()
    synthetic = 256 * steps / (time.perf_counter() - start)

    from cvkit.train.config import TrainConfig
    from cvkit.train.trainer import train

    out = WORK / "train_runs" / "resnet50"
    cfg = TrainConfig(
        "resnet50",
        str(manifest),
        output=str(out),
        epochs=2,
        batch_size=256,
        image_size=224,
        workers=workers,
        device="cuda",
        precision="bf16",
        channels_last=True,
        max_steps_per_epoch=steps,
        overwrite=True,
        optimizer="sgd",
        lr=0.1,
    )
    summary = train(cfg)
    pipeline = summary["last"]["images_per_s"]  # epoch 2: workers and cuDNN already warm
    print(f"\nGPU: {torch.cuda.get_device_name(0)}; ResNet-50 224x224 bf16 channels_last batch 256")
    print(f"(a) synthetic tensors on the GPU : {synthetic:8.0f} img/s")
    print(
        f"(b) cvkit pipeline from JPEG     : {pipeline:8.0f} img/s   (b)/(a) = {pipeline / synthetic:.2f}  (goal >= "
        "0.9 and >= 3,600 on one H100)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=512)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--steps", type=int, default=30)
    args = parser.parse_args()
    import torch

    from cvkit.cli.process import torch_sharing_from_env

    torch_sharing_from_env()  # as `cvkit train` does: machines that refuse descriptor passing set CVKIT_TORCH_SHARING

    manifest = make_jpegs(
        WORK / "train_jpegs", args.images if not torch.cuda.is_available() else max(args.images, 256 * (args.steps + 1))
    )
    if torch.cuda.is_available():
        gpu_benchmarks(manifest, args.workers or min(16, os.cpu_count() or 1), args.steps)
    else:
        print(
            "no CUDA device here: GPU figures (synthetic ceiling and full pipeline) need a CUDA machine; measuring "
            "the CPU data pipeline"
        )
        cpu_pipeline(manifest, args.workers or 1)


if __name__ == "__main__":
    main()
