"""What the training-shard writers (WebDataset tars, Hugging Face Parquet) share: shard limits, split names,
class numbers and the image bytes a shard embeds.

A shard closes when it holds ``shard_size`` samples or would pass ``shard_bytes``; each split has its own run of
shards, named ``<split>-000000...``. Samples without a split go to ``train`` (the split Hugging Face and most
training code assume when there is one).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from cvkit.core.categories import CategorySet
from cvkit.core.imagefile import open_image_bytes
from cvkit.core.model import Sample
from cvkit.errors import CvkitError, InvalidInputError

#: the split of samples that have none
DEFAULT_SPLIT = "train"
#: split names usable in shard file names (Hugging Face's own rule for split names)
SPLIT_NAME = re.compile(r"^\w+(\.\w+)*$")
_UNITS = {
    "": 1,
    "b": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "tb": 10**12,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
}

W = TypeVar("W")


def parse_byte_size(value: int | float | str | None) -> int | None:
    """``500MB``, ``1GiB``, ``2e9`` or a number of bytes -> bytes; None stays None."""
    if value is None or isinstance(value, int | float):
        return int(value) if value is not None else None
    match = re.fullmatch(r"\s*([0-9.eE+]+)\s*([a-zA-Z]*)\s*", str(value))
    if not match or match.group(2).lower() not in _UNITS:
        raise CvkitError(f"shard_bytes must be a size such as 500MB or 1GiB (got {value!r})")
    try:
        return int(float(match.group(1)) * _UNITS[match.group(2).lower()])
    except ValueError:
        raise CvkitError(f"shard_bytes must be a size such as 500MB or 1GiB (got {value!r})") from None


def check_limits(shard_size: Any, shard_bytes: Any) -> tuple[int | None, int | None]:
    """Validated ``(samples, bytes)`` per shard; at least one must be set."""
    if shard_size is not None and (not isinstance(shard_size, int) or isinstance(shard_size, bool) or shard_size < 1):
        raise CvkitError(f"shard_size must be a whole number of samples >= 1 (got {shard_size!r})")
    limit = parse_byte_size(shard_bytes)
    if limit is not None and limit < 1:
        raise CvkitError(f"shard_bytes must be positive (got {shard_bytes!r})")
    if shard_size is None and limit is None:
        raise CvkitError("give shard_size=N or shard_bytes=SIZE")
    return shard_size, limit


def split_of(sample: Sample) -> str:
    """The shard-name split of a sample; a name that cannot be part of a file name is refused."""
    split = sample.split or DEFAULT_SPLIT
    if not SPLIT_NAME.match(split):
        raise CvkitError(f"split name {split!r} cannot name shards (letters, digits, _ and inner dots only)")
    return split


def class_numbers(categories: CategorySet) -> dict[str, int]:
    """Label -> class number: the position in the header's category order (the trainer's order)."""
    return {name: index for index, name in enumerate(categories.names())}


class ClassNumbers:
    """Label -> class number, the label's place in ``categories``, which readers (a streaming one while it reads)
    and writers only add to: a number given stays, and a label a reader finds later is numbered when it is met, as
    :func:`class_numbers` of the final categories numbers it."""

    def __init__(self, categories: CategorySet):
        self.categories = categories
        self.numbers: dict[str, int] = {}

    def get(self, label: str) -> int | None:
        """The label's number; None when the categories lack it."""
        number = self.numbers.get(label)
        if number is None:
            self.update()
            number = self.numbers.get(label)
        return number

    def update(self) -> dict[str, int]:
        """Number the categories added since (every one, at the end of a write); the numbers by label."""
        numbers = self.numbers
        if len(numbers) < len(self.categories):
            for name in self.categories.names()[len(numbers) :]:
                numbers[name] = len(numbers)
        return numbers


def image_bytes(sample: Sample, root: Path | None) -> bytes:
    """The encoded image a shard embeds (a plain file or an ``archive.tar#member``); missing -> InvalidInputError."""
    return open_image_bytes(sample.resolve(root))


def image_extension(sample: Sample) -> str:
    """The image's extension, lower case, without the dot (``jpg`` when it has none)."""
    name = sample.path.rsplit("#", 1)[-1]
    suffix = Path(name).suffix.lower().lstrip(".")
    return suffix or "jpg"


@dataclass
class _Open(Generic[W]):
    writer: W
    index: int
    samples: int = 0
    bytes: int = 0


@dataclass
class ShardRuns(Generic[W]):
    """One run of numbered shards per split. ``open_shard(split, index)`` starts a shard writer, ``close(writer)``
    ends it; :meth:`writer_for` gives the shard a sample of ``size`` bytes goes in, closing a full one first."""

    open_shard: Callable[[str, int], W]
    close: Callable[[W], None]
    shard_size: int | None
    shard_bytes: int | None
    current: dict[str, _Open[W]] = field(default_factory=dict)
    written: dict[str, int] = field(default_factory=dict)  # split -> shards finished

    def writer_for(self, split: str, size: int) -> W:
        shard = self.current.get(split)
        if shard is not None and shard.samples and self._full(shard, size):
            self.close(shard.writer)
            self.written[split] = shard.index + 1
            shard = None
        if shard is None:
            index = self.written.get(split, 0)
            shard = self.current[split] = _Open(self.open_shard(split, index), index)
        shard.samples += 1
        shard.bytes += size
        return shard.writer

    def _full(self, shard: _Open[W], size: int) -> bool:
        return (self.shard_size is not None and shard.samples >= self.shard_size) or (
            self.shard_bytes is not None and shard.bytes + size > self.shard_bytes
        )

    def finish(self) -> dict[str, int]:
        """Close every open shard; returns the number of shards per split."""
        for split, shard in self.current.items():
            self.close(shard.writer)
            self.written[split] = shard.index + 1
        self.current.clear()
        return dict(self.written)


def missing_image(sample: Sample, exc: InvalidInputError) -> InvalidInputError:
    """The error for a sample whose image cannot be embedded: names the image file."""
    return InvalidInputError(
        f"image of {sample.path} cannot be embedded: {exc.message}", file=exc.file, location=exc.location
    )
