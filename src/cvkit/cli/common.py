"""What every command shares: error handling, option parsing and the conversion summary.

This is the one place where library errors become messages and exit codes:
exit 2 for bad input or refused options, 1 for "found problems" (validate), 0 otherwise.
"""

from __future__ import annotations

import json
import sys
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer

from cvkit.errors import CvkitError


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
    """The summary after a conversion: a table, or the report as JSON for scripts."""
    data = report.to_dict()
    if json_output:
        print(json.dumps(data, ensure_ascii=False, indent=2))
        return
    rows = [("", "read", "written")] + [(key, str(data["read"][key]), str(data["written"][key])) for key in ("images", "objects", "categories")]
    for split in sorted(set(data["read"]["splits"]) | set(data["written"]["splits"])):
        rows.append((f"split {split}", str(data["read"]["splits"].get(split, 0)), str(data["written"]["splits"].get(split, 0))))
    typer.echo(title)
    typer.echo(box_table(rows, (False, True, True)))
    caution = typer.style  # yellow on a terminal; typer.echo drops the colour elsewhere
    for item in data["not_represented"]:
        typer.echo(f"{caution('not represented:', fg='yellow')} {item['count']} x {item['what']}: {item['why']}")
    for warning in data["warnings"]:
        typer.echo(f"{caution('warning:', fg='yellow')} {warning}")
    if data["skipped"]:
        skipped = f"skipped {len(data['skipped'])} invalid item(s)"
        typer.echo(f"{caution(skipped, fg='yellow')}; see the .skipped.jsonl report")


#: the box rich's tables have by default (heavy around the header), and the one for outputs without those characters
_BOX = "┏━┳┓┃┡╇┩│└─┴┘"
_ASCII_BOX = "+-++|+++|+-++"


def box_table(rows: list[tuple[str, ...]], right: tuple[bool, ...]) -> str:
    """``rows`` (the first is the header) as rich's ``Table`` draws them, columns aligned to the left or ``right``.

    Drawn here for the conversion summary, the last thing a conversion prints: importing rich for it was a visible
    share of a short conversion (docs/benchmarks.md). Wide (CJK) characters count twice; an output that cannot
    encode the box gets one of ASCII."""
    widths = [max(_display_width(row[column]) for row in rows) for column in range(len(rows[0]))]
    try:
        _BOX.encode(sys.stdout.encoding or "ascii")
        box = _BOX
    except (LookupError, UnicodeEncodeError):
        box = _ASCII_BOX
    top_left, heavy, top_join, top_right, heavy_bar, mid_left, mid_join, mid_right, bar, bottom_left, light, bottom_join, bottom_right = box

    def line(cells: tuple[str, ...], edge: str) -> str:
        padded = [" " * (width - _display_width(cell)) + cell if at_right else cell + " " * (width - _display_width(cell))
                  for cell, width, at_right in zip(cells, widths, right)]
        return edge + edge.join(f" {cell} " for cell in padded) + edge

    rule = [heavy * (width + 2) for width in widths]
    lines = [top_left + top_join.join(rule) + top_right, line(rows[0], heavy_bar), mid_left + mid_join.join(rule) + mid_right]
    lines += [line(row, bar) for row in rows[1:]]
    lines.append(bottom_left + bottom_join.join(light * (width + 2) for width in widths) + bottom_right)
    return "\n".join(lines)


def _display_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)
