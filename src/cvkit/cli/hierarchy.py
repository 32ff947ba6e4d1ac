"""``cvkit hierarchy show`` and ``cvkit remap``: class hierarchies over a manifest."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from cvkit.cli.common import handle_errors, out_console, quiet_progress
from cvkit.errors import CvkitError, DestinationExistsError

HIERARCHY_HELP = (
    "Hierarchy to use instead of the manifest's: a folder or file (wordnet.is_a.txt + words.txt, WordNet's data.noun, "
    "devkit meta.mat, CIFAR-100 folder, COCO json, manifest, child,parent csv/json)."
)

hierarchy_app = typer.Typer(
    help="Class hierarchies (WordNet, ImageNet, CIFAR-100, COCO).\n\nExamples:\n\n"
    "  cvkit hierarchy show train.jsonl --depth 4",
    no_args_is_help=True,
)


def _label(summary: Any, name: str, first: bool) -> str:
    from rich.markup import escape

    shown = summary.hierarchy.display(name)
    text = escape(name if shown == name else f"{shown} ({name})")
    if name in summary.classes:
        text = f"[bold]{text}[/]"
    text += f"  [cyan]{summary.images.get(name, 0):,}[/] images"
    parents = summary.hierarchy.parents(name)
    if not first:
        text += " [dim](shown above)[/]"
    elif len(parents) > 1:
        text += f" [dim]({len(parents)} parents)[/]"
    return text


def show_cmd(
    manifest: Path = typer.Argument(..., help="A cvkit manifest (.jsonl or .parquet)."),
    hierarchy: Path | None = typer.Option(None, "--hierarchy", help=HIERARCHY_HELP),
    depth: int | None = typer.Option(
        None, "--depth", min=0, help="Show this many levels below the top (the roots, or --node)."
    ),
    node: str | None = typer.Option(None, "--node", help="Start at this node: a WNID or a name such as 'dog'."),
    json_output: bool = typer.Option(
        False, "--json", help="Print the nodes as JSON records (each once) instead of a tree."
    ),
) -> None:
    """Show the classes' hierarchy as a tree with the number of images at or below each node.

    A node with several parents (WordNet is a DAG) appears under each of them; its
    subtree is drawn at the first place only. An image counts once per node.

    Examples:

      cvkit hierarchy show train.jsonl --depth 5

      cvkit hierarchy show train.jsonl --hierarchy imagenet/wordnet_hierarchy --node dog

      cvkit hierarchy show train.jsonl --json | jq '.[] | select(.images > 1000)'
    """
    with handle_errors():
        from cvkit.hierarchy.summary import summarize
        from cvkit.manifest import read_manifest

        quiet_progress(json_output)
        summary = summarize(read_manifest(manifest), hierarchy)
        top = [summary.resolve(node)] if node else None
        if json_output:
            print(json.dumps(summary.records(top, depth), ensure_ascii=False, indent=2))
            return
        from rich.tree import Tree

        tree = Tree(
            f"{manifest.name}: {len(summary.classes)} classes, {len(summary.hierarchy)} nodes, "
            f"{summary.total_images:,} images"
        )
        branch_at: list[Any] = [tree]
        for name, level, _parent, first in summary.walk(top, depth):
            del branch_at[level + 1 :]
            branch_at.append(branch_at[level].add(_label(summary, name, first)))
        out_console().print(tree)


def _print_table(table: Any) -> None:
    from rich.markup import escape
    from rich.table import Table

    view = Table(title="remap: old -> new", title_justify="left")
    for column in ("old", "new", "how", "images", "objects"):
        view.add_column(column, justify="right" if column in ("images", "objects") else "left")
    for row in table.rows:
        old = escape(row.old + (f" ({row.old_display})" if row.old_display else ""))
        new = escape(row.new + (f" ({row.new_display})" if row.new_display else "")) if row.new else "[red]dropped[/]"
        view.add_row(old, new, row.how, f"{row.images:,}", f"{row.objects:,}")
    out_console().print(view)


def remap_cmd(
    manifest: Path = typer.Argument(..., help="A cvkit manifest (.jsonl or .parquet)."),
    output: Path = typer.Option(..., "--output", "-o", help="Manifest to write (.jsonl or .parquet)."),
    hierarchy: Path | None = typer.Option(None, "--hierarchy", help=HIERARCHY_HELP),
    to: str | None = typer.Option(
        None, "--to", help="Comma-separated targets: WNIDs or names (lemmas), e.g. animal,person,vehicle."
    ),
    level: str | None = typer.Option(None, "--level", help="'coarse': each class's parent (CIFAR-100 superclasses)."),
    depth: int | None = typer.Option(
        None, "--depth", help="Map each class to its ancestor at this depth (shortest path from a root; roots are 0)."
    ),
    map_file: Path | None = typer.Option(
        None, "--map", help="Explicit mappings: CSV 'old,new' rows (empty new drops) or JSON {old: new}."
    ),
    unmapped: str = typer.Option(
        "drop", "--unmapped", help="Classes with no target: drop, keep, or other (relabel 'other')."
    ),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing output manifest."),
    json_output: bool = typer.Option(False, "--json", help="Print the table as JSON."),
) -> None:
    """Relabel a manifest's classes to coarser ones through the hierarchy.

    Each class goes to its NEAREST target over all paths; a class that is a target stays;
    two targets equally near is an error listing them. Images whose every label was
    dropped are left out. New category ids are 1..K in target order.

    Examples:

      cvkit remap train.jsonl -o coarse.jsonl --to animal,person,vehicle --unmapped other

      cvkit remap cifar100.jsonl -o super.jsonl --level coarse

      cvkit remap train.jsonl -o d4.jsonl --hierarchy /usr/share/wordnet --depth 4

      cvkit remap train.jsonl -o merged.jsonl --map merge.csv --unmapped keep
    """
    with handle_errors():
        from cvkit.core.paths import check_apart
        from cvkit.hierarchy.remap import read_mapping_file, remap
        from cvkit.io import exclusive
        from cvkit.manifest import check_manifest_name, read_manifest, write_manifest

        quiet_progress(json_output)
        check_manifest_name(output)
        check_apart(output, [manifest])
        if output.exists() and not overwrite:
            raise DestinationExistsError("destination exists; pass --overwrite to replace it", file=output)
        targets = [t.strip() for t in to.split(",") if t.strip()] if to is not None else None
        if to is not None and not targets:
            raise CvkitError("--to needs at least one target")
        mapping = read_mapping_file(map_file) if map_file is not None else None
        remapped, table = remap(
            read_manifest(manifest), hierarchy, to=targets, level=level, depth=depth, mapping=mapping, unmapped=unmapped
        )
        with exclusive(output, overwrite):
            write_manifest(remapped, output)
        if json_output:
            print(json.dumps(table.to_dict() | {"output": str(output)}, ensure_ascii=False, indent=2))
            return
        _print_table(table)
        for warning in table.warnings:
            print(f"warning: {warning}")
        print(
            f"wrote {output}: {len(table.categories)} categories, {table.images_out} images ({table.images_dropped} "
            f"dropped), {table.objects_out} objects ({table.objects_in - table.objects_out} dropped)"
        )


def register(app: typer.Typer) -> None:
    hierarchy_app.command("show", no_args_is_help=True)(show_cmd)
    app.add_typer(hierarchy_app, name="hierarchy")
    app.command("remap", no_args_is_help=True)(remap_cmd)
