"""Where the viewer gets one sample back by its index: a list in memory, a JSONL manifest's line by offset, or a
Parquet manifest's row.

The index keeps only numbers (:class:`cvkit.stats.column_arrays.Columns`); a page of thumbnails or a detail view
needs the few :class:`Sample` objects it shows, fetched here by index. A manifest is never held in memory:
a JSONL manifest's record lines are found once by a vectorised newline scan and parsed again when asked for; a
Parquet manifest's rows are found by row group (its metadata) and decoded a batch of rows at a time, the batches
last asked for kept as Arrow record batches.
"""

from __future__ import annotations

import mmap
import threading
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from cvkit.core import jsonio
from cvkit.core.model import Sample
from cvkit.manifest import iter_records, record_to_sample
from cvkit.manifest_parquet import open_parquet, row_to_record

#: bytes scanned for newlines at a time (bounded memory on multi-gigabyte manifests)
SCAN_BLOCK = 64 << 20
#: rows of a Parquet manifest decoded at a time, and the batches kept (a page's rows come from a few)
BATCH_ROWS = 512
BATCHES_KEPT = 8


class SampleStore(Protocol):
    """Samples by index, in the order the index numbered them."""

    def __len__(self) -> int: ...

    def get(self, index: int) -> Sample: ...

    def get_many(self, indices: list[int]) -> list[Sample]: ...

    def __iter__(self) -> Iterator[Sample]: ...


class ListStore:
    """A materialized dataset's samples."""

    def __init__(self, samples: list[Sample]):
        self.samples = samples

    def __len__(self) -> int:
        return len(self.samples)

    def get(self, index: int) -> Sample:
        return self.samples[index]

    def get_many(self, indices: list[int]) -> list[Sample]:
        return [self.samples[index] for index in indices]

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
        starts, ends = starts[: len(ends)], ends
        short = np.flatnonzero(ends - starts <= 2)  # blank lines are rare and short: checked one by one
        blank = [i for i in short if not mapped[starts[i] : ends[i]].strip()]
    return np.delete(starts, blank)


class ManifestStore:
    """A JSONL manifest's records, parsed on demand from their byte offsets."""

    def __init__(self, path: Path, starts: np.ndarray):
        self.path = path
        self.starts = starts

    def __len__(self) -> int:
        return len(self.starts)

    def get(self, index: int) -> Sample:
        return self.get_many([index])[0]

    def get_many(self, indices: list[int]) -> list[Sample]:
        found = []
        with open(self.path, "rb") as handle:
            for index in indices:
                handle.seek(int(self.starts[index]))
                found.append(record_to_sample(jsonio.loads(handle.readline())))
        return found

    def __iter__(self) -> Iterator[Sample]:
        with open(self.path, "rb") as handle:
            handle.readline()
            for line in handle:
                if line.strip():
                    yield record_to_sample(jsonio.loads(line))


def parquet_row_starts(path: Path) -> np.ndarray:
    """The first row of each row group of a Parquet manifest, and the number of rows last (int64, groups + 1)."""
    metadata = open_parquet(path).metadata
    sizes = [metadata.row_group(group).num_rows for group in range(metadata.num_row_groups)]
    starts = np.zeros(len(sizes) + 1, dtype=np.int64)
    np.cumsum(sizes, out=starts[1:])
    return starts


class ParquetStore:
    """A Parquet manifest's records, made from the batch of rows holding them: a row group is decoded a batch at a
    time up to the last row asked for (the first page reads one batch), and the last batches read are kept."""

    def __init__(self, path: Path, group_starts: np.ndarray):
        self.path = path
        self.group_starts = group_starts
        self._file = open_parquet(path)
        self._batches: OrderedDict[tuple[int, int], Any] = OrderedDict()
        self._lock = threading.Lock()  # the server answers on several threads; ParquetFile is not thread-safe

    def __len__(self) -> int:
        return int(self.group_starts[-1])

    def _where(self, index: int) -> tuple[int, int, int]:
        """``(row group, batch in it, row in the batch)`` of record ``index``."""
        group = int(np.searchsorted(self.group_starts, index, side="right")) - 1
        row = index - int(self.group_starts[group])
        return group, row // BATCH_ROWS, row % BATCH_ROWS

    def _read(self, wanted: set[tuple[int, int]]) -> None:
        """Decode the batches ``wanted`` (``(group, batch)``) not kept yet, each group once up to its last one."""
        missing = sorted(key for key in wanted if key not in self._batches)
        for group in sorted({g for g, _ in missing}):
            numbers = {b for g, b in missing if g == group}
            batches = self._file.iter_batches(batch_size=BATCH_ROWS, row_groups=[group], use_threads=False)
            for number, batch in enumerate(batches):
                if number in numbers:
                    self._batches[(group, number)] = batch
                if number >= max(numbers):
                    break
        for key in wanted:
            self._batches.move_to_end(key)
        while len(self._batches) > max(BATCHES_KEPT, len(wanted)):
            self._batches.popitem(last=False)

    def get_many(self, indices: list[int]) -> list[Sample]:
        """The records numbered ``indices`` (a page), reading each row group at most once."""
        places = [self._where(index) for index in indices]
        with self._lock:
            self._read({(group, batch) for group, batch, _ in places})
            rows = [self._batches[(group, batch)].slice(row, 1).to_pylist()[0] for group, batch, row in places]
        return [record_to_sample(row_to_record(row)) for row in rows]

    def get(self, index: int) -> Sample:
        return self.get_many([index])[0]

    def __iter__(self) -> Iterator[Sample]:
        for _, record in iter_records(self.path):
            yield record_to_sample(record)
