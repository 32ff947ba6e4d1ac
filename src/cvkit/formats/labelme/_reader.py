"""Reading LabelMe JSON: one file per image, parsed with orjson, in parallel for large folders.

Per file: the image is found (``imagePath`` relative to the JSON; else the embedded
``imageData``, extracted once into a cache folder; else an image with the JSON's stem),
shapes become annotations, shapes sharing ``label`` and ``group_id`` merge into one
instance, true image flags become image-level labels. Shapes cvkit has no type for come
back as losses (what, why) for the report, counted per type.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import posixpath
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cvkit.core import jsonio
from cvkit.core.geometry import box_corners
from cvkit.core.imageinfo import IMAGE_EXTENSIONS, find_image, header_size
from cvkit.core.masks import decode, encode, polygons_to_rle
from cvkit.core.model import Annotation, Sample
from cvkit.core.shards import chunked, spread_map
from cvkit.core.transport import pack_sample, unpack_sample
from cvkit.core.validate_values import MAX_SIDE
from cvkit.errors import InvalidInputError
from cvkit.io import atomic_write_bytes, cache_dir, read_small_file, relpath_posix

from ._shapes import IGNORE_LABEL, TYPE_OF, shape_to_annotation

#: The arguments of :func:`parse_file` for one file: (file, root, extract_dir, encoding).
LabelmeJob = tuple[str, str, Path, str | None]
#: One parsed file: the sample (None after a file-level error), the shape errors, the losses (what, why).
Parsed = tuple[Sample | None, list[InvalidInputError], list[tuple[str, str]]]

#: Top-level keys with a model field; the rest is kept in Sample.meta["labelme"]["other"].
TOP_KEYS = frozenset(
    ("version", "flags", "shapes", "imagePath", "imageData", "imageHeight", "imageWidth", "attributes")
)
_ROTATED_TYPE = "cvkit has no rotated boxes; read as its 4-corner polygon (LabelMe JSON output keeps the type)"
_MAGIC = (
    (b"\xff\xd8", ".jpg"),
    (b"\x89PNG", ".png"),
    (b"GIF8", ".gif"),
    (b"BM", ".bmp"),
    (b"II*\x00", ".tif"),
    (b"MM\x00*", ".tif"),
)


def default_extract_dir() -> Path:
    """Where embedded images go: ``$CVKIT_CACHE_DIR`` or ``$XDG_CACHE_HOME/cvkit`` (``~/.cache/cvkit``), +
    ``labelme-images``."""
    return cache_dir("labelme-images")


def extract_embedded(data: str, folder: Path, file: Path) -> tuple[Path, bytes]:
    """Write base64 ``imageData`` to ``folder/<sha256>.<ext>`` (once; same bytes, same name). Bytes that do not
    start as an image (JPEG, PNG, GIF, BMP, TIFF, WebP) are an error: text there became a sample's "image"."""
    try:
        raw = base64.b64decode(data)
    except (binascii.Error, ValueError):
        raise InvalidInputError("'imageData' is not valid base64", file=file, location="imageData") from None
    webp = ".webp" if raw[:4] == b"RIFF" and raw[8:12] == b"WEBP" else None
    ext = next((e for magic, e in _MAGIC if raw.startswith(magic)), webp)
    if ext is None:
        raise InvalidInputError(
            f"'imageData' holds no image: its {len(raw)} bytes start {raw[:12]!r}, no JPEG, PNG, "
            "GIF, BMP, TIFF or WebP header",
            file=file,
            location="imageData",
        )
    target = folder / (hashlib.sha256(raw).hexdigest()[:32] + ext)
    if not target.is_file():
        atomic_write_bytes(target, raw)
    return target, raw


def _image_location(data: dict[str, Any], file: str, extract_dir: Path) -> tuple[str, bool]:
    """(image file, whether it came from imageData); plain strings: this runs once per file."""
    recorded = data.get("imagePath")
    folder = os.path.dirname(file)
    candidate = None
    if isinstance(recorded, str) and recorded:
        candidate = os.path.join(folder, recorded.replace("\\", "/"))
        if os.path.splitext(candidate)[1].lower() in IMAGE_EXTENSIONS and os.path.isfile(candidate):
            return candidate, False
    if isinstance(data.get("imageData"), str) and data["imageData"]:
        return str(extract_embedded(data["imageData"], extract_dir, Path(file))[0]), True
    sibling = find_image(Path(folder), Path(file).stem)
    if sibling is not None:
        return str(sibling), False
    return candidate if candidate is not None else os.path.splitext(file)[0] + ".jpg", False


