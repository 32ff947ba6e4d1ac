"""``-r sizes=true``'s header reading on the executor (:mod:`cvkit.core.image_sizes`): sizes as Pillow reads them,
in the readers' order, over several waves and runs on worker processes; an unreadable image recorded at its place."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from conftest import make_image
from cvkit.core import image_sizes
from cvkit.core.executor import LocalProcesses, using
from cvkit.core.image_sizes import with_sizes
from cvkit.core.model import Sample
from cvkit.core.report import Report
from cvkit.errors import InvalidInputError


@pytest.fixture
def images(tmp_path: Path) -> list[Path]:
    paths = []
    for i in range(23):
        paths.append(make_image(tmp_path / f"img{i:02d}{'.png' if i % 3 else '.jpg'}", 10 + i, 30 - i))
    (tmp_path / "img07.png").write_bytes(b"no image")
    return paths


def samples_of(paths: list[Path]) -> list[Sample]:
    return [Sample(path.name) for path in paths]


@pytest.mark.parametrize("on_workers", [False, True], ids=["here", "workers"])
def test_sizes_are_the_headers_in_order_across_waves_and_runs(images, monkeypatch, on_workers):
    monkeypatch.setattr(image_sizes, "RUN_FILES", 3)
    monkeypatch.setattr(image_sizes, "RUNS_PER_WORKER", 2)  # waves of 6 x workers files
    monkeypatch.setattr(image_sizes, "PARALLEL_MIN_FILES", 1 if on_workers else 10_000)
    root = images[0].parent
    report = Report(skip_invalid=True)
    skip = {"img05.png"}  # image_of gives None: left as it is
    image_of = lambda sample: None if sample.path in skip else root / sample.path  # noqa: E731
    if on_workers:
        with using(LocalProcesses(2)):
            result = list(with_sizes(samples_of(images), image_of, report))
    else:
        result = list(with_sizes(samples_of(images), image_of, report))
    assert [s.path for s in result] == [p.name for p in images]
    for sample, path in zip(result, images):
        if sample.path in skip or sample.path == "img07.png":
            assert (sample.width, sample.height) == (None, None)
        else:
            with Image.open(path) as img:  # the oracle: Pillow's own reading of the file
                assert (sample.width, sample.height) == img.size
    assert [(Path(s.file).name, s.reason) for s in report.skipped] == [
        ("img07.png", "not a readable image (UnidentifiedImageError)")
    ]


def test_an_unreadable_image_stops_the_read_naming_it_without_skip_invalid(images):
    root = images[0].parent
    stream = with_sizes(samples_of(images), lambda sample: root / sample.path, Report())
    with pytest.raises(InvalidInputError) as caught:
        list(stream)
    assert Path(caught.value.file) == root / "img07.png"
