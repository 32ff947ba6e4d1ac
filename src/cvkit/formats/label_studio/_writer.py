"""Writing a Label Studio import file: a JSON list of tasks ``{"data": {"image": ...}, "annotations": [...]}`` (or
``predictions`` with ``-w as=predictions``), regions in percent of each image's size, with a labeling config that
declares every control the results name (written beside the tasks when the destination is a folder).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any
from xml.sax.saxutils import quoteattr

from cvkit.core import jsonio
from cvkit.core.imageinfo import known_size
from cvkit.core.model import Annotation, Dataset, Sample
from cvkit.core.report import Report
from cvkit.core.shards import Pipeline
from cvkit.errors import CvkitError
from cvkit.formats.label_studio._regions import annotation_value
from cvkit.io import atomic_file, atomic_write_text, file_or_folder_images, place_image

TARGET = "Label Studio"
AS = ("annotations", "predictions")
#: the control each region type is written under when its source named none (the labeling config declares them)
FROM_NAMES = {
    "rectanglelabels": "label",
    "polygonlabels": "polygon",
    "brushlabels": "brush",
    "keypointlabels": "keypoint",
    "ellipselabels": "ellipse",
    "choices": "choice",
}
_CONTROL_TAGS = {
    "rectanglelabels": "RectangleLabels",
    "polygonlabels": "PolygonLabels",
    "brushlabels": "BrushLabels",
    "keypointlabels": "KeyPointLabels",
    "ellipselabels": "EllipseLabels",
}


class _Controls:
    """The controls (from_name -> type and labels) the written results use, for the labeling config."""

    def __init__(self) -> None:
        self.controls: dict[str, tuple[str, dict[str, None]]] = {}
        self.to_name = "image"
        self.image_key = "image"

    def note(self, from_name: str, kind: str, labels: list[str]) -> None:
        _, seen = self.controls.setdefault(from_name, (kind, {}))
        for label in labels:
            seen.setdefault(label, None)

    def config(self) -> str:
        """A labeling config declaring every control the results name (Label Studio checks results against it):
        a labels control per region type, ``Choices`` for image labels, per-region ``Choices``/``Number``/``TextArea``
        for object attributes."""
        to = quoteattr(self.to_name)
        lines = ["<View>", f"  <Image name={to} value={quoteattr('$' + self.image_key)}/>"]
        for name, (kind, labels) in self.controls.items():
            control = quoteattr(name)
            if kind in ("choices", "region_choices"):
                per_region = ' perRegion="true"' if kind == "region_choices" else ""
                lines.append(f'  <Choices name={control} toName={to} choice="multiple"{per_region}>')
                lines += [f"    <Choice value={quoteattr(label)}/>" for label in labels]
                lines.append("  </Choices>")
            elif kind in _CONTROL_TAGS:
                lines.append(f"  <{_CONTROL_TAGS[kind]} name={control} toName={to}>")
                lines += [f"    <Label value={quoteattr(label)}/>" for label in labels]
                lines.append(f"  </{_CONTROL_TAGS[kind]}>")
            elif kind == "number":
                lines.append(f'  <Number name={control} toName={to} perRegion="true"/>')
            else:
                lines.append(f'  <TextArea name={control} toName={to} perRegion="true"/>')
        return "\n".join([*lines, "</View>", ""])


def _attribute_result(rid: str, name: str, value: Any, to_name: str) -> dict[str, Any]:
    """A region's attribute as a result sharing its id: numbers as ``number``, lists as ``choices``, else text."""
    if isinstance(value, bool):
        kind, payload = "choices", {"choices": ["true" if value else "false"]}
    elif isinstance(value, (int, float)):
        kind, payload = "number", {"number": value}
    elif isinstance(value, list):
        kind, payload = "choices", {"choices": [str(v) for v in value]}
    else:
        kind, payload = "textarea", {"text": [str(value)]}
    return {"id": rid, "type": kind, "from_name": name, "to_name": to_name, "value": payload}


