"""Stylised training (Geirhos et al. 2019's Stylized-ImageNet idea, on the fly): each training image is redrawn in
the style of a random painting by AdaIN (Huang & Belongie 2017), so texture stops predicting the class.

AdaIN needs a pretrained VGG-19 encoder (to relu4_1) and its decoder; cvkit does not download them. Get
``vgg_normalised.pth`` and ``decoder.pth`` (the release files of naoto0804/pytorch-AdaIN, the ones Stylized-ImageNet
uses) and pass their folder, or one ``.pt`` holding ``{"vgg": ..., "decoder": ...}``, with ``--style-model``; the
paintings come from ``--style-images FOLDER``. Only the style's channel means and standard deviations at relu4_1
are needed, so they are computed once per painting.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from cvkit.errors import CvkitError, InvalidInputError
from cvkit.train.config import MEAN, STD

DOWNLOAD_HINT = (
    "download vgg_normalised.pth and decoder.pth (the release files of github.com/naoto0804/pytorch-AdaIN) on a "
    "machine with internet access and pass their folder with --style-model"
)
#: VGG-19's convolutions up to relu4_1 ("M": 2x2 max-pool), after the 1x1 colour conv of the normalised VGG
ENCODER_PLAN = [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512]
#: the decoder's convolutions (in, out) and where it upsamples ("U")
DECODER_PLAN = [(512, 256), "U", (256, 256), (256, 256), (256, 256), (256, 128), "U", (128, 128), (128, 64), "U",
                (64, 64), (64, 3)]  # fmt: skip


def _conv(cin: int, cout: int) -> list[nn.Module]:
    return [nn.ReflectionPad2d((1, 1, 1, 1)), nn.Conv2d(cin, cout, (3, 3))]


def vgg_encoder() -> nn.Sequential:
    """The normalised VGG-19 to relu4_1, layer for layer as in pytorch-AdaIN (its state-dict keys load as they are)."""
    layers: list[nn.Module] = [nn.Conv2d(3, 3, (1, 1))]
    width = 3
    for step in ENCODER_PLAN:
        if step == "M":
            layers.append(nn.MaxPool2d((2, 2), (2, 2), (0, 0), ceil_mode=True))
        else:
            layers += [*_conv(width, int(step)), nn.ReLU()]
            width = int(step)
    return nn.Sequential(*layers)


def adain_decoder() -> nn.Sequential:
    """pytorch-AdaIN's decoder, layer for layer (ReLU after every convolution but the last)."""
    layers: list[nn.Module] = []
    for step in DECODER_PLAN:
        if step == "U":
            layers.append(nn.UpsamplingNearest2d(scale_factor=2))
        else:
            layers += [*_conv(*step), nn.ReLU()]
    return nn.Sequential(*layers[:-1])


def channel_stats(features: torch.Tensor, eps: float = 1e-5) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-image, per-channel mean and standard deviation (``sqrt(var + eps)``, unbiased var) as N x C x 1 x 1."""
    flat = features.flatten(2)
    return flat.mean(dim=2)[..., None, None], (flat.var(dim=2) + eps).sqrt()[..., None, None]


def adain(content: torch.Tensor, style_mean: torch.Tensor, style_std: torch.Tensor) -> torch.Tensor:
    """Adaptive instance normalisation: the content features with each channel's mean and std replaced by the
    style's."""
    mean, std = channel_stats(content)
    return (content - mean) / std * style_std + style_mean


def _load(path: Path) -> Any:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises UnpicklingError, RuntimeError, ... for foreign files
        raise InvalidInputError(
            f"not a PyTorch weights file ({exc.__class__.__name__}); {DOWNLOAD_HINT}", file=path
        ) from None


