"""The ``cvkit`` command: typer sub-apps, one module per command group, thin over the library.

Each command module exposes ``register(app)``; adding a command is one line in :data:`COMMANDS` (a test checks
that it names what the modules register). Modules import their heavy dependencies inside the command
functions so ``cvkit --help`` stays fast.
"""

from __future__ import annotations

import importlib
import sys

import typer

from cvkit import __version__
from cvkit.cli import process

#: each command and the module whose ``register(app)`` adds it
COMMANDS = {
    "convert": "cvkit.cli.convert",
    "ingest": "cvkit.cli.convert",
    "export": "cvkit.cli.convert",
    "formats": "cvkit.cli.convert",
    "hierarchy": "cvkit.cli.hierarchy",
    "remap": "cvkit.cli.hierarchy",
    "augment": "cvkit.cli.augment",
    "train": "cvkit.cli.train",
    "evaluate": "cvkit.cli.train",
    "predict": "cvkit.cli.train",
    "embed": "cvkit.cli.train",
    "models": "cvkit.cli.models",
    "stats": "cvkit.cli.stats",
    "validate": "cvkit.cli.stats",
    "split": "cvkit.cli.stats",
    "view": "cvkit.cli.view",
}
COMMAND_MODULES = tuple(dict.fromkeys(COMMANDS.values()))


def _version(value: bool) -> None:
    if value:
        print(f"cvkit {__version__}")
        raise typer.Exit()


def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """cvkit command line."""


def build_app(modules: tuple[str, ...] = COMMAND_MODULES) -> typer.Typer:
    """The ``cvkit`` typer app with the commands of ``modules``."""
    application = typer.Typer(
        name="cvkit",
        help="Prepare computer-vision datasets: convert any annotation format, inspect, augment, train.\n\n"
        "Examples:\n\n"
        "  cvkit convert voc2coco VOCdevkit/VOC2012 coco/\n\n"
        "  cvkit ingest data/ -o manifest.jsonl\n\n"
        "  cvkit formats",
        no_args_is_help=True,
        rich_markup_mode="rich",
        pretty_exceptions_enable=False,
        add_completion=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    application.callback()(_root)
    for module in modules:
        importlib.import_module(module).register(application)
    return application


#: every command (what tests drive with typer's CliRunner)
app = build_app()


def main() -> None:
    """The ``cvkit`` command.

    A run of one command builds an app of that command's module only: typer builds the parameters of every
    command it holds on each run. Ctrl-C, SIGTERM and SIGHUP unwind the command (temporary folders removed, workers
    stopped) and end it with 128 + N (:mod:`cvkit.core.interrupts`); an error of stdout itself (a full device, a
    closed pipe) ends it with 74 or 141 (:mod:`cvkit.cli.common`). When the command has ended, the process ends at
    once (:func:`cvkit.cli.process.end_now`; ``CVKIT_NO_FAST_EXIT=1`` turns that off), and what the command kept
    for it (:func:`cvkit.cli.process.kept_until_exit`) is not freed."""
    from cvkit.cli import common
    from cvkit.cli.signals import unwinding_signals
    from cvkit.core.interrupts import Terminated, interrupted

    command = sys.argv[1] if len(sys.argv) > 1 else ""
    process.claim_process()
    sys.stdout = common.NamedOutput(sys.stdout)  # type: ignore[assignment]  # its write errors name it
    try:
        with unwinding_signals():  # Ctrl-C, SIGTERM, SIGHUP: unwind (temp folders removed, workers stopped), exit 128+N
            (build_app((COMMANDS[command],)) if command in COMMANDS else app)()
    except SystemExit as ended:
        code = ended.code
        if code == 1 and type(sys.stdout).__name__ == "PacifyFlushWrapper":  # typer's answer to a closed stdout
            common.quiet_closed_stdout()
            code = common.EXIT_CLOSED_PIPE
        if code in (0, None) and interrupted():  # the handler's exception was dropped inside a __del__
            code = 128 + (interrupted() or 0)
        raise SystemExit(process.end_now(code)) from None
    except Terminated as stopped:  # typer turns Ctrl-C into exit 130 itself
        raise SystemExit(process.end_now(stopped.exit_code)) from None
    except OSError as failed:  # a command outside handle_errors (cvkit formats > /dev/full)
        raise SystemExit(process.end_now(common.report_os_error(failed))) from None
