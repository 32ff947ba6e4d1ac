"""The inner loops: one training epoch and one evaluation pass, plus device and distributed setup.

CUDA niceties are used only where they apply: bf16 autocast (fp16 with a GradScaler
on request), channels_last, non-blocking copies from pinned memory, nvJPEG batches.
Under ``torchrun`` each process trains its shard with DistributedDataParallel;
evaluation shards the validation set without padding and gathers the logits, so the
numbers are exact.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from cvkit.errors import CvkitError
from cvkit.train.config import TrainConfig
from cvkit.train.data import to_device
from cvkit.train.losses import apply_loss
from cvkit.train.models import FeatureTap, logits_of, train_mode


@dataclass
class DistEnv:
    """This process's place in a (possibly single-process) run."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world > 1


def setup_distributed(device_kind: str) -> DistEnv:
    """Join the process group when launched by ``torchrun`` (``WORLD_SIZE`` > 1): NCCL on CUDA, gloo on CPU."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistEnv()
    import torch.distributed as dist

    env = DistEnv(int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", "0")))
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device_kind == "cuda" else "gloo")
    return env


def teardown_distributed(env: DistEnv, wait: bool = True) -> None:
    """Leave the process group; with ``wait`` only once every rank is done. Without that barrier a rank
    that finishes first (rank 0 still writing checkpoints) could tear gloo down under the other
    ("terminate called without an active exception", seen under load). After an error there is no wait:
    the other ranks may never get there."""
    if env.distributed:
        import torch.distributed as dist

        if dist.is_initialized():
            import gc

            gc.collect()  # DDP's reducer sits in reference cycles: free its pending work while the group is alive
            if wait:
                dist.barrier()
            dist.destroy_process_group()


def resolve_device(requested: str, env: DistEnv) -> torch.device:
    """``auto`` picks CUDA when present; under torchrun each process takes ``cuda:LOCAL_RANK``."""
    if requested == "auto":
        requested = "cuda" if torch.cuda.is_available() else "cpu"
    if requested.startswith("cuda"):
        if not torch.cuda.is_available():
            raise CvkitError("--device cuda was asked for but CUDA is not available; use --device cpu")
        device = torch.device("cuda", env.local_rank) if requested == "cuda" else torch.device(requested)
        torch.cuda.set_device(device)
        return device
    return torch.device("cpu")


def autocast_dtype(cfg: TrainConfig, device: torch.device) -> torch.dtype | None:
    """bf16 on CUDA by default; fp32 (None) on the CPU unless asked."""
    precision = cfg.precision
    if precision == "auto":
        precision = "bf16" if device.type == "cuda" else "fp32"
    return {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)


@dataclass
class StepContext:
    """What every training step needs besides the model and the batch."""

    device: torch.device
    amp_dtype: torch.dtype | None
    channels_last: bool
    accum_steps: int = 1
    clip_grad: float | None = None
    max_steps: int | None = None
    gpu_batches: Callable[[Any], torch.Tensor] | None = None  # GpuJpegBatches: a packed batch to images
    mixer: Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]] | None = None
    feature_tap: FeatureTap | None = None
    #: cvkit.train.adapt.Adapter: the unlabelled/target batch and its loss, added to each step's
    adapter: Any = None
    #: cvkit.train.stylize.Stylizer: redraws training images in a painting's style (AdaIN)
    stylizer: Any = None

    def autocast(self) -> Any:
        if self.amp_dtype is None:
            return nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    def batch(self, images: Any, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.gpu_batches is not None:
            images = self.gpu_batches(images)
        return to_device(images, self.device, self.channels_last), targets.to(self.device, non_blocking=True)


def train_one_epoch(
    model: nn.Module,
    raw_model: nn.Module,
    loader: Any,
    loss_fn: nn.Module,
    optimizer: torch.optim.Optimizer,
    schedule: Any,
    scaler: Any,
    ctx: StepContext,
    ema: Any = None,
    on_step: Callable[[int, int, float, float], None] | None = None,
) -> dict[str, float]:
    """One pass over ``loader``; returns mean loss, images seen (this rank), optimiser steps and seconds."""
    train_mode(raw_model)
    total = len(loader)
    if ctx.max_steps is not None:
        total = min(total, ctx.max_steps * ctx.accum_steps)
    loss_sum = torch.zeros((), device=ctx.device)
    images_seen = steps = 0
    start = time.perf_counter()
    optimizer.zero_grad(set_to_none=True)
    for index, (images, targets) in enumerate(loader):
        if index >= total:
            break
        x, y = ctx.batch(images, targets)
        if ctx.stylizer is not None:
            x = ctx.stylizer(x)
        if ctx.mixer is not None:
            x, y = ctx.mixer(x, y)
        if ctx.adapter is not None:  # the unlabelled/target batch joins the forward pass (one set of BN statistics)
            x = ctx.adapter.joined(x, ctx)
        sync = (index + 1) % ctx.accum_steps == 0 or index + 1 == total
        no_sync = getattr(model, "no_sync", None)
        with no_sync() if (no_sync is not None and not sync) else nullcontext():
            with ctx.autocast():
                logits = logits_of(model(x))
            features = ctx.feature_tap.take() if ctx.feature_tap is not None else None
            extra = None
            if ctx.adapter is not None:
                logits, features, extra = ctx.adapter.split_loss(logits, features, y)
            loss = apply_loss(loss_fn, logits.float(), y, features)
            if extra is not None:
                loss = loss + extra
            (scaler.scale(loss) if scaler is not None else loss).div(ctx.accum_steps).backward()
        if sync:
            if scaler is not None:
                scaler.unscale_(optimizer)
            if ctx.clip_grad:
                torch.nn.utils.clip_grad_norm_(raw_model.parameters(), ctx.clip_grad)
            if scaler is not None:
                scaler.step(optimizer)
                scaler.update()
            else:
                optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            if ema is not None:
                ema.update(raw_model)
            schedule.after_step()
            steps += 1
        loss_sum += loss.detach() * len(y)
        images_seen += len(y)
        if on_step is not None:
            on_step(
                index + 1,
                total,
                float(loss.detach()) if (index % 10 == 0 or index + 1 == total) else float("nan"),
                schedule.lr,
            )
    seconds = time.perf_counter() - start
    return {
        "loss": mean_over_ranks(loss_sum, images_seen, ctx.device),
        "images": images_seen,
        "steps": steps,
        "seconds": seconds,
    }


def mean_over_ranks(total: torch.Tensor, count: int, device: torch.device) -> float:
    """``sum(total) / sum(count)`` over every torchrun process (the epoch's loss on all the data)."""
    pair = torch.stack(
        [total.detach().to(device, torch.float64), torch.tensor(float(count), device=device, dtype=torch.float64)]
    )
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.all_reduce(pair)
    return float(pair[0]) / max(1.0, float(pair[1]))


@torch.no_grad()
def forward_all(
    model: nn.Module,
    loader: Any,
    ctx: StepContext,
    on_batch: Callable[[int, int], None] | None = None,
    tap: FeatureTap | None = None,
) -> tuple[list[torch.Tensor], list[torch.Tensor], list[torch.Tensor]]:
    """This rank's logits, features (with ``tap``) and targets, batch by batch, in eval mode.

    ``on_batch(done, total)`` is called after each batch (validation progress)."""
    model.eval()
    outputs, features, targets = [], [], []
    for done, (images, target) in enumerate(loader, 1):
        x, _ = ctx.batch(images, target)
        with ctx.autocast():
            outputs.append(logits_of(model(x)).float().cpu())
        if tap is not None:
            features.append(tap.take().float().cpu())
        targets.append(target)
        if on_batch is not None:
            on_batch(done, len(loader))
    return outputs, features, targets


def collect_logits(
    model: nn.Module, loader: Any, ctx: StepContext, env: DistEnv, on_batch: Callable[[int, int], None] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Logits and targets of every item in ``loader``'s dataset, gathered from all ranks."""
    outputs, _, targets = forward_all(model, loader, ctx, on_batch)
    logits = torch.cat(outputs).numpy() if outputs else np.zeros((0, 0), dtype=np.float32)
    labels = torch.cat(targets).numpy() if targets else np.zeros(0)
    if env.distributed:
        import torch.distributed as dist

        gathered: list[Any] = [None] * env.world
        dist.all_gather_object(gathered, (logits, labels))
        parts = [(lg, lb) for lg, lb in gathered if len(lb)]
        logits = np.concatenate([lg for lg, _ in parts]) if parts else logits
        labels = np.concatenate([lb for _, lb in parts]) if parts else labels
    return logits, labels


def broadcast_flag(flag: bool, env: DistEnv) -> bool:
    """Rank 0's decision (early stopping) for every rank."""
    if not env.distributed:
        return flag
    import torch.distributed as dist

    holder = [flag]
    dist.broadcast_object_list(holder, src=0)
    return bool(holder[0])
