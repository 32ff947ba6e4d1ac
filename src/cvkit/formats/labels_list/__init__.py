"""Image-level label lists: a multi-label CSV and the plain "path label" text list.

Forms read and written:

- ``*.csv`` with a header naming an image column (``ImageId``, ``image``, ``filename``, Hugging
  Face's ``file_name``, Kaggle's ``id``...) and a labels column. A plural column (``labels``,
  ``tags``, ``classes``) holds several labels, separated by ``|`` when the cell has one, else by
  spaces; a singular one (``label``, ``class``, ``category``), or the other column of a two-column
  CSV (Kaggle's ``id,breed``), holds one label, spaces included. An optional ``split`` column.
  An id without a suffix is looked up as ``ID.<ext>``.
- Hugging Face ``imagefolder`` metadata: ``metadata.csv`` as above, ``metadata.jsonl`` objects
  with ``file_name`` and a label key; in the dataset folder or in each split folder.
- ``*.txt``: ``path label [label ...]`` a line (datumaro's ``imagenet_txt``). With a
  ``synsets.txt`` (or ``-r synsets=PATH``: one class name a line) numeric labels are indices
  into it; otherwise labels are names.
- a folder (datumaro ``imagenet_txt``): ``<split>.txt`` lists, ``synsets.txt``, images under
  ``images/`` (``default.txt`` means no split).

Image paths are relative to ``-r images=DIR``, else ``images/`` beside the list when it exists,
else the list's folder, else a sub-folder of it where the listed images are found (Kaggle's
``labels.csv`` beside ``train/``). A list's split is its file name's (``train.txt``), else its
folder's (``train/metadata.csv``). Listed images that do not exist are kept with a warning
(``-r missing=skip`` leaves them out as not represented, ``missing=error`` fails).
Category ids are the synsets line number + 1, else 1.. in order of first use.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from cvkit.core import jsonio
from cvkit.core import shards as sharding
from cvkit.core.categories import Category, CategorySet
from cvkit.core.image_sizes import read_sample_size
from cvkit.core.imageinfo import IMAGE_EXTENSIONS, find_image
from cvkit.core.model import Dataset, Sample, Shard
from cvkit.core.report import Report
from cvkit.core.shards import read_here
from cvkit.core.splits import SPLIT_KEYWORDS, split_folders, split_keyword
from cvkit.errors import CvkitError, InvalidInputError
from cvkit.formats.labels_list._writer import write
from cvkit.io import open_regular, read_utf8_text, relpath_posix

__all__ = ["detect", "read", "write"]

ID_COLUMNS = (
    "imageid",
    "image_id",
    "image",
    "filename",
    "file_name",
    "image_name",
    "image_path",
    "file",
    "file_path",
    "path",
    "id",
    "id_code",
    "name",
)
#: columns of several labels a cell (split on | or spaces), then columns of one label a cell
MULTI_LABEL_COLUMNS = ("labels", "tags", "classes")
LABEL_COLUMNS = (*MULTI_LABEL_COLUMNS, "label", "class", "category")
#: second columns of two-column CSVs that are no classes: Kaggle RLE masks, ImageNet LOC boxes, captions
NOT_LABEL_COLUMNS = frozenset(
    (
        "encodedpixels",
        "predictionstring",
        "rle",
        "bbox",
        "boxes",
        "text",
        "caption",
        "captions",
        "description",
        "width",
        "height",
        "url",
    )
)
SYNSET_NAMES = ("synsets.txt", "labels.txt")
#: Hugging Face imagefolder metadata files
METADATA_NAMES = ("metadata.csv", "metadata.jsonl")
#: how many listed images missing from the list's folder are looked for in its sub-folders before giving up
PROBES = 20
READ_OPTIONS = ("images", "synsets", "sizes", "missing", "split")
WRITE_OPTIONS = ("images", "workers")


def _is_image(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


def _csv_columns(header: list[str]) -> tuple[int, int, int | None, bool] | None:
    """Positions of the id, labels and (optional) split columns and whether a labels cell holds several;
    None when not such a header."""
    names = [h.strip().lower() for h in header]
    ident = next((i for i, n in enumerate(names) if n in ID_COLUMNS), None)
    labels = next((i for i, n in enumerate(names) if n in LABEL_COLUMNS), None)
    other = names[1 - ident] if ident is not None and len(names) == 2 else None
    if (
        labels is None
        and other is not None
        and other not in NOT_LABEL_COLUMNS
        and other not in ID_COLUMNS
        and other != "split"
    ):
        labels = 1 - ident  # Kaggle's id,breed / Image,Id / id_code,diagnosis: the other column is the class
    if ident is None or labels is None:
        return None
    return ident, labels, names.index("split") if "split" in names else None, names[labels] in MULTI_LABEL_COLUMNS


def _is_list_file(path: Path) -> bool:
    """A text file whose first line looks like ``image.jpg label``."""
    try:
        with open(path, encoding="utf-8-sig") as handle:
            for line in handle:
                if line.strip():
                    tokens = line.split()
                    return len(tokens) >= 1 and _is_image(tokens[0])
    except (UnicodeDecodeError, OSError):
        return False
    return False


def _list_files(folder: Path) -> list[Path]:
    return sorted(
        p for p in folder.glob("*.txt") if p.name not in SYNSET_NAMES and "synsets" not in p.name and _is_list_file(p)
    )


def _is_label_csv(path: Path) -> bool:
    with open(path, encoding="utf-8-sig", errors="replace") as handle:
        header = next(csv.reader(io.StringIO(handle.readline())), [])
    return _csv_columns(header) is not None


def _is_metadata_jsonl(path: Path) -> bool:
    """A Hugging Face ``metadata.jsonl``: its first object has a ``file_name``."""
    try:
        with open(path, encoding="utf-8-sig") as handle:
            first = jsonio.loads(handle.readline())
    except (ValueError, OSError):
        return False
    return isinstance(first, dict) and "file_name" in first


def _metadata_files(folder: Path) -> list[Path]:
    """Hugging Face imagefolder metadata in ``folder`` or, failing that, in its split sub-folders."""

    def found(where: Path) -> list[Path]:
        files = [where / n for n in METADATA_NAMES if (where / n).is_file()]
        return [f for f in files if (_is_label_csv(f) if f.suffix == ".csv" else _is_metadata_jsonl(f))][:1]

    if here := found(folder):
        return here
    return [f for name in sorted(split_folders(folder)) for f in found(folder / name)]


def detect(path: Path) -> str | None:
    if path.is_file() and path.suffix.lower() == ".csv":
        return "a CSV with image and label columns" if _is_label_csv(path) else None
    if path.is_file() and path.suffix.lower() == ".txt":
        return "a text list of 'image label' lines" if _is_list_file(path) else None
    if path.is_file() and path.name == "metadata.jsonl":
        return "a Hugging Face imagefolder metadata.jsonl" if _is_metadata_jsonl(path) else None
    if not path.is_dir():
        return None
    darknet = any((path / name).is_file() for name in ("obj.data", "obj.names", "data.yaml", "classes.txt"))
    if not darknet and _list_files(path):  # darknet's train.txt is a bare image list, not labels
        return "'image label' lists (imagenet_txt layout)"
    metadata = _metadata_files(path)
    if metadata:
        return f"Hugging Face imagefolder metadata ({', '.join(relpath_posix(m, path) for m in metadata)})"
    return None


def _read_synsets(path: Path) -> list[str]:
    names = [line.strip() for line in read_utf8_text(path).splitlines()]
    return [n for n in names if n]


@dataclass(frozen=True, slots=True)
class _Setup:
    """What every list of one read shares and no list changes: the options and the synset names (sent to each
    worker once)."""

    #: the dataset root; images are looked for in ``images/`` first, then beside the list, then in its sub-folders
    root: Path
    fixed: bool
    sizes: bool
    missing: str
    split: str | None
    synsets: list[str] | None
    synsets_path: Path | None


def _setup(path: Path, options: dict[str, Any]) -> _Setup:
    folder = path if path.is_dir() else path.parent
    missing = str(options.get("missing", "keep"))
    if missing not in ("keep", "skip", "error"):
        raise CvkitError(f"option missing must be keep, skip or error (got {missing!r})")
    synsets_path = (
        Path(options["synsets"])
        if options.get("synsets")
        else next((folder / n for n in SYNSET_NAMES if (folder / n).is_file()), None)
    )
    if synsets_path is None:
        found = sorted(folder.glob("*synsets*.txt"))
        synsets_path = found[0] if len(found) == 1 else None
    if synsets_path is not None and not synsets_path.is_file():
        raise CvkitError("synsets file not found", file=synsets_path)
    return _Setup(
        root=Path(options["images"]) if options.get("images") else folder,
        fixed=bool(options.get("images")),
        sizes=str(options.get("sizes", False)).lower() in ("true", "1", "yes"),
        missing=missing,
        split=options.get("split"),
        synsets=_read_synsets(synsets_path) if synsets_path else None,
        synsets_path=synsets_path,
    )


class _Context:
    """One run's reading state over the shared :class:`_Setup`: the categories and report it adds to, and where the
    images of each list folder were found so far."""

    def __init__(self, setup: _Setup, categories: CategorySet, report: Report):
        self.report, self.categories = report, categories
        self.root, self.fixed, self.sizes, self.missing = setup.root, setup.fixed, setup.sizes, setup.missing
        self.split, self.synsets, self.synsets_path = setup.split, setup.synsets, setup.synsets_path
        self.places: dict[Path, list[Path]] = {}
        self.probes: dict[Path, int] = {}
        #: a list folder's sub-folders, listed once (the Kaggle probe below may run 20 times per folder)
        self.subdirs: dict[Path, list[Path]] = {}

    def label(self, token: str, file: Path, location: str) -> str:
        if self.synsets is not None and token.isdigit():
            index = int(token)
            if index >= len(self.synsets):
                where = self.synsets_path.name if self.synsets_path else "the synsets"
                raise InvalidInputError(
                    f"label index {index} is beyond the {len(self.synsets)} names of {where}",
                    file=file,
                    location=location,
                )
            return self.synsets[index]
        if self.synsets is None and token.isdigit():
            self.report.warn("no synsets.txt: numeric labels are used as class names (-r synsets=PATH names them)")
        self.categories.ensure(token)
        return token

    def _places(self, base: Path) -> list[Path]:
        """Where the images of a list in ``base`` are looked for (grows as sub-folders are found to hold them)."""
        if base not in self.places:
            self.places[base] = (
                [self.root] if self.fixed else [p for p in (base / "images", base) if p.is_dir()] or [base]
            )
            self.probes[base] = 0 if self.fixed else PROBES
        return self.places[base]

    def image_path(self, ident: str, base: Path) -> tuple[str, bool]:
        """The image's path relative to the dataset root, and whether it exists."""
        places = self._places(base)
        for place in places:
            found = _find(place, ident)
            if found is not None:
                return relpath_posix(found, self.root), True
        if self.probes[base] > 0:  # Kaggle's labels.csv lists train/<id>.jpg as <id>: look in the sub-folders
            if base not in self.subdirs:
                self.subdirs[base] = _subdirs(base)
            for sub in (sub for sub in self.subdirs[base] if sub not in places):
                found = _find(sub, ident)
                if found is not None:
                    places.append(sub)
                    return relpath_posix(found, self.root), True
            self.probes[base] -= 1
        return relpath_posix(places[0] / ident, self.root), False

    def sample(self, ident: str, labels: list[str], split: str | None, file: Path, location: str) -> Sample | None:
        rel, exists = self.image_path(ident, file.parent)
        if not exists:
            self.report.tallies[_MISSING] += 1
            if self.missing == "error":
                self.report.invalid(
                    InvalidInputError(
                        f"listed image {rel} does not exist under {self.root}", file=file, location=location
                    )
                )
                return None
            if self.missing == "skip":
                self.report.lose("listed image that does not exist", "left out (-r missing=skip)")
                return None
        sample = Sample(rel, split=self.split or split, labels=labels)
        if self.sizes and exists:
            read_sample_size(sample, self.root / rel, self.report)
        self.report.count_read(sample.split, 0)
        return sample


