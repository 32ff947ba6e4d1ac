"""Dataset statistics, class balance, validation and splitting (``cvkit stats|validate|split``).

Library entry points (everything the CLI does)::

    from cvkit.stats import dataset_stats
    doc = dataset_stats("train.jsonl", imbalance=ImbalanceOptions(beta=0.999))

    from cvkit.stats.weights import compute_class_weights, load_class_weights, repeat_factors
    from cvkit.stats.validate import validate_dataset
    from cvkit.stats.split import split_dataset
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cvkit.core.report import Report
from cvkit.errors import CvkitError
from cvkit.stats.options import ImbalanceOptions

__all__ = ["ImbalanceOptions", "compute_stats", "dataset_stats", "export_weights"]


def __getattr__(name: str) -> Any:
    """``compute_stats`` on first use: it brings numpy, which :func:`dataset_stats` imports only once a VOC
    tree's scan has started its worker processes (see :mod:`cvkit.stats.sources`)."""
    if name == "compute_stats":
        from cvkit.stats.summary import compute_stats

        return compute_stats
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def dataset_stats(
    path: str | Path,
    format: str | None = None,
    imbalance: ImbalanceOptions | None = None,
    read_images: bool = False,
    report: Report | None = None,
    split: str | None = None,
    **read_options: Any,
) -> dict[str, Any]:
    """The ``cvkit stats`` document of a dataset (any format; manifests are read on a fast path).

    ``read_images`` reads every image header for channel counts (no pixel decoding). ``split`` counts only that
    split's images (the document's ``counted_split``; None: every split).
    """
    from cvkit.stats.columns import columns_of_split
    from cvkit.stats.sources import load_columns

    columns = load_columns(path, format, report=report, with_paths=read_images, **read_options)
    if split is not None:
        columns = columns_of_split(columns, split)
    from cvkit.stats.boxes import read_channels
    from cvkit.stats.summary import compute_stats

    channels = None
    unreadable = 0
    if read_images:
        channels, unreadable = read_channels(columns)
    doc = compute_stats(columns, imbalance, channels)
    doc["counted_split"] = split
    if read_images:
        doc["image_sizes"]["unreadable_images"] = unreadable
    return doc


def export_weights(stats: dict[str, Any], method: str, path: str | Path) -> Path:
    """Write the ``method`` weights of a stats document (with ``imbalance``) as a ``cvkit.class_weights`` file."""
    from cvkit.stats.weights import METHODS, weights_document, write_class_weights

    if method not in METHODS:
        raise CvkitError(f"unknown weight method {method!r}; choose one of {', '.join(METHODS)}")
    imbalance = stats.get("imbalance")
    if imbalance is None:
        raise CvkitError("the stats document has no 'imbalance' section; compute it with imbalance options")
    names: Sequence[str] = [row["name"] for row in stats["classes"]]
    weights = [imbalance["weights"][method][n] for n in names]
    counts = [imbalance["counts"][n] for n in names]
    params = {"basis": imbalance["basis"]}
    if method == "effective":
        params["beta"] = imbalance["params"]["beta"]
    elif method == "repeat-factor":
        params["threshold"] = imbalance["params"]["threshold"]
    elif method == "median-frequency":
        params["frequencies"] = imbalance["params"]["median_frequency_from"]
    doc = weights_document(names, weights, counts, method, params, stats.get("counted_split"))  # type: ignore[arg-type]
    return write_class_weights(path, doc)
