"""Where ``cvkit stats`` gets its columns from: a manifest, a VOC tree's scan, or any reader.

No numpy here (nor in :mod:`cvkit.stats.options` and the start of :mod:`cvkit.stats.voc_scan`): a VOC tree's
scan starts its worker processes before numpy is imported, and the import then runs while they work.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from cvkit.api import detect_format, read
from cvkit.core.report import Report
from cvkit.errors import InvalidInputError
from cvkit.formats import manifest_format, manifest_parquet
from cvkit.manifest import is_parquet_manifest

if TYPE_CHECKING:
    from cvkit.stats.column_arrays import Columns


def resolve_format(path: str | Path, format: str | None) -> str:
    """The format to read ``path`` with: as given, ``manifest`` for a manifest, else detected."""
    path = Path(path)
    if format:
        return format
    if not path.exists():
        raise InvalidInputError("input not found", file=path)
    return _manifest_or_none(path) or detect_format(path)


#: format names that mean a cvkit manifest (JSON Lines or Parquet), read by :mod:`cvkit.manifest`
MANIFEST_FORMATS = ("manifest", "jsonl", "parquet", "manifest_parquet")


def _manifest_or_none(path: Path) -> str | None:
    """``"manifest"`` for a .jsonl file with a manifest header, ``"parquet"`` for a Parquet manifest (saves probing
    every format)."""
    if manifest_parquet.detect(path):
        return "parquet"
    return "manifest" if manifest_format.detect(path) else None


def load_columns(
    path: str | Path, format: str | None = None, report: Report | None = None, with_paths: bool = False, **options: Any
) -> Columns:
    """Columns of a dataset in any format; manifests take the fast path."""
    path = Path(path)
    name = resolve_format(path, format)
    if name in MANIFEST_FORMATS and not options:
        from cvkit.stats.columns import columns_from_manifest
        from cvkit.stats.columns_parquet import columns_from_parquet

        if is_parquet_manifest(path):
            return columns_from_parquet(path, report, with_paths)
        return columns_from_manifest(path, report, with_paths)
    if name in ("voc", "pascal_voc", "pascalvoc") and not with_paths and set(options) <= {"one_based"}:
        from cvkit.stats.voc_scan import scan_voc_columns

        columns = scan_voc_columns(
            path, report if report is not None else Report(), bool(options.get("one_based", True))
        )
        if columns is not None:
            return columns
    from cvkit.stats.columns import columns_from_dataset

    return columns_from_dataset(read(path, name, report=report, **options), with_paths)