def _subdirs(base: Path) -> list[Path]:
    """The sub-folders of a list folder, sorted (hidden ones left out)."""
    with os.scandir(base) as entries:
        return [base / name for name in sorted(e.name for e in entries if not e.name.startswith(".") and e.is_dir())]


def _find(place: Path, ident: str) -> Path | None:
    """``place/ident`` when it is a file; an ident without an image suffix is looked up as ``ident.<ext>``."""
    if _is_image(ident):
        return place / ident if (place / ident).is_file() else None
    return find_image(place / os.path.dirname(ident), os.path.basename(ident))


def _split_of(path: Path) -> str | None:
    """The split a list file names: ``train.txt``, else the folder it is in (``train/metadata.csv``)."""
    if path.stem.lower() in SPLIT_KEYWORDS:
        return path.stem
    return split_keyword(path.parent.name)


def _read_txt(path: Path, ctx: _Context, piece: _Piece) -> Iterator[Sample]:
    split = _split_of(path)
    with _text(path, piece, None) as handle:
        for number, line in enumerate(handle, start=piece[3]):
            tokens = line.split()
            if not tokens or tokens[0].startswith("#"):
                continue
            location = f"line {number}"
            try:
                labels = [ctx.label(t, path, location) for t in tokens[1:]]
            except InvalidInputError as err:
                ctx.report.invalid(err)
                continue
            sample = ctx.sample(tokens[0], labels, split, path, location)
            if sample is not None:
                yield sample


