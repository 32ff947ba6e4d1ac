"""Augmentation: one pipeline spec, presets, a CPU (albumentations) and a GPU (kornia) back-end, previews.

Library entry points (heavy libraries are imported only when these run)::

    from cvkit.augment import classification_transform, load_spec
    transform = classification_transform("strong", image_size=224)   # HWC uint8 -> HWC uint8
"""

from __future__ import annotations

from cvkit.augment.cpu import CpuAugmenter, classification_transform
from cvkit.augment.presets import PRESETS
from cvkit.augment.spec import BoxPolicy, PipelineSpec, TransformSpec, load_spec

__all__ = [
    "PRESETS",
    "BoxPolicy",
    "CpuAugmenter",
    "PipelineSpec",
    "TransformSpec",
    "classification_transform",
    "load_spec",
]
