"""``cvkit view``'s server on a real socket: what it serves, what it refuses, thumbnails, masks, the CLI and
--export."""

from __future__ import annotations

import http.client
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cvkit.core.masks import decode
from cvkit.manifest import read_manifest
from cvkit.view.index import ViewIndex
from cvkit.view.render import THUMB_SIZE, class_colour
from cvkit.view.server import ViewServer, serve_in_thread
from hostile.harness import assert_clean_error, cvkit, snapshot
from view_fixtures import photo_manifest


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return photo_manifest(tmp_path_factory.mktemp("photos"))


@pytest.fixture
def server(photos: Path) -> Iterator[ViewServer]:
    running, thread = serve_in_thread(ViewIndex.open(photos))
    yield running
    running.shutdown()
    running.server_close()
    thread.join(5)


def get(server: ViewServer, path: str) -> tuple[int, str, bytes]:
    """GET ``path`` sent exactly as written (no client-side normalising of ``..`` or ``%2e``)."""
    host, port = server.server_address[:2]
    connection = http.client.HTTPConnection(host, port, timeout=10)
    connection.putrequest("GET", path, skip_host=False, skip_accept_encoding=True)
    connection.endheaders()
    response = connection.getresponse()
    body = response.read()
    connection.close()
    return response.status, response.getheader("Content-Type") or "", body


def test_the_server_listens_on_this_machine_only_by_default(server: ViewServer) -> None:
    assert server.server_address[0] == "127.0.0.1"
    assert server.url.startswith("http://127.0.0.1:")


def test_the_page_and_its_api_are_served(server: ViewServer) -> None:
    status, kind, body = get(server, "/")
    assert status == 200 and kind.startswith("text/html") and b"static/app.js" in body
    status, kind, body = get(server, "/api/samples?has=person&limit=2")
    doc = json.loads(body)
    assert status == 200 and doc["total"] == 1 and doc["filter"] == {"has": ["person"]}
    status, _, body = get(server, "/api/stats?split=val")
    assert status == 200 and json.loads(body)["images"] == 2


def test_a_bad_filter_answers_400_with_the_reason(server: ViewServer) -> None:
    status, _, body = get(server, "/api/samples?has=unicorn")
    assert status == 400 and "unicorn" in json.loads(body)["error"]


TRAVERSALS = [
    "/../photos.jsonl",
    "/static/../photos.jsonl",
    "/static/%2e%2e/%2e%2e/photos.jsonl",
    "/static/..%2fserver.py",
    "/image/../photos.jsonl",
    "/image/%2e%2e%2fphotos.jsonl",
    "/image/0/../../photos.jsonl",
    "/thumb/..%2F..%2Fetc%2Fpasswd",
    "/etc/passwd",
    "//etc/passwd",
    "/image//etc/passwd",
    "/image/-1",
    "/image/4",
    "/image/99999999999",
    "/image/0x1",
    "/images/astronaut.png",
    "/photos.jsonl",
    "/static/index.py",
    "/static/../index.py",
    "/mask/0.png",
    "/api/sample/4",
    "/image/link",
    "/static/link",
]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_nothing_but_the_datasets_images_is_served(server: ViewServer, photos: Path, path: str) -> None:
    link = photos.parent / "link"
    if not link.exists():
        os.symlink("/etc/passwd", link)
    status, _, body = get(server, path)
    assert status == 404, body[:200]


def test_an_image_is_served_by_its_index_with_its_own_bytes(server: ViewServer, photos: Path) -> None:
    status, kind, body = get(server, "/image/1")
    assert status == 200 and kind == "image/png"
    assert body == (photos.parent / "images" / "coffee.png").read_bytes()


