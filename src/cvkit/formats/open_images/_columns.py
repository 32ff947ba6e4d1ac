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
        return self.order[self.starts[image]:self.starts[image + 1]]

    def text(self, column: str, row: int) -> str:
        codes, names = self.columns[column]
        return names[codes[row]]


_ROW = re.compile(r"Row #(\d+)")


def _arrow_error(exc: Exception, file: Path) -> InvalidInputError:
    """pyarrow's CSV error as one naming the file and, when it says, the line."""
    message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    found = _ROW.search(str(exc))
    return InvalidInputError(message, file=file, location=f"line {int(found.group(1))}" if found else None)


def read_table(file: Path, numbers: dict[str, str], texts: tuple[str, ...], report: Report, optional: tuple[str, ...] = ()) -> Table:
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

    try:
        table = csv.read_csv(file, parse_options=csv.ParseOptions(invalid_row_handler=skip),
                             convert_options=csv.ConvertOptions(include_columns=wanted, strings_can_be_null=False,
                                                                column_types={**{c: pa.string() for c in ("ImageID", *texts)},
                                                                              **{c: getattr(pa, t)() for c, t in numbers.items()}}))
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise _arrow_error(exc, file) from None
    if skipped:
        report.warn(f"{file.name}: {len(skipped)} row(s) with a wrong number of fields were skipped (e.g. {skipped[0]!r})")
    columns: dict[str, Any] = {}
    for name in numbers:
        if name in table.column_names:
            columns[name] = table.column(name).to_numpy()
    for name in texts:
        if name in table.column_names:
            encoded = pc.dictionary_encode(table.column(name)).combine_chunks()
            columns[name] = (encoded.indices.to_numpy(zero_copy_only=False), encoded.dictionary.to_pylist())
    ids = pc.dictionary_encode(table.column("ImageID")).combine_chunks()
    return Table(file, columns, ids.indices.to_numpy(zero_copy_only=False), ids.dictionary)


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
