"""Hierarchy loaders for the non-WordNet sources: devkit meta.mat, CIFAR-100, COCO, manifests, edge lists.

Each returns a :class:`Hierarchy` whose node names are the labels the matching dataset
uses (WNIDs for ImageNet, class names for CIFAR and COCO); docs/hierarchy.md lists the forms.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from cvkit.core import jsonio
from cvkit.core.categories import Hierarchy
from cvkit.errors import CvkitError, InvalidInputError
from cvkit.formats.cifar import label_names, load_pickle  # the CIFAR reader's restricted unpickler, pixels left out
from cvkit.formats.imagenet.common import load_devkit
from cvkit.manifest import header_to_dataset_parts, read_header


def add_edge_at(hierarchy: Hierarchy, child: str, parent: str, file: Path, location: str) -> None:
    """``hierarchy.add_edge`` whose errors (a node that is its own parent) name the file and place."""
    try:
        hierarchy.add_edge(child, parent)
    except CvkitError as exc:
        raise InvalidInputError(exc.message, file=file, location=location) from None


# --- ImageNet devkit meta.mat ------------------------------------------------------------
def load_devkit_meta(path: str | Path) -> Hierarchy:
    """The synset tree of an ImageNet devkit ``meta.mat`` (nodes are WNIDs, display names the
    ``words`` lemmas): the ImageNet reader's own loader, so both read the file alike."""
    return load_devkit(Path(path)).hierarchy


# --- CIFAR-100 python batches --------------------------------------------------------------
def load_cifar100(folder: str | Path) -> Hierarchy:
    """Fine -> coarse parents of a CIFAR-100 python folder: names from ``meta``, pairs from ``train``/``test``."""
    folder = Path(folder)
    meta_path = folder / "meta"
    meta = load_pickle(meta_path, arrays=False)
    if "coarse_label_names" not in meta or "fine_label_names" not in meta:
        raise InvalidInputError(
            "no fine_label_names/coarse_label_names: only CIFAR-100 has superclasses", file=meta_path
        )
    fine = label_names(meta, "fine_label_names", meta_path)
    coarse = label_names(meta, "coarse_label_names", meta_path)
    hierarchy = Hierarchy()
    for name in coarse + fine:
        hierarchy.node(name)
    batches = [folder / name for name in ("train", "test") if (folder / name).is_file()]
    if not batches:
        raise InvalidInputError(
            "CIFAR-100 folder has no 'train' or 'test' batch to pair fine and coarse labels", file=folder
        )
    for batch_path in batches:
        batch = load_pickle(batch_path, arrays=False)
        fine_labels, coarse_labels = batch.get("fine_labels"), batch.get("coarse_labels")
        if (
            not isinstance(fine_labels, list)
            or not isinstance(coarse_labels, list)
            or len(fine_labels) != len(coarse_labels)
        ):
            raise InvalidInputError("needs equally long 'fine_labels' and 'coarse_labels' lists", file=batch_path)
        for index, pair in enumerate(dict.fromkeys(zip(fine_labels, coarse_labels, strict=True))):
            f, c = pair
            if not (0 <= f < len(fine) and 0 <= c < len(coarse)):
                message = f"label pair {pair} outside the meta's {len(fine)} fine / {len(coarse)} coarse names"
                raise InvalidInputError(message, file=batch_path, location=f"pair {index}")
            add_edge_at(hierarchy, fine[f], coarse[c], batch_path, f"pair {index}")
    return hierarchy


# --- COCO supercategories, manifest header, edge lists ------------------------------------
def hierarchy_from_coco(data: dict[str, Any], path: Path) -> Hierarchy:
    """Category -> supercategory of a COCO json (a category named like its supercategory, or whose supercategory
    is Roboflow's ``"none"``, is a root: as the COCO reader reads it)."""
    hierarchy = Hierarchy()
    for index, cat in enumerate(data.get("categories") or []):
        if not isinstance(cat, dict) or not isinstance(cat.get("name"), str):
            raise InvalidInputError("category without a string 'name'", file=path, location=f"categories[{index}]")
        hierarchy.node(cat["name"])
        parent = cat.get("supercategory")
        if isinstance(parent, str) and parent and parent != cat["name"] and parent.lower() != "none":
            add_edge_at(hierarchy, cat["name"], parent, path, f"categories[{index}]")
    return hierarchy


