"""``cvkit view --run``: a trained classification run's predictions over the viewed dataset, as columns.

A run's predictions come from a predictions file (what ``cvkit predict --json`` prints: a JSON list, or JSON Lines,
of ``{"image", "predictions": [{"label", "score"}, ...]}`` best first), found as ``predictions.json`` or
``predictions.jsonl`` in the run folder or given directly; else they are computed from the run's checkpoint
with :func:`cvkit.train.predict.predict` (loaded by the safe loader, :func:`cvkit.train.checkpoint.load_checkpoint`)
and kept in ``cvkit.io.cache_dir("view-predictions")``, keyed by the checkpoint and the dataset as they are now.

Per image of the index: the predicted class, its confidence (top-1 score), the true class (the image's one
image-level label; none when it has no label or several) and the loss ``-log p(true class)``, the plain cross
entropy. A file that lists only the top k of an image whose true class is not among them gives a bound:
``p <= min(last listed score, 1 - sum of listed scores)``, so the loss is at least ``-log`` of that
(``loss_bound``). Single-label runs only: multi-label and crops runs, and detection (cvkit trains none), are refused.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cvkit.core import jsonio
from cvkit.errors import CvkitError, InvalidInputError
from cvkit.io import atomic_write_bytes, cache_dir, require_regular
from cvkit.stats.column_arrays import Columns
from cvkit.train.config import TrainConfig

#: file names a run folder's predictions are looked for under
PREDICTION_FILES = ("predictions.json", "predictions.jsonl")
#: the smallest probability a loss is computed from (a zero score would give an infinite loss)
MIN_PROBABILITY = 1e-7
#: images predicted per call of the predict API (bounded memory: every class's score of these images)
PREDICT_CHUNK = 2048
#: changes whenever what the prediction cache stores changes
CACHE_VERSION = 1


@dataclass(slots=True)
class RunPredictions:
    """Per image of the viewed dataset (arrays as long as the index); classes index ``class_names``: the dataset's
    classes first, in the index's order, then any other class the run predicts."""

    source: str
    class_names: list[str]
    true: np.ndarray  # int32, -1: no single image-level label
    pred: np.ndarray  # int32, -1: no prediction for this image
    confidence: np.ndarray  # float32, NaN without a prediction
    loss: np.ndarray  # float32, NaN when unknown (no prediction or no true class)
    loss_bound: np.ndarray  # bool: the loss is a lower bound (the file did not list the true class)
    unmatched: int = 0  # predictions naming no image of the dataset

    @property
    def misclassified(self) -> np.ndarray:
        """Boolean per image: a prediction and a true class that differ."""
        return (self.pred >= 0) & (self.true >= 0) & (self.pred != self.true)

    def confusion(self, images: np.ndarray) -> np.ndarray:
        """Counts (int64, classes x classes; rows true, columns predicted) over ``images`` that have both."""
        true, pred = self.true[images], self.pred[images]
        both = (true >= 0) & (pred >= 0)
        size = len(self.class_names)
        return np.bincount(true[both].astype(np.int64) * size + pred[both], minlength=size * size).reshape(size, size)

    def to_doc(self, image: int) -> dict[str, Any] | None:
        """One image's prediction as the page shows it; None without one."""
        pred = int(self.pred[image])
        if pred < 0:
            return None
        true = int(self.true[image])
        loss = float(self.loss[image])
        return {
            "pred": self.class_names[pred],
            "confidence": round(float(self.confidence[image]), 6),
            "true": self.class_names[true] if true >= 0 else None,
            "correct": None if true < 0 else pred == true,
            "loss": None if math.isnan(loss) else round(loss, 6),
            "loss_bound": bool(self.loss_bound[image]),
        }


def true_classes(columns: Columns) -> np.ndarray:
    """The class of each image's one image-level label; -1 for images with none or several."""
    counts = np.bincount(columns.label_image, minlength=columns.num_images)
    true = np.full(columns.num_images, -1, dtype=np.int32)
    single = counts[columns.label_image] == 1
    true[columns.label_image[single]] = columns.label_class[single]
    return true


