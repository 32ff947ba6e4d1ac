"""The ``cvkit`` command: typer sub-apps, one module per command group, thin over the library.

Each command module exposes ``register(app)``; adding a command group is one line in
:data:`COMMAND_MODULES`. Modules import their heavy dependencies inside the command
functions so ``cvkit --help`` stays fast.
"""

from __future__ import annotations

import importlib

import typer

from cvkit import __version__

COMMAND_MODULES = (
    "cvkit.cli.convert",
    "cvkit.cli.hierarchy",
    "cvkit.cli.augment",
    "cvkit.cli.train",
    "cvkit.cli.stats",
)

app = typer.Typer(
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


def _version(value: bool) -> None:
    if value:
        print(f"cvkit {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
) -> None:
    """cvkit command line."""


for _module in COMMAND_MODULES:
    importlib.import_module(_module).register(app)


def main() -> None:
    app()
