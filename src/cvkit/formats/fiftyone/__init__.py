"""FiftyOne directory exports: ``FiftyOneImageDetectionDataset`` (read and written) and ``FiftyOneDataset`` (read).

FiftyOneImageDetectionDataset: ``labels.json`` = ``{"classes": [...] | null, "labels": {stem: [detection]}}`` and
the images in ``data/`` named by that stem; a detection is ``{label, bounding_box: [x, y, w, h], confidence?,
attributes?}`` with the box relative to the image size (docs/coordinates.md, "FiftyOne"); with ``classes``
given, ``label`` is an index into it. FiftyOneDataset: ``samples.json`` (MongoDB extended JSON: ``$oid``,
``$date``, masks as ``$binary`` zlib-compressed ``.npy`` arrays spanning the box) and ``metadata.json``
(the dataset document): every ``Detections``/``Detection`` field becomes objects (its name kept in
``meta["fiftyone"]["field"]``), ``Classification(s)`` fields image labels, a split word among the tags the split.
"""

from __future__ import annotations

from pathlib import Path

from cvkit.core import jsonio
from cvkit.core.model import Dataset
from cvkit.core.report import Report
from cvkit.errors import InvalidInputError
from cvkit.io import open_regular

from ._common import LABELS_FILE, METADATA_FILE, SAMPLES_FILE, load_json
from ._dataset import read_dataset_export, read_sample
from ._detection import read_detection_export
from ._writer import write

__all__ = ["detect", "read", "read_sample", "write"]


def _head(path: Path) -> bytes:
    with open_regular(path) as handle:
        return jsonio.strip_bom(handle.read(4096)).lstrip()


def detect(path: Path) -> str | None:
    """A folder with FiftyOne's ``labels.json`` (classes + labels) or ``samples.json`` + ``metadata.json``."""
    if not path.is_dir():
        return None
    labels = path / LABELS_FILE
    if labels.is_file() and b'"labels"' in _head(labels) and b'"classes"' in _head(labels):
        return "FiftyOneImageDetectionDataset (labels.json with classes and labels)"
    samples = path / SAMPLES_FILE
    if samples.is_file() and (path / METADATA_FILE).is_file() and _head(samples).startswith(b'{"samples"'):
        return "FiftyOneDataset (samples.json and metadata.json)"
    return None


def read(path: Path, report: Report) -> Dataset:
    """Read either FiftyOne directory export (the folder, or its ``labels.json`` or ``samples.json``)."""
    if path.is_file() and path.name in (LABELS_FILE, SAMPLES_FILE):
        path = path.parent
    if (path / LABELS_FILE).is_file():
        return read_detection_export(path, load_json(path / LABELS_FILE), report)
    if (path / SAMPLES_FILE).is_file():
        return read_dataset_export(path, load_json(path / SAMPLES_FILE), report)
    raise InvalidInputError(
        f"no {LABELS_FILE} (FiftyOneImageDetectionDataset) or {SAMPLES_FILE} (FiftyOneDataset) here", file=path
    )
