"""Remapping classes through the hierarchy: ``remap(dataset, to=[...] | level= | depth= | mapping=)``.

Rules (docs/hierarchy.md has examples):

- ``to``: each class goes to its NEAREST listed target over all paths of the DAG (a class
  that is itself a target stays); two distinct targets equally near is an error listing them.
- ``level="coarse"``: the targets are the classes' parents (CIFAR-100's superclasses);
  ``level="fine"`` keeps every class.
- ``depth=N``: a class deeper than N goes to its nearest ancestor at depth N (depth = the
  shortest path from a root, roots 0); a class at depth <= N stays itself.
- ``mapping``: explicit ``old -> new`` (``None`` or ``""`` drops ``old``).
- A class with no target follows ``unmapped``: ``drop`` (its objects and labels go; an image
  left with no label at all goes too), ``keep`` (unchanged) or ``other`` (relabelled ``other``).

New categories get ids 1..K: targets in the order given (``to``, ``mapping``) or of first use
(``level``, ``depth``), then kept classes in their old order, then ``other``.
"""

from __future__ import annotations

import csv
import dataclasses
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cvkit.core import jsonio
from cvkit.core.categories import Category, CategorySet, Hierarchy
from cvkit.core.model import Dataset, Sample
from cvkit.errors import CvkitError, InvalidInputError
from cvkit.hierarchy.attach import hierarchy_for, name_list, own_hierarchy, sample_classes
from cvkit.hierarchy.graph import ancestors_or_self, depths, describe, resolve_names, restrict

UNMAPPED_POLICIES = ("drop", "keep", "other")
LEVELS = ("coarse", "fine")
#: the class unmapped classes become under ``unmapped="other"``
OTHER = "other"


@dataclass(slots=True)
class RemapRow:
    """What happened to one old class: its new class (None = dropped), why, and how much it held."""

    old: str
    new: str | None
    how: str
    old_display: str | None = None
    new_display: str | None = None
    images: int = 0
    objects: int = 0

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(slots=True)
class RemapTable:
    """The old -> new table with counts; counts fill in as the remapped dataset is iterated."""

    rows: list[RemapRow]
    categories: list[Category]
    images_in: int = 0
    images_out: int = 0
    objects_in: int = 0
    objects_out: int = 0
    warnings: list[str] = field(default_factory=list)

    @property
    def images_dropped(self) -> int:
        return self.images_in - self.images_out

    def row(self, old: str) -> RemapRow:
        return next(r for r in self.rows if r.old == old)

    def mapping(self) -> dict[str, str | None]:
        """Old class -> new class (None: dropped)."""
        return {r.old: r.new for r in self.rows}

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": [r.to_dict() for r in self.rows],
            "categories": [{"id": c.id, "name": c.name, "display_name": c.display_name} for c in self.categories],
            "images": {"in": self.images_in, "out": self.images_out, "dropped": self.images_dropped},
            "objects": {"in": self.objects_in, "out": self.objects_out, "dropped": self.objects_in - self.objects_out},
            "warnings": list(self.warnings),
        }


def read_mapping_file(path: str | Path) -> dict[str, str | None]:
    """Explicit mappings: a CSV of ``old,new`` rows (header row ``old,new`` optional; an empty
    ``new`` drops the class) or a JSON object ``{"old": "new" | null}``."""
    path = Path(path)
    if not path.is_file():
        raise CvkitError("mapping file not found", file=path)
    if path.suffix.lower() == ".json":
        try:
            data = jsonio.loads(path.read_bytes())
        except jsonio.JSONDecodeError as exc:
            raise InvalidInputError(f"not valid JSON ({exc})", file=path) from None
        if not isinstance(data, dict) or not all(v is None or isinstance(v, str) for v in data.values()):
            raise InvalidInputError('expected an object {"old": "new" or null}', file=path)
        return {str(k): (v or None) for k, v in data.items()}
    mapping: dict[str, str | None] = {}
    with open(path, encoding="utf-8-sig", newline="") as handle:
        for number, row in enumerate(csv.reader(handle), start=1):
            cells = [cell.strip() for cell in row]
            if not any(cells) or cells[0].startswith("#"):
                continue
            if number == 1 and [c.lower() for c in cells] == ["old", "new"]:
                continue
            if len(cells) != 2 or not cells[0]:
                raise InvalidInputError(
                    f"expected 'old,new', got {','.join(row)!r}", file=path, location=f"line {number}"
                )
            if cells[0] in mapping and mapping[cells[0]] != (cells[1] or None):
                raise InvalidInputError(f"{cells[0]!r} is mapped twice", file=path, location=f"line {number}")
            mapping[cells[0]] = cells[1] or None
    return mapping


