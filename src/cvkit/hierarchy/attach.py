"""Attaching a hierarchy to a dataset, and counting images per hierarchy node."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from cvkit.core.categories import CategorySet, Hierarchy
from cvkit.core.model import Dataset, Sample
from cvkit.errors import CvkitError, InvalidInputError
from cvkit.hierarchy.graph import ancestors_or_self, merge_into, restrict
from cvkit.hierarchy.load import HierarchySource, find_hierarchy

#: how many missing class names an error lists before "and N more"
LIST_LIMIT = 10


def name_list(names: list[str], limit: int = LIST_LIMIT) -> str:
    """``a, b, c and 7 more`` for messages."""
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def hierarchy_for(
    categories: Iterable[str],
    hierarchy: Hierarchy | str | Path,
    source: HierarchySource | None = None,
    restricted: bool = True,
) -> Hierarchy:
    """The part of ``hierarchy`` (a Hierarchy, or a path any loader reads) the classes need:
    the classes and all their ancestors (all of it unless ``restricted``). Every class must be
    in it; else an error naming the file."""
    names = list(categories)
    where: Path | None = None
    if not isinstance(hierarchy, Hierarchy):
        source = source or find_hierarchy(hierarchy)
        where = source.path
        hierarchy = source.load(names if source.needs_names else None)
    missing = [name for name in names if name not in hierarchy]
    if missing:
        raise InvalidInputError(
            f"{len(missing)} of {len(names)} classes are not in the hierarchy: {name_list(missing)}", file=where
        )
    return restrict(hierarchy, names) if restricted else hierarchy


def own_hierarchy(dataset: Dataset) -> Hierarchy:
    """The dataset's own hierarchy restricted to its classes; a class the manifest lists without
    parents is a root (the header's categories are part of its hierarchy)."""
    names = dataset.categories.names()
    part = restrict(dataset.hierarchy, names)
    for name in names:
        node = part.node(name)
        node.display_name = node.display_name or dataset.categories.get(name).display_name  # type: ignore[union-attr]
    return part


def set_display_names(categories: CategorySet, hierarchy: Hierarchy) -> None:
    """Give categories without a display name their node's lemmas (``horse, Equus caballus``)."""
    for cat in categories:
        if not cat.display_name:
            node = hierarchy.nodes.get(cat.name)
            if node is not None and node.display_name:
                cat.display_name = node.display_name


def attach_hierarchy(dataset: Dataset, hierarchy: Hierarchy | str | Path) -> Dataset:
    """``dataset`` with the classes' part of ``hierarchy`` merged into ``dataset.hierarchy`` and
    display names set from lemmas; the manifest header then carries both.

    ``hierarchy`` is a Hierarchy or a path in any form :func:`load_hierarchy` reads (detected
    now, so a bad path fails before a long read). A streaming dataset attaches once all its samples are seen
    (iterated, or read through its shards by a writer), because readers discover classes while streaming.
    Classes absent from the hierarchy are an error listing them.
    """
    source = None if isinstance(hierarchy, Hierarchy) else find_hierarchy(hierarchy)
    loaded: Hierarchy | None = hierarchy if isinstance(hierarchy, Hierarchy) else None
    if source is not None and not source.needs_names:
        loaded = source.load()

    def finish(_report: object = None) -> None:
        part = hierarchy_for(dataset.categories.names(), loaded if loaded is not None else hierarchy, source)
        merge_into(dataset.hierarchy, part)
        try:
            dataset.hierarchy.check_acyclic()
        except CvkitError as exc:
            raise CvkitError(
                f"attaching the hierarchy made a cycle with the dataset's own: {exc.message}",
                file=source.path if source else None,
            ) from None
        set_display_names(dataset.categories, dataset.hierarchy)

    if dataset.is_materialized:
        finish()
        return dataset
    dataset.finishers.append(finish)  # once every sample is seen, by iterating or through the shards: they stay
    return dataset


def sample_classes(sample: Sample) -> set[str]:
    """Every class an image carries: its image-level labels and its objects' labels."""
    return set(sample.labels) | {obj.label for obj in sample.objects}


def image_counts(samples: Iterable[Sample], hierarchy: Hierarchy) -> Counter[str]:
    """Node -> number of images having a label at or below it (each image counted once per node)."""
    counts: Counter[str] = Counter()
    reach: dict[str, set[str]] = {}
    for sample in samples:
        nodes: set[str] = set()
        for label in sample_classes(sample):
            if label not in reach:
                reach[label] = ancestors_or_self(hierarchy, [label]) | {label}
            nodes |= reach[label]
        counts.update(nodes)
    return counts
