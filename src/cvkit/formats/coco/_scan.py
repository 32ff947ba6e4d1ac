"""The top-level sections of a COCO file as byte ranges, found in one pass without parsing what lies inside.

The top-level object is walked key by key over a memory map; an array (``images``, ``annotations``) is handed to
its parser in runs of whole elements of about :data:`CHUNK_BYTES`, read from the file (not the map). A run ends at a
guessed ``},{`` that the parser checks by parsing it (:func:`read_array`); where no guess is near or a guess fails,
a bracket scanner finds the cut exactly: a window at a time in numpy, quotes not escaped toggle "inside a string",
brackets outside strings move the depth. Pages of the map already passed are handed back to the kernel
(``MADV_DONTNEED``).

The walk checks brackets and strings only; the parser that reads each run checks the rest. :class:`ScanError` says
the structure is not what a COCO file has: the reader then reads the file whole, which names the place of a JSON
error."""

from __future__ import annotations

import mmap
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from cvkit.core import jsonio
from cvkit.io import open_regular

#: bytes of elements handed to the parser at once (a run's JSON is copied once, parsed, then dropped)
CHUNK_BYTES = 1 << 20
#: bytes scanned at once (the window's temporary arrays are a few times this)
WINDOW_BYTES = 1 << 20

_WS = re.compile(rb"[ \t\r\n]*")
_KEY = re.compile(rb'"((?:[^"\\]|\\.)*)"[ \t\r\n]*:[ \t\r\n]*', re.DOTALL)
_COMMA = re.compile(rb"[ \t\r\n]*,[ \t\r\n]*")
#: where a guessed run may end: one object element closing, the next opening
_CANDIDATE = re.compile(rb"\}[ \t\r\n]*,[ \t\r\n]*\{")
_SCALAR = re.compile(rb'"(?:[^"\\]|\\.)*"|-?[0-9][0-9.eE+-]*|true|false|null', re.DOTALL)
_DEPTH = np.zeros(256, np.int8)
_DEPTH[[ord("["), ord("{")]] = 1
_DEPTH[[ord("]"), ord("}")]] = -1


class ScanError(Exception):
    """The file is not a JSON object of the shape scanned here (read it the other way)."""


class BadRun(Exception):
    """A run of elements does not parse (raised by the parser that reads it)."""


class MappedFile:
    """A read-only memory map of a file whose pages are given back once read (:meth:`release`)."""

    def __init__(self, path: Path):
        self.handle = open_regular(path)
        try:
            self.size = self.handle.seek(0, 2)
            if self.size == 0:
                raise ScanError("empty file")
            self.map = mmap.mmap(self.handle.fileno(), 0, access=mmap.ACCESS_READ)
        except BaseException:
            self.handle.close()
            raise
        self.released = 0

    def read_array_json(self, start: int, stop: int) -> bytearray:
        """``b"[" + bytes start..stop + b"]"``, read (not mapped: the pages stay out of this process)."""
        data = bytearray(stop - start + 2)
        data[0], data[-1] = 91, 93
        self.handle.seek(start)
        with memoryview(data) as view:
            self.handle.readinto(view[1:-1])
        return data

    def release(self, upto: int) -> None:
        """Drop the resident pages before ``upto`` (they are read again from the page cache if needed)."""
        start = self.released
        stop = upto - upto % mmap.PAGESIZE
        if stop > start and hasattr(self.map, "madvise"):
            self.map.madvise(mmap.MADV_DONTNEED, start, stop - start)
            self.released = stop

    def close(self) -> None:
        try:
            self.map.close()
        except BufferError:  # a view still held by an interrupted scan's frames: the map goes with them
            pass
        self.handle.close()


def _skip_ws(buf: mmap.mmap, pos: int) -> int:
    match = _WS.match(buf, pos)
    assert match is not None  # the pattern matches the empty string
    return match.end()


def members(mapped: MappedFile, on_array: Callable[[str, int], int]) -> Iterator[tuple[str, int, int]]:
    """(key, start, end) of each top-level member of the file's object, in file order. ``on_array(key, start)``
    is called for a member whose value is an array and returns the array's end (it reads the array itself,
    with :func:`read_array`); other values are scanned here."""
    buf = mapped.map
    pos = _skip_ws(buf, len(jsonio.BOM) if buf[:3] == jsonio.BOM else 0)
    if buf[pos : pos + 1] != b"{":
        raise ScanError("top level is not an object")
    pos = _skip_ws(buf, pos + 1)
    if buf[pos : pos + 1] == b"}":
        return
    while True:
        match = _KEY.match(buf, pos)
        if match is None:
            raise ScanError(f"no key at byte {pos}")
        key = jsonio.loads(b'"' + match[1] + b'"')
        start = match.end()
        first = buf[start : start + 1]
        if first == b"[":
            end = on_array(key, start)
        elif first == b"{":
            end = container_end(mapped, start)
        else:
            scalar = _SCALAR.match(buf, start)
            if scalar is None:
                raise ScanError(f"no value at byte {start}")
            end = scalar.end()
        yield key, start, end
        pos = _skip_ws(buf, end)
        closing = buf[pos : pos + 1]
        if closing == b"}":
            if _skip_ws(buf, pos + 1) != mapped.size:
                raise ScanError("data after the top-level object")
            return
        comma = _COMMA.match(buf, pos)
        if comma is None:
            raise ScanError(f"expected ',' or '}}' at byte {pos}")
        pos = comma.end()


