"""Open Images annotation CSVs read into columns (pyarrow), never a Python object per row.

A 2 GB ``oidv6-train-annotations-bbox.csv`` (14.6 million rows) is read as arrow columns: only the columns cvkit
uses, ``ImageID`` and ``LabelName`` dictionary-encoded, numbers as float64/int8. Rows are grouped by image through
an integer image number per row and one stable argsort, so a sample's rows are found without a dict per row and
the samples stream in ``ImageID`` order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cvkit.core.report import Report
from cvkit.errors import CvkitError, InvalidInputError


@dataclass
class Table:
    """One CSV's rows, grouped by image: ``rows_of(i)`` are the row numbers of image number ``i``."""

    file: Path
    columns: dict[str, Any]  # column -> numpy array (numbers) or (codes, names) for strings
    image_codes: Any  # numpy int32 per row: index into this table's own image ids
    image_ids: Any  # pyarrow array of this table's distinct ImageIDs
    order: Any = None
    starts: Any = None

    def group(self, positions: Any, count: int) -> None:
        """Group rows by ``positions[code]`` (the image's number among ``count`` images of the subset)."""
        numbers = positions[self.image_codes] if len(self.image_codes) else np.zeros(0, dtype=np.int64)
        self.order = np.argsort(numbers, kind="stable")
        self.starts = np.searchsorted(numbers[self.order], np.arange(count + 1))

    def rows_of(self, image: int) -> Any:
        return self.order[self.starts[image] : self.starts[image + 1]]

    def text(self, column: str, row: int) -> str:
        codes, names = self.columns[column]
        return names[codes[row]]


_ROW = re.compile(r"Row #(\d+)")


def _arrow_error(exc: Exception, file: Path) -> InvalidInputError:
    """pyarrow's CSV error as one naming the file and, when it says, the line."""
    message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    found = _ROW.search(str(exc))
    return InvalidInputError(message, file=file, location=f"line {int(found.group(1))}" if found else None)


def read_table(
    file: Path, numbers: dict[str, str], texts: tuple[str, ...], report: Report, optional: tuple[str, ...] = ()
) -> Table:
    """The columns of ``file`` cvkit needs: ``numbers`` (column -> ``float64``/``int8``) and ``texts`` (dictionary
    codes and names); a missing required column is an error naming it; ``optional`` columns may be absent."""
    try:
        import pyarrow as pa
        import pyarrow.compute as pc
        from pyarrow import csv
    except ImportError:
        raise CvkitError("reading Open Images needs pyarrow: pip install 'cvkit[open_images]'") from None

    with open(file, encoding="utf-8-sig", errors="replace") as handle:
        header = handle.readline().rstrip("\r\n").split(",")
    missing = [c for c in ("ImageID", *numbers, *texts) if c not in header and c not in optional]
    if missing:
        raise InvalidInputError(f"missing column(s) {', '.join(missing)}", file=file, location="line 1")
    wanted = [c for c in ("ImageID", *numbers, *texts) if c in header]
    skipped: list[str] = []

    def skip(row: Any) -> str:
        skipped.append(row.text)
        return "skip"

    types = {**{c: pa.string() for c in ("ImageID", *texts)}, **{c: getattr(pa, t)() for c, t in numbers.items()}}
    present_numbers = [c for c in numbers if c in wanted]
    present_texts = [c for c in ("ImageID", *texts) if c in wanted]
    number_chunks: dict[str, list[Any]] = {c: [] for c in present_numbers}
    text_chunks: dict[str, list[Any]] = {c: [] for c in present_texts}
    try:  # block by block: only one block of the file's text is held, each column kept as numbers or codes
        reader = csv.open_csv(
            file,
            read_options=csv.ReadOptions(block_size=BLOCK_BYTES, use_threads=False),
            parse_options=csv.ParseOptions(invalid_row_handler=skip),
            convert_options=csv.ConvertOptions(include_columns=wanted, strings_can_be_null=False, column_types=types),
        )
        for batch in reader:
            for name in present_numbers:
                number_chunks[name].append(batch.column(name).to_numpy())
            for name in present_texts:
                text_chunks[name].append(pc.dictionary_encode(batch.column(name)))
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise _arrow_error(exc, file) from None
    if skipped:
        report.warn(
            f"{file.name}: {len(skipped)} row(s) with a wrong number of fields were skipped (e.g. {skipped[0]!r})"
        )
    columns: dict[str, Any] = {
        name: np.concatenate(chunks) if chunks else np.zeros(0, dtype=numbers[name])
        for name, chunks in number_chunks.items()
    }
    for name, chunks in text_chunks.items():
        columns[name] = _codes(pa, chunks)
    codes, ids = columns.pop("ImageID")
    return Table(file, columns, codes, pa.array(ids, type=pa.string()))


#: bytes of CSV text parsed at a time
BLOCK_BYTES = 1 << 22


def _codes(pa: Any, chunks: list[Any]) -> tuple[Any, list[str]]:
    """Per-block dictionary arrays as one (codes, names): the blocks' dictionaries unified."""
    if not chunks:
        return np.zeros(0, dtype=np.int32), []
    unified = pa.chunked_array(chunks).unify_dictionaries()
    codes = np.concatenate([chunk.indices.to_numpy(zero_copy_only=False) for chunk in unified.chunks])
    return codes, unified.chunk(0).dictionary.to_pylist()


def subset_image_ids(tables: list[Table], extra: list[str]) -> Any:
    """Every ImageID of a subset's tables and image folder, sorted, as a pyarrow array; groups each table by it."""
    import pyarrow as pa
    import pyarrow.compute as pc

    pieces = [t.image_ids for t in tables] + [pa.array(extra, type=pa.string())]
    merged = pc.unique(pa.concat_arrays([p.cast(pa.string()) for p in pieces]))
    merged = merged.take(pc.sort_indices(merged))
    for table in tables:
        positions = pc.index_in(table.image_ids, value_set=merged).to_numpy(zero_copy_only=False).astype(np.int64)
        table.group(positions, len(merged))
    return merged
