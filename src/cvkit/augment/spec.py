"""cvkit's pipeline spec: what ``augment`` and ``train`` both read (YAML or JSON).

A spec is a list of steps ``{name: <cvkit transform>, p: <probability>, <params>...}``
plus box rules. Names and parameters are cvkit's own (see :mod:`cvkit.augment.transforms`),
so the back-end (albumentations 2.0.8 today, kornia on the GPU) can change without users
rewriting specs. albumentations' own ``A.to_dict`` serialisation is accepted as an import.

File form::

    name: my-pipeline
    boxes: {min_visibility: 0.3, min_area: 16, redraw: 10}
    transforms:
      - {name: RandomResizedCrop, size: 224, scale: [0.08, 1.0]}
      - {name: HorizontalFlip, p: 0.5}

A bare list of steps is accepted too.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cvkit.augment.presets import PRESETS
from cvkit.augment.transforms import BY_ALBU_CLASS, TRANSFORMS
from cvkit.core.limits import check_side, load_yaml
from cvkit.errors import CvkitError, InvalidInputError
from cvkit.io import atomic_write_text, require_regular


@dataclass(slots=True)
class TransformSpec:
    """One step: a cvkit transform name, its probability and its parameters (defaults filled)."""

    name: str
    p: float
    params: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "p": self.p, **self.params}


@dataclass(slots=True)
class BoxPolicy:
    """How boxes are filtered after the geometric transforms.

    A box is kept when its visible fraction (area inside the output image / area of the
    whole transformed box) is at least ``min_visibility`` and its visible area at least
    ``min_area`` pixels. ``redraw`` > 0: a sample that had boxes and lost them all is
    drawn again (up to that many times) instead of coming back empty.
    """

    min_visibility: float = 0.0
    min_area: float = 0.0
    redraw: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"min_visibility": self.min_visibility, "min_area": self.min_area, "redraw": self.redraw}


@dataclass(slots=True)
class PipelineSpec:
    """A named list of steps plus box rules; ``load_spec`` builds it from any accepted source."""

    transforms: list[TransformSpec]
    boxes: BoxPolicy = field(default_factory=BoxPolicy)
    name: str | None = None
    description: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.name:
            out["name"] = self.name
        if self.description:
            out["description"] = self.description
        out["boxes"] = self.boxes.to_dict()
        out["transforms"] = [t.to_dict() for t in self.transforms]
        return out

    def dumps(self, fmt: str = "yaml") -> str:
        """The spec as YAML (default) or JSON text; :func:`load_spec` reads it back unchanged."""
        if fmt == "json":
            return json.dumps(self.to_dict(), indent=2) + "\n"
        import yaml

        return yaml.safe_dump(self.to_dict(), sort_keys=False, default_flow_style=None)

    def save(self, path: str | Path) -> Path:
        """Write the spec atomically; ``.json`` gives JSON, anything else YAML."""
        path = Path(path)
        atomic_write_text(path, self.dumps("json" if path.suffix.lower() == ".json" else "yaml"))
        return path

    def names(self) -> list[str]:
        return [t.name for t in self.transforms]


def make_step(raw: dict[str, Any], where: str, file: str | None = None) -> TransformSpec:
    """Validate one ``{name, p, params...}`` step against the transform table."""
    if not isinstance(raw, dict) or "name" not in raw:
        raise InvalidInputError("each step must be a mapping with a 'name'", file=file, location=where)
    raw = dict(raw)
    name = str(raw.pop("name"))
    definition = TRANSFORMS.get(name)
    if definition is None:
        raise InvalidInputError(
            f"unknown transform {name!r}; known: {', '.join(TRANSFORMS)}", file=file, location=where
        )
    p = raw.pop("p", definition.default_p)
    try:
        p = float(p)
    except (TypeError, ValueError):
        raise InvalidInputError(f"{name}: p must be a number, got {p!r}", file=file, location=where) from None
    if not 0.0 <= p <= 1.0:
        raise InvalidInputError(f"{name}: p must be between 0 and 1, got {p}", file=file, location=where)
    params = raw.pop("params", None) or {}
    params.update(raw)
    unknown = sorted(set(params) - set(definition.defaults))
    if unknown:
        allowed = ", ".join(definition.defaults) or "none"
        raise InvalidInputError(
            f"{name}: unknown parameter {unknown[0]!r} (parameters: {allowed})", file=file, location=where
        )
    for key in sorted(SIZE_PARAMETERS & set(params)):  # refused before any transform allocates an image that size
        for value in params[key] if isinstance(params[key], (list, tuple)) else [params[key]]:
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                check_side(value, f"{name} {key}", file=file, location=where)
    return TransformSpec(name, p, {**copy.deepcopy(definition.defaults), **params})


#: parameters that are sizes or positions in pixels, bounded by :func:`cvkit.core.limits.max_side`
SIZE_PARAMETERS = frozenset({"height", "width", "size", "x_min", "y_min", "x_max", "y_max"})


def from_albumentations(data: dict[str, Any], file: str | None = None) -> PipelineSpec:
    """Import albumentations' ``A.to_dict(compose)`` output (a Compose of known transforms)."""
    root = data.get("transform", data)
    if root.get("__class_fullname__", "").rsplit(".", 1)[-1] != "Compose":
        raise InvalidInputError(
            "albumentations import: the top level must be a Compose", file=file, location="transform"
        )
    steps: list[TransformSpec] = []
    for i, item in enumerate(root.get("transforms", [])):
        cls = item.get("__class_fullname__", "").rsplit(".", 1)[-1]
        name = BY_ALBU_CLASS.get(cls)
        where = f"transform.transforms[{i}]"
        if name is None:
            known = ", ".join(sorted(BY_ALBU_CLASS))
            raise InvalidInputError(
                f"albumentations transform {cls!r} has no cvkit equivalent (supported: {known})",
                file=file,
                location=where,
            )
        definition = TRANSFORMS[name]
        assert definition.from_albu is not None
        try:
            params = definition.from_albu(item)
        except (KeyError, TypeError, IndexError) as exc:
            raise InvalidInputError(
                f"albumentations {cls}: missing or odd parameter {exc}", file=file, location=where
            ) from None
        steps.append(make_step({"name": name, "p": item.get("p", definition.default_p), **params}, where, file))
    boxes = BoxPolicy()
    bbox_params = root.get("bbox_params") or {}
    if bbox_params:
        boxes = BoxPolicy(float(bbox_params.get("min_visibility", 0.0)), float(bbox_params.get("min_area", 0.0)))
    return PipelineSpec(steps, boxes, name="albumentations import")


