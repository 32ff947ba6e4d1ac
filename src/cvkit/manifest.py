"""The cvkit manifest (v1): JSON Lines, one header record, then one record per image.

This is the contract between ingest, stats, augment and train; docs/manifest.md
describes it and ``cvkit/schemas/manifest-v1.schema.json`` is its JSON Schema.
Reading streams: only the header is held; records are parsed one line at a time.
Image paths are written relative to the manifest's folder so the pair can move.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from pathlib import Path
from typing import IO, Any

from cvkit.core import jsonio, validate_values
from cvkit.core.categories import Category, CategorySet, Hierarchy
from cvkit.core.model import Annotation, Dataset, Sample, Shard
from cvkit.core.report import Report
from cvkit.core.shards import Pipeline
from cvkit.errors import CvkitError, InvalidInputError
from cvkit.io import atomic_file, open_regular
from cvkit.manifest_parquet import (
    iter_parquet_records,
    iter_row_group_records,
    read_parquet_header,
    row_group_sizes,
    write_rows,
)

SCHEMA_NAME = "cvkit.manifest"
SCHEMA_VERSION = 1
SCHEMA_PATH = Path(__file__).parent / "schemas" / "manifest-v1.schema.json"
#: manifest file names that mean Parquet when written (reading tells the two apart by the file's first bytes)
PARQUET_SUFFIXES = (".parquet", ".pq")
#: the bytes a Parquet file starts with
PARQUET_MAGIC = b"PAR1"
#: what a manifest file's name may end in
MANIFEST_SUFFIXES = (".jsonl", *PARQUET_SUFFIXES)


# --- record <-> model ---------------------------------------------------------------
def object_to_record(obj: Annotation) -> dict[str, Any]:
    rec: dict[str, Any] = {"label": obj.label}
    if obj.bbox is not None:
        rec["bbox"] = list(obj.bbox)
    if obj.shape != "box":
        rec["shape"] = obj.shape
    for key in ("polygon", "rle", "keypoints", "points", "score", "id", "group"):
        value = getattr(obj, key)
        if value is not None:
            rec[key] = value
    if obj.iscrowd:
        rec["iscrowd"] = True
    if obj.attributes:
        rec["attributes"] = obj.attributes
    if obj.meta:
        rec["meta"] = obj.meta
    return rec


def sample_to_record(sample: Sample, image_path: str) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "image": image_path,
        "width": sample.width,
        "height": sample.height,
        "split": sample.split,
        "labels": sample.labels,
        "objects": [object_to_record(o) for o in sample.objects],
    }
    if sample.id is not None:
        rec["id"] = sample.id
    if sample.attributes:
        rec["attributes"] = sample.attributes
    if sample.meta:
        rec["meta"] = sample.meta
    return rec


def record_to_object(rec: dict[str, Any]) -> Annotation:
    bbox = rec.get("bbox")
    return Annotation(
        label=rec["label"],
        bbox=tuple(bbox) if bbox is not None else None,  # type: ignore[arg-type]
        shape=rec.get("shape", "box"),
        polygon=rec.get("polygon"),
        rle=rec.get("rle"),
        keypoints=rec.get("keypoints"),
        points=rec.get("points"),
        iscrowd=bool(rec.get("iscrowd", False)),
        score=rec.get("score"),
        id=rec.get("id"),
        group=rec.get("group"),
        attributes=rec.get("attributes") or {},
        meta=rec.get("meta") or {},
    )


def record_to_sample(rec: dict[str, Any]) -> Sample:
    return Sample(
        path=rec["image"],
        width=rec.get("width"),
        height=rec.get("height"),
        split=rec.get("split"),
        labels=list(rec.get("labels") or []),
        objects=[record_to_object(o) for o in rec.get("objects") or []],
        id=rec.get("id"),
        attributes=rec.get("attributes") or {},
        meta=rec.get("meta") or {},
    )


def make_header(dataset: Dataset) -> dict[str, Any]:
    """The header record: categories (with parents), the rest of the hierarchy, source facts."""
    hierarchy = dataset.hierarchy
    categories = []
    for cat in dataset.categories:
        entry: dict[str, Any] = {"id": cat.id, "name": cat.name, "parents": hierarchy.parents(cat.name)}
        if cat.display_name:
            entry["display_name"] = cat.display_name
        if cat.attributes:
            entry["attributes"] = cat.attributes
        categories.append(entry)
    header: dict[str, Any] = {
        "type": "header",
        "schema": SCHEMA_NAME,
        "version": SCHEMA_VERSION,
        "source": {"format": dataset.source_format},
        "categories": categories,
    }
    if len(hierarchy):
        header["hierarchy"] = hierarchy.to_records()
    if dataset.info:
        header["info"] = dataset.info
    return header


# --- writing --------------------------------------------------------------------------
def check_manifest_name(path: Path, what: str = "manifest") -> None:
    """Raise unless ``path`` names a manifest file (JSON Lines or Parquet, by its suffix)."""
    if path.suffix.lower() not in MANIFEST_SUFFIXES:
        raise CvkitError(f"the {what} must end in .jsonl (JSON Lines) or .parquet", file=path)


def _relocator(root: Path | None, out_dir: Path) -> Callable[[str], str]:
    """Image path relative to the dataset root -> relative to the manifest's folder.

    Same result as ``relpath(root / image, out_dir)``, but the root's relative form is
    computed once: a 1.28M-image ImageNet ingest spent most of its time in ``relpath``.
    """
    if root is None:
        return lambda image: image
    rel_root = Path(os.path.relpath(root, out_dir)).as_posix()
    prefix = "" if rel_root == "." else rel_root + "/"

    isabs = (lambda p: p.startswith("/")) if os.name == "posix" else os.path.isabs

    def relocate(image: str) -> str:
        if isabs(image):
            return image
        if image.startswith(".") or "/." in image or "//" in image or image.endswith("/") or "\\" in image:
            return Path(os.path.relpath(root / image, out_dir)).as_posix()
        return prefix + image

    return relocate


class ManifestEncoder:
    """The sample-alone half of a manifest write: the relocated record, as a JSON line or (Parquet, or in this
    process) the record itself. Picklable: a worker builds its own relocating function."""

    def __init__(self, root: Path | None, out_dir: Path, json_line: bool):
        self.root, self.out_dir, self.json_line = root, out_dir, json_line
        self.relocate = _relocator(root, out_dir)

    def __getstate__(self) -> tuple[Path | None, Path, bool]:
        return self.root, self.out_dir, self.json_line

    def __setstate__(self, state: tuple[Path | None, Path, bool]) -> None:
        self.__init__(*state)  # type: ignore[misc]


def encode_record(encoder: ManifestEncoder, sample: Sample) -> tuple[str | None, int, Any]:
    """The sample's split, object count and record (runs where the shard is read)."""
    record = sample_to_record(sample, encoder.relocate(sample.path))
    return sample.split, len(sample.objects), jsonio.dumps_line(record) if encoder.json_line else record


