"""Mixup (Zhang et al. 2018) and CutMix (Yun et al. 2019) on a batch, with timm's semantics.

Each batch is mixed with itself reversed (``x.flip(0)``), one ``lam ~ Beta(alpha, alpha)``
per batch; with both alphas set, CutMix is chosen with probability 1/2. CutMix pastes a
box of area ``(1 - lam)`` (centre uniform, clipped to the image) and corrects ``lam`` to
the area actually kept. Targets become ``lam * onehot(y) + (1 - lam) * onehot(y_flipped)``;
the cross-entropy's ``--label-smoothing`` then smooths them, which gives exactly timm's
smoothed mixed targets ``(mixed one-hot) * (1 - eps) + eps / C``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def cutmix_box(height: int, width: int, lam: float, centre: tuple[int, int]) -> tuple[int, int, int, int]:
    """``(y1, y2, x1, x2)``: sides ``sqrt(1 - lam)`` of the image's, centred at ``centre`` (row, column), clipped."""
    ratio = (1.0 - lam) ** 0.5
    cut_h, cut_w = int(height * ratio), int(width * ratio)
    cy, cx = centre
    return (max(cy - cut_h // 2, 0), min(cy + cut_h // 2, height), max(cx - cut_w // 2, 0), min(cx + cut_w // 2, width))


def mix_batch(
    images: torch.Tensor,
    target: torch.Tensor,
    num_classes: int,
    lam: float,
    box: tuple[int, int, int, int] | None = None,
) -> tuple[torch.Tensor, torch.Tensor, float]:
    """Mix (``box`` None) or cut-mix a batch with its reverse; returns images, soft targets and the ``lam`` used."""
    if box is None:
        mixed = images * lam + images.flip(0) * (1.0 - lam)
    else:
        y1, y2, x1, x2 = box
        mixed = images.clone()
        mixed[:, :, y1:y2, x1:x2] = images.flip(0)[:, :, y1:y2, x1:x2]
        lam = 1.0 - (y2 - y1) * (x2 - x1) / (images.shape[-2] * images.shape[-1])
    onehot = F.one_hot(target, num_classes).float()
    return mixed, onehot * lam + onehot.flip(0) * (1.0 - lam), lam


class Mixup:
    """Draws ``lam`` (and CutMix's box) from torch's global generator, so a resumed run draws the same."""

    def __init__(self, mixup_alpha: float, cutmix_alpha: float, num_classes: int, switch_prob: float = 0.5):
        self.mixup_alpha, self.cutmix_alpha = mixup_alpha, cutmix_alpha
        self.num_classes, self.switch_prob = num_classes, switch_prob

    def __call__(self, images: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        use_cutmix = self.cutmix_alpha > 0 and (self.mixup_alpha <= 0 or float(torch.rand(())) < self.switch_prob)
        alpha = self.cutmix_alpha if use_cutmix else self.mixup_alpha
        lam = float(torch.distributions.Beta(alpha, alpha).sample())
        box = None
        if use_cutmix:
            height, width = images.shape[-2:]
            centre = (int(torch.randint(height, ())), int(torch.randint(width, ())))
            box = cutmix_box(height, width, lam, centre)
        mixed, soft, _ = mix_batch(images, target, self.num_classes, lam, box)
        return mixed, soft
