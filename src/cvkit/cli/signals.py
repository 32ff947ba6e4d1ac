"""The command's signal handlers (process-wide, so here at the CLI edge): Ctrl-C, SIGTERM and SIGHUP raise in the
main thread so the command unwinds (:mod:`cvkit.core.interrupts`); a repeat while unwinding is ignored, and the
third ends the process at once. An exception the handler raised inside a ``__del__`` is dropped by Python: it is
not printed, no output is committed after it, and the command still exits 128 + N."""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from cvkit.core.interrupts import (
    UNWOUND,
    Terminated,
    forget_interruption,
    hold_if_holding,
    interruption_for,
    note_raised,
)

#: a third signal while the command unwinds ends the process at once (someone wants out, cleanup or not)
GIVE_UP_AFTER = 3

_received: list[int] = []


def _unwind(signum: int, _frame: Any) -> None:
    if hold_if_holding(signum):
        return
    _received.append(signum)
    if len(_received) >= GIVE_UP_AFTER:
        os._exit(128 + signum)
    if len(_received) > 1:
        return  # already unwinding: a second Ctrl-C must not cut the cleanup short
    note_raised(signum)
    raise interruption_for(signum)


def _quiet_about_interruptions(unraisable: Any) -> None:
    """``sys.unraisablehook`` while a command runs: the handler's exception raised inside a ``__del__`` (which
    Python prints with a traceback and drops) is not printed; the command still unwinds
    (:func:`cvkit.core.interrupts.raise_if_interrupted`). Anything else goes to the hook that was there."""
    if unraisable.exc_type in (KeyboardInterrupt, Terminated):
        return
    _previous_hook[0](unraisable)


_previous_hook: list[Any] = [sys.unraisablehook]


@contextmanager
def unwinding_signals() -> Iterator[None]:
    """Inside the block, SIGINT raises :class:`KeyboardInterrupt` and SIGTERM/SIGHUP raise
    :class:`~cvkit.core.interrupts.Terminated` in the main thread, once; a repeat while unwinding is ignored, the
    third ends the process. Signals whose handler someone else set (not Python's defaults) are left alone; off the
    main thread, nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.getsignal(signum) for signum in UNWOUND}
    for signum, handler in previous.items():
        if handler in (signal.SIG_DFL, signal.default_int_handler):
            signal.signal(signum, _unwind)
    _received.clear()
    forget_interruption()
    _previous_hook[0], sys.unraisablehook = sys.unraisablehook, _quiet_about_interruptions
    try:
        yield
    finally:
        sys.unraisablehook = _previous_hook[0]
        for signum, handler in previous.items():
            if signal.getsignal(signum) is _unwind:
                signal.signal(signum, handler)
