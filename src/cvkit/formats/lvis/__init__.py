"""LVIS v0.5 / v1 JSON: COCO instances plus LVIS's category statistics and federated image fields.

LVIS is COCO's instances layout (read and written through :mod:`cvkit.formats.coco`'s public ``read`` and
``write``) with, per category, ``frequency`` (``r``/``c``/``f``), ``image_count``, ``instance_count``,
``synset``, ``synonyms`` and ``def``, and per image the federated fields ``neg_category_ids`` and
``not_exhaustive_category_ids`` (v1 also names images by ``coco_url`` alone, with no ``file_name``).
Category fields stay category attributes and image fields the image's ``meta["coco"]``, as COCO keeps any
extra key; this package adds detection, the LVIS-shaped output and the fields LVIS's evaluation needs.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from cvkit.core import jsonio
from cvkit.core.model import Dataset
from cvkit.core.report import Report
from cvkit.errors import CvkitError, InvalidInputError
from cvkit.formats import coco
from cvkit.io import files_in, open_regular, rewrite_own_file

__all__ = ["detect", "frequency_of", "read", "write"]

#: LVIS's category frequency groups: at most 10 training images is rare, at most 100 common (the LVIS paper)
RARE_MAX_IMAGES, COMMON_MAX_IMAGES = 10, 100
FREQUENCY_NAMES = {"r": "rare", "c": "common", "f": "frequent"}
_LVIS_KEYS = re.compile(rb'"(frequency|synset|neg_category_ids|not_exhaustive_category_ids)"\s*:')
#: how far into a file detection looks for an LVIS key (categories come first in LVIS's own files)
HEAD_BYTES = 1 << 16


def _is_lvis_file(path: Path) -> bool:
    if path.suffix.lower() != ".json" or not path.is_file():
        return False
    with open_regular(path) as handle:
        head = jsonio.strip_bom(handle.read(HEAD_BYTES)).lstrip()
    return head.startswith(b"{") and bool(_LVIS_KEYS.search(head)) and coco.detect(path) is not None


def _lvis_files(path: Path) -> list[Path]:
    folder = path / "annotations" if (path / "annotations").is_dir() else path
    return [p for p in files_in(folder, ".json", limit=16) if _is_lvis_file(p)]


def detect(path: Path) -> str | None:
    """A COCO JSON (or a folder of them) whose categories or images carry LVIS's keys."""
    if path.is_file():
        return "a COCO JSON with LVIS keys (frequency, synset, neg_category_ids)" if _is_lvis_file(path) else None
    if path.is_dir():
        found = _lvis_files(path)
        return f"LVIS annotation files ({', '.join(p.name for p in found[:3])})" if found else None
    return None


def read(path: Path, report: Report) -> Dataset:
    """Read LVIS as COCO (one file, or a folder with ``lvis_v1_train.json``/``annotations/*.json``)."""
    dataset = coco.read(path, report)
    dataset.source_format = "lvis"
    return dataset


def frequency_of(image_count: int) -> str:
    """LVIS's group letter for a category seen in ``image_count`` images."""
    return "r" if image_count <= RARE_MAX_IMAGES else "c" if image_count <= COMMON_MAX_IMAGES else "f"


def _url_name(url: Any) -> str | None:
    return "/".join(url.rsplit("/", 2)[-2:]) if isinstance(url, str) else None


def _lvis_shape(doc: dict[str, Any], source_info: Any) -> dict[str, Any]:
    """COCO's output made LVIS's: no empty ``supercategory`` or ``iscrowd: 0`` (LVIS has neither), no
    ``file_name`` where ``coco_url`` names the image (v1), the federated fields LVIS's evaluation reads and the
    category statistics (counted here when the source had none), the source's ``info`` as it was."""
    if isinstance(source_info, dict):
        doc["info"] = source_info
    images_of: dict[Any, set[Any]] = {}
    instances: dict[Any, int] = {}
    for ann in doc.get("annotations", []):
        if ann.get("iscrowd") == 0:
            del ann["iscrowd"]
        images_of.setdefault(ann.get("category_id"), set()).add(ann.get("image_id"))
        instances[ann.get("category_id")] = instances.get(ann.get("category_id"), 0) + 1
    for image in doc.get("images", []):
        url_name = _url_name(image.get("coco_url"))
        if (
            url_name is not None
            and isinstance(image.get("file_name"), str)
            and url_name.endswith(image["file_name"].rsplit("/", 1)[-1])
        ):
            del image["file_name"]
        image.setdefault("neg_category_ids", [])
        image.setdefault("not_exhaustive_category_ids", [])
    for category in doc.get("categories", []):
        if category.get("supercategory") == "":
            del category["supercategory"]
        seen = len(images_of.get(category["id"], ()))
        category.setdefault("image_count", seen)
        category.setdefault("instance_count", instances.get(category["id"], 0))
        category.setdefault("frequency", frequency_of(category["image_count"]))
    return doc


def write(dataset: Dataset, path: Path, report: Report, images: str = "reference") -> None:
    """One LVIS JSON (``path`` ending in .json) or ``annotations/instances_<split>.json`` in a folder:
    COCO's writer, then the records reshaped as LVIS writes them (:func:`_lvis_shape`)."""
    coco.write(dataset, path, report, images=images, task="instances")
    coco_info = dataset.info.get("coco") if isinstance(dataset.info.get("coco"), dict) else {}
    source_info = coco_info.get("info") if dataset.source_format == "lvis" else None  # known once the samples were read
    targets = [path] if path.suffix.lower() == ".json" else sorted((path / "annotations").glob("instances_*.json"))
    for target in targets:
        data = target.read_bytes()
        try:
            doc = jsonio.loads(data)
        except jsonio.JSONDecodeError as exc:  # COCO's own output: cannot happen unless the disk lies
            raise InvalidInputError(f"malformed JSON: {exc}", file=target) from None
        if not isinstance(doc, dict):
            raise CvkitError("the COCO writer gave no JSON object", file=target)
        rewrite_own_file(target, jsonio.dumps(_lvis_shape(doc, source_info)))