def from_data(data: Any, file: str | None = None) -> PipelineSpec:
    """A spec from parsed YAML/JSON: cvkit's mapping, a bare list of steps, or ``A.to_dict`` output."""
    if isinstance(data, list):
        return PipelineSpec([make_step(step, f"[{i}]", file) for i, step in enumerate(data)])
    if not isinstance(data, dict):
        raise InvalidInputError("a pipeline spec is a mapping with 'transforms' or a list of steps", file=file)
    if "__version__" in data or "__class_fullname__" in data.get("transform", data):
        return from_albumentations(data, file)
    if "transforms" not in data:
        raise InvalidInputError("a pipeline spec needs a 'transforms' list", file=file)
    unknown = sorted(set(data) - {"name", "description", "boxes", "transforms"})
    if unknown:
        raise InvalidInputError(
            f"unknown spec key {unknown[0]!r} (keys: name, description, boxes, transforms)", file=file
        )
    steps = [make_step(step, f"transforms[{i}]", file) for i, step in enumerate(data["transforms"] or [])]
    raw_boxes = data.get("boxes") or {}
    bad = sorted(set(raw_boxes) - {"min_visibility", "min_area", "redraw"})
    if bad:
        raise InvalidInputError(
            f"unknown boxes key {bad[0]!r} (keys: min_visibility, min_area, redraw)", file=file, location="boxes"
        )
    boxes = BoxPolicy(
        float(raw_boxes.get("min_visibility", 0.0)),
        float(raw_boxes.get("min_area", 0.0)),
        int(raw_boxes.get("redraw", 0)),
    )
    return PipelineSpec(steps, boxes, data.get("name"), data.get("description"))


def load_spec(spec: str | Path | dict | list | PipelineSpec) -> PipelineSpec:
    """A :class:`PipelineSpec` from a preset name, a YAML/JSON file path, or parsed data."""
    if isinstance(spec, PipelineSpec):
        return copy.deepcopy(spec)
    if isinstance(spec, (dict, list)):
        return from_data(copy.deepcopy(spec))
    if isinstance(spec, str) and spec in PRESETS:
        return from_data(copy.deepcopy(PRESETS[spec]))
    path = Path(spec)
    require_regular(path)
    if not path.is_file():
        raise CvkitError(f"{spec!r} is neither a preset ({', '.join(PRESETS)}) nor a spec file")
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidInputError(f"not valid JSON ({exc.msg})", file=path, location=f"line {exc.lineno}") from None
    else:
        data = load_yaml(text, path)  # aliases bounded (an alias bomb is refused)
    result = from_data(data, str(path))
    result.name = result.name or path.stem
    return result


def describe_presets() -> list[dict[str, Any]]:
    """Name, description and steps of every preset (``cvkit augment presets``)."""
    rows = []
    for name in PRESETS:
        spec = load_spec(name)
        rows.append(
            {
                "name": name,
                "description": spec.description,
                "boxes": spec.boxes.to_dict(),
                "transforms": [t.to_dict() for t in spec.transforms],
            }
        )
    return rows
