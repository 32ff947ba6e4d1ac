"""Module-level task functions the executor tests ship to workers (by name, as every pipeline's functions go)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from cvkit.errors import InvalidInputError


def scaled(context: dict, task: int) -> tuple[int, int]:
    """``(task, task * factor)``: order and context both show in the result."""
    return task, task * context["factor"]


def fails_on(context: dict, task: int) -> int:
    if task == context["bad"]:
        raise InvalidInputError("bad value", file=f"item{task}.xml", location="object[0]")
    return task


def dies_once(context: dict, task: int) -> int:
    """The first attempt at ``context['victim']`` kills its own worker process (a crashed worker or lost node);
    the marker file makes the retry succeed."""
    marker = Path(context["marker"])
    if task == context["victim"] and not marker.exists():
        marker.write_text(str(os.getpid()))
        os._exit(1)
    return task * 2


def always_dies(context: dict, task: int) -> int:
    if task == context["victim"]:
        os._exit(1)
    return task


def slow(context: dict, task: int) -> int:
    time.sleep(context["seconds"])
    return task


def len_of(_context: object, task: list) -> int:
    return len(task)


def big_result(_context: object, task: int) -> bytes:
    """A result larger than a pipe's buffer: a worker killed while sending it is part-way through a write."""
    return bytes([task % 256]) * (4 << 20)


def unpicklable_result(_context: object, task: int) -> object:
    return lambda: task
