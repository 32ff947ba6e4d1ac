"""What the page draws: samples as JSON, thumbnails cached on disk, masks as PNG overlays, class colours.

Thumbnails are made when first asked for (Pillow, decoding at a reduced size where the format allows) and kept
under ``cvkit.io.cache_dir("thumbs")`` keyed by the file's path, size and modification time, so a changed image
gets a new one. Annotations are not burnt into thumbnails: the page draws them (SVG) over any image size.
"""

from __future__ import annotations

import colorsys
import hashlib
import io
from pathlib import Path
from typing import Any

from cvkit.core.imagefile import open_image_bytes
from cvkit.core.masks import decode
from cvkit.core.model import Annotation, Sample
from cvkit.errors import CvkitError
from cvkit.io import atomic_write_bytes, cache_dir

#: longest side of a thumbnail, pixels
THUMB_SIZE = 256
#: images above this many pixels are not decoded (Pillow's own bomb limit is higher)
MAX_PIXELS = 200_000_000
#: opacity of mask overlays (0-255)
MASK_ALPHA = 110
GOLDEN_ANGLE = 0.381966


def class_colour(index: int) -> str:
    """A distinct colour per class index (hues a golden angle apart), as ``#rrggbb``."""
    hue = (index * GOLDEN_ANGLE) % 1.0
    red, green, blue = colorsys.hsv_to_rgb(hue, 0.85 if index % 2 else 0.65, 0.95)
    return f"#{int(red * 255):02x}{int(green * 255):02x}{int(blue * 255):02x}"


def _rounded(values: Any) -> Any:
    """Coordinates with 2 decimals (enough for pixels; keeps pages small)."""
    if isinstance(values, list | tuple):
        return [_rounded(v) for v in values]
    return round(values, 2) if isinstance(values, float) else values


def object_json(obj: Annotation, class_index: dict[str, int]) -> dict[str, Any]:
    """One annotation as the page draws and lists it."""
    doc: dict[str, Any] = {"label": obj.label, "class": class_index.get(obj.label, -1), "shape": obj.shape}
    box = obj.bbox if obj.bbox is not None else obj.ensure_bbox()
    if box is not None:
        doc["bbox"] = _rounded(list(box))
    for key in ("polygon", "keypoints", "points"):
        value = getattr(obj, key)
        if value:
            doc[key] = _rounded(value)
    if obj.rle is not None:
        doc["mask"] = True
    for key in ("score", "id", "group"):
        value = getattr(obj, key)
        if value is not None:
            doc[key] = value
    if obj.iscrowd:
        doc["iscrowd"] = True
    if obj.attributes:
        doc["attributes"] = obj.attributes
    return doc


def sample_json(index: int, sample: Sample, class_index: dict[str, int], detail: bool = False) -> dict[str, Any]:
    """One image as the grid (``detail=False``) or the detail view shows it."""
    doc: dict[str, Any] = {
        "index": index,
        "path": sample.path,
        "width": sample.width,
        "height": sample.height,
        "split": sample.split,
        "labels": sample.labels,
        "objects": [object_json(o, class_index) for o in sample.objects],
        "masks": any(o.rle is not None for o in sample.objects),
    }
    if detail:
        doc.update(id=sample.id, attributes=sample.attributes)
    return doc


def _open_image(path: Path) -> tuple[bytes, Any]:
    """The file's bytes and the Pillow image over them, refusing what is not an image and what is too large."""
    from PIL import Image

    try:
        data = open_image_bytes(path)
        image = Image.open(io.BytesIO(data))
    except FileNotFoundError:
        raise CvkitError("image file not found", file=path) from None
    except OSError as exc:
        raise CvkitError(f"not a readable image ({exc})", file=path) from None
    if image.width * image.height > MAX_PIXELS:
        raise CvkitError(f"image of {image.width}x{image.height} pixels is too large to show", file=path)
    return data, image


def image_bytes(path: Path) -> tuple[bytes, str]:
    """``(bytes, content type)`` of an image file, only when Pillow recognises it as an image."""
    from PIL import Image

    data, image = _open_image(path)
    return data, Image.MIME.get(image.format or "", "application/octet-stream")


def thumbnail(path: Path) -> bytes:
    """A JPEG of at most :data:`THUMB_SIZE` pixels a side, from the disk cache or made now and cached."""
    try:
        stat = path.stat()
        key = f"{path.resolve()}\0{stat.st_size}\0{stat.st_mtime_ns}\0{THUMB_SIZE}"
    except OSError:
        key = f"{path}\0{THUMB_SIZE}"  # a tar member: keyed by its name
    digest = hashlib.blake2b(key.encode("utf-8", "surrogateescape"), digest_size=16).hexdigest()
    cached = cache_dir("thumbs", digest[:2], digest + ".jpg")
    if cached.is_file():
        return cached.read_bytes()
    from PIL import ImageOps

    _, image = _open_image(path)
    image.draft("RGB", (THUMB_SIZE, THUMB_SIZE))  # JPEG decodes at 1/2, 1/4, 1/8 scale: far less work
    image = ImageOps.exif_transpose(image).convert("RGB")
    image.thumbnail((THUMB_SIZE, THUMB_SIZE))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=82)
    data = out.getvalue()
    cached.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(cached, data)
    return data


def mask_overlay(sample: Sample, class_index: dict[str, int]) -> bytes:
    """A transparent PNG of the image's size with every RLE mask filled in its class colour."""
    import numpy as np
    from PIL import Image

    masked = [o for o in sample.objects if o.rle is not None]
    if not masked:
        raise KeyError("no masks")
    height, width = (int(v) for v in masked[0].rle["size"])  # type: ignore[index]
    rgba = np.zeros((height, width, 4), dtype=np.uint8)
    for obj in masked:
        pixels = decode(obj.rle).astype(bool)  # type: ignore[arg-type]
        if pixels.shape != (height, width):
            continue
        colour = class_colour(class_index.get(obj.label, 0))
        rgba[pixels] = (int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16), MASK_ALPHA)
    out = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(out, format="PNG")
    return out.getvalue()


#: augmented variants a preview shows at most
MAX_VARIANTS = 8


def augment_preview(
    path: Path, sample: Sample, labels: list[str], preset: str, variants: int = 4, seed: int = 0
) -> bytes:
    """A PNG row of the image and ``variants`` seeded augmentations of it with their annotations, drawn by the
    code of ``cvkit augment --preview`` (a built-in preset only: nothing from a request names a file)."""
    from cvkit.augment.presets import PRESETS

    if preset not in PRESETS:
        raise CvkitError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    if not 1 <= variants <= MAX_VARIANTS:
        raise CvkitError(f"variants must be 1 to {MAX_VARIANTS}")
    try:
        from cvkit.augment.backends import sample_augmenter
        from cvkit.augment.preview import load_rgb, render_sheet
    except ImportError as exc:
        raise CvkitError(
            f"augmentation previews need the augment extra (pip install 'cvkit[augment]'): {exc}"
        ) from None
    image = load_rgb(path)
    augmenter, _ = sample_augmenter(preset, "cpu", seed)
    sheet, _ = render_sheet(
        [(sample, image, augmenter.augment_many(image, sample, variants))], labels, f"preset {preset}, seed {seed}"
    )
    out = io.BytesIO()
    sheet.save(out, format="PNG")
    return out.getvalue()
