"""Open Images' class list (``class-descriptions-boxable.csv``, ``oidv6-class-descriptions.csv``) and
``bbox_labels_600_hierarchy.json`` as a cvkit hierarchy.

The JSON nests ``{"LabelName": mid, "Subcategory": [...], "Part": [...]}``. ``Subcategory`` is "is a" and
becomes a parent edge (a class listed under several parents gets them all); ``Part`` is "is part of"
(``Bicycle wheel`` of ``Bicycle``): a wheel is no bicycle, so remapping must not merge it, and parts are
returned apart (every part class also sits under some Subcategory, so no node is lost).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from cvkit.core import jsonio
from cvkit.core.categories import Hierarchy
from cvkit.errors import CvkitError, InvalidInputError
from cvkit.io import read_regular_bytes

#: the root MID of the 600-class hierarchy, which no class list names
ROOT_NAMES = {"/m/0bl9f": "Entity"}
HIERARCHY_FILE = "bbox_labels_600_hierarchy.json"


def read_class_descriptions(path: Path) -> list[tuple[str, str]]:
    """``(mid, display name)`` rows of a class list, with or without its ``LabelName,DisplayName`` header."""
    rows: list[tuple[str, str]] = []
    with open(path, encoding="utf-8-sig", newline="") as handle:
        for number, row in enumerate(csv.reader(handle), start=1):
            if not row or (number == 1 and row[:2] == ["LabelName", "DisplayName"]):
                continue
            if len(row) < 2 or not row[0]:
                raise InvalidInputError("expected LabelName,DisplayName", file=path, location=f"line {number}")
            rows.append((row[0], row[1]))
    return rows


def is_open_images_tree(data: Any) -> bool:
    return isinstance(data, dict) and isinstance(data.get("LabelName"), str)


def parse_tree(data: Any, path: Path, display: dict[str, str]) -> tuple[Hierarchy, list[tuple[str, str]]]:
    """(is-a hierarchy, ``(part, whole)`` pairs) of a parsed hierarchy JSON; errors name the JSON path."""
    hierarchy = Hierarchy()
    parts: list[tuple[str, str]] = []
    stack: list[tuple[Any, str, str | None, str]] = [(data, "$", None, "Subcategory")]
    while stack:
        node, where, parent, relation = stack.pop()
        if not is_open_images_tree(node):
            raise InvalidInputError("expected an object with a string LabelName", file=path, location=where)
        name = node["LabelName"]
        entry = hierarchy.node(name)
        entry.display_name = display.get(name) or ROOT_NAMES.get(name) or entry.display_name
        if parent is not None:
            if relation == "Part":
                parts.append((name, parent))
            else:
                try:
                    hierarchy.add_edge(name, parent)
                except CvkitError as exc:
                    raise InvalidInputError(exc.message, file=path, location=where) from None
        for key in ("Subcategory", "Part"):
            children = node.get(key, [])
            if not isinstance(children, list):
                raise InvalidInputError(f"{key} must be a list", file=path, location=f"{where}.{key}")
            stack.extend((child, f"{where}.{key}[{i}]", name, key) for i, child in reversed(list(enumerate(children))))
    return hierarchy, parts


def class_list_beside(folder: Path) -> Path | None:
    """The class list in ``folder``: the boxable list first (its names are the hierarchy's), else the full one."""
    for pattern in (
        "class-descriptions-boxable.csv",
        "oidv*-class-descriptions-boxable.csv",
        "oidv*-class-descriptions.csv",
        "class-descriptions.csv",
    ):
        found = sorted(folder.glob(pattern))
        if found:
            return found[0]
    return None


def load_tree(path: Path, display: dict[str, str] | None = None) -> tuple[Hierarchy, list[tuple[str, str]]]:
    """The hierarchy JSON at ``path``; display names from ``display``, else a class list beside it."""
    try:
        data = jsonio.loads(read_regular_bytes(path))
    except jsonio.JSONDecodeError as exc:
        raise InvalidInputError(f"malformed JSON: {exc}", file=path) from None
    if display is None:
        found = class_list_beside(path.parent)
        display = dict(read_class_descriptions(found)) if found else {}
    return parse_tree(data, path, display)
