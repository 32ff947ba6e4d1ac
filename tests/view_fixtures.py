"""A small real-photo dataset for the viewer's tests: every shape the page draws, two splits, labels, attributes."""

from __future__ import annotations

from pathlib import Path

from cvkit.core.categories import Category, CategorySet
from cvkit.core.model import Annotation, Dataset, Sample
from cvkit.manifest import write_manifest

CLASSES = ["person", "cup", "cat", "rocket", "flag"]


def skimage_photo(name: str) -> Path:
    """A photo shipped in the scikit-image wheel (the demo extra), real pixels with no download."""
    import pytest

    skimage = pytest.importorskip("skimage")
    return Path(skimage.__file__).parent / "data" / name


def photo_manifest(folder: Path) -> Path:
    """A manifest of 4 photos: boxes of every COCO size, a polygon, an RLE mask, keypoints, points, an image label."""
    from PIL import Image

    from cvkit.core.masks import polygons_to_rle

    folder.mkdir(parents=True, exist_ok=True)
    samples = []
    for name in ("astronaut.png", "coffee.png", "chelsea.png", "rocket.jpg"):
        source = skimage_photo(name)
        target = folder / "images" / name
        target.parent.mkdir(exist_ok=True)
        target.write_bytes(source.read_bytes())
        with Image.open(target) as image:
            width, height = image.size
        samples.append(Sample(f"images/{name}", width, height))
    astronaut, coffee, chelsea, rocket = samples
    astronaut.split, coffee.split, chelsea.split, rocket.split = "train", "train", "val", "val"
    astronaut.objects = [
        Annotation("person", (140.0, 20.0, 300.0, 490.0), attributes={"occluded": False}),  # large
        Annotation(
            "person",
            (170.0, 40.0, 60.0, 80.0),
            shape="keypoints",
            keypoints=[200.0, 60.0, 2.0, 220.0, 70.0, 2.0, 0.0, 0.0, 0.0],
        ),  # medium
        Annotation("flag", (10.0, 10.0, 20.0, 20.0)),  # small
    ]
    coffee.objects = [
        Annotation(
            "cup",
            (150.0, 80.0, 300.0, 220.0),
            shape="polygon",
            polygon=[[150.0, 80.0, 450.0, 80.0, 450.0, 300.0, 150.0, 300.0]],
            attributes={"occluded": True},
        ),
    ]
    mask = polygons_to_rle([[100.0, 50.0, 350.0, 50.0, 350.0, 280.0, 100.0, 280.0]], chelsea.height, chelsea.width)
    chelsea.objects = [Annotation("cat", None, shape="mask", rle=mask)]
    chelsea.objects[0].ensure_bbox()
    chelsea.labels = ["cat"]
    rocket.objects = [Annotation("rocket", None, shape="point", points=[210.0, 300.0])]
    rocket.attributes = {"weather": "clear"}
    categories = CategorySet()
    for number, name in enumerate(CLASSES, start=1):
        categories.add(Category(number, name))
    path = folder / "photos.jsonl"
    write_manifest(Dataset(samples, categories, root=folder), path)
    return path


def predictions_file(manifest: Path, target: Path, seed: int = 0, topk: int | None = None) -> Path:
    """A ``cvkit predict --json`` file for every image of a classification manifest: random softmax scores leaning
    to each image's label, about a third of them wrong; ``topk`` lists only the best k classes of each."""
    import json

    import numpy as np

    from cvkit.manifest import read_manifest

    dataset = read_manifest(manifest)
    names = dataset.categories.names()
    rng = np.random.default_rng(seed)
    entries = []
    for sample in dataset.samples:
        logits = rng.normal(0.0, 1.0, len(names))
        logits[names.index(sample.labels[0])] += rng.choice([3.0, -1.0], p=[0.65, 0.35])
        scores = np.exp(logits) / np.exp(logits).sum()
        order = np.argsort(-scores, kind="stable")[: topk or len(names)]
        entries.append(
            {
                "image": str((manifest.parent / sample.path).resolve()),
                "predictions": [{"label": names[i], "score": float(scores[i])} for i in order],
            }
        )
    target.write_text(json.dumps(entries))
    return target
