"""The process-wide tricks of the ``cvkit`` command, kept here so that the library never plays them.

A conversion builds millions of small containers and the command ends right after it, so the command (and only the
command: never ``cvkit.convert()`` called from Python) may:

- pause the cyclic garbage collector while it converts (:func:`paused_gc`): cvkit's objects form no reference
  cycles, reference counting frees them anyway, and the collector's passes over a growing heap cost a large share
  of a JSON-heavy conversion;
- keep the converted dataset until the process ends, with the collector off (:func:`kept_until_exit`), rather than
  free it object by object;
- end the process with ``os._exit`` once the command has ended (:func:`end_now`, :func:`end_distributed_run`),
  skipping interpreter teardown.

Setting the environment variable ``CVKIT_NO_FAST_EXIT=1`` turns all of them off: the command then leaves the
collector alone and ends as any Python program does, running ``atexit`` handlers (coverage, profilers, an
application that calls :func:`cvkit.cli.main` itself). What each trick saves is measured in docs/benchmarks.md.
"""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from cvkit.cli.common import report_os_error
from cvkit.errors import CvkitError

D = TypeVar("D")

#: the environment variable that turns every trick of this module off
SWITCH = "CVKIT_NO_FAST_EXIT"

#: Set by :func:`claim_process` when ``cvkit`` runs as its own process: the process then ends with the command.
#: Off for commands run in-process (tests, typer's CliRunner), for which nothing here changes the interpreter.
_ends_with_command = False
_kept: list[Any] = []


def tricks_allowed() -> bool:
    """False when ``CVKIT_NO_FAST_EXIT`` is set to anything but ``""`` or ``0``."""
    return os.environ.get(SWITCH, "").strip() in ("", "0")


def claim_process() -> None:
    """Called by the ``cvkit`` entry point: this process ends with the command (unless the switch is set)."""
    global _ends_with_command
    _ends_with_command = tricks_allowed()


def ends_with_command() -> bool:
    """Whether this process is a ``cvkit`` command that may keep objects until it ends and end early."""
    return _ends_with_command


@contextmanager
def paused_gc() -> Iterator[None]:
    """The cyclic collector off inside the block, back to its former state after (also after an error); a no-op
    under ``CVKIT_NO_FAST_EXIT``. Only the CLI uses it: the library leaves the collector as it finds it."""
    if not tricks_allowed():
        yield
        return
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@contextmanager
def kept_until_exit() -> Iterator[Callable[[D], D]]:
    """A function that keeps a conversion's dataset until the process ends, when it ends with the command: freeing
    it object by object is work nobody waits for.

    The cyclic collector is then off for the rest of the process, from the start of the block: switched back on
    after the conversion, it would scan every kept object once; cvkit's data forms no cycles. In-process (and under
    ``CVKIT_NO_FAST_EXIT``), the function hands the dataset back and nothing changes."""
    if not _ends_with_command:
        yield _same
        return
    gc.disable()
    yield _keep


def _same(dataset: D) -> D:
    return dataset


def _keep(dataset: D) -> D:
    _kept.append(dataset)
    return dataset


def end_now(code: object) -> object:
    """End the process with ``code`` without tearing down the interpreter; returns the code to end with (and lets
    Python end as usual) where that is not safe or not wanted.

    Pools an error left running (their generator suspended) are stopped first, not waited for
    (:func:`cvkit.core.workers.stop_workers`). By now the command's files are written and closed, its threads
    joined, and nothing cvkit registers must run at exit; stdout and stderr are flushed here (an output that fails
    then is reported, and its exit code replaces ``code``), and worker processes still ending are waited for, so
    that none outlives the command and their CPU time counts as the command's. It returns when the process does not
    end with the command (in-process runs, ``CVKIT_NO_FAST_EXIT``), with torch loaded (train, evaluate, predict,
    augment on a GPU: torch cleans up at exit, data loader workers and CUDA), and for a code that is not a number
    (a message, which Python prints)."""
    if "multiprocessing" in sys.modules:
        from cvkit.core.workers import stop_workers

        stop_workers()
    if not _ends_with_command:
        return code
    if "torch" in sys.modules or not (code is None or isinstance(code, int)):
        gc.freeze()  # the collector's last pass over every object is skipped at least
        return code
    try:
        sys.stdout.flush()
    except (OSError, ValueError) as failed:  # the end of the output did not go out: say so (quietly for a closed pipe)
        code = report_os_error(failed) if isinstance(failed, OSError) else 2
    try:
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
    if "multiprocessing" in sys.modules:
        for child in sys.modules["multiprocessing"].active_children():
            child.join()
    os._exit(code or 0)


def end_distributed_run() -> None:
    """End a finished torchrun process without interpreter finalization: gloo's worker threads can still hold work
    objects whose destruction then aborts the process ("terminate called without an active exception",
    pytorch/pytorch#179291), which torchrun reports as a failed run although every file is written.

    Under ``CVKIT_NO_FAST_EXIT`` it returns and the process ends as usual (with that risk)."""
    if not tricks_allowed():
        return
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


#: torch's DataLoader sharing strategies ``CVKIT_TORCH_SHARING`` may name
SHARING_STRATEGIES = ("file_descriptor", "file_system")


def torch_sharing_from_env() -> None:
    """Set torch's tensor-sharing strategy from ``$CVKIT_TORCH_SHARING`` (process-wide, so here at the CLI edge).

    DataLoader workers hand batches over by file descriptor; sandboxed machines that refuse that (``EBADF`` in
    ``DupFd``) work with ``file_system``. ``benchmarks/sharing_probe.py`` tells which works on a machine."""
    strategy = os.environ.get("CVKIT_TORCH_SHARING")
    if not strategy:
        return
    if strategy not in SHARING_STRATEGIES:
        raise CvkitError(f"CVKIT_TORCH_SHARING={strategy!r}: choose {' or '.join(SHARING_STRATEGIES)}")
    import torch.multiprocessing

    torch.multiprocessing.set_sharing_strategy(strategy)
