"""cvkit.core.parallel: chunks of work on forked processes, results in input order, a fallback without fork."""

from __future__ import annotations

import os

from cvkit.core import parallel


def _pid_and_square(n: int) -> tuple[int, int]:
    return os.getpid(), n * n


def test_results_keep_the_input_order_on_worker_processes():
    results = list(parallel.ordered_map(_pid_and_square, range(50), workers=2))
    assert [square for _, square in results] == [n * n for n in range(50)]
    assert {pid for pid, _ in results} != {os.getpid()}  # the work ran elsewhere


def test_without_fork_the_work_runs_in_process(monkeypatch):
    monkeypatch.setattr(parallel, "can_fork", lambda: False)  # as on Windows
    results = list(parallel.ordered_map(_pid_and_square, range(5), workers=4))
    assert results == [(os.getpid(), n * n) for n in range(5)]


def test_chunks_cover_every_item_once_in_order():
    items = list(range(1000))
    chunks = parallel.chunked(items, workers=2, smallest=32, largest=50)
    assert [i for chunk in chunks for i in chunk] == items
    assert all(len(chunk) <= 50 for chunk in chunks) and len(chunks[0]) == 50
    assert len(parallel.chunked(items, workers=2, smallest=200)[0]) == 200


_initialised: list[tuple[int, str]] = []


def _remember(tag: str) -> None:
    _initialised.append((os.getpid(), tag))


def _initialised_here(_n: int) -> list[tuple[int, str]]:
    return [entry for entry in _initialised if entry[0] == os.getpid()]


def test_the_initializer_runs_once_in_each_worker_and_in_process_without_fork(monkeypatch):
    seen = list(parallel.ordered_map(_initialised_here, range(20), workers=2, initializer=_remember, initargs=("index",)))
    assert all(len(entries) == 1 and entries[0][1] == "index" for entries in seen)  # once per worker, before its tasks
    assert _initialised == []  # not in this process
    monkeypatch.setattr(parallel, "can_fork", lambda: False)
    assert list(parallel.ordered_map(_initialised_here, range(3), workers=2, initializer=_remember, initargs=("x",))) == [[(os.getpid(), "x")]] * 3
    _initialised.clear()
