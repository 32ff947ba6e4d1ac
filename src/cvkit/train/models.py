"""Models: any torchvision classifier by name plus ``small_cnn``, with the head replaced,
weights loaded from a local file or torchvision's named weights, and transfer-learning freezing.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import torch
from torch import nn

from cvkit.errors import CvkitError, InvalidInputError
from cvkit.train.bagnet import KERNEL3_BY_FIELD, BagNet
from cvkit.train.config import IMAGENET_CLASSES

SMALL_CNN = "small_cnn"


#: cvkit's own architectures by name (torchvision's come from ``torchvision.models``); a factory returns an
#: untrained ImageNet-shaped model (a 1000-output Linear head that :func:`replace_heads` swaps)
MODEL_REGISTRY: dict[str, Callable[[], nn.Module]] = {}


def register_model(name: str) -> Callable[[Callable[[], nn.Module]], Callable[[], nn.Module]]:
    """Decorator: make a model factory available as ``cvkit train NAME``."""

    def add(factory: Callable[[], nn.Module]) -> Callable[[], nn.Module]:
        MODEL_REGISTRY[name] = factory
        return factory

    return add


def list_model_names() -> list[str]:
    """cvkit's registered models (``small_cnn``, ...) and every torchvision classification model name."""
    import torchvision

    return [*MODEL_REGISTRY, *sorted(torchvision.models.list_models(module=torchvision.models))]


