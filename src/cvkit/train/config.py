"""The training configuration: every ``cvkit train`` option in one dataclass.

The resolved config is written to ``runs/NAME/config.yaml`` and stored in every
checkpoint, so evaluate/predict/export rebuild the exact model and preprocessing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from cvkit.core.limits import check_side
from cvkit.errors import CvkitError
from cvkit.io import atomic_write_text

FINETUNE_HELP = "full | linear | last-N (e.g. last-2)"
OPTIMIZERS = ("sgd", "adamw")
SCHEDULES = ("cosine", "step", "plateau", "constant")
SAMPLERS = ("none", "balanced", "repeat-factor")
PRECISIONS = ("auto", "bf16", "fp16", "fp32")
DECODERS = ("auto", "torchvision", "pil", "opencv")
#: --adapt: no domain adaptation, DANN, or associative (walker/visit) losses (cvkit.train.adapt)
ADAPT_METHODS = ("none", "dann", "assoc")
#: ImageNet statistics every torchvision model was trained with (also used for small_cnn).
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


@dataclass
class TrainConfig:
    """Everything a run depends on; see docs/train.md for each field."""

    arch: str
    manifest: str
    output: str = "runs/exp"
    val_manifest: str | None = None
    val_split: str | None = None
    exclude_splits: list[str] = field(default_factory=lambda: ["test"])
    epochs: int = 10
    batch_size: int = 64
    image_size: int = 224
    lr: float = 0.1
    workers: int = 4
    device: str = "auto"
    seed: int = 0
    # weights and transfer learning
    weights: str | None = None
    pretrained: bool = False
    finetune: str = "full"
    # task
    multi_label: bool = False
    threshold: float = 0.5
    crops: bool = False
    crop_padding: float = 0.0
    # imbalance
    class_weights: str | None = None
    sampler: str = "none"
    repeat_threshold: float = 0.1
    label_smoothing: float = 0.0
    loss: str = "ce"
    focal_gamma: float = 2.0
    mixup: float = 0.0
    cutmix: float = 0.0
    # feature losses and embeddings
    embed_dim: int | None = None
    center_lambda: float = 0.01
    center_alpha: float = 0.5
    magnet_clusters: int = 4
    magnet_m: int = 8
    magnet_d: int = 8
    magnet_alpha: float = 1.0
    # few labels and domain adaptation (cvkit.train.adapt)
    unlabeled: str | None = None
    target: str | None = None
    adapt: str = "none"
    walker_weight: float = 1.0
    visit_weight: float = 0.1
    adapt_weight: float = 1.0
    # stylised training (cvkit.train.stylize)
    style_model: str | None = None
    style_images: str | None = None
    style_prob: float = 0.5
    style_alpha: float = 1.0
    # augmentation and data
    aug: str | None = None
    decoder: str = "auto"
    gpu_decode: bool = True
    prefetch_factor: int = 4
    shuffle_buffer: int = 1000
    # optimisation
    optimizer: str = "sgd"
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 1e-4
    schedule: str = "cosine"
    warmup_epochs: float = 0.0
    milestones: list[int] = field(default_factory=lambda: [30, 60, 90])
    gamma: float = 0.1
    min_lr: float = 0.0
    plateau_patience: int = 3
    precision: str = "auto"
    channels_last: bool | None = None
    compile: bool = False
    accum_steps: int = 1
    clip_grad: float | None = None
    ema: float | None = None
    grad_checkpointing: bool = False
    # run control
    resume: str | None = None
    overwrite: bool = False
    patience: int | None = None
    max_steps_per_epoch: int | None = None
    class_names: list[str] = field(default_factory=list)

    def validate(self) -> TrainConfig:
        """Refuse impossible combinations with a message naming the option."""
        from cvkit.train.loss_table import LOSS_REGISTRY

        checks = [
            (self.optimizer in OPTIMIZERS, f"--optimizer must be one of {', '.join(OPTIMIZERS)}"),
            (self.schedule in SCHEDULES, f"--schedule must be one of {', '.join(SCHEDULES)}"),
            (self.sampler in SAMPLERS, f"--sampler must be one of {', '.join(SAMPLERS)}"),
            (self.loss in LOSS_REGISTRY, f"--loss must be one of {', '.join(LOSS_REGISTRY)}"),
            (self.precision in PRECISIONS, f"--precision must be one of {', '.join(PRECISIONS)}"),
            (self.decoder in DECODERS, f"--decoder must be one of {', '.join(DECODERS)}"),
            (self.shuffle_buffer >= 0, "--shuffle-buffer must be 0 (the shards' order) or more"),
            (
                self.device in ("auto", "cpu", "cuda") or self.device.startswith("cuda:"),
                "--device must be auto, cpu or cuda",
            ),
            (
                self.epochs >= 1 and self.batch_size >= 1 and self.accum_steps >= 1,
                "--epochs, --batch-size and --accum-steps must be >= 1",
            ),
            (self.image_size >= 8, "--image-size must be at least 8"),
            (0.0 <= self.label_smoothing < 1.0, "--label-smoothing must be in [0, 1)"),
            (not (self.val_manifest and self.val_split), "give either --val MANIFEST or --val-split NAME, not both"),
            (not (self.weights and self.pretrained), "give either --weights PATH or --pretrained, not both"),
            (
                not (self.multi_label and self.crops),
                "--crops classifies one object per crop; it cannot be combined with --multi-label",
            ),
            (
                not (self.schedule == "plateau" and self.warmup_epochs),
                "--warmup-epochs works with the cosine and step schedules, not plateau",
            ),
            (self.patience is None or self.patience >= 0, "--patience must be >= 0 (0: no early stopping)"),
            (self.mixup >= 0 and self.cutmix >= 0, "--mixup and --cutmix take an alpha >= 0 (0: off)"),
            (
                not ((self.mixup or self.cutmix) and (self.multi_label or self.loss != "ce")),
                "--mixup/--cutmix mix single-label targets for the cross-entropy loss (--loss ce, no --multi-label)",
            ),
            (self.embed_dim is None or self.embed_dim >= 1, "--embed-dim must be >= 1"),
            (
                self.center_lambda >= 0 and 0 <= self.center_alpha <= 1,
                "--center-lambda must be >= 0 and --center-alpha in [0, 1]",
            ),
            (
                self.magnet_clusters >= 1 and self.magnet_m >= 2 and self.magnet_d >= 2,
                "--magnet-clusters must be >= 1, --magnet-m and --magnet-d >= 2",
            ),
            (
                not (self.loss == "magnet" and self.sampler != "none"),
                "--loss magnet draws its own batches (M clusters x D samples); leave --sampler at none",
            ),
            (
                not (self.loss == "magnet" and self.ema),
                "--ema averages weights but not magnet's cluster means; train magnet without it",
            ),
            (
                not (self.loss in ("center", "magnet") and self.multi_label),
                "--loss center/magnet are single-label losses; they cannot be combined with --multi-label",
            ),
            *check_adapt_options(self),
            (0 <= self.style_prob <= 1 and 0 <= self.style_alpha <= 1, "--style-prob and --style-alpha are in [0, 1]"),
            (bool(self.style_model) == bool(self.style_images), "--style-model and --style-images go together"),
        ]
        for ok, message in checks:
            if not ok:
                raise CvkitError(message)
        check_side(self.image_size, "--image-size")
        finetune_stages(self.finetune)
        return self

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Build from a stored dict, ignoring keys a newer cvkit may have added."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def write_yaml(self, path: Path) -> None:
        import yaml

        atomic_write_text(path, yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True))


def check_adapt_options(cfg: Any) -> list[tuple[bool, str]]:
    """:meth:`TrainConfig.validate`'s checks for ``--adapt``, ``--unlabeled`` and ``--target`` (cvkit.train.adapt)."""
    return [
        (cfg.adapt in ADAPT_METHODS, f"--adapt must be one of {', '.join(ADAPT_METHODS)}"),
        (not (cfg.unlabeled and cfg.target), "give either --unlabeled (few labels) or --target (a new domain)"),
        (not (cfg.target and cfg.adapt == "none"), "--target needs --adapt dann or --adapt assoc"),
        (not (cfg.adapt != "none" and not cfg.target), "--adapt needs --target MANIFEST (the unlabelled new domain)"),
        (
            not (
                (cfg.unlabeled or cfg.target) and (cfg.multi_label or cfg.loss == "magnet" or cfg.mixup or cfg.cutmix)
            ),
            "--unlabeled/--target work with single-label, unmixed batches (no --multi-label, --loss magnet, "
            "--mixup, --cutmix)",
        ),
        (
            cfg.walker_weight >= 0 and cfg.visit_weight >= 0 and cfg.adapt_weight >= 0,
            "--walker-weight, --visit-weight and --adapt-weight must be >= 0",
        ),
    ]


