"""Run in the datumaro venv (tests/oracle_venvs.py): write a CVAT for images 1.1 export with datumaro's CVAT exporter
(images saved) and print what was put in it as one JSON line, in datumaro_cvat.py's form.

Usage: python datumaro_cvat_export.py OUT (OUT/train.xml and OUT/images/ are written).
"""

import json
import sys

import numpy as np
from datumaro.components.annotation import (
    AnnotationType,
    Bbox,
    Label,
    LabelCategories,
    Mask,
    Points,
    Polygon,
    PolyLine,
    RotatedBbox,
)
from datumaro.components.dataset import Dataset
from datumaro.components.dataset_base import DatasetItem
from datumaro.components.media import Image
from datumaro_cvat import describe


def items():
    mask = np.zeros((30, 40), dtype=np.uint8)
    mask[4:9, 6:15] = 1
    mask[6, 10] = 0
    street = [
        Bbox(4.25, 6.5, 20.0, 30.75, label=0, group=2, z_order=1, attributes={"occluded": True, "colour": "red"}),
        RotatedBbox(30.0, 20.0, 16.0, 8.0, 35.5, label=0, attributes={"colour": "blue"}),
        Polygon([10.0, 10.0, 20.0, 10.0, 15.5, 25.25], label=1, group=2),
        PolyLine([0.0, 40.0, 30.0, 45.0, 60.0, 40.0], label=2, z_order=3),
        Points([12.5, 8.25, 14.0, 9.0], label=1),
        Label(3),
    ]
    return [
        DatasetItem(
            "street", subset="train", media=Image.from_numpy(np.zeros((48, 64, 3), np.uint8)), annotations=street
        ),
        DatasetItem(
            "crossing",
            subset="train",
            media=Image.from_numpy(np.zeros((30, 40, 3), np.uint8)),
            annotations=[Mask(mask, label=1, z_order=2)],
        ),
    ]


def main(out):
    labels = LabelCategories(attributes={"occluded"})
    labels.add("car", attributes={"colour"})
    for name in ("person", "lane", "day"):
        labels.add(name)
    dataset = Dataset.from_iterable(items(), categories={AnnotationType.label: labels})
    dataset.export(out, "cvat", save_media=True)
    printed = [describe(item, labels) for item in dataset]
    for ann in (a for item in printed for a in item["annotations"] if a["type"] != "label"):
        ann["attributes"] = {"occluded": False} | ann["attributes"]  # what CVAT writes for every shape
    print(json.dumps({"labels": [c.name for c in labels], "items": printed}))


if __name__ == "__main__":
    main(sys.argv[1])
