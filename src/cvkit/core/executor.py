"""Executors: where the per-shard work of a pipeline runs (in-process, local processes, or a cluster engine).

Every pipeline that spreads work (a reader's shards, a writer's ``encode``, a scan of many files) hands an
executor a module-level ``function``, one picklable ``context`` and a sequence of picklable ``tasks``;
``executor.map`` yields ``function(context, task)`` for each task, in task order, and calls ``on_done(index,
result)`` (when given) as each task's result reaches this process: a progress bar fed by completed shards.
Nothing reaches a worker through inherited memory alone: the same call runs in this process, on forked or
spawned local processes, or on another machine (the Ray engine, :mod:`cvkit.core.executor_ray`),
and gives the same results.

``context`` is sent once per worker (a pool's initializer; Ray's object store), ``tasks`` one by one. With the
``fork`` start method the context is inherited rather than pickled (cheap for a parsed COCO file), but it must
still be picklable: tests run the same pipelines with ``spawn`` to keep it so.

An exception raised by a task is raised again by ``map`` at that task's place in the order. Leaving the iterator
early (``break``, an error, ``KeyboardInterrupt``) or :meth:`Executor.close` cancels the tasks not yet done.

Local worker processes leave Ctrl-C, SIGTERM and SIGHUP to the process that started them
(:mod:`cvkit.core.interrupts`): it unwinds and stops them, and they end without a word. Every pool starts and
stops through :func:`start_pool` and :func:`stop_pool`, which keep a list of the pools still running, so that
whoever is about to remove what workers write into (a temporary folder) can stop them first
(:func:`stop_workers`), even where the generator that drives them is left suspended by an error.
"""

from __future__ import annotations

import itertools
import multiprocessing
import multiprocessing.pool
import os
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from cvkit.core.interrupts import quiet_worker, signals_held, signals_left_to_parent
from cvkit.core.progress import progress_bar
from cvkit.errors import CvkitError

C = TypeVar("C")
T = TypeVar("T")
R = TypeVar("R")

#: called with a task's index and result as the result reaches this process (progress bars)
OnDone = Callable[[int, Any], None]

#: engines by name: ``local`` (this machine's processes; in-process for one worker) and ``ray`` (a Ray cluster)
ENGINES = ("local", "ray")


class Executor(ABC):
    """Runs ``function(context, task)`` over tasks, results in order. See the module docstring."""

    #: engine name, as ``--engine`` takes it
    name: str = "local"
    #: how many tasks may run at once
    workers: int = 1

    @abstractmethod
    def map(
        self, function: Callable[[C, T], R], context: C, tasks: Sequence[T], on_done: OnDone | None = None
    ) -> Iterator[R]:
        """``function(context, task)`` for every task, in task order; ``on_done(index, result)`` as each arrives
        (in completion order where the engine knows it, else in task order), before it is yielded."""

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

    def map(
        self, function: Callable[[C, T], R], context: C, tasks: Sequence[T], on_done: OnDone | None = None
    ) -> Iterator[R]:
        for index, task in enumerate(tasks):
            result = function(context, task)
            if on_done is not None:
                on_done(index, result)
            yield result


#: a local worker's context, set once by the pool's initializer (:class:`LocalProcesses`)
_worker_context: Any = None


def _set_worker_context(context: Any) -> None:
    global _worker_context
    _worker_context = context


#: pools started and not yet stopped or finished: (serial, starting thread, pool)
_running: list[tuple[int, int, Any]] = []
_serials = itertools.count(1)


class _QuietPool(multiprocessing.pool.Pool):
    """A pool whose workers leave Ctrl-C, SIGTERM and SIGHUP to the parent (:func:`~cvkit.core.interrupts.quiet_worker`)
    and are ended with SIGKILL when it terminates them: a SIGTERM would be ignored. They are killed only after the
    pool has taken the locks of its queues back from them, so none dies holding one."""

    @staticmethod
    def Process(ctx: Any, *args: Any, **kwds: Any) -> Any:  # multiprocessing names it so
        process = ctx.Process(*args, **kwds)
        process.terminate = process.kill
        return process


def _start_worker(
    left_to_parent: tuple[int, ...], initializer: Callable[..., None] | None, initargs: tuple[Any, ...]
) -> None:
    quiet_worker(left_to_parent)
    if initializer is not None:
        initializer(*initargs)


def start_pool(
    start_method: str, workers: int, initializer: Callable[..., None] | None = None, initargs: tuple[Any, ...] = ()
) -> Any:
    """A ``multiprocessing`` pool of ``workers`` quiet workers (:func:`cvkit.core.interrupts.quiet_worker`) that
    run ``initializer(*initargs)`` first; end it with :func:`stop_pool` or :func:`pool_finished`. A signal that
    arrives while the workers start is acted upon once the pool is known to :func:`stop_workers`."""
    with signals_held():  # the workers start with these signals blocked, until they ignore them
        pool = _QuietPool(
            workers,
            _start_worker,
            (signals_left_to_parent(), initializer, initargs),
            context=multiprocessing.get_context(start_method),
        )
        _running.append((next(_serials), threading.get_ident(), pool))
    return pool


def stop_pool(pool: Any) -> None:
    """Cancel ``pool``'s tasks, end its workers and wait for them."""
    pool_finished(pool)
    pool.terminate()
    pool.join()


def pool_finished(pool: Any) -> None:
    """``pool`` ran all its tasks (closed: its workers end on their own); it no longer needs stopping."""
    _running[:] = [entry for entry in _running if entry[2] is not pool]


def workers_mark() -> int:
    """A mark for :func:`stop_workers`: pools started after it are the ones it stops."""
    return _running[-1][0] if _running else 0


def stop_workers(since: int = 0) -> None:
    """Stop every pool this thread started after ``since`` (:func:`workers_mark`) and has not stopped: before a
    temporary folder they may write into is removed, or before the command ends after an error."""
    me = threading.get_ident()
    for _serial, _thread, pool in [entry for entry in reversed(_running) if entry[0] > since and entry[1] == me]:
        stop_pool(pool)


def _call_with_context(call: tuple[Callable[[Any, Any], Any], Any]) -> Any:
    function, task = call
    return function(_worker_context, task)


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

    def map(
        self, function: Callable[[C, T], R], context: C, tasks: Sequence[T], on_done: OnDone | None = None
    ) -> Iterator[R]:
        self.close()
        pool = start_pool(self.start_method, self.workers, _set_worker_context, (context,))
        self._pool = pool
        results = pool.imap(_call_with_context, [(function, task) for task in tasks])
        pool.close()  # no task comes after these: workers end as soon as the tasks run out
        try:
            for index, result in enumerate(results):
                if on_done is not None:
                    on_done(index, result)
                yield result
        except BaseException:  # an error, or the caller stopped early: the workers are stopped and waited for
            self._pool = None
            stop_pool(pool)
            raise
        pool_finished(pool)
        pool.join()
        self._pool = None

    def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            stop_pool(pool)


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


def tracked_map(
    executor: Executor,
    function: Callable[[C, T], R],
    context: C,
    tasks: Sequence[T],
    description: str,
    size: Callable[[T], int] = lambda _task: 1,
) -> Iterator[R]:
    """``executor.map`` with one progress bar that every completed task moves by ``size(task)`` (its images),
    in completion order on a cluster."""
    total = sum(size(task) for task in tasks)
    with progress_bar(description, total) as advance:
        yield from executor.map(function, context, tasks, on_done=lambda index, _result: advance(size(tasks[index])))
