"""The GPU back-end: batches decoded on the GPU and augmented with per-image random parameters.

Runs the same spec as the CPU back-end through kornia (Apache-2.0): consecutive steps that
have a kornia implementation form one ``kornia.augmentation.AugmentationSequential``,
which draws parameters *per image* (unlike ``torchvision.transforms.v2``, which draws one
set per batch, pytorch/vision#8484). A step without a GPU implementation runs on the CPU
through albumentations for that step only; this is reported once (``GpuAugmenter.fallbacks``
and a Python warning). Decoding uses nvJPEG through batched
``torchvision.io.decode_jpeg(list, device="cuda")``, and the CPU decoder where that is
unavailable (no CUDA, or not a JPEG).

Everything here works on any torch device; tests run it on the CPU for correctness, CUDA
gives the speed. torch, torchvision and kornia are imported lazily.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cvkit.augment.cpu import eval_spec, sized_for_classification, total_matrix
from cvkit.augment.spec import PipelineSpec, TransformSpec, load_spec
from cvkit.augment.targets import display_params
from cvkit.augment.transforms import TRANSFORMS
from cvkit.core.limits import check_image_file
from cvkit.errors import CvkitError

#: continuous <-> kornia pixel-centre coordinates (kornia's matrices map pixel indices)
_TO_CENTRE = np.array([[1.0, 0, -0.5], [0, 1, -0.5], [0, 0, 1]])
_FROM_CENTRE = np.array([[1.0, 0, 0.5], [0, 1, 0.5], [0, 0, 1]])


def resolve_device(device: str = "auto") -> str:
    """``auto`` -> ``cuda`` when torch sees a GPU, else ``cpu``; ``cuda`` without one is an error."""
    if device not in ("auto", "cpu", "cuda") and not device.startswith("cuda:"):
        raise CvkitError(f"unknown device {device!r}; choose auto, cpu or cuda")
    if device == "cpu":
        return "cpu"
    try:
        import torch

        available = torch.cuda.is_available()
    except ImportError:
        available = False
    if device == "auto":
        return "cuda" if available else "cpu"
    if not available:
        raise CvkitError("--device cuda was asked for but torch sees no CUDA GPU; use --device cpu or auto")
    return device


@dataclass
class Stage:
    """A run of consecutive steps: kornia modules on the device, or one step on the CPU."""

    steps: list[TransformSpec]
    module: Any = None  # kornia AugmentationSequential, or None for a CPU fallback step
    cpu: Any = None  # albumentations Compose for a fallback step


def build_stages(steps: list[TransformSpec], device: str) -> tuple[list[Stage], list[str]]:
    """Group ``steps`` into kornia runs and CPU fallbacks; returns the stages and fallback names."""
    import albumentations as A

    try:
        import kornia.augmentation as K
    except ImportError as exc:
        raise CvkitError(
            f"the GPU back-end needs torch, torchvision and kornia: pip install 'cvkit[augment,train]' ({exc})"
        ) from None

    stages: list[Stage] = []
    fallbacks: list[str] = []
    run: list[TransformSpec] = []

    def close_run() -> None:
        if run:
            modules = [TRANSFORMS[t.name].kornia(t.params, t.p) for t in run]  # type: ignore[misc]
            stages.append(Stage(list(run), K.AugmentationSequential(*modules, data_keys=["input"]).to(device)))
            run.clear()

    for step in steps:
        if step.p <= 0:
            continue
        if TRANSFORMS[step.name].kornia is None:
            close_run()
            fallbacks.append(step.name)
            # box parameters: a fallback step may choose its window from the boxes (BoxSafeCrop reads data["bboxes"])
            compose = A.Compose(
                [TRANSFORMS[step.name].albu(step.params, step.p)],
                bbox_params=A.BboxParams(
                    format="coco", label_fields=["box_index"], clip=True, filter_invalid_bboxes=True
                ),
                save_applied_params=True,
            )
            stages.append(Stage([step], cpu=compose))
        else:
            run.append(step)
    close_run()
    return stages, fallbacks


class GpuAugmenter:
    """Augment a batch on ``device`` with per-image parameters; same spec as the CPU back-end.

    ``augmenter(batch)`` takes a uint8 NCHW RGB tensor (on the device) and returns a float32
    NCHW tensor of ``image_size`` x ``image_size`` in [0, 1], or normalised with ``mean``/``std``
    (per-channel, in [0, 1] units) when given. ``train=False`` gives the evaluation transform
    (shorter side to ``image_size / 0.875``, centre crop).
    """

    def __init__(
        self,
        spec: str | Path | dict | list | PipelineSpec,
        image_size: int,
        device: str = "cuda",
        *,
        train: bool = True,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
        seed: int | None = None,
        sized: bool = True,
    ):
        import torch

        self.device = resolve_device(device) if device == "auto" else device
        parsed = load_spec(spec)
        if sized:
            parsed = sized_for_classification(parsed, image_size) if train else eval_spec(image_size)
        self.spec = parsed
        self.image_size = image_size
        if seed is not None:
            torch.manual_seed(seed)
        self.stages, self.fallbacks = build_stages(parsed.transforms, self.device)
        if self.fallbacks:
            warnings.warn(
                f"no GPU implementation for {', '.join(self.fallbacks)}: these steps run on the CPU", stacklevel=2
            )
        self.mean = torch.tensor(mean, device=self.device).view(1, -1, 1, 1) if mean is not None else None
        self.std = torch.tensor(std, device=self.device).view(1, -1, 1, 1) if std is not None else None

    def __call__(self, batch: Any) -> Any:
        out, _, _ = self.run(batch)
        if self.mean is not None and self.std is not None:
            out = (out - self.mean) / self.std
        return out

    def run(
        self, batch: Any, track: bool = False, boxes: np.ndarray | None = None
    ) -> tuple[Any, np.ndarray | None, list[list[tuple[str, dict[str, Any]]]]]:
        """Augment a uint8 (or [0, 1] float) NCHW batch.

        With ``track`` also returns each image's geometry as (B, 3, 3) continuous-coordinate
        matrices and the applied steps with their parameters (for previews and targets).
        ``boxes`` (N, 4) COCO boxes in the input's pixels, the same for every image of the batch
        (NaN rows ignored), reach the CPU fallback steps that choose their window from the boxes.
        """
        import torch

        track = track or boxes is not None

        x = batch.to(self.device)
        x = x.float().div_(255.0) if x.dtype == torch.uint8 else x.float()
        size = x.shape[0]
        matrices = np.repeat(np.eye(3)[None], size, axis=0) if track else None
        applied: list[list[tuple[str, dict[str, Any]]]] = [[] for _ in range(size)]
        for stage in self.stages:
            if stage.module is not None:
                x = stage.module(x)
                if track:
                    kornia_m = stage.module.transform_matrix
                    if kornia_m is not None:
                        km = kornia_m.detach().double().cpu().numpy()
                        if km.ndim == 2:
                            km = np.repeat(km[None], size, axis=0)
                        matrices = np.einsum("ij,bjk,kl,bln->bin", _FROM_CENTRE, km, _TO_CENTRE, matrices)
                    self._captions(stage, applied)
            else:
                current = _moved_boxes(boxes, matrices) if boxes is not None else None
                x, step_matrices = self._cpu_step(stage, x, applied, track, current)
                if track:
                    matrices = np.einsum("bij,bjk->bik", step_matrices, matrices)
        return x, matrices, applied

    def _captions(self, stage: Stage, applied: list[list[tuple[str, dict[str, Any]]]]) -> None:
        for step, module in zip(stage.steps, stage.module.children()):
            params = getattr(module, "_params", None) or {}
            prob = params.get("batch_prob")
            for i in range(len(applied)):
                if prob is not None and float(prob[i]) < 0.5:
                    continue
                values = {
                    k: v[i].tolist()
                    for k, v in params.items()
                    if hasattr(v, "shape")
                    and v.ndim >= 1
                    and v.shape[0] == len(applied)
                    and k not in ("batch_prob", "forward_input_shape")
                }
                applied[i].append((step.name, display_params(_kornia_caption(values))))

    def _cpu_step(
        self,
        stage: Stage,
        x: Any,
        applied: list[list[tuple[str, dict[str, Any]]]],
        track: bool,
        boxes: list[np.ndarray] | None = None,
    ) -> tuple[Any, np.ndarray]:
        """One fallback step over the batch on the CPU (uint8 round trip), per image.

        ``boxes`` are each image's boxes where they are now (COCO, clipped to the image); without them the step
        sees an image with no boxes (a box-safe crop then picks any window).
        """
        import torch

        images = (x.clamp(0, 1) * 255.0).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
        outs, mats = [], []
        for i, image in enumerate(images):
            current = boxes[i] if boxes is not None else np.zeros((0, 4))
            result = stage.cpu(image=np.ascontiguousarray(image), bboxes=current, box_index=np.arange(len(current)))
            steps = list(result.get("applied_transforms") or [])
            outs.append(result["image"])
            if track:
                m = total_matrix(steps, result["image"].shape[:2])
                if m is None:
                    raise CvkitError(
                        f"{stage.steps[0].name} moves image patches and cannot keep annotations in sync; use it for "
                        "classification only"
                    )
                mats.append(m)
                applied[i].extend((stage.steps[0].name, display_params(p)) for _, p in steps)
        if len({o.shape for o in outs}) != 1:
            raise CvkitError(f"{stage.steps[0].name} gave images of different sizes; add a size-setting step after it")
        tensor = torch.from_numpy(np.stack(outs)).permute(0, 3, 1, 2).to(x.device).float().div_(255.0)
        return tensor, (np.stack(mats) if track else np.zeros((0, 3, 3)))


def _moved_boxes(boxes: np.ndarray, matrices: np.ndarray | None) -> list[np.ndarray]:
    """COCO ``boxes`` of the input moved by each image's matrix: the bounds of their moved corners, NaN rows dropped."""
    valid = boxes[~np.isnan(boxes).any(axis=1)] if len(boxes) else np.zeros((0, 4))
    x0, y0 = valid[:, 0], valid[:, 1]
    x1, y1 = x0 + valid[:, 2], y0 + valid[:, 3]
    corners = np.stack([np.stack([x0, y0], 1), np.stack([x1, y0], 1), np.stack([x0, y1], 1), np.stack([x1, y1], 1)], 1)
    moved = []
    for matrix in matrices if matrices is not None else []:
        pts = corners @ matrix[:2, :2].T + matrix[:2, 2]
        low, high = pts.min(axis=1), pts.max(axis=1)
        moved.append(np.concatenate([low, high - low], axis=1).reshape(-1, 4))
    return moved


