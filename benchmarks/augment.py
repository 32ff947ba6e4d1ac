"""Augmentation throughput: cvkit CPU back-end vs plain albumentations vs torchvision.transforms.v2.

Images/s for the ``imagenet`` and ``strong`` presets at 224x224 from real photos (the
scikit-image sample photos), single thread, every tool in its own process in the same
run, ratios printed. The GPU back-end (nvJPEG decode + ``strong``, batch 256, per-image
parameters) is measured only where CUDA is present.

    PYTHONPATH=src python benchmarks/augment.py [--seconds 3] [--repeat 3]

The albumentations and torchvision pipelines are written out by hand with the same
transforms and parameter ranges as the presets (torchvision has no HSV shift: its
ColorJitter with comparable hue/saturation/brightness ranges stands in).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

from _common import print_table

PHOTOS = (
    "astronaut.png",
    "coffee.png",
    "chelsea.png",
    "rocket.jpg",
    "motorcycle_left.png",
    "motorcycle_right.png",
    "hubble_deep_field.jpg",
    "retina.jpg",
)
TOOLS = ("cvkit-cpu", "albumentations", "torchvision-v2")
SINGLE_THREAD = {
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1",
}


def photos() -> list:
    import numpy as np
    import skimage
    from PIL import Image

    folder = os.path.join(os.path.dirname(skimage.__file__), "data")
    images = []
    for name in PHOTOS:
        with Image.open(os.path.join(folder, name)) as img:
            images.append(np.ascontiguousarray(np.asarray(img.convert("RGB"))))
    return images


def albumentations_pipeline(preset: str):
    import albumentations as A

    rrc_scale = (0.08, 1.0) if preset == "imagenet" else (0.25, 1.0)
    steps = [A.RandomResizedCrop(size=(224, 224), scale=rrc_scale, ratio=(0.75, 4 / 3), p=1.0), A.HorizontalFlip(p=0.5)]
    if preset == "strong":
        steps += [
            A.Affine(scale=(0.9, 1.1), translate_percent=(-0.1, 0.1), rotate=(-15, 15), shear=(-5, 5), p=0.5),
            A.HueSaturationValue((-10, 10), (-30, 30), (-30, 30), p=0.8),
            A.GaussNoise(std_range=(0.02, 0.08), per_channel=True, p=0.3),
            A.GaussianBlur(blur_limit=(5, 5), sigma_limit=(0.1, 2.0), p=0.2),
            A.Erasing(scale=(0.02, 0.2), ratio=(0.3, 3.3), fill=0, p=0.25),
        ]
    compose = A.Compose(steps, seed=0)
    return lambda image: compose(image=image)["image"]


def torchvision_pipeline(preset: str):
    import torch
    from torchvision.transforms import v2

    rrc_scale = (0.08, 1.0) if preset == "imagenet" else (0.25, 1.0)
    steps = [
        v2.RandomResizedCrop(224, scale=rrc_scale, ratio=(0.75, 4 / 3), antialias=True),
        v2.RandomHorizontalFlip(0.5),
    ]
    if preset == "strong":
        steps += [
            v2.RandomApply([v2.RandomAffine(degrees=15, translate=(0.1, 0.1), scale=(0.9, 1.1), shear=5)], p=0.5),
            v2.RandomApply([v2.ColorJitter(brightness=0.12, saturation=0.12, hue=0.055)], p=0.8),
            v2.ToDtype(torch.float32, scale=True),
            v2.RandomApply([v2.GaussianNoise(sigma=0.05)], p=0.3),
            v2.RandomApply([v2.GaussianBlur(5, sigma=(0.1, 2.0))], p=0.2),
            v2.RandomErasing(p=0.25, scale=(0.02, 0.2), ratio=(0.3, 3.3)),
        ]
    pipeline = v2.Compose(steps)
    return lambda image: pipeline(image)


def worker(tool: str, preset: str, seconds: float) -> dict[str, float]:
    """Throughput of one tool in this process: warm up, then as many images as fit in ``seconds``."""
    import cv2
    import torch

    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    images = photos()
    if tool == "cvkit-cpu":
        from cvkit.augment import classification_transform

        fn = classification_transform(preset, 224, seed=0)
    elif tool == "albumentations":
        fn = albumentations_pipeline(preset)
    else:
        fn = torchvision_pipeline(preset)
        images = [torch.from_numpy(i).permute(2, 0, 1).contiguous() for i in images]
    for image in images * 3:
        fn(image)
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for image in images:
            fn(image)
        count += len(images)
    elapsed = time.perf_counter() - start
    return {"images_per_s": count / elapsed, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def gpu_worker(seconds: float, batch: int = 256) -> dict[str, float] | None:
    """cvkit GPU: nvJPEG batch decode + ``strong`` at 224, per-image parameters, ``batch`` images a step."""
    import io

    import torch
    from PIL import Image

    if not torch.cuda.is_available():
        return None
    from cvkit.augment.gpu import GpuAugmenter, decode_images, stack_resized

    folder = os.path.join(os.environ.get("TMPDIR", "/tmp"), "cvkit_bench_jpeg")
    os.makedirs(folder, exist_ok=True)
    paths = []
    for i, image in enumerate(photos()):
        buf = io.BytesIO()
        Image.fromarray(image).save(buf, format="JPEG", quality=90)
        path = os.path.join(folder, f"{i}.jpg")
        with open(path, "wb") as handle:
            handle.write(buf.getvalue())
        paths.append(path)
    batch_paths = (paths * (batch // len(paths) + 1))[:batch]
    augmenter = GpuAugmenter("strong", 224, "cuda", seed=0)

    def step() -> None:
        stack_resized(decode_images(batch_paths, "cuda"), augmenter)

    step()
    torch.cuda.synchronize()
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        step()
        torch.cuda.synchronize()
        count += batch
    elapsed = time.perf_counter() - start
    return {"images_per_s": count / elapsed, "peak_mb": torch.cuda.max_memory_allocated() / 2**20}


def same_outputs() -> bool:
    """Proof the comparison is like for like: same seed, same transforms -> byte-identical images."""
    import numpy as np

    from cvkit.augment import classification_transform

    images = photos()
    for preset in ("imagenet", "strong"):
        ours, plain = classification_transform(preset, 224, seed=0), albumentations_pipeline(preset)
        if not all(np.array_equal(ours(i), plain(i)) for i in images * 2):
            return False
    return True


def measure(tool: str, preset: str, seconds: float) -> dict[str, float]:
    env = {**os.environ, **SINGLE_THREAD}
    out = subprocess.run(
        [sys.executable, __file__, "--worker", tool, "--preset", preset, "--seconds", str(seconds)],
        capture_output=True,
        text=True,
        env=env,
    )
    if out.returncode:
        raise RuntimeError(f"{tool} {preset} failed: {out.stderr[-600:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--worker")
    parser.add_argument("--preset", default="imagenet")
    args = parser.parse_args()
    if args.worker:
        result = (
            gpu_worker(args.seconds) if args.worker == "cvkit-gpu" else worker(args.worker, args.preset, args.seconds)
        )
        print(json.dumps(result))
        return
    print(
        f"photos: {', '.join(PHOTOS)} (scikit-image); output 224x224; single thread; best of {args.repeat} x "
        f"{args.seconds:g} s"
    )
    print(
        "cvkit CPU and the hand-built albumentations pipelines give identical images for the same seed: "
        f"{same_outputs()}"
    )
    for preset in ("imagenet", "strong"):
        best: dict[str, dict[str, float]] = {}
        for _ in range(args.repeat):  # interleaved, so drift on a shared machine hits every tool alike
            for tool in TOOLS:
                run = measure(tool, preset, args.seconds)
                if tool not in best or run["images_per_s"] > best[tool]["images_per_s"]:
                    best[tool] = run
        rows = {tool: {"seconds": 1000.0 / r["images_per_s"], "peak_mb": r["peak_mb"]} for tool, r in best.items()}
        print_table(f"preset {preset}: seconds per 1,000 images (lower is better)", rows, baseline="cvkit-cpu")
        base = best["cvkit-cpu"]["images_per_s"]
        for tool, r in best.items():
            print(
                f"  {tool:<18}{r['images_per_s']:>10.0f} images/s   cvkit-cpu / {tool}: {base / r['images_per_s']:.2f}"
            )
    gpu = measure("cvkit-gpu", "strong", args.seconds)
    if gpu is None:
        print("\ncvkit GPU back-end: not measured, no CUDA GPU on this machine")
    else:
        cpu = best["cvkit-cpu"]["images_per_s"]
        print(
            f"\ncvkit GPU (nvJPEG decode + strong, batch 256): {gpu['images_per_s']:.0f} images/s, "
            f"{gpu['images_per_s'] / cpu:.1f}x the single-thread CPU back-end; peak GPU memory {gpu['peak_mb']:.0f} MB"
        )


if __name__ == "__main__":
    main()