def _relative(path: str, root: str) -> str:
    """``path`` relative to ``root`` with forward slashes (string work: no filesystem calls)."""
    if path.startswith(root + os.sep):
        return posixpath.normpath(path[len(root) + 1 :].replace(os.sep, "/"))
    return relpath_posix(path, root)


def _size(data: dict[str, Any], image: Path) -> tuple[int | None, int | None]:
    """(height, width) of the displayed image: the JSON's, else the image header's (EXIF applied)."""
    height, width = data.get("imageHeight"), data.get("imageWidth")
    if type(height) is int and type(width) is int and 0 < height <= MAX_SIDE and 0 < width <= MAX_SIDE:  # not true
        return height, width
    size = header_size(image)
    return (size[1], size[0]) if size is not None else (None, None)


def load_document(raw: bytes, file: str | Path, encoding: str | None = None) -> Any:
    """The JSON in ``raw``: UTF-8 (a byte order mark is skipped), else decoded with ``encoding`` when given.

    labelme saved JSON in the Windows system encoding until mid-2020 (``open(filename, "w")``
    with ``ensure_ascii=False``, fixed by labelme PR #683), so old files with non-ASCII labels
    are GBK, cp1252, ... Only a file that fails to parse pays for these checks.
    """
    try:
        return jsonio.loads(raw)
    except jsonio.JSONDecodeError as exc:
        error = exc
    body = jsonio.strip_bom(raw)  # offsets below are into the text after a BOM, as jsonio.loads parsed it
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as bad:
        line = body[: bad.start].count(b"\n") + 1
        if encoding is None:
            raise InvalidInputError(
                f"not UTF-8 text (byte 0x{body[bad.start]:02x}); LabelMe saved JSON in the Windows system encoding "
                "until mid-2020: read with -r encoding=gbk (or cp1252, ..., the encoding it was saved in)",
                file=file,
                location=f"line {line}",
            ) from None
        try:
            text = body.decode(encoding)
        except UnicodeDecodeError:
            raise InvalidInputError(f"neither UTF-8 nor {encoding} text", file=file, location=f"line {line}") from None
    else:  # valid UTF-8 text: the JSON itself is broken
        raise InvalidInputError(f"not valid JSON ({error})", file=file, location=jsonio.error_location(error, body))
    try:
        return jsonio.loads(text)
    except jsonio.JSONDecodeError as exc:
        raise InvalidInputError(
            f"not valid JSON ({exc})", file=file, location=jsonio.error_location(exc, text)
        ) from None


def parse_file(file: str, root: str, extract_dir: Path, encoding: str | None = None) -> Parsed:
    """One JSON file as a Sample plus the shape errors and losses found (a file-level error gives no sample)."""
    try:
        data = load_document(read_small_file(file), file, encoding)
    except InvalidInputError as exc:
        return None, [exc], []
    except OSError as exc:
        return None, [InvalidInputError(f"cannot read ({exc.strerror})", file=file)], []
    if not isinstance(data, dict) or not isinstance(data.get("shapes"), list):
        return None, [InvalidInputError("not a LabelMe file: no 'shapes' list", file=file, location="shapes")], []
    try:
        image, embedded = _image_location(data, file, extract_dir)
    except InvalidInputError as exc:
        return None, [exc], []
    height, width = _size(data, Path(image))
    errors: list[InvalidInputError] = []
    losses: list[tuple[str, str]] = []
    objects: list[Annotation] = []
    file_path = Path(file)  # once per file: a Path per shape cost more than the shape itself
    for index, shape in enumerate(data["shapes"]):
        try:
            obj = shape_to_annotation(shape, index, file_path, (height, width))
        except InvalidInputError as exc:
            errors.append(exc)
            continue
        if obj.shape == "polygon" and "shape_type" in obj.meta.get("labelme", ()):
            losses.append((f"LabelMe shape type {obj.meta['labelme']['shape_type']!r}", _ROTATED_TYPE))
        objects.append(obj)
    flags = data.get("flags") or {}
    if not isinstance(flags, dict):
        errors.append(InvalidInputError("'flags' must be an object of name: true/false", file=file, location="flags"))
        flags = {}
    meta: dict[str, Any] = {"file": _relative(file, root)}
    for key, name in (("version", "version"), ("imagePath", "imagePath")):
        if data.get(key) is not None:
            meta[name] = data[key]
    if flags:
        meta["flags"] = flags
    if embedded:
        meta["embedded"] = True
    other = {k: v for k, v in data.items() if k not in TOP_KEYS}
    if other:
        meta["other"] = other
    path = image if embedded else _relative(image, root)
    sample = Sample(
        path,
        width,
        height,
        labels=[k for k, v in flags.items() if v is True and k != IGNORE_LABEL],
        objects=merge_groups(objects, height, width),
        meta={"labelme": meta},
    )
    if isinstance(data.get("attributes"), dict):
        sample.attributes = dict(data["attributes"])
    return sample, errors, losses


