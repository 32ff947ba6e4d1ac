"""Accuracy at a coarser level of the class hierarchy (``cvkit evaluate --level coarse|DEPTH``): a prediction
counts as right when it falls in the true class's superclass (CIFAR-100's 20 superclasses, a WordNet ancestor at
depth N). Classes map up by :func:`cvkit.hierarchy.plan_remap`, the rule ``cvkit remap`` uses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from cvkit.core.categories import Category, CategorySet
from cvkit.errors import CvkitError


def parse_level(level: str) -> dict[str, Any]:
    """``coarse`` -> ``{"level": "coarse"}``; a number -> ``{"depth": N}`` (the :func:`plan_remap` keywords)."""
    if level == "coarse":
        return {"level": "coarse"}
    if level.isdigit():
        return {"depth": int(level)}
    raise CvkitError(f"--level must be 'coarse' or a depth (0, 1, 2, ...), not {level!r}")


def coarse_mapping(class_names: list[str], hierarchy_source: str | Path, level: str) -> list[str]:
    """The coarse class of each of the run's classes (classes without one keep their own name)."""
    from cvkit.hierarchy import load_hierarchy, plan_remap

    hierarchy = load_hierarchy(hierarchy_source)
    if not any(hierarchy.parents(name) for name in class_names):
        raise CvkitError(
            f"{hierarchy_source} holds no hierarchy over the run's classes; pass one with --hierarchy "
            "(a CIFAR-100 folder, wordnet.is_a.txt, a manifest with a hierarchy, an edge CSV)"
        )
    categories = CategorySet([Category(i + 1, name) for i, name in enumerate(class_names)])
    rows, _, _ = plan_remap(categories, hierarchy, unmapped="keep", **parse_level(level))
    new_of = {row.old: row.new or row.old for row in rows}
    return [new_of[name] for name in class_names]


def coarse_metrics(logits: np.ndarray, targets: np.ndarray, coarse_of: list[str], level: str) -> dict[str, Any]:
    """Top-1 at the coarse level, the fine top-1 beside it, and the share of fine mistakes that stay inside the
    right coarse class."""
    lookup = np.asarray(coarse_of, dtype=object)
    predicted = logits.argmax(axis=1)
    fine_right = predicted == targets
    coarse_right = lookup[predicted] == lookup[targets]
    mistakes = int((~fine_right).sum())
    return {
        "level": level,
        "classes": len(set(coarse_of)),
        "top1": float(coarse_right.mean()) if len(targets) else None,
        "fine_top1": float(fine_right.mean()) if len(targets) else None,
        "mistakes_within_coarse_class": float((coarse_right & ~fine_right).sum() / mistakes) if mistakes else None,
    }
