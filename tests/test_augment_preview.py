"""Contact sheets: size and grid, boxes drawn where the annotations say, deterministic, HTML page."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from cvkit.augment.preview import PALETTE, TILE, SheetLayout, make_preview, pick_samples
from cvkit.core.categories import Category, CategorySet
from cvkit.core.model import Annotation, Dataset, Sample

GREY = (128, 128, 128)
FLIP = {"name": "flip", "transforms": [{"name": "HorizontalFlip", "p": 1.0}]}


def grey_dataset(root: Path, count: int = 1) -> Dataset:
    (root / "img").mkdir(parents=True, exist_ok=True)
    samples = []
    for i in range(count):
        Image.new("RGB", (200, 100), GREY).save(root / "img" / f"g{i}.png")
        samples.append(
            Sample(f"img/g{i}.png", 200, 100, "train", objects=[Annotation("cat", (20.0, 30.0, 40.0, 20.0))])
        )
    return Dataset(samples, CategorySet([Category(1, "cat")]), root=root)


def test_sheet_has_one_row_per_image_and_original_plus_k_columns(tmp_path):
    result = make_preview(grey_dataset(tmp_path / "d", 3), tmp_path / "s.png", FLIP, n=2, k=3, device="cpu")
    with Image.open(result.path) as sheet:
        assert sheet.size == SheetLayout(2, 4).size
    assert (result.rows, result.cols, result.variants) == (2, 4, 6)


def test_boxes_are_drawn_where_the_annotations_say(tmp_path):
    result = make_preview(grey_dataset(tmp_path / "d"), tmp_path / "s.png", FLIP, n=1, k=1, device="cpu")
    sheet = np.asarray(Image.open(result.path).convert("RGB"))
    scale, dx, dy = SheetLayout.fit(200, 100)  # 1.28, image centred vertically
    colour = PALETTE[0]
    mid_y = round((30 + 10) * scale) + dy  # half-way down the box's left edge
    for col, box_x in ((0, 20.0), (1, 200.0 - 20.0 - 40.0)):  # original, then the flip: x -> 200 - x - w
        x0, y0 = SheetLayout(1, 2).origin(0, col)
        left = x0 + dx + round(box_x * scale)
        right = x0 + dx + round((box_x + 40) * scale) - 1
        assert tuple(sheet[y0 + mid_y, left]) == colour, f"left edge, column {col}"
        assert tuple(sheet[y0 + mid_y, right]) == colour, f"right edge, column {col}"
        assert tuple(sheet[y0 + mid_y, left + 10]) == GREY, f"inside the box, column {col}"
    # the original's box position is empty grey in the flipped tile
    x0, y0 = SheetLayout(1, 2).origin(0, 1)
    assert tuple(sheet[y0 + mid_y, x0 + dx + round(20 * scale)]) == GREY


def test_same_seed_same_sheet_and_timing_is_reported(tmp_path):
    ds = grey_dataset(tmp_path / "d", 3)
    a = make_preview(ds, tmp_path / "a.png", "strong", n=3, k=2, seed=5, device="cpu")
    b = make_preview(ds, tmp_path / "b.png", "strong", n=3, k=2, seed=5, device="cpu")
    assert a.path.read_bytes() == b.path.read_bytes()
    info = a.to_dict()
    assert info["device"] == "cpu" and info["ms_per_image"] > 0 and info["images_per_second"] > 0


def test_html_page_has_every_tile_and_the_spec(tmp_path):
    result = make_preview(
        grey_dataset(tmp_path / "d"), tmp_path / "s.png", FLIP, n=1, k=2, device="cpu", html_path=tmp_path / "s.html"
    )
    page = result.html.read_text()
    assert page.count("<img ") == 3
    assert "HorizontalFlip" in page and "name: flip" in page


def test_rare_classes_come_first_and_classes_filter():
    samples = [Sample(f"{i}.png", 10, 10, objects=[Annotation("common", (0.0, 0.0, 1.0, 1.0))]) for i in range(5)]
    samples.append(Sample("rare.png", 10, 10, objects=[Annotation("rare", (0.0, 0.0, 1.0, 1.0))]))
    assert pick_samples(samples, 2, rare=True)[0].path == "rare.png"
    assert [s.path for s in pick_samples(samples, 3, classes=["rare"])] == ["rare.png"]


def test_tile_fits_wide_and_tall_images():
    assert SheetLayout.fit(512, 256) == (TILE / 512, 0, 64)
    assert SheetLayout.fit(100, 200) == (TILE / 200, 64, 0)
