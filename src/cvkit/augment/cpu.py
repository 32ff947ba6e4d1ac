"""The CPU back-end: albumentations 2.0.8 + OpenCV behind cvkit's spec.

Two entry points:

- :func:`classification_transform` (what the trainer calls): image in, image out, nothing
  else in the way, so it runs as fast as a hand-built ``A.Compose``;
- :class:`CpuAugmenter` for samples with annotations: boxes, polygons, masks, keypoints
  and labels follow the image (see :mod:`cvkit.augment.targets`), boxes lost per sample
  are counted, and a sample that lost all its boxes can be redrawn.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cvkit.augment import targets as tg
from cvkit.augment.spec import PipelineSpec, TransformSpec, load_spec
from cvkit.augment.transforms import BY_ALBU_CLASS, TRANSFORMS
from cvkit.core.model import Sample
from cvkit.errors import CvkitError

#: ImageNet evaluation protocol: resize the shorter side to size/0.875, then centre-crop.
EVAL_CROP_FRACTION = 0.875


def albumentations_transforms(spec: PipelineSpec) -> list[Any]:
    """The albumentations transform for each step of ``spec`` (steps with p=0 left out)."""
    return [TRANSFORMS[t.name].albu(t.params, t.p) for t in spec.transforms if t.p > 0]


def sized_for_classification(spec: PipelineSpec, image_size: int) -> PipelineSpec:
    """``spec`` with every size-setting step set to ``image_size`` (a final Resize added if none sets it)."""
    steps: list[TransformSpec] = []
    has_size = False
    for t in spec.transforms:
        params = dict(t.params)
        if TRANSFORMS[t.name].sets_size:
            has_size = has_size or t.p >= 1.0
            for key in ("size", "height", "width"):
                if key in params:
                    params[key] = image_size
        steps.append(TransformSpec(t.name, t.p, params))
    if not has_size:
        steps.append(TransformSpec("Resize", 1.0, {"height": image_size, "width": image_size}))
    return PipelineSpec(steps, spec.boxes, spec.name, spec.description)


def eval_spec(image_size: int) -> PipelineSpec:
    """The evaluation pipeline: shorter side to ``image_size / 0.875``, centre crop ``image_size``."""
    return PipelineSpec(
        [
            TransformSpec("SmallestMaxSize", 1.0, {"size": round(image_size / EVAL_CROP_FRACTION)}),
            TransformSpec("CenterCrop", 1.0, {"height": image_size, "width": image_size}),
        ],
        name="eval",
    )


def classification_transform(
    spec: str | Path | dict | list | PipelineSpec, image_size: int, train: bool = True, seed: int | None = None
) -> Callable[[np.ndarray], np.ndarray]:
    """A function HWC uint8 RGB -> HWC uint8 RGB of ``image_size`` x ``image_size``.

    ``spec`` is a preset name, a spec file path or parsed spec data. ``train=False`` gives the
    evaluation transform (shorter side to ``image_size/0.875``, centre crop) whatever the spec.
    """
    import albumentations as A

    parsed = load_spec(spec)
    if image_size <= 0:
        raise CvkitError(f"image_size must be positive, got {image_size}")
    final = sized_for_classification(parsed, image_size) if train else eval_spec(image_size)
    compose = A.Compose(albumentations_transforms(final), seed=seed)

    def transform(image: np.ndarray) -> np.ndarray:
        return compose(image=image)["image"]

    transform.spec = final  # type: ignore[attr-defined]
    return transform


@dataclass(slots=True)
class AugmentResult:
    """One augmented sample: pixels, the updated sample, what was applied and what it cost."""

    image: np.ndarray
    sample: Sample
    applied: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    boxes_lost: int = 0
    redraws: int = 0


def step_matrix(cls_name: str, params: dict[str, Any], out_hw: tuple[int, int]) -> np.ndarray | None:
    """The continuous-coordinate matrix of one applied albumentations step (None: not a matrix)."""
    in_h, in_w = params["shape"][:2]
    out_h, out_w = out_hw
    eye = np.eye(3)
    if cls_name == "HorizontalFlip":
        return np.array([[-1.0, 0, in_w], [0, 1, 0], [0, 0, 1]])
    if cls_name == "VerticalFlip":
        return np.array([[1.0, 0, 0], [0, -1, in_h], [0, 0, 1]])
    if cls_name == "Affine":
        return np.asarray(params["bbox_matrix"], dtype=np.float64)
    if "crop_coords" in params:
        pad = params.get("pad_params") or {}
        x1, y1, x2, y2 = params["crop_coords"]
        shift = np.array([[1.0, 0, pad.get("pad_left", 0) - x1], [0, 1, pad.get("pad_top", 0) - y1], [0, 0, 1]])
        scale = np.diag([out_w / (x2 - x1), out_h / (y2 - y1), 1.0])
        return scale @ shift
    if cls_name in ("Resize", "SmallestMaxSize"):
        return np.diag([out_w / in_w, out_h / in_h, 1.0])
    definition = TRANSFORMS.get(BY_ALBU_CLASS.get(cls_name, ""))
    if definition is not None and definition.kind == "pixel":
        return eye
    return None


def total_matrix(applied: list[tuple[str, dict[str, Any]]], final_hw: tuple[int, int]) -> np.ndarray | None:
    """Compose the steps' matrices; None when a step moved pixels in a way no matrix describes."""
    matrix = np.eye(3)
    for i, (cls_name, params) in enumerate(applied):
        out_hw = tuple(applied[i + 1][1]["shape"][:2]) if i + 1 < len(applied) else final_hw
        step = step_matrix(cls_name, params, out_hw)  # type: ignore[arg-type]
        if step is None:
            return None
        matrix = step @ matrix
    return matrix


