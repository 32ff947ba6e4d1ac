"""CVAT's ``<meta>``: labels (colour, type, attribute specs, skeleton sublabels), tasks and jobs, project subsets.

Read once before the images; kept on the dataset (``info["cvat"]``) and the categories so the writer can give
back what CVAT needs to rebuild the labels (attribute specs, colours, skeleton layout).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cvkit.errors import InvalidInputError

#: CVAT's attribute input types; the reader types values by them (checkbox -> bool, number -> int/float)
INPUT_TYPES = ("checkbox", "radio", "select", "number", "text")
_EDGE = re.compile(
    r'data-node-from="([^"]+)"[^>]*?data-node-to="([^"]+)"|data-node-to="([^"]+)"[^>]*?data-node-from="([^"]+)"'
)


@dataclass(slots=True)
class AttributeSpec:
    """One ``<attribute>`` of a label in ``<meta>``: how CVAT shows and stores its value."""

    name: str
    input_type: str = "text"
    mutable: bool = False
    default: str = ""
    values: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "input_type": self.input_type,
            "mutable": self.mutable,
            "default_value": self.default,
            "values": list(self.values),
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> AttributeSpec:
        return cls(
            str(raw.get("name", "")),
            str(raw.get("input_type", "text")),
            bool(raw.get("mutable", False)),
            str(raw.get("default_value", "")),
            [str(v) for v in raw.get("values", [])],
        )


@dataclass(slots=True)
class LabelSpec:
    """One ``<label>``: its colour, type (any, rectangle, skeleton, points, ...), attributes and, for a skeleton
    point, the skeleton it belongs to (``parent``)."""

    name: str
    color: str | None = None
    type: str | None = None
    parent: str | None = None
    svg: str | None = None
    attributes: dict[str, AttributeSpec] = field(default_factory=dict)


@dataclass(slots=True)
class Task:
    """One ``<task>`` of the meta: the frames it covers and its subset (a split)."""

    id: str | None
    name: str | None = None
    subset: str | None = None
    mode: str | None = None
    start_frame: int = 0
    stop_frame: int | None = None
    frame_step: int = 1
    size: tuple[int, int] | None = None  # original_size (width, height) of a video task
    jobs: list[tuple[str, int, int]] = field(default_factory=list)  # (segment id, start, stop)


@dataclass(slots=True)
class Meta:
    labels: dict[str, LabelSpec] = field(default_factory=dict)
    tasks: list[Task] = field(default_factory=list)
    subsets: list[str] = field(default_factory=list)
    project: str | None = None

    def keypoint_names(self, skeleton: str) -> list[str]:
        """The points of a skeleton label, in the order ``<meta>`` lists them."""
        return [spec.name for spec in self.labels.values() if spec.parent == skeleton]

    def task(self, task_id: str | None) -> Task | None:
        return next((t for t in self.tasks if t.id == task_id), self.tasks[0] if len(self.tasks) == 1 else None)


def _text(parent: Any, tag: str) -> str | None:
    child = parent.find(tag)
    return child.text.strip() if child is not None and child.text is not None else None


def _int(parent: Any, tag: str, file: Path, default: int | None = None) -> int | None:
    text = _text(parent, tag)
    if text in (None, ""):
        return default
    try:
        return int(text)
    except ValueError:
        raise InvalidInputError(
            f"<{tag}> must be an integer, got {text!r}", file=file, location=f"line {parent.find(tag).sourceline}"
        ) from None


def split_values(text: str | None) -> list[str]:
    """``<values>``: newline-separated in CVAT 2.x, space-separated in files of older CVAT versions."""
    if not text:
        return []
    return [v for v in (text.split("\n") if "\n" in text else text.split(" ")) if v != ""]


def _label(element: Any) -> LabelSpec:
    spec = LabelSpec(
        _text(element, "name") or "",
        _text(element, "color") or None,
        _text(element, "type") or None,
        _text(element, "parent") or None,
    )
    svg = element.find("svg")
    if svg is not None and svg.text:
        spec.svg = svg.text
    for attribute in element.iterfind("attributes/attribute"):
        name = _text(attribute, "name") or ""
        values_element = attribute.find("values")
        spec.attributes[name] = AttributeSpec(
            name,
            _text(attribute, "input_type") or "text",
            (_text(attribute, "mutable") or "").lower() == "true",
            (attribute.find("default_value").text or "") if attribute.find("default_value") is not None else "",
            split_values(values_element.text if values_element is not None else None),
        )
    return spec


def skeleton_edges(svg: str | None, names: list[str]) -> list[list[int]]:
    """COCO-style 1-based edges from a skeleton's ``<svg>`` (``data-node-from``/``data-node-to`` hold the point
    numbers CVAT gives its sublabels, 1-based in meta order)."""
    edges = []
    for match in _EDGE.finditer(svg or ""):
        a, b = (match.group(1), match.group(2)) if match.group(1) else (match.group(4), match.group(3))
        if a.isdigit() and b.isdigit() and 0 < int(a) <= len(names) and 0 < int(b) <= len(names):
            edges.append([int(a), int(b)])
    return edges


def _task(element: Any, file: Path) -> Task:
    task = Task(_text(element, "id"), _text(element, "name"), _text(element, "subset") or None, _text(element, "mode"))
    task.start_frame = _int(element, "start_frame", file, 0) or 0
    task.stop_frame = _int(element, "stop_frame", file)
    step = re.fullmatch(r"step\s*=\s*(\d+)", _text(element, "frame_filter") or "")
    task.frame_step = max(int(step.group(1)), 1) if step else 1
    size = element.find("original_size")
    if size is not None:
        width, height = _int(size, "width", file), _int(size, "height", file)
        task.size = (width, height) if width and height else None
    for segment in element.iterfind("segments/segment"):
        task.jobs.append(
            (_text(segment, "id") or "", _int(segment, "start", file, 0) or 0, _int(segment, "stop", file, 0) or 0)
        )
    return task


def parse_meta(element: Any, file: Path) -> Meta:
    """The ``<meta>`` of a task, job or project export."""
    meta = Meta()
    holder = element.find("project")
    if holder is None:
        holder = element.find("task") if element.find("task") is not None else element.find("job")
    if holder is None:
        return meta
    meta.project = _text(holder, "name") if holder.tag == "project" else None
    for label in holder.iterfind("labels/label"):
        spec = _label(label)
        meta.labels[spec.name] = spec
    if holder.tag == "project":
        meta.tasks = [_task(t, file) for t in holder.iterfind("tasks/task")]
        meta.subsets = split_values(_text(holder, "subsets"))
    else:
        meta.tasks = [_task(holder, file)]
    return meta
