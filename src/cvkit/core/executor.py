"""Executors: where the per-shard work of a pipeline runs (in-process, local processes, or a cluster engine).

Every pipeline that spreads work (a reader's shards, a writer's ``encode``, a scan of many files) hands an
executor a module-level ``function``, one picklable ``context`` and a sequence of picklable ``tasks``;
``executor.map`` yields ``function(context, task)`` for each task, in task order. Nothing reaches a worker
through inherited memory alone: the same call runs in this process, on forked or spawned local processes, or
on another machine (the Ray engine, :mod:`cvkit.core.executor_ray`), and gives the same results.

``context`` is sent once per worker (a pool's initializer; Ray's object store), ``tasks`` one by one. With the
``fork`` start method the context is inherited rather than pickled (cheap for a parsed COCO file), but it must
still be picklable: tests run the same pipelines with ``spawn`` to keep it so.

An exception raised by a task is raised again by ``map`` at that task's place in the order. Leaving the iterator
early (``break``, an error, ``KeyboardInterrupt``) or :meth:`Executor.close` cancels the tasks not yet done.
"""

from __future__ import annotations

import multiprocessing
import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from cvkit.errors import CvkitError

C = TypeVar("C")
T = TypeVar("T")
R = TypeVar("R")

#: engines by name: ``local`` (this machine's processes; in-process for one worker) and ``ray`` (a Ray cluster)
ENGINES = ("local", "ray")


class Executor(ABC):
    """Runs ``function(context, task)`` over tasks, results in order. See the module docstring."""

    #: engine name, as ``--engine`` takes it
    name: str = "local"
    #: how many tasks may run at once
    workers: int = 1

    @abstractmethod
    def map(self, function: Callable[[C, T], R], context: C, tasks: Sequence[T]) -> Iterator[R]:
        """``function(context, task)`` for every task, in task order."""

    def close(self) -> None:  # noqa: B027 (optional: executors without workers have nothing to free)
        """Cancel what is still running and free the workers (a no-op where there are none)."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class InProcess(Executor):
    """Every task here, one after the other: the serial path is the same pipeline, not a second implementation."""

    name = "local"
    workers = 1

    def map(self, function: Callable[[C, T], R], context: C, tasks: Sequence[T]) -> Iterator[R]:
        for task in tasks:
            yield function(context, task)


#: a local worker's context, set once by the pool's initializer (:class:`LocalProcesses`)
_worker_context: Any = None


def _set_worker_context(context: Any) -> None:
    global _worker_context
    _worker_context = context


def _call_with_context(call: tuple[Callable[[Any, Any], Any], Any]) -> Any:
    function, task = call
    return function(_worker_context, task)


#: closed pools whose workers may still be ending (see :meth:`LocalProcesses.map`)
_ending: list[Any] = []


def can_fork() -> bool:
    return "fork" in multiprocessing.get_all_start_methods()


class LocalProcesses(Executor):
    """Tasks on ``workers`` processes of this machine: forked where fork exists (workers start in milliseconds and
    inherit the context), spawned elsewhere or when asked (``start_method="spawn"``)."""

    name = "local"

    def __init__(self, workers: int, start_method: str | None = None):
        self.workers = max(1, workers)
        self.start_method = start_method or ("fork" if can_fork() else "spawn")
        self._pool: Any = None

    def map(self, function: Callable[[C, T], R], context: C, tasks: Sequence[T]) -> Iterator[R]:
        self.close()
        _ending.clear()  # the pools of earlier calls, their workers long gone: finalized (joined) now, at no cost
        pool = multiprocessing.get_context(self.start_method).Pool(self.workers, _set_worker_context, (context,))
        self._pool = pool
        results = pool.imap(_call_with_context, [(function, task) for task in tasks])
        pool.close()  # no task comes after these: workers end as soon as the tasks run out
        try:
            yield from results
        except BaseException:  # an error, or the caller stopped early: the workers are stopped and waited for
            pool.terminate()
            pool.join()
            self._pool = None
            raise
        # Every result is in. The workers are ending (the kernel taking down each one's copy of a parsed COCO file
        # takes a while), and joining them would wait for that: the pool is kept until the next call instead, or
        # the interpreter's exit (the ``cvkit`` command waits for any still ending).
        _ending.append(pool)
        self._pool = None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None


def default_workers(workers: int | None) -> int:
    """``workers`` as given, else one a CPU this process may use."""
    if workers is not None:
        return max(1, workers)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def make_executor(engine: str | None = None, workers: int | None = None, address: str | None = None) -> Executor:
    """The executor for ``engine`` (default: ``$CVKIT_ENGINE``, else ``local``). ``local`` gives :class:`InProcess`
    for one worker and :class:`LocalProcesses` otherwise; ``ray`` connects to ``address`` (default:
    ``$RAY_ADDRESS``, else a local Ray instance) and needs the ``ray`` extra."""
    engine = engine or os.environ.get("CVKIT_ENGINE") or "local"
    if engine == "local":
        count = default_workers(workers)
        return InProcess() if count <= 1 else LocalProcesses(count)
    if engine == "ray":
        try:
            from cvkit.core.executor_ray import RayExecutor  # type: ignore[import-not-found]
        except ImportError as err:
            raise CvkitError(f"--engine ray needs Ray: pip install 'cvkit[ray]' ({err})") from err
        return RayExecutor(address=address or os.environ.get("RAY_ADDRESS"), workers=workers)
    raise CvkitError(f"unknown engine {engine!r}: expected one of {', '.join(ENGINES)}")


#: the executor every pipeline runs on while set by :func:`using` (``--engine ray``); None: each picks its own
_chosen: Executor | None = None


@contextmanager
def using(executor: Executor) -> Iterator[Executor]:
    """Run every pipeline started inside the ``with`` on ``executor`` (whatever its size or ``workers``); the
    executor is closed on the way out. The CLI's ``--engine`` sets it; library callers may too."""
    global _chosen
    previous, _chosen = _chosen, executor
    try:
        yield executor
    finally:
        _chosen = previous
        executor.close()


def chosen() -> Executor | None:
    """The executor set by :func:`using`, if any."""
    return _chosen
