"""Scrambled images (the texture-reliance test): cut an image into GRID x GRID tiles and shuffle them, so local
texture stays while global shape is gone. A network that keeps its accuracy on scrambled images classifies by
texture (the lectures' VGG-16: top-5 fell only from 90% to 80%).
"""

from __future__ import annotations

from typing import Any

import torch

from cvkit.errors import CvkitError


def scramble_tiles(image: torch.Tensor, grid: int, order: torch.Tensor) -> torch.Tensor:
    """``image`` (C x H x W) with its tiles rearranged: output tile ``k`` (row-major) is input tile ``order[k]``.

    Tiles are ``H // grid`` x ``W // grid`` pixels; the few rows and columns beyond ``grid`` whole tiles (when the
    size is not a multiple of ``grid``) stay where they are.
    """
    channels, height, width = image.shape
    tile_h, tile_w = height // grid, width // grid
    if tile_h == 0 or tile_w == 0:
        raise CvkitError(f"a {height}x{width} image has no {grid}x{grid} tiles")
    body = image[:, : tile_h * grid, : tile_w * grid]
    tiles = body.reshape(channels, grid, tile_h, grid, tile_w).permute(1, 3, 0, 2, 4).reshape(grid * grid, -1)
    shuffled = tiles[order].reshape(grid, grid, channels, tile_h, tile_w).permute(2, 0, 3, 1, 4)
    out = image.clone()
    out[:, : tile_h * grid, : tile_w * grid] = shuffled.reshape(channels, tile_h * grid, tile_w * grid)
    return out


def tile_order(grid: int, seed: int) -> torch.Tensor:
    """A random permutation of the ``grid * grid`` tiles, fixed by ``seed``."""
    return torch.randperm(grid * grid, generator=torch.Generator().manual_seed(seed))


class ScrambledDataset(torch.utils.data.Dataset):
    """Another dataset's ``(image, target)`` items with each image's tiles shuffled; item ``i``'s permutation
    depends on ``seed`` and ``i`` only (the same on every run, with any number of workers)."""

    def __init__(self, dataset: Any, grid: int, seed: int = 0):
        if grid < 2:
            raise CvkitError("--scramble needs a grid of at least 2")
        self.dataset, self.grid, self.seed = dataset, grid, seed
        self.encoded = False  # decoded images (what the loader's collate needs to know)

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, Any]:
        image, target = self.dataset[index]
        return scramble_tiles(image, self.grid, tile_order(self.grid, self.seed * 1_000_003 + index)), target
