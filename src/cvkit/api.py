"""The library API behind every command: detect, read, write, convert.

Everything the CLI does is callable from here::

    import cvkit
    ds = cvkit.read("VOCdevkit/VOC2012", format="voc")
    report = cvkit.write(ds, "out/coco.json", format="coco")
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from types import ModuleType
from typing import Any

from cvkit.core.model import Dataset
from cvkit.core.paths import check_apart, check_not_over, image_sources
from cvkit.core.report import Report
from cvkit.errors import CvkitError, DestinationExistsError, FormatDetectionError
from cvkit.formats import FormatSpec, all_formats, get_format
from cvkit.formats.imagenet.common import find_synset_file
from cvkit.hierarchy.load import IS_A_NAMES
from cvkit.io import (
    atomic_dir,
    atomic_write_text,
    cache_dir,
    cached_listings,
    exclusive,
    extraction_folder,
    files_in,
    folders_in,
    require_regular,
)
from cvkit.storage import staged

ROLE_NOUN = {"read": "reader", "write": "writer"}


def format_options(module: ModuleType, role: str) -> list[str] | None:
    """The option names (``-r``/``-w KEY=VALUE``) a format's reader or writer takes: the module's
    ``READ_OPTIONS``/``WRITE_OPTIONS`` when declared, else the keyword parameters of its read/write function;
    None when that function takes any ``**options`` undeclared."""
    declared = getattr(module, f"{role.upper()}_OPTIONS", None)
    if declared is not None:
        return list(declared)
    skip = 2 if role == "read" else 3  # (path, report) / (dataset, path, report)
    params = list(inspect.signature(getattr(module, role)).parameters.values())[skip:]
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return None
    return [p.name for p in params]


def check_options(module: ModuleType, role: str, format_name: str, options: dict[str, Any]) -> None:
    """Refuse reader/writer options a format does not know, listing the ones it does.

    Known options are the module's ``READ_OPTIONS``/``WRITE_OPTIONS`` when declared (for
    functions taking ``**options``), else the keyword parameters of its read/write function.
    """
    if not options:
        return
    declared = format_options(module, role)
    if declared is None:
        return
    unknown = sorted(set(options) - set(declared))
    if unknown:
        known = ", ".join(declared) or "none"
        raise CvkitError(f"unknown {format_name} {ROLE_NOUN[role]} option(s) {', '.join(unknown)}; known: {known}")


def detect_format(path: str | Path) -> str:
    """Name of the one readable format ``path`` looks like.

    Raises :class:`FormatDetectionError` that explains itself: nothing matched (what
    was looked for) or several did (why each matched), so the user can pass ``--from``.
    """
    path = Path(path)
    if not path.exists():
        raise FormatDetectionError("input not found", file=path)
    matches = _detections(path)
    if len(matches) == 1:
        return matches[0][0]
    if not matches:
        raise FormatDetectionError(
            f"could not detect the format; pass --from (see `cvkit formats`){_not_a_dataset_hint(path)}", file=path
        )
    listing = "; ".join(f"{name}: {why}" for name, why in matches)
    raise FormatDetectionError(f"ambiguous format, it could be {listing}; pass --from to choose", file=path)


def _detections(path: Path) -> list[tuple[str, str]]:
    """(format, why) for every readable format whose detector claims ``path``."""
    matches: list[tuple[str, str]] = []
    with cached_listings():  # detectors list the same folders: once each
        for spec in all_formats():
            if spec.can_read:
                reason = spec.load().detect(path)
                if reason:
                    matches.append((spec.name, reason))
    refined = {
        get_format(name).refines for name, _ in matches
    }  # LVIS detects as COCO too: the specialised one is meant
    return [(name, why) for name, why in matches if name not in refined]


#: sub-folders an undetected folder's hint looks into (a folder of several datasets)
HINT_SUBFOLDERS = 16


def _not_a_dataset_hint(path: Path) -> str:
    """What an undetected folder holds: class metadata rather than a dataset, or several datasets in sub-folders."""
    if not path.is_dir():
        return ""

    if any((path / name).is_file() for name in IS_A_NAMES):
        return (
            "; it looks like a class hierarchy (is_a.txt), which --hierarchy of cvkit ingest, remap and hierarchy "
            "show reads"
        )
    synsets = find_synset_file(path) or next(iter(files_in(path, "synsets.txt", limit=1)), None)
    if synsets is not None:
        return (
            f"; it holds class lists ({synsets.name}) but no images or annotations: pass it to the imagenet or "
            "labels reader as -r synsets=FILE"
        )
    subfolders = sorted(path / name for name in folders_in(path) if not name.startswith("."))[:HINT_SUBFOLDERS]
    found = [
        f"{sub.name}/ ({', '.join(name for name, _ in matches)})" for sub in subfolders if (matches := _detections(sub))
    ]
    return f"; its sub-folders hold datasets of their own: {', '.join(found)}: convert each one" if found else ""


def read(
    path: str | Path,
    format: str | None = None,
    report: Report | None = None,
    skip_invalid: bool = False,
    **options: Any,
) -> Dataset:
    """Read a dataset in any registered format (auto-detected when ``format`` is None)."""
    path = Path(path)
    if not path.exists():
        raise CvkitError("input not found", file=path)
    if not path.is_dir():
        require_regular(path)  # a FIFO or a device given as the input: refused, not waited on
    spec = get_format(format or detect_format(path))
    if not spec.can_read:
        raise CvkitError(f"format {spec.name!r} can only be written")
    report = report if report is not None else Report(skip_invalid=skip_invalid)
    module = spec.load()
    check_options(module, "read", spec.name, options)
    dataset = module.read(path, report, **options)
    dataset.source_format = dataset.source_format or spec.name
    report.source_format = spec.name
    return dataset


def writes_single_file(spec: FormatSpec, path: Path) -> bool:
    """A destination with one of the format's file suffixes is a file; anything else a folder."""
    return path.suffix.lower() in spec.file_suffixes


