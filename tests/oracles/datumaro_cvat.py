"""Run in the datumaro venv (tests/oracle_venvs.py): read a CVAT for images 1.1 export with datumaro's CVAT importer
and print what it holds as one JSON line.

Usage: python datumaro_cvat.py PATH. Output: {"labels": [...], "items": [{"id", "subset", "size": [h, w],
"annotations": [{"type", "label", "geometry", "attributes", "group", "z_order"}]}]}; a mask's geometry is the flat
indices of its pixels in row order.
"""

import json
import sys

import numpy as np
from datumaro.components.annotation import AnnotationType, Mask, RotatedBbox
from datumaro.components.dataset import Dataset


def geometry(ann):
    if isinstance(ann, Mask):
        return np.flatnonzero(np.asarray(ann.image).astype(bool)).tolist()
    if isinstance(ann, RotatedBbox):
        return [ann.cx, ann.cy, ann.w, ann.h, ann.r]
    if ann.type == AnnotationType.bbox:
        return list(ann.get_bbox())
    return list(getattr(ann, "points", []))


def describe(item, labels):
    """One item as JSON-ready data: id, subset, size, and its annotations in order."""
    annotations = [
        {
            "type": ann.type.name,
            "label": labels[ann.label].name,
            "geometry": [float(v) if not isinstance(v, int) else v for v in geometry(ann)],
            "attributes": dict(ann.attributes),
            "group": ann.group,
            "z_order": getattr(ann, "z_order", 0),
        }
        for ann in item.annotations
    ]
    return {"id": item.id, "subset": item.subset, "size": list(item.media.size), "annotations": annotations}


def main(path):
    dataset = Dataset.import_from(path, "cvat")
    labels = dataset.categories()[AnnotationType.label]
    items = sorted(dataset, key=lambda i: (i.subset, i.attributes.get("frame", 0)))
    print(json.dumps({"labels": [c.name for c in labels], "items": [describe(i, labels) for i in items]}))


if __name__ == "__main__":
    main(sys.argv[1])
