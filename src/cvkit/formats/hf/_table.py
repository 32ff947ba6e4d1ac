"""One Hugging Face Parquet shard: rows buffered, written with the ``datasets`` features in the schema metadata.

The features are written in their ``Sequence`` form, which ``datasets`` 2.x to 5.x all read (5.x turns it into
``List``). Rows are written 100 to a row group, as ``datasets`` writes image data, so a streaming reader holds
few images at a time.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from cvkit.core import jsonio
from cvkit.core.model import Sample
from cvkit.core.report import Report
from cvkit.core.training_shards import ClassNumbers

ROWS_PER_GROUP = 100


def _sequence(feature: dict[str, Any], length: int = -1) -> dict[str, Any]:
    return {"feature": feature, "length": length, "_type": "Sequence"}


def features(class_names: list[str]) -> dict[str, Any]:
    """The ``datasets.Features`` of a shard, as ``Features.to_dict()`` writes them."""
    label = {"names": list(class_names), "_type": "ClassLabel"}
    return {
        "image": {"_type": "Image"},
        "image_path": {"dtype": "string", "_type": "Value"},
        "width": {"dtype": "int32", "_type": "Value"},
        "height": {"dtype": "int32", "_type": "Value"},
        "labels": _sequence(label),
        "objects": _sequence(
            {
                "bbox": _sequence({"dtype": "float64", "_type": "Value"}, 4),
                "category": label,
                "area": {"dtype": "float64", "_type": "Value"},
                "iscrowd": {"dtype": "bool", "_type": "Value"},
            }
        ),
    }


def arrow_schema(class_names: list[str]) -> Any:
    """The Arrow schema ``datasets`` gives :func:`features` (a sequence of a dict is a struct of lists)."""
    from cvkit.manifest_parquet import pyarrow_modules

    pa, _ = pyarrow_modules()
    schema = pa.schema(
        [
            ("image", pa.struct([("bytes", pa.binary()), ("path", pa.string())])),
            ("image_path", pa.string()),
            ("width", pa.int32()),
            ("height", pa.int32()),
            ("labels", pa.list_(pa.int64())),
            (
                "objects",
                pa.struct(
                    [
                        ("bbox", pa.list_(pa.list_(pa.float64(), 4))),
                        ("category", pa.list_(pa.int64())),
                        ("area", pa.list_(pa.float64())),
                        ("iscrowd", pa.list_(pa.bool_())),
                    ]
                ),
            ),
        ]
    )
    return schema.with_metadata({"huggingface": jsonio.dumps({"info": {"features": features(class_names)}})})


#: one object a Hugging Face row can hold, as :func:`encode_objects` gives it: label, box, area, crowd, and the shape
#: its box stands for (None: a box)
Candidate = tuple[str, list[float], float, bool, str | None]


def encode_objects(sample: Sample, report: Report) -> list[Candidate]:
    """The objects with a box (runs where the shard is read); those without one count as lost here, the others'
    labels are checked against the categories where the rows are written."""
    candidates: list[Candidate] = []
    for obj in sample.objects:
        box = obj.ensure_bbox()
        if box is None:
            report.lose(
                "objects", "without a box or a category: the hf export holds boxed objects of the header's classes"
            )
            continue
        stands_for = None
        if obj.shape != "box" or obj.keypoints:
            stands_for = obj.shape if obj.shape != "box" else "keypoints"
        candidates.append((obj.label, [float(v) for v in box], float(obj.area()), bool(obj.iscrowd), stands_for))
    return candidates


class ShardTable:
    """The rows of one shard, written to ``path`` on :meth:`close`; ``class_names()`` gives the ClassLabel names
    then (every category the write has numbered by that time)."""

    def __init__(self, path: Path, class_names: Callable[[], list[str]]):
        self.path, self.class_names = path, class_names
        self.columns: dict[str, list[Any]] = {name: [] for name in arrow_schema([]).names}

    def add(
        self,
        sample: Sample,
        data: bytes,
        candidates: list[Candidate],
        numbers: ClassNumbers,
        report: Report,
    ) -> None:
        """One sample; objects of a label outside the categories, and shapes beyond boxes, count as lost."""
        boxes, categories, areas, crowd = [], [], [], []
        for label, box, area, iscrowd, stands_for in candidates:
            number = numbers.get(label)
            if number is None:
                report.lose(
                    "objects", "without a box or a category: the hf export holds boxed objects of the header's classes"
                )
                continue
            if stands_for is not None:
                report.lose(f"{stands_for} shapes", "the hf export writes their boxes only")
            boxes.append(box)
            categories.append(number)
            areas.append(area)
            crowd.append(iscrowd)
        labels = [number for label in dict.fromkeys(sample.labels) if (number := numbers.get(label)) is not None]
        row = {
            "image": {"bytes": data, "path": Path(sample.path.rsplit("#", 1)[-1]).name},
            "image_path": sample.path,
            "width": sample.width,
            "height": sample.height,
            "labels": labels,
            "objects": {"bbox": boxes, "category": categories, "area": areas, "iscrowd": crowd},
        }
        for name, value in row.items():
            self.columns[name].append(value)

    def close(self) -> None:
        from cvkit.manifest_parquet import pyarrow_modules

        pa, pq = pyarrow_modules()
        table = pa.Table.from_pydict(self.columns, schema=arrow_schema(self.class_names()))
        pq.write_table(table, self.path, row_group_size=ROWS_PER_GROUP, compression="zstd")
        self.columns = {}


def dataset_card(splits: list[str]) -> str:
    """A ``README.md`` whose YAML maps each split to its shards (``load_dataset(folder)`` reads it)."""
    files = "".join(f"  - split: {split}\n    path: data/{split}-*\n" for split in splits)
    return f"---\nconfigs:\n- config_name: default\n  data_files:\n{files}---\n\nWritten by `cvkit export --to hf`.\n"
