"""Rich tables for the terminal, built from the JSON documents of stats, validate and split."""

from __future__ import annotations

from typing import Any

from cvkit.stats.weights import METHODS


def _fmt(value: float | None, digits: int = 3) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}" if isinstance(value, float) else f"{value:,}"


def stats_tables(stats: dict[str, Any], top: int = 0) -> list[Any]:
    """Summary, per-class, imbalance and box tables for ``cvkit stats``."""
    from rich.table import Table

    out: list[Any] = []
    summary = Table(title="dataset", title_justify="left", show_header=False)
    summary.add_column("")
    summary.add_column("", justify="right")
    summary.add_row("images", f"{stats['images']:,}")
    summary.add_row("objects", f"{stats['objects']:,}")
    summary.add_row("image-level labels", f"{stats['image_labels']:,}")
    summary.add_row("classes", f"{stats['num_classes']:,}")
    summary.add_row("images without annotations", f"{stats['images_without_annotations']:,}")
    for name, split in stats["splits"].items():
        summary.add_row(f"split {name}", f"{split['images']:,} images, {split['objects']:,} objects")
    out.append(summary)

    imbalance = stats.get("imbalance")
    splits = list(stats["splits"])
    table = Table(title="classes (most frequent first)", title_justify="left")
    for col in (
        "class",
        "id",
        "images",
        "image %",
        "objects",
        "object %",
        *(f"{s} obj" if stats["objects"] else f"{s} img" for s in splits),
    ):
        table.add_column(col, justify="left" if col == "class" else "right", no_wrap=col == "class")
    if imbalance:
        table.add_column("group")
    key = "objects" if stats["objects"] else "images"
    rows = sorted(stats["classes"], key=lambda r: -r[key])
    shown = rows[:top] if top else rows
    for r in shown:
        cells = [
            r["name"],
            str(r["id"]) if r["id"] is not None else "-",
            f"{r['images']:,}",
            f"{100 * r['image_share']:.1f}",
            f"{r['objects']:,}",
            f"{100 * r['object_share']:.1f}",
        ]
        cells += [f"{r['splits'][s][key]:,}" for s in splits]
        if imbalance:
            cells.append(imbalance["frequency_groups"]["classes"][r["name"]])
        table.add_row(*cells)
    if len(shown) < len(rows):
        table.caption = f"{len(rows) - len(shown)} more classes (--top 0 shows all)"
    out.append(table)

    if imbalance:
        metrics = Table(title=f"imbalance (counts: {imbalance['basis']})", title_justify="left", show_header=False)
        metrics.add_column("")
        metrics.add_column("", justify="right")
        metrics.add_row("imbalance ratio (max/min)", _fmt(imbalance["imbalance_ratio"], 2))
        metrics.add_row("Gini coefficient", _fmt(imbalance["gini"]))
        metrics.add_row("normalised entropy", _fmt(imbalance["normalized_entropy"]))
        metrics.add_row("effective classes (e^H)", _fmt(imbalance["effective_classes"], 2))
        groups = imbalance["frequency_groups"]
        th = groups["thresholds"]
        basis = (
            "as the file states"
            if groups.get("from") == "file"
            else f"<= {th['rare_max_images']} / <= {th['common_max_images']} images"
        )
        metrics.add_row(
            f"frequent / common / rare ({basis})",
            " / ".join(str(groups["sizes"].get(g, 0)) for g in ("frequent", "common", "rare")),
        )
        rf = imbalance["repeat_factor"]
        metrics.add_row(
            f"repeat factor t={rf['threshold']}: images repeated, epoch size",
            f"{rf['images_repeated']:,}, {rf['epoch_images']:,.0f}",
        )
        out.append(metrics)
        params = imbalance["params"]
        weights = Table(
            title=f"class weights (beta={params['beta']}, median-frequency from {params['median_frequency_from']})",
            title_justify="left",
        )
        weights.add_column("class", no_wrap=True)
        weights.add_column(imbalance["basis"], justify="right")
        for method in METHODS:
            weights.add_column(method, justify="right")
        for r in shown:
            name = r["name"]
            weights.add_row(
                name, f"{imbalance['counts'][name]:,}", *(f"{imbalance['weights'][m][name]:.4g}" for m in METHODS)
            )
        out.append(weights)

    boxes = stats["boxes"]
    if boxes["boxes"]:
        table = Table(title="boxes", title_justify="left", show_header=False)
        table.add_column("")
        table.add_column("", justify="right")
        sizes = boxes["sizes"]
        table.add_row(
            "small / medium / large (COCO, area < 32² / < 96²)",
            f"{sizes['small']:,} / {sizes['medium']:,} / {sizes['large']:,}",
        )
        for key, label in (
            ("area", "area px"),
            ("aspect_ratio", "aspect ratio w/h"),
            ("relative_size", "relative size"),
        ):
            d = boxes[key]
            table.add_row(
                f"{label} min / median / max", f"{_fmt(d['min'], 3)} / {_fmt(d['median'], 3)} / {_fmt(d['max'], 3)}"
            )
        opi = boxes["objects_per_image"]
        table.add_row(
            "objects per image mean / median / max",
            f"{_fmt(opi['mean'], 2)} / {_fmt(opi['median'], 1)} / {_fmt(opi['max'], 0)}",
        )
        table.add_row(
            "boxes touching the image border",
            f"{boxes['touching_border']:,} ({100 * boxes['touching_border_share']:.1f}%)",
        )
        if boxes["objects_without_box"]:
            table.add_row("objects without a box", f"{boxes['objects_without_box']:,}")
        out.append(table)
    sizes = stats["image_sizes"]
    if sizes["with_size"] or sizes["channels"]:
        table = Table(title="image sizes", title_justify="left", show_header=False)
        table.add_column("")
        table.add_column("", justify="right")
        for side in ("width", "height"):
            d = sizes[side]
            table.add_row(
                f"{side} min / median / max", f"{_fmt(d['min'], 0)} / {_fmt(d['median'], 0)} / {_fmt(d['max'], 0)}"
            )
        table.add_row("distinct sizes", f"{sizes['distinct_sizes']:,}")
        table.add_row(
            "most common", ", ".join(f"{s['width']}x{s['height']} ({s['images']:,})" for s in sizes["common_sizes"][:5])
        )
        if sizes["without_size"]:
            table.add_row("images without a declared size", f"{sizes['without_size']:,}")
        if sizes["channels"]:
            table.add_row("channels (from headers)", ", ".join(f"{k}: {v:,}" for k, v in sizes["channels"].items()))
        out.append(table)
    return out


