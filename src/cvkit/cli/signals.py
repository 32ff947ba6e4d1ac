"""The command's signal handlers (process-wide, so here at the CLI edge): Ctrl-C, SIGTERM and SIGHUP raise in the
main thread so the command unwinds (:mod:`cvkit.core.interrupts`); a repeat while unwinding is ignored, and the
third ends the process at once."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from cvkit.core.interrupts import UNWOUND, Terminated, hold_if_holding

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
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    raise Terminated(signum)


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
    try:
        yield
    finally:
        for signum, handler in previous.items():
            if signal.getsignal(signum) is _unwind:
                signal.signal(signum, handler)
