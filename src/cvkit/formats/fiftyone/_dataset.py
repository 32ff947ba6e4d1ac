"""Reading FiftyOne's ``FiftyOneDataset`` export: ``samples.json`` in MongoDB extended JSON beside ``metadata.json``."""

from __future__ import annotations

import base64
import io
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cvkit.core.categories import CategorySet
from cvkit.core.masks import encode
from cvkit.core.model import Annotation, Dataset, Sample, Shard
from cvkit.core.progress import track
from cvkit.core.report import Report
from cvkit.core.shards import read_here, shards_of
from cvkit.errors import InvalidInputError

from ._common import METADATA_FILE, load_json
from ._detection import detection, image_size, label_of

#: tags that name a split (FiftyOne keeps splits as sample tags: COCO's importer tags ``train``/``val``)
SPLIT_TAGS = frozenset(("train", "training", "val", "valid", "validation", "test", "testing", "trainval", "dev"))
LABEL_CLASSES = ("Detections", "Detection", "Classification", "Classifications")


def decode_mask(value: Any, file: Path, where: str) -> Any:
    """A ``$binary`` mask: base64 of a zlib-compressed ``.npy`` array (FiftyOne's serialize_numpy_array)."""
    import numpy as np

    try:
        raw = value["$binary"]["base64"] if isinstance(value, dict) and "$binary" in value else value
        data = base64.b64decode(raw)
        try:
            data = zlib.decompress(data)
        except zlib.error:
            pass  # stored uncompressed
        return np.load(io.BytesIO(data), allow_pickle=False)
    except (KeyError, TypeError, ValueError, OSError) as exc:
        raise InvalidInputError(
            f"mask is not a base64 numpy array: {exc}", file=file, location=f"{where}.mask"
        ) from None


def place_mask(mask: Any, relative: list[float], width: int, height: int) -> dict[str, Any]:
    """The box-sized ``mask`` placed into a full-image RLE, as FiftyOne renders an instance mask (resized to the
    box's rounded pixel extent, nearest neighbour)."""
    import numpy as np
    from PIL import Image

    x, y, w, h = relative
    x0, y0 = round(x * width), round(y * height)
    x1, y1 = max(round((x + w) * width), x0 + 1), max(round((y + h) * height), y0 + 1)
    patch = np.asarray(mask).astype(bool)
    if patch.ndim != 2:
        patch = patch.reshape(patch.shape[0], -1)
    if patch.shape != (y1 - y0, x1 - x0):
        patch = np.asarray(Image.fromarray(patch.astype(np.uint8) * 255).resize((x1 - x0, y1 - y0), Image.NEAREST)) > 0
    full = np.zeros((height, width), dtype=np.uint8)
    region = full[y0:y1, x0:x1]
    region[:] = patch[: region.shape[0], : region.shape[1]]
    return encode(full)


def _objects(
    field: str, value: dict[str, Any], size: tuple[int, int], file: Path, where: str, categories: CategorySet
) -> list[Annotation]:
    records = value.get("detections") if value.get("_cls") == "Detections" else [value]
    objects = []
    for i, record in enumerate(records or []):
        at = f"{where}.detections[{i}]" if value.get("_cls") == "Detections" else where
        if not isinstance(record, dict):
            raise InvalidInputError("expected a detection object", file=file, location=at)
        obj = detection(record, label_of(record.get("label"), None, file, at), size, file, at)
        if record.get("mask") is not None:
            obj.rle = place_mask(decode_mask(record["mask"], file, at), record["bounding_box"], size[0], size[1])
            obj.shape = "mask"
        obj.meta["fiftyone"] = {"field": field}
        categories.ensure(obj.label)
        objects.append(obj)
    return objects


def _labels(value: dict[str, Any]) -> list[str]:
    records = value.get("classifications") if value.get("_cls") == "Classifications" else [value]
    return [r["label"] for r in records or [] if isinstance(r, dict) and isinstance(r.get("label"), str)]


def read_sample(record: Any, n: int, root: Path, file: Path, categories: CategorySet) -> Sample:
    """One sample document (``samples.json``'s, or ``fo.Sample.to_dict(include_private=True)``); ``filepath``
    relative to ``root``."""
    where = f"samples[{n}]"
    if not isinstance(record, dict) or not isinstance(record.get("filepath"), str):
        raise InvalidInputError("sample needs a 'filepath'", file=file, location=where)
    filepath = record["filepath"]
    tags = [t for t in record.get("tags") or [] if isinstance(t, str)]
    split = next((t for t in tags if t.lower() in SPLIT_TAGS), None)
    sample = Sample(
        filepath, split=split, id=(record.get("_id") or {}).get("$oid") if isinstance(record.get("_id"), dict) else None
    )
    other_tags = [t for t in tags if t != split]
    if other_tags:
        sample.attributes["tags"] = other_tags
    metadata = record.get("metadata") if isinstance(record.get("metadata"), dict) else {}
    width, height = metadata.get("width"), metadata.get("height")
    if isinstance(width, int) and isinstance(height, int) and width > 0 and height > 0:
        sample.width, sample.height = width, height
    fields = {k: v for k, v in record.items() if isinstance(v, dict) and v.get("_cls") in LABEL_CLASSES}
    if fields and sample.width is None:
        image = sample.resolve(root)
        sample.width, sample.height = image_size(image if image.is_file() else None, file, where)
    for name, value in fields.items():
        if value["_cls"].startswith("Classification"):
            for label in _labels(value):
                categories.ensure(label)
                sample.labels.append(label)
        else:
            sample.objects.extend(
                _objects(name, value, (sample.width, sample.height), file, f"{where}.{name}", categories)
            )
    return sample


def read_dataset_export(path: Path, top: Any, report: Report) -> Dataset:
    """The FiftyOneDataset in ``path`` (``top``: its parsed samples.json); default classes from metadata.json first."""
    file = path / "samples.json"
    if not isinstance(top, dict) or not isinstance(top.get("samples"), list):
        raise InvalidInputError("expected an object with a 'samples' list", file=file, location="samples")
    categories = CategorySet()
    metadata = load_json(path / METADATA_FILE) if (path / METADATA_FILE).is_file() else {}
    for name in (metadata.get("default_classes") or []) if isinstance(metadata, dict) else []:
        if isinstance(name, str):
            categories.ensure(name)

    records = top["samples"]

    def shards(_workers: int) -> list[Shard]:
        return shards_of(_read_run, (path, file, records), range(len(records)))

    info = {"fiftyone": {"name": metadata.get("name")}} if isinstance(metadata, dict) and metadata.get("name") else {}
    return Dataset(
        track(read_here(shards, categories, report), "reading FiftyOne samples"),
        categories,
        root=path,
        source_format="fiftyone",
        info=info,
        shards=shards,
    )


def _read_run(
    source: tuple[Path, Path, list[Any]], positions: range, categories: CategorySet, report: Report
) -> Iterator[Sample]:
    """A shard's samples (:class:`~cvkit.core.model.Shard`): the sample documents at ``positions``, read here."""
    path, file, records = source
    for n in positions:
        try:
            sample = read_sample(records[n], n, path, file, categories)
        except InvalidInputError as err:
            report.invalid(err)
            continue
        report.count_read(sample.split, len(sample.objects))
        yield sample