def _spool(out_dir: Path, path: Path) -> IO[bytes]:
    """An anonymous temporary file next to the manifest ``path``; a read-only or full file system is reported as
    ``path`` not being writable."""
    try:
        return tempfile.TemporaryFile(dir=out_dir)
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror, str(path)) from None


def write_manifest(
    dataset: Dataset, path: str | Path, report: Report | None = None, workers: int | None = None
) -> Path:
    """Write ``dataset`` as a manifest at ``path`` atomically, streaming its samples: Parquet when ``path`` ends
    in ``.parquet`` (:mod:`cvkit.manifest_parquet`), else JSON Lines. ``workers``: processes that read a sharded
    source and encode its records (:class:`~cvkit.core.shards.Pipeline`); the file is written here, in order.

    Records go to a temporary file first because streaming readers discover
    categories as they go and the header (written first) must list them all.
    """
    path = Path(path)
    report = report if report is not None else Report()
    out_dir = path.parent.resolve()
    root = dataset.root.resolve() if dataset.root is not None else None
    out_dir.mkdir(parents=True, exist_ok=True)
    parquet = path.suffix.lower() in PARQUET_SUFFIXES
    pipeline = Pipeline(dataset, report, workers)
    # in this process the records stay dicts, dumped as they are written: a run of JSON lines held until it is
    # placed costs orjson's fresh buffers (docs/benchmarks.md, "Measured choices")
    json_here = not parquet and pipeline.in_process
    encoder = ManifestEncoder(root, out_dir, json_line=not parquet and not json_here)

    def records() -> Iterator[Any]:
        for split, objects, record in pipeline.samples(encode_record, encoder, "writing the manifest"):
            report.count_written(split, objects)
            yield jsonio.dumps_line(record) if json_here else record

    try:
        if parquet:
            with atomic_file(path, "wb", encoding=None) as handle:
                write_rows(records(), lambda: make_header(dataset), handle, path)
        else:
            with _spool(out_dir, path) as body:
                body.writelines(records())
                body.seek(0)
                with atomic_file(path, "wb", encoding=None) as handle:
                    handle.write(jsonio.dumps_line(make_header(dataset)))
                    shutil.copyfileobj(body, handle, 1 << 20)
    except OSError as exc:  # a full disk under the records: the manifest is what could not be written
        exc.filename = str(path) if exc.filename is None else exc.filename
        raise
    report.written.categories = len(dataset.categories)
    return path


