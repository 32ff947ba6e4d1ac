"""The Ray engine: a pipeline's tasks as Ray tasks on a cluster (``--engine ray``).

Same contract as every :class:`~cvkit.core.executor.Executor`: ``function(context, task)`` per task, results in
task order. The context goes into Ray's object store once (``ray.put``) and every task reads it from there; tasks
and results travel pickled. cvkit's own code is shipped with the job (``runtime_env`` ``py_modules``) unless the
cluster is told to use its installed copy (``ship_code=False``), so workers run the driver's cvkit, byte for byte.

Faults: a task whose worker process or node dies is retried by Ray (``max_retries``); when the retries run out
the run stops with a :class:`~cvkit.errors.CvkitError` naming the task, never with a hole in the output. An
exception a task raises itself (a malformed file with ``--skip-invalid`` off) is raised again here as it was,
not retried. Leaving the iterator early, an error or Ctrl-C cancels every task still queued or running.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

from cvkit.core.executor import Executor
from cvkit.errors import CvkitError

C = TypeVar("C")
T = TypeVar("T")
R = TypeVar("R")

#: retries of a task whose worker or node died (Ray's ``max_retries``)
DEFAULT_RETRIES = 3


def _call(function: Callable[[Any, Any], Any], context: Any, task: Any) -> Any:
    """Worker side: Ray resolves ``context`` (an object-store reference) before the call."""
    return function(context, task)


class RayExecutor(Executor):
    """Tasks on a Ray cluster: ``address`` is ``auto``, ``ray://HOST:PORT``, ``HOST:PORT`` or None (a Ray instance
    started for this process). At most ``2 x workers`` tasks are in flight, so a long input never floods the object
    store; ``workers`` defaults to the cluster's CPUs."""

    name = "ray"

    def __init__(self, address: str | None = None, workers: int | None = None, max_retries: int = DEFAULT_RETRIES,
                 ship_code: bool = True):
        try:
            import ray
        except ImportError as err:  # make_executor words this for the CLI; direct callers get the same advice
            raise CvkitError(f"the Ray engine needs Ray: pip install 'cvkit[ray]' ({err})") from err
        self._ray = ray
        self.max_retries = max_retries
        if not ray.is_initialized():
            runtime_env = {"py_modules": [str(Path(__file__).resolve().parents[1])]} if ship_code else None
            try:
                ray.init(address=address or None, runtime_env=runtime_env, include_dashboard=False,
                         log_to_driver=False, configure_logging=False, ignore_reinit_error=True)
            except (ConnectionError, RuntimeError, ValueError) as err:
                raise CvkitError(f"cannot reach the Ray cluster at {address or 'a new local instance'}: {err}") from err
        cpus = int(ray.cluster_resources().get("CPU", 1))
        self.workers = max(1, workers if workers is not None else cpus)
        self._pending: list[Any] = []
        #: tasks submitted to the cluster so far (the CLI reports it)
        self.tasks_submitted = 0

    def map(self, function: Callable[[C, T], R], context: C, tasks: Sequence[T]) -> Iterator[R]:
        ray = self._ray
        remote = ray.remote(num_cpus=1, max_retries=self.max_retries, retry_exceptions=False)(_call)
        context_ref = ray.put(context)
        window = 2 * self.workers
        queued: deque[tuple[int, Any]] = deque()
        submitted = 0
        try:
            while submitted < len(tasks) or queued:
                while submitted < len(tasks) and len(queued) < window:
                    queued.append((submitted, remote.remote(function, context_ref, tasks[submitted])))
                    submitted += 1
                    self.tasks_submitted += 1
                self._pending = [ref for _, ref in queued]
                index, ref = queued.popleft()
                yield self._result(ref, index)
        except BaseException:
            self._pending = [ref for _, ref in queued]
            self.close()
            raise
        self._pending = []

    def _result(self, ref: Any, index: int) -> Any:
        exceptions = self._ray.exceptions
        try:
            return self._ray.get(ref)
        except exceptions.RayTaskError as err:
            cause = err.cause if isinstance(err.cause, BaseException) else None
            if cause is not None:
                raise cause from None
            raise CvkitError(f"task {index} failed on the Ray cluster: {err}") from None
        except (exceptions.WorkerCrashedError, exceptions.NodeDiedError, exceptions.ObjectLostError,
                exceptions.OwnerDiedError) as err:
            raise CvkitError(f"task {index} was lost on the Ray cluster after {self.max_retries} retries "
                             f"({type(err).__name__}); nothing was written") from None

    def close(self) -> None:
        """Cancel every task still queued or running (force: a running task's worker is killed)."""
        for ref in self._pending:
            try:
                self._ray.cancel(ref, force=True)
            except Exception:  # already finished or gone: nothing left to cancel
                pass
        self._pending = []

