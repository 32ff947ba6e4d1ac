"""``cvkit augment``: list presets, preview a pipeline as a contact sheet, or materialise copies.

One command, three uses (the first argument decides)::

    cvkit augment presets                          # list the built-in pipelines
    cvkit augment DATASET --preview sheet.png      # contact sheet
    cvkit augment DATASET --apply -o out/          # augmented copies + a new manifest

A dataset literally named ``presets`` is written ``./presets``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from cvkit.cli.common import ENGINE_HELP, RAY_ADDRESS_HELP, engine_scope, handle_errors, out_console, quiet_progress
from cvkit.errors import CvkitError


def augment_cmd(
    dataset: str = typer.Argument(
        ..., help="A manifest or any dataset path cvkit reads; or the word 'presets' to list presets."
    ),
    preview: Path | None = typer.Option(None, "--preview", help="Write a contact sheet PNG here."),
    apply: bool = typer.Option(False, "--apply", help="Write augmented copies and a new manifest to -o."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Output folder for --apply."),
    spec: str | None = typer.Option(
        None, "--spec", help="Pipeline spec file (YAML/JSON; albumentations A.to_dict accepted)."
    ),
    preset: str | None = typer.Option(None, "--preset", "-p", help="Built-in pipeline (see `cvkit augment presets`)."),
    n: int = typer.Option(4, "--n", help="Preview: number of images (rows)."),
    k: int = typer.Option(4, "--k", help="Preview: augmented variants per image (columns after the original)."),
    classes: str | None = typer.Option(
        None, "--classes", help="Preview: only images with one of these classes, comma-separated."
    ),
    rare: bool = typer.Option(False, "--rare", help="Preview: images of the rarest classes first."),
    seed: int = typer.Option(0, "--seed", help="Random seed: same seed, same sheet / copies."),
    html: Path | None = typer.Option(
        None, "--html", help="Preview: also write an HTML page with the tiles and the spec."
    ),
    device: str = typer.Option("auto", "--device", help="auto (CUDA when present), cpu or cuda."),
    copies: int = typer.Option(1, "--copies", help="Apply: augmented copies per image."),
    oversample_rare: bool = typer.Option(
        False, "--oversample-rare", help="Apply: copy images of rare classes until each class has --target images."
    ),
    target: int | None = typer.Option(None, "--target", help="Apply with --oversample-rare: images wanted per class."),
    from_format: str | None = typer.Option(None, "--from", "-f", help="Dataset format (detected when left out)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Apply: replace a non-empty output folder."),
    engine: str | None = typer.Option(None, "--engine", envvar="CVKIT_ENGINE", help="Apply: " + ENGINE_HELP),
    ray_address: str | None = typer.Option(None, "--ray-address", envvar="RAY_ADDRESS", help=RAY_ADDRESS_HELP),
    json_output: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Preview an augmentation pipeline on your images and annotations, or write augmented copies.

    Examples:

      cvkit augment presets

      cvkit augment data/manifest.jsonl --preview sheet.png --preset strong --n 4 --k 4 --seed 0

      cvkit augment VOCdevkit/VOC2012 --preview sheet.png --spec my_pipeline.yaml --rare --html sheet.html

      cvkit augment data/manifest.jsonl --apply -o augmented/ --preset detection --oversample-rare --target 500

      cvkit augment data/manifest.jsonl --apply -o augmented/ --copies 4 --engine ray --ray-address auto
    """
    with handle_errors():
        quiet_progress(json_output)
        if dataset == "presets":
            _list_presets(json_output)
            return
        from cvkit.api import read

        if spec and preset:
            raise CvkitError("give either --spec or --preset, not both")
        if preview is None and not apply:
            raise CvkitError("nothing to do: pass --preview OUT.png or --apply -o OUT/")
        if preview is not None and apply:
            raise CvkitError("--preview and --apply are separate runs; pass one of them")
        if apply and output is None:
            raise CvkitError("--apply needs an output folder: -o OUT/")
        if oversample_rare != (target is not None):
            raise CvkitError("--oversample-rare and --target N go together")
        if output is not None:
            from cvkit.core.paths import check_apart

            check_apart(output, [dataset])
        if from_format is None and dataset.lower().endswith((".jsonl", ".parquet")):
            from_format = "manifest"  # cvkit's own manifest (either form) needs no detection
        data = read(dataset, from_format).materialize()
        chosen: Any = spec or preset or ("detection" if any(s.objects for s in data.samples) else "imagenet")
        if preview is not None:
            _preview(data, preview, chosen, n, k, classes, rare, seed, device, html, json_output)
        else:
            assert output is not None
            with engine_scope(engine, ray_address):
                _apply(data, output, chosen, copies, target, seed, device, overwrite, json_output)