def nearest_target(hierarchy: Hierarchy, name: str, targets: Sequence[str]) -> tuple[list[str], int]:
    """The targets nearest to ``name`` over all paths (several when tied) and their distance; ``[]`` if none."""
    if name in targets:
        return [name], 0
    distance = hierarchy.ancestors(name)
    reached = [(distance[t], t) for t in targets if t in distance]
    if not reached:
        return [], -1
    best = min(d for d, _ in reached)
    return [t for d, t in reached if d == best], best


Plan = dict[str, tuple[str | None, str]]


def _plan(
    classes: list[str], hierarchy: Hierarchy, targets: list[str], depth_of: dict[str, int] | None, depth: int | None
) -> tuple[Plan, list[str]]:
    """Old class -> (target or None, how) by the nearest-target rule; ties collected into one error."""
    plan: Plan = {}
    ties: list[str] = []
    for name in classes:
        if depth_of is not None and depth is not None and depth_of[name] <= depth:
            plan[name] = (name, f"itself (depth {depth_of[name]})")
            continue
        found, distance = nearest_target(hierarchy, name, targets)
        if len(found) > 1:
            ties.append(
                f"{describe(hierarchy, name)} -> "
                + ", ".join(describe(hierarchy, t) for t in found)
                + f" (distance {distance})"
            )
        elif found:
            plan[name] = (found[0], "itself" if distance == 0 else f"ancestor (distance {distance})")
        else:
            plan[name] = (None, "")
    if ties:
        raise CvkitError(
            f"{len(ties)} class(es) are equally near to several targets: "
            + "; ".join(ties[:10])
            + ("; ..." if len(ties) > 10 else "")
            + ". Give explicit mappings with --map (mapping=) for them"
        )
    used = list(dict.fromkeys(target for target, _ in plan.values() if target is not None))
    return plan, used


def plan_remap(
    categories: CategorySet,
    hierarchy: Hierarchy,
    to: Sequence[str] | None = None,
    level: str | None = None,
    depth: int | None = None,
    mapping: dict[str, str | None] | None = None,
    unmapped: str = "drop",
) -> tuple[list[RemapRow], list[Category], list[str]]:
    """The table rows (old -> new), the new categories and warnings, without touching samples.

    One rule (``to``, ``level`` or ``depth``) and/or ``mapping``; mapping entries override the
    rule for their classes (the way to settle ties).
    """
    rules = [given for given in (to, level, depth) if given is not None]
    if len(rules) > 1:
        raise CvkitError("give only one of --to, --level or --depth (add --map to override single classes)")
    if not rules and mapping is None:
        raise CvkitError("say how to remap: --to, --level, --depth or --map")
    if unmapped not in UNMAPPED_POLICIES:
        raise CvkitError(f"unknown unmapped policy {unmapped!r}; choose one of {', '.join(UNMAPPED_POLICIES)}")
    classes = categories.names()
    mapping = mapping or {}
    warnings: list[str] = []
    unknown = [old for old in mapping if old not in categories]
    if unknown:
        warnings.append(f"the mapping names {len(unknown)} class(es) the dataset does not have: {name_list(unknown)}")
    plan: Plan = {name: (None, "") for name in classes}  # (None, "") = no target yet: the unmapped policy decides
    order: list[str] = []
    by_rule = [name for name in classes if name not in mapping]
    if rules:
        missing = [name for name in by_rule if name not in hierarchy]
        if missing:
            raise CvkitError(f"{len(missing)} of {len(classes)} classes are not in the hierarchy: {name_list(missing)}")
        depth_of = None
        if to is not None:
            resolved = resolve_names(hierarchy, to, relevant=ancestors_or_self(hierarchy, classes))
            targets = list(dict.fromkeys(resolved))
            # a mapping may name a target the way --to did ("vehicle" for n04524313)
            mapping = {
                old: dict(zip([t.strip() for t in to], resolved, strict=True)).get(new, new) if new else new
                for old, new in mapping.items()
            }
        elif level is not None:
            if level not in LEVELS:
                raise CvkitError(f"unknown level {level!r}; choose one of {', '.join(LEVELS)}")
            targets = (
                by_rule
                if level == "fine"
                else list(dict.fromkeys(p for name in by_rule for p in hierarchy.parents(name)))
            )
        else:
            assert depth is not None
            if depth < 0:
                raise CvkitError("depth must be 0 (the roots) or more")
            depth_of = depths(restrict(hierarchy, by_rule))
            targets = [name for name, d in depth_of.items() if d == depth]
        ruled, used = _plan(by_rule, hierarchy, targets, depth_of, depth)
        plan.update(ruled)
        order = targets if to is not None else used
    for name in classes:
        if name in mapping:
            plan[name] = (mapping[name], "mapping") if mapping[name] else (None, "mapping: dropped")
    order = list(dict.fromkeys([*order, *(new for new in mapping.values() if new)]))
    rows, new_categories = _rows_and_categories(categories, hierarchy, plan, order, unmapped)
    return rows, new_categories, warnings