class _Task:
    """Builds one task's annotations and predictions from a sample."""

    def __init__(
        self, sample: Sample, ids: str, size: tuple[int, int], target: str, controls: _Controls, report: Report
    ):
        #: ``ids``: what starts the ids of the regions cvkit names (``cvkit00042``, the task's number)
        self.sample, self.ids, self.size, self.target = sample, ids, size, target
        self.controls, self.report = controls, report
        self.groups: dict[tuple[str, Any], dict[str, Any]] = {}
        self.regions = 0

    def _group(self, obj: Annotation | None) -> dict[str, Any]:
        meta = obj.meta.get("label_studio", {}) if obj is not None else {}
        source = meta.get("source") if meta.get("source") in ("annotation", "prediction") else self.target.rstrip("s")
        key = (source, meta.get("index", meta.get("annotation")))
        group = self.groups.get(key)
        if group is None:
            group = self.groups[key] = {"source": source, "result": []}
            if source == "prediction":
                version = meta.get("model_version")
                group["model_version"] = version if version is not None else "cvkit"
            elif meta.get("completed_by") is not None and isinstance(meta.get("completed_by"), int):
                group["completed_by"] = meta["completed_by"]
        return group

    def add(self, obj: Annotation, index: int) -> None:
        made = annotation_value(obj, self.size)
        if made is None:
            self.report.lose(
                f"{obj.shape} shape", "Label Studio has no such image region (lines, empty masks); dropped"
            )
            return
        kind, value = made
        if obj.shape not in ("box", "polygon", "mask", "point", "circle"):
            self.report.lose(obj.shape, "written to Label Studio as its bounding box")
        if obj.shape == "polygon" and obj.polygon and len(obj.polygon) > 1 and kind == "polygonlabels":
            self.report.lose(
                "polygon part", "a Label Studio polygon has one outline; later parts dropped", len(obj.polygon) - 1
            )
        meta = obj.meta.get("label_studio", {})
        from_name = meta.get("from_name") if meta.get("type") == kind and meta.get("from_name") else FROM_NAMES[kind]
        to_name = meta.get("to_name") or self.controls.to_name
        rid = str(meta.get("id") or f"{self.ids}_{index}")
        group = self._group(obj)
        labels = obj.attributes.get("labels") if isinstance(obj.attributes.get("labels"), list) else [obj.label]
        result = {
            "id": rid,
            "type": kind,
            "from_name": from_name,
            "to_name": to_name,
            "original_width": self.size[0],
            "original_height": self.size[1],
            "image_rotation": 0,
            "value": {**value, kind: labels},
        }
        if obj.score is not None:
            if group["source"] == "prediction":
                result["score"] = obj.score
            else:
                self.report.lose(
                    "score", "Label Studio annotations hold no confidence score (-w as=predictions keeps them)"
                )
        if obj.keypoints is not None:
            self.report.lose(
                "keypoints", "Label Studio keypoints are separate regions, not tied to an object; written without them"
            )
        group["result"].append(result)
        self.controls.note(from_name, kind, labels)
        for name, attribute in obj.attributes.items():
            if name != "labels":
                result = _attribute_result(rid, name, attribute, to_name)
                group["result"].append(result)
                kind = "region_choices" if result["type"] == "choices" else result["type"]
                self.controls.note(name, kind, result["value"].get("choices", []))
        self.regions += 1

    def image_labels(self) -> None:
        if not self.sample.labels:
            return
        from_name = self.sample.meta.get("label_studio", {}).get("choice_from_name") or FROM_NAMES["choices"]
        group = self._group(None) if not self.groups else next(iter(self.groups.values()))
        group["result"].append(
            {
                "id": f"{self.ids}_choices",
                "type": "choices",
                "from_name": from_name,
                "to_name": self.controls.to_name,
                "value": {"choices": list(self.sample.labels)},
            }
        )
        self.controls.note(from_name, "choices", list(self.sample.labels))

    def record(self, image: str | None, image_key: str) -> dict[str, Any]:
        data = {image_key: image} if image is not None else {}
        for key, value in self.sample.attributes.items():
            data.setdefault(key, value)
        task: dict[str, Any] = {"data": data}
        annotations = [
            {"result": g["result"], **({"completed_by": g["completed_by"]} if "completed_by" in g else {})}
            for g in self.groups.values()
            if g["source"] == "annotation"
        ]
        predictions = [
            {
                "model_version": g["model_version"],
                "result": g["result"],
                **(
                    {"score": _mean([r["score"] for r in g["result"] if "score" in r])}
                    if any("score" in r for r in g["result"])
                    else {}
                ),
            }
            for g in self.groups.values()
            if g["source"] == "prediction"
        ]
        if annotations:
            task["annotations"] = annotations
        if predictions:
            task["predictions"] = predictions
        task["meta"] = {"original_width": self.size[0], "original_height": self.size[1]}
        return task


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def _image_reference(sample: Sample, url_prefix: str, placed: str | None) -> str | None:
    """The image as the task references it: ``url_prefix`` + where it was copied, else the source's own reference
    (``/data/upload/...``, a URL), else ``url_prefix`` + the sample path; None for a task that had no image (a text
    task read from Label Studio)."""
    if placed is not None:
        return url_prefix + placed
    source = sample.meta.get("label_studio")
    if isinstance(source, dict) and "image" in source:
        recorded = source["image"]
        return recorded if isinstance(recorded, str) and recorded else None
    path = PurePosixPath(sample.path)
    return url_prefix + (path.name if path.is_absolute() else sample.path)


def _place(sample: Sample, dataset: Dataset, folder: Path, images: str, used: set[str], report: Report) -> str | None:
    """Copy (link) the image to ``images/<name>`` in the folder; its path there, None when not found."""
    source = sample.resolve(dataset.root)
    if not source.is_file():
        report.warn("some images were not found and not copied; their tasks keep the source's reference")
        return None
    base, name, n = PurePosixPath(source.name), source.name, 1
    while name.lower() in used:
        n += 1
        name = f"{base.stem}_{n}{base.suffix}"
    used.add(name.lower())
    place_image(source, folder / "images" / name, images)
    return f"images/{name}"


