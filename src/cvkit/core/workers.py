"""Local worker processes that share no lock: what :class:`cvkit.core.executor.LocalProcesses` runs its tasks on.

Each worker has a pipe of its own; the parent gives a task to a worker only when that worker is idle, reads the
results as they come (``multiprocessing.connection.wait`` over every pipe and every worker's process sentinel)
and hands them on in task order. ``multiprocessing.Pool`` shares one queue and its locks among all its workers:
a worker killed while it held one (a SIGKILL to stop the pool, the OOM killer) left the parent waiting on that
lock forever, and a worker that died took its task with it without a word (``imap`` waited forever). Here a
worker can be killed at any moment: nobody else waits on its pipe, and a worker that dies in the middle of a task
stops the run with an error naming the task.

Workers leave Ctrl-C, SIGTERM and SIGHUP to their parent (:func:`~cvkit.core.interrupts.quiet_worker`): it
unwinds and kills them. Every set of workers is known, from its start to its end, to :func:`stop_workers`, so that
whoever is about to remove what workers write into (a temporary folder) can stop them first, even where the
generator that drives them is left suspended by an error.
"""

from __future__ import annotations

import itertools
import multiprocessing
import threading
import traceback
from collections.abc import Callable, Iterator, Sequence
from multiprocessing.connection import Connection, wait
from typing import Any

from cvkit.core.interrupts import quiet_worker, signals_held, signals_left_to_parent
from cvkit.errors import CvkitError

#: results a run may hold ahead of the next one in task order before it gives out more tasks (times the workers)
AHEAD_PER_WORKER = 4


class RemoteTraceback(Exception):
    """The traceback of an error raised in a worker, as text: the ``__cause__`` of the error raised here."""

    def __str__(self) -> str:
        return str(self.args[0])


def _outcome_of(error: BaseException) -> tuple[bool, Any, str]:
    text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    return False, error, f'\n"""\n{text}"""'


def _serve(conn: Connection, left_to_parent: tuple[int, ...], context: Any) -> None:
    """A worker's life: run ``function(context, task)`` for each ``(function, task)`` received and send back
    ``(ok, result or error, remote traceback)``, until told to stop (None) or the parent is gone."""
    quiet_worker(left_to_parent)
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):  # the parent is gone
            return
        if message is None:
            return
        function, task = message
        try:
            outcome: tuple[bool, Any, str] = (True, function(context, task), "")
        except BaseException as error:  # every error goes back to the parent, which raises it
            outcome = _outcome_of(error)
        try:
            conn.send(outcome)
        except (BrokenPipeError, EOFError):
            return
        except Exception as unpicklable:  # the result or the error cannot travel: say which
            kind = "result" if outcome[0] else f"error ({type(outcome[1]).__name__}: {outcome[1]})"
            conn.send(_outcome_of(CvkitError(f"a worker's {kind} could not be sent back: {unpicklable}")))


#: sets of workers started and not yet ended: (serial, starting thread, workers)
_running: list[tuple[int, int, WorkerSet]] = []
_serials = itertools.count(1)