def _rows_and_categories(
    categories: CategorySet, hierarchy: Hierarchy, plan: Plan, order: list[str], unmapped: str
) -> tuple[list[RemapRow], list[Category]]:
    """Apply the unmapped policy, then number the new categories (targets, kept classes, other)."""
    rows: list[RemapRow] = []
    for name, (new, how) in plan.items():
        if new is None and not how:
            new = {"drop": None, "keep": name, "other": OTHER}[unmapped]
            how = {"drop": "unmapped: dropped", "keep": "unmapped: kept", "other": "unmapped: other"}[unmapped]
        rows.append(RemapRow(name, new, how))
    used = {row.new for row in rows if row.new is not None}
    names = list(
        dict.fromkeys(
            [
                *order,
                *[row.new for row in rows if row.new in used and row.new != OTHER],
                *([OTHER] if OTHER in used else []),
            ]
        )
    )
    new_categories: list[Category] = []
    for index, name in enumerate(names, start=1):
        old = categories.get(name)
        display = (
            hierarchy.display(name)
            if name in hierarchy and hierarchy.display(name) != name
            else (old.display_name if old else None)
        )
        new_categories.append(Category(index, name, display, dict(old.attributes) if old else {}))
    display_of = {cat.name: cat.display_name for cat in new_categories}
    for row in rows:
        old = categories.get(row.old)
        row.old_display = old.display_name if old else None
        row.new_display = display_of.get(row.new) if row.new else None
    return rows, new_categories


def remap(
    dataset: Dataset,
    hierarchy: Hierarchy | str | Path | None = None,
    to: Sequence[str] | None = None,
    level: str | None = None,
    depth: int | None = None,
    mapping: dict[str, str | None] | None = None,
    unmapped: str = "drop",
) -> tuple[Dataset, RemapTable]:
    """Relabel objects and image-level labels of ``dataset``; returns the new dataset and its table.

    ``hierarchy`` defaults to the dataset's own (from the manifest header); a path is loaded
    with :func:`load_hierarchy`. The result streams when the input does: the table's counts are
    complete once the returned dataset has been iterated (e.g. written). Its hierarchy is
    restricted to the new classes and their ancestors.
    """
    if not dataset.is_materialized and not len(dataset.categories):
        dataset.materialize()  # a reader that discovers classes while streaming
    names = dataset.categories.names()
    if hierarchy is None:
        if mapping is None and not len(dataset.hierarchy):
            raise CvkitError("the dataset has no hierarchy; pass one (--hierarchy PATH) or attach it at ingest")
        hierarchy = own_hierarchy(dataset)
    elif not isinstance(hierarchy, Hierarchy):
        hierarchy = hierarchy_for(names, hierarchy, restricted=False)  # targets may lie outside the classes' ancestors
    rows, categories, warnings = plan_remap(dataset.categories, hierarchy, to, level, depth, mapping, unmapped)
    table = RemapTable(rows, categories, warnings=warnings)
    by_old = {row.old: row for row in rows}
    new_hierarchy = restrict(hierarchy, [cat.name for cat in categories])

    def relabel(sample: Sample) -> Sample | None:
        before = sample_classes(sample)
        table.images_in += 1
        table.objects_in += len(sample.objects)
        for label in before:
            if label not in by_old:
                raise InvalidInputError(f"label {label!r} is not among the dataset's categories", file=sample.path)
            by_old[label].images += 1
        objects = []
        for obj in sample.objects:
            row = by_old[obj.label]
            row.objects += 1
            if row.new is not None:
                objects.append(dataclasses.replace(obj, label=row.new))
        labels = list(dict.fromkeys(by_old[label].new for label in sample.labels if by_old[label].new is not None))
        if before and not labels and not objects:
            return None  # every label it had was dropped
        table.images_out += 1
        table.objects_out += len(objects)
        return dataclasses.replace(sample, labels=labels, objects=objects)

    def stream() -> Iterator[Sample]:
        for sample in dataset:
            out = relabel(sample)
            if out is not None:
                yield out

    remapped = Dataset(
        stream(), CategorySet(categories), new_hierarchy, dataset.root, dataset.source_format, dict(dataset.info)
    )
    if dataset.is_materialized:
        remapped.materialize()
    return remapped, table
