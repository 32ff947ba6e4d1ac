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
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from cvkit.core import jsonio
from cvkit.core.categories import CategorySet
from cvkit.core.geometry import box_to_center, center_to_box, clean_number
from cvkit.core.imageinfo import read_image_info
from cvkit.core.model import Annotation, Dataset, Sample, Shard
from cvkit.core.paths import inside
from cvkit.core.progress import track
from cvkit.core.report import Report
from cvkit.core.shards import Pipeline, read_here, shards_of
from cvkit.errors import CvkitError, InvalidInputError
from cvkit.io import (
    RealPaths,
    atomic_file,
    file_or_folder_images,
    files_in,
    place_image,
    read_regular_bytes,
    relpath_posix,
)

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
        what = (
            "missing key 'coordinates'" if coords is None else "coordinates must be an object with x, y, width, height"
        )
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
    """Reads samples from CreateML files: ``image_dir`` and the dataset root are what every shard shares."""

    def __init__(self, root: Path, image_dir: Path | None):
        self.root = root
        self.image_dir = image_dir

    def locate(self, name: str, json_dir: Path) -> Path | None:
        candidates = [json_dir / name, json_dir / "images" / name, self.root / name]
        if self.image_dir is not None:
            candidates.insert(0, self.image_dir / name)
        return next((c for c in candidates if c.is_file()), None)

    def sample(self, name: str, objects: list[Annotation], entry: dict[str, Any], file: Path, report: Report) -> Sample:
        """The entry's sample; Roboflow's per-split files give their folder's name as split."""
        found = self.locate(name, file.parent)
        width = height = None
        if found is None:
            report.warn(
                "some images were not found next to the CreateML JSON; their sizes are unknown (read option "
                "image_dir=FOLDER)"
            )
            path = name
        else:
            info = read_image_info(found)
            width, height = info.width, info.height
            path = relpath_posix(found, self.root)
        sample = Sample(path, width, height, _split_of(file), objects=objects)
        if "verified" in entry:
            sample.meta["createml"] = {"verified": entry["verified"]}
        return sample

    def entries(self, file: Path, categories: CategorySet, report: Report) -> Iterator[Sample]:
        data = read_regular_bytes(file)
        try:
            top = jsonio.loads(data)
        except jsonio.JSONDecodeError as exc:
            raise InvalidInputError(
                f"malformed JSON: {exc}", file=file, location=jsonio.error_location(exc, data)
            ) from None
        if not isinstance(top, list):
            raise InvalidInputError("expected a JSON list of {image, annotations} entries (CreateML)", file=file)
        merged: dict[str, tuple[list[Annotation], dict[str, Any]]] = {}
        for i, entry in enumerate(top):
            try:
                name, objects = _parse_entry(entry, file, f"[{i}]", categories, report)
            except InvalidInputError as err:
                report.invalid(err)
                continue
            if name in merged:  # one image listed twice: one sample
                merged[name][0].extend(objects)
            else:
                merged[name] = (objects, entry)
        for name, (objects, entry) in merged.items():
            try:
                sample = self.sample(name, objects, entry, file, report)
            except InvalidInputError as err:
                report.invalid(err)
                continue
            report.count_read(sample.split, len(objects))
            yield sample


def _parse_entry(
    entry: Any, file: Path, where: str, categories: CategorySet, report: Report
) -> tuple[str, list[Annotation]]:
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
            report.invalid(err)
            continue
        categories.ensure(obj.label)
        objects.append(obj)
    return name, objects


def _read_shard(reader: _Reader, files: list[Path], categories: CategorySet, report: Report) -> Iterator[Sample]:
    """A shard's samples (:class:`~cvkit.core.model.Shard`): a run of CreateML files, parsed here."""
    for file in files:
        yield from reader.entries(file, categories, report)


def read(path: Path, report: Report, image_dir: str | None = None) -> Dataset:
    """Read one CreateML JSON file or a folder of them (LabelImg writes one per image); runs of files are shards."""
    if path.is_dir():
        files = [p for p in _json_files(path) if _is_createml_file(p)]
        if not files:
            raise InvalidInputError("no CreateML JSON files (lists of {image, annotations}) in this folder", file=path)
        root = path
    else:
        files, root = [path], path.parent
    reader = _Reader(root, Path(image_dir) if image_dir else None)
    categories = CategorySet()

    def shards(_workers: int) -> list[Shard]:
        return shards_of(_read_shard, reader, files)

    return Dataset(
        track(read_here(shards, categories, report), "reading CreateML"),
        categories,
        root=root,
        source_format="createml",
        shards=shards,
    )


