"""``train(config)``: manifest -> trained, evaluated classifier in ``runs/NAME/``.

Run folder: ``config.yaml`` (resolved config), ``metrics.jsonl`` (one record per epoch),
``best.pt`` / ``last.pt``, ``best_metrics.json`` (validation metrics of the best epoch),
``confusion_matrix.csv`` / ``.png``. Only rank 0 writes under ``torchrun``.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import torch

from cvkit.core import jsonio
from cvkit.errors import CvkitError, DestinationExistsError
from cvkit.io import atomic_write_bytes
from cvkit.train import console
from cvkit.train.checkpoint import EarlyStopping, load_checkpoint, save_checkpoint
from cvkit.train.config import TrainConfig, finetune_stages
from cvkit.train.data import (
    EvalShardSampler,
    GpuJpegBatches,
    ItemSet,
    ManifestDataset,
    build_transform,
    load_items,
    make_loader,
    manifest_class_names,
    resolve_decoder,
)
from cvkit.train.items import item_targets
from cvkit.train.loop import (
    DistEnv,
    StepContext,
    autocast_dtype,
    broadcast_flag,
    collect_logits,
    resolve_device,
    seed_everything,
    setup_distributed,
    teardown_distributed,
    train_one_epoch,
)
from cvkit.train.losses import build_loss
from cvkit.train.metrics import compute_metrics, write_confusion_csv, write_confusion_png
from cvkit.train.models import build_model
from cvkit.train.optim import Schedule, build_optimizer
from cvkit.train.samplers import build_sampler

#: validation split names, in the order tried when --val-split is not given: cvkit/COCO/Ultralytics ``val``,
#: Roboflow ``valid``, Hugging Face and timm ``validation``, ``dev``
VAL_SPLIT_NAMES = ("val", "valid", "validation", "dev")


def default_val_split(manifest: str | Path) -> str | None:
    """The manifest's validation split: the first of :data:`VAL_SPLIT_NAMES` its records use (one light pass)."""
    from cvkit.manifest import iter_records
    from cvkit.train.shards import is_shard_source

    if is_shard_source(manifest):  # shards hold one split each: validation shards come with --val
        return None
    found = set()
    for _, rec in iter_records(manifest):
        if (split := rec.get("split")) == VAL_SPLIT_NAMES[0]:
            return split  # the first choice: no need to read on
        found.add(split)
    return next((name for name in VAL_SPLIT_NAMES if name in found), None)


def prepare_items(cfg: TrainConfig) -> tuple[ItemSet, ItemSet | None]:
    """Training and validation items: ``--val MANIFEST``, else the ``--val-split`` records (default: the first of
    ``val``, ``valid``, ``validation``, ``dev`` the manifest has)."""
    names = manifest_class_names(cfg.manifest)
    if not names:
        raise CvkitError("the manifest header lists no categories, so there is nothing to classify", file=cfg.manifest)
    task = {"multi_label": cfg.multi_label, "crops": cfg.crops, "crop_padding": cfg.crop_padding}
    if cfg.val_manifest:
        train = load_items(cfg.manifest, names, exclude_splits=cfg.exclude_splits, **task)
        val: ItemSet | None = load_items(cfg.val_manifest, names, **task)
    else:  # the validation split never trains, whatever it is called
        val_split = cfg.val_split or default_val_split(cfg.manifest)
        train = load_items(cfg.manifest, names, exclude_splits=[*cfg.exclude_splits, *([val_split] if val_split else [])], **task)
        val = load_items(cfg.manifest, names, split=val_split, **task) if val_split else None
        if val is not None and not val.items:
            if cfg.val_split:
                raise CvkitError(f"no records of split {val_split!r} in the manifest", file=cfg.manifest)
            val = None
        if val is not None:
            cfg.val_split = val_split  # the split found goes into config.yaml (and a resumed run uses it)
    if not train.items:
        raise CvkitError("no training items (images with a label, or boxes with --crops) in the manifest", file=cfg.manifest)
    return train, val


