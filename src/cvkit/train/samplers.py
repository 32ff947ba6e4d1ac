"""Samplers against class imbalance, reproducible per epoch and aware of distributed training.

Each sampler draws one epoch's index list from ``(seed, epoch)`` alone, then every
rank takes its ``rank::world`` share of it (padded to equal length, as
``DistributedSampler`` does), so all ranks step the same number of times.

A sampler yields ``(index, item_seed)`` pairs: the dataset seeds each item's random
transform with its own seed, drawn with the epoch's indices. An item's augmentation is
then the same whichever worker loads it, however many workers there are, and a run
resumed at an epoch boundary draws exactly what an uninterrupted run would.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import torch


class EpochSampler(torch.utils.data.Sampler[int]):
    """Base: subclasses implement :meth:`epoch_indices`; sharding and ``set_epoch`` live here."""

    def __init__(self, length: int, seed: int = 0, rank: int = 0, world: int = 1):
        self.length = length
        self.seed = seed
        self.rank = rank
        self.world = world
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def epoch_indices(self, generator: torch.Generator) -> list[int]:
        raise NotImplementedError

    def _epoch_pairs(self) -> list[tuple[int, int]]:
        """The whole epoch (every rank's items) as ``(index, item_seed)`` pairs."""
        generator = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        indices = self.epoch_indices(generator)
        seeds = torch.randint(2**62, (len(indices),), generator=generator).tolist()
        return list(zip(indices, seeds))

    def _shard(self) -> list[tuple[int, int]]:
        pairs = self._epoch_pairs()
        per_rank = math.ceil(len(pairs) / self.world)
        pairs += pairs[: per_rank * self.world - len(pairs)]
        return pairs[self.rank :: self.world]

    def indices(self) -> list[int]:
        """This rank's indices of the current epoch, in order."""
        return [index for index, _ in self._shard()]

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return iter(self._shard())

    def __len__(self) -> int:
        return math.ceil(self.length / self.world)


class BalancedSampler(EpochSampler):
    """Draws images with replacement, each class equally likely (weight 1 / class count).

    A multi-label image gets the weight of its rarest class.
    """

    def __init__(
        self,
        targets: Sequence[int | tuple[int, ...]],
        counts: Sequence[int],
        seed: int = 0,
        rank: int = 0,
        world: int = 1,
    ):
        super().__init__(len(targets), seed, rank, world)
        self.weights = torch.tensor(
            [max(1.0 / counts[c] for c in _classes(t)) if _classes(t) else 0.0 for t in targets], dtype=torch.double
        )

    def epoch_indices(self, generator: torch.Generator) -> list[int]:
        return torch.multinomial(self.weights, self.length, replacement=True, generator=generator).tolist()


class RepeatFactorSampler(EpochSampler):
    """Repeat-factor sampling (LVIS, Gupta et al. 2019): an image is repeated
    ``r = max over its classes of max(1, sqrt(t / f_c))`` times per epoch, where ``f_c`` is
    the fraction of images containing class ``c``; fractional parts are drawn at random."""

    def __init__(
        self,
        targets: Sequence[int | tuple[int, ...]],
        counts: Sequence[int],
        threshold: float = 0.1,
        seed: int = 0,
        rank: int = 0,
        world: int = 1,
    ):
        super().__init__(len(targets), seed, rank, world)
        total = max(1, len(targets))
        factor = [max(1.0, math.sqrt(threshold / (n / total))) if n else 1.0 for n in counts]
        self.repeat = torch.tensor(
            [max((factor[c] for c in _classes(t)), default=1.0) for t in targets], dtype=torch.double
        )

    def epoch_indices(self, generator: torch.Generator) -> list[int]:
        whole = self.repeat.floor()
        extra = (torch.rand(len(self.repeat), generator=generator, dtype=torch.double) < self.repeat - whole).double()
        repeats = (whole + extra).long()
        indices = torch.repeat_interleave(torch.arange(len(self.repeat)), repeats)
        return indices[torch.randperm(len(indices), generator=generator)].tolist()

    def __len__(self) -> int:
        return len(self._shard())  # varies from epoch to epoch


class ShuffleSampler(EpochSampler):
    """Plain shuffling, one permutation per epoch (the default)."""

    def epoch_indices(self, generator: torch.Generator) -> list[int]:
        return torch.randperm(self.length, generator=generator).tolist()


class MagnetSampler(EpochSampler):
    """Magnet-loss batches (Rippel et al. 2016): a seed cluster drawn at random, its ``m - 1`` nearest clusters of
    other classes (by distance between cluster means), and ``d`` samples of each (without replacement when the
    cluster is large enough). A batch sampler: it yields whole batches, cluster after cluster, which is the layout
    :func:`cvkit.train.feature_losses.magnet_loss` reads. :meth:`set_index` gives it the clusters of the epoch.
    """

    yields_batches = True

    def __init__(
        self, length: int, clusters_per_batch: int, per_cluster: int, seed: int = 0, rank: int = 0, world: int = 1
    ):
        super().__init__(length, seed, rank, world)
        self.m, self.d = clusters_per_batch, per_cluster
        self.assignment: torch.Tensor | None = None
        self.means: torch.Tensor | None = None
        self.cluster_class: torch.Tensor | None = None

    def set_index(self, assignment: torch.Tensor, means: torch.Tensor, cluster_class: torch.Tensor) -> None:
        self.assignment, self.means, self.cluster_class = assignment.cpu(), means.cpu().float(), cluster_class.cpu()

    @property
    def batches_per_rank(self) -> int:
        return math.ceil(math.ceil(self.length / (self.m * self.d)) / self.world)

    def epoch_batches(self, generator: torch.Generator) -> list[list[int]]:
        if self.assignment is None or self.means is None or self.cluster_class is None:
            raise RuntimeError("MagnetSampler.set_index must be called before an epoch")
        members = {int(c): (self.assignment == c).nonzero().flatten() for c in self.assignment.unique() if c >= 0}
        usable = torch.tensor(sorted(members))
        batches = []
        for _ in range(self.batches_per_rank * self.world):
            seed_cluster = int(usable[torch.randint(len(usable), (1,), generator=generator)])
            others = usable[self.cluster_class[usable] != self.cluster_class[seed_cluster]]
            distance = (self.means[others] - self.means[seed_cluster]).pow(2).sum(dim=1)
            batch: list[int] = []
            for cluster in [seed_cluster, *others[distance.argsort()[: self.m - 1]].tolist()]:
                pool = members[cluster]
                if len(pool) >= self.d:
                    batch += pool[torch.randperm(len(pool), generator=generator)[: self.d]].tolist()
                else:
                    batch += pool[torch.randint(len(pool), (self.d,), generator=generator)].tolist()
            batches.append(batch)
        return batches

    def _batches(self) -> list[list[tuple[int, int]]]:
        generator = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        batches = self.epoch_batches(generator)
        seeds = torch.randint(2**62, (sum(map(len, batches)),), generator=generator).tolist()
        paired, at = [], 0
        for batch in batches:
            paired.append(list(zip(batch, seeds[at : at + len(batch)])))
            at += len(batch)
        return paired[self.rank :: self.world]

    def indices(self) -> list[int]:
        return [index for batch in self._batches() for index, _ in batch]

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:  # type: ignore[override]
        return iter(self._batches())

    def __len__(self) -> int:
        return self.batches_per_rank


def _classes(target: int | tuple[int, ...]) -> tuple[int, ...]:
    return target if isinstance(target, tuple) else (target,)


def build_sampler(
    kind: str,
    targets: Sequence[int | tuple[int, ...]],
    counts: Sequence[int],
    seed: int,
    rank: int,
    world: int,
    repeat_threshold: float = 0.1,
) -> EpochSampler:
    """``none`` (shuffle), ``balanced`` or ``repeat-factor`` (magnet batches come from :class:`MagnetSampler`)."""
    if kind == "balanced":
        return BalancedSampler(targets, counts, seed, rank, world)
    if kind == "repeat-factor":
        return RepeatFactorSampler(targets, counts, repeat_threshold, seed, rank, world)
    return ShuffleSampler(len(targets), seed, rank, world)
