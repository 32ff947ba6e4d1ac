"""``cvkit stats`` as one library call: columns in, a JSON-ready document out (docs/stats.md)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from cvkit.errors import CvkitError
from cvkit.stats.boxes import box_stats, image_stats
from cvkit.stats.column_arrays import Columns
from cvkit.stats.counts import class_counts, distinct, image_class_pairs
from cvkit.stats.imbalance import frequency_groups, imbalance_metrics
from cvkit.stats.options import ImbalanceOptions
from cvkit.stats.weights import METHODS, class_repeat_factors, compute_class_weights, image_repeat_factors

STATS_SCHEMA = "cvkit.stats"
STATS_VERSION = 1
BASES = ("auto", "objects", "images")


def pixel_frequencies(columns: Columns) -> np.ndarray | None:
    """Eigen & Fergus class frequencies from regions (masks, polygons): class pixels / pixels of the
    images holding that class's regions. None when some present class has no region (then counts are used).
    """
    if not columns.has_masks:
        return None
    masked = np.isfinite(columns.obj_mask_area)
    cls = columns.obj_class[masked]
    pixels = np.bincount(cls, weights=columns.obj_mask_area[masked], minlength=columns.num_classes)
    c = max(columns.num_classes, 1)
    keys = distinct(columns.obj_image[masked].astype(np.int64) * c + cls)
    image, pair_class = keys // c, keys % c
    image_pixels = np.nan_to_num(columns.image_width[image] * columns.image_height[image])
    totals = np.bincount(pair_class, weights=image_pixels, minlength=columns.num_classes)
    with np.errstate(divide="ignore", invalid="ignore"):
        freq = np.where(totals > 0, pixels / totals, 0.0)
    present = np.bincount(columns.obj_class, minlength=columns.num_classes) > 0
    return freq if (freq[present] > 0).all() else None


def class_basis(columns: Columns, basis: str) -> tuple[str, np.ndarray]:
    """The counts weights are computed from: object counts for detection data, else images per class."""
    if basis not in BASES:
        raise CvkitError(f"unknown --by {basis!r}; choose one of {', '.join(BASES)}")
    if basis == "auto":
        basis = "objects" if columns.num_objects else "images"
    if basis == "objects":
        return basis, np.bincount(columns.obj_class, minlength=columns.num_classes)
    _, pair_class = image_class_pairs(columns)
    return basis, np.bincount(pair_class, minlength=columns.num_classes)


def all_weights(
    columns: Columns,
    counts: np.ndarray,
    image_counts: np.ndarray,
    options: ImbalanceOptions,
    frequencies: np.ndarray | None,
) -> dict[str, np.ndarray]:
    """Every method of :data:`METHODS` for these counts."""
    params: dict[str, Any] = {
        "beta": options.beta,
        "threshold": options.threshold,
        "image_counts": image_counts,
        "num_images": columns.num_images,
        "frequencies": frequencies,
    }
    return {method: compute_class_weights(counts, method, **params) for method in METHODS}


def imbalance_section(columns: Columns, options: ImbalanceOptions) -> dict[str, Any]:
    """Metrics, LVIS groups, weights by every method and repeat-factor summary (key ``imbalance``)."""
    basis, counts = class_basis(columns, options.basis)
    pair_image, pair_class = image_class_pairs(columns)
    image_counts = np.bincount(pair_class, minlength=columns.num_classes)
    groups = frequency_groups(columns.class_names, image_counts, options.rare_max, options.common_max)
    declared = columns.declared_groups or {}
    groups.update((name, declared[name]) for name in groups if name in declared)  # the file's own groups win (LVIS)
    frequencies = pixel_frequencies(columns)
    weights = all_weights(columns, counts, image_counts, options, frequencies)
    class_factors = class_repeat_factors(image_counts, columns.num_images, options.threshold)
    image_factors = image_repeat_factors(pair_image, pair_class, class_factors, columns.num_images)
    names = columns.class_names
    return {
        "basis": basis,
        "counts": {name: int(n) for name, n in zip(names, counts, strict=True)},
        **imbalance_metrics(counts).to_dict(),
        "frequency_groups": {
            "thresholds": {"rare_max_images": options.rare_max, "common_max_images": options.common_max},
            "from": "file" if declared else "image counts",
            "classes": groups,
            "sizes": dict(Counter(groups.values())),
        },
        "weights": {
            method: {name: float(v) for name, v in zip(names, w, strict=True)} for method, w in weights.items()
        },
        "params": {
            "beta": options.beta,
            "threshold": options.threshold,
            "median_frequency_from": "pixels" if frequencies is not None else "counts",
        },
        "repeat_factor": {
            "threshold": options.threshold,
            "images_repeated": int((image_factors > 1).sum()),
            "mean_image_factor": float(image_factors.mean()) if len(image_factors) else None,
            "max_image_factor": float(image_factors.max()) if len(image_factors) else None,
            "epoch_images": float(image_factors.sum()),
        },
    }


def compute_stats(
    columns: Columns, imbalance: ImbalanceOptions | None = None, channels: Counter[int] | None = None
) -> dict[str, Any]:
    """The whole ``cvkit stats`` document; ``imbalance`` adds the ``imbalance`` key."""
    doc: dict[str, Any] = {"schema": STATS_SCHEMA, "version": STATS_VERSION, "source_format": columns.source}
    doc.update(class_counts(columns))
    doc["boxes"] = box_stats(columns)
    doc["image_sizes"] = image_stats(columns, channels)
    if imbalance is not None:
        doc["imbalance"] = imbalance_section(columns, imbalance)
    return doc
