"""Label Studio JSON exports of image tasks (the full export and JSON-MIN), and import files for it.

Read: ``rectanglelabels`` (rotated ones as 4-corner polygons), ``polygonlabels``, ``keypointlabels``,
``ellipselabels``, ``brushlabels`` (Label Studio's RLE), ``choices`` as image-level labels, per-region
``choices``/``textarea``/``number`` as attributes, every annotation and prediction of a task (scores kept),
coordinates in percent of ``original_width``/``original_height``, image references as Label Studio writes them
resolved under ``-r image_root=DIR``. Written: an import file of tasks with annotations (``-w as=predictions`` for
model output) and, for a folder destination, the labeling config declaring its controls. See docs/formats.md.
"""

from __future__ import annotations

from pathlib import Path

from cvkit.core import jsonio
from cvkit.errors import InvalidInputError
from cvkit.formats.label_studio._reader import read
from cvkit.formats.label_studio._writer import write
from cvkit.io import open_regular

__all__ = ["detect", "read", "write"]

READ_OPTIONS = ("image_root", "image_key")
WRITE_OPTIONS = ("as", "images", "url_prefix")

_MIN_REGION_KEYS = (b'"rectanglelabels"', b'"polygonlabels"', b'"keypointlabels"', b'"brushlabels"', b'"ellipselabels"')


def _is_export(path: Path) -> bool:
    """A JSON list (or one task) with Label Studio's ``data`` + ``annotations``/``predictions``, or JSON-MIN
    records (``annotation_id`` beside region lists)."""
    try:
        with open_regular(path) as handle:  # a FIFO named x.json is passed over, not waited on
            head = jsonio.strip_bom(handle.read(1 << 16)).lstrip()
    except (OSError, InvalidInputError):
        return False
    if not head.startswith((b"[", b"{")):
        return False
    task = b'"data"' in head and any(key in head for key in (b'"annotations"', b'"predictions"', b'"completions"'))
    minimal = b'"annotation_id"' in head and (any(key in head for key in _MIN_REGION_KEYS) or b'"annotator"' in head)
    return task or minimal


def detect(path: Path) -> str | None:
    if path.is_file():
        return (
            "a Label Studio JSON export (tasks with data + annotations, or JSON-MIN)"
            if path.suffix.lower() == ".json" and _is_export(path)
            else None
        )
    if path.is_dir():
        files = sorted(path.glob("*.json"))[:3]
        if files and all(_is_export(p) for p in files):
            return f"a folder of Label Studio JSON exports ({files[0].name}, ...)"
    return None