def test_a_listed_file_that_is_no_image_is_not_served(tmp_path: Path, photos: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("not for the browser")
    lines = photos.read_text().splitlines()
    lines[1] = lines[1].replace('"images/astronaut.png"', json.dumps(str(secret)))
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(
        "\n".join(lines).replace('"images/', json.dumps(str(photos.parent / "images"))[:-1] + "/") + "\n"
    )
    running, _ = serve_in_thread(ViewIndex.open(manifest))
    try:
        assert get(running, "/image/0")[0] == 404
        assert get(running, "/thumb/0.jpg")[0] == 404
        assert get(running, "/image/1")[0] == 200
    finally:
        running.shutdown()
        running.server_close()


def test_thumbnails_are_made_on_demand_and_cached(server: ViewServer, photos: Path) -> None:
    thumbs = Path(os.environ["CVKIT_CACHE_DIR"]) / "thumbs"
    before = set(thumbs.rglob("*.jpg")) if thumbs.exists() else set()
    status, kind, body = get(server, "/thumb/1.jpg")
    made = set(thumbs.rglob("*.jpg")) - before
    assert status == 200 and kind == "image/jpeg"
    with Image.open(io.BytesIO(body)) as thumb, Image.open(photos.parent / "images" / "coffee.png") as original:
        assert max(thumb.size) == THUMB_SIZE
        assert abs(thumb.width / thumb.height - original.width / original.height) < 0.01
    assert len(made) <= 1  # made now, unless an earlier test already asked for it
    assert any(p.read_bytes() == body for p in thumbs.rglob("*.jpg"))  # on disk (other datasets' copies may be too)
    after_first = set(thumbs.rglob("*.jpg"))
    assert get(server, "/thumb/1.jpg")[2] == body
    assert set(thumbs.rglob("*.jpg")) == after_first  # asked again: served from the cache, nothing made


def test_a_mask_overlay_fills_the_decoded_rle_in_its_class_colour(server: ViewServer, photos: Path) -> None:
    status, kind, body = get(server, "/mask/2.png")
    assert status == 200 and kind == "image/png"
    rle = read_manifest(photos).samples[2].objects[0].rle
    expected = decode(rle).astype(bool)
    overlay = np.asarray(Image.open(io.BytesIO(body)))
    assert overlay.shape[:2] == expected.shape
    assert ((overlay[..., 3] > 0) == expected).all()
    colour = class_colour(2)  # cat
    assert tuple(overlay[expected][0][:3]) == (int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16))


def test_cvkit_view_prints_its_address_and_serves(photos: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "cvkit", "view", str(photos), "--no-browser", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first = json.loads(process.stdout.readline())
        assert first["images"] == 4 and first["url"].startswith("http://127.0.0.1:")
        port = int(first["url"].rstrip("/").rsplit(":", 1)[1])
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("GET", "/api/meta")
        assert json.loads(connection.getresponse().read())["images"] == 4
    finally:
        process.terminate()
        process.wait(10)


def test_a_missing_dataset_is_a_clean_error(tmp_path: Path) -> None:
    run = cvkit("view", tmp_path / "missing.jsonl", "--no-browser")
    assert_clean_error(run, names="missing.jsonl")


def test_export_writes_the_page_the_data_and_the_images_of_the_filtered_set(tmp_path: Path, photos: Path) -> None:
    before = snapshot(photos.parent)
    site = tmp_path / "site"
    run = cvkit("view", photos, "--export", site, "--filter", "split=train", "--limit", "5", "--json")
    assert run.code == 0, run.stderr
    assert json.loads(run.stdout) == {"site": str(site), "samples": 2, "matching": 2, "missing_images": 0}
    samples = json.loads((site / "data" / "samples.json").read_bytes())
    assert [s["path"] for s in samples] == ["images/astronaut.png", "images/coffee.png"]
    assert (site / "index.html").is_file() and (site / "static" / "app.js").is_file()
    assert sorted(p.name for p in (site / "thumbs").iterdir()) == ["0.jpg", "1.jpg"]
    assert (site / "images" / "1.png").read_bytes() == (photos.parent / "images" / "coffee.png").read_bytes()
    assert (site / "data" / "data.js").read_bytes().startswith(b"window.CVKIT_STATIC = ")
    assert json.loads((site / "data" / "stats.json").read_bytes())["images"] == 2
    assert snapshot(photos.parent) == before
    again = cvkit("view", photos, "--export", site)
    assert again.code == 2 and "exists" in again.stderr


def test_the_augmentation_preview_is_the_augment_preview_sheet_of_one_image(server: ViewServer) -> None:
    pytest.importorskip("albumentations")
    from cvkit.augment.preview import SheetLayout

    status, kind, body = get(server, "/augment/0.png?preset=strong&k=3&seed=7")
    assert status == 200 and kind == "image/png"
    with Image.open(io.BytesIO(body)) as sheet:
        # the original and 3 variants, as `cvkit augment --preview --n 1 --k 3`
        assert sheet.size == SheetLayout(1, 4).size
    assert get(server, "/augment/0.png?preset=strong&k=3&seed=7")[2] == body  # seeded: the same variants again
    assert get(server, "/augment/0.png?preset=strong&k=3&seed=8")[2] != body
    status, _, answer = get(server, "/augment/0.png?preset=../../etc/passwd")
    assert status == 400 and "unknown preset" in json.loads(answer)["error"]
    assert get(server, "/augment/0.png?preset=strong&k=99")[0] == 400


def test_a_port_in_use_is_a_clean_error(photos: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        run = cvkit("view", photos, "--no-browser", "--port", str(taken.getsockname()[1]))
    assert_clean_error(run)
    assert "cannot listen" in run.stderr
