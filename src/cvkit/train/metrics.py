"""Metrics from collected logits: top-1/top-5, per-class accuracy, confusion matrix; mAP and F1 for multi-label.

Pure numpy so evaluate, the training loop and tests compute exactly the same numbers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from cvkit.io import atomic_file


def topk_accuracy(logits: np.ndarray, targets: np.ndarray, k: int) -> float:
    """Fraction of rows whose target is among the ``k`` highest logits (k capped at the class count)."""
    if len(targets) == 0:
        return float("nan")
    k = min(k, logits.shape[1])
    top = np.argsort(-logits, axis=1, kind="stable")[:, :k]
    return float((top == targets[:, None]).any(axis=1).mean())


def confusion_matrix(predicted: np.ndarray, targets: np.ndarray, num_classes: int) -> np.ndarray:
    """Rows: true class, columns: predicted class."""
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (targets, predicted), 1)
    return matrix


def single_label_metrics(logits: np.ndarray, targets: np.ndarray, class_names: list[str]) -> dict[str, Any]:
    """top1, top5, per-class accuracy (recall, None for classes without images), confusion matrix, worst classes."""
    predicted = logits.argmax(axis=1) if len(targets) else np.zeros(0, dtype=np.int64)
    matrix = confusion_matrix(predicted, targets, len(class_names))
    support = matrix.sum(axis=1)
    per_class = {name: (float(matrix[i, i] / support[i]) if support[i] else None) for i, name in enumerate(class_names)}
    ranked = sorted((acc, name) for name, acc in per_class.items() if acc is not None)
    return {
        "top1": topk_accuracy(logits, targets, 1),
        "top5": topk_accuracy(logits, targets, 5),
        "images": len(targets),
        "per_class_accuracy": per_class,
        "worst_classes": [{"class": name, "accuracy": acc} for acc, name in ranked[:5]],
        "confusion_matrix": matrix.tolist(),
    }


def average_precision(scores: np.ndarray, positives: np.ndarray) -> float | None:
    """Area under the precision-recall curve as the mean precision at each positive (sklearn's definition).

    None without positives."""
    if positives.sum() == 0:
        return None
    order = np.argsort(-scores, kind="stable")
    hits = positives[order].astype(np.float64)
    precision_at = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float((precision_at * hits).sum() / hits.sum())


def multi_label_metrics(
    logits: np.ndarray, targets: np.ndarray, class_names: list[str], threshold: float = 0.5
) -> dict[str, Any]:
    """mAP over classes with positives, micro and macro F1 at ``threshold`` on sigmoid scores, per-class AP."""
    scores = 1.0 / (1.0 + np.exp(-logits))
    positives = targets > 0.5
    predicted = scores >= threshold
    per_class_ap = {name: average_precision(scores[:, i], positives[:, i]) for i, name in enumerate(class_names)}
    aps = [ap for ap in per_class_ap.values() if ap is not None]
    tp = (predicted & positives).sum(axis=0)
    fp = (predicted & ~positives).sum(axis=0)
    fn = (~predicted & positives).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(2 * tp + fp + fn > 0, 2 * tp / (2 * tp + fp + fn), np.nan)
    micro = float(2 * tp.sum() / max(1, 2 * tp.sum() + fp.sum() + fn.sum()))
    ranked = sorted((ap, name) for name, ap in per_class_ap.items() if ap is not None)
    return {
        "mAP": float(np.mean(aps)) if aps else float("nan"),
        "f1_micro": micro,
        "f1_macro": float(np.nanmean(f1)) if np.isfinite(f1).any() else float("nan"),
        "images": len(targets),
        "per_class_ap": per_class_ap,
        "worst_classes": [{"class": name, "ap": ap} for ap, name in ranked[:5]],
    }


def compute_metrics(
    logits: np.ndarray, targets: np.ndarray, class_names: list[str], multi_label: bool, threshold: float = 0.5
) -> dict[str, Any]:
    if multi_label:
        return multi_label_metrics(logits, targets, class_names, threshold)
    return single_label_metrics(logits, targets.astype(np.int64), class_names)


def write_confusion_csv(matrix: list[list[int]], class_names: list[str], path: Path) -> None:
    """Rows are true classes, columns predicted classes, with a header row and column of names."""
    import csv

    with atomic_file(path, "w") as handle:
        writer = csv.writer(handle)
        writer.writerow(["true \\ predicted", *class_names])
        for name, row in zip(class_names, matrix):
            writer.writerow([name, *row])


def write_confusion_png(matrix: list[list[int]], class_names: list[str], path: Path) -> None:
    """A row-normalised heat map with counts (matplotlib, Agg back-end); skipped silently beyond 60 classes' labels."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    counts = np.asarray(matrix, dtype=np.float64)
    rates = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    n = len(class_names)
    size = min(20.0, 2.0 + 0.45 * n)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    if n <= 60:
        ax.set_xticks(range(n), class_names, rotation=90)
        ax.set_yticks(range(n), class_names)
    if n <= 25:
        for i in range(n):
            for j in range(n):
                if counts[i, j]:
                    ax.text(
                        j,
                        i,
                        int(counts[i, j]),
                        ha="center",
                        va="center",
                        color="white" if rates[i, j] > 0.5 else "black",
                        fontsize=8,
                    )
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title("confusion matrix (row-normalised)")
    fig.tight_layout()
    with atomic_file(path, "wb", encoding=None) as handle:
        fig.savefig(handle, format="png", dpi=100)
    plt.close(fig)