def resolve_class_weights(spec: str | None, counts: list[int], class_names: list[str]) -> list[float] | None:
    """``balanced`` / ``effective`` computed by cvkit.stats.weights from the training counts, or a weights FILE."""
    if spec is None:
        return None
    try:
        from cvkit.stats import weights as class_weights
    except ImportError as exc:
        raise CvkitError(f"--class-weights needs cvkit.stats.weights, which is not available here ({exc})") from None
    if spec in ("balanced", "effective"):
        return [float(w) for w in class_weights.compute_class_weights(counts, spec)]
    return [float(w) for w in class_weights.load_class_weights(Path(spec), class_names)]


def check_run_folder(cfg: TrainConfig) -> Path:
    out = Path(cfg.output)
    if (out / "last.pt").exists() and not cfg.resume and not cfg.overwrite:
        raise DestinationExistsError(f"the run folder already holds a run; continue it with --resume {out / 'last.pt'} or pass --overwrite",
                                     file=out)
    return out


class Run:
    """Everything one training run holds; built by :func:`train`."""

    def __init__(self, cfg: TrainConfig, env: DistEnv):
        self.cfg, self.env = cfg, env
        self.device = resolve_device(cfg.device, env)
        seed_everything(cfg.seed)
        self.train_set, self.val_set = prepare_items(cfg)
        self.class_names = self.train_set.class_names
        cfg.class_names = self.class_names
        weights = resolve_class_weights(cfg.class_weights, self.train_set.counts, self.class_names)
        model, self.model_info = build_model(cfg.arch, len(self.class_names), cfg.weights, cfg.pretrained, finetune_stages(cfg.finetune),
                                             cfg.grad_checkpointing)
        self.channels_last = cfg.channels_last if cfg.channels_last is not None else self.device.type == "cuda"
        self.raw_model = model.to(self.device, memory_format=torch.channels_last if self.channels_last else torch.preserve_format)
        self.loss_fn = build_loss(cfg.multi_label, cfg.loss, weights, cfg.label_smoothing, cfg.focal_gamma).to(self.device)
        self.cpu_loss = copy.deepcopy(self.loss_fn).cpu()
        self.ema = None
        if cfg.ema:
            from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

            self.ema = AveragedModel(self.raw_model, multi_avg_fn=get_ema_multi_avg_fn(cfg.ema), use_buffers=True)
        self.amp_dtype = autocast_dtype(cfg, self.device)
        self.scaler = torch.amp.GradScaler("cuda") if self.amp_dtype == torch.float16 else None
        self.train_loader, self.val_loader = self._loaders()
        self.optimizer = build_optimizer(self.raw_model, cfg)
        steps_per_epoch = -(-len(self.train_loader) // cfg.accum_steps)
        if cfg.max_steps_per_epoch:
            steps_per_epoch = min(steps_per_epoch, cfg.max_steps_per_epoch)
        self.schedule = Schedule(self.optimizer, cfg, steps_per_epoch)
        self.stopper = EarlyStopping(cfg.patience, higher_is_better=self.val_set is not None)
        self.start_epoch, self.step = 0, 0
        if cfg.resume:
            self._resume(cfg.resume)
        model = self.raw_model
        if env.distributed:
            from torch.nn.parallel import DistributedDataParallel

            model = DistributedDataParallel(model, device_ids=[self.device.index] if self.device.type == "cuda" else None)
        self.model = torch.compile(model) if cfg.compile else model
        gpu_batches = GpuJpegBatches(cfg, self.device, train=True) if self.gpu_decode else None
        self.ctx = StepContext(self.device, self.amp_dtype, self.channels_last, cfg.accum_steps, cfg.clip_grad, cfg.max_steps_per_epoch, gpu_batches)
        self.eval_ctx = StepContext(self.device, self.amp_dtype, self.channels_last,
                                    gpu_batches=GpuJpegBatches(cfg, self.device, train=False) if self.gpu_decode else None)

    @property
    def gpu_decode(self) -> bool:
        return self.device.type == "cuda" and self.cfg.gpu_decode and not self.cfg.crops

    def _loaders(self) -> tuple[Any, Any]:
        cfg, env = self.cfg, self.env
        decoder = resolve_decoder(cfg.decoder)
        pin = self.device.type == "cuda"
        num_classes = len(self.class_names)
        train_ds = ManifestDataset(self.train_set.items, num_classes, build_transform(cfg, True), decoder, cfg.multi_label, self.gpu_decode)
        targets = item_targets(self.train_set.items)
        sampler = build_sampler(cfg.sampler, targets, self.train_set.counts, cfg.seed, env.rank, env.world, cfg.repeat_threshold)
        train = make_loader(train_ds, cfg.batch_size, sampler, cfg.workers, pin, cfg.prefetch_factor, cfg.seed)
        val = None
        if self.val_set is not None:
            val_ds = ManifestDataset(self.val_set.items, num_classes, build_transform(cfg, False), decoder, cfg.multi_label, self.gpu_decode)
            val = make_loader(val_ds, cfg.batch_size, EvalShardSampler(len(val_ds), env.rank, env.world), cfg.workers, pin,
                              cfg.prefetch_factor, cfg.seed)
        return train, val

    def _resume(self, path: str) -> None:
        state = load_checkpoint(path)
        if state["config"]["arch"] != self.cfg.arch or state["class_names"] != self.class_names:
            raise CvkitError("the checkpoint was trained with another architecture or other classes; it cannot be resumed here", file=path)
        self.raw_model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.schedule.load_state_dict(state["scheduler"])
        if self.scaler is not None and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        if self.ema is not None and state.get("ema"):
            self.ema.module.load_state_dict(state["ema"])
            self.ema.n_averaged.fill_(max(1, state["step"]))
        self.stopper.load_state_dict(state)
        self.start_epoch, self.step = int(state["epoch"]), int(state["step"])

    def eval_model(self) -> torch.nn.Module:
        return self.ema.module if self.ema is not None else self.raw_model

    def validate(self) -> tuple[dict[str, Any] | None, float | None]:
        if self.val_loader is None:
            return None, None
        logits, targets = collect_logits(self.eval_model(), self.val_loader, self.eval_ctx, self.env)
        if not self.env.is_main:
            return None, None
        target_tensor = torch.from_numpy(targets).float() if self.cfg.multi_label else torch.from_numpy(targets).long()
        loss = float(self.cpu_loss(torch.from_numpy(logits).float(), target_tensor))
        metrics = compute_metrics(logits, targets, self.class_names, self.cfg.multi_label, self.cfg.threshold)
        metrics["loss"] = loss
        return metrics, loss

    def state(self, epoch: int, record: dict[str, Any]) -> dict[str, Any]:
        return {
            "model": self.raw_model.state_dict(), "ema": self.ema.module.state_dict() if self.ema is not None else None,
            "optimizer": self.optimizer.state_dict(), "scheduler": self.schedule.state_dict(),
            "scaler": self.scaler.state_dict() if self.scaler is not None else None, "epoch": epoch, "step": self.step,
            **self.stopper.state_dict(), "config": self.cfg.to_dict(), "class_names": self.class_names, "metrics": record,
        }


def epoch_record(epoch: int, step: int, stats: dict[str, float], metrics: dict[str, Any] | None, lr: float, world: int) -> dict[str, Any]:
    """One line of metrics.jsonl (keys documented in docs/train.md)."""
    record: dict[str, Any] = {"epoch": epoch, "step": step, "train_loss": stats["loss"]}
    if metrics is not None:
        record["val_loss"] = metrics["loss"]
        for key, name in (("top1", "val_top1"), ("top5", "val_top5"), ("mAP", "val_mAP"), ("f1_micro", "val_f1")):
            if key in metrics:
                record[name] = metrics[key]
    record.update(lr=lr, images_per_s=stats["images"] * world / max(stats["seconds"], 1e-9), seconds=stats["seconds"])
    return record


def monitored(record: dict[str, Any]) -> float:
    """What best.pt and early stopping follow: val top-1 (mAP for multi-label), else the training loss."""
    for key in ("val_top1", "val_mAP"):
        if key in record:
            return record[key]
    return record["train_loss"]


def write_best_metrics(out: Path, metrics: dict[str, Any], class_names: list[str]) -> None:
    atomic_write_bytes(out / "best_metrics.json", jsonio.dumps(metrics, indent=True))
    if "confusion_matrix" in metrics:
        write_confusion_csv(metrics["confusion_matrix"], class_names, out / "confusion_matrix.csv")
        write_confusion_png(metrics["confusion_matrix"], class_names, out / "confusion_matrix.png")


def train(cfg: TrainConfig) -> dict[str, Any]:
    """Train, validate every epoch, checkpoint, stop early; returns a summary (rank 0 has the metrics)."""
    cfg.validate()
    out = check_run_folder(cfg)
    env = setup_distributed("cuda" if cfg.device.startswith("cuda") or (cfg.device == "auto" and torch.cuda.is_available()) else "cpu")
    try:
        result = _train(cfg, env, out)
    except BaseException:
        teardown_distributed(env, wait=False)  # the other ranks may never reach a barrier now
        raise
    teardown_distributed(env, wait=True)
    return result


def _train(cfg: TrainConfig, env: DistEnv, out: Path) -> dict[str, Any]:
    run = Run(cfg, env)
    main = env.is_main
    if main:
        out.mkdir(parents=True, exist_ok=True)
        cfg.write_yaml(out / "config.yaml")
        if not cfg.resume:
            (out / "metrics.jsonl").write_bytes(b"")
        if run.train_set.unlabelled:
            console.log(f"note: {run.train_set.unlabelled} training image(s) without a label were left out")
        if run.val_set is None:
            console.log("note: no validation split; best.pt follows the training loss")
        elif cfg.val_split and not cfg.val_manifest:
            console.log(f"validation: the {cfg.val_split!r} split ({len(run.val_set.items)} items), left out of training")
    best_metrics: dict[str, Any] | None = None
    record: dict[str, Any] = {}
    stopped_early = False
    for epoch in range(run.start_epoch, cfg.epochs):
        run.train_loader.sampler.set_epoch(epoch)
        with console.EpochBar(f"epoch {epoch + 1}/{cfg.epochs}", main, cfg.batch_size, env.world) as bar:
            stats = train_one_epoch(run.model, run.raw_model, run.train_loader, run.loss_fn, run.optimizer, run.schedule, run.scaler, run.ctx,
                                    run.ema, bar.update)
        run.step += stats["steps"]
        metrics, val_loss = run.validate()
        run.schedule.after_epoch(val_loss)
        if main:
            record = epoch_record(epoch + 1, run.step, stats, metrics, run.schedule.lr, env.world)
            record["best"] = run.stopper.update(monitored(record), epoch + 1)
            with open(out / "metrics.jsonl", "ab") as handle:
                handle.write(jsonio.dumps_line(record))
            save_checkpoint(run.state(epoch + 1, record), out / "last.pt")
            if record["best"]:
                save_checkpoint(run.state(epoch + 1, record), out / "best.pt")
                if metrics is not None:
                    best_metrics = metrics
                    write_best_metrics(out, metrics, run.class_names)
            console.log(console.epoch_line(record, cfg.epochs))
        if broadcast_flag(run.stopper.should_stop if main else False, env):
            stopped_early = True
            if main:
                console.log(f"early stopping: no improvement for {cfg.patience} epochs (best epoch {run.stopper.best_epoch})")
            break
    if main and best_metrics is None and (out / "best_metrics.json").exists():
        best_metrics = jsonio.loads((out / "best_metrics.json").read_bytes())
    return {
        "run": str(out), "arch": cfg.arch, "class_names": run.class_names, "train_items": len(run.train_set),
        "val_items": len(run.val_set) if run.val_set is not None else 0, "epochs": record.get("epoch", run.start_epoch), "steps": run.step,
        "best_epoch": run.stopper.best_epoch, "stopped_early": stopped_early, "last": record, "best": best_metrics,
        "rank": env.rank, "world_size": env.world, "model": {k: v for k, v in run.model_info.items() if k != "weights"},
    }


def summary_without_matrix(summary: dict[str, Any]) -> dict[str, Any]:
    """The summary for --json output, without the (possibly huge) confusion matrix."""
    best = dict(summary.get("best") or {})
    best.pop("confusion_matrix", None)
    return {**summary, "best": best or None}

