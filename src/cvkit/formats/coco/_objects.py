"""COCO annotation records -> :class:`~cvkit.core.model.Annotation`: boxes, polygons, RLE, keypoints, captions and
panoptic segments, checked one record at a time (the reading half of :mod:`cvkit.formats.coco`).

These functions run once per annotation, 500,000 times on the benchmark's file: plain boxes take a short path,
checks are C-level set operations, and an error's JSON path is built only when there is one.
"""

from __future__ import annotations

from collections.abc import Iterable
from operator import itemgetter
from pathlib import Path
from typing import Any

from cvkit.core import validate_values
from cvkit.core.model import Annotation, Sample
from cvkit.core.report import Report
from cvkit.errors import InvalidInputError

from ._panoptic import is_panoptic, panoptic_objects

ANN_KEYS = (
    "id",
    "image_id",
    "category_id",
    "bbox",
    "segmentation",
    "area",
    "iscrowd",
    "keypoints",
    "num_keypoints",
    "attributes",
    "score",
)
_NUMBER_TYPES = frozenset((int, float))
_ANN_KEY_SET = frozenset(ANN_KEYS)
#: the keys of a plain box annotation, the common case :func:`add_annotations` reads on its own
_BOX_ANN_KEYS = frozenset(("id", "image_id", "category_id", "bbox", "segmentation", "area", "iscrowd"))
_BOX_ANN_KEY_COUNT = len(_BOX_ANN_KEYS)
_box_fields = itemgetter("id", "category_id", "bbox", "segmentation", "area", "iscrowd")


def _polygons(seg: Any, i: int, file: Path, report: Report) -> list[list[float]]:
    """A non-empty polygon ``segmentation``: ``[[x1, y1, ...], ...]``, or one flat ``[x1, y1, ...]``
    (supervision 0.13's ``as_coco`` wrote it so); anything else is an error naming the JSON path.

    A ring of fewer than 3 points beside good ones is dropped and counted, as detectron2 drops it (real
    datasets have such slivers); an annotation with no good ring is an error, and so is a ring of odd length or
    with a value that is no finite number."""
    if isinstance(seg, list):
        rings = [seg] if type(seg[0]) in _NUMBER_TYPES else seg
        try:
            parts = [list(map(float, p)) for p in rings if len(p) >= 6]
        except (TypeError, ValueError):
            parts = None
        if parts is not None:
            for k, ring in enumerate(rings):  # an odd ring, or a value float() took that is no number ("3", true)
                if len(ring) >= 6 and (len(ring) % 2 or not _NUMBER_TYPES.issuperset(map(type, ring))):
                    validate_values.polygon_part(ring, file, f"annotations[{i}].segmentation[{k}]")
            if not parts:
                raise InvalidInputError(
                    "polygon with fewer than 3 points", file=file, location=f"annotations[{i}].segmentation"
                )
            if len(parts) != len(rings):
                report.lose(
                    "polygon ring with fewer than 3 points",
                    "dropped from an annotation that has other rings (as detectron2 does)",
                    len(rings) - len(parts),
                )
            return parts
    raise InvalidInputError(
        f"segmentation must be polygons [[x1, y1, ...], ...] or RLE {{counts, size}}, got {seg!r}",
        file=file,
        location=f"annotations[{i}].segmentation",
    )


def _annotation(
    ann: dict[str, Any],
    i: int,
    file: Path,
    label: str,
    report: Report,
    size: tuple[int | None, int | None] = (None, None),
    keypoint_names: list[Any] | None = None,
) -> Annotation | None:
    """One COCO annotation; None when it has no geometry (an image-level label). ``size``: the image's (width,
    height), which an RLE mask must match; ``keypoint_names``: the category's, which keypoints must match.

    Called once per annotation (millions in big files): checks are C-level set operations and the JSON path
    of an error is only built when there is one. :func:`add_annotations` reads plain boxes on its own.
    """
    get = ann.get
    score = validate_values.score(get("score"), file, f"annotations[{i}].score")
    obj = Annotation(label, id=get("id"), iscrowd=bool(get("iscrowd", 0)), score=score)
    bbox = get("bbox")
    if bbox is not None:
        if not (type(bbox) is list and len(bbox) == 4 and _NUMBER_TYPES.issuperset(map(type, bbox))):
            raise InvalidInputError(
                f"bbox must be 4 numbers [x, y, width, height], got {bbox!r}",
                file=file,
                location=f"annotations[{i}].bbox",
            )
        x, y, w, h = bbox
        if w < 0 or h < 0:
            raise InvalidInputError(
                f"bbox has a negative width or height: {bbox!r}", file=file, location=f"annotations[{i}].bbox"
            )
        obj.bbox = (float(x), float(y), float(w), float(h))
    seg = get("segmentation")
    if seg:
        if isinstance(seg, dict):
            width, height = size
            obj.rle = validate_values.rle(seg, file, f"annotations[{i}].segmentation", height, width)
            obj.shape = "mask"
        else:
            obj.polygon, obj.shape = _polygons(seg, i, file, report), "polygon"
    if get("keypoints"):
        where = f"annotations[{i}].keypoints"
        obj.keypoints = validate_values.keypoints(ann["keypoints"], file, where, keypoint_names)
        if obj.shape == "box" and obj.bbox is None:
            obj.shape = "keypoints"
    if obj.bbox is None:
        if obj.polygon is None and obj.rle is None and obj.keypoints is None:
            return None
        obj.ensure_bbox()
    attributes = get("attributes")
    if isinstance(attributes, dict):
        obj.attributes = dict(attributes)
    extra = {k: v for k, v in ann.items() if k not in _ANN_KEY_SET} if not _ANN_KEY_SET.issuperset(ann) else {}
    if "area" in ann:
        extra["area"] = ann["area"]
    if extra:
        obj.meta["coco"] = extra
    return obj