class WorkerSet:
    """``count`` worker processes started with ``start_method``, each holding ``context``; :meth:`run` maps tasks
    over them. End it with :meth:`finish` (all tasks done) or :meth:`stop` (killed at once)."""

    def __init__(self, start_method: str, count: int, context: Any):
        self._method = multiprocessing.get_context(start_method)
        self._count = count
        self._context = context
        self._processes: list[Any] = []
        self._pipes: list[Connection] = []

    def start(self) -> None:
        """Start the workers. A signal that arrives meanwhile is acted upon once all of them are known to
        :func:`stop_workers` (they start with the signals blocked, until they ignore them)."""
        with signals_held():
            _running.append((next(_serials), threading.get_ident(), self))
            left_to_parent = signals_left_to_parent()
            for _ in range(self._count):
                mine, theirs = self._method.Pipe(duplex=True)
                process = self._method.Process(
                    target=_serve, args=(theirs, left_to_parent, self._context), daemon=True, name="cvkit-worker"
                )
                self._pipes.append(mine)
                self._processes.append(process)
                process.start()
                theirs.close()

    def run(
        self,
        function: Callable[[Any, Any], Any],
        tasks: Sequence[Any],
        on_done: Callable[[int, Any], None] | None = None,
    ) -> Iterator[Any]:
        """``function(context, task)`` for every task, in task order; ``on_done(index, result)`` as each result
        arrives. A task's error is raised at its place in the order, with the worker's traceback as its cause."""
        idle = list(range(len(self._processes)))
        running: dict[int, int] = {}  # worker -> index of its task
        arrived: dict[int, tuple[bool, Any, str]] = {}
        given = handed = 0
        ahead = AHEAD_PER_WORKER * len(self._processes)

        def feed() -> None:  # every idle worker a task, unless the results ahead of the next one are too many
            nonlocal given
            while idle and given < len(tasks) and given - handed < ahead:
                worker = idle.pop()
                self._give(worker, given, function, tasks[given])
                running[worker] = given
                given += 1

        while handed < len(tasks):
            feed()
            if handed not in arrived:
                for worker in self._wait(running):
                    index = running.pop(worker)
                    arrived[index] = self._receive(worker, index)
                    idle.append(worker)
                    if on_done is not None and arrived[index][0]:
                        on_done(index, arrived[index][1])
                continue
            ok, value, remote = arrived.pop(handed)
            if not ok:
                value.__cause__ = RemoteTraceback(remote)
                raise value
            handed += 1
            feed()  # the workers go on while the caller handles this result
            yield value

    def _give(self, worker: int, index: int, function: Callable[[Any, Any], Any], task: Any) -> None:
        try:
            self._pipes[worker].send((function, task))
        except (BrokenPipeError, ConnectionResetError):
            raise self._died(worker, index) from None

    def _wait(self, running: dict[int, int]) -> list[int]:
        """The workers among ``running`` whose result has arrived; a worker that ended without one stops the run."""
        pipes = {self._pipes[worker]: worker for worker in running}
        ends = {self._processes[worker].sentinel: worker for worker in running}
        ready = wait([*pipes, *ends])
        answered = {pipes[item] for item in ready if item in pipes}
        for item in ready:
            worker = ends.get(item)  # type: ignore[call-overload]
            if worker is not None and worker not in answered and not self._pipes[worker].poll():
                raise self._died(worker, running[worker])
        return sorted(answered)

    def _receive(self, worker: int, index: int) -> tuple[bool, Any, str]:
        try:
            return self._pipes[worker].recv()
        except (EOFError, ConnectionResetError):
            raise self._died(worker, index) from None

    def _died(self, worker: int, index: int) -> CvkitError:
        process = self._processes[worker]
        process.join(timeout=1)
        return CvkitError(
            f"a worker process ended (exit code {process.exitcode}) while running task {index}; "
            "was it killed, or out of memory?"
        )

    def finish(self) -> None:
        """Tell every worker to end, and wait for them (their tasks are done)."""
        for pipe in self._pipes:
            try:
                pipe.send(None)
            except OSError:
                pass  # gone already
        for process in self._processes:
            process.join()
        self._forget()

    def stop(self) -> None:
        """Kill every worker and wait for them: whatever they were doing, nobody waits on what they held."""
        for process in self._processes:
            if process.exitcode is None:
                process.kill()
        for process in self._processes:
            process.join()
        self._forget()

    def _forget(self) -> None:
        for pipe in self._pipes:
            pipe.close()
        self._pipes, self._processes = [], []
        _running[:] = [entry for entry in _running if entry[2] is not self]


def workers_mark() -> int:
    """A mark for :func:`stop_workers`: worker sets started after it are the ones it stops."""
    return _running[-1][0] if _running else 0


def stop_workers(since: int = 0) -> None:
    """Stop every set of workers this thread started after ``since`` (:func:`workers_mark`) and has not ended:
    before a temporary folder they may write into is removed, or before the command ends after an error."""
    me = threading.get_ident()
    for _serial, _thread, workers in [entry for entry in reversed(_running) if entry[0] > since and entry[1] == me]:
        workers.stop()
