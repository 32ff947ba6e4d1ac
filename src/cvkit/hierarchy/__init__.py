"""Class hierarchies (WordNet, ImageNet, CIFAR-100, COCO, edge lists) and remapping through them.

    from cvkit.hierarchy import load_hierarchy, attach_hierarchy, remap
    h = load_hierarchy("wordnet_hierarchy/")          # wordnet.is_a.txt + words.txt
    ds = attach_hierarchy(cvkit.read("train/"), h)    # classes + ancestors, lemmas as display names
    new, table = remap(ds, to=["animal", "person", "vehicle"])

The hierarchy is a DAG: every parent a source gives is kept. See docs/hierarchy.md.
"""

from cvkit.hierarchy.attach import attach_hierarchy, hierarchy_for, image_counts
from cvkit.hierarchy.graph import depths, resolve_names, restrict
from cvkit.hierarchy.load import HierarchySource, find_hierarchy, load_hierarchy
from cvkit.hierarchy.remap import RemapRow, RemapTable, plan_remap, read_mapping_file, remap

__all__ = [
    "HierarchySource",
    "RemapRow",
    "RemapTable",
    "attach_hierarchy",
    "depths",
    "find_hierarchy",
    "hierarchy_for",
    "image_counts",
    "load_hierarchy",
    "plan_remap",
    "read_mapping_file",
    "remap",
    "resolve_names",
    "restrict",
]
