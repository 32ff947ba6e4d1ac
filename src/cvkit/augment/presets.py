"""Built-in pipelines with documented contents (``cvkit augment presets`` lists them).

Each preset is plain spec data (what a user would write in YAML), so ``load_spec("strong")``
and a file with the same content give the same pipeline. Sizes are 224 for classification;
``classification_transform`` replaces them with its ``image_size``.
"""

from __future__ import annotations

from typing import Any

PRESETS: dict[str, dict[str, Any]] = {
    "imagenet": {
        "name": "imagenet",
        "description": (
            "The academic ImageNet protocol: RandomResizedCrop 224 (scale 0.08-1, ratio 3/4-4/3) + horizontal flip."
        ),
        "transforms": [
            {"name": "RandomResizedCrop", "size": 224, "scale": [0.08, 1.0], "ratio": [0.75, 1.3333333333333333]},
            {"name": "HorizontalFlip", "p": 0.5},
        ],
    },
    "light": {
        "name": "light",
        "description": (
            "Gentle: RandomResizedCrop 224 (scale 0.5-1) + flip + mild colour jitter. For small or fine-grained data."
        ),
        "transforms": [
            {"name": "RandomResizedCrop", "size": 224, "scale": [0.5, 1.0], "ratio": [0.75, 1.3333333333333333]},
            {"name": "HorizontalFlip", "p": 0.5},
            {"name": "ColorJitter", "p": 0.5, "brightness": 0.2, "contrast": 0.2, "saturation": 0.2, "hue": 0.02},
        ],
    },
    "strong": {
        "name": "strong",
        "description": (
            "Heavy: RandomResizedCrop + flip + affine + HSV colour shifts + per-channel noise + blur + random erasing."
        ),
        "transforms": [
            {"name": "RandomResizedCrop", "size": 224, "scale": [0.25, 1.0], "ratio": [0.75, 1.3333333333333333]},
            {"name": "HorizontalFlip", "p": 0.5},
            {"name": "Affine", "p": 0.5, "scale": [0.9, 1.1], "translate": 0.1, "rotate": 15.0, "shear": 5.0},
            {"name": "HueSaturationValue", "p": 0.8, "hue_shift": 10, "sat_shift": 30, "val_shift": 30},
            {"name": "GaussNoise", "p": 0.3, "std": [0.02, 0.08]},
            {"name": "GaussianBlur", "p": 0.2, "kernel": 5, "sigma": [0.1, 2.0]},
            {"name": "Erasing", "p": 0.25, "scale": [0.02, 0.2], "ratio": [0.3, 3.3], "value": 0},
        ],
    },
    "detection": {
        "name": "detection",
        "description": (
            "Box-safe: box-keeping random crop + small affine + flip + colour; boxes under 30% visible or 16 px² are "
            "dropped (and counted); a sample that loses all its boxes is redrawn up to 10 times."
        ),
        "boxes": {"min_visibility": 0.3, "min_area": 16, "redraw": 10},
        "transforms": [
            {"name": "BoxSafeCrop", "p": 0.5, "erosion_rate": 0.0},
            {"name": "Affine", "p": 0.7, "scale": [0.8, 1.2], "translate": 0.1, "rotate": 0.0, "shear": 0.0},
            {"name": "HorizontalFlip", "p": 0.5},
            {"name": "ColorJitter", "p": 0.5, "brightness": 0.3, "contrast": 0.3, "saturation": 0.3, "hue": 0.02},
        ],
    },
    "texture": {
        "name": "texture",
        "description": (
            "Weakens texture cues (texture-bias literature, Geirhos et al. 2019): strong colour jitter, grey, channel "
            "shuffle, blur, random convolutions (RandConv) and amplitude-phase recombination (AmplitudeMix); "
            "PatchShuffle is listed with p=0 (off): raise its p to shuffle 3x3 patches (classification only)."
        ),
        "transforms": [
            {"name": "RandomResizedCrop", "size": 224, "scale": [0.25, 1.0], "ratio": [0.75, 1.3333333333333333]},
            {"name": "HorizontalFlip", "p": 0.5},
            {"name": "ColorJitter", "p": 0.9, "brightness": 0.5, "contrast": 0.5, "saturation": 0.8, "hue": 0.3},
            {"name": "ToGray", "p": 0.2},
            {"name": "ChannelShuffle", "p": 0.3},
            {"name": "GaussianBlur", "p": 0.3, "kernel": 7, "sigma": [0.5, 3.0]},
            {"name": "RandConv", "p": 0.5, "sizes": [1, 3, 5, 7], "alpha": [0.0, 1.0]},
            {"name": "AmplitudeMix", "p": 0.3, "mix": [0.5, 1.0]},
            {"name": "PatchShuffle", "p": 0.0, "grid": 3},
        ],
    },
}
