"""The format registry: one module per external format, registered here by one line.

A format module provides (see docs/formats.md, "Adding a format"):

- ``detect(path: Path) -> str | None``: a short reason when ``path`` looks like this format;
- ``read(path: Path, report: Report, **options) -> Dataset`` (when ``can_read``);
- ``write(dataset: Dataset, path: Path, report: Report, **options) -> None`` (when ``can_write``):
  writes into ``path`` (a file or a folder the caller made atomic) and records in
  ``report`` everything the format cannot hold.

Modules are imported only when used, so ``cvkit --help`` stays fast. Formats never
import each other, only :mod:`cvkit.core`, except a format that ``refines`` another (LVIS is COCO plus
keys): it builds on that format's public ``read``/``write`` and wins detection when both match.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType

from cvkit.errors import CvkitError

#: What a format can hold; ``cvkit formats`` shows these columns.
CAPABILITIES = (
    "boxes",
    "polygons",
    "masks",
    "keypoints",
    "points",
    "image_labels",
    "attributes",
    "hierarchy",
    "splits",
)


@dataclass(frozen=True, slots=True)
class FormatSpec:
    """Registry entry: the name users type, what it holds, and where its code lives."""

    name: str
    title: str
    module: str
    holds: frozenset[str]
    aliases: tuple[str, ...] = ()
    can_read: bool = True
    can_write: bool = True
    #: destination suffixes that mean "write one file" (else the destination is a folder)
    file_suffixes: tuple[str, ...] = ()
    #: appears in generated ``cvkit convert A2B`` aliases under this short name
    short: str | None = None
    #: a format this one specialises (LVIS is COCO with more keys): when both detect an input, this one is meant
    refines: str | None = None

    def load(self) -> ModuleType:
        return importlib.import_module(self.module)


def _spec(name: str, title: str, holds: str, **kw: object) -> FormatSpec:
    return FormatSpec(name, title, f"cvkit.formats.{kw.pop('module', name)}", frozenset(holds.split()), **kw)  # type: ignore[arg-type]


REGISTRY: dict[str, FormatSpec] = {}


def register(spec: FormatSpec) -> FormatSpec:
    """Add a format (also the hook for third-party formats)."""
    for key in (spec.name, *spec.aliases):
        REGISTRY[key] = spec
    return spec


# --- registrations: one line per format --------------------------------------------
ALL = "boxes polygons masks keypoints points image_labels attributes hierarchy splits"
register(
    _spec(
        "manifest", "cvkit JSONL manifest", ALL, module="manifest_format", file_suffixes=(".jsonl",), aliases=("jsonl",)
    )
)
register(
    _spec(
        "voc",
        "Pascal VOC XML (devkit, flat folders, Roboflow splits)",
        "boxes attributes splits",
        aliases=("pascal_voc", "pascalvoc", "labelimg_voc"),
    )
)
register(
    _spec(
        "coco",
        "COCO JSON (instances, keypoints, panoptic, stuff, captions, image_info, results)",
        "boxes polygons masks keypoints attributes hierarchy splits",
        file_suffixes=(".json",),
    )
)
register(
    _spec(
        "labelme",
        "LabelMe desktop JSON, versions 3-5 (one JSON per image)",
        "boxes polygons masks points image_labels attributes",
    )
)
register(
    _spec(
        "labelme_mit",
        "MIT LabelMe web tool XML (polygons, boxes, masks, points, lines, parts)",
        "boxes polygons masks points attributes splits",
        aliases=("labelme_xml", "mit_labelme"),
        short="labelmemit",
    )
)
register(
    _spec(
        "imagenet",
        "ImageNet ILSVRC2012 (WNID folders, val + devkit, box XMLs)",
        "boxes image_labels attributes hierarchy splits",
        can_write=False,
    )
)
register(
    _spec(
        "imagenet_kaggle",
        "ImageNet Kaggle layout (LOC_*.csv)",
        "boxes image_labels splits",
        module="imagenet.kaggle",
        can_write=False,
    )
)
register(
    _spec(
        "imagenet21k",
        "ImageNet-21k synset folders and tars",
        "image_labels",
        module="imagenet.in21k",
        can_write=False,
        aliases=("imagenet22k",),
    )
)
register(
    _spec(
        "imagefolder",
        "Class-per-folder tree (torchvision ImageFolder)",
        "image_labels splits",
        aliases=("image_folder",),
    )
)
register(
    _spec(
        "cifar",
        "CIFAR-10/100 pickle and binary batches",
        "image_labels hierarchy splits",
        can_write=False,
        aliases=("cifar10", "cifar100"),
    )
)
register(
    _spec(
        "mnist",
        "MNIST / Fashion-MNIST / EMNIST / KMNIST IDX files, MNIST CSV rows, Keras mnist.npz",
        "image_labels splits",
        can_write=False,
        aliases=("mnist_csv", "fashion_mnist"),
    )
)
register(
    _spec(
        "labels",
        "Image label lists",
        "image_labels splits",
        module="labels_list",
        file_suffixes=(".csv", ".txt"),
        aliases=("imagenet_txt",),
    )
)
register(
    _spec(
        "yolo",
        "YOLO txt labels (Ultralytics data.yaml, darknet obj.data, LabelImg classes.txt)",
        "boxes polygons keypoints splits",
        aliases=("ultralytics", "darknet", "yolo_txt", "labelimg_yolo"),
        short="yolo",
    )
)
register(
    _spec(
        "cvat",
        "CVAT for images / for video 1.1 XML (annotations.xml or the export zip)",
        "boxes polygons masks keypoints points image_labels attributes splits",
        file_suffixes=(".xml",),
        short="cvat",
    )
)
register(
    _spec(
        "label_studio",
        "Label Studio JSON export (full and JSON-MIN) of image tasks; import files",
        "boxes polygons masks points image_labels attributes",
        file_suffixes=(".json",),
        aliases=("labelstudio", "ls"),
        short="labelstudio",
    )
)
register(
    _spec(
        "createml",
        "Apple CreateML JSON (also LabelImg's CreateML mode)",
        "boxes",
        file_suffixes=(".json",),
        aliases=("create_ml", "labelimg_createml"),
        short="createml",
    )
)
register(
    _spec(
        "parquet",
        "cvkit manifest as Parquet (columns; pyarrow)",
        ALL,
        module="manifest_parquet",
        file_suffixes=(".parquet", ".pq"),
        aliases=("manifest_parquet",),
    )
)
register(
    _spec(
        "webdataset",
        "WebDataset tar shards for training (image + .json + .cls per sample)",
        ALL,
        can_read=False,
        aliases=("wds",),
    )
)
register(
    _spec(
        "hf",
        "Hugging Face datasets Parquet shards (Image, ClassLabel, boxes)",
        "boxes image_labels splits",
        can_read=False,
        aliases=("huggingface", "hf_parquet"),
    )
)
register(
    _spec(
        "lvis",
        "LVIS v0.5/v1 JSON (COCO plus frequency groups, synsets, federated negatives)",
        "boxes polygons masks attributes splits",
        file_suffixes=(".json",),
        refines="coco",
    )
)
register(
    _spec(
        "kitti",
        "KITTI object detection (label_2/ with 3-D fields, image_2/, calib/)",
        "boxes attributes splits",
        aliases=("kitti_detection", "kitti_object"),
    )
)
register(
    _spec(
        "fiftyone",
        "FiftyOne exports: FiftyOneImageDetectionDataset (read/write); FiftyOneDataset read (+ masks, labels, tag "
        "splits)",
        "boxes attributes",
        aliases=("fiftyone_detection", "fiftyone_dataset"),
        short="fiftyone",
    )
)
register(
    _spec(
        "open_images",
        "Open Images V6/V7 CSVs (boxes, human image labels, masks, 600-class hierarchy), read-only",
        "boxes masks image_labels attributes hierarchy splits",
        can_write=False,
        aliases=("openimages", "oid"),
    )
)


def get_format(name: str) -> FormatSpec:
    """Look up a format by name or alias; the error lists what exists."""
    spec = REGISTRY.get(name.lower())
    if spec is None:
        raise CvkitError(f"unknown format {name!r}; known formats: {', '.join(format_names())}")
    return spec


def format_names() -> list[str]:
    """Canonical names of every registered format, in registration order."""
    return list(dict.fromkeys(spec.name for spec in REGISTRY.values()))


def all_formats() -> list[FormatSpec]:
    return [get_format(name) for name in format_names()]
