"""Where the viewer gets one sample back by its index: a list in memory, or a JSONL manifest's line by offset.

The index keeps only numbers (:class:`cvkit.stats.columns.Columns`); a page of thumbnails or a detail view
needs the few :class:`Sample` objects it shows, fetched here by index. A manifest is never held in memory:
its record lines are found once by a vectorised newline scan and parsed again when asked for.
"""

from __future__ import annotations

import mmap
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import numpy as np

from cvkit.core import jsonio
from cvkit.core.model import Sample
from cvkit.manifest import record_to_sample

#: bytes scanned for newlines at a time (bounded memory on multi-gigabyte manifests)
SCAN_BLOCK = 64 << 20


class SampleStore(Protocol):
    """Samples by index, in the order the index numbered them."""

    def __len__(self) -> int: ...

    def get(self, index: int) -> Sample: ...

    def __iter__(self) -> Iterator[Sample]: ...


class ListStore:
    """A materialized dataset's samples."""

    def __init__(self, samples: list[Sample]):
        self.samples = samples

    def __len__(self) -> int:
        return len(self.samples)

    def get(self, index: int) -> Sample:
        return self.samples[index]

    def __iter__(self) -> Iterator[Sample]:
        return iter(self.samples)


def record_line_starts(path: Path) -> np.ndarray:
    """Byte offsets (int64) of the manifest's record lines: every non-blank line after the header, which is
    how :func:`cvkit.stats.columns.columns_from_manifest` numbers images."""
    size = path.stat().st_size
    if size == 0:
        return np.zeros(0, dtype=np.int64)
    with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
        parts = []
        for start in range(0, size, SCAN_BLOCK):
            block = np.frombuffer(mapped, dtype=np.uint8, count=min(SCAN_BLOCK, size - start), offset=start)
            parts.append(np.flatnonzero(block == 10).astype(np.int64) + start)
            del block  # the mmap cannot close while a view of it lives
        newlines = np.concatenate(parts)
        starts = newlines + 1  # a line starts after each newline; the header's end is the first
        ends = np.append(newlines[1:], size)
        starts, ends = starts[:len(ends)], ends
        short = np.flatnonzero(ends - starts <= 2)  # blank lines are rare and short: checked one by one
        blank = [i for i in short if not mapped[starts[i]:ends[i]].strip()]
    return np.delete(starts, blank)


class ManifestStore:
    """A JSONL manifest's records, parsed on demand from their byte offsets."""

    def __init__(self, path: Path, starts: np.ndarray):
        self.path = path
        self.starts = starts

    def __len__(self) -> int:
        return len(self.starts)

    def get(self, index: int) -> Sample:
        with open(self.path, "rb") as handle:
            handle.seek(int(self.starts[index]))
            return record_to_sample(jsonio.loads(handle.readline()))

    def __iter__(self) -> Iterator[Sample]:
        with open(self.path, "rb") as handle:
            handle.readline()
            for line in handle:
                if line.strip():
                    yield record_to_sample(jsonio.loads(line))
