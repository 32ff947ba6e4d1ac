"""polygon_bbox's one-part short path gives what the general path gives, bit for bit."""

from __future__ import annotations

import random

import pytest

from cvkit.core import geometry


def _bbox_by_lists(parts):
    """The general path: every part's coordinates gathered into one list."""
    xs = [v for part in parts for v in part[0::2]]
    ys = [v for part in parts for v in part[1::2]]
    x1, y1 = min(xs), min(ys)
    return (x1, y1, max(xs) - x1, max(ys) - y1)


def _random_part(rng: random.Random):
    values = 2 * rng.choice((3, 4, 12, 40))
    kind = rng.randrange(4)
    if kind == 0:
        part = [rng.randint(0, 640) for _ in range(values)]
    elif kind == 1:
        part = [round(rng.uniform(0, 640), 2) for _ in range(values)]
    elif kind == 2:
        part = [rng.uniform(-1e6, 1e6) for _ in range(values)]
    else:  # ties between ints and floats: min and max keep the first of equal values
        part = [rng.choice((0, 0.0, 1e-300, 3, 3.0, 7.5)) for _ in range(values)]
    return part if rng.random() < 0.8 else tuple(part)


def test_one_part_boxes_are_those_of_the_general_path():
    rng = random.Random(14)
    for _ in range(5000):
        parts = [_random_part(rng) for _ in range(rng.choice((1, 1, 2, 3)))]
        box = geometry.polygon_bbox(parts)
        expected = _bbox_by_lists(parts)
        assert box == expected and list(map(type, box)) == list(map(type, expected))


def test_edge_cases_behave_as_the_general_path():
    with pytest.raises(ValueError):
        geometry.polygon_bbox([[]])
    assert geometry.polygon_bbox([[5, 6, 1, 9]]) == (1, 6, 4, 3)
    assert geometry.polygon_bbox(([5.0, 6.0, 1.0, 9.0],)) == (1.0, 6.0, 4.0, 3.0)
