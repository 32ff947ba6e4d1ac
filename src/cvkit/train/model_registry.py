"""cvkit's own architectures by name, in a module of their own so that the files defining them
(:mod:`cvkit.train.bagnet`, ...) can register into it while :mod:`cvkit.train.models`, which builds models by
name, imports those files: the dependency runs one way."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torch import nn

#: Every torchvision classification model was built for ImageNet-1k; heads producing this many logits are replaced.
IMAGENET_CLASSES = 1000

#: cvkit's own architectures by name (torchvision's come from ``torchvision.models``); a factory returns an
#: untrained ImageNet-shaped model (a 1000-output Linear head that :func:`cvkit.train.models.replace_heads` swaps)
MODEL_REGISTRY: dict[str, Callable[[], nn.Module]] = {}


def register_model(name: str) -> Callable[[Callable[[], nn.Module]], Callable[[], nn.Module]]:
    """Decorator: make a model factory available as ``cvkit train NAME``."""

    def add(factory: Callable[[], nn.Module]) -> Callable[[], nn.Module]:
        MODEL_REGISTRY[name] = factory
        return factory

    return add