def _read_csv(path: Path, ctx: _Context, piece: _Piece) -> Iterator[Sample]:
    with open(path, newline="", encoding="utf-8-sig") as handle:
        header = next(csv.reader(handle), [])
    with _text(path, piece, "") as handle:
        reader = csv.reader(handle)
        if piece[1] == 0:
            next(reader, [])
        columns = _csv_columns(header)
        if columns is None:
            raise InvalidInputError(
                f"expected a header with an image column ({', '.join(ID_COLUMNS[:3])}) and a labels column, got "
                f"{','.join(header)!r}",
                file=path,
                location="line 1",
            )
        ident_col, labels_col, split_col, multi = columns
        width = len(header)
        for number, row in enumerate(reader, start=max(piece[3], 2)):
            if not row or not "".join(row).strip():
                continue
            location = f"line {number}"
            if len(row) != width:
                ctx.report.invalid(
                    InvalidInputError(
                        f"expected {width} fields ({','.join(header)}), got {len(row)}", file=path, location=location
                    )
                )
                continue
            cell = row[labels_col].strip()
            tokens = (cell.split("|") if "|" in cell else cell.split()) if multi else [cell]
            try:
                labels = [ctx.label(t.strip(), path, location) for t in tokens if t.strip()]
            except InvalidInputError as err:
                ctx.report.invalid(err)
                continue
            split = row[split_col].strip() or None if split_col is not None else _split_of(path)
            ident = row[ident_col].strip()
            if not ident:
                ctx.report.invalid(InvalidInputError(f"empty {header[ident_col]}", file=path, location=location))
                continue
            sample = ctx.sample(ident, labels, split, path, location)
            if sample is not None:
                yield sample


