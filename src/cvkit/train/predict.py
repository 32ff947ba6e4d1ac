"""``cvkit predict``: top-k classes (softmax) or per-class scores (sigmoid, multi-label) for image files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from cvkit.core.imageinfo import IMAGE_EXTENSIONS
from cvkit.errors import CvkitError
from cvkit.train.checkpoint import load_checkpoint, model_from_checkpoint
from cvkit.train.data import decode_image, eval_transform, resolve_decoder, to_device
from cvkit.train.loop import DistEnv, resolve_device


def expand_images(paths: list[str | Path]) -> list[Path]:
    """Files as given; folders expanded to the images inside them (sorted, recursive)."""
    found: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS)
        else:
            found.append(path)
    if not found:
        raise CvkitError("no images to predict")
    return found


@torch.no_grad()
def predict(
    checkpoint: str | Path, images: list[str | Path], topk: int = 5, batch_size: int = 64, device: str = "auto"
) -> list[dict[str, Any]]:
    """One result per image: ``{"image", "predictions": [{"label", "score"}, ...]}`` best first.

    Scores are softmax probabilities (single-label) or sigmoid scores (multi-label,
    where ``labels`` also lists every class at or above the run's threshold).
    """
    state = load_checkpoint(checkpoint)
    model, cfg = model_from_checkpoint(state)
    class_names: list[str] = state["class_names"]
    target = resolve_device(device, DistEnv())
    model = model.to(target)
    transform = eval_transform(cfg.image_size)
    decoder = resolve_decoder(cfg.decoder)
    files = expand_images(images)
    k = max(1, min(topk, len(class_names)))
    results: list[dict[str, Any]] = []
    for start in range(0, len(files), batch_size):
        chunk = files[start : start + batch_size]
        batch = torch.stack([transform(decode_image(str(f), decoder)) for f in chunk])
        logits = model(to_device(batch, target, channels_last=False)).float().cpu()
        scores = torch.sigmoid(logits) if cfg.multi_label else torch.softmax(logits, dim=1)
        values, indices = scores.topk(k, dim=1)
        for i, file in enumerate(chunk):
            entry: dict[str, Any] = {
                "image": str(file),
                "predictions": [
                    {"label": class_names[j], "score": float(v)}
                    for v, j in zip(values[i].tolist(), indices[i].tolist())
                ],
            }
            if cfg.multi_label:
                entry["labels"] = [class_names[j] for j in range(len(class_names)) if scores[i, j] >= cfg.threshold]
            results.append(entry)
    return results
