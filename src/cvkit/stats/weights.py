"""Class-balance weights and LVIS repeat factors, and the weights file the trainer reads.

Every function works on per-class counts in category order. Classes with a zero count
get weight 0 (they never occur, so their weight never matters) and are left out of the
normalisations, so one absent class cannot turn every weight into infinity.

The weights file (``--weights-out``, read by ``cvkit train --class-weights``)::

    {"schema": "cvkit.class_weights", "version": 1, "method": "effective",
     "params": {"beta": 0.999}, "classes": ["cat", "dog"],
     "weights": {"cat": 0.8, "dog": 1.2}, "counts": {"cat": 500, "dog": 50}, "split": "train"}

``split`` names the split that was counted (``cvkit stats --split``); null means every split.

See docs/stats.md for the formulas.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cvkit.core import jsonio
from cvkit.errors import CvkitError, InvalidInputError
from cvkit.io import atomic_write_bytes
from cvkit.stats.column_arrays import median
from cvkit.stats.options import DEFAULT_BETA, DEFAULT_REPEAT_THRESHOLD, METHODS  # defined there: numpy-free for the CLI

WEIGHTS_SCHEMA = "cvkit.class_weights"
WEIGHTS_VERSION = 1


def _normalise_to_classes(raw: np.ndarray, present: np.ndarray) -> np.ndarray:
    """Scale ``raw`` so the weights of present classes sum to their number (mean weight 1)."""
    out = np.zeros_like(raw)
    total = raw[present].sum()
    if total > 0:
        out[present] = raw[present] * present.sum() / total
    return out


def compute_class_weights(counts: Sequence[int] | np.ndarray, method: str, **params: Any) -> np.ndarray:
    """Per-class weights by ``method`` (one of :data:`METHODS`), in the order of ``counts``.

    - ``balanced``: ``N / (C * n_c)`` (scikit-learn's ``compute_class_weight('balanced')``);
    - ``inverse``: ``1 / n_c``, normalised to sum to C;
    - ``sqrt-inverse``: ``n_c ** -0.5``, normalised to sum to C;
    - ``effective``: Cui et al. 2019, ``(1 - beta) / (1 - beta ** n_c)`` normalised to sum to C
      (``beta``, default 0.999);
    - ``median-frequency``: Eigen & Fergus, ``median(f) / f_c`` with ``f_c`` = ``frequencies[c]``
      when given (pixel frequencies of segmentation masks), else the counts themselves;
    - ``repeat-factor``: LVIS class repeat factors ``max(1, sqrt(t / f_c))`` with ``f_c`` =
      ``image_counts[c] / num_images`` (both required) and ``threshold`` t (default 0.001).
    """
    n = np.asarray(counts, dtype=np.float64)
    present = n > 0
    out = np.zeros_like(n)
    if method == "balanced":
        out[present] = n[present].sum() / (present.sum() * n[present])
        return out
    if method == "inverse":
        out[present] = 1.0 / n[present]
        return _normalise_to_classes(out, present)
    if method == "sqrt-inverse":
        out[present] = n[present] ** -0.5
        return _normalise_to_classes(out, present)
    if method == "effective":
        beta = float(params.get("beta", DEFAULT_BETA))
        if not 0.0 <= beta < 1.0:
            raise CvkitError(f"--beta must be in [0, 1), got {beta}")
        out[present] = (1.0 - beta) / (1.0 - np.power(beta, n[present]))
        return _normalise_to_classes(out, present)
    if method == "median-frequency":
        freq = np.asarray(params["frequencies"], dtype=np.float64) if params.get("frequencies") is not None else n
        usable = present & (freq > 0)
        if usable.any():
            out[usable] = median(freq[usable]) / freq[usable]
        return out
    if method == "repeat-factor":
        if params.get("image_counts") is None or params.get("num_images") is None:
            raise CvkitError("repeat-factor weights need image_counts and num_images")
        image_counts = np.asarray(params["image_counts"], dtype=np.float64)
        return class_repeat_factors(
            image_counts, int(params["num_images"]), float(params.get("threshold", DEFAULT_REPEAT_THRESHOLD))
        )
    raise CvkitError(f"unknown weight method {method!r}; choose one of {', '.join(METHODS)}")


def class_repeat_factors(
    image_counts: Sequence[int] | np.ndarray, num_images: int, threshold: float = DEFAULT_REPEAT_THRESHOLD
) -> np.ndarray:
    """LVIS ``r_c = max(1, sqrt(t / f_c))``, ``f_c`` the fraction of images containing c (0 for absent classes)."""
    counts = np.asarray(image_counts, dtype=np.float64)
    out = np.zeros_like(counts)
    present = counts > 0
    if num_images > 0:
        fraction = counts[present] / num_images
        out[present] = np.maximum(1.0, np.sqrt(threshold / fraction))
    return out


def repeat_factors(
    image_classes: Iterable[Iterable[int]], num_classes: int, threshold: float = DEFAULT_REPEAT_THRESHOLD
) -> tuple[np.ndarray, np.ndarray]:
    """LVIS repeat factors: ``(per-class r_c, per-image max over its classes)``.

    ``image_classes`` lists the class indices present in each image (duplicates allowed);
    an image without classes gets factor 1. The trainer's repeat-factor sampler repeats
    image i ``r_i`` times per epoch (stochastic rounding).
    """
    per_image = [sorted(set(classes)) for classes in image_classes]
    image_counts = np.zeros(num_classes, dtype=np.int64)
    for classes in per_image:
        image_counts[classes] += 1
    class_factors = class_repeat_factors(image_counts, len(per_image), threshold)
    image_factors = np.array(
        [max((class_factors[c] for c in classes), default=1.0) for classes in per_image], dtype=np.float64
    )
    return class_factors, image_factors


def image_repeat_factors(
    image_index: np.ndarray, class_index: np.ndarray, class_factors: np.ndarray, num_images: int
) -> np.ndarray:
    """Vectorised per-image factor (max over the classes of its objects/labels; 1 without any)."""
    out = np.ones(num_images, dtype=np.float64)
    if len(image_index):
        np.maximum.at(out, image_index, class_factors[class_index])
    return out


def weights_document(
    class_names: Sequence[str],
    weights: np.ndarray,
    counts: Sequence[int],
    method: str,
    params: dict[str, Any],
    split: str | None = None,
) -> dict[str, Any]:
    """The JSON document ``--weights-out`` writes (module docstring); ``split``: the split counted, None for all."""
    return {
        "schema": WEIGHTS_SCHEMA,
        "version": WEIGHTS_VERSION,
        "method": method,
        "params": params,
        "classes": list(class_names),
        "weights": {name: float(w) for name, w in zip(class_names, weights, strict=True)},
        "counts": {name: int(c) for name, c in zip(class_names, counts, strict=True)},
        "split": split,
    }


def write_class_weights(path: str | Path, document: dict[str, Any]) -> Path:
    """Write a weights document atomically."""
    path = Path(path)
    atomic_write_bytes(path, jsonio.dumps(document, indent=True) + b"\n")
    return path


def counted_split(path: str | Path) -> tuple[bool, str | None]:
    """``(known, split)``: the split a weights file counted (``known`` False: written before it was recorded)."""
    doc = jsonio.loads(Path(path).read_bytes())
    return ("split" in doc, doc.get("split")) if isinstance(doc, dict) else (False, None)


def load_class_weights(path: str | Path, class_names: Sequence[str]) -> list[float]:
    """Weights from a ``cvkit.class_weights`` file, in the order of ``class_names``.

    Raises :class:`InvalidInputError` when the file is not such a document or its classes
    differ from ``class_names`` (order may differ; names must match exactly).
    """
    path = Path(path)
    try:
        doc = jsonio.loads(path.read_bytes())
    except FileNotFoundError:
        raise InvalidInputError("class weights file not found", file=path) from None
    except jsonio.JSONDecodeError as exc:
        raise InvalidInputError(f"not valid JSON ({exc})", file=path) from None
    if not isinstance(doc, dict) or doc.get("schema") != WEIGHTS_SCHEMA:
        raise InvalidInputError(
            f"not a class weights file: expected schema {WEIGHTS_SCHEMA!r} (write one with `cvkit stats "
            "--weights-out`)",
            file=path,
        )
    if doc.get("version") != WEIGHTS_VERSION:
        raise InvalidInputError(
            f"class weights version {doc.get('version')!r} is not supported (this cvkit reads {WEIGHTS_VERSION})",
            file=path,
        )
    weights = doc.get("weights")
    if not isinstance(weights, dict):
        raise InvalidInputError("'weights' must be an object {class name: weight}", file=path, location="weights")
    missing = [name for name in class_names if name not in weights]
    extra = [name for name in weights if name not in set(class_names)]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing {', '.join(map(repr, missing[:5]))}")
        if extra:
            parts.append(f"not in the dataset {', '.join(map(repr, extra[:5]))}")
        raise InvalidInputError(
            "class weights do not match the dataset's classes: " + "; ".join(parts), file=path, location="weights"
        )
    out = []
    for name in class_names:
        value = weights[name]
        if not isinstance(value, int | float) or not np.isfinite(value) or value < 0:
            raise InvalidInputError(
                f"weight of {name!r} must be a finite number >= 0, got {value!r}", file=path, location=f"weights.{name}"
            )
        out.append(float(value))
    return out
