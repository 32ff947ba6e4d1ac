"""The ``<meta>`` the CVAT writer puts first: labels (colour, type, attribute specs, skeleton points and drawing)
and, when the samples have splits, a project whose ``<subsets>`` lists them (CVAT's project export layout)."""

from __future__ import annotations

import math
from typing import Any

from cvkit.core.model import Dataset

#: colours handed to labels that have none (the start of CVAT's own label palette)
PALETTE = ("#fa3253", "#24b353", "#3d3df5", "#ff6a4d", "#33ddff", "#b83df5", "#ffcc33", "#34d1b7", "#ff007c", "#83e070")


def _leaf(parent: Any, tag: str, text: str) -> Any:
    from lxml import etree

    el = etree.SubElement(parent, tag)
    el.text = text
    return el


def inferred_spec(name: str, values: list[Any]) -> dict[str, Any]:
    """An attribute spec for values no ``<meta>`` described: all booleans -> checkbox, all numbers -> number
    (values ``min max step`` as CVAT keeps them), else text."""
    if values and all(isinstance(v, bool) for v in values):
        return {"name": name, "input_type": "checkbox", "default_value": "false", "values": ["false"]}
    if values and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        step = 1 if all(isinstance(v, int) or float(v).is_integer() for v in values) else 0.01
        low, high = min(values), max(values)
        return {
            "name": name,
            "input_type": "number",
            "default_value": str(low),
            "values": [str(low), str(high), str(step)],
        }
    return {"name": name, "input_type": "text", "default_value": "", "values": [""]}


def skeleton_svg(names: list[str], edges: list[list[int]]) -> str:
    """A drawing CVAT's skeleton editor opens: the points on a circle, numbered 1..N in meta order, and the edges."""
    coords = [
        (
            50 + 40 * math.cos(2 * math.pi * i / max(len(names), 1)),
            50 + 40 * math.sin(2 * math.pi * i / max(len(names), 1)),
        )
        for i in range(len(names))
    ]
    lines = [
        f'<line x1="{coords[a - 1][0]:.2f}" y1="{coords[a - 1][1]:.2f}" '
        f'x2="{coords[b - 1][0]:.2f}" y2="{coords[b - 1][1]:.2f}" stroke="black" data-type="edge" '
        f'data-node-from="{a}" stroke-width="0.5" data-node-to="{b}"></line>'
        for a, b in edges
        if 0 < a <= len(names) and 0 < b <= len(names)
    ]
    circles = [
        f'<circle r="1.5" stroke="black" fill="#b3b3b3" cx="{x:.2f}" cy="{y:.2f}" stroke-width="0.1" '
        f'data-type="element node" data-element-id="{i + 1}" data-node-id="{i + 1}" data-label-name="{name}"></circle>'
        for i, ((x, y), name) in enumerate(zip(coords, names))
    ]
    return "".join(lines + circles)


def _label(
    labels_el: Any, name: str, color: str, kind: str, specs: list[dict[str, Any]], parent: str | None = None
) -> Any:
    from lxml import etree

    label = etree.SubElement(labels_el, "label")
    _leaf(label, "name", name)
    _leaf(label, "color", color)
    _leaf(label, "type", kind)
    if parent is not None:
        _leaf(label, "parent", parent)
    attributes = etree.SubElement(label, "attributes")
    for spec in specs:
        attribute = etree.SubElement(attributes, "attribute")
        _leaf(attribute, "name", str(spec.get("name", "")))
        _leaf(attribute, "mutable", "True" if spec.get("mutable") else "False")
        _leaf(attribute, "input_type", str(spec.get("input_type", "text")))
        _leaf(attribute, "default_value", str(spec.get("default_value", "")))
        _leaf(attribute, "values", "\n".join(str(v) for v in spec.get("values", [])))
    return label


def meta_element(dataset: Dataset, labels: Any, splits: dict[str, int], size: int, name: str) -> Any:
    """``<meta>``: every category (in order) and every label the objects used, with what CVAT needs to rebuild them;
    with splits, a project holding one task per subset (datumaro finds a project's subsets by their ``<subset>``)."""
    from lxml import etree

    meta = etree.Element("meta")
    holder = etree.SubElement(meta, "project" if splits else "task")
    _leaf(holder, "name", name)
    if not splits:
        _leaf(holder, "size", str(size))
        _leaf(holder, "mode", "annotation")
    else:
        tasks = etree.SubElement(holder, "tasks")
        for number, (subset, count) in enumerate(splits.items(), 1):
            task = etree.SubElement(tasks, "task")
            fields = (
                ("id", str(number)),
                ("name", subset),
                ("size", str(count)),
                ("mode", "annotation"),
                ("subset", subset),
            )
            for tag, text in fields:
                _leaf(task, tag, text)
    labels_el = etree.SubElement(holder, "labels")
    names = list(dict.fromkeys([*dataset.categories.names(), *labels.used]))
    for i, label in enumerate(names):
        category = dataset.categories.get(label)
        attributes = category.attributes if category is not None else {}
        specs = [dict(s) for s in attributes.get("cvat_attributes", []) if isinstance(s, dict)]
        described = {s.get("name") for s in specs}
        specs += [
            inferred_spec(key, values) for key, values in labels.values.get(label, {}).items() if key not in described
        ]
        color = str(attributes.get("color") or PALETTE[i % len(PALETTE)])
        points = labels.skeletons.get(label)
        kind = "skeleton" if points else str(attributes.get("cvat_type") or "any")
        if kind == "skeleton" and not points:
            kind = "any"
        element = _label(labels_el, label, color, kind, specs)
        if points:
            edges = attributes.get("skeleton") if isinstance(attributes.get("skeleton"), list) else []
            svg = (
                attributes.get("cvat_svg")
                if isinstance(attributes.get("cvat_svg"), str)
                else skeleton_svg(points, edges)
            )
            _leaf(element, "svg", svg)
            for point in points:
                _label(labels_el, point, color, "points", [], parent=label)
    if splits:
        _leaf(holder, "subsets", "\n".join(splits))
    return meta