class _Classes:
    """Class names -> indices: the dataset's first, a class only the run knows appended."""

    def __init__(self, names: list[str]):
        self.names = list(names)
        self.index = {name: i for i, name in enumerate(self.names)}

    def of(self, name: str) -> int:
        if name not in self.index:
            self.index[name] = len(self.names)
            self.names.append(name)
        return self.index[name]


def _blank(size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    return (
        np.full(size, -1, dtype=np.int32),
        np.full(size, np.nan, dtype=np.float32),
        np.full(size, np.nan, dtype=np.float32),
        np.zeros(size, dtype=bool),
    )


def _loss(probability: float) -> float:
    return -math.log(max(probability, MIN_PROBABILITY))


# --- a predictions file -------------------------------------------------------------------
def _entries(path: Path) -> Iterator[tuple[str, Any]]:
    """``(location, entry)`` of a predictions file: a JSON list (``cvkit predict --json``) or JSON Lines."""
    require_regular(path)
    data = path.read_bytes()
    try:
        if data.lstrip()[:1] == b"[":
            for number, entry in enumerate(jsonio.loads(data)):
                yield f"entry {number + 1}", entry
            return
        for number, line in enumerate(data.splitlines(), start=1):
            if line.strip():
                yield f"line {number}", jsonio.loads(line)
    except jsonio.JSONDecodeError as exc:
        raise InvalidInputError(f"not a predictions file (JSON list or JSON Lines): {exc}", file=path) from None


def _checked(entry: Any, path: Path, where: str) -> tuple[str, list[tuple[str, float]]]:
    """``(image, [(label, score), ...])`` of one entry, or an InvalidInputError naming it."""
    if not isinstance(entry, dict) or not isinstance(entry.get("image"), str):
        raise InvalidInputError('an entry must be an object with "image" and "predictions"', file=path, location=where)
    if "labels" in entry:
        raise InvalidInputError(
            "a multi-label prediction: the viewer shows single-label runs only", file=path, location=where
        )
    listed = entry.get("predictions")
    if not isinstance(listed, list) or not listed:
        raise InvalidInputError('"predictions" must be a non-empty list', file=path, location=where)
    pairs = []
    for item in listed:
        label = item.get("label") if isinstance(item, dict) else None
        score = item.get("score") if isinstance(item, dict) else None
        if not isinstance(label, str) or isinstance(score, bool) or not isinstance(score, int | float):
            raise InvalidInputError('each prediction needs a "label" and a numeric "score"', file=path, location=where)
        if not 0.0 <= score <= 1.0:
            raise InvalidInputError(f"score {score!r} is not a probability (0 to 1)", file=path, location=where)
        pairs.append((label, float(score)))
    return entry["image"], pairs


def _normalised(path: str) -> str:
    return os.path.normpath(os.path.abspath(path))


def image_numbers(index: Any) -> dict[str, int]:
    """Each image's path as its dataset writes it and as an absolute path -> its number in the index."""
    found: dict[str, int] = {}
    for number, sample in enumerate(index.store):
        found.setdefault(sample.path, number)
        found.setdefault(_normalised(str(sample.resolve(index.root))), number)
    return found


def from_file(path: Path, index: Any) -> RunPredictions:
    """The predictions a file holds, matched to the index's images by path (as the dataset writes it, or absolute)."""
    numbers = image_numbers(index)
    classes = _Classes(index.columns.class_names)
    true = true_classes(index.columns)
    pred, confidence, loss, bound = _blank(index.num_images)
    unmatched = 0
    for where, entry in _entries(path):
        image, pairs = _checked(entry, path, where)
        number = numbers.get(image, numbers.get(_normalised(image)))
        if number is None:
            unmatched += 1
            continue
        pred[number] = classes.of(pairs[0][0])
        confidence[number] = pairs[0][1]
        if true[number] >= 0:
            wanted = index.columns.class_names[true[number]]
            scores = dict(pairs)
            if wanted in scores:
                loss[number] = _loss(scores[wanted])
            else:
                loss[number] = _loss(min(pairs[-1][1], max(0.0, 1.0 - sum(scores.values()))))
                bound[number] = True
    if not (pred >= 0).any():
        raise InvalidInputError("the predictions name none of the dataset's images", file=path)
    return RunPredictions(str(path), classes.names, true, pred, confidence, loss, bound, unmatched)


# --- computed from a checkpoint -----------------------------------------------------------
def _cache_file(checkpoint: Path, index: Any, true: np.ndarray) -> Path:
    """Where the predictions of ``checkpoint`` over this dataset as it is now are kept."""
    parts = []
    for path in (checkpoint, Path(index.source)):
        stat = path.stat()
        parts.append(f"{path.resolve()}\0{stat.st_size}\0{stat.st_mtime_ns}")
    digest = hashlib.blake2b(digest_size=16)
    digest.update("\0".join([*parts, str(CACHE_VERSION), str(index.num_images)]).encode("utf-8", "surrogateescape"))
    digest.update(true.tobytes())
    return cache_dir("view-predictions", digest.hexdigest() + ".npz")


def from_checkpoint(checkpoint: Path, index: Any, device: str = "auto", batch_size: int = 64) -> RunPredictions:
    """Predict every image of the index that has a file with ``cvkit predict``'s code (every class's score, so the
    loss is exact), or read the predictions computed before from the cache."""
    from cvkit.train.checkpoint import load_checkpoint

    state = load_checkpoint(checkpoint)  # weights-only: nothing in the file runs
    cfg = TrainConfig.from_dict(state["config"])
    if cfg.multi_label or cfg.crops:
        raise CvkitError(
            f"the viewer shows single-label runs only; this is a {'multi-label' if cfg.multi_label else 'crops'} run",
            file=checkpoint,
        )
    run_names: list[str] = state["class_names"]
    classes = _Classes(index.columns.class_names)
    run_class = np.asarray([classes.of(name) for name in run_names], dtype=np.int32)
    true = true_classes(index.columns)
    cached = _cache_file(checkpoint, index, true)
    if cached.is_file():
        with np.load(cached) as stored:
            pred, confidence, loss = stored["pred"], stored["confidence"], stored["loss"]
    else:
        pred, confidence, loss = _predict_all(checkpoint, index, true, classes, run_class, device, batch_size)
        from io import BytesIO

        buffer = BytesIO()
        np.savez(buffer, pred=pred, confidence=confidence, loss=loss)
        atomic_write_bytes(cached, buffer.getvalue())
    bound = np.zeros(index.num_images, dtype=bool)
    return RunPredictions(str(checkpoint), classes.names, true, pred, confidence, loss, bound)


def _predict_all(
    checkpoint: Path,
    index: Any,
    true: np.ndarray,
    classes: _Classes,
    run_class: np.ndarray,
    device: str,
    batch_size: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from cvkit.train.predict import predict

    pred, confidence, loss, _ = _blank(index.num_images)
    numbers = [n for n in range(index.num_images) if index.image_path(n).is_file()]
    for start in range(0, len(numbers), PREDICT_CHUNK):
        chunk = numbers[start : start + PREDICT_CHUNK]
        results = predict(
            checkpoint, [index.image_path(n) for n in chunk], topk=len(run_class), batch_size=batch_size, device=device
        )
        for number, result in zip(chunk, results, strict=True):
            scores = {classes.index[p["label"]]: p["score"] for p in result["predictions"]}
            best = result["predictions"][0]
            pred[number], confidence[number] = classes.index[best["label"]], best["score"]
            if true[number] >= 0 and int(true[number]) in scores:
                loss[number] = _loss(scores[int(true[number])])
    return pred, confidence, loss


def load_run(run: str | Path, index: Any, device: str = "auto", batch_size: int = 64) -> RunPredictions:
    """The predictions of ``run`` over ``index``: a predictions file, a run folder (its predictions file, else its
    checkpoint) or a checkpoint ``.pt``."""
    run = Path(run)
    if not run.exists():
        raise InvalidInputError("run not found", file=run)
    if run.is_dir():
        for name in PREDICTION_FILES:
            if (run / name).is_file():
                return from_file(run / name, index)
        from cvkit.train.checkpoint import resolve_checkpoint

        return from_checkpoint(resolve_checkpoint(run), index, device, batch_size)
    if run.suffix.lower() in (".json", ".jsonl"):
        return from_file(run, index)
    return from_checkpoint(run, index, device, batch_size)