def write(
    dataset: Dataset,
    path: str | Path,
    format: str,
    report: Report | None = None,
    overwrite: bool = False,
    allow_outside_root: bool = False,
    source: str | Path | None = None,
    **options: Any,
) -> Report:
    """Write ``dataset`` atomically: nothing appears at ``path`` unless the write completes.

    Never over the dataset's image folder (:func:`cvkit.core.paths.check_not_over`); only image files are copied or
    linked, and, given the ``source`` it was read from (as ``convert`` gives it), only those in the dataset's root,
    the ``source`` folder or cvkit's cache (extracted images) unless ``allow_outside_root``
    (:func:`cvkit.core.paths.image_sources`). Two runs writing one ``path`` at once: the second fails."""
    path = Path(path)
    spec = get_format(format)
    if not spec.can_write:
        raise CvkitError(f"format {spec.name!r} can only be read")
    report = report if report is not None else Report()
    report.target_format = spec.name
    module = spec.load()
    check_options(module, "write", spec.name, options)
    check_not_over(path, dataset.root)
    roots = [dataset.root, source_folder(source), cache_dir()] if source is not None else []
    with image_sources(roots, allow_outside_root):
        if writes_single_file(spec, path):
            if path.exists() and not overwrite:
                raise DestinationExistsError("destination exists; pass --overwrite to replace it", file=path)
            if path.is_dir():
                raise CvkitError("destination is a folder but a file was asked for", file=path)
            with exclusive(path, overwrite):
                module.write(dataset, path, report, **options)
        else:
            with atomic_dir(path, overwrite=overwrite) as tmp:
                module.write(dataset, tmp, report, **options)
    return report


def source_folder(source: str | Path) -> Path:
    """The folder a source's images may lie in: the source itself when a folder, else the folder holding it."""
    source = Path(source)
    return source if source.is_dir() else source.parent


