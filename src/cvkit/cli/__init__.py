"""The ``cvkit`` command: typer sub-apps, one module per command group, thin over the library.

Each command module exposes ``register(app)``; adding a command is one line in :data:`COMMANDS` (a test checks
that it names what the modules register). Modules import their heavy dependencies inside the command
functions so ``cvkit --help`` stays fast.
"""

from __future__ import annotations

import gc
import importlib
import os
import sys

import typer

from cvkit import __version__

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
    "stats": "cvkit.cli.stats",
    "validate": "cvkit.cli.stats",
    "split": "cvkit.cli.stats",
}
COMMAND_MODULES = tuple(dict.fromkeys(COMMANDS.values()))


def _version(value: bool) -> None:
    if value:
        print(f"cvkit {__version__}")
        raise typer.Exit()


def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
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
    command it holds on each run (6 ms of a 0.4 s conversion for all of them). When the command has ended, the
    process ends at once (:func:`_end_now`), and what the command kept for it (``kept_until_exit``) is not freed."""
    from cvkit.cli import common
    from cvkit.core.interrupts import Terminated, unwinding_signals

    command = sys.argv[1] if len(sys.argv) > 1 else ""
    common.PROCESS_ENDS_WITH_COMMAND = True
    sys.stdout = common.NamedOutput(sys.stdout)  # type: ignore[assignment]  # its write errors name it
    try:
        with unwinding_signals():  # Ctrl-C, SIGTERM, SIGHUP: unwind (temp folders removed, workers stopped), exit 128+N
            (build_app((COMMANDS[command],)) if command in COMMANDS else app)()
    except SystemExit as ended:
        code = ended.code
        if code == 1 and type(sys.stdout).__name__ == "PacifyFlushWrapper":  # typer's answer to a closed stdout
            common.quiet_closed_stdout()
            code = common.EXIT_CLOSED_PIPE
        _end_now(code)
        raise SystemExit(code) from None
    except Terminated as stopped:  # typer turns Ctrl-C into exit 130 itself
        _end_now(stopped.exit_code)
        raise SystemExit(stopped.exit_code) from None
    except OSError as failed:  # a command outside handle_errors (cvkit formats > /dev/full)
        code = common.report_os_error(failed)
        _end_now(code)
        raise SystemExit(code) from None


def _end_now(code: object) -> None:
    """End the process with ``code`` without tearing down the interpreter: freeing every object one by one is
    work nobody waits for (the parsed JSON of a 500,000-box COCO file: 0.12 s; typer's and rich's modules: 20 ms).

    By now the command's files are written and closed, its threads joined, and nothing cvkit registers must run at
    exit; stdout and stderr are flushed here, and worker processes still ending (a finished pool is not waited
    for: :func:`cvkit.core.parallel.ordered_map`) are waited for, so that none outlives the command and their CPU
    time counts as the command's. With torch loaded (train, evaluate, predict, augment on a GPU) the interpreter
    ends as usual: torch cleans up at exit (data loader workers, CUDA). So does a code that is not a number (a
    message, which Python prints)."""
    if "multiprocessing" in sys.modules:
        from cvkit.core.executor import stop_workers

        stop_workers()  # pools an error left running (their generator suspended): stopped, not waited for
    if "torch" in sys.modules or not (code is None or isinstance(code, int)):
        gc.freeze()  # the collector's last pass over every object is skipped at least
        return
    try:
        sys.stdout.flush()
    except (OSError, ValueError) as failed:  # the end of the output did not go out: say so (quietly for a closed pipe)
        from cvkit.cli.common import report_os_error

        code = report_os_error(failed) if isinstance(failed, OSError) else 2
    try:
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
    if "multiprocessing" in sys.modules:
        for child in sys.modules["multiprocessing"].active_children():
            child.join()
    os._exit(code or 0)