# --- writing -------------------------------------------------------------------------
def _entry(sample: Sample, report: Report, keep_crowd: bool) -> tuple[dict[str, Any], list[str]]:
    """The sample's entry but its image name, and the labels it uses; what CreateML cannot hold goes to ``report``."""
    annotations = []
    used: list[str] = []
    for obj in sample.objects:
        if obj.iscrowd and not keep_crowd:
            report.lose("crowd region", "CreateML has no crowd flag; left out (-w crowd=keep writes it as an object)")
            continue
        box = obj.bbox if obj.bbox is not None else obj.ensure_bbox()
        if box is None:
            report.lose(obj.shape, "CreateML holds boxes only; a shape without a box was left out")
            continue
        if obj.shape != "box" or obj.polygon or obj.rle is not None:
            report.lose(
                "mask" if obj.rle is not None and obj.shape == "box" else obj.shape,
                "CreateML holds boxes only; written as its box",
            )
        report.lose_object_extras(obj, "CreateML")
        x, y, w, h = box_to_center(box)
        coordinates = {"x": clean_number(x), "y": clean_number(y), "width": clean_number(w), "height": clean_number(h)}
        annotations.append({"label": obj.label, "coordinates": coordinates})
        used.append(obj.label)
    report.lose_image_labels("CreateML", len(sample.labels))
    report.lose_image_attributes(sample.attributes, "CreateML")
    if sample.split:
        report.lose("split", "a CreateML file has no splits (write one file per split)")
    entry: dict[str, Any] = {}
    verified = (
        sample.meta.get("createml", {}).get("verified") if isinstance(sample.meta.get("createml"), dict) else None
    )
    if verified is not None:
        entry["verified"] = verified
    entry["annotations"] = annotations
    return entry, used


@dataclass(slots=True)
class EntryEncoder:
    """The sample-alone half of a CreateML write (runs where the shard is read; picklable)."""

    root: Path | None
    out_dir: Path
    images: str
    keep_crowd: bool
    report: Report
    real_paths: RealPaths


#: what :func:`encode_entry` gives: split, path, image file, the referenced image's name (reference mode), the entry
#: but its image (None: the image to copy is missing), the labels it uses
EncodedEntry = tuple[str | None, str, Path, str | None, dict[str, Any] | None, list[str]]


def encode_entry(encoder: EntryEncoder, sample: Sample) -> EncodedEntry:
    """The sample's entry (its image named by the parent when images are copied) and what it loses."""
    source = sample.resolve(encoder.root)
    image = None
    if encoder.images == "reference":
        # with nothing to be relative to, a path is kept as the source wrote it
        kept = encoder.root is None and not os.path.isabs(sample.path)
        image = sample.path if kept else encoder.real_paths.relative(source, encoder.out_dir)
    elif not source.is_file():
        return sample.split, sample.path, source, None, None, []
    entry, used = _entry(sample, encoder.report, encoder.keep_crowd)
    return sample.split, sample.path, source, image, entry, used


def _write_entries(
    dataset: Dataset,
    handle: IO[bytes],
    out_dir: Path,
    report: Report,
    images: str,
    keep_crowd: bool,
    workers: int | None,
) -> set[str]:
    used: set[str] = set()
    names: set[str] = set()
    handle.write(b"[")
    first = True
    pipeline = Pipeline(dataset, report, workers)
    encoder = EntryEncoder(dataset.root, out_dir, images, keep_crowd, pipeline.report, RealPaths())
    for split, path, source, image, entry, labels in pipeline.samples(encode_entry, encoder, "writing CreateML"):
        if image is None:
            stem, suffix = os.path.splitext(os.path.basename(path))
            image, n = stem + suffix, 1
            while image.lower() in names:
                n += 1
                image = f"{stem}_{n}{suffix}"
            names.add(image.lower())
            if entry is None:
                report.invalid(
                    InvalidInputError(
                        "image file not found; --images reference writes the JSON without copying images", file=source
                    )
                )
                continue
            place_image(source, inside(out_dir, image), images)
        assert entry is not None
        handle.write((b"\n" if first else b",\n") + jsonio.dumps({"image": image, **entry}))
        first = False
        used.update(labels)
        report.count_written(split, len(entry["annotations"]))
    handle.write(b"\n]\n")
    return used


def write(
    dataset: Dataset,
    path: Path,
    report: Report,
    images: str | None = None,
    crowd: str = "skip",
    workers: int | None = None,
) -> None:
    """One CreateML JSON list: ``path`` itself when it ends in .json, else ``path/annotations.json``
    with the images copied beside it (``images`` copy|hardlink|symlink; reference for a .json file). ``workers``:
    processes that read a sharded source and encode its entries; the file is written here, in order."""
    if crowd not in ("skip", "keep"):
        raise CvkitError(f"CreateML writer option crowd={crowd!r}: choose skip or keep")
    single = path.suffix.lower() == ".json"
    images = file_or_folder_images(images, single, "CreateML", ".json")
    target = path if single else path / FOLDER_FILE
    out_dir = path.parent if single else path
    with atomic_file(target, "wb", encoding=None) as handle:
        used = _write_entries(dataset, handle, out_dir, report, images, crowd == "keep", workers)
    unused = [name for name in dataset.categories.names() if name not in used]
    if unused:
        report.lose("category without objects", "CreateML names labels only through annotations", len(unused))
    if len(dataset.hierarchy):
        report.lose("hierarchy", "CreateML labels are flat", len(dataset.hierarchy))
    report.written.categories = len(used)
