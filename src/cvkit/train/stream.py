"""Streaming training from WebDataset shards: whole shards read front to back, the way WebDataset users expect.

An epoch is one stream of samples: the shards in an order shuffled with ``(seed, epoch)`` (the same on every rank),
each shard's samples in file order. Ranks take equal contiguous parts of that stream, and each rank's DataLoader
workers equal contiguous parts of their rank's (WebDataset's ``split_by_node`` then ``split_by_worker``, cut at
samples rather than at shards), so every sample is read once an epoch and a shard is read by one worker, or by two
where a part ends inside it. The header index of :mod:`cvkit.train.shards` gives the cut points and each image's
bytes: a worker reads its shards sequentially, one open file and one image at a time, and passes them through a
bounded shuffle buffer (``--shuffle-buffer``, seeded per epoch and part) before decoding. Under DDP every rank must
step as often as the others: when the samples do not divide by the world size, the stream is padded at its end with
its first samples (fewer than one per rank, as ``DistributedSampler`` pads), so every rank and every worker slot
gets the same count on every rank. Samplers that need random access (balanced, repeat-factor, magnet) keep the
random-access path (:class:`cvkit.train.shards.ShardItems` with a sampler).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch

from cvkit.errors import InvalidInputError
from cvkit.train.data import ManifestDataset, collate_encoded
from cvkit.train.shards import ShardItems

_MASK = 2**64 - 1


def mix(*values: int) -> int:
    """A 62-bit seed from integers, negative ones too (splitmix64 steps): independent streams per (seed, epoch,
    position) and per (seed, epoch, rank, worker)."""
    state = 0x9E3779B97F4A7C15
    for value in values:
        state = (state ^ (value & _MASK)) * 0xBF58476D1CE4E5B9 & _MASK
        state = (state ^ (state >> 31)) * 0x94D049BB133111EB & _MASK
        state ^= state >> 29
    return state % 2**62


def part_sizes(total: int, parts: int) -> list[int]:
    """``total`` split into ``parts`` counts differing by at most one, the larger first."""
    return [total // parts + (i < total % parts) for i in range(parts)]


class ShardStream(torch.utils.data.IterableDataset):
    """Batches of one rank's part of an epoch's stream (see the module's docstring); ``len()`` is the batch count,
    the same on every rank. ``set_epoch`` reaches persistent DataLoader workers through shared memory."""

    def __init__(
        self,
        samples: ManifestDataset,
        batch_size: int,
        seed: int = 0,
        rank: int = 0,
        world: int = 1,
        workers: int = 0,
        shuffle_buffer: int = 1000,
    ):
        items = samples.items
        if not isinstance(items, ShardItems):
            raise TypeError("ShardStream reads WebDataset shard items")
        self.samples, self.items = samples, items
        self.batch_size, self.seed, self.rank, self.world = batch_size, seed, rank, world
        self.slots = max(1, workers)
        self.shuffle_buffer = shuffle_buffer
        self.collate: Callable[[list], Any] = (
            collate_encoded if samples.encoded else torch.utils.data.default_collate  # type: ignore[assignment]
        )
        self.counts = np.bincount(items.shard, minlength=len(items.archives)).astype(np.int64)
        self.first_row = np.concatenate([[0], np.cumsum(self.counts)[:-1]]).astype(np.int64)
        self.total = int(self.counts.sum())
        self.per_rank = math.ceil(self.total / world)
        self._epoch = torch.zeros(1, dtype=torch.int64).share_memory_()

    def set_epoch(self, epoch: int) -> None:
        self._epoch.fill_(epoch)

    def __len__(self) -> int:
        return sum(math.ceil(n / self.batch_size) for n in part_sizes(self.per_rank, self.slots))

    def slot_range(self, worker: int) -> tuple[int, int]:
        """Positions ``[start, end)`` of this rank's ``worker`` in the padded epoch stream."""
        sizes = part_sizes(self.per_rank, self.slots)
        start = self.rank * self.per_rank + sum(sizes[:worker])
        return start, start + sizes[worker]

    def epoch_rows(self, epoch: int, worker: int) -> Iterator[tuple[int, int]]:
        """``(item row, stream position)`` of one worker's part of ``epoch``, in stream order."""
        order = np.random.default_rng(mix(self.seed, epoch)).permutation(len(self.counts))
        ends = np.cumsum(self.counts[order])
        start, end = self.slot_range(worker)
        for position in range(start, end):
            real = position % self.total  # the padding repeats the stream's first samples
            k = int(np.searchsorted(ends, real, side="right"))
            shard = int(order[k])
            yield int(self.first_row[shard] + real - (ends[k] - self.counts[shard])), position

    def read(self, rows: Iterator[tuple[int, int]]) -> Iterator[tuple[bytes, int, int]]:
        """``(image bytes, row, position)``: each shard read front to back, one open file at a time."""
        items = self.items
        for shard, run in itertools.groupby(rows, key=lambda pair: int(items.shard[pair[0]])):
            try:
                handle = open(items.archives[shard], "rb")  # noqa: SIM115 (closed below; yields happen inside)
            except OSError as exc:
                raise InvalidInputError(
                    f"could not read the shard ({exc.strerror})", file=items.archives[shard]
                ) from None
            with handle:
                for row, position in run:
                    handle.seek(int(items.offsets[row]))
                    yield handle.read(int(items.sizes[row])), row, position

    def __iter__(self) -> Iterator[Any]:
        info = torch.utils.data.get_worker_info()
        worker = info.id if info is not None else 0
        if (info.num_workers if info is not None else 1) != self.slots:
            raise RuntimeError(f"ShardStream was built for {self.slots} workers")
        epoch = int(self._epoch.item())
        stream = self.read(self.epoch_rows(epoch, worker))
        rng = np.random.default_rng(mix(self.seed, epoch, self.rank, worker))
        batch = []
        for data, row, position in shuffled(stream, self.shuffle_buffer, rng):
            name = f"{self.items.archives[int(self.items.shard[row])]}#{self.items.members[row].decode('utf-8')}"
            value = int(self.items.targets[row])
            batch.append(self.samples.from_bytes(data, name, value, mix(self.seed, epoch, position)))
            if len(batch) == self.batch_size:
                yield self.collate(batch)
                batch = []
        if batch:
            yield self.collate(batch)


def shuffled(stream: Iterator[Any], size: int, rng: np.random.Generator) -> Iterator[Any]:
    """WebDataset's shuffle buffer: hold ``size`` samples, give a random one out for each one read in (``size``
    0 or 1: the stream's order)."""
    if size <= 1:
        yield from stream
        return
    buffer: list[Any] = []
    for sample in stream:
        if len(buffer) < size:
            buffer.append(sample)
            continue
        pick = int(rng.integers(size))
        yield buffer[pick]
        buffer[pick] = sample
    for pick in rng.permutation(len(buffer)):
        yield buffer[pick]


def stream_loader(
    dataset: ShardStream, workers: int, pin_memory: bool, prefetch_factor: int, seed: int = 0
) -> torch.utils.data.DataLoader:
    """A DataLoader over a :class:`ShardStream` (its batches made in the workers), persistent workers when
    ``workers`` > 0; seeded by its own generator (the process's torch generator is left alone, as for a manifest)."""
    extra: dict[str, Any] = {"persistent_workers": True, "prefetch_factor": prefetch_factor} if workers > 0 else {}
    return torch.utils.data.DataLoader(
        dataset,
        batch_size=None,
        num_workers=workers,
        pin_memory=pin_memory,
        generator=torch.Generator().manual_seed(seed),
        **extra,
    )
