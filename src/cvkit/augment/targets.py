"""Keeping annotations in sync with a geometric augmentation, the same way on every back-end.

Each back-end reports the geometry it applied to an image as one 3x3 matrix in cvkit's
continuous pixel coordinates (origin at the top-left corner of the top-left pixel, see
docs/coordinates.md). Boxes, polygons, keypoints and points all go through that one
matrix here, so they cannot drift apart, and box filtering is decided once per sample:

- a box partly outside the *input* image is clipped to it first (never rejected);
- after the transforms its four corners give the whole transformed box; the part inside
  the output image is kept; the box is dropped when the visible fraction is below
  ``min_visibility`` or the visible area below ``min_area`` (both counted as lost).

Masks are warped by the back-end itself (pixels) and only re-encoded here.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from cvkit.augment.spec import BoxPolicy
from cvkit.core.geometry import clip_box, polygon_area, polygon_bbox
from cvkit.core.masks import decode, encode, rle_bbox
from cvkit.core.model import Annotation, Sample


@dataclass(slots=True)
class PreparedTargets:
    """A sample's objects ready for a back-end: clipped input boxes, masks, and what was lost on entry."""

    objects: list[Annotation]
    boxes: np.ndarray  # (N, 4) canonical x, y, w, h of ``objects`` (NaN row for shapes without a box)
    masks: list[np.ndarray] = field(default_factory=list)
    mask_owner: list[int] = field(default_factory=list)
    lost_outside: int = 0


def prepare(sample: Sample, width: int, height: int) -> PreparedTargets:
    """Clip boxes to the input image (``width`` x ``height``) and decode masks of the right size."""
    kept: list[Annotation] = []
    boxes: list[tuple[float, float, float, float]] = []
    masks: list[np.ndarray] = []
    owners: list[int] = []
    lost = 0
    for obj in sample.objects:
        box = obj.ensure_bbox()
        if box is None:
            kept.append(obj)
            boxes.append((np.nan,) * 4)
            continue
        clipped = clip_box(box, width, height)
        if clipped[2] <= 0 or clipped[3] <= 0:
            lost += 1
            continue
        if obj.rle is not None and list(obj.rle.get("size", [])) == [height, width]:
            owners.append(len(kept))
            masks.append(decode(obj.rle))
        kept.append(obj)
        boxes.append(clipped)
    array = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return PreparedTargets(kept, array, masks, owners, lost)


