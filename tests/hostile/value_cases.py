"""Datasets holding one untrusted value each, in every format cvkit reads: the cases of tests/hostile/test_values.py.

Each :class:`Case` writes a small dataset with one good item and one bad item into a folder and says which file
the error must name. The bad values are the kinds issue 15 found passing through (NaN and infinite coordinates, a
negative, boolean or 20-digit image size, a box of negative width, a 7-value polygon, RLE runs that do not cover
the image, keypoints of length 5) and their kin, in every reader: COCO, VOC, YOLO, LabelMe, MIT LabelMe,
CreateML, the manifest, labels CSV, CIFAR and MNIST.
"""

from __future__ import annotations

import json
import pickle
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hostile.voc_cases import MALFORMED, plain


@dataclass(frozen=True)
class Case:
    """``build(folder)`` writes the dataset and returns the path to convert; ``names``: the file the error names."""

    id: str
    format: str
    build: Callable[[Path], Path]
    names: str
    read_options: tuple[str, ...] = field(default=())


def _image(path: Path, width: int = 64, height: int = 48) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (width, height), (90, 120, 30)).save(path)


# --- COCO ---------------------------------------------------------------------------------
def _coco(image: dict[str, Any] | None = None, annotation: dict[str, Any] | None = None) -> Callable[[Path], Path]:
    def build(folder: Path) -> Path:
        for name in ("a.jpg", "b.jpg"):
            _image(folder / "images" / name)
        images = [
            {"id": 1, "file_name": "a.jpg", "width": 64, "height": 48},
            {"id": 2, "file_name": "b.jpg", "width": 64, "height": 48, **(image or {})},
        ]
        good = {"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 2, 10, 10], "area": 100, "iscrowd": 0}
        bad = {**good, "id": 2, "image_id": 2, **(annotation or {})}
        categories = [{"id": 1, "name": "person", "keypoints": ["nose", "eye"], "skeleton": [[1, 2]]}]
        (folder / "instances_train.json").write_text(
            json.dumps({"images": images, "annotations": [good, bad], "categories": categories})
        )
        return folder / "instances_train.json"

    return build


def _rle(size: Any, counts: Any) -> dict[str, Any]:
    return {"segmentation": {"size": size, "counts": counts}, "iscrowd": 1}


COCO_VALUES: dict[str, tuple[dict[str, Any] | None, dict[str, Any] | None]] = {
    "width_negative": ({"width": -64}, None),
    "width_true": ({"width": True}, None),
    "height_false": ({"height": False}, None),
    "width_text": ({"width": "64"}, None),
    "width_fraction": ({"width": 64.5}, None),
    "width_1e30": ({"width": 1e30}, None),
    "height_past_int32": ({"height": 2**31}, None),
    "bbox_negative_width": (None, {"bbox": [4, 5, -26, 35]}),
    "bbox_true": (None, {"bbox": [True, 5, 6, 7]}),
    "bbox_text": (None, {"bbox": ["4", 5, 6, 7]}),
    "bbox_three_values": (None, {"bbox": [4, 5, 6]}),
    "polygon_7_values": (None, {"segmentation": [[1, 2, 3, 4, 5, 6, 7]]}),
    "polygon_9_values_flat": (None, {"segmentation": [1, 2, 3, 4, 5, 6, 7, 8, 9]}),
    "polygon_two_points": (None, {"segmentation": [[1, 2, 3, 4]]}),
    "polygon_text": (None, {"segmentation": [[1, 2, 3, "x", 5, 6]]}),
    "rle_runs_short": (None, _rle([48, 64], [5, 10])),
    "rle_runs_long": (None, _rle([48, 64], [3000, 100])),
    "rle_negative_run": (None, _rle([48, 64], [3000, -5, 77])),
    "rle_fraction_run": (None, _rle([48, 64], [3000.5, 71.5])),
    "rle_garbage_string": (None, _rle([48, 64], "~~~~")),
    "rle_cut_string": (None, _rle([48, 64], "P")),
    "rle_string_wrong_total": (None, _rle([48, 64], "52")),
    "rle_size_not_the_image": (None, _rle([10, 10], [90, 10])),
    "rle_size_zero": (None, _rle([0, 64], [])),
    "rle_size_three": (None, _rle([48, 64, 3], [3072])),
    "rle_counts_object": (None, _rle([48, 64], {"a": 1})),
    "keypoints_5_values": (None, {"keypoints": [1, 2, 2, 3, 4], "num_keypoints": 2}),
    "keypoints_3_points_for_2_names": (None, {"keypoints": [1, 2, 2, 3, 4, 2, 5, 6, 2], "num_keypoints": 3}),
    "keypoints_text": (None, {"keypoints": [1, 2, 2, "3", 4, 2], "num_keypoints": 2}),
    "score_text": (None, {"score": "0.9"}),
    "score_true": (None, {"score": True}),
}


# --- VOC ----------------------------------------------------------------------------------
def _voc(data: bytes) -> Callable[[Path], Path]:
    def build(folder: Path) -> Path:
        for stem in ("a", "b"):
            _image(folder / f"{stem}.jpg")
        (folder / "a.xml").write_text(plain("a"))
        (folder / "b.xml").write_bytes(data.replace(b"<filename>a.jpg", b"<filename>b.jpg"))
        return folder

    return build


# --- YOLO ---------------------------------------------------------------------------------
def _yolo(line: str) -> Callable[[Path], Path]:
    def build(folder: Path) -> Path:
        for stem in ("a", "b"):
            _image(folder / "images" / "train" / f"{stem}.jpg")
        (folder / "labels" / "train").mkdir(parents=True)
        (folder / "labels" / "train" / "a.txt").write_text("0 0.5 0.5 0.2 0.2\n")
        (folder / "labels" / "train" / "b.txt").write_text(line + "\n")
        (folder / "data.yaml").write_text("train: images/train\nval: images/train\nnames: [cat, dog]\n")
        return folder

    return build


YOLO_LINES = {
    "cx_nan": "0 nan 0.5 0.2 0.2",
    "cy_inf": "0 0.5 inf 0.2 0.2",
    "w_negative_infinity": "0 0.5 0.5 -inf 0.2",
    "h_negative": "0 0.5 0.5 0.2 -0.5",
    "w_1e30": "0 0.5 0.5 1e30 0.2",
    "cx_text": "0 left 0.5 0.2 0.2",
    "confidence_past_one": "0 0.5 0.5 0.2 0.2 1.5",
    "four_fields": "0 0.5 0.5 0.2",
    "polygon_odd": "0 0.1 0.1 0.5 0.1 0.5 0.5 0.3",
    "class_negative": "-1 0.5 0.5 0.2 0.2",
    "class_fraction": "1.5 0.5 0.5 0.2 0.2",
    "class_past_names": "7 0.5 0.5 0.2 0.2",
    "polygon_nan": "0 0.1 0.1 0.5 nan 0.5 0.5",
}


# --- LabelMe ------------------------------------------------------------------------------
def _labelme(shape: dict[str, Any] | None = None, top: dict[str, Any] | None = None) -> Callable[[Path], Path]:
    def build(folder: Path) -> Path:
        good = {"label": "cat", "points": [[1, 2], [10, 20]], "shape_type": "rectangle", "group_id": None, "flags": {}}
        for stem, shapes in (("a", [good]), ("b", [{**good, **(shape or {})}])):
            _image(folder / f"{stem}.jpg")
            doc = {
                "version": "5.5.0",
                "flags": {},
                "shapes": shapes,
                "imagePath": f"{stem}.jpg",
                "imageData": None,
                "imageHeight": 48,
                "imageWidth": 64,
                **((top or {}) if stem == "b" else {}),
            }
            (folder / f"{stem}.json").write_text(json.dumps(doc))
        return folder

    return build


LABELME_VALUES: dict[str, tuple[dict[str, Any] | None, dict[str, Any] | None]] = {
    "points_true": ({"points": [[True, 2], [10, 20]]}, None),
    "points_text": ({"points": [["1", 2], [10, 20]]}, None),
    "points_unpaired": ({"points": [[1, 2, 3], [10, 20]]}, None),
    "rectangle_one_point": ({"points": [[1, 2]]}, None),
    "score_text": ({"score": "high"}, None),
    "image_data_text": (None, {"imageData": "aGVsbG8gd29ybGQsIG5vdCBhbiBpbWFnZQ==", "imagePath": "gone.jpg"}),
}


# --- MIT LabelMe ---------------------------------------------------------------------------
def _mit(x: str = "20", rows: str = "48") -> Callable[[Path], Path]:
    def build(folder: Path) -> Path:
        for stem, (value, nrows) in (("a", ("20", "48")), ("b", (x, rows))):
            _image(folder / f"{stem}.jpg")
            points = "".join(f"<pt><x>{px}</x><y>{py}</y></pt>" for px, py in (("1", "2"), (value, "2"), ("20", "30")))
            (folder / f"{stem}.xml").write_text(
                f"<annotation><filename>{stem}.jpg</filename><folder></folder><imagesize><nrows>{nrows}</nrows><ncols>64</ncols></imagesize>"
                f"<object><name>cat</name><deleted>0</deleted><id>0</id><polygon>{points}</polygon></object></annotation>"
            )
        return folder

    return build


MIT_VALUES = {
    "x_nan": {"x": "nan"},
    "x_inf": {"x": "inf"},
    "x_negative_infinity": {"x": "-Infinity"},
    "x_1e999": {"x": "1e999"},
    "x_text": {"x": "abc"},
    "x_empty": {"x": ""},
    "nrows_20_digits": {"rows": "99999999999999999999"},
}


# --- CreateML ------------------------------------------------------------------------------
def _createml(coordinates: dict[str, Any]) -> Callable[[Path], Path]:
    def build(folder: Path) -> Path:
        good = {"label": "cat", "coordinates": {"x": 20, "y": 20, "width": 10, "height": 10}}
        bad = {"label": "cat", "coordinates": {**good["coordinates"], **coordinates}}
        for stem in ("a", "b"):
            _image(folder / f"{stem}.jpg")
        (folder / "createml.json").write_text(
            json.dumps([{"image": "a.jpg", "annotations": [good]}, {"image": "b.jpg", "annotations": [bad]}])
        )
        return folder / "createml.json"

    return build


CREATEML_VALUES = {
    "width_negative": {"width": -5},
    "height_true": {"height": True},
    "x_text": {"x": "20"},
    "y_null": {"y": None},
    "width_list": {"width": [10]},
}


# --- manifest ------------------------------------------------------------------------------
def _manifest(obj: dict[str, Any] | None = None, record: dict[str, Any] | None = None) -> Callable[[Path], Path]:
    def build(folder: Path) -> Path:
        header = {
            "type": "header",
            "schema": "cvkit.manifest",
            "version": 1,
            "source": {"format": "test"},
            "categories": [{"id": 1, "name": "cat", "parents": []}],
        }
        good = {"label": "cat", "bbox": [4, 5, 10, 10]}
        records = [
            {"image": "a.jpg", "width": 64, "height": 48, "split": "train", "labels": [], "objects": [good]},
            {
                "image": "b.jpg",
                "width": 64,
                "height": 48,
                "split": "train",
                "labels": [],
                "objects": [{**good, **(obj or {})}],
                **(record or {}),
            },
        ]
        for name in ("a.jpg", "b.jpg"):
            _image(folder / name)
        (folder / "data.jsonl").write_text("".join(json.dumps(line) + "\n" for line in [header, *records]))
        return folder / "data.jsonl"

    return build


MANIFEST_VALUES: dict[str, tuple[dict[str, Any] | None, dict[str, Any] | None]] = {
    "bbox_negative_width": ({"bbox": [4, 5, -26, 35]}, None),
    "bbox_true": ({"bbox": [4, 5, True, 35]}, None),
    "bbox_null": ({"bbox": [None, 5, 6, 35]}, None),
    "bbox_five_values": ({"bbox": [4, 5, 6, 7, 8]}, None),
    "polygon_7_values": ({"polygon": [[1, 2, 3, 4, 5, 6, 7]]}, None),
    "polygon_two_points": ({"polygon": [[1, 2, 3, 4]]}, None),
    "polygon_empty": ({"polygon": []}, None),
    "rle_runs_short": ({"rle": {"size": [48, 64], "counts": [5, 10]}}, None),
    "rle_size_not_the_image": ({"rle": {"size": [10, 10], "counts": [90, 10]}}, None),
    "rle_garbage_string": ({"rle": {"size": [48, 64], "counts": "\u00ff\u00ff"}}, None),
    "keypoints_5_values": ({"keypoints": [1, 2, 2, 3, 4]}, None),
    "points_odd": ({"points": [1, 2, 3]}, None),
    "score_text": ({"score": "0.9"}, None),
    "width_negative": (None, {"width": -64}),
    "width_true": (None, {"width": True}),
    "height_1e30": (None, {"height": 1e30}),
}


# --- labels CSV, CIFAR, MNIST ------------------------------------------------------------------
def _labels(cell: str) -> Callable[[Path], Path]:
    def build(folder: Path) -> Path:
        for name in ("a.jpg", "b.jpg"):
            _image(folder / name)
        (folder / "synsets.txt").write_text("cat\ndog\n")
        (folder / "train.txt").write_text(f"a.jpg 0\nb.jpg {cell}\n")
        return folder / "train.txt"

    return build


def _cifar(labels: list[Any], sizes: list[Any] | None = None) -> Callable[[Path], Path]:
    def build(folder: Path) -> Path:
        import numpy as np

        src = folder / "cifar-10-batches-py"
        src.mkdir(parents=True)
        (src / "batches.meta").write_bytes(
            pickle.dumps({b"label_names": [b"airplane", b"automobile", b"bird"]}, protocol=2)
        )
        batch: dict[bytes, Any] = {
            b"labels": labels,
            b"data": np.zeros((len(labels), 3072), dtype=np.uint8),
            b"filenames": [f"i{k}.png".encode() for k in range(len(labels))],
        }
        if sizes is not None:
            batch[b"image_sizes"] = sizes
        (src / "data_batch_1").write_bytes(pickle.dumps(batch, protocol=2))
        (src / "test_batch").write_bytes(
            pickle.dumps(
                {**batch, b"labels": [0] * len(labels), b"image_sizes": [[32, 32]] * len(labels)}
                if sizes is not None
                else {**batch, b"labels": [0] * len(labels)},
                protocol=2,
            )
        )
        return src

    return build


CIFAR_VALUES: dict[str, tuple[list[Any], list[Any] | None]] = {
    "label_fraction": ([0, 1.5], None),
    "label_true": ([0, True], None),
    "label_text": ([0, "1"], None),
    "label_past_classes": ([0, 3], None),
    "label_negative": ([0, -1], None),
    "label_nan": ([0, float("nan")], None),
    "image_size_negative": ([0, 1], [[32, 32], [-32, -32]]),
}


def _mnist_npz(x_train: Callable[[], Any], y_train: Callable[[], Any]) -> Callable[[Path], Path]:
    def build(folder: Path) -> Path:
        import numpy as np

        src = folder / "keras"
        src.mkdir()
        np.savez(
            src / "mnist.npz",
            x_train=x_train(),
            y_train=y_train(),
            x_test=np.zeros((2, 28, 28), np.uint8),
            y_test=np.array([1, 2], np.uint8),
        )
        return src / "mnist.npz"

    return build


def _object_images() -> Any:
    import numpy as np

    images = np.empty(2, dtype=object)
    images[:] = [np.zeros((28, 28), np.uint8), np.zeros((28, 28), np.uint8)]
    return images


def _np(value: Any, dtype: str) -> Callable[[], Any]:
    def make() -> Any:
        import numpy as np

        return np.array(value, dtype=dtype)

    return make


MNIST_VALUES = {
    "x_train_object_array": (_object_images, _np([1, 2], "uint8")),
    "x_train_floats": (lambda: __import__("numpy").zeros((2, 28, 28), "float32"), _np([1, 2], "uint8")),
    "y_train_past_classes": (_np([[[0] * 28] * 28] * 2, "uint8"), _np([1, 12], "uint8")),
    "y_train_negative": (_np([[[0] * 28] * 28] * 2, "uint8"), _np([1, -1], "int8")),
    "pixels_past_255": (_np([[[300] * 28] * 28] * 2, "int32"), _np([1, 2], "uint8")),
}


def all_cases() -> list[Case]:
    """Every case, each with its own id (``reader-value``)."""
    cases = [Case(f"coco-{k}", "coco", _coco(*v), "instances_train.json") for k, v in COCO_VALUES.items()]
    cases += [Case(f"voc-{k}", "voc", _voc(v), "b.xml") for k, v in MALFORMED.items()]
    cases += [Case(f"yolo-{k}", "yolo", _yolo(v), "b.txt") for k, v in YOLO_LINES.items()]
    cases += [Case(f"labelme-{k}", "labelme", _labelme(*v), "b.json") for k, v in LABELME_VALUES.items()]
    cases += [Case(f"labelme_mit-{k}", "labelme_mit", _mit(**v), "b.xml") for k, v in MIT_VALUES.items()]
    cases += [Case(f"createml-{k}", "createml", _createml(v), "createml.json") for k, v in CREATEML_VALUES.items()]
    cases += [Case(f"manifest-{k}", "manifest", _manifest(*v), "data.jsonl") for k, v in MANIFEST_VALUES.items()]
    cases += [
        Case(f"labels-{k}", "labels", _labels(v), "train.txt")
        for k, v in {"index_past_synsets": "7", "index_huge": "9" * 30}.items()
    ]
    cases += [Case(f"cifar-{k}", "cifar", _cifar(*v), "data_batch_1") for k, v in CIFAR_VALUES.items()]
    cases += [Case(f"mnist-{k}", "mnist", _mnist_npz(*v), "mnist.npz") for k, v in MNIST_VALUES.items()]
    return cases