# --- reading --------------------------------------------------------------------------
def read_header(path: str | Path) -> dict[str, Any]:
    """The header of a JSON Lines or Parquet manifest (told apart by the file's first bytes); raises naming the
    file when it is not a manifest."""
    path = Path(path)
    try:
        with open_regular(path) as handle:
            magic = handle.read(len(PARQUET_MAGIC))
            first = b"" if magic == PARQUET_MAGIC else magic + handle.readline()  # (a Parquet file may have no newline)
    except FileNotFoundError:
        raise InvalidInputError("manifest not found", file=path) from None
    if magic == PARQUET_MAGIC:
        return check_header(read_parquet_header(path), path, location="metadata")
    try:
        header = jsonio.loads(first)
    except jsonio.JSONDecodeError as exc:
        raise InvalidInputError(f"header is not valid JSON ({exc})", file=path, location="line 1") from None
    return check_header(header, path, location="line 1")


def check_header(header: Any, path: Path, location: str) -> dict[str, Any]:
    """``header`` when it is a manifest header of this version; else an InvalidInputError naming ``location``."""
    if not isinstance(header, dict) or header.get("schema") != SCHEMA_NAME:
        message = f"not a cvkit manifest: {location} must be a header with schema {SCHEMA_NAME!r}"
        raise InvalidInputError(message, file=path, location=location)
    if header.get("version") != SCHEMA_VERSION:
        message = f"manifest version {header.get('version')!r} is not supported (this cvkit reads {SCHEMA_VERSION})"
        raise InvalidInputError(message, file=path, location=location)
    return header


def is_parquet_manifest(path: str | Path) -> bool:
    """True when ``path`` is a file that starts with Parquet's magic bytes (a manifest is then Parquet, not JSONL)."""
    try:
        with open(path, "rb") as handle:
            return handle.read(len(PARQUET_MAGIC)) == PARQUET_MAGIC
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError):
        return False


def iter_records(path: str | Path, report: Report | None = None) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line_number, record)`` for every image record, streaming (Parquet: ``(row_number, record)``)."""
    path = Path(path)
    if is_parquet_manifest(path):
        yield from iter_parquet_records(path)
        return
    with open(path, "rb") as handle:
        handle.readline()
        yield from _records(enumerate(handle, start=2), path, report)


def _records(
    lines: Iterable[tuple[int, bytes]], path: Path, report: Report | None
) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line_number, record)`` of numbered lines; bad lines go to ``report.invalid`` (raised without a report)."""
    for number, line in lines:
        if not line.strip():
            continue
        try:
            rec = jsonio.loads(line)
        except jsonio.JSONDecodeError as exc:
            rec = InvalidInputError(f"not valid JSON at column {exc.colno}", file=path, location=f"line {number}")
        if not isinstance(rec, dict) or "image" not in rec:
            err = (
                rec
                if isinstance(rec, InvalidInputError)
                else InvalidInputError("record is not an object with an 'image'", file=path, location=f"line {number}")
            )
            if report is None:
                raise err
            report.invalid(err)
            continue
        yield number, rec


def header_to_dataset_parts(header: dict[str, Any]) -> tuple[CategorySet, Hierarchy]:
    categories = CategorySet()
    hierarchy = Hierarchy.from_records(header.get("hierarchy", []))
    for entry in header.get("categories", []):
        categories.add(
            Category(int(entry["id"]), entry["name"], entry.get("display_name"), entry.get("attributes") or {})
        )
        for parent in entry.get("parents", []):
            hierarchy.add_edge(entry["name"], parent)
    return categories, hierarchy


def iter_samples(
    path: Path, categories: CategorySet, report: Report, check_labels: bool = True, check_values: bool = True
) -> Iterator[tuple[int, Sample]]:
    """``(line_number, sample)`` for every good record; bad records go to ``report.invalid``.

    ``check_labels=False`` lets labels outside the header through and ``check_values=False`` numbers that
    :mod:`cvkit.core.validate_values` refuses (``cvkit validate`` reports both as findings, object by object,
    instead of skipping the record).
    """
    unit = "row" if is_parquet_manifest(path) else "line"
    return check_samples(iter_records(path, report), path, categories, report, check_labels, check_values, unit)


