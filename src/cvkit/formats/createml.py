"""Apple CreateML object-detection JSON (also LabelImg's CreateML mode): reader and writer.

A file is a list ``[{"image": "a.jpg", "annotations": [{"label": "cat", "coordinates":
{"x": .., "y": .., "width": .., "height": ..}}]}]`` where x/y are the box *centre* in pixels
(Apple's spec; LabelImg writes the same). Image files are looked up next to the JSON (or in
its ``images/`` folder, or the ``image_dir`` read option) and their sizes read from the header.
LabelImg saves one such list per image; a folder of them reads as one dataset.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from cvkit.core import jsonio
from cvkit.core.categories import CategorySet
from cvkit.core.geometry import box_to_center, center_to_box, clean_number
from cvkit.core.imageinfo import read_image_info
from cvkit.core.model import Annotation, Dataset, Sample
from cvkit.core.paths import inside
from cvkit.core.progress import track
from cvkit.core.report import Report
from cvkit.errors import CvkitError, InvalidInputError
from cvkit.io import RealPaths, atomic_file, file_or_folder_images, files_in, place_image, read_regular_bytes, relpath_posix

_HEAD_IMAGE = re.compile(rb'"image"\s*:')
_LABEL_STUDIO_TASK = re.compile(rb'"data"\s*:\s*\{|"result"\s*:')
FOLDER_FILE = "annotations.json"


# --- detection -----------------------------------------------------------------------
def _is_createml_file(path: Path) -> bool:
    if path.suffix.lower() != ".json" or not path.is_file():
        return False
    with open(path, "rb") as handle:
        head = jsonio.strip_bom(handle.read(4096)).lstrip()
    if _LABEL_STUDIO_TASK.search(head):  # Label Studio: {"data": {"image": ..}, "annotations": [{"result": ..}]}
        return False
    return head.startswith(b"[") and bool(_HEAD_IMAGE.search(head)) and b'"annotations"' in head


#: Roboflow's CreateML export: ``<split>/_annotations.createml.json`` beside the split's images
ROBOFLOW_FILE = "_annotations.createml.json"


def _json_files(folder: Path, limit: int | None = None) -> list[Path]:
    """JSON files of the folder (the first ``limit`` by name), else Roboflow's one per split folder."""
    found = files_in(folder, ".json", limit=limit)
    return found or sorted(p for p in folder.glob(f"*/{ROBOFLOW_FILE}") if p.is_file())


def _split_of(file: Path) -> str | None:
    return file.parent.name if file.name == ROBOFLOW_FILE else None


def detect(path: Path) -> str | None:
    """CreateML is a JSON *list* of ``{image, annotations}`` (COCO is a dict), or a folder of them."""
    if path.is_file():
        return "a JSON list of {image, annotations} entries (CreateML)" if _is_createml_file(path) else None
    if path.is_dir():
        files = _json_files(path, limit=3)  # a LabelMe folder holds 20,000 JSON files: look at three
        if files and all(_is_createml_file(p) for p in files):
            return f"a folder of CreateML JSON lists ({files[0].name}, ...)"
    return None


