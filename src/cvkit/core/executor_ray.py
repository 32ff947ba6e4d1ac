"""The Ray engine: a pipeline's tasks as Ray tasks on a cluster (``--engine ray``).

Same contract as every :class:`~cvkit.core.executor.Executor`: ``function(context, task)`` per task, results in
task order. The context goes into Ray's object store once (``ray.put``) and every task reads it from there; tasks
and results travel pickled. cvkit's own code is shipped with the job (``runtime_env`` ``py_modules``) unless the
cluster is told to use its installed copy (``ship_code=False``), so workers run the driver's cvkit, byte for byte;
the driver's limits (``CVKIT_MAX_PIXELS`` and the others of :mod:`cvkit.core.limits`) go with it.

Faults: a task whose worker process or node dies is retried by Ray (``max_retries``); when the retries run out
the run stops with a :class:`~cvkit.errors.CvkitError` naming the task, never with a hole in the output. An
exception a task raises itself (a malformed file with ``--skip-invalid`` off) is raised again here as it was,
not retried. Leaving the iterator early, an error or Ctrl-C cancels every task still queued or running.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

from cvkit.core.executor import Executor, OnDone
from cvkit.errors import CvkitError

C = TypeVar("C")
T = TypeVar("T")
R = TypeVar("R")

#: retries of a task whose worker or node died (Ray's ``max_retries``)
DEFAULT_RETRIES = 3


def _call(function: Callable[[Any, Any], Any], context: Any, task: Any) -> Any:
    """Worker side: Ray resolves ``context`` (an object-store reference) before the call."""
    return function(context, task)


#: the driver's settings from the environment that workers take too: the limits of :mod:`cvkit.core.limits`
FORWARDED_PREFIX = "CVKIT_MAX_"


def forwarded_environment() -> dict[str, str]:
    """The driver's limits (``CVKIT_MAX_PIXELS``, ``CVKIT_MAX_SIDE``, ...) for the workers' environment, so that a
    limit raised here holds on the cluster too. Paths (``CVKIT_CACHE_DIR``) stay here: they name this machine."""
    return {name: value for name, value in os.environ.items() if name.startswith(FORWARDED_PREFIX)}


class RayExecutor(Executor):
    """Tasks on a Ray cluster: ``address`` is ``auto``, ``ray://HOST:PORT``, ``HOST:PORT`` or None (a Ray instance
    started for this process). At most ``2 x workers`` tasks are in flight, so a long input never floods the object
    store; ``workers`` defaults to the cluster's CPUs."""

    name = "ray"

    def __init__(
        self,
        address: str | None = None,
        workers: int | None = None,
        max_retries: int = DEFAULT_RETRIES,
        ship_code: bool = True,
    ):
        try:
            import ray
        except ImportError as err:  # make_executor words this for the CLI; direct callers get the same advice
            raise CvkitError(f"the Ray engine needs Ray: pip install 'cvkit[ray]' ({err})") from err
        self._ray = ray
        self.max_retries = max_retries
        if not ray.is_initialized():
            runtime_env: dict[str, Any] = {"env_vars": forwarded_environment()}
            if ship_code:
                runtime_env["py_modules"] = [str(Path(__file__).resolve().parents[1])]
            try:
                ray.init(
                    address=address or None,
                    runtime_env=runtime_env,
                    include_dashboard=False,
                    log_to_driver=False,
                    configure_logging=False,
                    ignore_reinit_error=True,
                )
            except (ConnectionError, RuntimeError, ValueError) as err:
                raise CvkitError(f"cannot reach the Ray cluster at {address or 'a new local instance'}: {err}") from err
        cpus = int(ray.cluster_resources().get("CPU", 1))
        self.workers = max(1, workers if workers is not None else cpus)
        self._pending: list[Any] = []
        #: tasks submitted to the cluster so far (the CLI reports it)
        self.tasks_submitted = 0

    def map(
        self, function: Callable[[C, T], R], context: C, tasks: Sequence[T], on_done: OnDone | None = None
    ) -> Iterator[R]:
        ray = self._ray
        remote = ray.remote(num_cpus=1, max_retries=self.max_retries, retry_exceptions=False)(_call)
        context_ref = ray.put(context)
        window = 2 * self.workers
        queued: deque[tuple[int, Any]] = deque()
        fetched: dict[int, Any] = {}  # results fetched early, to tell on_done as they complete
        submitted = 0
        try:
            while submitted < len(tasks) or queued:
                while submitted < len(tasks) and len(queued) < window:
                    queued.append((submitted, remote.remote(function, context_ref, tasks[submitted])))
                    submitted += 1
                    self.tasks_submitted += 1
                self._pending = [ref for _, ref in queued]
                if on_done is not None:
                    self._fetch_completed(queued, fetched, on_done)
                index, ref = queued.popleft()
                if index in fetched:
                    yield fetched.pop(index)
                    continue
                result = self._result(ref, index)
                if on_done is not None:
                    on_done(index, result)
                yield result
        except BaseException:
            self._pending = [ref for _, ref in queued]
            self.close()
            raise
        self._pending = []

    def _fetch_completed(self, queued: deque[tuple[int, Any]], fetched: dict[int, Any], on_done: OnDone) -> None:
        """Wait until the head of ``queued`` is complete, fetching and telling ``on_done`` of every task that
        completes meanwhile (in completion order: the bar moves while a slow head task holds the rest back). A
        task that failed is left to :meth:`_result`, which raises its error at its place."""
        ray = self._ray
        head = queued[0][0]
        waiting = {ref: index for index, ref in queued if index not in fetched}
        while head not in fetched and waiting:
            ready, _ = ray.wait(list(waiting), num_returns=1)
            for ref in ready:
                index = waiting.pop(ref)
                try:
                    result = ray.get(ref)
                except Exception:  # raised at its place by _result
                    if index == head:
                        return
                    continue
                fetched[index] = result
                on_done(index, result)

    def _result(self, ref: Any, index: int) -> Any:
        exceptions = self._ray.exceptions
        try:
            return self._ray.get(ref)
        except exceptions.RayTaskError as err:
            cause = err.cause if isinstance(err.cause, BaseException) else None
            if cause is not None:
                raise cause from None
            raise CvkitError(f"task {index} failed on the Ray cluster: {err}") from None
        except (
            exceptions.WorkerCrashedError,
            exceptions.NodeDiedError,
            exceptions.ObjectLostError,
            exceptions.OwnerDiedError,
        ) as err:
            raise CvkitError(
                f"task {index} was lost on the Ray cluster after {self.max_retries} retries "
                f"({type(err).__name__}); nothing was written"
            ) from None

    def close(self) -> None:
        """Cancel every task still queued or running (force: a running task's worker is killed)."""
        for ref in self._pending:
            try:
                self._ray.cancel(ref, force=True)
            except Exception:  # already finished or gone: nothing left to cancel
                pass
        self._pending = []