def validation_tables(doc: dict[str, Any]) -> list[Any]:
    """Counts per check (non-zero ones) and their examples, for ``cvkit validate``."""
    from rich.table import Table

    table = Table(title=f"validation of {doc['images']:,} images, {doc['objects']:,} objects", title_justify="left")
    table.add_column("check")
    table.add_column("severity")
    table.add_column("count", justify="right")
    table.add_column("first examples")
    for name, check in doc["checks"].items():
        if not check["count"]:
            continue
        color = "red" if check["severity"] == "error" else "yellow"
        examples = "\n".join(
            f"{e['image'] or ''}{' (' + e['location'] + ')' if e['location'] else ''}: {e['message']}"
            for e in check["examples"]
        )
        table.add_row(name, f"[{color}]{check['severity']}[/]", f"{check['count']:,}", examples)
    return [table] if table.row_count else []


def split_tables(doc: dict[str, Any]) -> list[Any]:
    """Images per split and the per-class table (images holding the class per split)."""
    from rich.table import Table

    names = [s["name"] for s in doc["splits"]]
    table = Table(
        title=f"splits (seed {doc['seed']}{', grouped by ' + doc['group_by'] if doc['group_by'] else ''})",
        title_justify="left",
    )
    table.add_column("class", no_wrap=True)
    for name in names:
        table.add_column(name, justify="right")
    table.add_column("total", justify="right")
    for cls, counts in sorted(doc["classes"].items(), key=lambda kv: -sum(kv[1].values())):
        total = sum(counts.values())
        cells = [f"{counts[n]:,} ({100 * counts[n] / total:.0f}%)" if total else "0" for n in names]
        table.add_row(cls, *cells, f"{total:,}")
    images = {s["name"]: s for s in doc["splits"]}
    table.add_section()
    table.add_row(
        "[bold]images[/]",
        *(
            f"{images[n]['images']:,} ({100 * images[n]['share']:.0f}%, asked {100 * images[n]['ratio']:.0f}%)"
            for n in names
        ),
        f"{sum(s['images'] for s in doc['splits']):,}",
    )
    return [table]
