"""Box and image statistics: COCO size classes, aspect ratios, relative sizes, border contact, image sizes."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from cvkit.core.imageinfo import read_image_info
from cvkit.core.progress import track
from cvkit.errors import InvalidInputError
from cvkit.stats.column_arrays import Columns, median

#: COCO: small < 32^2, medium < 96^2, large otherwise (box area here, w * h).
SMALL_AREA = 32.0**2
MEDIUM_AREA = 96.0**2
ASPECT_EDGES = [0.0, 1 / 4, 1 / 3, 1 / 2, 2 / 3, 1.0, 3 / 2, 2.0, 3.0, 4.0, float("inf")]
RELATIVE_SIZE_EDGES = [0.0, 0.02, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, float("inf")]
OBJECTS_PER_IMAGE_EDGES = [0, 1, 2, 3, 5, 10, 20, 50, 100, float("inf")]
#: values per pass of the per-object loops (their temporaries stay in cache, not in 80 MB arrays)
CHUNK = 1 << 18


def histogram(values: np.ndarray, edges: list[float]) -> dict[str, list]:
    """``{"edges": [...], "counts": [...]}``: bin i holds edges[i] <= v < edges[i+1] (JSON-safe: inf -> null).

    One comparison per inner edge, summed as int8, a cache-sized chunk at a time: faster than searchsorted's binary
    search on a few edges (docs/benchmarks.md, "Measured choices")."""
    values = np.asarray(values)
    counts = np.zeros(len(edges) - 1, dtype=np.int64)
    for start in range(0, len(values), CHUNK):
        part = values[start : start + CHUNK]
        bins = np.zeros(len(part), dtype=np.int8)
        for edge in edges[1:-1]:
            bins += (part >= edge).view(np.int8)
        counts += np.bincount(bins[(part >= edges[0]) & (part < edges[-1])], minlength=len(edges) - 1)
    return {"edges": [None if np.isinf(e) else e for e in edges], "counts": [int(c) for c in counts]}


def _describe(values: np.ndarray, scratch: bool = False) -> dict[str, float | None]:
    """min/median/mean/max; ``scratch``: ``values`` is a temporary the median may reorder."""
    if len(values) == 0:
        return {"min": None, "median": None, "mean": None, "max": None}
    low, mean, high = float(values.min()), float(values.mean()), float(values.max())
    return {"min": low, "median": median(values, in_place=scratch), "mean": mean, "max": high}


def box_stats(columns: Columns, border_tolerance: float = 0.0) -> dict[str, Any]:
    """Everything about boxes and image sizes (docs/stats.md, key ``boxes``).

    Written for 10M-object columns (benchmarks/stats_parquet.py): per-object work runs a chunk at a time, masks
    are applied only when some row fails them, and the three arrays medians need live one after another."""
    box = columns.obj_box
    all_boxes = bool(np.isfinite(box).all())
    has_box = np.ones(len(box), dtype=bool) if all_boxes else np.isfinite(box.sum(axis=1))
    x, y, w, h = (box[:, i] if all_boxes else box[has_box, i] for i in range(4))
    cls = columns.obj_class if all_boxes else columns.obj_class[has_box]
    img = columns.obj_image if all_boxes else columns.obj_image[has_box]
    count = len(x)
    per_class_sizes = np.zeros(columns.num_classes * 3, dtype=np.int64)
    relative = np.empty(count)
    found = touching = sized_total = 0
    tol = border_tolerance
    for start in range(0, count, CHUNK):
        part = slice(start, start + CHUNK)
        px, py, pw, ph = x[part], y[part], w[part], h[part]
        area = pw * ph
        size_class = (area >= SMALL_AREA).view(np.int8) + (area >= MEDIUM_AREA).view(np.int8)
        per_class_sizes += np.bincount(cls[part].astype(np.int64) * 3 + size_class, minlength=columns.num_classes * 3)
        img_w, img_h = columns.image_width[img[part]], columns.image_height[img[part]]
        image_area = img_w * img_h
        sized = np.isfinite(image_area) & (pw > 0) & (ph > 0)
        ratio = np.sqrt(area / image_area) if sized.all() else np.sqrt(area[sized] / image_area[sized])
        relative[found : found + len(ratio)] = ratio
        found += len(ratio)
        touches = (px <= tol) | (py <= tol) | (px + pw >= img_w - tol) | (py + ph >= img_h - tol)
        touching += int((touches & sized).sum())
        sized_total += int(sized.sum())
    relative = relative[:found]
    per_class_sizes = per_class_sizes.reshape(-1, 3)
    size_counts = per_class_sizes.sum(axis=0)
    area = w * h
    area_summary = _describe(area, scratch=True)
    del area
    positive = (w > 0) & (h > 0)
    aspect = w / h if positive.all() else w[positive] / h[positive]
    del positive
    aspect_summary = {**_describe(aspect, scratch=True), "histogram": histogram(aspect, ASPECT_EDGES)}
    del aspect

    per_image = (
        np.bincount(columns.obj_image, minlength=columns.num_images)
        if columns.num_images
        else np.zeros(0, dtype=np.int64)
    )
    return {
        "boxes": int(has_box.sum()),
        "objects_without_box": int((~has_box).sum()),
        "sizes": {"small": int(size_counts[0]), "medium": int(size_counts[1]), "large": int(size_counts[2])},
        "sizes_by_class": {
            name: {"small": int(r[0]), "medium": int(r[1]), "large": int(r[2])}
            for name, r in zip(columns.class_names, per_class_sizes, strict=True)
        },
        "area": area_summary,
        "aspect_ratio": aspect_summary,
        "relative_size": {**_describe(relative, scratch=True), "histogram": histogram(relative, RELATIVE_SIZE_EDGES)},
        "touching_border": touching,
        "touching_border_share": touching / sized_total if sized_total else 0.0,
        "objects_per_image": {
            **_describe(per_image.astype(np.float64)),
            "histogram": histogram(per_image.astype(np.float64), OBJECTS_PER_IMAGE_EDGES),
        },
    }


def image_stats(columns: Columns, channels: Counter[int] | None = None, top: int = 10) -> dict[str, Any]:
    """Image sizes (declared in the annotations) and, when headers were read, channel counts."""
    w, h = columns.image_width, columns.image_height
    known = np.isfinite(w) & np.isfinite(h)
    sizes: Counter[tuple[int, int]] = Counter()
    if known.any():  # one int64 key per image: np.unique over rows (axis=0) is far slower (docs/benchmarks.md)
        keys, counts = np.unique((w[known].astype(np.int64) << 32) | h[known].astype(np.int64), return_counts=True)
        sizes = Counter({(int(k >> 32), int(k & 0xFFFFFFFF)): int(c) for k, c in zip(keys, counts, strict=True)})
    return {
        "with_size": int(known.sum()),
        "without_size": int((~known).sum()),
        "width": _describe(w[known]),
        "height": _describe(h[known]),
        "distinct_sizes": len(sizes),
        "common_sizes": [{"width": a, "height": b, "images": c} for (a, b), c in sizes.most_common(top)],
        "channels": {str(k): v for k, v in sorted(channels.items())} if channels is not None else None,
    }


def read_channels(columns: Columns) -> tuple[Counter[int], int]:
    """Channel counts from image headers (no decoding); returns ``(counts, unreadable)``."""
    counts: Counter[int] = Counter()
    unreadable = 0
    for path in track(columns.image_paths or [], "reading image headers", total=columns.num_images):
        full = path if columns.root is None else columns.root / path
        try:
            info = read_image_info(full)
        except InvalidInputError:
            unreadable += 1
            continue
        counts[info.channels or 0] += 1
    return counts, unreadable
