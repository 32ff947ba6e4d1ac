"""Parsing many small files on several processes, results in input order.

Readers of VOC and LabelMe folders and the VOC statistics scan hand chunks of files to forked
worker processes (fork: the workers start in milliseconds and inherit the parent's state, no
pickling of the reader). Where fork does not exist (Windows) or only one worker is wanted,
the same function runs in-process, so callers have a single code path.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from cvkit.core.executor import pool_finished, start_pool, stop_pool

T = TypeVar("T")
R = TypeVar("R")


def default_workers(workers: int | None) -> int:
    """``workers`` as given, else one a CPU."""
    return workers if workers is not None else (os.cpu_count() or 1)


def can_fork() -> bool:
    return "fork" in multiprocessing.get_all_start_methods()


def chunked(items: list[T], workers: int, smallest: int, largest: int | None = None) -> list[list[T]]:
    """``items`` cut into about 8 chunks a worker (load balance), each of ``smallest``..``largest`` items."""
    size = max(smallest, len(items) // (max(workers, 1) * 8))
    if largest is not None:
        size = min(size, largest)
    return [items[i : i + size] for i in range(0, len(items), size)]


def ordered_map(function: Callable[[T], R], tasks: Iterable[T], workers: int, initializer: Callable[..., None] | None = None,
                initargs: tuple[Any, ...] = ()) -> Iterator[R]:
    """``function`` over ``tasks`` in order: on ``workers`` forked processes, or in-process when
    ``workers <= 1`` or fork is unavailable. ``function`` must be a module-level function.

    ``initializer(*initargs)`` runs once in each worker before its first task (in-process: once, here):
    per-reader state a worker keeps, such as folder listings, without sending it with every task. In-process it
    sets the caller's own module state, which another reader iterated alongside would overwrite: callers that run
    in-process themselves pass such state to ``function`` directly (as :mod:`cvkit.formats.voc` does)."""
    if workers <= 1 or not can_fork():
        if initializer is not None:
            initializer(*initargs)
        yield from map(function, tasks)
        return
    _ending.clear()  # the pools of earlier calls, their workers long gone: finalized (joined) now, at no cost
    pool = start_pool("fork", workers, initializer, initargs)  # quiet workers: Ctrl-C is the parent's to handle
    results = pool.imap(function, tasks)
    # No task comes after these: each worker ends as soon as the tasks run out, while the caller still works on the
    # last results. Ending takes a while (the kernel taking down each worker's copy of a parsed COCO file), and a
    # pool waits for it when it is freed: it is kept until the next call instead (or the interpreter's exit; the
    # ``cvkit`` command waits for them before it ends).
    pool.close()
    try:
        yield from results
    except BaseException:  # an error, or the caller stopped early: the workers are stopped and waited for
        stop_pool(pool)
        raise
    pool_finished(pool)
    _ending.append(pool)


#: closed pools whose workers may still be ending (see :func:`ordered_map`)
_ending: list[Any] = []
