"""``train(config)``: manifest -> trained, evaluated classifier in ``runs/NAME/``.

Run folder: ``config.yaml`` (resolved config), ``metrics.jsonl`` (one record per epoch),
``best.pt`` / ``last.pt``, ``best_metrics.json`` (validation metrics of the best epoch),
``confusion_matrix.csv`` / ``.png``. Only rank 0 writes under ``torchrun``.
"""

from __future__ import annotations

import copy
import shutil
from pathlib import Path
from typing import Any

import torch

from cvkit.core import jsonio
from cvkit.errors import CvkitError, DestinationExistsError
from cvkit.io import atomic_write_bytes
from cvkit.manifest import iter_records
from cvkit.train import console
from cvkit.train.adapt import adapt_method, build_adapter
from cvkit.train.checkpoint import EarlyStopping, load_checkpoint, save_checkpoint
from cvkit.train.config import TrainConfig, finetune_stages, given_fields, resumed_config
from cvkit.train.data import (
    EvalShardSampler,
    GpuJpegBatches,
    ItemSet,
    ManifestDataset,
    build_transform,
    epoch_sampler,
    load_items,
    make_loader,
    manifest_class_names,
    resolve_decoder,
)
from cvkit.train.ema import ModelEma
from cvkit.train.items import item_targets
from cvkit.train.loop import (
    DistEnv,
    StepContext,
    autocast_dtype,
    broadcast_flag,
    collect_logits,
    resolve_device,
    setup_distributed,
    teardown_distributed,
    train_one_epoch,
)
from cvkit.train.loss_table import LOSS_HEADS, build_loss, head_options, validation_loss
from cvkit.train.metrics import compute_metrics, write_confusion_csv, write_confusion_png
from cvkit.train.mixup import Mixup
from cvkit.train.models import FeatureTap, build_model
from cvkit.train.optim import Schedule, build_optimizer
from cvkit.train.rng import rank_seed, rng_state, seed_everything, set_rng_state
from cvkit.train.samplers import MagnetSampler, build_sampler
from cvkit.train.shards import ShardItems, is_shard_source
from cvkit.train.stream import ShardStream, stream_loader
from cvkit.train.stylize import build_stylizer

#: validation split names, in the order tried when --val-split is not given: cvkit/COCO/Ultralytics ``val``,
#: Roboflow ``valid``, Hugging Face and timm ``validation``, ``dev``
VAL_SPLIT_NAMES = ("val", "valid", "validation", "dev")


def default_val_split(manifest: str | Path) -> str | None:
    """The manifest's validation split: the first of :data:`VAL_SPLIT_NAMES` its records use (one light pass)."""
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
        train = load_items(
            cfg.manifest, names, exclude_splits=[*cfg.exclude_splits, *([val_split] if val_split else [])], **task
        )
        val = load_items(cfg.manifest, names, split=val_split, **task) if val_split else None
        if val is not None and not val.items:
            if cfg.val_split:
                raise CvkitError(f"no records of split {val_split!r} in the manifest", file=cfg.manifest)
            val = None
        if val is not None:
            cfg.val_split = val_split  # the split found goes into config.yaml (and a resumed run uses it)
    if not train.items:
        raise CvkitError(
            "no training items (images with a label, or boxes with --crops) in the manifest", file=cfg.manifest
        )
    return train, val


def resolve_class_weights(spec: str | None, train: ItemSet) -> tuple[list[float] | None, str | None]:
    """``balanced`` / ``effective`` computed by cvkit.stats.weights from the training counts, or a weights FILE;
    plus a warning when the file counted other images than the training split (``cvkit stats --split``)."""
    if spec is None:
        return None, None
    try:
        from cvkit.stats import weights as class_weights
    except ImportError as exc:
        raise CvkitError(f"--class-weights needs cvkit.stats.weights, which is not available here ({exc})") from None
    if spec in ("balanced", "effective"):
        return [float(w) for w in class_weights.compute_class_weights(train.counts, spec)], None
    weights = [float(w) for w in class_weights.load_class_weights(Path(spec), train.class_names)]
    return weights, weights_split_warning(spec, *class_weights.counted_split(spec), train)


