"""``cvkit.to_fiftyone(dataset)`` and ``cvkit.from_fiftyone(view)``: a dataset into FiftyOne's App and back.

FiftyOne (the optional extra ``cvkit[fiftyone]``; it runs a MongoDB) is imported only when these are called.
Objects become one ``Detections`` field (boxes relative to the image size, masks cropped to their box as FiftyOne
keeps them, the score as ``confidence``, attributes as fields), image labels a ``Classifications`` field and the
split a sample tag. Coming back, each sample is taken through ``to_dict(include_private=True)``, the document form a
FiftyOneDataset export holds, and read as :mod:`cvkit.formats.fiftyone` reads that export.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cvkit.core.categories import CategorySet
from cvkit.core.imageinfo import known_size
from cvkit.core.masks import decode
from cvkit.core.model import Annotation, Dataset, Sample
from cvkit.errors import CvkitError, InvalidInputError
from cvkit.formats.fiftyone._dataset import read_sample


def _fiftyone() -> Any:
    try:
        import fiftyone
    except ImportError:
        raise CvkitError("FiftyOne is not installed; pip install 'cvkit[fiftyone]'") from None
    return fiftyone


def _detection(fo: Any, obj: Annotation, width: int, height: int) -> Any:
    x, y, w, h = obj.bbox if obj.bbox is not None else obj.ensure_bbox()  # type: ignore[misc]
    fields: dict[str, Any] = {str(k): v for k, v in obj.attributes.items()}
    if obj.rle is not None:
        x0, y0 = round(x), round(y)
        fields["mask"] = decode(obj.rle)[y0 : max(round(y + h), y0 + 1), x0 : max(round(x + w), x0 + 1)].astype(bool)
    if obj.iscrowd:
        fields["iscrowd"] = 1
    return fo.Detection(
        label=obj.label, bounding_box=[x / width, y / height, w / width, h / height], confidence=obj.score, **fields
    )


def to_fiftyone(
    dataset: Dataset, name: str | None = None, label_field: str = "ground_truth", persistent: bool = False
) -> Any:
    """A new FiftyOne dataset holding ``dataset``'s images (by absolute path), objects, image labels and splits."""
    fo = _fiftyone()
    samples = []
    for sample in dataset:
        image = sample.resolve(dataset.root).resolve()
        size = known_size(sample, dataset.root)
        if size is None:
            raise InvalidInputError("image not found: FiftyOne's relative boxes need its size", file=image)
        fo_sample = fo.Sample(filepath=str(image), tags=[sample.split] if sample.split else [])
        fo_sample[label_field] = fo.Detections(
            detections=[_detection(fo, o, *size) for o in sample.objects if o.ensure_bbox() is not None]
        )
        if sample.labels:
            fo_sample[f"{label_field}_labels"] = fo.Classifications(
                classifications=[fo.Classification(label=label) for label in sample.labels]
            )
        samples.append(fo_sample)
    result = fo.Dataset(name, persistent=persistent)
    result.add_samples(samples)
    result.default_classes = dataset.categories.names()
    return result


def from_fiftyone(view: Any) -> Dataset:
    """A cvkit dataset of a FiftyOne dataset or view: every Detection(s) field as objects, Classification(s) as
    labels."""
    categories = CategorySet()
    for label in getattr(view, "default_classes", None) or []:
        categories.ensure(label)
    samples: list[Sample] = [
        read_sample(s.to_dict(include_private=True), n, Path("/"), Path("<fiftyone>"), categories)
        for n, s in enumerate(view)
    ]
    return Dataset(samples, categories, root=Path("/"), source_format="fiftyone")
