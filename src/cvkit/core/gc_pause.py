"""Pause Python's cyclic garbage collector around bulk conversions.

A conversion builds millions of small containers (parsed JSON, annotations, tuples). Each
few hundred allocations trigger a collection, and the older generations get re-scanned
as the heap grows: on a 500,000-box COCO file this costs a third of the run (orjson alone
parses 3x faster). cvkit's objects form no reference cycles, so reference counting frees
them anyway; the collector is switched back on (not run) afterwards.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused_gc() -> Iterator[None]:
    """Disable the cyclic collector inside the block (also usable as a decorator); nests safely."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