def weights_split_warning(path: str, known: bool, counted: str | None, train: ItemSet) -> str | None:
    """A note when a weights file did not count what the run trains on (every split, or another split)."""
    trained = ", ".join(str(s) for s in train.splits)
    if not known:
        return f"warning: {path} does not say which split it counted; write it with `cvkit stats --split {trained}`"
    if counted is None and train.other_splits:
        return (
            f"warning: {path} counted every split, but training uses only {trained}; "
            f"write it with `cvkit stats --split {trained}` for weights of the training data"
        )
    if counted is not None and train.splits != [counted]:
        return f"warning: {path} counted split {counted!r}, but training uses {trained}"
    return None


def check_run_folder(cfg: TrainConfig) -> Path:
    out = Path(cfg.output)
    if (out / "last.pt").exists() and not cfg.resume and not cfg.overwrite:
        raise DestinationExistsError(
            f"the run folder already holds a run; continue it with --resume {out / 'last.pt'} or pass --overwrite",
            file=out,
        )
    return out


class Run:
    """Everything one training run holds; built by :func:`train`."""

    def __init__(self, cfg: TrainConfig, env: DistEnv, resume_state: dict[str, Any] | None = None):
        self.cfg, self.env = cfg, env
        self.eval_weights = "raw"  # which weights validated better: "raw" or "ema"
        self.rng_states: list[dict[str, Any]] = []
        self.device = resolve_device(cfg.device, env)
        seed_everything(rank_seed(cfg.seed, env.rank))
        self.train_set, self.val_set = prepare_items(cfg)
        self.class_names = self.train_set.class_names
        cfg.class_names = self.class_names
        self.class_weights, self.weights_warning = resolve_class_weights(cfg.class_weights, self.train_set)
        model, self.model_info = build_model(
            cfg.arch,
            len(self.class_names),
            cfg.weights,
            cfg.pretrained,
            finetune_stages(cfg.finetune),
            cfg.grad_checkpointing,
            **head_options(cfg),
        )
        self.channels_last = cfg.channels_last if cfg.channels_last is not None else self.device.type == "cuda"
        self.raw_model = model.to(
            self.device, memory_format=torch.channels_last if self.channels_last else torch.preserve_format
        )
        self.loss_fn = build_loss(cfg, len(self.class_names), self.class_weights, self.model_info["feature_dim"]).to(
            self.device
        )
        self.cpu_loss = copy.deepcopy(self.loss_fn).cpu()
        self.ema = ModelEma(self.raw_model, cfg.ema) if cfg.ema else None
        needs_features = getattr(self.loss_fn, "needs_features", False) or adapt_method(cfg) is not None
        self.tap = FeatureTap(self.raw_model, self.model_info["feature_layer"]) if needs_features else None
        self.amp_dtype = autocast_dtype(cfg, self.device)
        self.scaler = torch.amp.GradScaler("cuda") if self.amp_dtype == torch.float16 else None
        self.train_loader, self.val_loader = self._loaders()
        steps_per_epoch = -(-len(self.train_loader) // cfg.accum_steps)
        if cfg.max_steps_per_epoch:
            steps_per_epoch = min(steps_per_epoch, cfg.max_steps_per_epoch)
        if env.distributed and adapt_method(cfg):
            raise CvkitError("--unlabeled and --target train in one process (not under torchrun)")
        self.adapter = build_adapter(self, steps_per_epoch * cfg.accum_steps)
        self.optimizer = build_optimizer(self.raw_model, cfg)
        if self.adapter is not None and self.adapter.domain is not None:  # DANN's domain classifier trains too
            self.optimizer.add_param_group(
                {"params": list(self.adapter.parameters()), "weight_decay": cfg.weight_decay}
            )
        self.schedule = Schedule(self.optimizer, cfg, steps_per_epoch)
        self.stopper = EarlyStopping(cfg.patience, higher_is_better=self.val_set is not None)
        self.start_epoch, self.step = 0, 0
        model = self.raw_model
        if env.distributed:
            from torch.nn.parallel import DistributedDataParallel

            model = DistributedDataParallel(
                model, device_ids=[self.device.index] if self.device.type == "cuda" else None
            )
        self.model = torch.compile(model) if cfg.compile else model
        gpu_batches = GpuJpegBatches(cfg, self.device, train=True) if self.gpu_decode else None
        mixer = Mixup(cfg.mixup, cfg.cutmix, len(self.class_names)) if (cfg.mixup or cfg.cutmix) else None
        self.ctx = StepContext(
            self.device,
            self.amp_dtype,
            self.channels_last,
            cfg.accum_steps,
            cfg.clip_grad,
            cfg.max_steps_per_epoch,
            gpu_batches,
            mixer,
            self.tap,
            adapter=self.adapter,
            stylizer=build_stylizer(cfg, self.device),
        )
        self.eval_ctx = StepContext(
            self.device,
            self.amp_dtype,
            self.channels_last,
            gpu_batches=GpuJpegBatches(cfg, self.device, train=False) if self.gpu_decode else None,
        )
        if resume_state is not None:
            self._resume(resume_state)

    @property
    def gpu_decode(self) -> bool:
        return self.device.type == "cuda" and self.cfg.gpu_decode and not self.cfg.crops

    @property
    def streams(self) -> bool:
        """Shards are read streaming (cvkit.train.stream) unless a sampler needs random access into them."""
        return (
            isinstance(self.train_set.items, ShardItems)
            and self.cfg.sampler == "none"
            and LOSS_HEADS[self.cfg.loss] != "magnet"
        )

    def _loaders(self) -> tuple[Any, Any]:
        cfg, env = self.cfg, self.env
        decoder = resolve_decoder(cfg.decoder)
        pin = self.device.type == "cuda"
        num_classes = len(self.class_names)
        train_ds = ManifestDataset(
            self.train_set.items, num_classes, build_transform(cfg, True), decoder, cfg.multi_label, self.gpu_decode
        )
        targets = item_targets(self.train_set.items)
        self.magnet = None
        if LOSS_HEADS[cfg.loss] == "magnet":
            sampler: Any = MagnetSampler(len(targets), cfg.magnet_m, cfg.magnet_d, cfg.seed, env.rank, env.world)
            index_ds = ManifestDataset(
                self.train_set.items,
                num_classes,
                build_transform(cfg, False),
                decoder,
                cfg.multi_label,
                self.gpu_decode,
            )
            self.magnet = MagnetIndex(
                sampler,
                make_loader(index_ds, cfg.batch_size, None, cfg.workers, pin, cfg.prefetch_factor, cfg.seed),
                self.model_info["feature_layer"],
                cfg.seed,
            )
        elif self.streams:
            stream = ShardStream(
                train_ds, cfg.batch_size, cfg.seed, env.rank, env.world, cfg.workers, cfg.shuffle_buffer
            )
            train = stream_loader(stream, cfg.workers, pin, cfg.prefetch_factor, cfg.seed)
        else:
            sampler = build_sampler(
                cfg.sampler, targets, self.train_set.counts, cfg.seed, env.rank, env.world, cfg.repeat_threshold
            )
        if not self.streams:
            train = make_loader(train_ds, cfg.batch_size, sampler, cfg.workers, pin, cfg.prefetch_factor, cfg.seed)
        val = None
        if self.val_set is not None:
            val_ds = ManifestDataset(
                self.val_set.items, num_classes, build_transform(cfg, False), decoder, cfg.multi_label, self.gpu_decode
            )
            val = make_loader(
                val_ds,
                cfg.batch_size,
                EvalShardSampler(len(val_ds), env.rank, env.world),
                cfg.workers,
                pin,
                cfg.prefetch_factor,
                cfg.seed,
            )
        return train, val

    def _resume(self, state: dict[str, Any]) -> None:
        path = self.cfg.resume
        if state["config"]["arch"] != self.cfg.arch or state["class_names"] != self.class_names:
            raise CvkitError(
                "the checkpoint was trained with another architecture or other classes; it cannot be resumed here",
                file=path,
            )
        self.raw_model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.schedule.load_state_dict(state["scheduler"])
        if self.scaler is not None and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        if self.ema is not None and state.get("ema"):
            self.ema.load_state_dict(state["ema"], int(state.get("ema_updates", 0)))
        if state.get("loss_state"):
            self.loss_fn.load_state_dict(state["loss_state"])
        if self.adapter is not None and state.get("adapter"):
            self.adapter.load_state_dict(state["adapter"])
            self.adapter.steps_done = int(state["step"]) * self.cfg.accum_steps
        self.stopper.load_state_dict(state)
        self.start_epoch, self.step = int(state["epoch"]), int(state["step"])
        rng = (state.get("rng") or [None])[self.env.rank] if self.env.rank < len(state.get("rng") or []) else None
        if rng is not None:  # the same world size: each rank continues its own streams
            set_rng_state(rng)

    def before_epoch(self, epoch: int) -> None:
        """The samplers' epoch; magnet's first clusters (later ones come from :meth:`after_training`)."""
        epoch_sampler(self.train_loader).set_epoch(epoch)
        if self.magnet is not None and epoch == self.start_epoch:
            self.magnet.refresh(self.raw_model, self.eval_ctx, epoch)

    def after_training(self, epoch: int) -> None:
        """Magnet: new clusters from the trained features, for this epoch's validation and the next epoch's batches."""
        if self.magnet is not None:
            self.magnet.refresh(self.raw_model, self.eval_ctx, epoch + 1)

    def _score(self, model: torch.nn.Module, bar: Any) -> dict[str, Any] | None:
        logits, targets = collect_logits(model, self.val_loader, self.eval_ctx, self.env, bar.advance)
        if not self.env.is_main:
            return None
        target_tensor = torch.from_numpy(targets).float() if self.cfg.multi_label else torch.from_numpy(targets).long()
        metrics = compute_metrics(logits, targets, self.class_names, self.cfg.multi_label, self.cfg.threshold)
        metrics["loss"] = float(validation_loss(self.cpu_loss, torch.from_numpy(logits).float(), target_tensor))
        return metrics

    def validate(self) -> tuple[dict[str, Any] | None, float | None, dict[str, float]]:
        """Metrics of the better of the raw and EMA weights (by :func:`monitored`), their loss, and both scores."""
        if self.val_loader is None:
            return None, None, {}
        candidates = [("raw", self.raw_model)] + ([("ema", self.ema.module)] if self.ema is not None else [])
        scored: dict[str, dict[str, Any] | None] = {}
        for name, model in candidates:
            with console.EpochBar(
                f"validate ({name})" if self.ema is not None else "validate",
                self.env.is_main,
                self.cfg.batch_size,
                self.env.world,
                training=False,
            ) as bar:
                scored[name] = self._score(model, bar)
        if not self.env.is_main:
            return None, None, {}
        scores = {name: monitored_metric(m) for name, m in scored.items() if m is not None}
        self.eval_weights = max(scores, key=lambda name: (scores[name], name == "ema"))
        metrics = scored[self.eval_weights]
        assert metrics is not None
        metrics["weights"] = self.eval_weights
        return metrics, metrics["loss"], scores

    def state(self, epoch: int, record: dict[str, Any]) -> dict[str, Any]:
        return {
            "model": self.raw_model.state_dict(),
            "ema": self.ema.state_dict() if self.ema is not None else None,
            "ema_updates": self.ema.updates if self.ema is not None else 0,
            "eval_weights": self.eval_weights if self.ema is not None else "raw",
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.schedule.state_dict(),
            "scaler": self.scaler.state_dict() if self.scaler is not None else None,
            "epoch": epoch,
            "step": self.step,
            **self.stopper.state_dict(),
            "config": self.cfg.to_dict(),
            "class_names": self.class_names,
            "metrics": record,
            "class_weights": self.class_weights,
            "loss_state": self.loss_fn.state_dict(),
            "adapter": self.adapter.state_dict() if self.adapter is not None else None,
            "rng": self.rng_states,
        }

    def gather_rng(self) -> None:
        """Every rank's generator states (rank 0 writes them all into the checkpoint)."""
        states = [rng_state()]
        if self.env.distributed:
            import torch.distributed as dist

            states = [None] * self.env.world  # type: ignore[list-item]
            dist.all_gather_object(states, rng_state())
        self.rng_states = states


class MagnetIndex:
    """The clusters magnet loss samples from: features of every training item (evaluation transform), k-means per
    class into the model's magnet head, and the sampler's batches drawn from them."""

    def __init__(self, sampler: MagnetSampler, loader: Any, feature_layer: str, seed: int):
        self.sampler, self.loader, self.feature_layer, self.seed = sampler, loader, feature_layer, seed

    def refresh(self, model: torch.nn.Module, ctx: StepContext, epoch: int) -> None:
        """Cluster the features of ``model`` for ``epoch`` (the seed of its k-means)."""
        from cvkit.train.feature_losses import refresh_magnet_index
        from cvkit.train.loop import forward_all

        tap = FeatureTap(model, self.feature_layer)
        try:
            _, features, targets = forward_all(model, self.loader, ctx, tap=tap)
        finally:
            tap.handle.remove()
        head = model.get_submodule(self.feature_layer)
        assignment = refresh_magnet_index(head, torch.cat(features), torch.cat(targets), self.seed * 1009 + epoch)
        self.sampler.set_index(assignment, head.means, head.cluster_class())


def epoch_record(
    epoch: int,
    step: int,
    stats: dict[str, float],
    metrics: dict[str, Any] | None,
    lr: float,
    world: int,
    scores: dict[str, float] | None = None,
) -> dict[str, Any]:
    """One line of metrics.jsonl (keys documented in docs/train.md)."""
    record: dict[str, Any] = {"epoch": epoch, "step": step, "train_loss": stats["loss"]}
    if metrics is not None:
        record["val_loss"] = metrics["loss"]
        for key, name in (("top1", "val_top1"), ("top5", "val_top5"), ("mAP", "val_mAP"), ("f1_micro", "val_f1")):
            if key in metrics:
                record[name] = metrics[key]
        if scores and len(scores) > 1:  # --ema: which weights validated better, and both scores
            record.update(weights=metrics["weights"], val_raw=scores["raw"], val_ema=scores["ema"])
    record.update(lr=lr, images_per_s=stats["images"] * world / max(stats["seconds"], 1e-9), seconds=stats["seconds"])
    return record


def monitored_metric(metrics: dict[str, Any]) -> float:
    """The validation score that ranks epochs (and raw vs EMA weights): top-1, mAP for multi-label."""
    return metrics["top1"] if "top1" in metrics else metrics["mAP"]


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


def train(cfg: TrainConfig, given: set[str] | None = None) -> dict[str, Any]:
    """Train, validate every epoch, checkpoint, stop early; returns a summary (rank 0 has the metrics).

    With ``cfg.resume`` the options come from the checkpoint except those in ``given`` (the options the caller
    set; by default every field that differs from its default); a given option that differs and may not change on
    resume is refused before anything is written.
    """
    cfg.validate()
    out = check_run_folder(cfg)
    resume_state = None
    if cfg.resume:
        resume_state = load_checkpoint(cfg.resume)
        cfg = resumed_config(
            cfg, resume_state["config"], given if given is not None else given_fields(cfg), cfg.resume
        ).validate()
    env = setup_distributed(
        "cuda" if cfg.device.startswith("cuda") or (cfg.device == "auto" and torch.cuda.is_available()) else "cpu"
    )
    try:
        result = _train(cfg, env, out, resume_state)
    except BaseException:
        teardown_distributed(env, wait=False)  # the other ranks may never reach a barrier now
        raise
    teardown_distributed(env, wait=True)
    return result


def _train(cfg: TrainConfig, env: DistEnv, out: Path, resume_state: dict[str, Any] | None) -> dict[str, Any]:
    created = env.is_main and not out.exists()
    try:
        return _train_in(cfg, env, out, resume_state)
    except BaseException:
        # a run that fails (a refused image, Ctrl-C) before its first checkpoint leaves nothing behind; one with a
        # checkpoint keeps its folder, to be resumed
        if created and not (out / "last.pt").exists():
            shutil.rmtree(out, ignore_errors=True)
        raise


def _train_in(cfg: TrainConfig, env: DistEnv, out: Path, resume_state: dict[str, Any] | None) -> dict[str, Any]:
    run = Run(cfg, env, resume_state)
    main = env.is_main
    if main:
        out.mkdir(parents=True, exist_ok=True)
        cfg.write_yaml(out / "config.yaml")
        if not cfg.resume:
            (out / "metrics.jsonl").write_bytes(b"")
        if run.weights_warning:
            console.log(run.weights_warning)
        if run.train_set.unlabelled:
            console.log(f"note: {run.train_set.unlabelled} training image(s) without a label were left out")
        if run.val_set is None:
            console.log("note: no validation split; best.pt follows the training loss")
        elif cfg.val_split and not cfg.val_manifest:
            console.log(
                f"validation: the {cfg.val_split!r} split ({len(run.val_set.items)} items), left out of training"
            )
    best_metrics: dict[str, Any] | None = None
    record: dict[str, Any] = {}
    stopped_early = False
    for epoch in range(run.start_epoch, cfg.epochs):
        run.before_epoch(epoch)
        with console.EpochBar(f"epoch {epoch + 1}/{cfg.epochs}", main, cfg.batch_size, env.world) as bar:
            stats = train_one_epoch(
                run.model,
                run.raw_model,
                run.train_loader,
                run.loss_fn,
                run.optimizer,
                run.schedule,
                run.scaler,
                run.ctx,
                run.ema,
                bar.update,
            )
        run.step += stats["steps"]
        run.after_training(epoch)
        metrics, val_loss, scores = run.validate()
        run.schedule.after_epoch(val_loss)
        run.gather_rng()
        if main:
            record = epoch_record(epoch + 1, run.step, stats, metrics, run.schedule.lr, env.world, scores)
            if run.adapter is not None:  # the last step's association or domain loss
                record.update(run.adapter.last)
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
                console.log(
                    f"early stopping: no improvement for {cfg.patience} epochs (best epoch {run.stopper.best_epoch})"
                )
            break
    if main and best_metrics is None and (out / "best_metrics.json").exists():
        best_metrics = jsonio.loads((out / "best_metrics.json").read_bytes())
    return {
        "run": str(out),
        "arch": cfg.arch,
        "class_names": run.class_names,
        "train_items": len(run.train_set),
        "val_items": len(run.val_set) if run.val_set is not None else 0,
        "epochs": record.get("epoch", run.start_epoch),
        "steps": run.step,
        "best_epoch": run.stopper.best_epoch,
        "stopped_early": stopped_early,
        "last": record,
        "best": best_metrics,
        "rank": env.rank,
        "world_size": env.world,
        "model": {k: v for k, v in run.model_info.items() if k != "weights"},
    }


def summary_without_matrix(summary: dict[str, Any]) -> dict[str, Any]:
    """The summary for --json output, without the (possibly huge) confusion matrix."""
    best = dict(summary.get("best") or {})
    best.pop("confusion_matrix", None)
    return {**summary, "best": best or None}
