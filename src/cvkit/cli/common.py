"""What every command shares: error handling, option parsing and the conversion summary.

This is the one place where library errors become messages and exit codes:
exit 2 for bad input or refused options, 1 for "found problems" (validate), 74 when the system fails a read or a
write (a full disk, a read-only file system, stdout on a full device), 141 for a closed stdout, 0 otherwise
(128 + N for signal N: :mod:`cvkit.core.interrupts`). docs/safety.md lists them.
"""

from __future__ import annotations

import errno
import json
import os
import sys
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer

from cvkit.errors import CvkitError


def out_console() -> Any:
    from rich.console import Console

    class QuietOnClosedPipe(Console):  # rich exits 1 on a closed stdout; cvkit's own rule gives 141
        def on_broken_pipe(self) -> None:
            self.quiet = True
            quiet_closed_stdout()
            raise SystemExit(EXIT_CLOSED_PIPE)

    return QuietOnClosedPipe(highlight=False, soft_wrap=True)


#: exit status when the system fails an input or output (a full disk, a read-only file system, a failing device):
#: sysexits' EX_IOERR; other errors of the system (a path under a regular file, a link loop, no permission) are the
#: user's to fix, exit 2 as bad input
EXIT_IO = 74
#: exit status when stdout is closed early (``cvkit formats | head -1``): 128 + SIGPIPE, as a tool killed by it
EXIT_CLOSED_PIPE = 141
_IO_ERRNOS = frozenset(
    getattr(errno, name) for name in ("ENOSPC", "EROFS", "EIO", "EDQUOT", "EFBIG", "ENXIO") if hasattr(errno, name)
)
#: errors of writing, for which the file written (an OSError's second file name, where it has two) is the one to name
_WRITE_ERRNOS = frozenset(
    getattr(errno, name) for name in ("ENOSPC", "EROFS", "EDQUOT", "EFBIG") if hasattr(errno, name)
)


def os_error_exit_code(exc: OSError) -> int:
    """:data:`EXIT_IO` for a failure of the system, 2 for a path problem the user can fix."""
    return EXIT_IO if exc.errno in _IO_ERRNOS else 2


def describe_os_error(exc: OSError) -> str:
    """``path: what went wrong (ENAME)`` on one line; ``<stdout>`` when the output itself failed."""
    path = exc.filename2 if exc.errno in _WRITE_ERRNOS and exc.filename2 is not None else exc.filename
    name = errno.errorcode.get(exc.errno or 0)
    reason = exc.strerror or exc.__class__.__name__
    if exc.errno in (errno.EEXIST, errno.ENOTDIR) and path is not None and os.path.isfile(path):
        reason = "is a file, where a folder is needed"
    text = f"{reason} ({name})" if name else reason
    return f"{os.fsdecode(path) if isinstance(path, bytes) else path}: {text}" if path is not None else text


class NamedOutput:
    """``sys.stdout`` whose write errors name it (``<stdout>``): ``cvkit formats > /dev/full`` says which file
    is full. Everything else is the wrapped stream's."""

    def __init__(self, stream: Any):
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except OSError as exc:
            raise _named(exc) from None

    def flush(self) -> None:
        try:
            self._stream.flush()
        except OSError as exc:
            raise _named(exc) from None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _named(exc: OSError) -> OSError:
    if exc.filename is None:
        exc.filename = "<stdout>"
    return exc


def report_os_error(exc: OSError) -> int:
    """Print ``error: ...`` for ``exc`` (nothing for a closed stdout: the reader went away) and give the exit code."""
    if isinstance(exc, BrokenPipeError) and exc.filename in (None, "<stdout>"):
        quiet_closed_stdout()
        return EXIT_CLOSED_PIPE
    print(f"error: {describe_os_error(exc)}", file=sys.stderr)
    return os_error_exit_code(exc)


def quiet_closed_stdout() -> None:
    """Point stdout at /dev/null: what is still buffered for a closed pipe is dropped without a second error."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError):
        pass


@contextmanager
def handle_errors() -> Iterator[None]:
    """Turn :class:`CvkitError` into ``error: file:where: message`` on stderr and its exit code; an error of the
    system (a full disk, a read-only destination, a link loop) into ``error: path: reason (ENAME)``."""
    try:
        yield
    except CvkitError as exc:
        print(f"error: {exc.describe()}", file=sys.stderr)
        raise typer.Exit(exc.exit_code) from None
    except OSError as exc:
        raise typer.Exit(report_os_error(exc)) from None
    except (UnicodeEncodeError, TypeError) as exc:  # a name that is no UTF-8 reached a writer (JSON, XML) after all
        if "surrogates not allowed" not in str(exc):
            raise
        odd = isinstance(exc, UnicodeEncodeError) and isinstance(exc.object, str)
        text = exc.object[max(0, exc.start - 60) : exc.end + 20] if odd else ""  # type: ignore[union-attr]
        shown = f" ({text.encode('utf-8', 'surrogateescape').decode('utf-8', 'backslashreplace')})" if text else ""
        print(
            f"error: a file name is not valid UTF-8{shown}; rename it (cvkit writes names as UTF-8 text)",
            file=sys.stderr,
        )
        raise typer.Exit(2) from None


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
    rows = [("", "read", "written")] + [
        (key, str(data["read"][key]), str(data["written"][key])) for key in ("images", "objects", "categories")
    ]
    for split in sorted(set(data["read"]["splits"]) | set(data["written"]["splits"])):
        rows.append(
            (f"split {split}", str(data["read"]["splits"].get(split, 0)), str(data["written"]["splits"].get(split, 0)))
        )
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
    (
        top_left,
        heavy,
        top_join,
        top_right,
        heavy_bar,
        mid_left,
        mid_join,
        mid_right,
        bar,
        bottom_left,
        light,
        bottom_join,
        bottom_right,
    ) = box

    def line(cells: tuple[str, ...], edge: str) -> str:
        padded = [
            " " * (width - _display_width(cell)) + cell if at_right else cell + " " * (width - _display_width(cell))
            for cell, width, at_right in zip(cells, widths, right)
        ]
        return edge + edge.join(f" {cell} " for cell in padded) + edge

    rule = [heavy * (width + 2) for width in widths]
    lines = [
        top_left + top_join.join(rule) + top_right,
        line(rows[0], heavy_bar),
        mid_left + mid_join.join(rule) + mid_right,
    ]
    lines += [line(row, bar) for row in rows[1:]]
    lines.append(bottom_left + bottom_join.join(light * (width + 2) for width in widths) + bottom_right)
    return "\n".join(lines)


def _display_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


ENGINE_HELP = (
    "Where per-image work runs: local (this machine's processes, the default) or ray (a Ray cluster; "
    "needs cvkit\\[ray]). Also $CVKIT_ENGINE."
)
RAY_ADDRESS_HELP = (
    "Ray cluster to use with --engine ray: auto, HOST:PORT or ray://HOST:PORT (default $RAY_ADDRESS, else a local Ray)."
)


@contextmanager
def engine_scope(engine: str | None, address: str | None) -> Iterator[None]:
    """Run the command's pipelines on ``engine`` (``--engine``); the local engine needs no set-up."""
    from cvkit.core.executor import make_executor, using

    if engine in (None, "", "local"):
        yield
        return
    with using(make_executor(engine, address=address)) as executor:
        yield
    count = getattr(executor, "tasks_submitted", None)
    if count is not None:
        typer.echo(f"engine {engine}: {count} task(s) ran on the cluster", err=True)
