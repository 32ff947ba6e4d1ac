"""Per-class counts (image level and object level), overall and per split, vectorised."""

from __future__ import annotations

from typing import Any

import numpy as np

from cvkit.stats.column_arrays import Columns


def distinct(keys: np.ndarray) -> np.ndarray:
    """Sorted distinct values; a stable (tim)sort is near-linear on keys that arrive almost sorted."""
    if len(keys) == 0:
        return keys
    keys = np.sort(keys, kind="stable")
    keep = np.empty(len(keys), dtype=bool)
    keep[0] = True
    np.not_equal(keys[1:], keys[:-1], out=keep[1:])
    return keys[keep]


def image_class_pairs(columns: Columns) -> tuple[np.ndarray, np.ndarray]:
    """Distinct ``(image, class)`` pairs from objects and image-level labels together (cached)."""
    cached = getattr(columns, "_pairs", None)
    if cached is not None and cached[0] == (columns.num_objects, len(columns.label_class)):
        return cached[1]
    c = max(columns.num_classes, 1)
    # int32 keys when they fit (a million images x 365 classes do): half the memory and a faster sort
    key_type = np.int32 if columns.num_images * c < 2**31 else np.int64
    keys = np.concatenate(
        [
            columns.obj_image.astype(key_type, copy=False) * key_type(c) + columns.obj_class,
            columns.label_image.astype(key_type, copy=False) * key_type(c) + columns.label_class,
        ]
    )
    keys = distinct(keys)
    pairs = ((keys // c).astype(np.int32, copy=False), (keys % c).astype(np.int32, copy=False))
    columns._pairs = ((columns.num_objects, len(columns.label_class)), pairs)
    return pairs


def _counts(
    columns: Columns, image_group: np.ndarray | None, groups: int, pairs: tuple[np.ndarray, np.ndarray]
) -> dict[str, np.ndarray]:
    """Objects, images containing the class, and image-level labels per class: ``(groups, classes)`` arrays
    counted in one pass each, images falling in group ``image_group[image]`` (all in group 0 when None)."""
    c = columns.num_classes
    pair_image, pair_class = pairs

    def per_group(images: np.ndarray, classes: np.ndarray) -> np.ndarray:
        keys = classes if image_group is None else image_group[images] * c + classes  # image_group is int64
        return np.bincount(keys, minlength=groups * c).reshape(groups, c)

    return {
        "objects": per_group(columns.obj_image, columns.obj_class),
        "images": per_group(pair_image, pair_class),
        "labels": per_group(columns.label_image, columns.label_class),
    }


def class_counts(columns: Columns) -> dict[str, Any]:
    """Totals, per-split totals and the per-class table (see docs/stats.md, key ``classes``)."""
    pairs = image_class_pairs(columns)
    total = {key: value[0] for key, value in _counts(columns, None, 1, pairs).items()}
    n_images = columns.num_images
    n_objects = columns.num_objects
    objects_per_image = np.bincount(columns.obj_image, minlength=n_images) if n_images else np.zeros(0, dtype=np.int64)
    splits: dict[str, Any] = {}
    per_split: dict[str, dict[str, np.ndarray]] = {}
    split_ids = [(name, i) for i, name in enumerate(columns.split_names)]
    if (columns.image_split < 0).any() and columns.split_names:
        split_ids.append(("-", -1))
    if split_ids:  # "no split" (-1) is the last group
        groups = len(columns.split_names) + 1
        image_group = np.where(columns.image_split < 0, groups - 1, columns.image_split).astype(np.int64)
        counted = _counts(columns, image_group, groups, pairs)
        images_per_group = np.bincount(image_group, minlength=groups)
        objects_per_group = counted["objects"].sum(axis=1)
        for name, index in split_ids:
            per_split[name] = {key: value[index] for key, value in counted.items()}
            splits[name] = {"images": int(images_per_group[index]), "objects": int(objects_per_group[index])}
    classes = []
    for k, name in enumerate(columns.class_names):
        row: dict[str, Any] = {
            "name": name,
            "id": columns.class_ids[k] if columns.class_ids[k] >= 0 else None,
            "images": int(total["images"][k]),
            "objects": int(total["objects"][k]),
            "labels": int(total["labels"][k]),
            "image_share": float(total["images"][k] / n_images) if n_images else 0.0,
            "object_share": float(total["objects"][k] / n_objects) if n_objects else 0.0,
        }
        if per_split:
            row["splits"] = {
                s: {"images": int(v["images"][k]), "objects": int(v["objects"][k])} for s, v in per_split.items()
            }
        classes.append(row)
    return {
        "images": n_images,
        "objects": n_objects,
        "image_labels": len(columns.label_class),
        "num_classes": columns.num_classes,
        "images_without_annotations": int(
            ((objects_per_image == 0) & (np.bincount(columns.label_image, minlength=n_images) == 0)).sum()
        )
        if n_images
        else 0,
        "splits": splits,
        "classes": classes,
    }