# --- reading -------------------------------------------------------------------------
def _number(value: Any, file: Path, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidInputError(f"expected a number, got {value!r}", file=file, location=where)
    return float(value)


def _required_text(item: dict[str, Any], key: str, what: str, file: Path, where: str) -> str:
    """``item[key]`` as a non-empty string; the error names the JSON path (``[3].annotations[0].label``)."""
    if key not in item:
        raise InvalidInputError(f"missing key {key!r}", file=file, location=f"{where}.{key}")
    value = item[key]
    if not isinstance(value, str) or not value:
        raise InvalidInputError(f"{key} must be {what}, got {value!r}", file=file, location=f"{where}.{key}")
    return value


def _annotation(item: Any, file: Path, where: str) -> Annotation:
    if not isinstance(item, dict):
        raise InvalidInputError("expected an object with label and coordinates", file=file, location=where)
    label = _required_text(item, "label", "a non-empty string", file, where)
    coords = item.get("coordinates")
    if not isinstance(coords, dict):
        what = "missing key 'coordinates'" if coords is None else "coordinates must be an object with x, y, width, height"
        raise InvalidInputError(what, file=file, location=f"{where}.coordinates")
    values = []
    for key in ("x", "y", "width", "height"):
        if key not in coords:
            raise InvalidInputError(f"missing key {key!r}", file=file, location=f"{where}.coordinates.{key}")
        values.append(_number(coords[key], file, f"{where}.coordinates.{key}"))
    if values[2] < 0 or values[3] < 0:
        raise InvalidInputError("width and height must not be negative", file=file, location=f"{where}.coordinates")
    return Annotation(label, center_to_box(*values))


class _Reader:
    """Streams samples from one or more CreateML files."""

    def __init__(self, files: list[Path], root: Path, image_dir: Path | None, report: Report):
        self.files = files
        self.root = root
        self.image_dir = image_dir
        self.report = report
        self.categories = CategorySet()

    def locate(self, name: str, json_dir: Path) -> Path | None:
        candidates = [json_dir / name, json_dir / "images" / name, self.root / name]
        if self.image_dir is not None:
            candidates.insert(0, self.image_dir / name)
        return next((c for c in candidates if c.is_file()), None)

    def sample(self, name: str, objects: list[Annotation], entry: dict[str, Any], file: Path) -> Sample:
        """The entry's sample; Roboflow's per-split files give their folder's name as split."""
        found = self.locate(name, file.parent)
        width = height = None
        if found is None:
            self.report.warn("some images were not found next to the CreateML JSON; their sizes are unknown (read option image_dir=FOLDER)")
            path = name
        else:
            info = read_image_info(found)
            width, height = info.width, info.height
            path = relpath_posix(found, self.root)
        sample = Sample(path, width, height, _split_of(file), objects=objects)
        if "verified" in entry:
            sample.meta["createml"] = {"verified": entry["verified"]}
        return sample

    def entries(self, file: Path) -> Iterator[Sample]:
        data = read_regular_bytes(file)
        try:
            top = jsonio.loads(data)
        except jsonio.JSONDecodeError as exc:
            raise InvalidInputError(f"malformed JSON: {exc}", file=file, location=jsonio.error_location(exc, data)) from None
        if not isinstance(top, list):
            raise InvalidInputError("expected a JSON list of {image, annotations} entries (CreateML)", file=file)
        merged: dict[str, tuple[list[Annotation], dict[str, Any]]] = {}
        for i, entry in enumerate(top):
            try:
                name, objects = self.parse_entry(entry, file, f"[{i}]")
            except InvalidInputError as err:
                self.report.invalid(err)
                continue
            if name in merged:  # one image listed twice: one sample
                merged[name][0].extend(objects)
            else:
                merged[name] = (objects, entry)
        for name, (objects, entry) in merged.items():
            try:
                sample = self.sample(name, objects, entry, file)
            except InvalidInputError as err:
                self.report.invalid(err)
                continue
            self.report.count_read(sample.split, len(objects))
            yield sample

    def parse_entry(self, entry: Any, file: Path, where: str) -> tuple[str, list[Annotation]]:
        if not isinstance(entry, dict):
            raise InvalidInputError("expected an object with image and annotations", file=file, location=where)
        name = _required_text(entry, "image", "a file name", file, where)
        items = entry.get("annotations", [])
        if not isinstance(items, list):
            raise InvalidInputError("annotations must be a list", file=file, location=f"{where}.annotations")
        objects: list[Annotation] = []
        for j, item in enumerate(items):
            try:
                obj = _annotation(item, file, f"{where}.annotations[{j}]")
            except InvalidInputError as err:
                self.report.invalid(err)
                continue
            self.categories.ensure(obj.label)
            objects.append(obj)
        return name, objects

    def __iter__(self) -> Iterator[Sample]:
        for file in self.files:
            yield from self.entries(file)


def read(path: Path, report: Report, image_dir: str | None = None) -> Dataset:
    """Read one CreateML JSON file or a folder of them (LabelImg writes one per image)."""
    if path.is_dir():
        files = [p for p in _json_files(path) if _is_createml_file(p)]
        if not files:
            raise InvalidInputError("no CreateML JSON files (lists of {image, annotations}) in this folder", file=path)
        root = path
    else:
        files, root = [path], path.parent
    reader = _Reader(files, root, Path(image_dir) if image_dir else None, report)
    return Dataset(track(iter(reader), "reading CreateML"), reader.categories, root=root, source_format="createml")


# --- writing -------------------------------------------------------------------------
def _entry(sample: Sample, image: str, report: Report, keep_crowd: bool, used: set[str]) -> dict[str, Any]:
    annotations = []
    for obj in sample.objects:
        if obj.iscrowd and not keep_crowd:
            report.lose("crowd region", "CreateML has no crowd flag; left out (-w crowd=keep writes it as an object)")
            continue
        box = obj.bbox if obj.bbox is not None else obj.ensure_bbox()
        if box is None:
            report.lose(obj.shape, "CreateML holds boxes only; a shape without a box was left out")
            continue
        if obj.shape != "box" or obj.polygon or obj.rle is not None:
            report.lose("mask" if obj.rle is not None and obj.shape == "box" else obj.shape, "CreateML holds boxes only; written as its box")
        report.lose_object_extras(obj, "CreateML")
        x, y, w, h = box_to_center(box)
        coordinates = {"x": clean_number(x), "y": clean_number(y), "width": clean_number(w), "height": clean_number(h)}
        annotations.append({"label": obj.label, "coordinates": coordinates})
        used.add(obj.label)
    report.lose_image_labels("CreateML", len(sample.labels))
    report.lose_image_attributes(sample.attributes, "CreateML")
    if sample.split:
        report.lose("split", "a CreateML file has no splits (write one file per split)")
    entry: dict[str, Any] = {"image": image}
    verified = sample.meta.get("createml", {}).get("verified") if isinstance(sample.meta.get("createml"), dict) else None
    if verified is not None:
        entry["verified"] = verified
    entry["annotations"] = annotations
    report.count_written(sample.split, len(annotations))
    return entry


def _write_entries(dataset: Dataset, handle: IO[bytes], out_dir: Path, report: Report, images: str, keep_crowd: bool) -> set[str]:
    used: set[str] = set()
    names: set[str] = set()
    real_paths = RealPaths()
    handle.write(b"[")
    first = True
    for sample in track(iter(dataset), "writing CreateML"):
        source = sample.resolve(dataset.root)
        if images == "reference":
            # with nothing to be relative to, a path is kept as the source wrote it
            kept = dataset.root is None and not os.path.isabs(sample.path)
            image = sample.path if kept else real_paths.relative(source, out_dir)
        else:
            stem, suffix = os.path.splitext(os.path.basename(sample.path))
            image, n = stem + suffix, 1
            while image.lower() in names:
                n += 1
                image = f"{stem}_{n}{suffix}"
            names.add(image.lower())
            if not source.is_file():
                report.invalid(InvalidInputError("image file not found; --images reference writes the JSON without copying images", file=source))
                continue
            place_image(source, inside(out_dir, image), images)
        entry = _entry(sample, image, report, keep_crowd, used)
        handle.write((b"\n" if first else b",\n") + jsonio.dumps(entry))
        first = False
    handle.write(b"\n]\n")
    return used


def write(dataset: Dataset, path: Path, report: Report, images: str | None = None, crowd: str = "skip") -> None:
    """One CreateML JSON list: ``path`` itself when it ends in .json, else ``path/annotations.json``
    with the images copied beside it (``images`` copy|hardlink|symlink; reference for a .json file)."""
    if crowd not in ("skip", "keep"):
        raise CvkitError(f"CreateML writer option crowd={crowd!r}: choose skip or keep")
    single = path.suffix.lower() == ".json"
    images = file_or_folder_images(images, single, "CreateML", ".json")
    target = path if single else path / FOLDER_FILE
    out_dir = path.parent if single else path
    with atomic_file(target, "wb", encoding=None) as handle:
        used = _write_entries(dataset, handle, out_dir, report, images, crowd == "keep")
    unused = [name for name in dataset.categories.names() if name not in used]
    if unused:
        report.lose("category without objects", "CreateML names labels only through annotations", len(unused))
    if len(dataset.hierarchy):
        report.lose("hierarchy", "CreateML labels are flat", len(dataset.hierarchy))
    report.written.categories = len(used)
