"""Imbalance metrics over per-class counts and LVIS-style frequency groups.

Definitions (all over the classes with a non-zero count, see docs/stats.md):

- imbalance ratio: ``max(n) / min(n)``;
- Gini coefficient: ``sum_i sum_j |n_i - n_j| / (2 C^2 mean(n))`` (0 = balanced, -> 1 = one class);
- entropy ``H = -sum p_c ln p_c`` with ``p_c = n_c / N``; normalised entropy ``H / ln C``
  (1 = balanced); effective number of classes ``e^H``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from cvkit.errors import CvkitError
from cvkit.stats.options import DEFAULT_COMMON_MAX, DEFAULT_RARE_MAX


@dataclass(slots=True)
class ImbalanceMetrics:
    imbalance_ratio: float | None
    gini: float | None
    entropy: float | None
    normalized_entropy: float | None
    effective_classes: float | None
    empty_classes: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "imbalance_ratio": self.imbalance_ratio,
            "gini": self.gini,
            "entropy": self.entropy,
            "normalized_entropy": self.normalized_entropy,
            "effective_classes": self.effective_classes,
            "empty_classes": self.empty_classes,
        }


def gini(counts: Sequence[float] | np.ndarray) -> float:
    """Gini coefficient of the counts (mean absolute difference / (2 * mean)), O(C log C)."""
    x = np.sort(np.asarray(counts, dtype=np.float64))
    c = len(x)
    if c == 0 or x.sum() == 0:
        return 0.0
    ranks = np.arange(1, c + 1)
    return float(np.sum((2 * ranks - c - 1) * x) / (c * x.sum()))


def imbalance_metrics(counts: Sequence[int] | np.ndarray) -> ImbalanceMetrics:
    """Ratio, Gini, entropy, normalised entropy and effective classes of the present classes."""
    n = np.asarray(counts, dtype=np.float64)
    present = n[n > 0]
    empty = int((n <= 0).sum())
    if len(present) == 0:
        return ImbalanceMetrics(None, None, None, None, None, empty)
    p = present / present.sum()
    entropy = float(-(p * np.log(p)).sum())
    normalized = entropy / float(np.log(len(present))) if len(present) > 1 else 1.0
    return ImbalanceMetrics(
        imbalance_ratio=float(present.max() / present.min()),
        gini=gini(present),
        entropy=entropy,
        normalized_entropy=normalized,
        effective_classes=float(np.exp(entropy)),
        empty_classes=empty,
    )


def frequency_groups(
    class_names: Sequence[str],
    image_counts: Sequence[int] | np.ndarray,
    rare_max: int = DEFAULT_RARE_MAX,
    common_max: int = DEFAULT_COMMON_MAX,
) -> dict[str, str]:
    """Class name -> ``frequent`` | ``common`` | ``rare`` | ``absent`` by the images containing it (LVIS)."""
    if rare_max >= common_max:
        raise CvkitError(f"--rare-max ({rare_max}) must be below --common-max ({common_max})")
    out = {}
    for name, count in zip(class_names, np.asarray(image_counts), strict=True):
        if count <= 0:
            out[name] = "absent"
        elif count <= rare_max:
            out[name] = "rare"
        elif count <= common_max:
            out[name] = "common"
        else:
            out[name] = "frequent"
    return out
