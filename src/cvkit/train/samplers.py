"""Samplers against class imbalance, reproducible per epoch and aware of distributed training.

Each sampler draws one epoch's index list from ``(seed, epoch)`` alone, then every
rank takes its ``rank::world`` share of it (padded to equal length, as
``DistributedSampler`` does), so all ranks step the same number of times.
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

    def _shard(self) -> list[int]:
        generator = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        indices = self.epoch_indices(generator)
        per_rank = math.ceil(len(indices) / self.world)
        indices += indices[: per_rank * self.world - len(indices)]
        return indices[self.rank :: self.world]

    def __iter__(self) -> Iterator[int]:
        return iter(self._shard())

    def __len__(self) -> int:
        return math.ceil(self.length / self.world)


class BalancedSampler(EpochSampler):
    """Draws images with replacement, each class equally likely (weight 1 / class count).

    A multi-label image gets the weight of its rarest class.
    """

    def __init__(self, targets: Sequence[int | tuple[int, ...]], counts: Sequence[int], seed: int = 0, rank: int = 0, world: int = 1):
        super().__init__(len(targets), seed, rank, world)
        self.weights = torch.tensor([max(1.0 / counts[c] for c in _classes(t)) if _classes(t) else 0.0 for t in targets], dtype=torch.double)

    def epoch_indices(self, generator: torch.Generator) -> list[int]:
        return torch.multinomial(self.weights, self.length, replacement=True, generator=generator).tolist()


class RepeatFactorSampler(EpochSampler):
    """Repeat-factor sampling (LVIS, Gupta et al. 2019): an image is repeated
    ``r = max over its classes of max(1, sqrt(t / f_c))`` times per epoch, where ``f_c`` is
    the fraction of images containing class ``c``; fractional parts are drawn at random."""

    def __init__(self, targets: Sequence[int | tuple[int, ...]], counts: Sequence[int], threshold: float = 0.1, seed: int = 0,
                 rank: int = 0, world: int = 1):
        super().__init__(len(targets), seed, rank, world)
        total = max(1, len(targets))
        factor = [max(1.0, math.sqrt(threshold / (n / total))) if n else 1.0 for n in counts]
        self.repeat = torch.tensor([max((factor[c] for c in _classes(t)), default=1.0) for t in targets], dtype=torch.double)

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


def _classes(target: int | tuple[int, ...]) -> tuple[int, ...]:
    return target if isinstance(target, tuple) else (target,)


def build_sampler(kind: str, targets: Sequence[int | tuple[int, ...]], counts: Sequence[int], seed: int, rank: int, world: int,
                  repeat_threshold: float = 0.1) -> EpochSampler:
    """``none`` (shuffle), ``balanced`` or ``repeat-factor``."""
    if kind == "balanced":
        return BalancedSampler(targets, counts, seed, rank, world)
    if kind == "repeat-factor":
        return RepeatFactorSampler(targets, counts, repeat_threshold, seed, rank, world)
    return ShuffleSampler(len(targets), seed, rank, world)