def load_style_model(path: str | Path) -> tuple[nn.Sequential, nn.Sequential]:
    """Encoder and decoder from a folder with ``vgg_normalised.pth`` + ``decoder.pth``, or one file with both."""
    path = Path(path)
    if path.is_dir():
        parts = {"vgg": path / "vgg_normalised.pth", "decoder": path / "decoder.pth"}
        missing = [p.name for p in parts.values() if not p.is_file()]
        if missing:
            raise InvalidInputError(f"{', '.join(missing)} not found; {DOWNLOAD_HINT}", file=path)
        states = {key: _load(file) for key, file in parts.items()}
    elif path.is_file():
        states = _load(path)
        if not isinstance(states, dict) or not {"vgg", "decoder"} <= set(states):
            raise InvalidInputError('expected a dict with "vgg" and "decoder" state dicts', file=path)
    else:
        raise InvalidInputError(f"style model not found; {DOWNLOAD_HINT}", file=path)
    encoder, decoder = vgg_encoder(), adain_decoder()
    for name, module in (("vgg", encoder), ("decoder", decoder)):
        own = module.state_dict()
        state = {k: v for k, v in states[name].items() if k in own}  # the full VGG-19 file has layers past relu4_1
        if set(state) != set(own) or any(state[k].shape != own[k].shape for k in own):
            raise InvalidInputError(f"the {name} weights do not fit AdaIN's {name}; {DOWNLOAD_HINT}", file=path)
        module.load_state_dict(state)
    return encoder.eval().requires_grad_(False), decoder.eval().requires_grad_(False)


class Stylizer:
    """Redraws a normalised training batch image by image with probability ``prob`` in a random painting's style
    (``alpha``: 1 full style, 0 the content); called by the training loop after the batch reaches the device."""

    def __init__(self, model: str | Path, styles: str | Path, image_size: int, prob: float, alpha: float,
                 device: torch.device, seed: int = 0):  # fmt: skip
        from cvkit.train.data import decode_image, eval_transform, resolve_decoder

        self.encoder, self.decoder = (m.to(device) for m in load_style_model(model))
        files = sorted(p for p in Path(styles).rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png", ".bmp"))
        if not files:
            raise InvalidInputError("no style images (.jpg, .png, .bmp) in the folder", file=styles)
        resize, decoder = eval_transform(image_size), resolve_decoder("auto")
        means, stds = [], []
        with torch.no_grad():
            for file in files:
                image = resize(decode_image(str(file), decoder)).float().div(255).to(device)[None]
                mean, std = channel_stats(self.encoder(image))
                means.append(mean)
                stds.append(std)
        self.style_mean, self.style_std = torch.cat(means), torch.cat(stds)
        self.prob, self.alpha = prob, alpha
        self.mean = torch.tensor(MEAN, device=device).view(1, 3, 1, 1)
        self.std = torch.tensor(STD, device=device).view(1, 3, 1, 1)
        self.generator = torch.Generator().manual_seed(seed)

    @torch.no_grad()
    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        chosen = torch.rand(len(images), generator=self.generator) < self.prob
        if not chosen.any():
            return images
        pick = torch.randint(len(self.style_mean), (int(chosen.sum()),), generator=self.generator)
        index = chosen.nonzero().squeeze(1).to(images.device)
        plain = (images[index].float() * self.std + self.mean).clamp(0, 1)
        content = self.encoder(plain)
        styled = adain(content, self.style_mean[pick], self.style_std[pick])
        drawn = self.decoder(self.alpha * styled + (1 - self.alpha) * content)
        drawn = F.interpolate(drawn, size=images.shape[-2:], mode="bilinear", align_corners=False).clamp(0, 1)
        out = images.clone()
        out[index] = ((drawn - self.mean) / self.std).to(images.dtype)
        return out


def build_stylizer(cfg: Any, device: torch.device) -> Stylizer | None:
    """The run's :class:`Stylizer` (None without ``--style-model``)."""
    if not cfg.style_model:
        return None
    if not cfg.style_images:
        raise CvkitError("--style-model needs --style-images FOLDER (the paintings whose styles are used)")
    return Stylizer(cfg.style_model, cfg.style_images, cfg.image_size, cfg.style_prob, cfg.style_alpha, device,
                    cfg.seed)  # fmt: skip
