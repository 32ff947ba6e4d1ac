"""``cvkit export CHECKPOINT --onnx|--torchscript``: a deployable model, checked against PyTorch.

The exported model takes the same input as the PyTorch one: float32 NCHW RGB images
of ``image_size``, scaled to 0-1 and normalised with ImageNet mean/std (listed in the
summary), dynamic batch size. After export the file is loaded back (onnxruntime for
ONNX, ``torch.jit.load`` for TorchScript) and run on a fixed random batch; the
summary reports the largest absolute difference from PyTorch's logits.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import torch

from cvkit.errors import CvkitError, DestinationExistsError
from cvkit.io import atomic_file
from cvkit.train.checkpoint import load_checkpoint, model_from_checkpoint, resolve_checkpoint
from cvkit.train.config import MEAN, STD

SUFFIXES = {"onnx": ".onnx", "torchscript": ".torchscript.pt"}


def _export_onnx(model: torch.nn.Module, example: torch.Tensor, dst: Path) -> None:
    try:
        import onnxscript  # noqa: F401  (the torch.export-based exporter needs it)

        dynamo = True
    except ImportError:
        dynamo = False
    with atomic_file(dst, "wb", encoding=None) as handle, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            (example,),
            handle,
            input_names=["images"],
            output_names=["logits"],
            dynamo=dynamo,
            dynamic_axes={"images": {0: "batch"}, "logits": {0: "batch"}} if not dynamo else None,
            dynamic_shapes=({0: torch.export.Dim("batch", min=1)},) if dynamo else None,
        )


def _run_onnx(path: Path, batch: torch.Tensor) -> torch.Tensor:
    try:
        import onnxruntime
    except ImportError as exc:
        raise CvkitError(f"checking the ONNX model needs onnxruntime: pip install onnxruntime ({exc})") from None
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return torch.from_numpy(session.run(None, {session.get_inputs()[0].name: batch.numpy()})[0])


def _export_torchscript(model: torch.nn.Module, example: torch.Tensor, dst: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(model, example)
    with atomic_file(dst, "wb", encoding=None) as handle:
        torch.jit.save(traced, handle)


def export_model(src: Path, dst: Path | None, kind: str, overwrite: bool = False) -> dict[str, Any]:
    """Export the checkpoint ``src`` (a .pt file or run folder) to ``dst`` (default: beside it).

    Returns a JSON-able summary.

    An existing ``dst`` is refused unless ``overwrite``, before anything is exported.
    """
    if kind not in SUFFIXES:
        raise CvkitError(f"export kind must be onnx or torchscript, not {kind!r}")
    path = resolve_checkpoint(src)
    state = load_checkpoint(path)
    model, cfg = model_from_checkpoint(state)
    if dst is None:
        dst = path.with_name(path.stem + SUFFIXES[kind])
    elif Path(dst).is_dir():
        dst = Path(dst) / (path.stem + SUFFIXES[kind])
    dst = Path(dst)
    if dst.exists() and not overwrite:
        raise DestinationExistsError("the export file already exists; pass --overwrite to replace it", file=dst)
    generator = torch.Generator().manual_seed(0)
    example = torch.randn(1, 3, cfg.image_size, cfg.image_size, generator=generator)
    check = torch.randn(2, 3, cfg.image_size, cfg.image_size, generator=generator)
    with torch.no_grad():
        expected = model(check)
        if kind == "onnx":
            _export_onnx(model, example, dst)
            got = _run_onnx(dst, check)
        else:
            _export_torchscript(model, example, dst)
            got = torch.jit.load(str(dst), map_location="cpu")(check)
    return {
        "output": str(dst),
        "kind": kind,
        "checkpoint": str(path),
        "arch": cfg.arch,
        "classes": state["class_names"],
        "input": {
            "name": "images",
            "shape": ["batch", 3, cfg.image_size, cfg.image_size],
            "dtype": "float32",
            "scale": "1/255",
            "mean": list(MEAN),
            "std": list(STD),
        },
        "output_kind": "sigmoid scores after the logits" if cfg.multi_label else "logits (softmax for probabilities)",
        "max_abs_diff": float((expected - got).abs().max()),
        "checked_batch": int(check.shape[0]),
    }
