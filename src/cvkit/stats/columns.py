"""A dataset as compact columns (numpy arrays): what every statistic is computed from.

Samples are streamed once and only numbers are kept: per image its size and split, per
object its image, class and box, per image-level label its image and class. A million
objects take ~50 MB instead of the ~1 GB their :class:`Sample` objects would.
Manifests take a fast path that reads only the fields statistics need.
"""

from __future__ import annotations

import math
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np

from cvkit.core import jsonio, validate_values
from cvkit.core.geometry import polygon_area
from cvkit.core.masks import rle_area
from cvkit.core.model import Dataset
from cvkit.core.progress import track
from cvkit.core.report import Report
from cvkit.core.validate_values import MAX_SIDE
from cvkit.errors import CvkitError, InvalidInputError
from cvkit.io import open_regular
from cvkit.manifest import header_to_dataset_parts, is_parquet_manifest, read_header, record_to_sample
from cvkit.stats.column_arrays import Columns, ColumnsBuilder, declared_groups
from cvkit.stats.columns_parquet import columns_from_parquet

NAN_BOX = (math.nan, math.nan, math.nan, math.nan)
FOUR = {4}


def _size(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and value else math.nan


def columns_from_dataset(dataset: Dataset, with_paths: bool = False) -> Columns:
    """Stream any :class:`Dataset` once into :class:`Columns` (category order kept, ids too)."""
    builder = ColumnsBuilder(dataset.categories.names(), [c.id for c in dataset.categories], with_paths)
    for image, sample in enumerate(track(dataset, "reading")):
        if builder.paths is not None:
            builder.paths.append(sample.path)
        builder.widths.append(_size(sample.width))
        builder.heights.append(_size(sample.height))
        builder.splits.append(builder.split_of(sample.split))
        for obj in sample.objects:
            builder.obj_image.append(image)
            builder.obj_class.append(builder.class_of(obj.label))
            box = obj.bbox if obj.bbox is not None else obj.ensure_bbox()
            builder.boxes.extend(box if box is not None else NAN_BOX)
            if obj.rle is not None or obj.polygon:
                builder.mask_area[len(builder.obj_image) - 1] = obj.area()
        for label in sample.labels:
            builder.label_image.append(image)
            builder.label_class.append(builder.class_of(label))
    # categories a streaming reader discovered while iterating come first, in their order
    final = dataset.categories.names()
    extra = [name for name in builder.class_names if name not in dataset.categories]
    columns = builder.build(dataset.source_format)
    order = final + extra
    if order != columns.class_names:
        remap = np.asarray([order.index(name) for name in columns.class_names], dtype=np.int32)
        columns.obj_class = remap[columns.obj_class] if len(columns.obj_class) else columns.obj_class
        columns.label_class = remap[columns.label_class] if len(columns.label_class) else columns.label_class
        columns.class_names = order
    columns.class_ids = [cat.id if (cat := dataset.categories.get(name)) else -1 for name in columns.class_names]
    columns.root = dataset.root
    columns.declared_groups = declared_groups(dataset.categories)
    return columns


#: LVIS's ``frequency`` letters (a category attribute, as the COCO and LVIS readers keep it)
def columns_from_manifest(path: str | Path, report: Report | None = None, with_paths: bool = False) -> Columns:
    """Fast path for manifests: orjson per line, only the fields statistics need.

    Unknown labels and values :mod:`cvkit.core.validate_values` refuses are bad records exactly as
    :func:`cvkit.manifest.read_manifest` treats them (one verdict for ``cvkit stats`` and ``cvkit convert``): a
    record that may hold one (a minus sign in its line, an object with more than a label and a box, a size that is no
    plain whole number) is checked as that reader checks it; a box value that is no number, seen only once every box
    is in, has the whole file read again with every record checked.
    """
    path = Path(path)
    if is_parquet_manifest(path):
        return columns_from_parquet(path, report, with_paths)
    report = report if report is not None else Report()
    own = Report(skip_invalid=report.skip_invalid)
    columns = _manifest_columns(Path(path), own, with_paths, check_every=False)
    if columns is None:
        own = Report(skip_invalid=report.skip_invalid)
        columns = _manifest_columns(Path(path), own, with_paths, check_every=True)
    assert columns is not None
    report.merge(own)
    report.read.categories = own.read.categories
    return columns


def _manifest_columns(path: Path, report: Report, with_paths: bool, check_every: bool) -> Columns | None:
    """One pass of :func:`columns_from_manifest`; ``check_every``: check every record's values. None when a box value
    is no number and not every record was checked."""
    header = read_header(path)
    categories, _ = header_to_dataset_parts(header)
    builder = ColumnsBuilder(categories.names(), [c.id for c in categories], with_paths)
    paths = builder.paths
    class_index = builder.class_index
    widths, heights, splits = builder.widths, builder.heights, builder.splits
    obj_image, obj_class, boxes = builder.obj_image, builder.obj_class, builder.boxes
    loads = jsonio.loads
    image = 0
    with open_regular(path) as handle:
        handle.readline()
        for number, line in enumerate(handle, start=2):
            try:
                rec = loads(line)
                objects = rec.get("objects") or ()
                try:
                    indices = [class_index[o["label"]] for o in objects]
                except KeyError:
                    indices = crowd_tolerant_classes(objects, builder)
                labels = [class_index[name] for name in rec.get("labels") or ()]
                if "image" not in rec:
                    raise ValueError("record has no 'image'")
            except jsonio.JSONDecodeError as exc:
                if not line.strip():
                    continue
                report.invalid(InvalidInputError(f"bad record ({exc})", file=path, location=f"line {number}"))
                continue
            except KeyError as exc:
                report.invalid(
                    InvalidInputError(
                        f"label {exc.args[0]!r} is not in the header's categories", file=path, location=f"line {number}"
                    )
                )
                continue
            except (AttributeError, TypeError, ValueError) as exc:
                report.invalid(InvalidInputError(f"bad record ({exc})", file=path, location=f"line {number}"))
                continue
            complete = True
            if indices:
                try:
                    object_boxes = [o["bbox"] for o in objects]
                    complete = set(map(len, object_boxes)) == FOUR
                except (KeyError, TypeError):
                    complete = False
            if (
                check_every
                or not complete
                or b"-" in line
                or not _SIMPLE_OBJECT_KEYS.issuperset(chain.from_iterable(objects))
                or not (_plain_side(rec.get("width")) and _plain_side(rec.get("height")))
            ):
                error = _value_error(rec, path, number, categories)
                if error is not None:
                    report.invalid(error)
                    continue
            if paths is not None:
                paths.append(rec["image"])
            widths.append(_size(rec.get("width")))
            heights.append(_size(rec.get("height")))
            splits.append(builder.split_of(rec.get("split")))
            if indices:
                first = len(obj_class)
                obj_class.extend(indices)
                obj_image.extend([image] * len(indices))
                if complete:
                    boxes.extend(chain.from_iterable(object_boxes))
                else:  # an object without a box (or a malformed one): one at a time
                    for obj in objects:
                        box = obj.get("bbox")
                        boxes.extend(box if isinstance(box, list) and len(box) == 4 else NAN_BOX)
                if b'"rle"' in line or b'"polygon"' in line:
                    _mask_areas(objects, first, builder.mask_area)
            if labels:
                builder.label_class.extend(labels)
                builder.label_image.extend([image] * len(labels))
            report.count_read(rec.get("split"), len(indices))
            image += 1
    report.read.categories = len(categories)
    if not check_every and not _PLAIN_NUMBERS.issuperset(map(type, boxes)):
        return None
    columns = builder.build((header.get("source") or {}).get("format"))
    columns.root = path.parent
    columns.declared_groups = declared_groups(categories)
    return columns


#: object keys that hold no value :mod:`cvkit.core.validate_values` checks beyond the box (its length and the
#: minus sign of a negative size are checked on the line; the types of its values once every box is in)
_SIMPLE_OBJECT_KEYS = frozenset(("label", "bbox", "shape", "id", "iscrowd", "group", "attributes", "meta"))
_PLAIN_NUMBERS = frozenset((int, float))


def _plain_side(value: Any) -> bool:
    """A width or height the fast path takes as it is: absent, or a plain whole number in range."""
    return value is None or (type(value) is int and 0 <= value <= MAX_SIDE)


def _value_error(rec: dict[str, Any], path: Path, number: int, categories: Any) -> InvalidInputError | None:
    """The manifest reader's error for this record's values, or None (:mod:`cvkit.core.validate_values`)."""
    try:
        validate_values.sample(record_to_sample(rec), path, f"line {number}", categories)
    except InvalidInputError as exc:
        return exc
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        return InvalidInputError(f"bad record field {exc}", file=path, location=f"line {number}")
    return None


def crowd_tolerant_classes(objects: list[dict[str, Any]], builder: ColumnsBuilder) -> list[int]:
    """Class indices of ``objects`` when some label is not in the header: a crowd/ignore region's label becomes a
    class of its own (LabelMe's ``__ignore__``), as :func:`cvkit.manifest.read_manifest` lets it through; any other
    unknown label raises KeyError naming it."""
    indices = []
    for obj in objects:
        label = obj["label"]
        if label not in builder.class_index and not obj.get("iscrowd"):
            raise KeyError(label)
        indices.append(builder.class_of(label))
    return indices


def _mask_areas(objects: list[dict[str, Any]], first: int, out: dict[int, float]) -> None:
    """Region pixels (RLE mask count, else polygon area) of ``objects`` (object ``i`` is number ``first + i``)."""
    for offset, obj in enumerate(objects):
        if isinstance(obj.get("rle"), dict):
            out[first + offset] = rle_area(obj["rle"])
        elif isinstance(obj.get("polygon"), list) and obj["polygon"]:
            out[first + offset] = polygon_area(obj["polygon"])


def columns_of_split(columns: Columns, split: str) -> Columns:
    """The images of one split (with their objects and labels) as Columns of their own: ``cvkit stats --split``."""
    if split not in columns.split_names:
        raise CvkitError(f"no images of split {split!r} (splits: {', '.join(columns.split_names) or 'none'})")
    keep = columns.image_split == columns.split_names.index(split)
    new_index = np.cumsum(keep) - 1
    objects = keep[columns.obj_image] if columns.num_objects else np.zeros(0, dtype=bool)
    labels = keep[columns.label_image] if len(columns.label_image) else np.zeros(0, dtype=bool)
    return Columns(
        class_names=columns.class_names,
        class_ids=columns.class_ids,
        split_names=columns.split_names,
        image_width=columns.image_width[keep],
        image_height=columns.image_height[keep],
        image_split=columns.image_split[keep],
        obj_image=new_index[columns.obj_image[objects]].astype(np.int32),
        obj_class=columns.obj_class[objects],
        obj_box=columns.obj_box[objects],
        obj_mask_area=columns.obj_mask_area[objects],
        label_image=new_index[columns.label_image[labels]].astype(np.int32),
        label_class=columns.label_class[labels],
        source=columns.source,
        root=columns.root,
        image_paths=[p for p, k in zip(columns.image_paths, keep) if k] if columns.image_paths is not None else None,
    )