def container_end(mapped: MappedFile, start: int) -> int:
    """The end (exclusive) of the array or object that opens at ``start``."""
    _, end = _exact_cut(mapped, start + 1, None)
    assert end is not None
    return end


def read_array(mapped: MappedFile, start: int, consume: Callable[[int, int], None], chunk: int | None = None) -> int:
    """Hand the array that opens at ``start`` to ``consume(run_start, run_end)`` a run of whole elements at a time
    (the elements with the commas between them: ``b"[" + range + b"]"`` is a JSON array); returns the array's end.

    A run ends where the next one starts with an object after about ``chunk`` bytes (``},{``): a guess, taken when
    ``consume`` parses it (a cut inside a string leaves one open, a cut at another depth leaves brackets open: both
    fail to parse). When ``consume`` raises :class:`BadRun` for a guess, or none is near, the bracket scanner cuts
    exactly; :class:`BadRun` for an exact run means malformed JSON (a :class:`ScanError`)."""
    buf, chunk = mapped.map, chunk or CHUNK_BYTES
    run_start = _skip_ws(buf, start + 1)
    if buf[run_start : run_start + 1] == b"]":
        return run_start + 1
    while True:
        guess = _CANDIDATE.search(buf, run_start + chunk, run_start + 2 * chunk)
        if guess is not None:
            try:
                consume(run_start, guess.start() + 1)
            except BadRun:
                pass
            else:
                run_start = guess.end() - 1
                mapped.release(run_start)
                continue
        cut, end = _exact_cut(mapped, run_start, chunk)
        try:
            consume(run_start, cut)
        except BadRun:
            raise ScanError(f"malformed JSON between bytes {run_start} and {cut}") from None
        if end is not None:
            mapped.release(end)
            return end
        comma = _COMMA.match(buf, cut)
        if comma is None:
            raise ScanError(f"expected ',' at byte {cut}")
        run_start = comma.end()
        mapped.release(run_start)


def _window_cuts(view: np.ndarray, in_string: bool, depth: int) -> tuple[np.ndarray, np.ndarray, bool, int]:
    """Positions in ``view`` of closing brackets outside strings and the depth after each, the string state and
    depth at the window's end (``in_string``, ``depth``: at its start)."""
    quotes = np.flatnonzero(view == 34)
    if len(quotes):
        escaped = quotes[quotes > 0]
        escaped = escaped[view[escaped - 1] == 92]
        if len(escaped):  # a quote after an odd run of backslashes is part of the string
            drop = []
            for q in escaped.tolist():
                run = 1
                while q - run - 1 >= 0 and view[q - run - 1] == 92:
                    run += 1
                if run % 2:
                    drop.append(q)
            if drop:
                quotes = np.setdiff1d(quotes, np.asarray(drop, dtype=quotes.dtype), assume_unique=True)
    steps = _DEPTH[view]
    brackets = np.flatnonzero(steps)
    if len(brackets):
        before = np.searchsorted(quotes, brackets)  # quotes before each bracket
        outside = (before % 2 == 0) != in_string
        brackets = brackets[outside]
    deltas = steps[brackets].astype(np.int64)
    depths = depth + np.cumsum(deltas)
    closes = deltas < 0
    end_depth = int(depths[-1]) if len(depths) else depth
    return brackets[closes], depths[closes], in_string != bool(len(quotes) % 2), end_depth


def _exact_cut(mapped: MappedFile, run_start: int, chunk: int | None) -> tuple[int, int | None]:
    """From ``run_start``, an element's start inside a container (depth 1, outside strings): ``(cut, None)``, the
    end of the first element that ends ``chunk`` bytes or more further, or ``(closing, end)`` where the container
    closes first (``closing``: its bracket; ``end``: just after it)."""
    buf, size = mapped.map, mapped.size
    pos, in_string, depth = run_start, False, 1
    while pos < size:
        stop = min(pos + WINDOW_BYTES, size)
        while stop < size and buf[stop - 1] == 92:  # never end a window inside a run of backslashes
            stop += 1
        view = np.frombuffer(buf, np.uint8, stop - pos, pos)
        closes, depths, in_string_next, depth_next = _window_cuts(view, in_string, depth)
        del view
        ends = np.flatnonzero(depths == 0)
        if len(ends):
            closing = pos + int(closes[ends[0]])
            return closing, closing + 1
        if chunk is not None:
            level = np.flatnonzero(depths == 1)
            if len(level) and pos + int(closes[level[-1]]) + 1 - run_start >= chunk:
                return pos + int(closes[level[-1]]) + 1, None
        pos, in_string, depth = stop, in_string_next, depth_next
    raise ScanError("the file ends inside an array or object")
