"""Progress bars for long work: rich bars on a terminal, silence elsewhere (tests, pipes, --json)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

T = TypeVar("T")

#: The CLI turns this off for --json / --quiet; library callers may set it too.
ENABLED = True


def out_console() -> Any:
    """A rich console on stdout for tables and result lines (no syntax colouring of numbers, no hard wrapping)."""
    from rich.console import Console

    return Console(highlight=False, soft_wrap=True)


def track(
    items: Iterable[T], description: str, total: int | None = None, size: Callable[[T], int] | None = None
) -> Iterator[T]:
    """Yield ``items``, drawing a transient rich progress bar when stderr is a terminal; ``size``: how far an item
    moves the bar (one run of samples: its length), 1 without it."""
    if not (ENABLED and sys.stderr.isatty()):
        yield from items
        return
    with progress_bar(description, total) as advance:
        for item in items:
            yield item
            advance(1 if size is None else size(item))


def _silent(_amount: int) -> None:
    """The advance of a bar that is not drawn."""


@contextmanager
def progress_bar(description: str, total: int | None = None) -> Iterator[Callable[[int], None]]:
    """A transient rich progress bar on a terminal; gives ``advance(amount)``. An executor's ``on_done`` feeds it
    as shards complete (:meth:`cvkit.core.executor.Executor.map`), whichever engine runs them."""
    if not (ENABLED and sys.stderr.isatty()):
        yield _silent
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = [
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    ]
    with Progress(*columns, transient=True, refresh_per_second=8) as bar:
        task = bar.add_task(description, total=total)
        yield lambda amount: bar.advance(task, amount)