def _read_jsonl(path: Path, ctx: _Context, piece: _Piece) -> Iterator[Sample]:
    """Hugging Face ``metadata.jsonl``: one object a line, ``file_name`` and a label key (a list: several labels)."""
    split = _split_of(path)
    with _text(path, piece, None) as handle:
        for number, line in enumerate(handle, start=piece[3]):
            if not line.strip():
                continue
            location = f"line {number}"
            try:
                record = jsonio.loads(line)
            except ValueError as exc:
                ctx.report.invalid(InvalidInputError(f"not a JSON object ({exc})", file=path, location=location))
                continue
            ident = record.get("file_name") if isinstance(record, dict) else None
            if not isinstance(ident, str) or not ident.strip():
                ctx.report.invalid(
                    InvalidInputError("expected an object with a file_name", file=path, location=location)
                )
                continue
            key = next((k for k in LABEL_COLUMNS if k in record), None)
            value = record.get(key) if key else None
            values = value if isinstance(value, list) else [] if value is None else [value]
            try:
                labels = [ctx.label(str(v).strip(), path, location) for v in values if str(v).strip()]
            except InvalidInputError as err:
                ctx.report.invalid(err)
                continue
            sample = ctx.sample(ident.strip(), labels, record.get("split") or split, path, location)
            if sample is not None:
                yield sample


