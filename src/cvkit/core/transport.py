"""Cheap hand-over of annotations and samples between processes.

Readers that parse on several processes send their results back to the parent through a
pipe. Pickling the slotted dataclasses of :mod:`cvkit.core.model` as they are costs more
than parsing them (docs/benchmarks.md, "Measured choices"). These functions turn them into plain
tuples of their fields and back, losslessly: a box with nothing else set travels as
``(label, bbox)``, anything else as all its fields in declaration order.
"""

from __future__ import annotations

from typing import Any

from cvkit.core.model import Annotation, Sample


def pack_annotation(obj: Annotation) -> tuple[Any, ...]:
    """The annotation as a tuple that ``Annotation(*packed)`` rebuilds."""
    if (
        obj.shape == "box"
        and obj.score is None
        and obj.id is None
        and obj.group is None
        and not (obj.polygon or obj.rle or obj.keypoints or obj.points or obj.iscrowd or obj.attributes or obj.meta)
    ):
        return (obj.label, obj.bbox)
    return (
        obj.label,
        obj.bbox,
        obj.shape,
        obj.polygon,
        obj.rle,
        obj.keypoints,
        obj.points,
        obj.iscrowd,
        obj.score,
        obj.id,
        obj.group,
        obj.attributes,
        obj.meta,
    )


def unpack_annotation(packed: tuple[Any, ...]) -> Annotation:
    return Annotation(*packed)


def pack_sample(sample: Sample) -> tuple[Any, ...]:
    """The sample, its objects packed too, as a tuple for :func:`unpack_sample`."""
    return (
        sample.path,
        sample.width,
        sample.height,
        sample.split,
        sample.labels,
        [pack_annotation(o) for o in sample.objects],
        sample.id,
        sample.attributes,
        sample.meta,
    )


def unpack_sample(packed: tuple[Any, ...]) -> Sample:
    path, width, height, split, labels, objects, sample_id, attributes, meta = packed
    return Sample(path, width, height, split, labels, [Annotation(*o) for o in objects], sample_id, attributes, meta)
