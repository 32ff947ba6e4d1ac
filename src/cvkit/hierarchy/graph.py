"""Graph helpers over :class:`cvkit.core.categories.Hierarchy` used by loaders, remap and show.

The hierarchy is a DAG: a node keeps every parent its source gives it. Depth is the
length of the SHORTEST path from any root (roots have depth 0), which is well defined
in a DAG and is what ``--depth N`` uses.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from cvkit.core.categories import Hierarchy
from cvkit.errors import CvkitError


def lemmas(hierarchy: Hierarchy, name: str) -> list[str]:
    """The lemma list of a node (``"horse, Equus caballus"`` -> two lemmas); empty without a display name."""
    node = hierarchy.nodes.get(name)
    if node is None or not node.display_name:
        return []
    return [lemma.strip() for lemma in node.display_name.split(",") if lemma.strip()]


def children_index(hierarchy: Hierarchy) -> dict[str, list[str]]:
    """Node -> its children, in node order (Hierarchy.children is a scan per call; this is one pass)."""
    index: dict[str, list[str]] = {name: [] for name in hierarchy.nodes}
    for node in hierarchy.nodes.values():
        for parent in node.parents:
            index[parent].append(node.name)
    return index


def ancestors_or_self(hierarchy: Hierarchy, names: Iterable[str]) -> set[str]:
    """Every node in ``names`` that the hierarchy holds, plus all their ancestors over all paths."""
    seen: set[str] = set()
    stack = [name for name in names if name in hierarchy]
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        stack.extend(hierarchy.nodes[name].parents)
    return seen


def restrict(hierarchy: Hierarchy, names: Iterable[str]) -> Hierarchy:
    """The sub-hierarchy of ``names`` and their ancestors, keeping every parent edge and display name."""
    keep = ancestors_or_self(hierarchy, names)
    out = Hierarchy()
    for node in hierarchy.nodes.values():  # source order, so output is stable
        if node.name in keep:
            copy = out.node(node.name)
            copy.display_name = node.display_name
            copy.parents = list(node.parents)
            for parent in node.parents:
                out.node(parent)
    return out


def merge_into(target: Hierarchy, source: Hierarchy) -> None:
    """Add ``source``'s nodes, edges and display names to ``target`` (existing display names win)."""
    for node in source.nodes.values():
        mine = target.node(node.name)
        if not mine.display_name:
            mine.display_name = node.display_name
        for parent in node.parents:
            target.add_edge(node.name, parent)


def depths(hierarchy: Hierarchy) -> dict[str, int]:
    """Shortest distance from any root for every node (roots: 0), by one breadth-first pass."""
    children = children_index(hierarchy)
    depth = {root: 0 for root in hierarchy.roots()}
    queue = deque(depth)
    while queue:
        name = queue.popleft()
        for child in children[name]:
            if child not in depth:
                depth[child] = depth[name] + 1
                queue.append(child)
    return depth


def describe(hierarchy: Hierarchy, name: str) -> str:
    """``n02374451 (horse, Equus caballus)`` for messages; the bare name when it has no lemmas."""
    shown = hierarchy.display(name)
    return name if shown == name else f"{name} ({shown})"


def lemma_index(hierarchy: Hierarchy) -> dict[str, list[str]]:
    """Case-folded lemma -> the nodes whose lemma list holds it (one pass over the hierarchy)."""
    index: dict[str, list[str]] = {}
    for name in hierarchy.nodes:
        for lemma in lemmas(hierarchy, name):
            found = index.setdefault(lemma.casefold(), [])
            if name not in found:
                found.append(name)
    return index


def resolve_names(hierarchy: Hierarchy, tokens: Iterable[str], relevant: set[str] | None = None) -> list[str]:
    """The nodes a user means by ``tokens``: each a node id, else a name in a node's lemma list.

    A lemma matching exactly (case included) beats one matching only when case is ignored.
    Several matches are narrowed to the ``relevant`` nodes (the dataset's classes and their
    ancestors) when given; still several is an error listing the candidates, so the user
    can give the id instead.
    """
    index: dict[str, list[str]] | None = None
    resolved: list[str] = []
    for raw in tokens:
        token = raw.strip()
        if token in hierarchy:
            resolved.append(token)
            continue
        if index is None:
            index = lemma_index(hierarchy)
        folded = index.get(token.casefold(), [])
        candidates = [name for name in folded if token in lemmas(hierarchy, name)] or folded
        if not candidates:
            raise CvkitError(f"{token!r} is neither a node id nor a name (lemma) in the hierarchy")
        if len(candidates) > 1 and relevant is not None:
            candidates = [name for name in candidates if name in relevant] or candidates
        if len(candidates) > 1:
            listing = "; ".join(describe(hierarchy, name) for name in sorted(candidates))
            raise CvkitError(
                f"{token!r} is ambiguous, it names {len(candidates)} nodes: {listing}; give the id instead"
            )
        resolved.append(candidates[0])
    return resolved
