"""Samples handed between processes as tuples (cvkit.core.transport) come back equal, field by field."""

from __future__ import annotations

import dataclasses
import pickle

from cvkit.core.model import Annotation, Sample
from cvkit.core.transport import pack_annotation, pack_sample, unpack_annotation, unpack_sample


def every_field_set() -> Annotation:
    """An annotation with no field at its default, so a field order mistake cannot go unnoticed."""
    return Annotation(
        label="cat",
        bbox=(1.0, 2.0, 3.0, 4.0),
        shape="polygon",
        polygon=[[1.0, 2.0, 4.0, 2.0, 4.0, 6.0]],
        rle={"size": [8, 8], "counts": "abc"},
        keypoints=[1.0, 2.0, 2.0],
        points=[5.0, 6.0],
        iscrowd=True,
        score=0.5,
        id=7,
        group=3,
        attributes={"occluded": True},
        meta={"coco": {"area": 12.0}},
    )


def test_every_field_survives_packing():
    defaults = Annotation("x")
    obj = every_field_set()
    assert all(getattr(obj, f.name) != getattr(defaults, f.name) for f in dataclasses.fields(Annotation))
    assert unpack_annotation(pickle.loads(pickle.dumps(pack_annotation(obj)))) == obj


def test_a_plain_box_travels_as_label_and_box():
    obj = Annotation("dog", (0.0, 0.0, 5.0, 5.0))
    assert pack_annotation(obj) == ("dog", (0.0, 0.0, 5.0, 5.0))
    assert unpack_annotation(pack_annotation(obj)) == obj
    crowd = Annotation("dog", (0.0, 0.0, 5.0, 5.0), iscrowd=True)
    assert unpack_annotation(pack_annotation(crowd)) == crowd  # anything set beyond the box keeps every field


def test_samples_survive_packing():
    sample = Sample(
        "a/b.jpg",
        640,
        480,
        "val",
        labels=["indoor"],
        objects=[every_field_set(), Annotation("dog", (0.0, 0.0, 1.0, 1.0))],
        id=12,
        attributes={"weather": "rain"},
        meta={"labelme": {"version": "5.0.1"}},
    )
    assert all(getattr(sample, f.name) != getattr(Sample("x"), f.name) for f in dataclasses.fields(Sample))
    assert unpack_sample(pickle.loads(pickle.dumps(pack_sample(sample)))) == sample