@dataclass(slots=True)
class TaskEncoder:
    """The sample-alone half of a Label Studio write (runs where the shard is read; picklable)."""

    root: Path | None
    target: str
    url_prefix: str
    report: Report


#: region ids a worker gives, the task's number (known where the tasks are written) put in place of this
_NUMBER = "cvkit\x00"

#: what :func:`encode_task` gives: the sample without its objects (what the task's data and image need), whether it
#: has an image, the image key, the task but its ``data``, the controls its results use, its region count
EncodedTask = tuple[Sample, bool, str, dict[str, Any], dict[str, tuple[str, dict[str, None]]], int]


def encode_task(encoder: TaskEncoder, sample: Sample) -> EncodedTask:
    """The sample's task (region ids waiting for its number), the controls it uses and what it loses."""
    report = encoder.report
    size = known_size(sample, encoder.root)
    if size is None:
        if sample.objects:
            report.lose(
                "object of an image of unknown size",
                "Label Studio places regions in percent of the image size",
                len(sample.objects),
            )
        size = (0, 0)
    has_image = sample.meta.get("label_studio", {}).get("image", "") is not None
    controls = _Controls()
    task = _Task(sample, _NUMBER, size, encoder.target, controls, report)
    for index, obj in enumerate(sample.objects if size[0] else []):
        task.add(obj, index)
    task.image_labels()
    key = sample.meta.get("label_studio", {}).get("image_key") or "image"
    if sample.split:
        report.lose("split", "a Label Studio task has no split")
    record = task.record(None, key)
    del record["data"]
    bare = Sample(sample.path, split=sample.split, attributes=sample.attributes, meta=sample.meta)
    return bare, has_image, key, record, controls.controls, task.regions


def _number_ids(task: dict[str, Any], number: int) -> None:
    """Put the task's number into the region ids a worker left waiting for it."""
    mark = f"cvkit{number:05d}"
    for group in (*task.get("annotations", ()), *task.get("predictions", ())):
        for result in group["result"]:
            rid = result["id"]
            if rid.startswith(_NUMBER):
                result["id"] = mark + rid[len(_NUMBER) :]


def write(
    dataset: Dataset,
    path: Path,
    report: Report,
    images: str | None = None,
    url_prefix: str = "/data/local-files/?d=",
    workers: int | None = None,
    **options: str,
) -> None:
    """``path`` ending in .json: the tasks file, images referenced where they are; else ``path/tasks.json``,
    ``path/label_config.xml`` and the images in ``path/images/`` (``images=copy`` by default, hardlink, symlink or
    reference): serve that folder as Label Studio's local-files document root. ``as=annotations|predictions``: where
    objects that did not come from Label Studio go (predictions keep scores). ``url_prefix``: put before an image
    path (Label Studio's local files by default). ``workers``: processes that read a sharded source and build its
    tasks; images, region ids and the file are placed here, in order."""
    target = options.pop("as", "annotations")
    if options:
        raise CvkitError(
            f"unknown Label Studio writer option(s) {', '.join(sorted(options))}; known: as, images, url_prefix, "
            "workers"
        )
    if target not in AS:
        raise CvkitError(f"Label Studio writer option as={target!r}: choose annotations or predictions")
    single = path.suffix.lower() == ".json"
    images = file_or_folder_images(images, single, "Label Studio", ".json")
    file = path if single else path / "tasks.json"
    used: set[str] = set()
    controls = _Controls()
    pipeline = Pipeline(dataset, report, workers)
    encoder = TaskEncoder(dataset.root, target, url_prefix, pipeline.report)
    with atomic_file(file, "wb", encoding=None) as handle:
        handle.write(b"[")
        encoded = pipeline.samples(encode_task, encoder, "writing Label Studio")
        for number, (sample, has_image, key, task, notes, regions) in enumerate(encoded):
            placed = (
                _place(sample, dataset, path, images, used, report) if images != "reference" and has_image else None
            )
            image = _image_reference(sample, url_prefix, placed)
            data = {key: image} if image is not None else {}
            for name, value in sample.attributes.items():
                data.setdefault(name, value)
            _number_ids(task, number)
            for from_name, (kind, labels) in notes.items():
                controls.note(from_name, kind, list(labels))
            controls.image_key = key
            handle.write((b"\n" if number == 0 else b",\n") + jsonio.dumps({"data": data, **task}))
            report.count_written(sample.split, regions)
        handle.write(b"\n]\n")
    if not single:
        atomic_write_text(path / "label_config.xml", controls.config())
    if len(dataset.hierarchy):
        report.lose("hierarchy", "Label Studio labels are flat", len(dataset.hierarchy))
    report.written.categories = len({label for _, labels in controls.controls.values() for label in labels})
