"""``cvkit evaluate``: a trained checkpoint (or run folder) against a manifest, with the run's own metrics."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from cvkit.train.checkpoint import load_checkpoint, model_from_checkpoint, resolve_checkpoint
from cvkit.train.data import EvalShardSampler, ManifestDataset, eval_transform, load_items, make_loader, resolve_decoder
from cvkit.train.loop import DistEnv, StepContext, autocast_dtype, collect_logits, resolve_device
from cvkit.train.losses import build_loss
from cvkit.train.metrics import compute_metrics


def evaluate(checkpoint: str | Path, manifest: str | Path, split: str | None = None, batch_size: int = 128, workers: int = 0,
             device: str = "auto") -> dict[str, Any]:
    """Metrics of ``checkpoint`` on ``manifest`` (only ``split`` when given), preprocessed as in training's validation."""
    path = resolve_checkpoint(checkpoint)
    state = load_checkpoint(path)
    model, cfg = model_from_checkpoint(state)
    class_names: list[str] = state["class_names"]
    items = load_items(manifest, class_names, split=split, multi_label=cfg.multi_label, crops=cfg.crops, crop_padding=cfg.crop_padding)
    env = DistEnv()
    target = resolve_device(device, env)
    model = model.to(target)
    dataset = ManifestDataset(items.items, len(class_names), eval_transform(cfg.image_size), resolve_decoder(cfg.decoder), cfg.multi_label)
    loader = make_loader(dataset, batch_size, EvalShardSampler(len(dataset)), workers, target.type == "cuda", cfg.prefetch_factor, cfg.seed)
    ctx = StepContext(target, autocast_dtype(cfg, target), channels_last=False)
    logits, targets = collect_logits(model, loader, ctx, env)
    metrics = compute_metrics(logits, targets, class_names, cfg.multi_label, cfg.threshold)
    loss_fn = build_loss(cfg.multi_label)
    target_tensor = torch.from_numpy(targets).float() if cfg.multi_label else torch.from_numpy(targets).long()
    metrics["loss"] = float(loss_fn(torch.from_numpy(logits).float(), target_tensor)) if len(targets) else float("nan")
    metrics.update(checkpoint=str(path), manifest=str(manifest), epoch=state["epoch"], arch=cfg.arch, unlabelled=items.unlabelled)
    return metrics
