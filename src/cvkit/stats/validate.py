"""``cvkit validate``: find what breaks training or evaluation, with counts and examples.

Every finding belongs to one check of :data:`cvkit.stats.findings.CHECKS`; its severity decides the exit code
(1 when any *error* is found). Warnings are legal but usually unintended (docs/stats.md).
Inputs are only read; :func:`cvkit.stats.fix.write_fixed` writes a cleaned manifest elsewhere.
"""

from __future__ import annotations

import hashlib
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

from cvkit.api import read
from cvkit.core import validate_values
from cvkit.core.executor import default_workers
from cvkit.core.imageinfo import ImageInfo, read_image_info
from cvkit.core.model import Dataset, Sample
from cvkit.core.progress import track
from cvkit.core.report import Report
from cvkit.core.shards import PARALLEL_MIN_SAMPLES, spread_map
from cvkit.errors import InvalidInputError
from cvkit.manifest import header_to_dataset_parts, iter_samples, read_header
from cvkit.stats.findings import BOUNDS_TOLERANCE, ValidationResult, value_problem
from cvkit.stats.fix import write_fixed


# --- reading ---------------------------------------------------------------------------
def read_for_validation(path: str | Path, format: str | None, report: Report, **options: Any) -> Dataset:
    """The dataset, materialized; a manifest is read leniently so unknown labels become findings, not skipped
    records."""
    from cvkit.stats.sources import MANIFEST_FORMATS, resolve_format

    path = Path(path)
    format = resolve_format(path, format)
    if format in MANIFEST_FORMATS and not options:
        header = read_header(path)
        categories, hierarchy = header_to_dataset_parts(header)
        samples = []
        for number, sample in iter_samples(path, categories, report, check_labels=False, check_values=False):
            sample.meta.setdefault("_cvkit_line", number)
            samples.append(sample)
        source = (header.get("source") or {}).get("format")
        return Dataset(
            samples, categories, hierarchy, root=path.parent, source_format=source, info=header.get("info") or {}
        )
    return read(path, format, report=report, **options).materialize()


# --- checks ----------------------------------------------------------------------------
def _where(sample: Sample, index: int) -> str | None:
    line = sample.meta.get("_cvkit_line")
    return f"line {line}" if line else f"image #{index + 1}"


def check_image_file(path: Path, deep: bool) -> tuple[ImageInfo | None, str | None, str | None]:
    """``(info, check, message)``: header facts, or the failing check and why."""
    if not path.is_file():
        return None, "missing_image", f"image file not found: {path}"
    try:
        info = read_image_info(path)
    except InvalidInputError as exc:
        return None, "unreadable_image", exc.message
    if deep:
        try:
            from cvkit.core.limits import open_image

            with open_image(path) as img:  # the pixel limit (cvkit.core.limits) before decoding
                img.load()
        except Exception as exc:  # Pillow raises many types for corrupt data
            return info, "unreadable_image", f"pixels cannot be decoded ({exc.__class__.__name__}: {exc})"
    return info, None, None


def _check_run(deep: bool, paths: list[str]) -> list[tuple[ImageInfo | None, str | None, str | None]]:
    """Worker side: :func:`check_image_file` of each path."""
    return [check_image_file(Path(path), deep) for path in paths]


#: images per executor task of the image checks
CHECK_RUN_FILES = 256


def check_image_files(paths: list[Path], deep: bool) -> list[tuple[ImageInfo | None, str | None, str | None]]:
    """:func:`check_image_file` of every path, in order, on the executor (``--engine``; local processes for a large
    dataset): decoding every image (``--deep``) is the whole cost of a validation."""
    runs = [[str(path) for path in paths[i : i + CHECK_RUN_FILES]] for i in range(0, len(paths), CHECK_RUN_FILES)]
    what = "decoding images" if deep else "reading image headers"
    checked = spread_map(_check_run, deep, runs, default_workers(None), PARALLEL_MIN_SAMPLES, len(paths), what)
    return [check for run in checked for check in run]


def check_objects(
    sample: Sample,
    index: int,
    dataset: Dataset,
    width: float | None,
    height: float | None,
    seen_ids: dict[Any, str],
    result: ValidationResult,
) -> None:
    """Box, polygon, category and id checks of one image's annotations."""
    where = _where(sample, index)
    for k, obj in enumerate(sample.objects):
        loc = f"{where}, object {k + 1}"
        if (
            obj.label not in dataset.categories and not obj.iscrowd
        ):  # crowd/ignore regions (LabelMe's __ignore__) need no category
            result.add("unknown_category", sample.path, f"object label {obj.label!r} is not a category", loc)
        if obj.id is not None:
            key = (sample.split, obj.id)
            first = seen_ids.get(key)
            if first is not None:
                result.add(
                    "duplicate_annotation_id", sample.path, f"annotation id {obj.id} is also used in {first}", loc
                )
            else:
                seen_ids[key] = sample.path
        if obj.polygon is not None:
            short = [p for p in obj.polygon if len(p) < 6 or len(p) % 2] or ([[]] if not obj.polygon else [])
            if short:
                result.add(
                    "polygon_too_few_points", sample.path, f"polygon part with {len(short[0]) / 2:g} points", loc
                )
        problem = value_problem(obj, width, height)
        if problem is not None:
            result.add("invalid_value", sample.path, problem, loc)
        box = obj.bbox
        if box is None:
            continue
        if not isinstance(box, list | tuple) or len(box) != 4:
            result.add("invalid_value", sample.path, f"box must be 4 numbers [x, y, width, height], got {box!r}", loc)
            continue
        if not all(validate_values.is_number(v) and math.isfinite(v) for v in box):
            result.add("box_not_finite", sample.path, f"box {list(box)} has a non-finite coordinate", loc)
            continue
        x, y, w, h = box
        if w <= 0 or h <= 0:
            result.add("box_empty", sample.path, f"box {list(box)} has width {w:g} and height {h:g}", loc)
            continue
        if width and height:
            tol = BOUNDS_TOLERANCE
            if x < -tol or y < -tol or x + w > width + tol or y + h > height + tol:
                result.add(
                    "box_out_of_bounds",
                    sample.path,
                    f"box x1,y1,x2,y2 = {x:g},{y:g},{x + w:g},{y + h:g} outside the {width:g}x{height:g} image",
                    loc,
                )
    for label in sample.labels:
        if label not in dataset.categories:
            result.add("unknown_category", sample.path, f"image label {label!r} is not a category", where)


