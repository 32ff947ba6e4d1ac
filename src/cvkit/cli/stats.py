"""``cvkit stats``, ``cvkit validate`` and ``cvkit split``: thin over :mod:`cvkit.stats`."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from cvkit.cli.common import (
    ENGINE_HELP,
    RAY_ADDRESS_HELP,
    engine_scope,
    handle_errors,
    out_console,
    parse_options,
    quiet_progress,
)
from cvkit.stats.options import DEFAULT_BETA, DEFAULT_COMMON_MAX, DEFAULT_RARE_MAX, DEFAULT_REPEAT_THRESHOLD, METHODS

FORMAT_HELP = "Input format (detected when omitted; a .jsonl or .parquet manifest is read as a manifest)."
READ_OPT_HELP = "Reader option KEY=VALUE (repeatable)."


def _print_json(doc: object) -> None:
    print(json.dumps(doc, ensure_ascii=False, indent=2, allow_nan=False))


def stats_cmd(
    dataset: Path = typer.Argument(..., help="A manifest (.jsonl or .parquet) or any dataset file/folder."),
    format: str | None = typer.Option(None, "--format", "-f", help=FORMAT_HELP),
    imbalance: bool = typer.Option(
        False, "--imbalance", help="Imbalance metrics, LVIS frequency groups and class-balance weights."
    ),
    by: str = typer.Option(
        "auto",
        "--by",
        help="Counts weights are computed from: objects, images (per class), or auto (objects when there are any).",
    ),
    beta: float = typer.Option(DEFAULT_BETA, "--beta", help="Beta of the effective-number weights (Cui et al. 2019)."),
    threshold: float = typer.Option(DEFAULT_REPEAT_THRESHOLD, "--threshold", help="LVIS repeat-factor threshold t."),
    rare_max: int = typer.Option(
        DEFAULT_RARE_MAX, "--rare-max", help="Classes in at most this many images are 'rare' (tail)."
    ),
    common_max: int = typer.Option(
        DEFAULT_COMMON_MAX,
        "--common-max",
        help="Classes in at most this many images (and more than --rare-max) are 'common'.",
    ),
    method: str = typer.Option(
        "balanced", "--method", help="Weight method --weights-out writes: " + ", ".join(METHODS) + "."
    ),
    weights_out: Path | None = typer.Option(
        None, "--weights-out", help="Write class weights (JSON) for `cvkit train --class-weights`; implies --imbalance."
    ),
    split: str | None = typer.Option(
        None, "--split", help="Count only this split (e.g. train, as `cvkit train` does); the weights file records it."
    ),
    plot: Path | None = typer.Option(None, "--plot", help="Draw the class histogram and box plots into this PNG."),
    read_images: bool = typer.Option(
        False, "--read-images", help="Read every image header for channel counts (no decoding)."
    ),
    top: int = typer.Option(0, "--top", help="Show only the N most frequent classes in the tables (0: all)."),
    skip_invalid: bool = typer.Option(False, "--skip-invalid", help="Skip malformed records instead of stopping."),
    read_opt: list[str] | None = typer.Option(None, "--read-option", "-r", help=READ_OPT_HELP),
    engine: str | None = typer.Option(None, "--engine", envvar="CVKIT_ENGINE", help=ENGINE_HELP),
    ray_address: str | None = typer.Option(None, "--ray-address", envvar="RAY_ADDRESS", help=RAY_ADDRESS_HELP),
    json_output: bool = typer.Option(False, "--json", help="Print the statistics as JSON (keys in docs/stats.md)."),
) -> None:
    """Class counts per split, imbalance metrics, class-balance weights, box and image statistics.

    Examples:

      cvkit stats train.jsonl

      cvkit stats train.jsonl --imbalance --weights-out weights.json --method effective --beta 0.999

      cvkit stats data.jsonl --split train --weights-out weights.json

      cvkit stats VOCdevkit/VOC2012 --format voc --plot stats.png

      cvkit stats train.jsonl --imbalance --json | jq .imbalance.gini

      cvkit stats objects365.parquet --engine ray --ray-address auto      # row groups on the cluster
    """
    with handle_errors():
        from cvkit.core.report import Report
        from cvkit.stats import dataset_stats, export_weights
        from cvkit.stats.options import ImbalanceOptions

        quiet_progress(json_output)
        if method not in METHODS:
            from cvkit.errors import CvkitError

            raise CvkitError(f"unknown --method {method!r}; choose one of {', '.join(METHODS)}")
        options = ImbalanceOptions(by, beta, threshold, rare_max, common_max) if (imbalance or weights_out) else None
        report = Report(skip_invalid=skip_invalid)
        with engine_scope(engine, ray_address):
            doc = dataset_stats(
                dataset, format, options, read_images=read_images, report=report, split=split, **parse_options(read_opt)
            )
        if report.skipped:
            doc["skipped"] = [s.to_dict() for s in report.skipped]
        if weights_out is not None:
            export_weights(doc, method, weights_out)
        if plot is not None:
            from cvkit.stats.plot import plot_stats

            plot_stats(doc, plot)
        if json_output:
            _print_json(doc)
            return
        from cvkit.stats.tables import stats_tables

        console = out_console()
        for table in stats_tables(doc, top):
            console.print(table)
        if report.skipped:
            console.print(
                f"[yellow]skipped {len(report.skipped)} invalid record(s)[/], first: {report.skipped[0].location}: "
                f"{report.skipped[0].reason}"
            )
        if weights_out is not None:
            console.print(f"{method} class weights written to {weights_out}")
        if plot is not None:
            console.print(f"plot written to {plot}")


def validate_cmd(
    dataset: Path = typer.Argument(..., help="A manifest (.jsonl or .parquet) or any dataset file/folder."),
    format: str | None = typer.Option(None, "--format", "-f", help=FORMAT_HELP),
    deep: bool = typer.Option(
        False, "--deep", help="Decode every image fully (slow); by default only headers are read."
    ),
    no_images: bool = typer.Option(False, "--no-images", help="Check annotations only; do not open image files."),
    fix: bool = typer.Option(
        False,
        "--fix",
        help="Write a cleaned manifest to -o (clipped boxes, broken items dropped); the input is never changed.",
    ),
    output: Path | None = typer.Option(None, "--output", "-o", help="Cleaned manifest (.jsonl or .parquet) for --fix."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing -o file."),
    examples: int = typer.Option(5, "--examples", help="Examples listed per check."),
    read_opt: list[str] | None = typer.Option(None, "--read-option", "-r", help=READ_OPT_HELP),
    engine: str | None = typer.Option(None, "--engine", envvar="CVKIT_ENGINE", help=ENGINE_HELP),
    ray_address: str | None = typer.Option(None, "--ray-address", envvar="RAY_ADDRESS", help=RAY_ADDRESS_HELP),
    json_output: bool = typer.Option(False, "--json", help="Print the findings as JSON (keys in docs/stats.md)."),
) -> None:
    """Find broken images, sizes, boxes, polygons, ids, categories, duplicates and split leakage.

    Exit code 0 when no errors are found (warnings allowed), 1 when errors are found, 2 on bad input.

    Examples:

      cvkit validate train.jsonl

      cvkit validate VOCdevkit/VOC2012 --format voc --deep --engine ray --ray-address auto

      cvkit validate train.jsonl --fix -o clean.jsonl

      cvkit validate annotations/instances_val2017.json --json | jq .errors
    """
    with handle_errors():
        from cvkit.errors import CvkitError
        from cvkit.stats.validate import validate_dataset

        quiet_progress(json_output)
        if fix and output is None:
            raise CvkitError("--fix needs -o clean.jsonl (the input is never changed)")
        if output is not None and not fix:
            raise CvkitError("-o is only used with --fix")
        with engine_scope(engine, ray_address):
            result = validate_dataset(
                dataset,
                format,
                check_images=not no_images,
                deep=deep,
                examples=examples,
                fix_output=output if fix else None,
                overwrite=overwrite,
                **parse_options(read_opt),
            )
        doc = result.to_dict()
        if json_output:
            _print_json(doc)
        else:
            from cvkit.stats.tables import validation_tables

            console = out_console()
            for table in validation_tables(doc):
                console.print(table)
            verdict = "[red]errors found[/]" if doc["errors"] else "[green]no errors[/]"
            console.print(
                f"{verdict}: {doc['errors']:,} error(s), {doc['warnings']:,} warning(s) in {doc['images']:,} images"
                + ("" if doc["images_checked"] else " (image files not checked)")
            )
            if doc["fix"]:
                changed = ", ".join(
                    f"{k.replace('_', ' ')} {v:,}"
                    for k, v in doc["fix"].items()
                    if k not in ("output", "images_written", "objects_written")
                )
                console.print(
                    f"cleaned manifest written to {doc['fix']['output']}: {doc['fix']['images_written']:,} images, "
                    f"{doc['fix']['objects_written']:,} objects" + (f" ({changed})" if changed else "")
                )
    if not result.ok:
        raise typer.Exit(1)


def split_cmd(
    dataset: Path = typer.Argument(..., help="A manifest (.jsonl or .parquet) or any dataset file/folder."),
    ratios: str = typer.Option(..., "--ratios", help="Split sizes as fractions summing to 1, e.g. 0.8,0.1,0.1."),
    output: Path = typer.Option(
        ..., "--output", "-o", help="Manifest (.jsonl or .parquet) to write, every image with its new split."
    ),
    names: str | None = typer.Option(None, "--names", help="Split names, comma-separated (default train,val[,test])."),
    seed: int = typer.Option(0, "--seed", help="Random seed; the same seed gives the same split."),
    group_by: str | None = typer.Option(
        None, "--group-by", help="Image attribute whose images stay in one split (e.g. video, patient)."
    ),
    format: str | None = typer.Option(None, "--format", "-f", help=FORMAT_HELP),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing -o file."),
    read_opt: list[str] | None = typer.Option(None, "--read-option", "-r", help=READ_OPT_HELP),
    json_output: bool = typer.Option(False, "--json", help="Print the per-split summary as JSON."),
) -> None:
    """Split a dataset into train/val/test, stratified by class (iterative stratification), seeded.

    Examples:

      cvkit split manifest.jsonl --ratios 0.8,0.1,0.1 -o split.jsonl

      cvkit split manifest.jsonl --ratios 0.9,0.1 --names train,holdout --seed 7 -o split.jsonl

      cvkit split frames.jsonl --ratios 0.8,0.2 --group-by video -o split.jsonl
    """
    with handle_errors():
        from cvkit.stats.split import split_dataset

        quiet_progress(json_output)
        doc = split_dataset(
            dataset, ratios, output, names, seed, group_by, format, overwrite, **parse_options(read_opt)
        )
        if json_output:
            _print_json(doc)
            return
        from cvkit.stats.tables import split_tables

        console = out_console()
        for table in split_tables(doc):
            console.print(table)
        if doc["images_without_group"]:
            console.print(
                f"[yellow]warning:[/] {doc['images_without_group']:,} image(s) have no {group_by!r} attribute; each "
                "is its own group"
            )
        console.print(f"written to {doc['output']}")


def register(app: typer.Typer) -> None:
    app.command("stats", no_args_is_help=True)(stats_cmd)
    app.command("validate", no_args_is_help=True)(validate_cmd)
    app.command("split", no_args_is_help=True)(split_cmd)
