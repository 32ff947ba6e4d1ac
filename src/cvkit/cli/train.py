"""``cvkit train``, ``cvkit evaluate`` and ``cvkit predict``: thin over :mod:`cvkit.train` (torch imported inside)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from cvkit.cli.common import handle_errors, out_console, quiet_progress
from cvkit.cli.process import end_distributed_run, torch_sharing_from_env
from cvkit.errors import CvkitError

DATA = "Data"
MODEL = "Model and transfer learning"
TASK = "Task and imbalance"
OPTIM = "Optimisation"
RUN = "Run"
FEATURES = "Feature losses and embeddings"
ADAPT = "Few labels and domain adaptation"


#: train_cmd parameters whose TrainConfig field has another name (the rest share it)
CONFIG_FIELD = {"val": "val_manifest", "compile_model": "compile", "max_steps": "max_steps_per_epoch"}
NOT_CONFIG = {"list_models", "json_output", "ctx"}


def given_options(ctx: typer.Context) -> set[str]:
    """The TrainConfig fields this command line set explicitly (a resumed run takes the others from its checkpoint)."""
    given = set()
    for name in ctx.params:
        source = ctx.get_parameter_source(name)
        if name not in NOT_CONFIG and source is not None and source.name not in ("DEFAULT", "DEFAULT_MAP"):
            given.add(CONFIG_FIELD.get(name, name))
    return given


def train_cmd(
    ctx: typer.Context,
    arch: str | None = typer.Argument(None, help="Model: small_cnn or any torchvision classifier (see --list-models)."),
    manifest: Path | None = typer.Argument(None, help="Training manifest (.jsonl) from `cvkit ingest`."),
    list_models: bool = typer.Option(False, "--list-models", help="List the model names and exit."),
    val: Path | None = typer.Option(None, "--val", help="Validation manifest.", rich_help_panel=DATA),
    val_split: str | None = typer.Option(
        None,
        "--val-split",
        help="Validation = this split (default: the first of val, valid, validation, dev present).",
        rich_help_panel=DATA,
    ),
    output: Path = typer.Option(Path("runs/exp"), "--output", "-o", help="Run folder.", rich_help_panel=RUN),
    epochs: int = typer.Option(10, "--epochs", help="Training epochs.", rich_help_panel=OPTIM),
    batch_size: int = typer.Option(
        64,
        "--batch-size",
        "-b",
        help="Images per step per process (x processes under torchrun).",
        rich_help_panel=OPTIM,
    ),
    image_size: int = typer.Option(224, "--image-size", help="Square input size in pixels.", rich_help_panel=DATA),
    lr: float = typer.Option(0.1, "--lr", help="Peak learning rate.", rich_help_panel=OPTIM),
    workers: int = typer.Option(
        4, "--workers", "-j", help="DataLoader worker processes (0: load in the main process).", rich_help_panel=DATA
    ),
    shuffle_buffer: int = typer.Option(
        1000,
        "--shuffle-buffer",
        help="Shards streaming: samples each worker holds to shuffle (0: the shards' order).",
        rich_help_panel=DATA,
    ),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda.", rich_help_panel=RUN),
    seed: int = typer.Option(0, "--seed", help="Random seed (same seed, same CPU result).", rich_help_panel=RUN),
    weights: Path | None = typer.Option(
        None, "--weights", help="Start from a local cvkit checkpoint or torchvision .pth file.", rich_help_panel=MODEL
    ),
    pretrained: bool = typer.Option(
        False, "--pretrained", help="Start from torchvision's named ImageNet weights.", rich_help_panel=MODEL
    ),
    finetune: str = typer.Option(
        "full", "--finetune", help="full | linear (head only) | last-N (last N stages + head).", rich_help_panel=MODEL
    ),
    multi_label: bool = typer.Option(
        False, "--multi-label", help="Several labels per image: sigmoid + BCE, mAP and F1.", rich_help_panel=TASK
    ),
    threshold: float = typer.Option(
        0.5, "--threshold", help="Multi-label decision threshold for F1 and predict.", rich_help_panel=TASK
    ),
    crops: bool = typer.Option(
        False, "--crops", help="Classify object crops cut from the boxes.", rich_help_panel=TASK
    ),
    crop_padding: float = typer.Option(
        0.0, "--crop-padding", help="Context around each crop, as a fraction of the box size.", rich_help_panel=TASK
    ),
    class_weights: str | None = typer.Option(
        None,
        "--class-weights",
        help="balanced | effective | FILE from `cvkit stats --weights-out`.",
        rich_help_panel=TASK,
    ),
    sampler: str = typer.Option("none", "--sampler", help="none | balanced | repeat-factor.", rich_help_panel=TASK),
    repeat_threshold: float = typer.Option(
        0.1, "--repeat-threshold", help="t of repeat-factor sampling.", rich_help_panel=TASK
    ),
    label_smoothing: float = typer.Option(
        0.0,
        "--label-smoothing",
        help="Label smoothing (cross-entropy; BCE targets y(1-eps)+eps/2 with --multi-label).",
        rich_help_panel=TASK,
    ),
    loss: str = typer.Option(
        "ce",
        "--loss",
        help="ce (cross-entropy / BCE) | focal | center (tight class features) | "
        "magnet (cluster-based metric learning).",
        rich_help_panel=TASK,
    ),
    focal_gamma: float = typer.Option(2.0, "--focal-gamma", help="Focal loss gamma.", rich_help_panel=TASK),
    mixup: float = typer.Option(
        0.0, "--mixup", help="Mixup alpha (e.g. 0.2; 0: off): blend image pairs and their labels.", rich_help_panel=TASK
    ),
    cutmix: float = typer.Option(
        0.0, "--cutmix", help="CutMix alpha (e.g. 1.0; 0: off): paste a box from another image.", rich_help_panel=TASK
    ),
    embed_dim: int | None = typer.Option(
        None,
        "--embed-dim",
        help="A feature layer of this width before the classifier (2: plot it).",
        rich_help_panel=FEATURES,
    ),
    center_lambda: float = typer.Option(
        0.01, "--center-lambda", help="Weight of center loss's distance term.", rich_help_panel=FEATURES
    ),
    center_alpha: float = typer.Option(
        0.5, "--center-alpha", help="Rate at which class centres follow the features.", rich_help_panel=FEATURES
    ),
    magnet_clusters: int = typer.Option(
        4, "--magnet-clusters", help="Magnet loss: k-means clusters per class (K).", rich_help_panel=FEATURES
    ),
    magnet_m: int = typer.Option(
        8, "--magnet-m", help="Magnet loss: clusters per batch (M).", rich_help_panel=FEATURES
    ),
    magnet_d: int = typer.Option(
        8, "--magnet-d", help="Magnet loss: samples per cluster (D); batches hold M x D.", rich_help_panel=FEATURES
    ),
    magnet_alpha: float = typer.Option(
        1.0, "--magnet-alpha", help="Magnet loss margin alpha.", rich_help_panel=FEATURES
    ),
    unlabeled: Path | None = typer.Option(
        None,
        "--unlabeled",
        help="Unlabelled images of the same classes: learning by association (walker + visit loss).",
        rich_help_panel=ADAPT,
    ),
    target: Path | None = typer.Option(
        None, "--target", help="Unlabelled images of a new domain to adapt to (with --adapt).", rich_help_panel=ADAPT
    ),
    adapt: str = typer.Option(
        "none",
        "--adapt",
        help="With --target: dann (domain-adversarial, gradient reversal) | assoc (associative).",
        rich_help_panel=ADAPT,
    ),
    walker_weight: float = typer.Option(
        1.0, "--walker-weight", help="Association: weight of the walker (round-trip) loss.", rich_help_panel=ADAPT
    ),
    visit_weight: float = typer.Option(
        0.1, "--visit-weight", help="Association: weight of the visit loss.", rich_help_panel=ADAPT
    ),
    adapt_weight: float = typer.Option(
        1.0,
        "--adapt-weight",
        help="Weight of the whole association / domain loss against classification.",
        rich_help_panel=ADAPT,
    ),
    style_model: Path | None = typer.Option(
        None,
        "--style-model",
        help="AdaIN weights (folder with vgg_normalised.pth + decoder.pth): train on stylised images.",
        rich_help_panel="Data",
    ),
    style_images: Path | None = typer.Option(
        None, "--style-images", help="Folder of paintings whose styles --style-model applies.", rich_help_panel="Data"
    ),
    style_prob: float = typer.Option(
        0.5, "--style-prob", help="Share of training images stylised.", rich_help_panel="Data"
    ),
    style_alpha: float = typer.Option(
        1.0, "--style-alpha", help="Style strength (1: full style, 0: the photo).", rich_help_panel="Data"
    ),
    aug: str | None = typer.Option(
        None,
        "--aug",
        help="Augmentation PRESET or SPEC file shared with `cvkit augment`; 'none' for none.",
        rich_help_panel=DATA,
    ),
    decoder: str = typer.Option(
        "auto", "--decoder", help="CPU image decoder: auto | torchvision | pil | opencv.", rich_help_panel=DATA
    ),
    gpu_decode: bool = typer.Option(
        True, "--gpu-decode/--no-gpu-decode", help="On CUDA, decode JPEGs on the GPU (nvJPEG).", rich_help_panel=DATA
    ),
    optimizer: str = typer.Option("sgd", "--optimizer", help="sgd | adamw.", rich_help_panel=OPTIM),
    momentum: float = typer.Option(0.9, "--momentum", help="SGD momentum.", rich_help_panel=OPTIM),
    nesterov: bool = typer.Option(False, "--nesterov", help="Nesterov momentum.", rich_help_panel=OPTIM),
    weight_decay: float = typer.Option(
        1e-4, "--weight-decay", help="Weight decay (never on BatchNorm/bias).", rich_help_panel=OPTIM
    ),
    schedule: str = typer.Option(
        "cosine", "--schedule", help="cosine | step | plateau | constant.", rich_help_panel=OPTIM
    ),
    warmup_epochs: float = typer.Option(
        0.0, "--warmup-epochs", help="Linear warm-up length (cosine and step).", rich_help_panel=OPTIM
    ),
    milestones: str = typer.Option(
        "30,60,90",
        "--milestones",
        help="Epochs where the step schedule multiplies the rate by --gamma.",
        rich_help_panel=OPTIM,
    ),
    gamma: float = typer.Option(0.1, "--gamma", help="Step / plateau decay factor.", rich_help_panel=OPTIM),
    precision: str = typer.Option(
        "auto", "--precision", help="auto (bf16 on CUDA, fp32 on CPU) | bf16 | fp16 | fp32.", rich_help_panel=OPTIM
    ),
    channels_last: bool | None = typer.Option(
        None, "--channels-last/--no-channels-last", help="Memory format (default: on for CUDA).", rich_help_panel=OPTIM
    ),
    compile_model: bool = typer.Option(False, "--compile", help="torch.compile the model.", rich_help_panel=OPTIM),
    accum_steps: int = typer.Option(1, "--accum-steps", help="Gradient accumulation steps.", rich_help_panel=OPTIM),
    clip_grad: float | None = typer.Option(
        None, "--clip-grad", help="Clip the gradient norm to this value.", rich_help_panel=OPTIM
    ),
    ema: float | None = typer.Option(
        None,
        "--ema",
        help="Keep an EMA of the weights with this decay (e.g. 0.999; warmed up); "
        "best.pt uses whichever of EMA/raw validates better.",
        rich_help_panel=OPTIM,
    ),
    grad_checkpointing: bool = typer.Option(
        False, "--grad-checkpointing", help="Recompute activations to save memory.", rich_help_panel=OPTIM
    ),
    resume: Path | None = typer.Option(
        None,
        "--resume",
        help="Continue from a last.pt, exactly, with its options (--epochs may grow).",
        rich_help_panel=RUN,
    ),
    patience: int | None = typer.Option(
        None, "--patience", help="Early stopping: epochs without improvement (0: off).", rich_help_panel=RUN
    ),
    max_steps: int | None = typer.Option(
        None, "--max-steps-per-epoch", help="Cut epochs short (smoke tests, benchmarks).", rich_help_panel=RUN
    ),
    overwrite: bool = typer.Option(
        False, "--overwrite", help="Start again in a run folder that holds a run.", rich_help_panel=RUN
    ),
    json_output: bool = typer.Option(False, "--json", help="Print the run summary as JSON.", rich_help_panel=RUN),
) -> None:
    """Train a classifier on a manifest: single-label, multi-label or object crops.

    Examples:

      cvkit train resnet50 train.jsonl --val val.jsonl --pretrained --finetune last-2 -o runs/r50

      cvkit train small_cnn digits.jsonl --val-split val --epochs 5 --lr 3e-3 --optimizer adamw --device cpu

      cvkit train efficientnet_b0 voc.jsonl --crops --class-weights balanced --aug light

      cvkit train resnet18 train.jsonl --mixup 0.2 --cutmix 1.0 --label-smoothing 0.1 --ema 0.999

      cvkit train small_cnn digits.jsonl --loss center --embed-dim 2 --center-lambda 0.1 -o runs/center

      cvkit train small_cnn digits.jsonl --loss magnet --magnet-clusters 4 --magnet-m 8 --magnet-d 8

      cvkit train small_cnn mnist.jsonl --target mnistm.jsonl --adapt assoc -o runs/assoc

      cvkit train small_cnn few_labels.jsonl --unlabeled all_images.jsonl --visit-weight 0.25

      cvkit train small_cnn digits.jsonl --resume runs/exp/last.pt --epochs 20

      torchrun --nproc_per_node 4 -m cvkit train resnet50 train.jsonl --val val.jsonl -b 128

      cvkit train --list-models
    """
    with handle_errors():
        if list_models:
            from cvkit.train.models import list_model_names

            names = list_model_names()
            print(json.dumps(names) if json_output else "\n".join(names))
            return
        if arch is None or manifest is None:
            raise CvkitError("expected ARCH MANIFEST, e.g. `cvkit train resnet18 train.jsonl` (or --list-models)")
        quiet_progress(json_output)
        torch_sharing_from_env()
        from cvkit.train.config import TrainConfig
        from cvkit.train.trainer import summary_without_matrix, train

        try:
            milestone_list = [int(m) for m in milestones.split(",") if m.strip()]
        except ValueError:
            raise CvkitError(
                f"--milestones must be comma-separated epochs such as 30,60,90, not {milestones!r}"
            ) from None
        options = {CONFIG_FIELD.get(name, name): value for name, value in ctx.params.items() if name not in NOT_CONFIG}
        paths = {name: str(value) for name, value in options.items() if isinstance(value, Path)}
        cfg = TrainConfig(**{**options, **paths, "milestones": milestone_list})
        summary = train(cfg, given_options(ctx))
        if summary["rank"] == 0:
            if json_output:
                print(json.dumps(summary_without_matrix(summary), indent=2))
            else:
                _print_run_summary(summary)
        if summary.get("world_size", 1) > 1:
            end_distributed_run()


def _print_run_summary(summary: dict[str, Any]) -> None:
    from cvkit.train.console import print_metrics_table

    console = out_console()
    if summary.get("best"):
        print_metrics_table(summary["best"], title=f"best epoch {summary['best_epoch']} of {summary['arch']}")
    console.print(
        f"run folder: {summary['run']} (best.pt, last.pt, metrics.jsonl, config.yaml, confusion_matrix.csv/.png)"
    )


def evaluate_cmd(
    checkpoint: Path = typer.Argument(..., help="A run folder (uses best.pt) or a checkpoint .pt."),
    manifest: Path = typer.Argument(..., help="Manifest to evaluate on."),
    split: str | None = typer.Option(
        None,
        "--split",
        help="Only records of this split; 'all' for every record (default: the run's validation split).",
    ),
    batch_size: int = typer.Option(128, "--batch-size", "-b", help="Images per batch."),
    workers: int = typer.Option(0, "--workers", "-j", help="DataLoader workers."),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda."),
    scramble: int | None = typer.Option(
        None, "--scramble", help="Also score the images cut into GRIDxGRID shuffled tiles (texture kept, shape gone)."
    ),
    level: str | None = typer.Option(
        None, "--level", help="Also score at a coarser level of the hierarchy: coarse (parents) or a depth."
    ),
    hierarchy: Path | None = typer.Option(
        None, "--hierarchy", help="--level: hierarchy file or folder (default: the manifest's own)."
    ),
    target: Path | None = typer.Option(
        None, "--target", help="Also score a labelled manifest of the target domain (every record)."
    ),
    json_output: bool = typer.Option(False, "--json", help="Print the metrics as JSON."),
) -> None:
    """Evaluate a trained model on a manifest: top-1/top-5 (or mAP/F1), per-class accuracy, confusion matrix.

    Without --split the run's validation split is scored (every record when the manifest has no such split); the
    loss is the run's training loss (as in best_metrics.json), cross_entropy the plain one.

    Examples:

      cvkit evaluate runs/r50 data.jsonl

      cvkit evaluate runs/r50/last.pt data.jsonl --split test --json

      cvkit evaluate runs/r50 val.jsonl --split all

      cvkit evaluate runs/r50 data.jsonl --scramble 4

      cvkit evaluate runs/cifar100 cifar100.jsonl --level coarse

      cvkit evaluate runs/assoc mnist.jsonl --target mnistm.jsonl   # source and target accuracy
    """
    with handle_errors():
        quiet_progress(json_output)
        from cvkit.train.evaluate import evaluate

        metrics = evaluate(
            checkpoint,
            manifest,
            split=split,
            batch_size=batch_size,
            workers=workers,
            device=device,
            scramble=scramble,
            level=level,
            hierarchy=hierarchy,
            target_manifest=target,
        )
        if json_output:
            print(json.dumps(metrics, indent=2))
            return
        from cvkit.train.console import print_metrics_table, print_probe_lines

        scored = f"split {metrics['split']!r}" if metrics["split"] else "every record"
        print_metrics_table(metrics, title=f"{metrics['checkpoint']} on {manifest} ({scored})")
        print_probe_lines(metrics)


def predict_cmd(
    checkpoint: Path = typer.Argument(..., help="A run folder (uses best.pt) or a checkpoint .pt."),
    images: list[Path] = typer.Argument(..., help="Image files or folders."),
    topk: int = typer.Option(5, "--topk", "-k", help="Classes to list per image."),
    batch_size: int = typer.Option(64, "--batch-size", "-b", help="Images per batch."),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON (a list, one entry per image)."),
) -> None:
    """Classify images with a trained model.

    Examples:

      cvkit predict runs/r50 photo.jpg --topk 3

      cvkit predict runs/r50/best.pt images/ --json > predictions.json
    """
    with handle_errors():
        from cvkit.train.predict import predict

        results = predict(checkpoint, list(images), topk=topk, batch_size=batch_size, device=device)
        if json_output:
            print(json.dumps(results, indent=2, ensure_ascii=False))
            return
        console = out_console()
        for entry in results:
            best = ", ".join(f"{p['label']} {p['score']:.3f}" for p in entry["predictions"])
            console.print(f"{entry['image']}: {best}")


def embed_cmd(
    checkpoint: Path = typer.Argument(..., help="A run folder (uses best.pt) or a checkpoint .pt."),
    manifest: Path = typer.Argument(..., help="Manifest whose images to embed."),
    output: Path = typer.Option(..., "--output", "-o", help="features.npz or features.parquet."),
    plot: Path | None = typer.Option(
        None, "--plot", help="Also draw a 2-D scatter coloured by class (PCA when wider) into this PNG."
    ),
    split: str | None = typer.Option(None, "--split", help="Only records of this split."),
    batch_size: int = typer.Option(128, "--batch-size", "-b", help="Images per batch."),
    workers: int = typer.Option(0, "--workers", "-j", help="DataLoader workers."),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace existing output files."),
    json_output: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Write every image's features (the classifier's input; --embed-dim wide) and optionally plot them.

    Examples:

      cvkit embed runs/center digits.jsonl -o features.npz --plot features.png

      cvkit embed runs/r50 data.jsonl --split val -o features.parquet --json
    """
    with handle_errors():
        from cvkit.train.embed import embed

        summary = embed(
            checkpoint,
            manifest,
            output,
            plot,
            split=split,
            batch_size=batch_size,
            workers=workers,
            device=device,
            overwrite=overwrite,
        )
        if json_output:
            print(json.dumps(summary, indent=2))
            return
        ratio = (
            f", within/between class spread {summary['spread_ratio']:.3f}"
            if summary["spread_ratio"] is not None
            else ""
        )
        out_console().print(f"{summary['images']} images, {summary['dim']}-D features -> {summary['output']}{ratio}")


def register(app: typer.Typer) -> None:
    app.command("train", no_args_is_help=True)(train_cmd)
    app.command("embed", no_args_is_help=True)(embed_cmd)
    app.command("evaluate", no_args_is_help=True)(evaluate_cmd)
    app.command("predict", no_args_is_help=True)(predict_cmd)
