"""What every command shares: error handling, option parsing and the conversion summary.

This is the one place where library errors become messages and exit codes:
exit 2 for bad input or refused options, 1 for "found problems" (validate), 0 otherwise.
"""

from __future__ import annotations

import gc
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import typer

from cvkit.errors import CvkitError

F = TypeVar("F", bound=Callable[..., Any])
D = TypeVar("D")

#: Set by ``cvkit`` (:func:`cvkit.cli.main`), whose process ends without tearing down the interpreter once the
#: command has ended. Off for commands run in-process (tests, typer's CliRunner), which change nothing then.
PROCESS_ENDS_WITH_COMMAND = False
_kept: list[Any] = []


@contextmanager
def kept_until_exit() -> Iterator[Callable[[D], D]]:
    """A function that keeps a conversion's dataset until the process ends, when it ends with the command: freeing
    it object by object is work nobody waits for (the parsed JSON of a 500,000-box COCO file: 0.12 s).

    The cyclic garbage collector is then off for the rest of the process, from the start of the block: switched
    back on after the conversion (:func:`cvkit.core.gc_pause.paused_gc`), it would scan every kept object once
    (0.24 s); cvkit's data forms no cycles. In-process, the function hands the dataset back and nothing changes."""
    if not PROCESS_ENDS_WITH_COMMAND:
        yield _same
        return
    gc.disable()
    yield _keep


def _same(dataset: D) -> D:
    return dataset


def _keep(dataset: D) -> D:
    _kept.append(dataset)
    return dataset


def out_console() -> Any:
    from rich.console import Console

    return Console(highlight=False, soft_wrap=True)


@contextmanager
def handle_errors() -> Iterator[None]:
    """Turn :class:`CvkitError` into ``error: file:where: message`` on stderr and its exit code."""
    try:
        yield
    except CvkitError as exc:
        print(f"error: {exc.describe()}", file=sys.stderr)
        raise typer.Exit(exc.exit_code) from None


def quiet_progress(json_output: bool) -> None:
    """Turn progress bars off when scripts read stdout."""
    if json_output:
        from cvkit.core import progress

        progress.ENABLED = False


def parse_options(pairs: list[str] | None) -> dict[str, Any]:
    """``KEY=VALUE`` strings to a dict; values parsed as JSON when they are (true, 3, "x")."""
    options: dict[str, Any] = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise CvkitError(f"option {pair!r} must look like KEY=VALUE")
        key, value = pair.split("=", 1)
        try:
            options[key.strip().replace("-", "_")] = json.loads(value)
        except json.JSONDecodeError:
            options[key.strip().replace("-", "_")] = value
    return options


def print_report(report: Any, title: str, json_output: bool = False) -> None:
    """The summary after a conversion: a rich table, or the report as JSON for scripts."""
    data = report.to_dict()
    if json_output:
        print(json.dumps(data, ensure_ascii=False, indent=2))
        return
    from rich.table import Table

    console = out_console()
    table = Table(title=title, title_justify="left")
    table.add_column("")
    table.add_column("read", justify="right")
    table.add_column("written", justify="right")
    for key in ("images", "objects", "categories"):
        table.add_row(key, str(data["read"][key]), str(data["written"][key]))
    splits = sorted(set(data["read"]["splits"]) | set(data["written"]["splits"]))
    for split in splits:
        table.add_row(f"split {split}", str(data["read"]["splits"].get(split, 0)), str(data["written"]["splits"].get(split, 0)))
    console.print(table)
    for item in data["not_represented"]:
        console.print(f"[yellow]not represented:[/] {item['count']} x {item['what']}: {item['why']}")
    for warning in data["warnings"]:
        console.print(f"[yellow]warning:[/] {warning}")
    if data["skipped"]:
        console.print(f"[yellow]skipped {len(data['skipped'])} invalid item(s)[/]; see the .skipped.jsonl report")