def finetune_stages(mode: str) -> int | None:
    """``full`` -> None (everything trains), ``linear`` -> 0, ``last-N`` -> N; refuses anything else."""
    if mode == "full":
        return None
    if mode == "linear":
        return 0
    if mode.startswith("last-") and mode[5:].isdigit() and int(mode[5:]) >= 1:
        return int(mode[5:])
    raise CvkitError(f"--finetune must be {FINETUNE_HELP}, not {mode!r}")


#: options a resumed run may change: how long, where and how fast it runs, not what it learns
RESUME_MAY_CHANGE = frozenset(
    {
        "epochs",
        "patience",
        "workers",
        "device",
        "prefetch_factor",
        "max_steps_per_epoch",
        "manifest",
        "output",
        "resume",
        "overwrite",
    }
)
#: options whose value always comes from this invocation (not from the checkpoint)
RESUME_OWN = frozenset({"output", "resume", "overwrite"})


def option_name(field_name: str) -> str:
    """The command-line spelling of a TrainConfig field (``val_manifest`` -> ``--val``)."""
    return {"val_manifest": "--val", "arch": "ARCH"}.get(field_name, "--" + field_name.replace("_", "-"))


def given_fields(cfg: TrainConfig) -> set[str]:
    """Fields set to something other than their default: what a library caller asked for explicitly."""
    default = TrainConfig(arch=cfg.arch, manifest=cfg.manifest)
    return {f.name for f in fields(TrainConfig) if getattr(cfg, f.name) != getattr(default, f.name)}


def resumed_config(cfg: TrainConfig, saved: dict[str, Any], given: set[str], checkpoint: str | Path) -> TrainConfig:
    """The config of a resumed run: the checkpoint's options, except those given now that a resumed run may change.

    A given option that differs from the checkpoint (another ``--optimizer``, ``--lr``, ...) is refused: the optimiser
    and schedule states in the checkpoint belong to the options they were trained with.
    """
    merged: dict[str, Any] = {}
    conflicts = []
    for f in fields(TrainConfig):
        name, mine = f.name, getattr(cfg, f.name)
        if name == "class_names" or name not in saved or name in RESUME_OWN:
            merged[name] = mine
        elif name in given and mine != saved[name]:
            if name in RESUME_MAY_CHANGE:
                merged[name] = mine
            else:
                conflicts.append(f"{option_name(name)} {mine} (the checkpoint has {saved[name]})")
        else:
            merged[name] = saved[name]
    if conflicts:
        raise CvkitError(
            "a resumed run keeps the options it was trained with; drop these or start a new run: "
            + "; ".join(conflicts),
            file=checkpoint,
        )
    return TrainConfig(**merged)
