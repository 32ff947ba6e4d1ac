"""What a person sees while training: a rich progress bar per epoch (images/s, loss, lr, ETA),
one line per finished epoch, and the final metrics table. Rank 0 only; silent when progress is off."""

from __future__ import annotations

import sys
from typing import Any

from cvkit.cli.common import out_console
from cvkit.core import progress as core_progress


class EpochBar:
    """A transient rich bar for one epoch (or, with ``training=False``, one validation pass: images/s only);
    does nothing when stderr is not a terminal."""

    def __init__(self, description: str, enabled: bool, batch_size: int, world: int, training: bool = True):
        self.enabled = enabled and core_progress.ENABLED and sys.stderr.isatty()
        self.training = training
        self.description = description
        self.images_per_step = batch_size * world
        self.bar: Any = None
        self.loss = float("nan")

    def __enter__(self) -> EpochBar:
        if self.enabled:
            import time

            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            fields = "{task.fields[ips]:>7.0f} img/s" + (
                "  loss {task.fields[loss]:.4f}  lr {task.fields[lr]:.2e}" if self.training else ""
            )
            self.bar = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn(fields),
                TimeRemainingColumn(),
                transient=True,
                refresh_per_second=4,
            )
            self.bar.__enter__()
            self.task = self.bar.add_task(self.description, total=None, ips=0.0, loss=float("nan"), lr=0.0)
            self.start = time.perf_counter()
        return self

    def update(self, done: int, total: int, loss: float, lr: float) -> None:
        if self.bar is None:
            return
        import time

        if loss == loss:  # not NaN: a fresh value
            self.loss = loss
        elapsed = max(1e-9, time.perf_counter() - self.start)
        self.bar.update(
            self.task, completed=done, total=total, ips=done * self.images_per_step / elapsed, loss=self.loss, lr=lr
        )

    def advance(self, done: int, total: int) -> None:
        """Validation progress: ``done`` of ``total`` batches."""
        self.update(done, total, float("nan"), 0.0)

    def __exit__(self, *exc: Any) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)


def epoch_line(record: dict[str, Any], epochs: int) -> str:
    """``epoch 3/10  train_loss 0.2311  val_loss 0.19  val_top1 95.2%  ...``."""
    parts = [f"epoch {record['epoch']}/{epochs}", f"train_loss {record['train_loss']:.4f}"]
    for key in ("val_loss", "val_top1", "val_top5", "val_mAP", "val_f1"):
        value = record.get(key)
        if value is not None:
            parts.append(f"{key} {value:.4f}" if key == "val_loss" else f"{key} {100 * value:.1f}%")
    parts += [f"lr {record['lr']:.2e}", f"{record['images_per_s']:.0f} img/s", f"{record['seconds']:.1f}s"]
    if record.get("best"):
        parts.append("*best*")
    return "  ".join(parts)


def log(message: str, enabled: bool = True) -> None:
    """An epoch line or note on stderr (stdout stays for results and --json)."""
    if enabled and core_progress.ENABLED:
        print(message, file=sys.stderr, flush=True)


def print_metrics_table(metrics: dict[str, Any], title: str = "validation", max_classes: int = 30) -> None:
    """Top-1/top-5 (or mAP/F1), per-class accuracy (all, or the worst when many) and the worst classes."""
    from rich.table import Table

    console = out_console()
    summary = Table(title=f"{title}: {metrics.get('images', 0)} images", title_justify="left")
    summary.add_column("metric")
    summary.add_column("value", justify="right")
    for key in ("top1", "top5", "mAP", "f1_micro", "f1_macro", "loss"):
        if metrics.get(key) is not None:
            summary.add_row(key, f"{metrics[key]:.4f}" if key == "loss" else f"{100 * metrics[key]:.2f}%")
    console.print(summary)
    per_class = metrics.get("per_class_accuracy") or metrics.get("per_class_ap") or {}
    column = "accuracy" if "per_class_accuracy" in metrics else "AP"
    rows = sorted(((v, k) for k, v in per_class.items() if v is not None))
    shown = rows if len(rows) <= max_classes else rows[:max_classes]
    if shown:
        table = Table(
            title="per class" + ("" if len(rows) <= max_classes else f" (worst {max_classes} of {len(rows)})"),
            title_justify="left",
        )
        table.add_column("class")
        table.add_column(column, justify="right")
        for value, name in (
            shown if len(rows) > max_classes else sorted(shown, key=lambda r: list(per_class).index(r[1]))
        ):
            table.add_row(name, f"{100 * value:.1f}%")
        console.print(table)
    worst = metrics.get("worst_classes") or []
    if worst:
        key = "accuracy" if "accuracy" in worst[0] else "ap"
        console.print("worst classes: " + ", ".join(f"{w['class']} ({100 * w[key]:.1f}%)" for w in worst))


def print_probe_lines(metrics: dict[str, Any]) -> None:
    """One line each for ``cvkit evaluate``'s scrambled-tile and coarse-level scores, next to the plain top-1."""
    console = out_console()
    scrambled, coarse, target = metrics.get("scrambled"), metrics.get("coarse"), metrics.get("target")
    if target and target.get("top1") is not None:
        console.print(f"target {target['manifest']}: top-1 {100 * target['top1']:.2f}% ({target['images']} images)")
    if scrambled and scrambled.get("top1") is not None and metrics.get("top1") is not None:
        grid = scrambled["grid"]
        console.print(
            f"scrambled {grid}x{grid} tiles: top-1 {100 * scrambled['top1']:.2f}% (plain {100 * metrics['top1']:.2f}%)"
            + (
                f", top-5 {100 * scrambled['top5']:.2f}% (plain {100 * metrics['top5']:.2f}%)"
                if "top5" in scrambled
                else ""
            )
        )
    if coarse and coarse.get("top1") is not None:
        within = coarse["mistakes_within_coarse_class"]
        console.print(
            f"level {coarse['level']} ({coarse['classes']} classes): top-1 {100 * coarse['top1']:.2f}% "
            f"(fine {100 * coarse['fine_top1']:.2f}%)"
            + (f"; {100 * within:.1f}% of the fine mistakes stay inside the right class" if within is not None else "")
        )
