"""``cvkit convert``, ``cvkit ingest``, ``cvkit export`` and ``cvkit formats``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from cvkit.cli.common import (
    ENGINE_HELP,
    RAY_ADDRESS_HELP,
    engine_scope,
    handle_errors,
    out_console,
    parse_options,
    print_report,
    quiet_progress,
)
from cvkit.cli.process import kept_until_exit, paused_gc
from cvkit.errors import CvkitError
from cvkit.formats import CAPABILITIES, REGISTRY, all_formats

READ_OPT_HELP = "Reader option KEY=VALUE (repeatable), e.g. -r one_based=false for 0-based VOC boxes."
WRITE_OPT_HELP = "Writer option KEY=VALUE (repeatable), e.g. -w split=train."
IMAGES_HELP = "Images at the destination: reference (leave where they are), copy, hardlink or symlink."
OUTSIDE_HELP = (
    "With --images copy|hardlink|symlink: also place images that lie outside the source's folders (an absolute "
    "file_name elsewhere). Only image files are ever placed."
)


def short_names() -> dict[str, str]:
    """Names usable in ``A2B`` pairs -> canonical format name, generated from the registry."""
    return {key: spec.name for key, spec in REGISTRY.items()} | {
        spec.short: spec.name for spec in REGISTRY.values() if spec.short
    }


def parse_pair(pair: str) -> tuple[str, str] | None:
    """``voc2coco`` -> ``("voc", "coco")``; None when ``pair`` is not such a name."""
    names = short_names()
    for i, char in enumerate(pair):
        if char == "2" and pair[:i] in names and pair[i + 1 :] in names:
            return names[pair[:i]], names[pair[i + 1 :]]
    return None


def pair_examples() -> list[str]:
    """Every readable x writable combination as ``a2b`` (what ``cvkit convert --help`` lists)."""
    specs = [s for s in all_formats() if s.name != "manifest"]
    return [
        f"{a.short or a.name}2{b.short or b.name}"
        for a in specs
        if a.can_read
        for b in specs
        if b.can_write and b is not a
    ]


def _run_conversion(
    src: str,
    dst: str,
    from_format: str | None,
    to_format: str,
    overwrite: bool,
    skip_invalid: bool,
    read_opts: list[str] | None,
    write_opts: list[str] | None,
    images: str | None,
    json_output: bool,
    title: str,
    transform: Callable[[Any], Any] | None = None,
    allow_outside_root: bool = False,
    engine: str | None = None,
    ray_address: str | None = None,
) -> None:
    from cvkit.api import convert

    quiet_progress(json_output)
    write_options = parse_options(write_opts)
    if images:
        write_options["images"] = images
    # the collector paused while the conversion builds millions of objects; the dataset (a loaded COCO file, ...)
    # outlives the conversion when cvkit ends with it
    with engine_scope(engine, ray_address), paused_gc(), kept_until_exit() as keep:
        report = convert(
            src,
            dst,
            to_format=to_format,
            from_format=from_format,
            overwrite=overwrite,
            skip_invalid=skip_invalid,
            read_options=parse_options(read_opts),
            write_options=write_options,
            transform=lambda dataset: keep(dataset if transform is None else transform(dataset)),
            allow_outside_root=allow_outside_root,
        )
    print_report(report, f"{report.source_format} -> {report.target_format}: {title}", json_output)
    if report.skipped and not json_output:
        print(f"warning: {len(report.skipped)} invalid item(s) skipped; report: {str(dst).rstrip('/')}.skipped.jsonl")


def convert_cmd(
    args: list[str] = typer.Argument(
        ...,
        metavar="[PAIR] SRC DST",
        help="Optional A2B pair (e.g. voc2coco), then source and destination (paths or s3:// URLs).",
    ),
    from_format: str | None = typer.Option(None, "--from", "-f", help="Source format (detected when omitted)."),
    to_format: str | None = typer.Option(
        None, "--to", "-t", help="Destination format (or give a pair such as voc2coco)."
    ),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing non-empty destination."),
    skip_invalid: bool = typer.Option(
        False, "--skip-invalid", help="Skip malformed items and list them in DST.skipped.jsonl."
    ),
    images: str | None = typer.Option(None, "--images", help=IMAGES_HELP),
    allow_outside_root: bool = typer.Option(False, "--allow-outside-root", help=OUTSIDE_HELP),
    read_opt: list[str] | None = typer.Option(None, "--read-option", "-r", help=READ_OPT_HELP),
    write_opt: list[str] | None = typer.Option(None, "--write-option", "-w", help=WRITE_OPT_HELP),
    engine: str | None = typer.Option(None, "--engine", envvar="CVKIT_ENGINE", help=ENGINE_HELP),
    ray_address: str | None = typer.Option(None, "--ray-address", envvar="RAY_ADDRESS", help=RAY_ADDRESS_HELP),
    json_output: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Convert a dataset from any format to any format.

    Examples:

      cvkit convert voc2coco VOCdevkit/VOC2012 coco/            # folder: annotations/instances_<split>.json

      cvkit convert coco2voc instances_val2017.json voc/ --images copy

      cvkit convert data/ out.json --to coco                    # source format detected

      cvkit convert voc2coco VOCdevkit/VOC2012 coco/ --engine ray --ray-address auto

      cvkit convert voc2coco s3://bucket/VOC2012 s3://bucket/coco   # staged locally (pip install 'cvkit[cloud]')
    """
    with handle_errors():
        if len(args) == 3:
            pair = parse_pair(args[0])
            if pair is None:
                raise CvkitError(f"{args[0]!r} is not a conversion pair such as voc2coco; see `cvkit formats`")
            if from_format or to_format:
                raise CvkitError("give either a pair such as voc2coco or --from/--to, not both")
            from_format, to_format = pair
            src, dst = args[1:]
        elif len(args) == 2:
            src, dst = args
            if not to_format:
                raise CvkitError(
                    "say which format to write: --to FORMAT, or a pair such as `cvkit convert voc2coco SRC DST`"
                )
        else:
            raise CvkitError("expected [PAIR] SRC DST")
        _run_conversion(
            src,
            dst,
            from_format,
            to_format,
            overwrite,
            skip_invalid,
            read_opt,
            write_opt,
            images,
            json_output,
            f"{src} -> {dst}",
            allow_outside_root=allow_outside_root,
            engine=engine,
            ray_address=ray_address,
        )


