"""Choosing a back-end for samples with annotations: ``--device auto|cpu|cuda``.

Both back-ends answer ``augment_many(image, sample, k) -> list[AugmentResult]``: ``k``
variants of one sample, targets in sync, boxes lost counted. The CPU one loops over
albumentations; the GPU one augments the ``k`` copies as one batch with per-image
parameters and moves the targets with each image's matrix.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np

from cvkit.augment import targets as tg
from cvkit.augment.cpu import AugmentResult, CpuAugmenter
from cvkit.augment.spec import PipelineSpec, load_spec
from cvkit.augment.transforms import TRANSFORMS
from cvkit.core.model import Sample

# geometric steps without a kornia kernel whose output size is the same for every image of a batch
_SAME_SIZE_EVERY_TIME = {"Crop", "PatchShuffle"}
BACKEND_NAMES = {"cpu": "cpu (albumentations 2.0.8 + OpenCV)", "cuda": "cuda (kornia, per-image parameters)"}


class CpuSampleAugmenter(CpuAugmenter):
    """The CPU back-end with the ``augment_many`` interface."""

    def augment_many(self, image: np.ndarray, sample: Sample, k: int) -> list[AugmentResult]:
        return [self.augment(image, sample) for _ in range(k)]


class GpuSampleAugmenter:
    """The GPU back-end for samples with annotations (previews and ``--apply`` on CUDA)."""

    def __init__(self, spec: PipelineSpec, device: str, seed: int | None = None):
        from cvkit.augment.gpu import GpuAugmenter

        self.spec = spec
        self.device = device
        with warnings.catch_warnings():  # reported once through ``notes`` instead
            warnings.simplefilter("ignore", UserWarning)
            self.gpu = GpuAugmenter(spec, 0, device, seed=seed, sized=False)
        self.notes = [f"no GPU implementation for {name}: it runs on the CPU" for name in self.gpu.fallbacks]
        # a CPU step that may or may not change the size, or picks a size per image (BoxSafeCrop), leaves a batch
        # of mixed sizes: go one image at a time
        self.batchable = not any(
            t.name in self.gpu.fallbacks
            and TRANSFORMS[t.name].kind == "geometric"
            and (0 < t.p < 1 or t.name not in _SAME_SIZE_EVERY_TIME)
            for t in spec.transforms
        )

    def augment_many(self, image: np.ndarray, sample: Sample, k: int) -> list[AugmentResult]:
        import torch

        height, width = image.shape[:2]
        prepared = tg.prepare(sample, width, height)
        had_boxes = any(not np.isnan(b[0]) for b in prepared.boxes)
        batch = torch.from_numpy(np.array(image, copy=True)).permute(2, 0, 1)[None].repeat(k, 1, 1, 1)
        if self.batchable:
            results = [self._one(out, m, a, sample, prepared) for out, m, a in zip(*self._run(batch, prepared.boxes))]
        else:
            results = [
                self._one(out[0], m[0], a[0], sample, prepared)
                for out, m, a in (self._run(batch[i : i + 1], prepared.boxes) for i in range(k))
            ]
        for i, result in enumerate(results):
            tries = 0
            while had_boxes and not result.sample.objects and tries < self.spec.boxes.redraw:
                tries += 1
                out, mats, applied = self._run(batch[:1], prepared.boxes)
                result = self._one(out[0], mats[0], applied[0], sample, prepared)
            result.redraws = tries
            results[i] = result
        return results

    def _run(self, batch: Any, boxes: np.ndarray) -> tuple[Any, np.ndarray, list]:
        out, mats, applied = self.gpu.run(batch, track=True, boxes=boxes)
        images = (out.clamp(0, 1) * 255).round().byte().permute(0, 2, 3, 1).cpu().numpy()
        assert mats is not None
        return images, mats, applied

    def _one(
        self, image: np.ndarray, matrix: np.ndarray, applied: list, sample: Sample, prepared: tg.PreparedTargets
    ) -> AugmentResult:
        out_h, out_w = image.shape[:2]
        masks = tg.warp_masks(prepared.masks, matrix, out_w, out_h) if prepared.masks else None
        objects, lost = tg.finish(prepared, matrix, out_w, out_h, self.spec.boxes, masks)
        return AugmentResult(image, tg.rebuild(sample, objects, out_w, out_h), applied, lost)


def sample_augmenter(
    spec: str | Path | dict | list | PipelineSpec, device: str = "auto", seed: int | None = None
) -> tuple[Any, str]:
    """The augmenter for ``device`` (``auto`` picks CUDA when torch sees one) and the device used."""
    from cvkit.augment.gpu import resolve_device

    parsed = load_spec(spec)
    used = resolve_device(device)
    if used == "cpu":
        return CpuSampleAugmenter(parsed, seed=seed), "cpu"
    return GpuSampleAugmenter(parsed, used, seed=seed), used
