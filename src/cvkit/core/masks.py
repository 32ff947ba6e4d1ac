"""RLE mask helpers over pycocotools (imported lazily: conversion of box-only data never pays for it).

RLE dicts follow COCO: ``{"size": [height, width], "counts": str | list[int]}``; a list
``counts`` is uncompressed RLE (what COCO uses for iscrowd), a str is compressed.
"""

from __future__ import annotations

from typing import Any

from cvkit.core.geometry import Box


def _mask_utils() -> Any:
    from pycocotools import mask as mask_utils

    return mask_utils


def to_compressed(rle: dict[str, Any]) -> dict[str, Any]:
    """Compressed (string counts) form of an RLE, uncompressed input accepted."""
    if isinstance(rle.get("counts"), list):
        h, w = rle["size"]
        out = _mask_utils().frPyObjects(rle, h, w)
        counts = out["counts"]
        return {"size": [h, w], "counts": counts.decode("ascii") if isinstance(counts, bytes) else counts}
    counts = rle["counts"]
    return {"size": list(rle["size"]), "counts": counts.decode("ascii") if isinstance(counts, bytes) else counts}


def _encoded(rle: dict[str, Any]) -> dict[str, Any]:
    c = to_compressed(rle)
    return {"size": c["size"], "counts": c["counts"].encode("ascii")}


def rle_area(rle: dict[str, Any]) -> float:
    if isinstance(rle.get("counts"), list):
        return float(sum(rle["counts"][1::2]))
    return float(_mask_utils().area(_encoded(rle)))


def rle_bbox(rle: dict[str, Any]) -> Box:
    x, y, w, h = _mask_utils().toBbox(_encoded(rle)).tolist()
    return (x, y, w, h)


def decode(rle: dict[str, Any]) -> Any:
    """The mask as a ``(height, width)`` uint8 numpy array."""
    return _mask_utils().decode(_encoded(rle))


def encode(mask: Any) -> dict[str, Any]:
    """Compressed RLE of a 2-D numpy mask."""
    import numpy as np

    out = _mask_utils().encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(v) for v in out["size"]], "counts": out["counts"].decode("ascii")}


def polygons_to_rle(parts: list[list[float]], height: int, width: int) -> dict[str, Any]:
    """Rasterise polygon parts into one compressed RLE (as pycocotools does)."""
    mu = _mask_utils()
    merged = mu.merge(mu.frPyObjects([list(p) for p in parts], height, width))
    return {"size": [height, width], "counts": merged["counts"].decode("ascii")}


def paste_rle(crop: Any, left: int, top: int, height: int, width: int) -> dict[str, Any]:
    """Compressed RLE of a ``height x width`` image that is 0 except ``crop`` (a 2-D 0/1 array) at ``left, top``.

    The image itself is never allocated (only the crop's columns, image-tall): a mask reader stays within the memory
    its crop needs whatever size the file claims. The crop must lie inside the image."""
    import numpy as np

    h, w = crop.shape
    if left < 0 or top < 0 or left + w > width or top + h > height:
        raise ValueError(f"the {w}x{h} mask at ({left}, {top}) does not fit in the {width}x{height} image")
    columns = np.zeros((w, height), dtype=np.uint8)  # column-major, as COCO's RLE runs
    columns[:, top : top + h] = crop.T
    flat = columns.ravel()
    change = np.flatnonzero(flat[1:] != flat[:-1]) + 1 if flat.size else np.array([], dtype=np.int64)
    counts = np.diff(np.concatenate(([0], change, [flat.size]))).tolist() if flat.size else []
    if flat.size and flat[0]:
        counts.insert(0, 0)
    before, after = left * height, (width - left - w) * height
    counts = counts or [0]
    counts[0] += before
    if len(counts) % 2:  # ends on a run of 0s
        counts[-1] += after
    elif after:
        counts.append(after)
    return to_compressed({"size": [height, width], "counts": [int(c) for c in counts]})
