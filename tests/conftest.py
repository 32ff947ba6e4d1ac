"""Shared fixtures: the real corpus (skipped when absent, a failure under CI) and small datasets."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from cvkit.core.categories import Category, CategorySet
from cvkit.core.model import Annotation, Dataset, Sample

REPO = Path(__file__).resolve().parents[1]
CORPUS = Path(os.environ.get("CVKIT_CORPUS", REPO.parent / "shared" / "corpus"))


def under_ci() -> bool:
    """``CI=true`` (or 1, yes): nothing this machine can run may skip."""
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def corpus_path(*parts: str) -> Path:
    """A path in ../shared/corpus; skips the test when absent, fails it under CI."""
    path = CORPUS.joinpath(*parts)
    if not path.exists():
        message = f"corpus data missing: {path}"
        if under_ci():
            pytest.fail(message + " (CI=true requires ../shared/corpus)")
        pytest.skip(message)
    return path


def _may_skip_under_ci(report: pytest.TestReport | pytest.CollectReport, item: pytest.Item | None) -> bool:
    """A skip CI allows: what needs CUDA (marked ``gpu``, or a reason that names CUDA), and expected failures."""
    if hasattr(report, "wasxfail"):
        return True
    if item is not None and item.get_closest_marker("gpu") is not None:
        return True
    return "CUDA" in str(report.longrepr)


def _fail_the_skip(report: pytest.TestReport | pytest.CollectReport) -> None:
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
    report.outcome = "failed"
    report.longrepr = f"skipped under CI=true, where only what needs CUDA may skip ({reason})"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """Under CI a skipped test fails, unless it needs CUDA (a missing tool or data set must be installed, not
    silently left out)."""
    outcome = yield
    report = outcome.get_result()
    if under_ci() and report.skipped and not _may_skip_under_ci(report, item):
        _fail_the_skip(report)


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector):
    """Under CI a module skipped as a whole (``pytest.importorskip`` at its top) fails, unless for CUDA."""
    outcome = yield
    report = outcome.get_result()
    if under_ci() and report.skipped and not _may_skip_under_ci(report, None):
        _fail_the_skip(report)


@pytest.fixture(autouse=True, scope="session")
def _cache_in_tmp(tmp_path_factory: pytest.TempPathFactory):
    """Readers that extract pixels (CIFAR, MNIST, LabelMe's imageData) default to ~/.cache/cvkit: tests use a temporary
    one."""
    previous = os.environ.get("CVKIT_CACHE_DIR")
    os.environ["CVKIT_CACHE_DIR"] = str(tmp_path_factory.mktemp("cvkit-cache"))
    yield
    if previous is None:
        os.environ.pop("CVKIT_CACHE_DIR", None)
    else:
        os.environ["CVKIT_CACHE_DIR"] = previous


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[str]:
    """The address of one two-node Ray cluster on 127.0.0.1 for the whole session (tests/ray_cluster.py), started
    by the first test that asks for it and stopped at the session's end: starting one costs seconds."""
    pytest.importorskip("ray", reason="the Ray engine is an optional extra: pip install 'cvkit[ray]'")
    from ray_cluster import running_cluster

    with running_cluster() as address:
        yield address


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
        Sample(
            "images/cat_01.jpg",
            64,
            48,
            "train",
            objects=[Annotation("cat", (4.0, 6.0, 20.0, 30.0)), Annotation("dog", (30.0, 2.0, 10.0, 12.0))],
        ),
        Sample("images/dog_02.png", 80, 60, "train", objects=[Annotation("dog", (0.0, 0.0, 80.0, 60.0))]),
        Sample("images/empty_03.jpg", 32, 32, "train", objects=[]),
    ]
    return Dataset(samples, cats, root=root, source_format="test")


@pytest.fixture
def small(tmp_path: Path) -> Dataset:
    return small_dataset(tmp_path / "src")