class CpuAugmenter:
    """Augments samples with annotations on the CPU; deterministic for a given ``seed``."""

    device = "cpu"

    def __init__(self, spec: str | Path | dict | list | PipelineSpec, seed: int | None = None):
        import albumentations as A

        self.spec = load_spec(spec)
        self.compose = A.Compose(
            albumentations_transforms(self.spec),
            bbox_params=A.BboxParams(format="coco", label_fields=["box_index"], clip=True, filter_invalid_bboxes=True),
            save_applied_params=True,
            seed=seed,
        )
        self.notes: list[str] = []

    def augment(self, image: np.ndarray, sample: Sample) -> AugmentResult:
        """Augment ``image`` (HWC uint8 RGB) and ``sample``'s objects together."""
        height, width = image.shape[:2]
        prepared = tg.prepare(sample, width, height)
        had_boxes = any(not np.isnan(b[0]) for b in prepared.boxes)
        redraws = 0
        while True:
            result = self._once(image, sample, prepared)
            if result.sample.objects or not had_boxes or redraws >= self.spec.boxes.redraw:
                break
            redraws += 1
        result.redraws = redraws
        return result

    def _once(self, image: np.ndarray, sample: Sample, prepared: tg.PreparedTargets) -> AugmentResult:
        valid = ~np.isnan(prepared.boxes[:, 0]) if len(prepared.boxes) else np.zeros(0, bool)
        data: dict[str, Any] = {"image": image, "bboxes": prepared.boxes[valid], "box_index": np.flatnonzero(valid)}
        if prepared.masks:
            data["masks"] = prepared.masks
        out = self.compose(**data)
        new_image = out["image"]
        out_h, out_w = new_image.shape[:2]
        applied = list(out.get("applied_transforms") or [])
        matrix = total_matrix(applied, (out_h, out_w))
        if matrix is None:
            if prepared.objects:
                moved = [
                    BY_ALBU_CLASS.get(name, name) for name, _ in applied if step_matrix(name, _, (out_h, out_w)) is None
                ]
                raise CvkitError(
                    f"{', '.join(moved)} moves image patches and cannot keep annotations in sync; use it for "
                    "classification only"
                )
            matrix = np.eye(3)
        masks = [np.asarray(m) for m in out.get("masks", [])] if prepared.masks else None
        objects, lost = tg.finish(prepared, matrix, out_w, out_h, self.spec.boxes, masks)
        captions = [(BY_ALBU_CLASS.get(name, name), tg.display_params(params)) for name, params in applied]
        return AugmentResult(new_image, tg.rebuild(sample, objects, out_w, out_h), captions, lost)