def parse_chunk(
    _context: None, jobs: list[LabelmeJob]
) -> list[tuple[tuple[Any, ...] | None, list[InvalidInputError], list[tuple[str, str]]]]:
    """Worker entry point: several files per task, samples packed as tuples
    (:mod:`cvkit.core.transport`) so inter-process traffic stays cheap."""
    out = []
    for job in jobs:
        sample, errors, losses = parse_file(*job)
        out.append((pack_sample(sample) if sample is not None else None, errors, losses))
    return out


def parsed(jobs: list[LabelmeJob], workers: int, parallel_min: int) -> Iterator[Parsed]:
    """Results in input order, on ``workers`` processes when there are at least ``parallel_min`` files."""
    if workers <= 1 or len(jobs) < parallel_min:
        for job in jobs:
            yield parse_file(*job)
        return
    chunks = chunked(jobs, workers, smallest=32, largest=256)
    for results in spread_map(parse_chunk, None, chunks, workers, parallel_min, len(jobs)):
        for packed, errors, losses in results:
            yield (unpack_sample(packed) if packed is not None else None), errors, losses


# --- group_id: parts of one instance --------------------------------------------------
def _part_record(obj: Annotation) -> dict[str, Any]:
    """What a merged part needs to be written back as the shape it was."""
    meta = obj.meta.get("labelme", {})
    if obj.shape == "polygon":
        flat = obj.polygon[0]  # type: ignore[index]
        points: list[list[float]] = [[flat[i], flat[i + 1]] for i in range(0, len(flat), 2)]
    elif obj.shape == "box":
        x, y, w, h = obj.bbox  # type: ignore[misc]
        points = meta.get("points") or [[x, y], [x + w, y + h]]
    else:
        points = meta["points"]
    record: dict[str, Any] = {"shape_type": meta.get("shape_type") or TYPE_OF[obj.shape], "points": points}
    if obj.attributes:
        record["attributes"] = obj.attributes
    if meta.get("other"):
        record["other"] = meta["other"]
    return record


def _merge(parts: list[Annotation], height: int | None, width: int | None) -> Annotation:
    """Parts of one instance as one annotation: a multi-part polygon, or a mask when any part is a mask."""
    first = parts[0]
    attributes: dict[str, Any] = {}
    for part in parts:
        for key, value in part.attributes.items():
            attributes.setdefault(key, value)
    obj = Annotation(
        first.label, group=first.group, iscrowd=any(p.iscrowd for p in parts), score=first.score, attributes=attributes
    )
    if any(p.shape == "mask" for p in parts) and height and width:
        import numpy as np

        union = np.zeros((height, width), dtype=bool)
        for part in parts:
            rle = (
                part.rle
                if part.rle is not None
                else polygons_to_rle(part.polygon or [box_corners(part.bbox)], height, width)
            )
            union |= decode(rle).astype(bool)
        obj.shape, obj.rle = "mask", encode(union)
    else:
        obj.shape = "polygon"
        obj.polygon = [poly for p in parts for poly in (p.polygon or [box_corners(p.bbox)])]
    obj.ensure_bbox()
    obj.meta["labelme"] = {"parts": [_part_record(p) for p in parts]}
    return obj


def merge_groups(objects: list[Annotation], height: int | None, width: int | None) -> list[Annotation]:
    """Region shapes with the same label and group_id become one annotation (labelme's own rule
    in ``shapes_to_label``: an instance is the pair (label, group_id)); other shapes keep ``group``."""
    members: dict[tuple[str, int], list[int]] = {}
    for i, obj in enumerate(objects):
        if obj.group is not None and obj.shape in ("polygon", "box", "mask"):
            members.setdefault((obj.label, obj.group), []).append(i)
    if all(len(m) < 2 for m in members.values()):
        return objects
    out: list[Annotation] = []
    for i, obj in enumerate(objects):
        indices = (
            members.get((obj.label, obj.group))
            if obj.group is not None and obj.shape in ("polygon", "box", "mask")
            else None
        )  # type: ignore[arg-type]
        if indices is None or len(indices) < 2:
            out.append(obj)
        elif indices[0] == i:
            out.append(_merge([objects[j] for j in indices], height, width))
    return out