def read(path: Path, report: Report, **options: Any) -> Dataset:
    """Read label lists; runs of lines of a list are shards (one run for every list while images are still looked
    for in sub-folders: where a list's images are is learnt line by line)."""
    path = Path(path)
    setup = _setup(path, options)
    if path.is_dir():
        lists = _list_files(path) + sorted(p for p in path.glob("*.csv") if detect(p))
        lists += [m for m in _metadata_files(path) if m not in lists]
        if not lists:
            raise CvkitError(
                "no label lists here (expected <split>.txt lines 'image label', an ImageId,labels CSV "
                "or Hugging Face metadata.csv/metadata.jsonl)",
                file=path,
            )
    else:
        lists = [path]
    categories = CategorySet(Category(i + 1, n) for i, n in enumerate(dict.fromkeys(setup.synsets or [])))
    shared: _Shared = (setup, lists)

    def shards(_workers: int) -> list[Shard]:
        return _shards(shared)

    def finish(merged: Report | None) -> None:
        target = merged if merged is not None else report
        missing = target.tallies.pop(_MISSING, 0)
        if missing and setup.missing == "keep":
            target.warn(
                f"{missing} listed image(s) do not exist under {setup.root} (kept; -r missing=skip leaves them out)"
            )

    dataset = Dataset(
        read_here(shards, categories, report), categories, root=setup.root, source_format="labels", shards=shards
    )
    dataset.finishers.append(finish)
    return dataset


#: what the shards of one read share: the options and the list files
_Shared = tuple[_Setup, list[Path]]
#: a run of one list: its place in the lists, its bytes ``start..stop`` (None: to the end) and its first line's number
_Piece = tuple[int, int, int | None, int]
#: the tally (:attr:`~cvkit.core.report.Report.tallies`) of listed images that do not exist
_MISSING = "labels.missing"
_READERS = {".csv": _read_csv, ".jsonl": _read_jsonl}


def _shards(shared: _Shared) -> list[Shard]:
    """Runs of :data:`~cvkit.core.shards.SHARD_ITEMS` lines of each list; every list in one run while a list folder
    has sub-folders that its images may be found in (where they were found steers the next lines' lookups)."""
    setup, lists = shared
    learning = not setup.fixed and any(
        {sub.name for sub in _subdirs(item.parent)} - {"images"} for item in dict.fromkeys(lists)
    )
    if learning:
        whole = tuple((number, 0, None, 1) for number in range(len(lists)))
        return [Shard(len(lists), _read_run, shared, whole)]
    size = sharding.SHARD_ITEMS
    return [
        Shard(size, _read_run, shared, (piece,))
        for number, item in enumerate(lists)
        for piece in _cut(number, item, size)
    ]


def _cut(number: int, path: Path, size: int) -> list[_Piece]:
    """A list's runs: cut after a newline every ``size`` lines, where a byte offset is a line's start
    for the text reader too (no lone carriage return, which ends a line as well; no CSV quotes, which may hold one);
    else the whole list."""
    csv_file = path.suffix.lower() == ".csv"
    pieces: list[_Piece] = []
    start, lines, offset = 0, 0, 0
    with open_regular(path) as handle:
        for raw in handle:
            if raw.count(b"\r") != raw.count(b"\r\n") or (csv_file and b'"' in raw):
                return [(number, 0, None, 1)]
            offset += len(raw)
            lines += 1
            if lines % size == 0:
                pieces.append((number, start, offset, lines - size + 1))
                start = offset
    if start < offset or not pieces:
        pieces.append((number, start, None, lines - lines % size + 1))
    return pieces


def _text(path: Path, piece: _Piece, newline: str | None) -> IO[str]:
    """The text of one run of a list: the file itself for a whole list, else its bytes ``start..stop``."""
    _number, start, stop, _first = piece
    if start == 0 and stop is None:
        return open(path, newline=newline, encoding="utf-8-sig")
    with open_regular(path) as handle:
        handle.seek(start)
        data = handle.read() if stop is None else handle.read(stop - start)
    return io.StringIO(data.decode("utf-8-sig" if start == 0 else "utf-8"), newline=newline)


def _read_run(shared: _Shared, task: tuple[_Piece, ...], categories: CategorySet, report: Report) -> Iterator[Sample]:
    """A shard's samples (:class:`~cvkit.core.model.Shard`): runs of lines of the lists, in order."""
    setup, lists = shared
    ctx = _Context(setup, categories, report)
    for piece in task:
        item = lists[piece[0]]
        try:
            yield from _READERS.get(item.suffix.lower(), _read_txt)(item, ctx, piece)
        except UnicodeDecodeError as exc:  # lists are read line by line: the line is not known here
            raise InvalidInputError(
                f"not UTF-8 text (byte 0x{exc.object[exc.start]:02x}); save the list as UTF-8", file=item
            ) from None
