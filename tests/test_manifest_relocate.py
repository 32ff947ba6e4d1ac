"""The manifest writer's one-off root relocation gives exactly what a relpath per image gave."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cvkit.manifest import _relocator


@pytest.mark.parametrize(
    "image",
    [
        "a.jpg",
        "sub/b.JPEG",
        "./c.jpg",
        "x/../d.jpg",
        "e//f.jpg",
        "g/./h.jpg",
        "../up.jpg",
        "n0.tar#n0_1.JPEG",
        "/abs/i.jpg",
    ],
)
@pytest.mark.parametrize("root", ["/data/set", "/out", "/out/sub"])
def test_relocated_path_equals_relpath(image, root):
    out_dir = Path("/out")
    expected = image if os.path.isabs(image) else Path(os.path.relpath(Path(root) / image, out_dir)).as_posix()
    assert _relocator(Path(root), out_dir)(image) == expected


def test_no_root_keeps_paths():
    assert _relocator(None, Path("/out"))("a/b.jpg") == "a/b.jpg"
