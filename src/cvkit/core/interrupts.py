"""Ctrl-C, SIGTERM and SIGHUP end a command by unwinding, never by dying in the middle of a write.

A terminal sends Ctrl-C (SIGINT) and a closed terminal's SIGHUP to the whole process group, and ``kill -TERM -PGID``
or a service manager sends SIGTERM to every process: the command and its worker processes. Only the command's
main thread acts on them: it raises (:class:`KeyboardInterrupt`, :class:`Terminated`), so every ``finally`` and
``except BaseException`` on the way out runs (temporary folders removed, worker processes stopped and waited for),
and the command exits 128 + the signal's number (130, 143, 129). Workers leave these signals to it
(:func:`quiet_worker`): a worker that died of one while holding a lock of its pool's queues would leave the
command waiting for it forever.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

#: the signals a command unwinds on (SIGHUP does not exist on Windows)
UNWOUND = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))
#: a third signal while the command unwinds ends the process at once (someone wants out, cleanup or not)
GIVE_UP_AFTER = 3


class Terminated(BaseException):
    """SIGTERM or SIGHUP arrived: raised in the main thread so the command unwinds as it does for Ctrl-C.

    A :class:`BaseException` (as :class:`KeyboardInterrupt`): ``except Exception`` handlers let it through."""

    def __init__(self, signum: int):
        self.signum = signum
        super().__init__(f"stopped by {signal.Signals(signum).name}")

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


def exit_code_of(interruption: BaseException) -> int:
    """The exit status for a command ended by ``interruption``: 128 + the signal's number (130 for Ctrl-C)."""
    return interruption.exit_code if isinstance(interruption, Terminated) else 128 + signal.SIGINT


_received: list[int] = []
#: signals noted while :func:`signals_held` holds them back, and how deep such blocks are nested
_held: list[int] = []
_holding = [0]
_MASKS = hasattr(signal, "pthread_sigmask")


def _unwind(signum: int, _frame: Any) -> None:
    if _holding[0]:
        _held.append(signum)
        return
    _received.append(signum)
    if len(_received) >= GIVE_UP_AFTER:
        os._exit(128 + signum)
    if len(_received) > 1:
        return  # already unwinding: a second Ctrl-C must not cut the cleanup short
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    raise Terminated(signum)


@contextmanager
def unwinding_signals() -> Iterator[None]:
    """Inside the block, SIGINT raises :class:`KeyboardInterrupt` and SIGTERM/SIGHUP raise :class:`Terminated` in
    the main thread, once; a repeat while unwinding is ignored, the third ends the process. Signals whose handler
    someone else set (not Python's defaults) are left alone; off the main thread, nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    default_int = signal.default_int_handler
    previous = {signum: signal.getsignal(signum) for signum in UNWOUND}
    for signum, handler in previous.items():
        if handler in (signal.SIG_DFL, default_int):
            signal.signal(signum, _unwind)
    _received.clear()
    try:
        yield
    finally:
        for signum, handler in previous.items():
            if signal.getsignal(signum) is _unwind:
                signal.signal(signum, handler)


@contextmanager
def signals_held() -> Iterator[None]:
    """Inside the block, the unwinding signals are blocked in this thread (processes it starts begin with them
    blocked) and, should one reach the handler, noted: it acts at the end of the block, not half-way through
    starting a pool of workers."""
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, UNWOUND) if _MASKS else None
    main = threading.current_thread() is threading.main_thread()  # Python runs signal handlers there alone
    _holding[0] += main
    try:
        yield
    finally:
        _holding[0] -= main
        if mask is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        if main and not _holding[0] and _held:
            signum = _held[0]
            _held.clear()
            _unwind(signum, None)


def signals_left_to_parent() -> tuple[int, ...]:
    """The signals this process handles rather than dies of (SIGINT always: a worker never acts on Ctrl-C):
    what its workers must leave to it (:func:`quiet_worker`)."""
    return tuple(
        signum for signum in UNWOUND if signum == signal.SIGINT or signal.getsignal(signum) is not signal.SIG_DFL
    )


def quiet_worker(left_to_parent: tuple[int, ...]) -> None:
    """In a worker process, at its start: ignore the signals its parent handles (``left_to_parent``, from
    :func:`signals_left_to_parent`), so a terminal's Ctrl-C reaches the parent alone and no worker prints a
    ``KeyboardInterrupt`` traceback or dies holding a lock of its pool's queues; the parent ends its workers
    itself. The signals its parent blocked while starting it (:func:`signals_held`) are unblocked."""
    for signum in left_to_parent:
        signal.signal(signum, signal.SIG_IGN)
    if _MASKS:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, UNWOUND)
