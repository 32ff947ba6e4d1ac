"""The accuracy-versus-cost table of ``cvkit models``: every model's size, compute and ImageNet accuracy, and on
request its measured speed on this machine.

torchvision's numbers come from its weight metadata (``num_params``, ``_ops``, ``_metrics``; nothing is
downloaded). cvkit's own models (``small_cnn``, the BagNets) have no published accuracy; their parameters and
compute are counted on the ``meta`` device (shapes only, no memory, no arithmetic). GFLOPs follow torchvision's
convention: one multiply-add counts once, at the weights' evaluation crop (224 px for cvkit's models).
"""

from __future__ import annotations

import time
from typing import Any

import torch
from torch import nn

from cvkit.errors import CvkitError
from cvkit.train.models import MODEL_REGISTRY, create, list_model_names, logits_of

#: input size at which cvkit's own models are counted (torchvision's use their weights' crop size)
DEFAULT_COUNT_SIZE = 224
IMAGENET = "ImageNet-1K"


def count_gflops(model: nn.Module, image_size: int) -> float:
    """Multiply-adds (in billions) of one forward pass on one ``image_size`` image, counted by
    :class:`torch.utils.flop_counter.FlopCounterMode` (which counts 2 per multiply-add)."""
    from torch.utils.flop_counter import FlopCounterMode

    device = next(model.parameters()).device
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model.eval()(torch.empty(1, 3, image_size, image_size, device=device))
    return counter.get_total_flops() / 2e9


def _own_model_row(name: str) -> dict[str, Any]:
    with torch.device("meta"):
        model = create(name)
        return {
            "source": "cvkit",
            "weights": None,
            "params": sum(p.numel() for p in model.parameters()),
            "gflops": round(count_gflops(model, DEFAULT_COUNT_SIZE), 3),
            "image_size": DEFAULT_COUNT_SIZE,
            "top1": None,
            "top5": None,
        }


def _torchvision_row(name: str) -> dict[str, Any]:
    import torchvision

    weights = torchvision.models.get_model_weights(name).DEFAULT
    metrics = weights.meta.get("_metrics", {}).get(IMAGENET, {})
    crop = getattr(weights.transforms(), "crop_size", [None])
    return {
        "source": "torchvision",
        "weights": str(weights).split(".", 1)[-1],
        "params": weights.meta["num_params"],
        "gflops": weights.meta.get("_ops"),
        "image_size": crop[0] if crop else None,
        "top1": metrics.get("acc@1"),
        "top5": metrics.get("acc@5"),
    }


def model_table(names: list[str] | None = None) -> list[dict[str, Any]]:
    """One row per model (all of them when ``names`` is empty): name, source, weights, params, gflops,
    image_size (where gflops was counted), top1/top5 (ImageNet-1k %, None without published weights)."""
    known = list_model_names()
    unknown = [n for n in names or [] if n not in known]
    if unknown:
        raise CvkitError(f"unknown model {unknown[0]!r}; `cvkit models` lists the names")
    rows = []
    for name in names or known:
        row = _own_model_row(name) if name in MODEL_REGISTRY else _torchvision_row(name)
        rows.append({"name": name, **row})
    return rows


def _synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _images_per_second(step: Any, images: torch.Tensor, steps: int) -> float:
    step()  # warm-up: allocations, cuDNN autotuning, lazy initialisation
    _synchronise(images.device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    _synchronise(images.device)
    return steps * len(images) / (time.perf_counter() - start)


def measure_speed(name: str, image_size: int, batch: int, device: torch.device, steps: int = 5) -> dict[str, float]:
    """Images per second of ``name`` (untrained, 1000 classes) on ``device``: a forward pass in eval mode without
    gradients, and a training step (forward, cross-entropy, backward, SGD update) in train mode."""
    torch.manual_seed(0)
    model = create(name).to(device)
    images = torch.randn(batch, 3, image_size, image_size, device=device)
    labels = torch.randint(0, 1000, (batch,), device=device)
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)

    def forward() -> None:
        with torch.no_grad():
            model(images)

    def train_step() -> None:
        loss = nn.functional.cross_entropy(logits_of(model(images)), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    model.eval()
    inference = _images_per_second(forward, images, steps)
    model.train()
    training = _images_per_second(train_step, images, steps)
    return {"forward_images_per_s": round(inference, 2), "train_images_per_s": round(training, 2)}
