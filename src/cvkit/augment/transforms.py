"""cvkit's transform vocabulary: one table mapping each cvkit name to its CPU and GPU back-ends.

A spec names transforms by these cvkit names with cvkit's parameter names; the table
builds the albumentations transform (CPU) and the kornia module (GPU) with the *same
parameter ranges*, so one spec gives statistically the same augmentations on both.
``kornia=None`` means the transform has no GPU implementation: the GPU back-end runs it
on the CPU for that step (reported once). docs/augment.md renders this table.

Albumentations and kornia are imported inside the builders, never at module import.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Params = dict[str, Any]


def _pair(value: Any, symmetric: bool = True) -> tuple[float, float]:
    """``0.2`` -> ``(-0.2, 0.2)`` (or ``(1-0.2, 1+0.2)`` for factors); a pair is kept."""
    if isinstance(value, (list, tuple)):
        return (float(value[0]), float(value[1]))
    value = float(value)
    return (-value, value) if symmetric else (max(0.0, 1.0 - value), 1.0 + value)


@dataclass(frozen=True)
class TransformDef:
    """One cvkit transform: defaults, what it does, and how each back-end builds it."""

    name: str
    kind: str  # "geometric" (moves pixels: targets follow) or "pixel" (targets untouched)
    defaults: Params
    doc: str
    albu_class: str
    albu: Callable[[Params, float], Any]
    kornia: Callable[[Params, float], Any] | None = None
    #: albumentations parameter -> cvkit parameter, for importing ``A.to_dict`` files
    from_albu: Callable[[Params], Params] | None = None
    #: the transform sets the output size (classification_transform sets it to image_size)
    sets_size: bool = False
    default_p: float = 0.5
    kornia_doc: str = ""
    aliases: tuple[str, ...] = field(default=())


def _A() -> Any:
    import albumentations

    return albumentations


def _K() -> Any:
    import kornia.augmentation

    return kornia.augmentation


def _size(params: Params) -> tuple[int, int]:
    size = params["size"]
    return (int(size), int(size)) if not isinstance(size, (list, tuple)) else (int(size[0]), int(size[1]))


def _std(params: Params) -> tuple[float, float]:
    """Noise std range as a fraction of full scale; a single number means ``(0, std)``."""
    std = params["std"]
    return (float(std[0]), float(std[1])) if isinstance(std, (list, tuple)) else (0.0, float(std))


def _gpu_ops() -> Any:
    from cvkit.augment import gpu_ops

    return gpu_ops


def _texture_albu() -> Any:
    from cvkit.augment import texture_albu

    return texture_albu


def _texture_gpu() -> Any:
    from cvkit.augment import texture_gpu

    return texture_gpu


#: RandConv's kernel sizes (the paper's multi-scale set)
RANDCONV_SIZES = (1, 3, 5, 7)


TRANSFORMS: dict[str, TransformDef] = {}


def _register(d: TransformDef) -> None:
    TRANSFORMS[d.name] = d


def _register_plain(name: str, group: str, doc: str, kornia_class: str) -> None:
    """A transform without parameters: the albumentations class of the same name, and a kornia class."""
    _register(
        TransformDef(
            name,
            group,
            {},
            doc,
            name,
            albu=lambda q, p: getattr(_A(), name)(p=p),
            kornia=lambda q, p: getattr(_K(), kornia_class)(p=p),
            kornia_doc=kornia_class,
            from_albu=lambda a: {},
        )
    )


# --- geometric ----------------------------------------------------------------------------
_register_plain("HorizontalFlip", "geometric", "mirror left-right", "RandomHorizontalFlip")
_register_plain("VerticalFlip", "geometric", "mirror top-bottom", "RandomVerticalFlip")
_register(
    TransformDef(
        "Resize",
        "geometric",
        {"height": 224, "width": 224},
        "resize to height x width",
        "Resize",
        albu=lambda q, p: _A().Resize(int(q["height"]), int(q["width"]), p=p),
        kornia=lambda q, p: _K().Resize((int(q["height"]), int(q["width"])), antialias=True, align_corners=False, p=p),
        kornia_doc="Resize",
        from_albu=lambda a: {"height": a["height"], "width": a["width"]},
        sets_size=True,
        default_p=1.0,
    )
)
_register(
    TransformDef(
        "SmallestMaxSize",
        "geometric",
        {"size": 256},
        "resize so the shorter side is `size`",
        "SmallestMaxSize",
        albu=lambda q, p: _A().SmallestMaxSize(max_size=int(q["size"]), p=p),
        kornia=lambda q, p: _K().Resize(int(q["size"]), side="short", antialias=True, align_corners=False, p=p),
        kornia_doc="Resize(side='short')",
        from_albu=lambda a: {"size": a["max_size"] if not isinstance(a["max_size"], list) else a["max_size"][0]},
        default_p=1.0,
    )
)
_register(
    TransformDef(
        "CenterCrop",
        "geometric",
        {"height": 224, "width": 224},
        "crop the centre height x width",
        "CenterCrop",
        albu=lambda q, p: _A().CenterCrop(int(q["height"]), int(q["width"]), pad_if_needed=True, p=p),
        kornia=lambda q, p: _K().CenterCrop((int(q["height"]), int(q["width"])), p=p),
        kornia_doc="CenterCrop",
        from_albu=lambda a: {"height": a["height"], "width": a["width"]},
        sets_size=True,
        default_p=1.0,
    )
)
_register(
    TransformDef(
        "Crop",
        "geometric",
        {"x_min": 0, "y_min": 0, "x_max": 224, "y_max": 224},
        "fixed crop [x_min, x_max) x [y_min, y_max)",
        "Crop",
        albu=lambda q, p: _A().Crop(int(q["x_min"]), int(q["y_min"]), int(q["x_max"]), int(q["y_max"]), p=p),
        kornia=None,
        from_albu=lambda a: {k: a[k] for k in ("x_min", "y_min", "x_max", "y_max")},
        default_p=1.0,
    )
)
_register(
    TransformDef(
        "RandomCrop",
        "geometric",
        {"height": 224, "width": 224},
        "random height x width crop (padded when the image is smaller)",
        "RandomCrop",
        albu=lambda q, p: _A().RandomCrop(int(q["height"]), int(q["width"]), pad_if_needed=True, p=p),
        kornia=lambda q, p: _K().RandomCrop((int(q["height"]), int(q["width"])), pad_if_needed=True, p=p),
        kornia_doc="RandomCrop",
        from_albu=lambda a: {"height": a["height"], "width": a["width"]},
        sets_size=True,
        default_p=1.0,
    )
)
_register(
    TransformDef(
        "RandomResizedCrop",
        "geometric",
        {"size": 224, "scale": [0.08, 1.0], "ratio": [0.75, 1.3333333333333333]},
        "crop a random area fraction `scale` with aspect `ratio`, resize to size x size (Inception/ImageNet protocol)",
        "RandomResizedCrop",
        albu=lambda q, p: _A().RandomResizedCrop(size=_size(q), scale=tuple(q["scale"]), ratio=tuple(q["ratio"]), p=p),
        kornia=lambda q, p: _K().RandomResizedCrop(_size(q), scale=tuple(q["scale"]), ratio=tuple(q["ratio"]), p=p),
        kornia_doc="RandomResizedCrop",
        from_albu=lambda a: {"size": list(a["size"]), "scale": list(a["scale"]), "ratio": list(a["ratio"])},
        sets_size=True,
        default_p=1.0,
    )
)
_register(
    TransformDef(
        "BoxSafeCrop",
        "geometric",
        {"erosion_rate": 0.0},
        "random crop (no resize) that keeps every box whole; `erosion_rate` lets boxes shrink by that fraction",
        "BBoxSafeRandomCrop",
        albu=lambda q, p: _A().BBoxSafeRandomCrop(erosion_rate=float(q["erosion_rate"]), p=p),
        kornia=None,
        from_albu=lambda a: {"erosion_rate": a.get("erosion_rate", 0.0)},
    )
)
_register(
    TransformDef(
        "Affine",
        "geometric",
        {"scale": [0.9, 1.1], "translate": 0.1, "rotate": 15.0, "shear": 0.0},
        "random scale (factor range), translate (fraction of size), rotate and shear (degrees), black fill",
        "Affine",
        albu=lambda q, p: _A().Affine(
            scale=tuple(_pair(q["scale"], symmetric=False)),
            translate_percent=_pair(q["translate"]),
            rotate=_pair(q["rotate"]),
            shear=_pair(q["shear"]),
            p=p,
        ),
        kornia=lambda q, p: _K().RandomAffine(
            degrees=_pair(q["rotate"]),
            translate=(abs(_pair(q["translate"])[1]),) * 2,
            scale=_pair(q["scale"], symmetric=False),
            shear=_pair(q["shear"]),
            p=p,
        ),
        kornia_doc="RandomAffine",
        from_albu=lambda a: {
            "scale": list(a["scale"]["x"] if isinstance(a.get("scale"), dict) else a.get("scale", (1, 1))),
            "translate": list((a.get("translate_percent") or {"x": (0, 0)})["x"])
            if isinstance(a.get("translate_percent"), dict)
            else list(a.get("translate_percent") or (0, 0)),
            "rotate": list(a.get("rotate", (0, 0))),
            "shear": list(a["shear"]["x"] if isinstance(a.get("shear"), dict) else a.get("shear", (0, 0))),
        },
    )
)
_register(
    TransformDef(
        "PatchShuffle",
        "geometric",
        {"grid": 3},
        "cut into grid x grid patches and shuffle them (destroys shape, keeps texture); classification only",
        "RandomGridShuffle",
        albu=lambda q, p: _A().RandomGridShuffle(grid=(int(q["grid"]), int(q["grid"])), p=p),
        kornia=None,
        from_albu=lambda a: {"grid": a["grid"][0]},
    )
)

# --- pixel ----------------------------------------------------------------------------------
_register(
    TransformDef(
        "ColorJitter",
        "pixel",
        {"brightness": 0.4, "contrast": 0.4, "saturation": 0.4, "hue": 0.1},
        "torchvision-style jitter: factors in [1-b, 1+b] etc., hue shift in [-hue, hue] turns",
        "ColorJitter",
        albu=lambda q, p: _A().ColorJitter(
            brightness=_pair(q["brightness"], False),
            contrast=_pair(q["contrast"], False),
            saturation=_pair(q["saturation"], False),
            hue=_pair(q["hue"]),
            p=p,
        ),
        kornia=lambda q, p: _K().ColorJitter(
            brightness=_pair(q["brightness"], False),
            contrast=_pair(q["contrast"], False),
            saturation=_pair(q["saturation"], False),
            hue=_pair(q["hue"]),
            p=p,
        ),
        kornia_doc="ColorJitter",
        from_albu=lambda a: {k: list(a[k]) for k in ("brightness", "contrast", "saturation", "hue")},
    )
)
_register(
    TransformDef(
        "HueSaturationValue",
        "pixel",
        {"hue_shift": 20, "sat_shift": 30, "val_shift": 20},
        "add shifts in HSV space (OpenCV 8-bit units: hue 0-180, saturation and value 0-255)",
        "HueSaturationValue",
        albu=lambda q, p: _A().HueSaturationValue(
            _pair(q["hue_shift"]), _pair(q["sat_shift"]), _pair(q["val_shift"]), p=p
        ),
        kornia=lambda q, p: _gpu_ops().RandomHSVShift(
            _pair(q["hue_shift"]), _pair(q["sat_shift"]), _pair(q["val_shift"]), p=p
        ),
        kornia_doc="cvkit RandomHSVShift (kornia rgb_to_hsv)",
        from_albu=lambda a: {
            "hue_shift": list(a["hue_shift_limit"]),
            "sat_shift": list(a["sat_shift_limit"]),
            "val_shift": list(a["val_shift_limit"]),
        },
    )
)
_register(
    TransformDef(
        "GaussNoise",
        "pixel",
        {"std": [0.02, 0.08]},
        "per-channel Gaussian noise, std drawn per image as a fraction of 255",
        "GaussNoise",
        albu=lambda q, p: _A().GaussNoise(std_range=_std(q), per_channel=True, p=p),
        kornia=lambda q, p: _gpu_ops().RandomGaussNoise(_std(q), p=p),
        kornia_doc="cvkit RandomGaussNoise",
        from_albu=lambda a: {"std": list(a["std_range"])},
    )
)
_register(
    TransformDef(
        "GaussianBlur",
        "pixel",
        {"kernel": 5, "sigma": [0.1, 2.0]},
        "Gaussian blur, fixed odd kernel, sigma drawn per image",
        "GaussianBlur",
        albu=lambda q, p: _A().GaussianBlur(
            blur_limit=(int(q["kernel"]), int(q["kernel"])), sigma_limit=tuple(q["sigma"]), p=p
        ),
        kornia=lambda q, p: _K().RandomGaussianBlur((int(q["kernel"]),) * 2, tuple(q["sigma"]), p=p),
        kornia_doc="RandomGaussianBlur",
        from_albu=lambda a: {
            "kernel": a["blur_limit"][1] if isinstance(a["blur_limit"], list) else a["blur_limit"],
            "sigma": list(a["sigma_limit"]),
        },
    )
)
_register(
    TransformDef(
        "Erasing",
        "pixel",
        {"scale": [0.02, 0.33], "ratio": [0.3, 3.3], "value": 0},
        "erase a random rectangle (area fraction `scale`, aspect `ratio`) to `value` (random erasing / cutout)",
        "Erasing",
        albu=lambda q, p: _A().Erasing(scale=tuple(q["scale"]), ratio=tuple(q["ratio"]), fill=float(q["value"]), p=p),
        kornia=lambda q, p: _K().RandomErasing(
            scale=tuple(q["scale"]), ratio=tuple(q["ratio"]), value=float(q["value"]) / 255.0, p=p
        ),
        kornia_doc="RandomErasing",
        from_albu=lambda a: {"scale": list(a["scale"]), "ratio": list(a["ratio"]), "value": a.get("fill", 0)},
    )
)
_register_plain("ToGray", "pixel", "grey (weighted average), kept as 3 channels", "RandomGrayscale")
_register_plain("ChannelShuffle", "pixel", "permute the RGB channels", "RandomChannelShuffle")

# texture-randomising steps (see cvkit.augment.texture); their back-ends load when a step is built
_register(
    TransformDef(
        "RandConv",
        "pixel",
        {"sizes": list(RANDCONV_SIZES), "alpha": [0.0, 1.0]},
        "random convolution (Xu et al. 2021): Gaussian kernel of a size from `sizes`, blended with the image by "
        "alpha in `alpha`; randomises local texture, keeps shape",
        "RandConv",
        albu=lambda q, p: _texture_albu().RandConv(sizes=tuple(q["sizes"]), alpha=tuple(q["alpha"]), p=p),
        kornia=lambda q, p: _texture_gpu().RandomConv(sizes=tuple(q["sizes"]), alpha=tuple(q["alpha"]), p=p),
        kornia_doc="cvkit RandomConv",
        from_albu=lambda a: {"sizes": list(a["sizes"]), "alpha": list(a["alpha"])},
    )
)
_register(
    TransformDef(
        "AmplitudeMix",
        "pixel",
        {"mix": [1.0, 1.0]},
        "amplitude-phase recombination (Chen et al. 2021): Fourier amplitude blended towards another image's by "
        "`mix` (1: swapped), phase kept",
        "AmplitudeMix",
        albu=lambda q, p: _texture_albu().AmplitudeMix(mix=tuple(q["mix"]), p=p),
        kornia=lambda q, p: _texture_gpu().RandomAmplitudeMix(mix=tuple(q["mix"]), p=p),
        kornia_doc="cvkit RandomAmplitudeMix",
        from_albu=lambda a: {"mix": list(a["mix"])},
    )
)

#: albumentations class name -> cvkit name (for ``A.to_dict`` imports and applied-parameter captions)
BY_ALBU_CLASS: dict[str, str] = {d.albu_class: d.name for d in TRANSFORMS.values()}
