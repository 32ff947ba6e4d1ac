"""Run in the FiftyOne venv (tests/oracle_venvs.py) against the MongoDB the test started (FIFTYONE_DATABASE_URI);
prints one JSON line.

- ``load DIR TYPE``: ``fo.Dataset.from_dir`` of a directory export (TYPE a ``fo.types`` name) as FiftyOne reads it.
- ``export OUT IMAGES``: a dataset built here, its images made in IMAGES (tags, two Detections fields, confidence,
  custom attributes, an instance mask, a Classification, default classes), exported as a FiftyOneDataset to OUT, as
  FiftyOne holds it.
- ``bridge SAMPLES.pickle``: cvkit's samples (PYTHONPATH=src) through ``cvkit.to_fiftyone`` as FiftyOne holds them,
  and back through ``cvkit.from_fiftyone``.

A sample is ``{"name", "tags", "fields": {field: [detection]}, "labels": {field: [label]}}``, a detection
``{"label", "bounding_box", "confidence", "attributes", "mask"}`` (mask: the box-sized mask's pixel count).
"""

import json
import os
import pickle
import sys

import fiftyone as fo
import numpy as np

#: Detection fields that are not custom attributes
BUILTIN = {"id", "tags", "label", "bounding_box", "mask", "mask_path", "confidence", "index", "attributes"}


def detection(det):
    attributes = {k: v for k, v in det.to_dict().items() if k not in BUILTIN and not k.startswith("_")}
    attributes |= {k: getattr(a, "value", a) for k, a in (det.attributes or {}).items()}
    mask = None if det.mask is None else int(np.asarray(det.mask).astype(bool).sum())
    return {
        "label": det.label,
        "bounding_box": list(det.bounding_box),
        "confidence": det.confidence,
        "attributes": attributes,
        "mask": mask,
    }


def describe(sample):
    fields, labels = {}, {}
    for name, value in sample.iter_fields():
        if isinstance(value, fo.Detections):
            fields[name] = [detection(d) for d in value.detections]
        elif isinstance(value, fo.Detection):
            fields[name] = [detection(value)]
        elif isinstance(value, fo.Classifications):
            labels[name] = [c.label for c in value.classifications]
        elif isinstance(value, fo.Classification):
            labels[name] = [value.label]
    return {"name": os.path.basename(sample.filepath), "tags": list(sample.tags), "fields": fields, "labels": labels}


def describe_all(dataset):
    return {
        "default_classes": list(dataset.default_classes),
        "samples": sorted((describe(s) for s in dataset), key=lambda s: s["name"]),
    }


def load(directory, kind):
    dataset = fo.Dataset.from_dir(dataset_dir=directory, dataset_type=getattr(fo.types, kind))
    return describe_all(dataset)


def export(out, images):
    from PIL import Image

    os.makedirs(images, exist_ok=True)
    paths = []
    for name, size in (("road.png", (64, 48)), ("yard.jpg", (40, 30))):
        path = os.path.abspath(os.path.join(images, name))
        Image.new("RGB", size, (90, 120, 60)).save(path)
        paths.append(path)
    mask = np.zeros((12, 20), dtype=bool)
    mask[2:9, 3:15] = True
    road = fo.Sample(filepath=paths[0], tags=["train", "reviewed"])
    road["ground_truth"] = fo.Detections(
        detections=[
            fo.Detection(label="car", bounding_box=[0.0625, 0.125, 0.3125, 0.5], occluded=True, weight=0.5),
            fo.Detection(label="person", bounding_box=[0.5, 0.25, 0.3125, 0.25], mask=mask),
        ]
    )
    road["predictions"] = fo.Detections(
        detections=[fo.Detection(label="car", bounding_box=[0.0625, 0.125, 0.3, 0.5], confidence=0.875)]
    )
    road["weather"] = fo.Classification(label="sunny")
    yard = fo.Sample(filepath=paths[1], tags=["val"])
    yard["ground_truth"] = fo.Detections(detections=[fo.Detection(label="dog", bounding_box=[0.25, 0.2, 0.5, 0.6])])
    dataset = fo.Dataset()
    dataset.add_samples([road, yard])
    dataset.default_classes = ["car", "person", "dog", "sunny"]
    dataset.compute_metadata()
    dataset.export(export_dir=out, dataset_type=fo.types.FiftyOneDataset, export_media=True)
    return describe_all(dataset)


def bridge(pickled):
    import cvkit
    from cvkit.core.categories import CategorySet
    from cvkit.core.model import Dataset

    with open(pickled, "rb") as handle:
        samples, names, root = pickle.load(handle)
    categories = CategorySet()
    for name in names:
        categories.ensure(name)
    dataset = cvkit.to_fiftyone(Dataset(samples, categories, root=root))
    back = cvkit.from_fiftyone(dataset)
    returned = [
        {
            "name": os.path.basename(s.path),
            "split": s.split,
            "labels": s.labels,
            "objects": [
                {"label": o.label, "bbox": list(o.bbox), "score": o.score, "attributes": o.attributes}
                | {"mask": None if o.rle is None else int(o.area()), "field": o.meta["fiftyone"]["field"]}
                for o in s.objects
            ],
        }
        for s in back
    ]
    return describe_all(dataset) | {"back": sorted(returned, key=lambda s: s["name"])}


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    print(json.dumps({"load": load, "export": export, "bridge": bridge}[command](*args)))