def _device_line(requested: str, used: str) -> str:
    from cvkit.augment.backends import BACKEND_NAMES

    why = ""
    if requested == "auto":
        why = " (auto: CUDA GPU found)" if used != "cpu" else " (auto: no CUDA GPU found)"
    return f"back-end: {BACKEND_NAMES.get(used, used)}{why}"


def _preview(
    data: Any,
    path: Path,
    spec: str,
    n: int,
    k: int,
    classes: str | None,
    rare: bool,
    seed: int,
    device: str,
    html: Path | None,
    json_output: bool,
) -> None:
    from cvkit.augment.preview import make_preview

    names = [c.strip() for c in classes.split(",") if c.strip()] if classes else None
    result = make_preview(
        data, path, spec, n=n, k=k, classes=names, rare=rare, seed=seed, device=device, html_path=html
    )
    info = result.to_dict()
    if json_output:
        print(json.dumps(info, indent=2))
        return
    console = out_console()
    console.print(
        f"wrote {result.path}: {result.rows} images x (original + {k} variants)"
        + (f", and {result.html}" if result.html else "")
    )
    console.print(_device_line(device, result.device))
    for note in result.notes:
        console.print(f"[yellow]note:[/] {note}")
    console.print(
        f"augmented {info['variants']} images in {info['seconds']:.3f} s: {info['ms_per_image']:.2f} ms per image, "
        f"{info['images_per_second']} images/s"
    )
    console.print(f"boxes lost: {result.boxes_lost}")


def _apply(
    data: Any,
    output: Path,
    spec: str,
    copies: int,
    target: int | None,
    seed: int,
    device: str,
    overwrite: bool,
    json_output: bool,
) -> None:
    from cvkit.augment.apply import apply_augmentations

    result = apply_augmentations(
        data, output, spec, copies=copies, oversample_target=target, seed=seed, device=device, overwrite=overwrite
    )
    if json_output:
        print(json.dumps(result.to_dict(), indent=2))
        return
    console = out_console()
    console.print(f"wrote {output / 'manifest.jsonl'}: {result.originals} originals + {result.copies} augmented copies")
    console.print(_device_line(device, result.device))
    console.print(f"boxes lost: {result.boxes_lost}")
    if target is not None:
        from rich.table import Table

        table = Table(title=f"images per class (target {target})", title_justify="left")
        for col in ("class", "before", "after"):
            table.add_column(col, justify="left" if col == "class" else "right")
        for label in sorted(result.after, key=lambda c: result.before.get(c, 0)):
            table.add_row(label, str(result.before.get(label, 0)), str(result.after[label]))
        console.print(table)
        for label, count in result.short.items():
            console.print(
                f"[yellow]warning:[/] {label} reached only {count} images (its copies kept losing it to the "
                "augmentation)"
            )


def _list_presets(json_output: bool) -> None:
    from cvkit.augment.spec import describe_presets

    rows = describe_presets()
    if json_output:
        print(json.dumps(rows, indent=2))
        return
    console = out_console()
    for row in rows:
        console.print(f"[bold]{row['name']}[/]: {row['description']}")
        for step in row["transforms"]:
            params = ", ".join(f"{key}={value}" for key, value in step.items() if key not in ("name", "p"))
            console.print(f"    {step['name']} (p={step['p']:g})" + (f": {params}" if params else ""))
        boxes = row["boxes"]
        if boxes["min_visibility"] or boxes["min_area"] or boxes["redraw"]:
            console.print(
                f"    boxes: min_visibility={boxes['min_visibility']}, min_area={boxes['min_area']}, "
                f"redraw={boxes['redraw']}"
            )


def register(app: typer.Typer) -> None:
    app.command("augment", no_args_is_help=True)(augment_cmd)
