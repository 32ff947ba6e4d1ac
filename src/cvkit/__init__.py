"""cvkit: prepare computer-vision datasets — convert, understand, augment and train.

The public Python API (everything the CLI does)::

    import cvkit
    ds = cvkit.read("data/voc", format="voc")      # any registered format; None = detect
    cvkit.write(ds, "out/train.json", format="coco")
    report = cvkit.convert("data/voc", "out/coco", to_format="coco")

Heavy modules are imported on first use so ``cvkit --help`` starts fast.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = [
    "Annotation",
    "Category",
    "Dataset",
    "Sample",
    "__version__",
    "convert",
    "detect_format",
    "from_fiftyone",
    "read",
    "to_fiftyone",
    "write",
]

_LAZY = {
    "read": "cvkit.api",
    "write": "cvkit.api",
    "convert": "cvkit.api",
    "detect_format": "cvkit.api",
    "Dataset": "cvkit.core.model",
    "Sample": "cvkit.core.model",
    "Annotation": "cvkit.core.model",
    "Category": "cvkit.core.categories",
    "to_fiftyone": "cvkit.fiftyone_bridge",
    "from_fiftyone": "cvkit.fiftyone_bridge",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'cvkit' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