def _kornia_caption(values: dict[str, Any]) -> dict[str, Any]:
    """kornia's per-image parameters in the CPU back-end's caption terms (crop boxes as crop_coords)."""
    out = {k: v for k, v in values.items() if k not in ("dst", "input_size", "output_size", "center", "order")}
    src = out.pop("src", None)
    if src is not None:
        xs, ys = [pt[0] for pt in src], [pt[1] for pt in src]
        out["crop_coords"] = [int(min(xs)), int(min(ys)), int(max(xs)) + 1, int(max(ys)) + 1]
    return out


def decode_images(paths: Sequence[str | Path], device: str = "cuda") -> list[Any]:
    """Decode image files to uint8 CHW RGB tensors on ``device``.

    JPEGs are decoded together on the GPU (nvJPEG, batched ``decode_jpeg``) when ``device``
    is CUDA; other files, or any failure of the GPU decoder, fall back to the CPU decoder.
    """
    import torch
    from torchvision.io import ImageReadMode, decode_image, decode_jpeg, read_file

    for path in paths:
        check_image_file(path)  # the pixel limit (cvkit.core.limits), from the header, before a decoder allocates
    data = [read_file(str(p)) for p in paths]
    out: list[Any] = [None] * len(data)
    if str(device).startswith("cuda"):
        jpeg = [i for i, d in enumerate(data) if d.numel() > 2 and int(d[0]) == 0xFF and int(d[1]) == 0xD8]
        if jpeg:
            try:
                decoded = decode_jpeg([data[i] for i in jpeg], mode=ImageReadMode.RGB, device=device)
                for i, image in zip(jpeg, decoded):
                    out[i] = image
            except RuntimeError:
                pass  # odd JPEGs (CMYK, progressive on old drivers): the CPU decoder below takes them
    for i, d in enumerate(data):
        if out[i] is None:
            out[i] = decode_image(d, mode=ImageReadMode.RGB).to(device)
    del torch
    return out


def stack_resized(images: Sequence[Any], augmenter: GpuAugmenter) -> Any:
    """Augment differently sized CHW uint8 images: same-size groups run batched, then concatenated in order."""
    import torch

    groups: dict[tuple[int, int], list[int]] = {}
    for i, image in enumerate(images):
        groups.setdefault(tuple(image.shape[-2:]), []).append(i)
    result: list[Any] = [None] * len(images)
    for indices in groups.values():
        out = augmenter(torch.stack([images[i] for i in indices]))
        for j, i in enumerate(indices):
            result[i] = out[j]
    return torch.stack(result)
