"""Few labels and a shifted domain: learning by association and domain-adversarial training.

- ``--unlabeled MANIFEST`` (Haeusser et al. 2017, "Learning by association"): a labelled batch A and an
  unlabelled batch B; with similarities ``M = A B^T`` of their features, ``P_ab = softmax_rows(M)`` and
  ``P_ba = softmax_rows(M^T)``, the round trip ``P_aba = P_ab P_ba`` should return to the same class: the walker loss
  is the cross-entropy between ``T_ij = [y_i = y_j] / |class of y_i|`` and ``P_aba``; the visit loss, the
  cross-entropy between the uniform distribution over B and the mean visit probability ``mean_i P_ab[i]``, makes
  every unlabelled image visited.
- ``--target MANIFEST --adapt assoc`` (associative domain adaptation, Haeusser et al. 2017): the same losses with
  the unlabelled target domain as B.
- ``--target MANIFEST --adapt dann`` (Ganin & Lempitsky 2015): a domain classifier on the features through a
  gradient reversal layer (identity forward, ``-lambda * grad`` backward), ``lambda = 2 / (1 + exp(-10 p)) - 1`` with
  ``p`` the fraction of training done, so the features learn to hide their domain.

:class:`Adapter` appends the second batch to each training batch (one forward pass, so BatchNorm normalises both
domains together as in the papers' code) and splits the output into the classification part and the extra loss
(:func:`cvkit.train.loop.train_one_epoch`).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from cvkit.errors import CvkitError

#: a small number keeping log() finite when a probability underflows
EPS = 1e-8


class _GradientReversal(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, strength: float) -> torch.Tensor:
        ctx.strength = strength
        return x.view_as(x)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        return -ctx.strength * grad, None


def reverse_gradient(x: torch.Tensor, strength: float) -> torch.Tensor:
    """Identity in the forward pass; the gradient is multiplied by ``-strength`` on the way back (DANN's GRL)."""
    return _GradientReversal.apply(x, strength)


def dann_strength(progress: float) -> float:
    """Ganin & Lempitsky's schedule ``2 / (1 + exp(-10 p)) - 1``: 0 at the start, towards 1 at the end."""
    return 2.0 / (1.0 + math.exp(-10.0 * progress)) - 1.0


def association_losses(
    labelled: torch.Tensor, labels: torch.Tensor, unlabelled: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Haeusser et al.'s walker and visit losses for labelled features A (with class ``labels``) and unlabelled B."""
    similarity = labelled.float() @ unlabelled.float().T
    p_ab = similarity.softmax(dim=1)
    p_ba = similarity.T.softmax(dim=1)
    p_aba = p_ab @ p_ba
    same = (labels[:, None] == labels[None, :]).float()
    walker_target = same / same.sum(dim=1, keepdim=True)
    walker = -(walker_target * torch.log(p_aba + EPS)).sum(dim=1).mean()
    visit_probability = p_ab.mean(dim=0)
    visit = -torch.log(visit_probability + EPS).mean()
    return walker, visit


class DomainClassifier(nn.Module):
    """Source-or-target from the features (one logit), behind the gradient reversal layer."""

    def __init__(self, feature_dim: int, hidden: int = 256):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(feature_dim, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, 1))

    def forward(self, features: torch.Tensor, strength: float) -> torch.Tensor:
        return self.net(reverse_gradient(features, strength)).squeeze(1)


def image_items(manifest: str | Path, split: str | None = None) -> list[tuple[str, int, None]]:
    """Every image of ``manifest`` (of ``split`` when given) as a loader item; labels are ignored (target 0)."""
    from cvkit.manifest import read_manifest

    dataset = read_manifest(manifest)
    items = [(str(s.resolve(dataset.root)), 0, None) for s in dataset if split is None or s.split == split]
    if not items:
        raise CvkitError("no images" + (f" of split {split!r}" if split else "") + " in the manifest", file=manifest)
    return items


class Adapter(nn.Module):
    """The second batch (unlabelled or target images) and the loss it adds to each training step."""

    def __init__(self, method: str, loader: Any, feature_dim: int, cfg: Any, total_steps: int):
        super().__init__()
        self.method, self.loader, self.cfg = method, loader, cfg
        self.total_steps, self.steps_done, self.epoch = max(1, total_steps), 0, 0
        self.iterator: Any = None
        self.source_size = 0
        self.domain = DomainClassifier(feature_dim) if method == "dann" else None
        self.last: dict[str, float] = {}

    def next_images(self) -> Any:
        """The next batch of the second loader, starting a new (reshuffled) pass when one ends."""
        while True:
            if self.iterator is None:
                self.loader.sampler.set_epoch(self.epoch)
                self.iterator = iter(self.loader)
            batch = next(self.iterator, None)
            if batch is not None:
                return batch[0]
            self.iterator, self.epoch = None, self.epoch + 1

    def joined(self, images: torch.Tensor, ctx: Any) -> torch.Tensor:
        """The training batch followed by a batch of the other images (one forward pass, as the papers train)."""
        other, _ = ctx.batch(self.next_images(), torch.zeros(0))
        self.source_size = len(images)
        return torch.cat([images, other.to(images.dtype)])

    def split_loss(
        self, logits: torch.Tensor, features: torch.Tensor, labels: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The training batch's logits and features, and the weighted association or domain loss of the joined
        batch (:meth:`joined`)."""
        n = self.source_size
        source, other = features[:n].float(), features[n:].float()
        self.steps_done += 1
        if self.method == "dann":
            assert self.domain is not None
            strength = dann_strength(min(1.0, self.steps_done / self.total_steps))
            domain_logits = self.domain(torch.cat([source, other]), strength)
            domain_labels = torch.cat([torch.zeros(len(source)), torch.ones(len(other))]).to(domain_logits.device)
            loss = F.binary_cross_entropy_with_logits(domain_logits, domain_labels)
            self.last = {"domain_loss": float(loss.detach()), "grl_strength": strength}
            extra = self.cfg.adapt_weight * loss
        else:
            walker, visit = association_losses(source, labels, other)
            self.last = {"walker_loss": float(walker.detach()), "visit_loss": float(visit.detach())}
            extra = self.cfg.adapt_weight * (self.cfg.walker_weight * walker + self.cfg.visit_weight * visit)
        return logits[:n], features[:n], extra


def adapt_method(cfg: Any) -> str | None:
    """What the run adapts with: ``assoc`` for ``--unlabeled``, ``--adapt`` for ``--target``, None otherwise."""
    if cfg.unlabeled:
        return "assoc"
    if cfg.target:
        return cfg.adapt
    return None


def build_adapter(run: Any, steps_per_epoch: int) -> Adapter | None:
    """The run's :class:`Adapter` (None without ``--unlabeled`` / ``--target``), its loader seeded like training's."""
    from cvkit.train.data import ManifestDataset, build_transform, make_loader, resolve_decoder
    from cvkit.train.samplers import ShuffleSampler

    cfg, env = run.cfg, run.env
    method = adapt_method(cfg)
    if method is None:
        return None
    if run.model_info["feature_dim"] is None:
        raise CvkitError("--unlabeled and --target need a model whose classifier is a Linear layer")
    items = image_items(cfg.unlabeled or cfg.target)
    dataset = ManifestDataset(items, len(run.class_names), build_transform(cfg, True), resolve_decoder(cfg.decoder))
    sampler = ShuffleSampler(len(items), cfg.seed + 7919, env.rank, env.world)
    # whole batches only (when there are enough images): the association losses compare batches of one size
    loader = make_loader(
        dataset,
        cfg.batch_size,
        sampler,
        cfg.workers,
        run.device.type == "cuda",
        cfg.prefetch_factor,
        cfg.seed + 7919,
        drop_last=len(items) >= cfg.batch_size * env.world,
    )
    adapter = Adapter(method, loader, run.model_info["feature_dim"], cfg, steps_per_epoch * cfg.epochs)
    return adapter.to(run.device)
