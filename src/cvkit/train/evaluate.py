"""``cvkit evaluate``: a trained checkpoint (or run folder) against a manifest, with the run's own metrics."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from cvkit.errors import CvkitError
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
    scramble: int | None = None,
    level: str | None = None,
    hierarchy: str | Path | None = None,
    target_manifest: str | Path | None = None,
) -> dict[str, Any]:
    """Metrics of ``checkpoint`` on ``manifest``, preprocessed as in training's validation.

    ``split`` None scores the run's validation split (see :func:`scored_split`); the result's ``split`` says which
    split was scored (None: every record). ``loss`` is the run's training loss (label smoothing, focal, class
    weights, as in ``best_metrics.json``); ``cross_entropy`` (single-label) or ``bce`` (multi-label) the plain one.
    ``scramble`` GRID adds ``scrambled``: the metrics on the same images cut into GRID x GRID shuffled tiles;
    ``level`` (``coarse`` or a depth) adds ``coarse``: accuracy at that level of ``hierarchy`` (default: the
    manifest's own hierarchy). ``target_manifest`` (a labelled manifest of another domain, every record) adds
    ``target``: the metrics there, next to the source metrics (a domain-adapted run's two numbers).
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
    ctx = StepContext(target, autocast_dtype(cfg, target), channels_last=False)

    def logits_and_targets(images: Any) -> tuple[Any, Any]:
        pinned = target.type == "cuda"
        loader = make_loader(
            images, batch_size, EvalShardSampler(len(images)), workers, pinned, cfg.prefetch_factor, cfg.seed
        )
        return collect_logits(model, loader, ctx, env)

    if scramble is not None and not 2 <= scramble <= cfg.image_size:
        raise CvkitError(f"--scramble needs a grid from 2 to the run's image size {cfg.image_size}, not {scramble}")
    coarse_of = None
    if level is not None:  # checked before the (long) forward passes
        from cvkit.train.levels import coarse_mapping

        if cfg.multi_label:
            raise CvkitError("--level needs a single-label run")
        coarse_of = coarse_mapping(class_names, hierarchy or manifest, level)
    logits, targets = logits_and_targets(dataset)
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
    if scramble is not None:
        from cvkit.train.scramble import ScrambledDataset

        scrambled, scrambled_targets = logits_and_targets(ScrambledDataset(dataset, scramble, cfg.seed))
        metrics["scrambled"] = {
            "grid": scramble,
            **compute_metrics(scrambled, scrambled_targets, class_names, cfg.multi_label, cfg.threshold),
        }
    if target_manifest is not None:
        target_items = load_items(target_manifest, class_names, multi_label=cfg.multi_label)
        other = ManifestDataset(
            target_items.items, len(class_names), eval_transform(cfg.image_size), resolve_decoder(cfg.decoder)
        )
        target_logits, target_targets = logits_and_targets(other)
        metrics["target"] = {
            "manifest": str(target_manifest),
            **compute_metrics(target_logits, target_targets, class_names, cfg.multi_label, cfg.threshold),
        }
    if coarse_of is not None:
        from cvkit.train.levels import coarse_metrics

        metrics["coarse"] = coarse_metrics(logits, targets.astype(int), coarse_of, level or "")
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
