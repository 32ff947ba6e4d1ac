"""``cvkit validate --fix -o clean.jsonl``: a cleaned copy of the dataset as a manifest.

What changes (counted in the result's ``fix`` section; everything else is kept as read):
images that are missing or unreadable are dropped; a wrong declared size is replaced by
the real (displayed) size; boxes reaching outside the image are clipped to it
(:func:`cvkit.core.geometry.clip_box`); objects with non-finite or empty boxes, polygons
left without a part of >= 3 points, a mask, keypoints, points or score that ``invalid_value`` refuses, or
unknown categories are dropped; a declared size that is no positive whole number becomes the real one (or
unknown); unknown image
labels are dropped; an annotation id repeated within a split gets a fresh one. Duplicates and
split leakage are reported but not resolved (which copy to keep is the user's call).
The input is never written to.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

from cvkit.core import validate_values
from cvkit.core.geometry import clip_box
from cvkit.core.model import Annotation, Dataset, Sample
from cvkit.core.paths import check_apart
from cvkit.errors import CvkitError, DestinationExistsError
from cvkit.io import exclusive, same_file
from cvkit.manifest import check_manifest_name, write_manifest
from cvkit.stats.findings import BOUNDS_TOLERANCE, ValidationResult, value_problem


def _fix_object(
    obj: Annotation, dataset: Dataset, width: float | None, height: float | None, counts: Counter[str]
) -> Annotation | None:
    """The object cleaned, or None when it cannot be kept."""
    if (
        obj.label not in dataset.categories and not obj.iscrowd
    ):  # crowd/ignore regions need no category, as validate says
        counts["objects_dropped_unknown_category"] += 1
        return None
    if value_problem(obj, width, height) is not None:  # a mask, keypoints, points or score no tool reads right
        counts["objects_dropped_bad_value"] += 1
        return None
    if obj.polygon is not None:
        parts = [p for p in obj.polygon if len(p) >= 6 and len(p) % 2 == 0]
        if len(parts) != len(obj.polygon) or not parts:
            if not parts:
                counts["objects_dropped_bad_polygon"] += 1
                return None
            counts["polygon_parts_dropped"] += len(obj.polygon) - len(parts)
            obj = replace(obj, polygon=parts)
    box = obj.bbox
    if box is None:
        return obj
    four = isinstance(box, list | tuple) and len(box) == 4
    if not four or not all(validate_values.is_number(v) and math.isfinite(v) for v in box):
        counts["objects_dropped_bad_box"] += 1
        return None
    x, y, w, h = box
    if w <= 0 or h <= 0:
        counts["objects_dropped_bad_box"] += 1
        return None
    if width and height:
        tol = BOUNDS_TOLERANCE
        if x < -tol or y < -tol or x + w > width + tol or y + h > height + tol:
            clipped = clip_box(box, width, height)
            if clipped[2] <= 0 or clipped[3] <= 0:
                counts["objects_dropped_outside_image"] += 1
                return None
            counts["boxes_clipped"] += 1
            obj = replace(obj, bbox=clipped)
    return obj


def fixed_samples(dataset: Dataset, result: ValidationResult, counts: Counter[str]) -> list[Sample]:
    """Cleaned copies of the samples (inputs untouched)."""
    used_ids = {o.id for s in dataset.samples for o in s.objects if isinstance(o.id, int)}
    next_id = max(used_ids, default=0) + 1
    seen_ids: set[Any] = set()
    out: list[Sample] = []
    for index, sample in enumerate(dataset.samples):
        facts = result.image_facts.get(index, {})
        if facts.get("broken"):
            counts["images_dropped"] += 1
            counts["objects_dropped_with_image"] += len(sample.objects)
            continue
        width, height = sample.width, sample.height
        if "size" in facts:
            width, height = facts["size"] or (None, None)
            counts["sizes_corrected"] += 1
        real_w, real_h = facts.get("real_size", (width, height))
        objects = []
        for obj in sample.objects:
            kept = _fix_object(obj, dataset, real_w, real_h, counts)
            if kept is None:
                continue
            if kept.id is not None:
                if (sample.split, kept.id) in seen_ids:
                    kept = replace(kept, id=next_id)
                    next_id += 1
                    counts["annotation_ids_renumbered"] += 1
                seen_ids.add((sample.split, kept.id))
            objects.append(kept)
        labels = [label for label in sample.labels if label in dataset.categories]
        counts["image_labels_dropped"] += len(sample.labels) - len(labels)
        meta = {k: v for k, v in sample.meta.items() if k != "_cvkit_line"}
        out.append(replace(sample, width=width, height=height, objects=objects, labels=labels, meta=meta))
    return out


def write_fixed(
    dataset: Dataset, result: ValidationResult, source: Path, output: Path, overwrite: bool = False
) -> dict[str, Any]:
    """Write the cleaned manifest to ``output`` (never over the input); returns what changed."""
    check_manifest_name(output, "cleaned manifest")
    check_apart(output, [source])
    if same_file(output, source):  # a hard link to the input
        raise CvkitError("--fix never overwrites its input; choose another -o", file=output)
    if output.exists() and not overwrite:
        raise DestinationExistsError("destination exists; pass --overwrite to replace it", file=output)
    counts: Counter[str] = Counter()
    samples = fixed_samples(dataset, result, counts)
    clean = Dataset(samples, dataset.categories, dataset.hierarchy, dataset.root, dataset.source_format, dataset.info)
    with exclusive(output, overwrite):
        write_manifest(clean, output)
    return {
        "output": str(output),
        "images_written": len(samples),
        "objects_written": sum(len(s.objects) for s in samples),
        **dict(sorted(counts.items())),
    }
