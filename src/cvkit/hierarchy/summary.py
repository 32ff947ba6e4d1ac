"""What ``cvkit hierarchy show`` prints: the classes' hierarchy with image counts per node."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cvkit.core.categories import Hierarchy
from cvkit.core.model import Dataset, Sample
from cvkit.core.progress import track
from cvkit.errors import CvkitError
from cvkit.hierarchy.attach import hierarchy_for, image_counts, own_hierarchy
from cvkit.hierarchy.graph import children_index, depths, resolve_names


@dataclass(slots=True)
class HierarchySummary:
    """The classes and their ancestors, each node's depth (shortest from a root) and image count."""

    hierarchy: Hierarchy
    classes: set[str]
    depth: dict[str, int]
    images: Counter[str]
    children: dict[str, list[str]]
    total_images: int = 0

    def walk(
        self, top: list[str] | None = None, max_depth: int | None = None
    ) -> Iterator[tuple[str, int, str | None, bool]]:
        """Depth-first ``(node, level, parent, first_time)`` from ``top`` (default: the roots).

        A node with several parents appears under each; only its first appearance is walked
        into (``first_time``), so the output stays linear in the DAG's size. ``max_depth``
        stops ``max_depth`` levels below the top.
        """
        expanded: set[str] = set()
        stack: list[tuple[str, int, str | None]] = [(name, 0, None) for name in reversed(top or self.roots())]
        while stack:
            name, level, parent = stack.pop()
            first = name not in expanded
            yield name, level, parent, first
            if first:
                expanded.add(name)
                if max_depth is None or level < max_depth:
                    stack.extend((child, level + 1, name) for child in reversed(self.children[name]))

    def roots(self) -> list[str]:
        return self.hierarchy.roots()

    def resolve(self, token: str) -> str:
        """A node id or lemma (``--node animal``) to its node id."""
        return resolve_names(self.hierarchy, [token], relevant=set(self.hierarchy.nodes))[0]

    def records(self, top: list[str] | None = None, max_depth: int | None = None) -> list[dict[str, Any]]:
        """One JSON-ready record per node reached (each once), in tree order."""
        out = []
        for name, _level, _parent, first in self.walk(top, max_depth):
            if first:
                out.append(
                    {
                        "name": name,
                        "display_name": self.hierarchy.nodes[name].display_name,
                        "parents": self.hierarchy.parents(name),
                        "depth": self.depth.get(name),
                        "images": self.images.get(name, 0),
                        "is_class": name in self.classes,
                    }
                )
        return out


def summarize(dataset: Dataset, hierarchy: Hierarchy | str | Path | None = None) -> HierarchySummary:
    """Count images per node over ``dataset`` (one pass) with its own or the given hierarchy."""
    if not dataset.is_materialized and not len(dataset.categories):
        dataset.materialize()
    names = dataset.categories.names()
    if hierarchy is None:
        if not len(dataset.hierarchy):
            raise CvkitError("the dataset has no hierarchy; pass one (--hierarchy PATH) or attach it at ingest")
        part = own_hierarchy(dataset)
    else:
        part = hierarchy_for(names, hierarchy)
    total = 0

    def counted() -> Iterator[Sample]:
        nonlocal total
        for sample in track(dataset, "counting images"):
            total += 1
            yield sample

    counts = image_counts(counted(), part)
    return HierarchySummary(part, set(names), depths(part), counts, children_index(part), total)
