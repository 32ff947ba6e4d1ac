"""RealPaths takes a folder's links from one listing once it has looked at many of its files: it gives what
``Path.resolve()`` gives either way (files, links to files and folders, broken links, missing names, a missing
folder, a folder that cannot be listed)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cvkit.io import RealPaths


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    images = tmp_path / "images"
    images.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "far.jpg").write_bytes(b"x")
    for i in range(10):
        (images / f"{i}.jpg").write_bytes(b"x")
    (images / "link.jpg").symlink_to(elsewhere / "far.jpg")
    (images / "relative.jpg").symlink_to(Path("..") / "elsewhere" / "far.jpg")
    (images / "broken.jpg").symlink_to(tmp_path / "gone.jpg")
    (images / "dir").mkdir()
    (images / "dirlink").symlink_to(elsewhere, target_is_directory=True)
    (tmp_path / "linked").symlink_to(images, target_is_directory=True)
    return tmp_path


@pytest.mark.parametrize("list_after", [0, 3, 1000])
def test_resolves_as_path_resolve_does(folder: Path, list_after: int, monkeypatch) -> None:
    monkeypatch.setattr(RealPaths, "LIST_AFTER", list_after)
    names = [f"{i}.jpg" for i in range(10)] + ["link.jpg", "relative.jpg", "broken.jpg", "dir", "dirlink", "none.jpg"]
    paths = [folder / base / name for base in ("images", "linked") for name in names]
    paths += [folder / "missing" / "x.jpg", folder / "images" / "0.jpg" / "x.jpg"]
    real = RealPaths()
    for _ in range(2):
        for path in paths:
            assert real(str(path)) == str(path.resolve()), path
    if list_after == 0:
        assert real.links[str(folder / "images")] == {"link.jpg", "relative.jpg", "broken.jpg", "dirlink"}


def test_a_folder_that_cannot_be_listed_is_looked_at_file_by_file(folder: Path, monkeypatch) -> None:
    monkeypatch.setattr(RealPaths, "LIST_AFTER", 0)

    def refuse(path):
        raise PermissionError(13, "Permission denied", path)

    monkeypatch.setattr(os, "scandir", refuse)
    real = RealPaths()
    assert real(str(folder / "images" / "link.jpg")) == str(folder / "elsewhere" / "far.jpg")
    assert real(str(folder / "images" / "0.jpg")) == str(folder / "images" / "0.jpg")
    assert real.links[str(folder / "images")] is None