def check_samples(
    records: Iterable[tuple[int, dict[str, Any]]],
    path: Path,
    categories: CategorySet,
    report: Report,
    check_labels: bool = True,
    check_values: bool = True,
    unit: str = "line",
) -> Iterator[tuple[int, Sample]]:
    """``(number, sample)`` of numbered records; bad ones (named ``<unit> <number>``) go to ``report.invalid``."""
    for number, rec in records:
        try:
            sample = record_to_sample(rec)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            report.invalid(InvalidInputError(f"bad record field {exc}", file=path, location=f"{unit} {number}"))
            continue
        try:
            if check_values:
                validate_values.sample(sample, path, f"{unit} {number}", categories)
        except InvalidInputError as exc:
            report.invalid(exc)
            continue
        if check_labels:
            # crowd/ignore regions may carry a label that is no category (LabelMe's __ignore__)
            unknown = [o.label for o in sample.objects if o.label not in categories and not o.iscrowd]
            unknown += [label for label in sample.labels if label not in categories]
            if unknown:
                message = f"label {unknown[0]!r} is not in the header's categories"
                report.invalid(InvalidInputError(message, file=path, location=f"{unit} {number}"))
                continue
        report.count_read(sample.split, len(sample.objects))
        yield number, sample


#: bytes of records in one :class:`~cvkit.core.model.Shard` (writers that use several processes take them)
SHARD_BYTES = 4 << 20


def manifest_shards(path: Path, _workers: int = 1) -> list[Shard]:
    """The records as runs of about :data:`SHARD_BYTES` whole lines that a worker process reads from the file
    itself (no parsed data is shared, so memory stays flat), each run's line numbers counted here.
    A Parquet manifest gives one run per row group. Each shard is data (the path and a position), so it can go to
    a spawned worker or another machine."""
    if is_parquet_manifest(path):
        return _row_group_shards(path)
    with open(path, "rb") as handle:
        handle.readline()
        start, first_line, shards = handle.tell(), 2, []
        while block := handle.read(SHARD_BYTES) + handle.readline():  # to the end of the line the run would cut
            lines = block.count(b"\n")
            shards.append(Shard(lines, _read_run, path, (start, start + len(block), first_line)))
            start, first_line = start + len(block), first_line + lines
    return shards


def _read_run(path: Path, task: tuple[int, int, int], categories: CategorySet, report: Report) -> Iterator[Sample]:
    """A shard's samples (:class:`~cvkit.core.model.Shard`): bytes ``start..stop`` of the manifest, whose first line
    is line ``first_line``."""
    start, stop, first_line = task
    with open(path, "rb") as handle:
        handle.seek(start)
        lines = handle.read(stop - start).split(b"\n")
    for _number, sample in check_samples(
        _records(enumerate(lines, start=first_line), path, report), path, categories, report
    ):
        yield sample


def _row_group_shards(path: Path) -> list[Shard]:
    """One :class:`Shard` per row group of a Parquet manifest: a worker process opens the file and reads its group
    itself (the shard is described by data: the path, the group and its first row number)."""
    shards, first_row = [], 1
    for group, rows in enumerate(row_group_sizes(path)):
        shards.append(Shard(rows, _read_group, path, (group, first_row)))
        first_row += rows
    return shards


def _read_group(path: Path, task: tuple[int, int], categories: CategorySet, report: Report) -> Iterator[Sample]:
    """A shard's samples: row group ``group`` of a Parquet manifest, whose first row is row ``first_row``."""
    group, first_row = task
    records = iter_row_group_records(path, group, first_row)
    for _number, sample in check_samples(records, path, categories, report, unit="row"):
        yield sample


def read_manifest(path: str | Path, report: Report | None = None) -> Dataset:
    """A streaming :class:`Dataset` over a manifest; image paths stay relative to its folder."""
    path = Path(path)
    report = report if report is not None else Report()
    header = read_header(path)
    categories, hierarchy = header_to_dataset_parts(header)
    samples = (sample for _number, sample in iter_samples(path, categories, report))
    report.read.categories = len(categories)
    source = (header.get("source") or {}).get("format")
    return Dataset(
        samples,
        categories,
        hierarchy,
        root=path.parent,
        source_format=source,
        info=header.get("info") or {},
        shards=partial(manifest_shards, path),
    )


def load_schema() -> dict[str, Any]:
    """The manifest v1 JSON Schema (``$defs/header`` and ``$defs/record``)."""
    return jsonio.loads(SCHEMA_PATH.read_bytes())
