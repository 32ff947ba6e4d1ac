"""Executors: where the per-shard work of a pipeline runs (in-process, local processes, or a cluster engine).

Every pipeline that spreads work (a reader's shards, a writer's ``encode``, a scan of many files) hands an
executor a module-level ``function``, one picklable ``context`` and a sequence of picklable ``tasks``;
``executor.map`` yields ``function(context, task)`` for each task, in task order, and calls ``on_done(index,
result)`` (when given) as each task's result reaches this process: a progress bar fed by completed shards.
Nothing reaches a worker through inherited memory alone: the same call runs in this process, on forked or
spawned local processes, or on another machine (the Ray engine, :mod:`cvkit.core.executor_ray`),
and gives the same results.

``context`` is sent once per worker (at its start; Ray's object store), ``tasks`` one by one. With the
``fork`` start method the context is inherited rather than pickled (cheap for a parsed COCO file), but it must
still be picklable: tests run the same pipelines with ``spawn`` to keep it so.

An exception raised by a task is raised again by ``map`` at that task's place in the order. Leaving the iterator
early (``break``, an error, ``KeyboardInterrupt``) or :meth:`Executor.close` cancels the tasks not yet done.

Local worker processes leave Ctrl-C, SIGTERM and SIGHUP to the process that started them
(:mod:`cvkit.core.interrupts`): it unwinds and stops them, and they end without a word. They share no lock and
no queue (:mod:`cvkit.core.workers`), so killing one at any moment leaves nobody waiting, and one that dies stops
the run with an error. :func:`~cvkit.core.workers.stop_workers` stops every set still running: whoever is about
to remove what workers write into (a temporary folder) calls it first, even where the generator driving them is
left suspended.
"""

from __future__ import annotations

import multiprocessing
import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from cvkit.core.progress import progress_bar
from cvkit.core.workers import WorkerSet
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


def can_fork() -> bool:
    return "fork" in multiprocessing.get_all_start_methods()


class LocalProcesses(Executor):
    """Tasks on ``workers`` processes of this machine: forked where fork exists (workers start in milliseconds and
    inherit the context), spawned elsewhere or when asked (``start_method="spawn"``)."""

    name = "local"

    def __init__(self, workers: int, start_method: str | None = None):
        self.workers = max(1, workers)
        self.start_method = start_method or ("fork" if can_fork() else "spawn")
        self._workers: WorkerSet | None = None

    def map(
        self, function: Callable[[C, T], R], context: C, tasks: Sequence[T], on_done: OnDone | None = None
    ) -> Iterator[R]:
        self.close()
        if not tasks:
            return
        workers = WorkerSet(self.start_method, min(self.workers, len(tasks)), context)
        self._workers = workers
        try:
            workers.start()
            yield from workers.run(function, tasks, on_done)
        except BaseException:  # an error, or the caller stopped early: the workers are killed and waited for
            workers.stop()
            raise
        finally:
            self._workers = None
        workers.finish()

    def close(self) -> None:
        if self._workers is not None:
            workers, self._workers = self._workers, None
            workers.stop()


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