def file_digest(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def check_duplicates(files: dict[Path, list[int]], samples: list[Sample], result: ValidationResult) -> None:
    """Same file listed twice or identical content: leakage across splits (error), repeats within one (warning).

    Only files sharing a byte size are hashed, so a dataset without duplicates costs one ``stat`` per file.
    """
    by_size: dict[int, list[Path]] = defaultdict(list)
    for path in files:
        try:
            by_size[path.stat().st_size].append(path)
        except OSError:
            continue
    groups: list[list[int]] = [indices for indices in files.values() if len(indices) > 1]
    candidates = [paths for paths in by_size.values() if len(paths) > 1]
    for paths in track(candidates, "hashing same-size images"):
        by_hash: dict[str, list[Path]] = defaultdict(list)
        for path in paths:
            by_hash[file_digest(path)].append(path)
        for same in by_hash.values():
            if len(same) > 1:
                groups.append([i for p in same for i in files[p]])
    for indices in groups:
        names = sorted({samples[i].path for i in indices})
        splits = sorted({samples[i].split or "-" for i in indices})
        what = "the same file" if len(names) == 1 else "identical content"
        listing = ", ".join(names[:4]) + (" ..." if len(names) > 4 else "")
        if len(splits) > 1:
            result.add(
                "split_leakage", names[0], f"{what} in splits {', '.join(splits)}: {listing}", images=tuple(names)
            )
        else:
            result.add(
                "duplicate_image",
                names[0],
                f"{what} listed {len(indices)} times in split {splits[0]}: {listing}",
                images=tuple(names),
            )


def validate_loaded(
    dataset: Dataset, report: Report, check_images: bool = True, deep: bool = False, examples: int = 5
) -> ValidationResult:
    """Run every check over a materialized dataset (``report.skipped`` become ``invalid_record``)."""
    result = ValidationResult(images_checked=check_images, deep=deep, examples=examples)
    for skipped in report.skipped:
        result.add("invalid_record", None, skipped.reason, skipped.location)
    samples = dataset.samples
    result.images = len(samples)
    result.objects = sum(len(s.objects) for s in samples)
    seen_ids: dict[Any, str] = {}
    files: dict[Path, list[int]] = defaultdict(list)
    paths = [sample.resolve(dataset.root) for sample in samples] if check_images else []
    checks = check_image_files(paths, deep) if check_images else []
    for index, sample in enumerate(track(samples, "validating", total=len(samples))):
        where = _where(sample, index)
        width, height = sample.width, sample.height
        try:
            validate_values.image_size(width, height, None, None)
        except InvalidInputError as exc:
            result.add("invalid_value", sample.path, f"declared {exc.message}", where)
            result.image_facts.setdefault(index, {})["size"] = None  # --fix: the real size when known, else unknown
            width = height = None
        if check_images:
            path = paths[index]
            info, check, message = checks[index]
            if check:
                result.add(check, sample.path, message or check, where)
                result.image_facts[index] = {"broken": True}
            else:
                files[path.resolve()].append(index)
            if info is not None:
                real = (info.width, info.height)
                if result.image_facts.get(index, {}).get("size", ()) is None:
                    result.image_facts[index]["size"] = real
                if width and height and (width, height) != real:
                    note = ""
                    if info.orientation in (5, 6, 7, 8) and (width, height) == (info.stored_width, info.stored_height):
                        note = f" (the stored size: EXIF orientation {info.orientation} was ignored)"
                    result.add(
                        "size_mismatch",
                        sample.path,
                        f"declared {width}x{height}, image is {real[0]}x{real[1]}{note}",
                        where,
                    )
                    result.image_facts.setdefault(index, {})["size"] = real
                if info.orientation != 1:
                    result.add(
                        "exif_rotated",
                        sample.path,
                        f"EXIF orientation {info.orientation}: stored {info.stored_width}x{info.stored_height}, "
                        f"displayed {info.width}x{info.height}",
                        where,
                    )
                width, height = real
                result.image_facts.setdefault(index, {}).setdefault("real_size", real)
        check_objects(sample, index, dataset, width, height, seen_ids, result)
        if not sample.objects and not sample.labels:
            result.add("image_without_annotations", sample.path, "no objects and no image labels", where)
    if check_images:
        check_duplicates(files, samples, result)
    return result


def validate_dataset(
    path: str | Path,
    format: str | None = None,
    check_images: bool = True,
    deep: bool = False,
    examples: int = 5,
    fix_output: str | Path | None = None,
    overwrite: bool = False,
    **read_options: Any,
) -> ValidationResult:
    """Validate a dataset in any format; with ``fix_output`` also write a cleaned manifest there."""
    report = Report(skip_invalid=True)
    dataset = read_for_validation(path, format, report, **read_options)
    result = validate_loaded(dataset, report, check_images, deep, examples)
    if fix_output is not None:
        result.fix = write_fixed(dataset, result, Path(path), Path(fix_output), overwrite)
    return result
