"""COCO ``categories``: ids kept, ``supercategory`` as a hierarchy parent, and Roboflow's dataset-named group.

COCO's own ``person`` is its own supercategory and Roboflow writes ``"none"``: both are roots. Roboflow's
category 0, named after the dataset and the supercategory of every class, is a group rather than a class: it stays
a hierarchy node and is kept in the dataset's info for the writer (see :func:`dataset_group`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cvkit.core.categories import Category, CategorySet, Hierarchy
from cvkit.core.report import Report
from cvkit.errors import CvkitError, InvalidInputError


def dataset_group(raw: list[Any]) -> dict[str, Any] | None:
    """Roboflow's first category, named after the dataset (``"supercategory": "none"``), which every other
    category has as its supercategory: a group, not a class (Roboflow's own YOLO export has no such class)."""
    groups = [c for c in raw if isinstance(c, dict) and str(c.get("supercategory") or "").lower() == "none"]
    if len(groups) != 1 or len(raw) < 2:
        return None
    group = groups[0]
    return (
        group
        if all(isinstance(c, dict) and c.get("supercategory") == group.get("name") for c in raw if c is not group)
        else None
    )


def read_categories(
    raw: list[Any], file: Path, categories: CategorySet, hierarchy: Hierarchy, report: Report, info: dict[str, Any]
) -> dict[int, str]:
    """Add the file's categories (ids kept); returns id -> name (duplicate names made unique).

    Roboflow's dataset-named group (:func:`dataset_group`) stays a hierarchy node, not a category, and is
    kept in ``info["group_category"]`` for the writer."""
    names: dict[int, str] = {}
    group = dataset_group(raw)
    if group is not None and "group_category" not in info:
        info["group_category"] = dict(group)
    for i, cat in enumerate(raw):
        try:
            cat_id, name = int(cat["id"]), str(cat["name"])
        except (KeyError, TypeError, ValueError):
            raise InvalidInputError(
                "category needs an integer 'id' and a 'name'", file=file, location=f"categories[{i}]"
            ) from None
        if cat is group:
            names[cat_id] = name
            continue
        existing = categories.by_id(cat_id)
        if existing is not None and existing.name in (name, f"{name} (id {cat_id})"):
            names[cat_id] = existing.name
            continue
        if name in categories:
            report.warn(f"category name {name!r} is used by several ids; renamed to {name!r} + ' (id N)'")
            name = f"{name} (id {cat_id})"
        attributes = {k: v for k, v in cat.items() if k not in ("id", "name", "supercategory")}
        supercategory = str(cat.get("supercategory") or "")
        if supercategory == name or supercategory.lower() == "none":
            # no parent: COCO's "person" is its own supercategory, Roboflow writes "none"; kept for the writer
            attributes["supercategory"] = supercategory
            supercategory = ""
        try:
            categories.add(Category(cat_id, name, attributes=attributes))
        except CvkitError as exc:  # an id used twice: named with the file and the place
            raise InvalidInputError(exc.message, file=file, location=f"categories[{i}].id") from None
        if supercategory:
            hierarchy.add_edge(name, supercategory)
        names[cat_id] = name
    return names
