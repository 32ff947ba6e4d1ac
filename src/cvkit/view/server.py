"""The local web server of ``cvkit view``: the standard library's threading HTTP server.

Why the standard library: the viewer serves one person on 127.0.0.1, a dozen fixed routes and files it reads
itself; :class:`http.server.ThreadingHTTPServer` does that without a dependency, an event loop or a second process,
and keeps ``cvkit view`` working on every install. Routes never take a path from the URL: images, thumbnails
and masks are addressed by sample index and resolved from the dataset's own listing, and the page's files are
a fixed set shipped in the package. Anything else is a 404.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cvkit.core import jsonio
from cvkit.errors import CvkitError
from cvkit.view import api
from cvkit.view.index import ViewIndex
from cvkit.view.render import augment_preview, image_bytes, mask_overlay, thumbnail

#: the page's files: URL -> (file in cvkit/view/static, content type)
STATIC = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/static/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/static/app.css": ("app.css", "text/css; charset=utf-8"),
}
#: the exported site's data (``--export``); the server's page asks the API instead
NO_STATIC_DATA = b"window.CVKIT_STATIC = null;\n"
#: routes that take a sample index: /thumb/12.jpg, /image/12, /mask/12.png, /augment/12.png, /api/sample/12
INDEXED = re.compile(r"^/(thumb|image|mask|augment|api/sample)/(\d{1,12})(\.jpg|\.png)?$")
CACHE_IMAGES = "max-age=3600"


def static_file(name: str) -> bytes:
    """A file of the page, from the package."""
    return resources.files("cvkit.view").joinpath("static", name).read_bytes()


class NotFound(Exception):
    """Answered with 404."""


def _json(doc: Any) -> bytes:
    return jsonio.dumps(doc)


class ViewHandler(BaseHTTPRequestHandler):
    """One request; ``server.index`` is the dataset's :class:`ViewIndex`."""

    server_version = "cvkit-view"
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: a page load is dozens of requests."""

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        try:
            body, content_type, cache = self._answer(parts.path, parse_qs(parts.query))
        except NotFound:
            self._send(HTTPStatus.NOT_FOUND, b'{"error": "not found"}', "application/json")
            return
        except CvkitError as exc:
            self._send(HTTPStatus.BAD_REQUEST, _json({"error": str(exc)}), "application/json")
            return
        self._send(HTTPStatus.OK, body, content_type, cache)

    def _send(self, status: HTTPStatus, body: bytes, content_type: str, cache: str = "no-store") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", cache)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        self.wfile.write(body)

    def _answer(self, path: str, query: dict[str, list[str]]) -> tuple[bytes, str, str]:
        index: ViewIndex = self.server.index  # type: ignore[attr-defined]
        if path in STATIC:
            name, content_type = STATIC[path]
            return static_file(name), content_type, "no-cache"
        if path == "/data/data.js":
            return NO_STATIC_DATA, "text/javascript; charset=utf-8", "no-cache"
        routes: dict[str, Callable[[], Any]] = {
            "/api/meta": lambda: api.meta(index),
            "/api/samples": lambda: api.samples(index, query),
            "/api/stats": lambda: api.stats(index, query),
            "/api/problems": lambda: api.problems(index),
            "/api/confusion": lambda: api.confusion(index, query),
        }
        if path in routes:
            return _json(routes[path]()), "application/json", "no-store"
        match = INDEXED.match(path)
        if match is None:
            raise NotFound(path)
        kind, number, suffix = match.group(1), int(match.group(2)), match.group(3)
        try:
            sample = index.sample(number)
        except KeyError:
            raise NotFound(path) from None
        try:
            if kind == "api/sample" and suffix is None:
                return _json(api.detail(index, number)), "application/json", "no-store"
            if kind == "thumb" and suffix == ".jpg":
                return thumbnail(sample.resolve(index.root)), "image/jpeg", CACHE_IMAGES
            if kind == "image" and suffix is None:
                data, content_type = image_bytes(sample.resolve(index.root))
                return data, content_type, CACHE_IMAGES
            if kind == "mask" and suffix == ".png":
                return mask_overlay(sample, index.class_index), "image/png", CACHE_IMAGES
        except (CvkitError, KeyError):  # a missing or unreadable image file, no masks: nothing to show
            raise NotFound(path) from None
        if kind == "augment" and suffix == ".png":  # a bad preset or count is the request's fault: 400 with the reason
            preset, variants, seed = (
                query.get(key, [default])[-1] for key, default in (("preset", "strong"), ("k", "4"), ("seed", "0"))
            )
            if not (variants.isdigit() and seed.isdigit()):
                raise CvkitError("k and seed must be whole numbers")
            return (
                augment_preview(
                    sample.resolve(index.root), sample, index.columns.class_names, preset, int(variants), int(seed)
                ),
                "image/png",
                "no-store",
            )
        raise NotFound(path)


class ViewServer(ThreadingHTTPServer):
    """The HTTP server holding the index its handlers answer from."""

    daemon_threads = True

    def __init__(self, index: ViewIndex, host: str = "127.0.0.1", port: int = 0):
        self.index = index
        try:
            super().__init__((host, port), ViewHandler)
        except OSError as exc:
            raise CvkitError(f"cannot listen on {host}:{port} ({exc.strerror or exc})") from None

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        shown = f"[{host}]" if ":" in str(host) else host
        return f"http://{shown}:{port}/"


def serve_in_thread(index: ViewIndex, host: str = "127.0.0.1", port: int = 0) -> tuple[ViewServer, threading.Thread]:
    """A server answering on a background thread (tests, notebooks); stop it with ``server.shutdown()``."""
    server = ViewServer(index, host, port)
    thread = threading.Thread(target=server.serve_forever, name="cvkit-view", daemon=True)
    thread.start()
    return server, thread
