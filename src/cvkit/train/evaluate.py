"""``cvkit evaluate``: a trained checkpoint (or run folder) against a manifest, with the run's own metrics."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from cvkit.manifest import iter_records
from cvkit.train.checkpoint import load_checkpoint, model_and_info, resolve_checkpoint
from cvkit.train.data import EvalShardSampler, ManifestDataset, eval_transform, load_items, make_loader, resolve_decoder
from cvkit.train.loop import DistEnv, StepContext, autocast_dtype, collect_logits, resolve_device
from cvkit.train.loss_table import build_loss, validation_loss
from cvkit.train.metrics import compute_metrics

#: ``--split all``: every record of the manifest
ALL_SPLITS = "all"


def scored_split(requested: str | None, cfg: Any, manifest: str | Path) -> str | None:
    """The split to score: the one asked for (``all``: every record), else the run's validation split when the
    manifest has it, else every record (a separate validation manifest, or a run without a validation split)."""
    if requested is not None:
        return None if requested == ALL_SPLITS else requested
    has_val_split = cfg.val_split and not cfg.val_manifest
    if has_val_split and any(rec.get("split") == cfg.val_split for _, rec in iter_records(manifest)):
        return cfg.val_split
    return None


def evaluate(
    checkpoint: str | Path,
    manifest: str | Path,
    split: str | None = None,
    batch_size: int = 128,
    workers: int = 0,
    device: str = "auto",
) -> dict[str, Any]:
    """Metrics of ``checkpoint`` on ``manifest``, preprocessed as in training's validation.

    ``split`` None scores the run's validation split (see :func:`scored_split`); the result's ``split`` says which
    split was scored (None: every record). ``loss`` is the run's training loss (label smoothing, focal, class
    weights, as in ``best_metrics.json``); ``cross_entropy`` (single-label) or ``bce`` (multi-label) the plain one.
    """
    path = resolve_checkpoint(checkpoint)
    state = load_checkpoint(path)
    model, cfg, info = model_and_info(state)
    class_names: list[str] = state["class_names"]
    split = scored_split(split, cfg, manifest)
    items = load_items(
        manifest, class_names, split=split, multi_label=cfg.multi_label, crops=cfg.crops, crop_padding=cfg.crop_padding
    )
    env = DistEnv()
    target = resolve_device(device, env)
    model = model.to(target)
    dataset = ManifestDataset(
        items.items, len(class_names), eval_transform(cfg.image_size), resolve_decoder(cfg.decoder), cfg.multi_label
    )
    loader = make_loader(
        dataset,
        batch_size,
        EvalShardSampler(len(dataset)),
        workers,
        target.type == "cuda",
        cfg.prefetch_factor,
        cfg.seed,
    )
    ctx = StepContext(target, autocast_dtype(cfg, target), channels_last=False)
    logits, targets = collect_logits(model, loader, ctx, env)
    metrics = compute_metrics(logits, targets, class_names, cfg.multi_label, cfg.threshold)
    logit_tensor = torch.from_numpy(logits).float()
    target_tensor = torch.from_numpy(targets).float() if cfg.multi_label else torch.from_numpy(targets).long()
    loss_fn = build_loss(cfg, len(class_names), state.get("class_weights"), info["feature_dim"])
    if len(targets):
        metrics["loss"] = float(validation_loss(loss_fn, logit_tensor, target_tensor))
        plain = F.binary_cross_entropy_with_logits if cfg.multi_label else F.cross_entropy
        metrics["bce" if cfg.multi_label else "cross_entropy"] = float(plain(logit_tensor, target_tensor))
    else:
        metrics["loss"] = float("nan")
    metrics.update(
        checkpoint=str(path),
        manifest=str(manifest),
        split=split,
        epoch=state["epoch"],
        arch=cfg.arch,
        unlabelled=items.unlabelled,
        weights=state.get("eval_weights", "ema" if state.get("ema") else "raw"),
    )
    return metrics
