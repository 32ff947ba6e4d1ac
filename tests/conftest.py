"""Shared fixtures: the real corpus (skipped when absent, a failure under CI) and small datasets."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cvkit.core.categories import Category, CategorySet
from cvkit.core.model import Annotation, Dataset, Sample

REPO = Path(__file__).resolve().parents[1]
CORPUS = Path(os.environ.get("CVKIT_CORPUS", REPO.parent / "shared" / "corpus"))


def corpus_path(*parts: str) -> Path:
    """A path in ../shared/corpus; skips the test when absent, fails it under CI."""
    path = CORPUS.joinpath(*parts)
    if not path.exists():
        message = f"corpus data missing: {path}"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message + " (CI=true requires ../shared/corpus)")
        pytest.skip(message)
    return path


@pytest.fixture(autouse=True, scope="session")
def _cache_in_tmp(tmp_path_factory: pytest.TempPathFactory):
    """Readers that extract pixels (CIFAR, MNIST, LabelMe's imageData) default to ~/.cache/cvkit: tests use a temporary one."""
    previous = os.environ.get("CVKIT_CACHE_DIR")
    os.environ["CVKIT_CACHE_DIR"] = str(tmp_path_factory.mktemp("cvkit-cache"))
    yield
    if previous is None:
        os.environ.pop("CVKIT_CACHE_DIR", None)
    else:
        os.environ["CVKIT_CACHE_DIR"] = previous


@pytest.fixture
def corpus():
    """Callable fixture: ``corpus("voc", "voc_dataset1")``."""
    return corpus_path


def make_image(path: Path, width: int, height: int, color: tuple[int, int, int] = (120, 90, 60)) -> Path:
    """Write a real image file (PNG or JPEG by suffix) of the given size."""
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (width, height), color).save(path)
    return path


def small_dataset(root: Path) -> Dataset:
    """Two images, two categories with non-contiguous ids, integer boxes every format holds exactly.

    Boxes have integer corners so VOC's integer pixel indices and YOLO's normalised
    floats both give them back; one image has no objects (must survive round-trips).
    """
    make_image(root / "images" / "cat_01.jpg", 64, 48)
    make_image(root / "images" / "dog_02.png", 80, 60)
    make_image(root / "images" / "empty_03.jpg", 32, 32)
    cats = CategorySet([Category(3, "cat"), Category(7, "dog")])
    samples = [
        Sample("images/cat_01.jpg", 64, 48, "train", objects=[Annotation("cat", (4.0, 6.0, 20.0, 30.0)), Annotation("dog", (30.0, 2.0, 10.0, 12.0))]),
        Sample("images/dog_02.png", 80, 60, "train", objects=[Annotation("dog", (0.0, 0.0, 80.0, 60.0))]),
        Sample("images/empty_03.jpg", 32, 32, "train", objects=[]),
    ]
    return Dataset(samples, cats, root=root, source_format="test")


@pytest.fixture
def small(tmp_path: Path) -> Dataset:
    return small_dataset(tmp_path / "src")
