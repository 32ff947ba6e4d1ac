"""The cvkit manifest (v1) as Parquet: the same header and records as the JSON Lines manifest, in columns.

One row per image; objects are a list of structs; ``attributes`` and ``meta`` (free-form, keyed by format) are
JSON text; the header (categories, hierarchy, source, info) is the file's key-value metadata under
:data:`HEADER_KEY`. Row groups hold :data:`ROW_GROUP_ROWS` images so readers stream a group at a time.
docs/manifest.md ("Parquet") writes the schema down. pyarrow is imported only here (the ``parquet`` extra).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cvkit.core import jsonio
from cvkit.errors import CvkitError, InvalidInputError

if TYPE_CHECKING:
    import pyarrow as pa

#: the key of the file's key-value metadata that holds the manifest header (the JSONL manifest's line 1)
HEADER_KEY = b"cvkit.manifest"
#: images per row group: a reader holds one group at a time (and a 10M-object file still has few groups)
ROW_GROUP_ROWS = 20_000
#: rows turned into Python records at a time when records are read one by one
READ_BATCH_ROWS = 2_048
#: a box is a struct of four numbers (four plain columns: a third of the decoding a nested list of 4 costs)
BOX_FIELDS = ("x", "y", "w", "h")


def pyarrow_modules() -> tuple[Any, Any]:
    """``(pyarrow, pyarrow.parquet)``, or a CvkitError that says how to install them."""
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError:
        raise CvkitError("Parquet manifests need pyarrow: pip install 'cvkit[parquet]'") from None
    return pyarrow, pyarrow.parquet


def manifest_schema() -> pa.Schema:
    """The Arrow schema of a Parquet manifest (docs/manifest.md lists it with its meaning)."""
    pa, _ = pyarrow_modules()
    floats = pa.list_(pa.float64())
    box = pa.struct([(name, pa.float64()) for name in BOX_FIELDS])
    rle = pa.struct([("size", pa.list_(pa.int64())), ("counts", pa.string()), ("counts_list", pa.list_(pa.int64()))])
    obj = pa.struct(
        [
            pa.field("label", pa.string(), nullable=False),
            ("bbox", box),
            ("shape", pa.string()),
            ("polygon", pa.list_(floats)),
            ("rle", rle),
            ("keypoints", floats),
            ("points", floats),
            pa.field("iscrowd", pa.bool_(), nullable=False),
            ("score", pa.float64()),
            ("id", pa.int64()),
            ("group", pa.int64()),
            ("attributes", pa.string()),
            ("meta", pa.string()),
        ]
    )
    return pa.schema(
        [
            pa.field("image", pa.string(), nullable=False),
            ("width", pa.int32()),
            ("height", pa.int32()),
            ("split", pa.string()),
            ("labels", pa.list_(pa.string())),
            ("objects", pa.list_(obj)),
            ("id", pa.string()),
            ("id_int", pa.int64()),
            ("attributes", pa.string()),
            ("meta", pa.string()),
        ]
    )


# --- record <-> row ---------------------------------------------------------------------
def _json_or_none(value: Any) -> str | None:
    return jsonio.dumps(value).decode() if value else None


def _object_row(obj: dict[str, Any]) -> dict[str, Any]:
    row = {key: obj.get(key) for key in ("label", "shape", "polygon", "keypoints", "points", "score", "id", "group")}
    bbox = obj.get("bbox")
    # a box of another length stays a list, which Arrow refuses as a struct: the record is then named
    row["bbox"] = dict(zip(BOX_FIELDS, bbox)) if isinstance(bbox, list | tuple) and len(bbox) == 4 else bbox
    rle = obj.get("rle")
    if rle is not None:
        counts = rle.get("counts")
        row["rle"] = {
            "size": rle.get("size"),
            "counts": counts if isinstance(counts, str) else None,
            "counts_list": counts if isinstance(counts, list) else None,
        }
    row["iscrowd"] = bool(obj.get("iscrowd", False))
    row["attributes"] = _json_or_none(obj.get("attributes"))
    row["meta"] = _json_or_none(obj.get("meta"))
    return row


def record_to_row(rec: dict[str, Any]) -> dict[str, Any]:
    """A manifest record (as :func:`cvkit.manifest.sample_to_record` makes it) -> a row of :func:`manifest_schema`."""
    record_id = rec.get("id")
    return {
        "image": rec["image"],
        "width": rec.get("width"),
        "height": rec.get("height"),
        "split": rec.get("split"),
        "labels": rec.get("labels") or [],
        "objects": [_object_row(obj) for obj in rec.get("objects") or ()],
        "id": record_id if isinstance(record_id, str) else None,
        "id_int": record_id if isinstance(record_id, int) and not isinstance(record_id, bool) else None,
        "attributes": _json_or_none(rec.get("attributes")),
        "meta": _json_or_none(rec.get("meta")),
    }


_OPTIONAL_OBJECT_KEYS = ("polygon", "keypoints", "points", "score", "id", "group")


def _object_record(row: dict[str, Any]) -> dict[str, Any]:
    rec: dict[str, Any] = {"label": row["label"]}
    if (box := row["bbox"]) is not None:
        rec["bbox"] = [box["x"], box["y"], box["w"], box["h"]]
    for key in _OPTIONAL_OBJECT_KEYS:
        if row[key] is not None:
            rec[key] = row[key]
    if row["shape"] is not None and row["shape"] != "box":
        rec["shape"] = row["shape"]
    if (rle := row["rle"]) is not None:
        rec["rle"] = {"size": rle["size"], "counts": rle["counts"] if rle["counts"] is not None else rle["counts_list"]}
    if row["iscrowd"]:
        rec["iscrowd"] = True
    for key in ("attributes", "meta"):
        if row[key] is not None:
            rec[key] = jsonio.loads(row[key])
    return rec


def row_to_record(row: dict[str, Any]) -> dict[str, Any]:
    """A row of :func:`manifest_schema` -> the record the JSON Lines manifest holds for the same image."""
    rec: dict[str, Any] = {
        "image": row["image"],
        "width": row["width"],
        "height": row["height"],
        "split": row["split"],
        "labels": row["labels"] or [],
        "objects": [_object_record(obj) for obj in row["objects"] or ()],
    }
    if row["id"] is not None:
        rec["id"] = row["id"]
    elif row["id_int"] is not None:
        rec["id"] = row["id_int"]
    for key in ("attributes", "meta"):
        if row[key] is not None:
            rec[key] = jsonio.loads(row[key])
    return rec


# --- writing ----------------------------------------------------------------------------
def _table(rows: list[dict[str, Any]], schema: pa.Schema, first_row: int, path: Path) -> pa.Table:
    """Rows -> an Arrow table; a value of the wrong type is named by its image."""
    pa, _ = pyarrow_modules()
    try:
        return pa.Table.from_pylist(rows, schema=schema)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as exc:
        for offset, row in enumerate(rows):  # find the row at fault for the message
            try:
                pa.Table.from_pylist([row], schema=schema)
            except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as row_exc:
                raise InvalidInputError(
                    f"{row['image']}: a value does not fit the Parquet manifest's schema ({row_exc})",
                    file=path,
                    location=f"row {first_row + offset}",
                ) from None
        raise InvalidInputError(f"records do not fit the Parquet manifest's schema ({exc})", file=path) from None


def write_rows(
    records: Iterable[dict[str, Any]], header: Any, handle: Any, path: Path, row_group_rows: int | None = None
) -> int:
    """Write manifest records as Parquet to an open binary ``handle``; ``header()`` gives the header once every
    record is written (streaming readers discover categories as they go). Returns the number of rows."""
    _, pq = pyarrow_modules()
    row_group_rows = row_group_rows or ROW_GROUP_ROWS
    schema = manifest_schema()
    written = 0
    with pq.ParquetWriter(handle, schema, compression="zstd") as writer:
        batch: list[dict[str, Any]] = []
        for rec in records:
            batch.append(record_to_row(rec))
            if len(batch) == row_group_rows:
                writer.write_table(_table(batch, schema, written + 1, path), row_group_size=row_group_rows)
                written, batch = written + len(batch), []
        if batch or not written:
            writer.write_table(_table(batch, schema, written + 1, path), row_group_size=row_group_rows)
            written += len(batch)
        writer.add_key_value_metadata({HEADER_KEY: jsonio.dumps(header())})
    return written


# --- reading ----------------------------------------------------------------------------
def open_parquet(path: Path) -> Any:
    """A ``pyarrow.parquet.ParquetFile``; a damaged file is an InvalidInputError naming it."""
    pa, pq = pyarrow_modules()
    try:
        return pq.ParquetFile(path)
    except FileNotFoundError:
        raise InvalidInputError("manifest not found", file=path) from None
    except (pa.ArrowException, OSError) as exc:
        raise InvalidInputError(f"not a readable Parquet file ({exc})", file=path) from None


def read_parquet_header(path: str | Path, parquet_file: Any = None) -> Any:
    """The header stored in the file's key-value metadata, parsed but not yet checked (the caller checks it:
    :func:`cvkit.manifest.read_header`); raises naming the file when there is none."""
    path = Path(path)
    metadata = (parquet_file or open_parquet(path)).metadata.metadata or {}
    if HEADER_KEY not in metadata:
        raise InvalidInputError(
            f"not a cvkit manifest: the Parquet file has no {HEADER_KEY.decode()!r} metadata", file=path
        )
    try:
        header = jsonio.loads(metadata[HEADER_KEY])
    except jsonio.JSONDecodeError as exc:
        raise InvalidInputError(f"the {HEADER_KEY.decode()!r} metadata is not valid JSON ({exc})", file=path) from None
    return header


def row_records(
    parquet_file: Any, row_groups: list[int] | None, first_row: int
) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(row_number, record)`` of some row groups (all when None), one batch of rows in memory at a time."""
    number = first_row
    for batch in parquet_file.iter_batches(batch_size=READ_BATCH_ROWS, row_groups=row_groups, use_threads=False):
        for row in batch.to_pylist():
            yield number, row_to_record(row)
            number += 1


def iter_parquet_records(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(row_number, record)`` for every image, 1-based, streaming a batch of rows at a time."""
    parquet_file = open_parquet(Path(path))
    return row_records(parquet_file, None, 1)
