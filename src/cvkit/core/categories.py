"""Categories (labels with stable ids) and the class hierarchy (a DAG of names)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from cvkit.errors import CvkitError


@dataclass(slots=True)
class Category:
    """A label annotations refer to by ``name``; ``id`` is kept exactly as the source wrote it."""

    id: int
    name: str
    display_name: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)


class CategorySet:
    """Ordered categories with lookup by name and id.

    Ids come from the source when it has them (COCO's non-contiguous ids are kept);
    otherwise :meth:`ensure` hands out the next free id (1-based) in order of first use.
    """

    def __init__(self, categories: Iterable[Category] = ()):
        self._by_name: dict[str, Category] = {}
        self._by_id: dict[int, Category] = {}
        #: names :meth:`ensure` creates are appended here while it is a list (a worker process tells its parent
        #: which labels its reader met first, see :mod:`cvkit.core.shards`)
        self.journal: list[str] | None = None
        for cat in categories:
            self.add(cat)

    def add(self, category: Category) -> Category:
        """Add a category; its name and id must both be new."""
        if category.name in self._by_name:
            raise CvkitError(f"duplicate category name {category.name!r}")
        if category.id in self._by_id:
            other = self._by_id[category.id].name
            raise CvkitError(f"category id {category.id} used by both {other!r} and {category.name!r}")
        self._by_name[category.name] = category
        self._by_id[category.id] = category
        return category

    def ensure(self, name: str) -> Category:
        """The category called ``name``, created with the next free id if new."""
        cat = self._by_name.get(name)
        if cat is None:
            next_id = max(self._by_id, default=0) + 1
            cat = self.add(Category(next_id, name))
            if self.journal is not None:
                self.journal.append(name)
        return cat

    def by_id(self, category_id: int) -> Category | None:
        return self._by_id.get(category_id)

    def get(self, name: str) -> Category | None:
        return self._by_name.get(name)

    def names(self) -> list[str]:
        return list(self._by_name)

    def index_of(self) -> dict[str, int]:
        """Name -> 0-based position, the class index formats like YOLO and trainers use."""
        return {name: i for i, name in enumerate(self._by_name)}

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __iter__(self) -> Iterator[Category]:
        return iter(self._by_name.values())

    def __len__(self) -> int:
        return len(self._by_name)


@dataclass(slots=True)
class Node:
    """A node of the hierarchy: a category or an ancestor such as a WordNet synset."""

    name: str
    parents: list[str] = field(default_factory=list)
    display_name: str | None = None


class Hierarchy:
    """A directed acyclic graph over names: each node may have several parents (WordNet does).

    Nodes need not be categories; categories are looked up here by name.
    """

    def __init__(self) -> None:
        self.nodes: dict[str, Node] = {}

    def node(self, name: str) -> Node:
        """The node called ``name``, created if new."""
        found = self.nodes.get(name)
        if found is None:
            found = self.nodes[name] = Node(name)
        return found

    def add_edge(self, child: str, parent: str) -> None:
        """Record ``parent`` as a parent of ``child`` (duplicates ignored)."""
        if child == parent:
            raise CvkitError(f"hierarchy cycle: {child!r} is its own parent")
        node = self.node(child)
        self.node(parent)
        if parent not in node.parents:
            node.parents.append(parent)

    def parents(self, name: str) -> list[str]:
        node = self.nodes.get(name)
        return list(node.parents) if node else []

    def children(self, name: str) -> list[str]:
        return [n.name for n in self.nodes.values() if name in n.parents]

    def ancestors(self, name: str) -> dict[str, int]:
        """Every ancestor of ``name`` with its shortest distance (1 = parent), over all paths."""
        dist: dict[str, int] = {}
        frontier = [name]
        depth = 0
        while frontier:
            depth += 1
            nxt: list[str] = []
            for item in frontier:
                for parent in self.parents(item):
                    if parent not in dist:
                        dist[parent] = depth
                        nxt.append(parent)
            frontier = nxt
        return dist

    def roots(self) -> list[str]:
        return [n.name for n in self.nodes.values() if not n.parents]

    def display(self, name: str) -> str:
        node = self.nodes.get(name)
        return (node.display_name if node and node.display_name else None) or name

    def check_acyclic(self) -> None:
        """Raise naming the cycle if one exists (iterative DFS, safe for 80k WordNet nodes)."""
        state: dict[str, int] = {}
        for start in self.nodes:
            if state.get(start):
                continue
            stack: list[tuple[str, Iterator[str]]] = [(start, iter(self.parents(start)))]
            path = [start]
            state[start] = 1
            while stack:
                current, it = stack[-1]
                advanced = False
                for parent in it:
                    mark = state.get(parent, 0)
                    if mark == 1:
                        cycle = [*path[path.index(parent) :], parent]
                        raise CvkitError("hierarchy has a cycle: " + " -> ".join(cycle))
                    if mark == 0:
                        state[parent] = 1
                        stack.append((parent, iter(self.parents(parent))))
                        path.append(parent)
                        advanced = True
                        break
                if not advanced:
                    state[current] = 2
                    stack.pop()
                    path.pop()

    def __len__(self) -> int:
        return len(self.nodes)

    def __contains__(self, name: object) -> bool:
        return name in self.nodes

    def to_records(self) -> list[dict[str, Any]]:
        """JSON-ready list of nodes (the manifest header's ``hierarchy``)."""
        out = []
        for n in self.nodes.values():
            rec: dict[str, Any] = {"name": n.name, "parents": list(n.parents)}
            if n.display_name:
                rec["display_name"] = n.display_name
            out.append(rec)
        return out

    @classmethod
    def from_records(cls, records: Iterable[dict[str, Any]]) -> Hierarchy:
        h = cls()
        records = list(records)
        for rec in records:  # every node first, in the records' order, so records -> hierarchy -> records keeps it
            h.node(rec["name"]).display_name = rec.get("display_name")
        for rec in records:
            for parent in rec.get("parents", []):
                h.add_edge(rec["name"], parent)
        return h
