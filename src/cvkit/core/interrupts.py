"""Ctrl-C, SIGTERM and SIGHUP end a command by unwinding, never by dying in the middle of a write: the library side.

A terminal sends Ctrl-C (SIGINT) and a closed terminal's SIGHUP to the whole process group, and ``kill -TERM -PGID``
or a service manager sends SIGTERM to every process: the command and its worker processes. Only the command's
main thread acts on them: it raises (:class:`KeyboardInterrupt`, :class:`Terminated`), so every ``finally`` and
``except BaseException`` on the way out runs (temporary folders removed, worker processes stopped and waited for),
and the command exits 128 + the signal's number (130, 143, 129). Workers leave these signals to it
(:func:`quiet_worker`): a worker that died of one while holding a lock of its pool's queues would leave the
command waiting for it forever. The handlers themselves are process-wide, so they live at the CLI edge
(:mod:`cvkit.cli.signals`); this module holds what worker pools need and the exception the handlers raise.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

#: the signals a command unwinds on (SIGHUP does not exist on Windows)
UNWOUND = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


class Terminated(BaseException):
    """SIGTERM or SIGHUP arrived: raised in the main thread so the command unwinds as it does for Ctrl-C.

    A :class:`BaseException` (as :class:`KeyboardInterrupt`): ``except Exception`` handlers let it through."""

    def __init__(self, signum: int):
        self.signum = signum
        super().__init__(f"stopped by {signal.Signals(signum).name}")

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


def interruption_for(signum: int) -> BaseException:
    """What a command raises to unwind on ``signum``: :class:`KeyboardInterrupt` for Ctrl-C, else
    :class:`Terminated`."""
    return KeyboardInterrupt() if signum == signal.SIGINT else Terminated(signum)


#: the signal the handler raised for (:func:`note_raised`), kept until the next command starts
_raised: list[int] = []


def note_raised(signum: int) -> None:
    """For a signal handler, as it raises :func:`interruption_for` ``signum``: remembered, because Python only
    prints (never propagates) what is raised inside a ``__del__`` or a weakref callback, so the exception may be
    lost on its way; :func:`raise_if_interrupted` raises it again where that matters."""
    _raised.append(signum)


def interrupted() -> int | None:
    """The signal the command was told to unwind on, if any."""
    return _raised[0] if _raised else None


def forget_interruption() -> None:
    """A command starts (or deliberately ended on Ctrl-C, as ``cvkit view`` does): nothing is pending."""
    _raised.clear()


def raise_if_interrupted() -> None:
    """Before an output is committed (renamed into place): a command told to unwind never commits, even where its
    exception was swallowed on the way (:func:`note_raised`)."""
    if _raised:
        raise interruption_for(_raised[0])


def exit_code_of(interruption: BaseException) -> int:
    """The exit status for a command ended by ``interruption``: 128 + the signal's number (130 for Ctrl-C)."""
    return interruption.exit_code if isinstance(interruption, Terminated) else 128 + signal.SIGINT


#: signals noted while :func:`signals_held` holds them back, and how deep such blocks are nested
_held: list[int] = []
_holding = [0]
_MASKS = hasattr(signal, "pthread_sigmask")


def hold_if_holding(signum: int) -> bool:
    """For a signal handler: note ``signum`` and return True while :func:`signals_held` holds signals back (the
    block acts on it at its end); False when the handler should act now."""
    if _holding[0]:
        _held.append(signum)
        return True
    return False


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
            signal.raise_signal(signum)  # to whichever handler is installed (the CLI's: cvkit.cli.signals)


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