class SmallCNN(nn.Module):
    """A tiny CNN (about 0.1M parameters) for quick CPU runs and tests; any input size."""

    def __init__(self, num_classes: int = IMAGENET_CLASSES, width: int = 32):
        super().__init__()

        def block(cin: int, cout: int) -> nn.Sequential:
            return nn.Sequential(
                nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)
            )

        self.stem = block(3, width)
        self.layer1 = nn.Sequential(block(width, width), nn.MaxPool2d(2))
        self.layer2 = nn.Sequential(block(width, 2 * width), block(2 * width, 2 * width), nn.MaxPool2d(2))
        self.layer3 = nn.Sequential(block(2 * width, 4 * width), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.dropout = nn.Dropout(0.1)
        self.fc = nn.Linear(4 * width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.dropout(self.layer3(self.layer2(self.layer1(self.stem(x))))))


register_model(SMALL_CNN)(SmallCNN)


def logits_of(output: Any) -> torch.Tensor:
    """The main logits of a model output (inception/googlenet return a namedtuple with aux logits in train mode)."""
    return output.logits if hasattr(output, "logits") else output


def create(arch: str) -> nn.Module:
    """An untrained ImageNet-shaped model called ``arch``."""
    if arch in MODEL_REGISTRY:
        return MODEL_REGISTRY[arch]()
    import torchvision

    if arch not in torchvision.models.list_models(module=torchvision.models):
        raise CvkitError(f"unknown model {arch!r}; `cvkit train --list-models` lists the names")
    # auxiliary heads are left out: their outputs are unused (and DDP refuses unused parameters)
    extra = {"aux_logits": False, "init_weights": True} if arch in ("inception_v3", "googlenet") else {}
    return torchvision.models.get_model(arch, weights=None, **extra)


def head_names(model: nn.Module) -> list[str]:
    """Modules producing the ImageNet logits: Linear layers (and squeezenet's 1x1 conv), aux heads included."""
    names = []
    for name, module in model.named_modules():
        if (isinstance(module, nn.Linear) and module.out_features == IMAGENET_CLASSES) or (
            isinstance(module, nn.Conv2d) and module.out_channels == IMAGENET_CLASSES and module.kernel_size == (1, 1)
        ):
            names.append(name)
    if not names:
        raise CvkitError("could not find the classification head of this model")
    return names


def replace_heads(
    model: nn.Module,
    names: list[str],
    num_classes: int,
    embed_dim: int | None = None,
    head: str = "linear",
    clusters: int = 1,
) -> str:
    """Swap each head for a freshly initialised one with ``num_classes`` outputs; returns the feature layer's name.

    The last head becomes ``Sequential(embed=Linear(in, embed_dim), classifier=HEAD(embed_dim, ...))`` with
    ``embed_dim`` (``classifier`` alone otherwise); ``head`` names a :data:`HEAD_REGISTRY` entry. The feature
    layer is the module whose input is the classifier's feature vector (what feature losses and ``cvkit embed`` use).
    """
    feature_layer = names[-1]
    for name in names:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        old = getattr(parent, child)
        main = name == names[-1] and (embed_dim is not None or head != "linear")
        if main:
            if not isinstance(old, nn.Linear):
                raise CvkitError("--embed-dim and --loss magnet need a model whose classifier is a Linear layer")
            width = embed_dim or old.in_features
            parts: list[tuple[str, nn.Module]] = [("embed", nn.Linear(old.in_features, width))] if embed_dim else []
            parts.append(("classifier", HEAD_REGISTRY[head](width, num_classes, clusters)))
            new: nn.Module = nn.Sequential(OrderedDict(parts))
            feature_layer = f"{name}.classifier"
        elif isinstance(old, nn.Linear):
            new = nn.Linear(old.in_features, num_classes, bias=old.bias is not None)
        else:
            new = nn.Conv2d(old.in_channels, num_classes, 1)
        setattr(parent, child, new)
    return feature_layer


class MagnetHead(nn.Module):
    """Classifies by distance to cluster means (magnet loss, Rippel et al. 2016): the logit of class c is
    ``log sum_k exp(-||f - mu_ck||^2 / (2 sigma^2))`` over the class's cluster means, so softmax over the logits
    is the paper's prediction rule. The means and sigma^2 are buffers set by k-means on the training features
    (:func:`cvkit.train.feature_losses.refresh_magnet_index`), not trained by gradient."""

    def __init__(self, in_features: int, num_classes: int, clusters: int):
        super().__init__()
        self.num_classes, self.clusters = num_classes, clusters
        self.register_buffer("means", torch.zeros(num_classes * clusters, in_features))
        self.register_buffer("active", torch.ones(num_classes * clusters, dtype=torch.bool))
        self.register_buffer("variance", torch.ones(()))

    def cluster_class(self) -> torch.Tensor:
        """The class of each cluster (clusters are stored class after class)."""
        return torch.arange(self.num_classes, device=self.means.device).repeat_interleave(self.clusters)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        features = features.float()  # ||f||^2 - 2 f.mu + ||mu||^2: (batch, clusters) memory, not (batch, clusters, dim)
        squared = features.pow(2).sum(1, keepdim=True) - 2 * features @ self.means.T + self.means.pow(2).sum(1)
        squared = squared.clamp_min(0)
        scores = (-squared / (2 * self.variance)).masked_fill(~self.active, -1e9)
        return torch.logsumexp(scores.view(len(features), self.num_classes, self.clusters), dim=2)


#: classification heads by name: ``(in_features, num_classes, clusters) -> module``
HEAD_REGISTRY: dict[str, Callable[[int, int, int], nn.Module]] = {
    "linear": lambda width, num_classes, _clusters: nn.Linear(width, num_classes),
    "magnet": MagnetHead,
}


class FeatureTap:
    """Keeps the input of the model's feature layer (the classifier's feature vector) of the latest forward pass."""

    def __init__(self, model: nn.Module, layer: str):
        self.features: torch.Tensor | None = None
        self.handle = model.get_submodule(layer).register_forward_pre_hook(self._keep)

    def _keep(self, _module: nn.Module, args: tuple[Any, ...]) -> None:
        self.features = args[0]

    def take(self) -> torch.Tensor:
        features, self.features = self.features, None
        if features is None:
            raise CvkitError("the model's feature layer was not reached in the forward pass")
        return features.flatten(1)


# --- weights ---------------------------------------------------------------------------------
def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Model weights from a cvkit checkpoint or a torchvision ``.pth`` state dict (safe, weights-only unpickling)."""
    path = Path(path)
    if not path.is_file():
        raise InvalidInputError("weights file not found", file=path)
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises UnpicklingError, RuntimeError, ... for foreign files
        raise InvalidInputError(
            f"not a PyTorch weights file ({exc.__class__.__name__}: {str(exc)[:200]})", file=path
        ) from None
    if isinstance(data, dict) and isinstance(data.get("model"), dict):
        data = data["model"]
    elif isinstance(data, dict) and isinstance(data.get("state_dict"), dict):
        data = data["state_dict"]
    if not isinstance(data, dict) or not all(isinstance(v, torch.Tensor) for v in data.values()):
        raise InvalidInputError("the file holds no model state dict", file=path)
    return {k.removeprefix("module.").removeprefix("_orig_mod."): v for k, v in data.items()}


def load_matching(model: nn.Module, state: dict[str, torch.Tensor]) -> dict[str, list[str]]:
    """Load every tensor whose name and shape match; report the rest (e.g. a 1000-class head)."""
    own = model.state_dict()
    usable = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    skipped = sorted(k for k in state if k not in usable)
    missing = sorted(k for k in own if k not in usable)
    if not usable:
        raise CvkitError("none of the weights fit this model; is it the right architecture?")
    model.load_state_dict(usable, strict=False)
    return {"loaded": sorted(usable), "skipped": skipped, "missing": missing}


def offline() -> bool:
    return os.environ.get("CVKIT_OFFLINE", "").lower() in ("1", "true", "yes")


def pretrained_state_dict(arch: str) -> dict[str, torch.Tensor]:
    """torchvision's default named weights for ``arch`` (from the torch hub cache, else downloaded).

    Offline (no network, or ``CVKIT_OFFLINE=1``) this fails with a message saying which
    file to fetch and how to pass it with ``--weights``.
    """
    if arch in MODEL_REGISTRY:
        raise CvkitError(f"{arch} has no torchvision weights; train it from scratch or pass --weights PATH")
    import torchvision

    weights = torchvision.models.get_model_weights(arch).DEFAULT
    filename = weights.url.rsplit("/", 1)[-1]
    cached = Path(torch.hub.get_dir()) / "checkpoints" / filename
    message = (
        f"cannot download the pretrained weights of {arch} (offline). Download {weights.url} on a machine with "
        f"internet access, then pass the file with --weights /path/to/{filename} (or copy it into {cached.parent}/)"
    )
    if cached.is_file():
        return read_state_dict(cached)
    if offline():
        raise CvkitError(message)
    try:
        return weights.get_state_dict(progress=False, check_hash=True)
    except OSError:  # URLError and socket errors are OSErrors
        raise CvkitError(message) from None


# --- transfer learning -------------------------------------------------------------------------
def _param_count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def backbone_stages(model: nn.Module, heads: list[str]) -> list[str]:
    """Names of the backbone's stages in forward order, for ``--finetune last-N``.

    The top-level children holding parameters (heads excluded); while there are fewer
    than four, the largest container is split into its children (mobilenet's
    ``features``, ViT's ``encoder.layers``), so ``last-N`` always means something.
    """
    head_roots = {h.split(".")[0] for h in heads}
    stages = [n for n, m in model.named_children() if n not in head_roots and _param_count(m) > 0]

    def parts(name: str) -> list[str]:
        return [f"{name}.{c}" for c, m in model.get_submodule(name).named_children() if _param_count(m) > 0]

    while len(stages) < 4:
        splittable = [n for n in stages if len(parts(n)) >= 2]
        if not splittable:
            break
        largest = max(splittable, key=lambda n: _param_count(model.get_submodule(n)))
        at = stages.index(largest)
        stages[at : at + 1] = parts(largest)
    return stages


def apply_finetune(model: nn.Module, heads: list[str], stages_to_train: int | None) -> list[str]:
    """Freeze the backbone except its last ``stages_to_train`` stages (None: train all); heads always train.

    Returns the trainable stage names. Frozen BatchNorm layers are kept in eval mode by :func:`train_mode`.
    """
    if stages_to_train is None:
        return backbone_stages(model, heads)
    for param in model.parameters():
        param.requires_grad_(False)
    trainable = backbone_stages(model, heads)[-stages_to_train:] if stages_to_train else []
    # last-N also trains whatever sits around the head (mobilenet's hidden classifier layer, convnext's norm)
    head_parts = list(dict.fromkeys(h.split(".")[0] for h in heads)) if stages_to_train else heads
    for name in [*trainable, *head_parts]:
        for param in model.get_submodule(name).parameters():
            param.requires_grad_(True)
    return trainable


def train_mode(model: nn.Module) -> None:
    """``model.train()``, but BatchNorm layers whose parameters are all frozen stay in eval mode
    (their running statistics are part of the frozen features)."""
    model.train()
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            params = list(module.parameters(recurse=False))
            if params and not any(p.requires_grad for p in params):
                module.eval()


def enable_gradient_checkpointing(model: nn.Module, stages: list[str]) -> None:
    """Recompute each trainable stage's activations in the backward pass instead of storing them."""
    from torch.utils.checkpoint import checkpoint

    for name in stages:
        module = model.get_submodule(name)
        if any(p.requires_grad for p in module.parameters()):
            module.forward = partial(checkpoint, module.forward, use_reentrant=False)  # type: ignore[method-assign]


def build_model(
    arch: str,
    num_classes: int,
    weights: str | None = None,
    pretrained: bool = False,
    finetune_stages: int | None = None,
    grad_checkpointing: bool = False,
    embed_dim: int | None = None,
    head: str = "linear",
    clusters: int = 1,
) -> tuple[nn.Module, dict[str, Any]]:
    """The model for a run and facts about it (heads, stages, feature layer and width, what the weights filled)."""
    model = create(arch)
    heads = head_names(model)
    info: dict[str, Any] = {"heads": heads}
    if pretrained:
        info["weights"] = load_matching(model, pretrained_state_dict(arch))
    info["feature_layer"] = replace_heads(model, heads, num_classes, embed_dim, head, clusters)
    layer = model.get_submodule(info["feature_layer"])
    info["feature_dim"] = (
        layer.in_features
        if isinstance(layer, nn.Linear)
        else (layer.means.shape[1] if isinstance(layer, MagnetHead) else None)
    )
    if weights:
        info["weights"] = load_matching(model, read_state_dict(weights))
    info["trainable_stages"] = apply_finetune(model, heads, finetune_stages)
    if grad_checkpointing:
        enable_gradient_checkpointing(model, info["trainable_stages"])
    return model, info


for _field in KERNEL3_BY_FIELD:
    register_model(f"bagnet{_field}")(partial(BagNet, _field))
