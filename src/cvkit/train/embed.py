"""``cvkit embed``: every image's features (the input of the classifier's last layer) as ``.npz`` or ``.parquet``,
and a 2-D scatter coloured by class (PCA when the features are wider than 2), the picture of MNIST features with
and without center loss.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from cvkit.errors import CvkitError, DestinationExistsError
from cvkit.io import atomic_file
from cvkit.train.checkpoint import load_checkpoint, model_and_info, resolve_checkpoint
from cvkit.train.data import EvalShardSampler, ManifestDataset, eval_transform, load_items, make_loader, resolve_decoder
from cvkit.train.loop import DistEnv, StepContext, autocast_dtype, forward_all, resolve_device
from cvkit.train.models import FeatureTap

SUFFIXES = (".npz", ".parquet")


def compute_embeddings(
    checkpoint: str | Path,
    manifest: str | Path,
    split: str | None = None,
    batch_size: int = 128,
    workers: int = 0,
    device: str = "auto",
) -> dict[str, Any]:
    """``{"features": (N, D) float32, "labels": (N,) class index, "paths": [...], "class_names": [...]}`` for the
    labelled images (or crops) of ``manifest`` (``split`` only, when given), preprocessed as in validation."""
    path = resolve_checkpoint(checkpoint)
    state = load_checkpoint(path)
    model, cfg, info = model_and_info(state)
    class_names: list[str] = state["class_names"]
    if cfg.multi_label:
        raise CvkitError("cvkit embed colours images by their one class; this run is multi-label", file=path)
    items = load_items(manifest, class_names, split=split, crops=cfg.crops, crop_padding=cfg.crop_padding)
    target = resolve_device(device, DistEnv())
    model = model.to(target)
    dataset = ManifestDataset(
        items.items, len(class_names), eval_transform(cfg.image_size), resolve_decoder(cfg.decoder)
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
    tap = FeatureTap(model, info["feature_layer"])
    _, features, targets = forward_all(
        model, loader, StepContext(target, autocast_dtype(cfg, target), channels_last=False), tap=tap
    )
    return {
        "features": torch.cat(features).numpy().astype(np.float32)
        if features
        else np.zeros((0, info["feature_dim"] or 0), np.float32),
        "labels": torch.cat(targets).numpy().astype(np.int64) if targets else np.zeros(0, np.int64),
        "paths": [item[0] for item in items.items],
        "class_names": class_names,
        "checkpoint": str(path),
    }


def write_embeddings(result: dict[str, Any], output: Path) -> None:
    """``.npz`` (arrays ``features``, ``labels``, ``paths``, ``class_names``) or ``.parquet`` (columns ``path``,
    ``label``, ``class``, ``f0`` .. ``f{D-1}``)."""
    if output.suffix == ".npz":
        with atomic_file(output, "wb", encoding=None) as handle:
            np.savez(
                handle,
                features=result["features"],
                labels=result["labels"],
                paths=np.array(result["paths"]),
                class_names=np.array(result["class_names"]),
            )
        return
    import pandas as pd

    names = np.array(result["class_names"])
    frame = pd.DataFrame({"path": result["paths"], "label": result["labels"], "class": names[result["labels"]]})
    features = pd.DataFrame(result["features"], columns=[f"f{i}" for i in range(result["features"].shape[1])])
    with atomic_file(output, "wb", encoding=None) as handle:
        pd.concat([frame, features], axis=1).to_parquet(handle, index=False)


def project_2d(features: np.ndarray) -> tuple[np.ndarray, str]:
    """The features themselves when 2-D, else their first two principal components."""
    if features.shape[1] <= 2:
        return np.pad(features, ((0, 0), (0, 2 - features.shape[1]))), "features"
    centred = features - features.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    return centred @ vt[:2].T, "PCA of the features"


def plot_embeddings(result: dict[str, Any], output: Path) -> None:
    """A scatter of the 2-D features (or their PCA), one colour per class, legend by class name."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points, kind = project_2d(result["features"])
    fig, ax = plt.subplots(figsize=(7, 6))
    cmap = plt.get_cmap("tab10" if len(result["class_names"]) <= 10 else "tab20")
    for index, name in enumerate(result["class_names"]):
        chosen = result["labels"] == index
        if chosen.any():
            ax.scatter(points[chosen, 0], points[chosen, 1], s=4, color=cmap(index % cmap.N), label=name)
    ax.set_title(f"{kind}, coloured by class")
    ax.legend(markerscale=3, fontsize=8, loc="best")
    fig.tight_layout()
    with atomic_file(output, "wb", encoding=None) as handle:
        fig.savefig(handle, format="png", dpi=100)
    plt.close(fig)


def spread_ratio(features: np.ndarray, labels: np.ndarray) -> float:
    """Mean within-class spread over between-class spread: mean squared distance of features to their class mean,
    divided by the mean squared distance of the class means to their overall mean (lower: tighter, better separated)."""
    classes = np.unique(labels)
    means = np.stack([features[labels == c].mean(axis=0) for c in classes])
    within = np.mean([((features[labels == c] - means[i]) ** 2).sum(axis=1).mean() for i, c in enumerate(classes)])
    between = ((means - means.mean(axis=0)) ** 2).sum(axis=1).mean()
    return float(within / between)


def embed(
    checkpoint: str | Path,
    manifest: str | Path,
    output: Path,
    plot: Path | None = None,
    split: str | None = None,
    batch_size: int = 128,
    workers: int = 0,
    device: str = "auto",
    overwrite: bool = False,
) -> dict[str, Any]:
    """Write the features of ``manifest``'s images to ``output`` (and the scatter to ``plot``); returns a summary."""
    output = Path(output)
    if output.suffix not in SUFFIXES:
        raise CvkitError(f"the features file must end in {' or '.join(SUFFIXES)}", file=output)
    for path in (output, plot):
        if path is not None and Path(path).exists() and not overwrite:
            raise DestinationExistsError("already exists; pass --overwrite to replace it", file=path)
    result = compute_embeddings(checkpoint, manifest, split, batch_size, workers, device)
    write_embeddings(result, output)
    if plot is not None:
        plot_embeddings(result, Path(plot))
    features, labels = result["features"], result["labels"]
    return {
        "output": str(output),
        "plot": str(plot) if plot else None,
        "images": len(labels),
        "dim": int(features.shape[1]),
        "checkpoint": result["checkpoint"],
        "split": split,
        "spread_ratio": spread_ratio(features, labels) if len(np.unique(labels)) > 1 else None,
    }
