"""Losses on the classifier's features: center loss (Wen et al. 2016) and magnet loss (Rippel et al. 2016).

Both are registered in :data:`cvkit.train.losses.LOSS_REGISTRY` and receive the features
(the input of the model's last layer, ``--embed-dim`` wide when given) besides the logits.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from cvkit.train.losses import LossContext, classification_loss, register_loss


def _all_reduce(*tensors: torch.Tensor) -> None:
    """Sum over ranks under torchrun (centre updates must agree on every rank); nothing on one process."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        for tensor in tensors:
            dist.all_reduce(tensor)


class CenterLoss(nn.Module):
    """Softmax cross-entropy plus ``lambda / 2 * mean_i ||f_i - c_{y_i}||^2`` (Wen et al. 2016, eq. 5, averaged
    over the batch like the cross-entropy).

    The centres ``c_j`` are not learnt by gradient: after each training step they move by the paper's rule
    ``c_j -= alpha * sum_{i: y_i = j} (c_j - f_i) / (1 + n_j)`` (eq. 4), ``n_j`` the class's samples in the batch.
    """

    needs_features = True

    def __init__(self, base: nn.Module, num_classes: int, feature_dim: int, center_lambda: float, center_alpha: float):
        super().__init__()
        self.base = base
        self.center_lambda, self.center_alpha = center_lambda, center_alpha
        self.register_buffer("centers", torch.zeros(num_classes, feature_dim))

    def center_term(self, features: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.center_lambda / 2 * (features - self.centers[target]).pow(2).sum(dim=1).mean()

    def forward(self, logits: torch.Tensor, target: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        features = features.float()
        loss = self.base(logits, target) + self.center_term(features, target)
        if self.training and torch.is_grad_enabled():
            self.update_centers(features.detach(), target)
        return loss

    @torch.no_grad()
    def update_centers(self, features: torch.Tensor, target: torch.Tensor) -> None:
        counts = torch.bincount(target, minlength=len(self.centers)).to(features.dtype)
        sums = torch.zeros_like(self.centers).index_add_(0, target, features)
        _all_reduce(counts, sums)
        delta = (counts[:, None] * self.centers - sums) / (1 + counts[:, None])
        self.centers -= self.center_alpha * delta

    def validation_loss(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.base(logits, target)


@register_loss("center")
def _center(cfg: Any, ctx: LossContext) -> nn.Module:
    if ctx.feature_dim is None:
        raise ValueError("center loss needs the feature width")
    return CenterLoss(
        classification_loss(cfg, ctx), ctx.num_classes, ctx.feature_dim, cfg.center_lambda, cfg.center_alpha
    )


def magnet_loss(features: torch.Tensor, target: torch.Tensor, per_cluster: int, alpha: float) -> torch.Tensor:
    """Magnet loss of a batch laid out as consecutive clusters of ``per_cluster`` samples (Rippel et al. 2016, eq. 2).

    Cluster means and the variance ``sigma^2 = sum ||r - mu(r)||^2 / (N - 1)`` come from the batch; each sample
    contributes ``max(0, ||r - mu(r)||^2 / (2 s2) + alpha + log sum_{mu of other classes} exp(-||r - mu||^2 / (2 s2)))``
    with ``s2 = sigma^2``.
    Samples with no cluster of another class in the batch contribute 0.
    """
    n = len(features)
    if n % per_cluster:
        raise ValueError(f"a magnet batch holds whole clusters of {per_cluster} samples, not {n} samples")
    clusters = n // per_cluster
    means = features.view(clusters, per_cluster, -1).mean(dim=1)
    cluster_class = target.view(clusters, per_cluster)[:, 0]
    squared = (features[:, None, :] - means[None]).pow(2).sum(dim=-1)
    own = torch.arange(n, device=features.device) // per_cluster
    own_squared = squared[torch.arange(n, device=features.device), own]
    variance = own_squared.sum() / max(1, n - 1)
    other = cluster_class[None, :] != target[:, None]
    rows = other.any(dim=1)
    if not rows.any():
        return features.sum() * 0.0
    scaled = -squared[rows] / (2 * variance)
    impostors = torch.logsumexp(scaled.masked_fill(~other[rows], float("-inf")), dim=1)
    return F.relu(own_squared[rows] / (2 * variance) + alpha + impostors).sum() / n


class MagnetLoss(nn.Module):
    """Magnet loss on batches from :class:`cvkit.train.samplers.MagnetSampler` (M clusters x D samples);
    validation reports the cross-entropy of the magnet head's logits (softmax over distances to the cluster means)."""

    needs_features = True

    def __init__(self, per_cluster: int, alpha: float):
        super().__init__()
        self.per_cluster, self.alpha = per_cluster, alpha

    def forward(self, logits: torch.Tensor, target: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        return magnet_loss(features.float(), target, self.per_cluster, self.alpha)

    def validation_loss(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits, target)


@register_loss("magnet", head="magnet")
def _magnet(cfg: Any, ctx: LossContext) -> nn.Module:
    return MagnetLoss(cfg.magnet_d, cfg.magnet_alpha)


def kmeans(
    points: torch.Tensor, k: int, generator: torch.Generator, iterations: int = 25
) -> tuple[torch.Tensor, torch.Tensor]:
    """Lloyd's k-means with k-means++ seeding: ``(means (k, D), assignment (N,))``; k is capped at N."""
    k = min(k, len(points))
    first = int(torch.randint(len(points), (1,), generator=generator))
    means = points[first : first + 1]
    for _ in range(1, k):
        nearest = torch.cdist(points, means).min(dim=1).values.pow(2)
        pick = int(torch.multinomial(nearest + 1e-12, 1, generator=generator))
        means = torch.cat([means, points[pick : pick + 1]])
    assignment = torch.zeros(len(points), dtype=torch.long)
    for _ in range(iterations):
        assignment = torch.cdist(points, means).argmin(dim=1)
        updated = torch.stack(
            [points[assignment == j].mean(dim=0) if (assignment == j).any() else means[j] for j in range(k)]
        )
        if torch.equal(updated, means):
            break
        means = updated
    return means, assignment


def refresh_magnet_index(head: nn.Module, features: torch.Tensor, targets: torch.Tensor, seed: int) -> torch.Tensor:
    """k-means of each class's training features into the head's clusters; sets the head's means, active clusters
    and variance (mean squared distance to the own cluster mean) and returns every item's global cluster index."""
    clusters = head.clusters
    means = torch.zeros_like(head.means, device="cpu")
    active = torch.zeros(len(means), dtype=torch.bool)
    assignment = torch.full((len(targets),), -1, dtype=torch.long)
    generator = torch.Generator().manual_seed(seed)
    for label in range(head.num_classes):
        members = (targets == label).nonzero().flatten()
        if not len(members):
            continue
        class_means, local = kmeans(features[members], clusters, generator)
        start = label * clusters
        means[start : start + len(class_means)] = class_means
        active[start : start + len(class_means)] = True
        assignment[members] = start + local
    variance = (features - means[assignment]).pow(2).sum(dim=1).mean().clamp_min(1e-12)
    head.means.copy_(means)
    head.active.copy_(active)
    head.variance.copy_(variance)
    return assignment