def write_skipped(report: Report, output: str | Path) -> Path | None:
    """Write ``<output>.skipped.jsonl`` when items were skipped (``--skip-invalid``); returns its path. A report left
    by an earlier run into ``output`` is removed when nothing was skipped now: it belongs to the output it came with."""
    path = Path(str(output).rstrip("/") + ".skipped.jsonl")
    if not report.skipped:
        if path.is_file() or path.is_symlink():
            path.unlink()
        return None
    atomic_write_text(path, report.skipped_jsonl())
    return path


def images_dir_beside(dst: str | Path) -> Path:
    """Where a reader that extracts pixels (CIFAR) puts its images: ``<dst stem>_images/`` beside ``dst``."""
    dst = Path(dst)
    return dst.parent / f"{dst.stem if dst.suffix else dst.name}_images"


def convert(
    src: str | Path,
    dst: str | Path,
    to_format: str,
    from_format: str | None = None,
    overwrite: bool = False,
    skip_invalid: bool = False,
    read_options: dict[str, Any] | None = None,
    write_options: dict[str, Any] | None = None,
    transform: Callable[[Dataset], Dataset] | None = None,
    allow_outside_root: bool = False,
) -> Report:
    """Read ``src`` and write it to ``dst``; returns the report (the CLI's summary).

    With ``skip_invalid`` bad items are left out and listed in ``<dst>.skipped.jsonl`` (a stale one from an earlier
    run is removed). ``transform`` (e.g. attaching a hierarchy) is applied to the dataset between read and write.
    Readers that hold pixels rather than image files (``EXTRACTS_IMAGES``, e.g. CIFAR) write
    them to ``images_dir`` (a read option), by default :func:`images_dir_beside` ``dst``, which a failed run removes
    again. ``dst`` may not be ``src``, lie inside it or hold it (:func:`cvkit.core.paths.check_apart`).

    ``src`` and ``dst`` may be URLs (``s3://bucket/voc``): staged through a local folder by :mod:`cvkit.storage`,
    with ``storage.KEY`` read/write options passed to fsspec.
    """
    with staged(
        src,
        dst,
        overwrite=overwrite,
        read_options=read_options,
        write_options=write_options,
        manifest_output=get_format(to_format).name in ("manifest", "parquet"),
    ) as run:
        report = _convert_local(
            run.src,
            run.dst,
            to_format,
            from_format,
            overwrite,
            skip_invalid,
            run.read_options,
            run.write_options,
            transform,
            allow_outside_root,
        )
        run.name_urls(report)
        return report


def _convert_local(
    src: str | Path,
    dst: str | Path,
    to_format: str,
    from_format: str | None,
    overwrite: bool,
    skip_invalid: bool,
    read_options: dict[str, Any] | None,
    write_options: dict[str, Any] | None,
    transform: Callable[[Dataset], Dataset] | None,
    allow_outside_root: bool,
) -> Report:
    """:func:`convert` between local paths."""
    report = Report(skip_invalid=skip_invalid)
    dst = Path(dst)
    write_target = get_format(to_format)  # unknown names fail before any reading
    # refuse an occupied destination before reading anything, so a long read is not wasted
    occupied = dst.exists() and (writes_single_file(write_target, dst) or (dst.is_dir() and any(dst.iterdir())))
    if occupied and not overwrite:
        raise DestinationExistsError("destination exists and is not empty; pass --overwrite to replace it", file=dst)
    read_options = dict(read_options or {})
    from_format = from_format or detect_format(src)
    check_apart(dst, [src])
    extracted: Path | None = None
    if getattr(get_format(from_format).load(), "EXTRACTS_IMAGES", False) and "images_dir" not in read_options:
        extracted = read_options["images_dir"] = images_dir_beside(dst)
        check_apart(extracted, [src], "source")
    with extraction_folder(extracted, overwrite) if extracted is not None else nullcontext():
        dataset = read(src, from_format, report=report, **read_options)
        if transform is not None:
            dataset = transform(dataset)
        write(
            dataset,
            dst,
            to_format,
            report=report,
            overwrite=overwrite,
            allow_outside_root=allow_outside_root,
            source=src,
            **(write_options or {}),
        )
    report.read.categories = max(report.read.categories, len(dataset.categories))
    write_skipped(report, dst)
    return report
