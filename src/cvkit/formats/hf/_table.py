"""One Hugging Face Parquet shard: rows buffered, written with the ``datasets`` features in the schema metadata.

The features are written in their ``Sequence`` form, which ``datasets`` 2.x to 5.x all read (5.x turns it into
``List``). Rows are written 100 to a row group, as ``datasets`` writes image data, so a streaming reader holds
few images at a time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cvkit.core import jsonio
from cvkit.core.model import Sample
from cvkit.core.report import Report

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


class ShardTable:
    """The rows of one shard, written to ``path`` on :meth:`close`."""

    def __init__(self, path: Path, class_names: list[str]):
        self.path, self.schema = path, arrow_schema(class_names)
        self.columns: dict[str, list[Any]] = {name: [] for name in self.schema.names}

    def add(self, sample: Sample, data: bytes, numbers: dict[str, int], report: Report) -> None:
        """One sample; objects without a box or of a label outside the header, and shapes beyond boxes, count as lost."""
        boxes, categories, areas, crowd = [], [], [], []
        for obj in sample.objects:
            box = obj.ensure_bbox()
            if box is None or obj.label not in numbers:
                report.lose(
                    "objects", "without a box or a category: the hf export holds boxed objects of the header's classes"
                )
                continue
            if obj.shape != "box" or obj.keypoints:
                report.lose(
                    f"{obj.shape if obj.shape != 'box' else 'keypoints'} shapes",
                    "the hf export writes their boxes only",
                )
            boxes.append([float(v) for v in box])
            categories.append(numbers[obj.label])
            areas.append(float(obj.area()))
            crowd.append(bool(obj.iscrowd))
        labels = [numbers[label] for label in dict.fromkeys(sample.labels) if label in numbers]
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
        table = pa.Table.from_pydict(self.columns, schema=self.schema)
        pq.write_table(table, self.path, row_group_size=ROWS_PER_GROUP, compression="zstd")
        self.columns = {}


def dataset_card(splits: list[str]) -> str:
    """A ``README.md`` whose YAML maps each split to its shards (``load_dataset(folder)`` reads it)."""
    files = "".join(f"  - split: {split}\n    path: data/{split}-*\n" for split in splits)
    return f"---\nconfigs:\n- config_name: default\n  data_files:\n{files}---\n\nWritten by `cvkit export --to hf`.\n"