def load_manifest_header(path: str | Path) -> Hierarchy:
    """The hierarchy a cvkit manifest carries: its ``hierarchy`` nodes plus every category's parents."""
    path = Path(path)
    try:
        categories, hierarchy = header_to_dataset_parts(read_header(path))
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidInputError(f"bad header field {exc}", file=path, location="line 1") from None
    except CvkitError as exc:
        raise InvalidInputError(exc.message, file=path, location="line 1") from None
    for cat in categories:
        node = hierarchy.node(cat.name)
        node.display_name = node.display_name or cat.display_name
    return hierarchy


def load_edge_csv(path: str | Path) -> Hierarchy:
    """A ``child,parent[,display_name]`` CSV (that header row optional); an empty parent makes a root."""
    path = Path(path)
    hierarchy = Hierarchy()
    with open(path, encoding="utf-8-sig", newline="") as handle:
        for number, row in enumerate(csv.reader(handle), start=1):
            cells = [cell.strip() for cell in row]
            if not any(cells) or cells[0].startswith("#"):
                continue
            if number == 1 and [c.lower() for c in cells[:2]] == ["child", "parent"]:
                continue
            if len(cells) < 2 or len(cells) > 3 or not cells[0]:
                raise InvalidInputError(
                    f"expected 'child,parent[,display_name]', got {','.join(row)!r}",
                    file=path,
                    location=f"line {number}",
                )
            node = hierarchy.node(cells[0])
            if len(cells) == 3 and cells[2]:
                node.display_name = cells[2]
            if cells[1]:
                add_edge_at(hierarchy, cells[0], cells[1], path, f"line {number}")
    return hierarchy


def load_json(path: str | Path) -> Hierarchy:
    """A JSON hierarchy: a COCO file (supercategories), Open Images' ``bbox_labels_600_hierarchy.json``, a list of
    ``{name, parents, display_name}`` nodes (the manifest header's form), or an object mapping child -> parent or
    [parents]."""
    path = Path(path)
    try:
        data = jsonio.loads(path.read_bytes())
    except jsonio.JSONDecodeError as exc:
        raise InvalidInputError(f"not valid JSON ({exc})", file=path) from None
    if isinstance(data, dict) and isinstance(data.get("categories"), list):
        return hierarchy_from_coco(data, path)
    from cvkit.formats.open_images._hierarchy import (
        class_list_beside,
        is_open_images_tree,
        parse_tree,
        read_class_descriptions,
    )

    if is_open_images_tree(data):  # bbox_labels_600_hierarchy.json; display names from a class list beside it
        listing = class_list_beside(path.parent)
        return parse_tree(data, path, dict(read_class_descriptions(listing)) if listing else {})[0]
    hierarchy = Hierarchy()
    if isinstance(data, list):
        for index, rec in enumerate(data):
            if (
                not isinstance(rec, dict)
                or not isinstance(rec.get("name"), str)
                or not isinstance(rec.get("parents", []), list)
            ):
                raise InvalidInputError(
                    "a node needs a string 'name' and a list 'parents'", file=path, location=f"[{index}]"
                )
            node = hierarchy.node(rec["name"])
            node.display_name = rec.get("display_name") or node.display_name
            for parent in rec.get("parents", []):
                add_edge_at(hierarchy, rec["name"], str(parent), path, f"[{index}]")
        return hierarchy
    if isinstance(data, dict):
        for child, parents in data.items():
            parents = [parents] if isinstance(parents, str) else parents
            if not isinstance(parents, list) or not all(isinstance(p, str) for p in parents):
                raise InvalidInputError(
                    "a parent must be a name or a list of names", file=path, location=f"[{child!r}]"
                )
            hierarchy.node(child)
            for parent in parents:
                add_edge_at(hierarchy, child, parent, path, f"[{child!r}]")
        return hierarchy
    raise InvalidInputError("expected a COCO file, a list of nodes or a child -> parent object", file=path)