def ingest_cmd(
    src: str = typer.Argument(..., help="Dataset file or folder in any readable format, or a URL (s3://...)."),
    output: str = typer.Option(
        ..., "--output", "-o", help="Manifest to write: .jsonl (JSON Lines) or .parquet; a path or a URL."
    ),
    format: str | None = typer.Option(None, "--format", "-f", help="Source format (detected when omitted)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing manifest."),
    skip_invalid: bool = typer.Option(
        False, "--skip-invalid", help="Skip malformed items and list them in OUTPUT.skipped.jsonl."
    ),
    read_opt: list[str] | None = typer.Option(None, "--read-option", "-r", help=READ_OPT_HELP),
    hierarchy: Path | None = typer.Option(
        None, "--hierarchy", help="Attach this class hierarchy (see `cvkit hierarchy --help`) to the manifest."
    ),
    engine: str | None = typer.Option(None, "--engine", envvar="CVKIT_ENGINE", help=ENGINE_HELP),
    ray_address: str | None = typer.Option(None, "--ray-address", envvar="RAY_ADDRESS", help=RAY_ADDRESS_HELP),
    json_output: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Read a dataset into a cvkit manifest (JSON Lines or Parquet), the input of stats, augment and train.

    Examples:

      cvkit ingest VOCdevkit/VOC2012 -o voc.jsonl

      cvkit ingest objects365/zhiyuan_objv2_train.json -o objects365.parquet    # columns, for large datasets

      cvkit ingest annotations/instances_val2017.json --format coco -o val.jsonl

      cvkit ingest ILSVRC2012/train -o train.jsonl --hierarchy imagenet/wordnet_hierarchy

      cvkit ingest s3://bucket/VOC2012 -o s3://bucket/voc.parquet                 # beside its images
    """
    with handle_errors():
        from cvkit.manifest import PARQUET_SUFFIXES, check_manifest_name

        check_manifest_name(Path(output))
        to_format = "parquet" if Path(output).suffix.lower() in PARQUET_SUFFIXES else "manifest"
        transform = None
        if hierarchy is not None:
            from cvkit.hierarchy import attach_hierarchy, find_hierarchy

            find_hierarchy(hierarchy)  # a bad path fails before a long read
            transform = lambda dataset: attach_hierarchy(dataset, hierarchy)  # noqa: E731
        _run_conversion(
            src,
            output,
            format,
            to_format,
            overwrite,
            skip_invalid,
            read_opt,
            None,
            None,
            json_output,
            f"{src} -> {output}",
            transform,
            engine=engine,
            ray_address=ray_address,
        )


def export_cmd(
    src: str = typer.Argument(
        ...,
        help="A manifest (.jsonl or .parquet; path or URL), or a training checkpoint (.pt) with --onnx/--torchscript.",
    ),
    dst: str | None = typer.Argument(None, help="Destination file or folder, or a URL (s3://bucket/prefix)."),
    to_format: str | None = typer.Option(
        None, "--to", "-t", help="Format to write, e.g. coco, voc, yolo, imagefolder."
    ),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing non-empty destination."),
    images: str | None = typer.Option(None, "--images", help=IMAGES_HELP),
    allow_outside_root: bool = typer.Option(False, "--allow-outside-root", help=OUTSIDE_HELP),
    write_opt: list[str] | None = typer.Option(None, "--write-option", "-w", help=WRITE_OPT_HELP),
    onnx: bool = typer.Option(False, "--onnx", help="Export a checkpoint to ONNX."),
    torchscript: bool = typer.Option(False, "--torchscript", help="Export a checkpoint to TorchScript."),
    engine: str | None = typer.Option(None, "--engine", envvar="CVKIT_ENGINE", help=ENGINE_HELP),
    ray_address: str | None = typer.Option(None, "--ray-address", envvar="RAY_ADDRESS", help=RAY_ADDRESS_HELP),
    json_output: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Write a manifest out in another format, or export a trained checkpoint.

    Examples:

      cvkit export manifest.jsonl coco/ --to coco

      cvkit export manifest.jsonl voc/ --to voc --images copy

      cvkit export manifests/voc.jsonl voc/ --to voc --images copy --allow-outside-root

      cvkit export manifest.jsonl manifest.parquet --to parquet     # and back: --to manifest

      cvkit export manifest.parquet shards/ --to webdataset -w shard_size=10000

      cvkit export runs/exp/best.pt model.onnx --onnx
    """
    with handle_errors():
        if onnx or torchscript:
            _export_model(Path(src), Path(dst) if dst else None, onnx, torchscript, json_output, overwrite)
            return
        if dst is None or not to_format:
            raise CvkitError("export needs a destination and --to FORMAT")
        _run_conversion(
            src,
            dst,
            "manifest",
            to_format,
            overwrite,
            False,
            None,
            write_opt,
            images,
            json_output,
            f"{src} -> {dst}",
            allow_outside_root=allow_outside_root,
            engine=engine,
            ray_address=ray_address,
        )


def _export_model(
    src: Path, dst: Path | None, onnx: bool, torchscript: bool, json_output: bool, overwrite: bool = False
) -> None:
    try:
        from cvkit.train.export import export_model
    except ImportError as exc:
        raise CvkitError(f"model export needs the training extra: pip install 'cvkit[train]' ({exc})") from None
    result = export_model(src, dst, kind="onnx" if onnx else "torchscript", overwrite=overwrite)
    if json_output:
        import json

        print(json.dumps(result, indent=2))
    else:
        out_console().print(result)


def formats_cmd(json_output: bool = typer.Option(False, "--json", help="Print as JSON.")) -> None:
    """List every format cvkit reads and writes, with what each can hold.

    Examples:

      cvkit formats

      cvkit formats --json | jq '.[] | select(.holds.polygons)'

      cvkit formats --json | jq '.[] | {name, read_options}'
    """
    from cvkit.api import format_options

    rows: list[dict[str, Any]] = []
    for spec in all_formats():
        module = spec.load()
        rows.append(
            {
                "name": spec.name,
                "title": spec.title,
                "aliases": list(spec.aliases),
                "read": spec.can_read,
                "write": spec.can_write,
                "holds": {cap: cap in spec.holds for cap in CAPABILITIES},
                "read_options": (format_options(module, "read") or []) if spec.can_read else [],
                "write_options": (format_options(module, "write") or []) if spec.can_write else [],
            }
        )
    if json_output:
        import json

        print(json.dumps(rows, indent=2))
        return
    from rich.table import Table

    table = Table(title="cvkit formats")
    for col in ("format", "description", "read/write", "holds", "options (-r / -w KEY=VALUE)"):
        table.add_column(col)
    for row in rows:
        modes = "/".join(m for m, ok in (("read", row["read"]), ("write", row["write"])) if ok)
        holds = ", ".join(c.replace("_", " ") for c in CAPABILITIES if row["holds"][c])
        options = "\n".join(
            f"{flag} {', '.join(names)}"
            for flag, names in (("-r", row["read_options"]), ("-w", row["write_options"]))
            if names
        )
        table.add_row(row["name"], row["title"], modes, holds, options)
    console = out_console()
    console.print(table)
    console.print("Conversion pairs: " + ", ".join(pair_examples()))


def register(app: typer.Typer) -> None:
    app.command("convert", no_args_is_help=True)(convert_cmd)
    app.command("ingest", no_args_is_help=True)(ingest_cmd)
    app.command("export", no_args_is_help=True)(export_cmd)
    app.command("formats")(formats_cmd)