def add_annotations(
    sample: Sample,
    indices: Iterable[int],
    annotations: list[Any],
    names: dict[int, str],
    special: bool,
    file: Path,
    report: Report,
    keypoint_names: dict[int, list[Any]] | None = None,
) -> None:
    """Give ``sample`` the annotations ``annotations[i]`` of ``indices``: objects, image-level labels and, in a
    captions or panoptic file (``special``), captions and segments. A bad annotation is reported and left out.
    ``keypoint_names``: category id -> its keypoint names, for the categories that name them.

    A plain box (exactly the seven keys pycocotools writes, no segmentation, four numbers, not negative) is read
    here in one step, fields taken by one ``itemgetter`` and given to ``Annotation`` positionally: the same
    object :func:`_annotation` builds, at half its cost (this loop runs 500,000 times on a 500,000-box file).
    """
    objects = sample.objects
    for i in indices:
        ann = annotations[i]
        if type(ann) is dict and len(ann) == _BOX_ANN_KEY_COUNT and _BOX_ANN_KEYS.issuperset(ann):
            ann_id, cat_id, bbox, seg, area, crowd = _box_fields(ann)
            label = names.get(cat_id)
            if label is not None and not seg and type(bbox) is list and len(bbox) == 4:
                x, y, w, h = bbox
                if (
                    type(x) in _NUMBER_TYPES
                    and type(y) in _NUMBER_TYPES
                    and type(w) in _NUMBER_TYPES
                    and type(h) in _NUMBER_TYPES
                    and w >= 0 <= h
                ):
                    objects.append(
                        Annotation(
                            label,
                            (float(x), float(y), float(w), float(h)),
                            "box",
                            None,
                            None,
                            None,
                            None,
                            bool(crowd),
                            None,
                            ann_id,
                            None,
                            {},
                            {"coco": {"area": area}},
                        )
                    )
                    continue
        if special:
            caption = ann.get("caption")
            if isinstance(caption, str) and "bbox" not in ann and "segmentation" not in ann:  # a caption
                sample.attributes.setdefault("captions", []).append(caption)
                continue
            if is_panoptic(ann):  # one record per image, segments in a PNG
                sample.objects.extend(panoptic_objects(ann, i, file, names, (sample.width, sample.height), report))
                continue
        label = names.get(ann.get("category_id"))  # type: ignore[arg-type]
        if label is None:
            report.invalid(
                InvalidInputError(
                    f"unknown category id {ann.get('category_id')!r}",
                    file=file,
                    location=f"annotations[{i}].category_id",
                )
            )
            continue
        try:
            obj = _annotation(
                ann,
                i,
                file,
                label,
                report,
                (sample.width, sample.height),
                keypoint_names.get(ann["category_id"]) if keypoint_names else None,
            )
        except InvalidInputError as exc:
            report.invalid(exc)
            continue
        if obj is None:
            sample.labels.append(label)
        else:
            sample.objects.append(obj)


def group_by_image(annotations: list[Any], file: Path, report: Report) -> dict[Any, list[int]]:
    """image id -> indices of its annotations (plain ints: cheaper than (index, dict) tuples, docs/benchmarks.md)."""
    by_image: dict[Any, list[int]] = {}
    for i, ann in enumerate(annotations):
        try:
            image_id = ann["image_id"]
        except (KeyError, TypeError):
            report.invalid(InvalidInputError("annotation needs an 'image_id'", file=file, location=f"annotations[{i}]"))
            continue
        if isinstance(image_id, (list, dict)):  # JSON's unhashable values: not an id
            report.invalid(
                InvalidInputError(
                    "image_id must be a number or a string", file=file, location=f"annotations[{i}].image_id"
                )
            )
            continue
        indices = by_image.get(image_id)
        if indices is None:
            by_image[image_id] = [i]
        else:
            indices.append(i)
    return by_image
