"""Ultralytics ``data.yaml``: loading it and checking its class names and pose keys.

``names`` as a list or ``{id: name}`` (ids ``0..n-1``), ``nc`` checked against it (``class_0..`` when only
``nc`` is given, as Ultralytics names them), and for pose data ``kpt_shape``, ``flip_idx`` and ``kpt_names``.
Where the splits are is the business of ``_layouts.ultralytics_layout``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cvkit.core.limits import load_yaml as load_bounded_yaml
from cvkit.errors import InvalidInputError
from cvkit.io import read_regular_bytes

from ._labels import ClassNames


def yaml_class_names(data: dict[str, Any], file: Path) -> ClassNames:
    """The classes of a loaded data.yaml, with its pose keys (``kpt_shape``, ``flip_idx``, ``kpt_names``) checked."""
    names = _yaml_names(data, file)
    names.kpt_shape = _kpt_shape(data, file)
    if names.kpt_shape is not None:
        names.flip_idx = _flip_idx(data, file, names.kpt_shape[0])
        names.kpt_names = _kpt_names(data, file, names.kpt_shape[0], len(names.names))
    return names


def _yaml_names(data: dict[str, Any], file: Path) -> ClassNames:
    names = data.get("names")
    nc = data.get("nc")
    if names is None:
        if nc is None:
            raise InvalidInputError(
                "no 'names' (and no 'nc'): the class names are unknown", file=file, location="names"
            )
        if not isinstance(nc, int) or nc < 0:
            raise InvalidInputError(f"nc must be a whole number, got {nc!r}", file=file, location="nc")
        return ClassNames([f"class_{i}" for i in range(nc)], file.name)  # what Ultralytics does
    values = names.values() if isinstance(names, dict) else names if isinstance(names, list) else []
    if any(not isinstance(value, (str, int, float)) or isinstance(value, bool) for value in values):
        raise InvalidInputError(
            "every class name must be a string (or a number), not a list, a mapping or null",
            file=file,
            location="names",
        )
    if isinstance(names, dict):
        try:
            by_index = {int(k): str(v) for k, v in names.items()}
        except (TypeError, ValueError):
            raise InvalidInputError(
                "names as a mapping must be {class id: name}", file=file, location="names"
            ) from None
        if sorted(by_index) != list(range(len(by_index))):
            raise InvalidInputError(
                f"class ids in names must run 0..{len(by_index) - 1}, got {sorted(by_index)}",
                file=file,
                location="names",
            )
        listed = [by_index[i] for i in range(len(by_index))]
    elif isinstance(names, list):
        listed = [str(n) for n in names]
    else:
        raise InvalidInputError("names must be a list or a {class id: name} mapping", file=file, location="names")
    if isinstance(nc, int) and nc != len(listed):
        raise InvalidInputError(f"nc is {nc} but names lists {len(listed)} classes", file=file, location="nc")
    return ClassNames(listed, file.name)


def load_yaml(file: Path) -> dict[str, Any]:
    try:
        text = read_regular_bytes(file).decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInputError(f"not valid YAML ({exc.__class__.__name__})", file=file) from None
    data = load_bounded_yaml(text, file)  # aliases bounded (an alias bomb is refused)
    if not isinstance(data, dict):
        raise InvalidInputError("expected a mapping with train/val and names", file=file)
    return data


def _kpt_shape(data: dict[str, Any], file: Path) -> tuple[int, int] | None:
    shape = data.get("kpt_shape")
    if shape is None:
        return None
    if not (
        isinstance(shape, list)
        and len(shape) == 2
        and all(isinstance(v, int) for v in shape)
        and shape[0] > 0
        and shape[1] in (2, 3)
    ):
        raise InvalidInputError(
            f"kpt_shape must be [number of keypoints, 2 or 3], got {shape!r}", file=file, location="kpt_shape"
        )
    return shape[0], shape[1]


def _flip_idx(data: dict[str, Any], file: Path, points: int) -> list[int] | None:
    """``flip_idx``: for each keypoint, its mirror under a horizontal flip (Ultralytics' fliplr needs it)."""
    flip = data.get("flip_idx")
    if flip is None:
        return None
    if not (
        isinstance(flip, list) and len(flip) == points and all(isinstance(v, int) and 0 <= v < points for v in flip)
    ):
        raise InvalidInputError(
            f"flip_idx must list {points} keypoint indices (one per keypoint of kpt_shape), got {flip!r}",
            file=file,
            location="flip_idx",
        )
    return flip


def _kpt_names(data: dict[str, Any], file: Path, points: int, classes: int) -> dict[int, list[str]]:
    """``kpt_names`` (newer Ultralytics pose YAMLs): class index -> its keypoints' names, as a mapping or a list of
    lists."""
    raw = data.get("kpt_names")
    if raw is None:
        return {}
    items = raw.items() if isinstance(raw, dict) else enumerate(raw) if isinstance(raw, list) else None
    out: dict[int, list[str]] = {}
    for index, names in items or ():
        if not (isinstance(index, int) and 0 <= index < classes and isinstance(names, list) and len(names) == points):
            items = None
            break
        out[index] = [str(n) for n in names]
    if items is None:
        raise InvalidInputError(
            f"kpt_names must give each class index a list of {points} keypoint names, got {raw!r}",
            file=file,
            location="kpt_names",
        )
    return out
