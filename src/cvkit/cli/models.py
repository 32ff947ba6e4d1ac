"""``cvkit models``: the accuracy-versus-cost table of every model ``cvkit train`` knows (thin over
:mod:`cvkit.train.model_table`, torch imported inside)."""

from __future__ import annotations

import json
from typing import Any

import typer

from cvkit.cli.common import handle_errors, out_console
from cvkit.errors import CvkitError


def _cell(value: Any, digits: int = 2) -> str:
    if value is None:
        return "-"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def models_cmd(
    names: list[str] | None = typer.Argument(None, help="Models to list (default: all)."),
    measure: bool = typer.Option(
        False, "--measure", help="Also time a forward pass and a training step (images/s) on this machine."
    ),
    image_size: int = typer.Option(224, "--image-size", help="--measure: square input size in pixels."),
    batch: int = typer.Option(32, "--batch", "-b", help="--measure: images per batch (at least 2, for BatchNorm)."),
    device: str = typer.Option("auto", "--device", help="--measure: auto | cpu | cuda."),
    steps: int = typer.Option(5, "--steps", help="--measure: timed batches after one warm-up batch."),
    json_output: bool = typer.Option(False, "--json", help="Print the rows as JSON."),
) -> None:
    """Every model with its parameters, GFLOPs (multiply-adds) and ImageNet top-1/top-5 from torchvision's weight
    metadata (nothing downloaded); --measure adds images/s for inference and training on your hardware.

    Examples:

      cvkit models

      cvkit models resnet18 resnet50 mobilenet_v3_large --measure --image-size 224 -b 32

      cvkit models bagnet33 --measure --device cuda --json
    """
    with handle_errors():
        if measure and (batch < 2 or image_size < 1 or steps < 1):
            raise CvkitError("--measure needs --batch >= 2, --image-size >= 1 and --steps >= 1")
        from cvkit.train.loop import DistEnv, resolve_device
        from cvkit.train.model_table import measure_speed, model_table

        rows = model_table(names or None)
        if measure:
            target = resolve_device(device, DistEnv())
            for row in rows:
                row.update(measure_speed(row["name"], image_size, batch, target, steps))
                row.update(device=str(target), measure_size=image_size, batch=batch)
        if json_output:
            print(json.dumps(rows, indent=2))
            return
        _print_table(rows, measure)


def _print_table(rows: list[dict[str, Any]], measured: bool) -> None:
    from rich.table import Table

    table = Table(title="models (top-1/top-5: ImageNet-1k %, GFLOPs at the size shown)")
    columns = ["model", "params (M)", "GFLOPs", "size", "top-1", "top-5"]
    columns += ["fwd img/s", "train img/s"] if measured else []
    for column in columns:
        table.add_column(column, justify="left" if column == "model" else "right")
    for row in rows:
        cells = [row["name"], f"{row['params'] / 1e6:.2f}", _cell(row["gflops"], 3), _cell(row["image_size"])]
        cells += [_cell(row["top1"]), _cell(row["top5"])]
        if measured:
            cells += [_cell(row["forward_images_per_s"], 1), _cell(row["train_images_per_s"], 1)]
        table.add_row(*cells)
    out_console().print(table)


def register(app: typer.Typer) -> None:
    app.command("models")(models_cmd)