def apply_matrix(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """(N, 2) points through a 3x3 homogeneous matrix."""
    if len(points) == 0:
        return points.reshape(0, 2)
    ones = np.ones((len(points), 1))
    out = np.hstack([points, ones]) @ matrix.T
    return out[:, :2] / out[:, 2:3]


def clip_polygon(points: np.ndarray, width: float, height: float) -> np.ndarray:
    """Sutherland–Hodgman clipping of one polygon (N, 2) to the image rectangle."""
    poly = [tuple(p) for p in points]
    for axis, limit, keep_below in ((0, 0.0, False), (0, width, True), (1, 0.0, False), (1, height, True)):
        if not poly:
            break
        out: list[tuple[float, float]] = []
        for i, cur in enumerate(poly):
            prev = poly[i - 1]
            cur_in = cur[axis] <= limit if keep_below else cur[axis] >= limit
            prev_in = prev[axis] <= limit if keep_below else prev[axis] >= limit
            if cur_in != prev_in:
                t = (limit - prev[axis]) / (cur[axis] - prev[axis])
                cross = (prev[0] + t * (cur[0] - prev[0]), prev[1] + t * (cur[1] - prev[1]))
                out.append(cross)
            if cur_in:
                out.append(cur)
        poly = out
    return np.asarray(poly, dtype=np.float64).reshape(-1, 2)


def _corners(box: np.ndarray) -> np.ndarray:
    x, y, w, h = box
    return np.array([[x, y], [x + w, y], [x + w, y + h], [x, y + h]])


def _inside(points: np.ndarray, width: float, height: float) -> np.ndarray:
    return (points[:, 0] >= 0) & (points[:, 0] <= width) & (points[:, 1] >= 0) & (points[:, 1] <= height)


def _round(values: np.ndarray) -> list[float]:
    return [round(float(v), 3) + 0.0 for v in values]  # + 0.0 turns -0.0 into 0.0


def finish(
    prepared: PreparedTargets,
    matrix: np.ndarray,
    width: int,
    height: int,
    policy: BoxPolicy,
    masks: list[np.ndarray] | None = None,
) -> tuple[list[Annotation], int]:
    """The objects after ``matrix`` in a ``width`` x ``height`` output, and how many were lost.

    ``masks`` are the back-end's warped masks, in ``prepared.mask_owner`` order.
    """
    warped = dict(zip(prepared.mask_owner, masks or []))
    out: list[Annotation] = []
    lost = prepared.lost_outside
    for index, obj in enumerate(prepared.objects):
        box = prepared.boxes[index]
        if np.isnan(box[0]):  # point-like shapes: keep when any point is still in view
            moved = _move_points(obj, matrix, width, height)
            if moved is None:
                lost += 1
            else:
                out.append(moved)
            continue
        full = apply_matrix(_corners(box), matrix)
        x1, y1 = full.min(axis=0)
        x2, y2 = full.max(axis=0)
        full_area = (x2 - x1) * (y2 - y1)
        vis = clip_box((x1, y1, x2 - x1, y2 - y1), width, height)
        vis_area = vis[2] * vis[3]
        if (
            full_area <= 0
            or vis_area <= 0
            or vis_area / full_area < policy.min_visibility - 1e-9
            or vis_area < policy.min_area - 1e-9
        ):
            lost += 1
            continue
        new = replace(obj, attributes=dict(obj.attributes), meta=dict(obj.meta))
        new.bbox = tuple(_round(np.asarray(vis)))  # type: ignore[assignment]
        if obj.polygon:
            parts = []
            for part in obj.polygon:
                pts = clip_polygon(
                    apply_matrix(np.asarray(part, dtype=np.float64).reshape(-1, 2), matrix), width, height
                )
                if len(pts) >= 3 and polygon_area([pts.reshape(-1).tolist()]) > 0:
                    parts.append(_round(pts.reshape(-1)))
            if not parts:
                lost += 1
                continue
            new.polygon = parts
            new.bbox = tuple(round(v, 3) for v in polygon_bbox(parts))  # type: ignore[assignment]
        if index in warped:
            new.rle = encode(warped[index])
            if warped[index].any():
                new.bbox = rle_bbox(new.rle)
        elif obj.rle is not None:
            new.rle = None  # a mask whose size did not match the image cannot follow; the box does
            new.meta["augment"] = {"mask_dropped": "RLE size differs from the image size"}
        if obj.keypoints:
            new.keypoints = _move_keypoints(obj.keypoints, matrix, width, height)
        if obj.points:
            new.points = _round(
                apply_matrix(np.asarray(obj.points, dtype=np.float64).reshape(-1, 2), matrix).reshape(-1)
            )
        out.append(new)
    return out, lost


def _move_keypoints(flat: list[float], matrix: np.ndarray, width: int, height: int) -> list[float]:
    """COCO ``[x, y, v] * K``: moved; a keypoint leaving the image becomes ``0, 0, 0`` (COCO's unlabeled)."""
    kps = np.asarray(flat, dtype=np.float64).reshape(-1, 3)
    xy = apply_matrix(kps[:, :2], matrix)
    inside = _inside(xy, width, height)
    result: list[float] = []
    for (x, y), v, ok in zip(xy, kps[:, 2], inside):
        if v > 0 and ok:
            result += [round(float(x), 3), round(float(y), 3), float(v)]
        else:
            result += [0.0, 0.0, 0.0]
    return result


def _move_points(obj: Annotation, matrix: np.ndarray, width: int, height: int) -> Annotation | None:
    new = replace(obj, attributes=dict(obj.attributes), meta=dict(obj.meta))
    seen = False
    if obj.points:
        xy = apply_matrix(np.asarray(obj.points, dtype=np.float64).reshape(-1, 2), matrix)
        seen = bool(_inside(xy, width, height).any())
        new.points = _round(xy.reshape(-1))
    if obj.keypoints:
        new.keypoints = _move_keypoints(obj.keypoints, matrix, width, height)
        seen = seen or any(v > 0 for v in new.keypoints[2::3])
    if not obj.points and not obj.keypoints:
        return new  # nothing spatial (e.g. a label-only object): unchanged
    return new if seen else None


def rebuild(sample: Sample, objects: list[Annotation], width: int, height: int, path: str | None = None) -> Sample:
    """A copy of ``sample`` with new objects and size (labels and attributes kept)."""
    return replace(
        sample,
        path=path or sample.path,
        width=width,
        height=height,
        objects=objects,
        labels=list(sample.labels),
        attributes=dict(sample.attributes),
        meta=dict(sample.meta),
    )


def display_params(params: dict[str, Any]) -> dict[str, Any]:
    """Applied parameters worth a caption: numbers rounded, internals (matrices, shapes) left out."""
    hidden = {
        "shape",
        "interpolation",
        "mask_interpolation",
        "fill",
        "fill_mask",
        "matrix",
        "bbox_matrix",
        "output_shape",
        "pad_params",
        "tiles",
        "batch_prob",
        "forward_input_shape",
        "dtype",
    }
    out: dict[str, Any] = {}
    for key, value in params.items():
        if key in hidden or (isinstance(value, np.ndarray) and value.size > 8):
            continue  # internals and per-pixel maps (e.g. GaussNoise's noise_map) make no caption
        out[key] = _tidy(value)
    return out


def _tidy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _tidy(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        return [_tidy(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return round(float(value), 2) + 0.0  # no "-0"
    if isinstance(value, np.integer):
        return int(value)
    return value


def warp_masks(masks: list[np.ndarray], matrix: np.ndarray, width: int, height: int) -> list[np.ndarray]:
    """Warp binary masks with a continuous-coordinate matrix (nearest neighbour, OpenCV)."""
    import cv2

    to_centre = np.array([[1.0, 0, 0.5], [0, 1, 0.5], [0, 0, 1]])
    pixel = np.linalg.inv(to_centre) @ matrix @ to_centre  # OpenCV maps pixel centres
    return [cv2.warpPerspective(m, pixel, (width, height), flags=cv2.INTER_NEAREST) for m in masks]
