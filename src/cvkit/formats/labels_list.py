"""Image-level label lists: a multi-label CSV and the plain "path label" text list.

Forms read and written:

- ``*.csv`` with a header ``ImageId,labels`` (also ``image``/``filename``/``path`` and
  ``label``/``tags``); labels separated by ``|`` when the cell has one, else by spaces;
  an optional ``split`` column. An ImageId without a suffix is looked up as ``ID.<ext>``.
- ``*.txt``: ``path label [label ...]`` a line (datumaro's ``imagenet_txt``). With a
  ``synsets.txt`` (or ``-r synsets=PATH``: one class name a line) numeric labels are indices
  into it; otherwise labels are names.
- a folder (datumaro ``imagenet_txt``): ``<split>.txt`` lists, ``synsets.txt``, images under
  ``images/`` (``default.txt`` means no split).

Image paths are relative to ``-r images=DIR``, else ``images/`` beside the list when it exists,
else the list's folder. Listed images that do not exist are kept with a warning
(``-r missing=skip`` leaves them out as not represented, ``missing=error`` fails).
Category ids are the synsets line number + 1, else 1.. in order of first use.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cvkit.core.categories import Category, CategorySet
from cvkit.core.imageinfo import IMAGE_EXTENSIONS, find_image, read_image_info
from cvkit.core.model import Dataset, Sample
from cvkit.core.report import Report
from cvkit.errors import CvkitError, InvalidInputError
from cvkit.io import atomic_file, place_image, relpath_posix

ID_COLUMNS = ("imageid", "image_id", "image", "filename", "file", "path", "id", "name")
LABEL_COLUMNS = ("labels", "label", "tags", "classes", "class")
SPLITS = ("train", "val", "valid", "validation", "test")
SYNSET_NAMES = ("synsets.txt", "labels.txt")
READ_OPTIONS = ("images", "synsets", "sizes", "missing", "split")
WRITE_OPTIONS = ("images",)


def _is_image(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


def _csv_columns(header: list[str]) -> tuple[int, int, int | None] | None:
    """Positions of the id, labels and (optional) split columns, None when not such a header."""
    names = [h.strip().lower() for h in header]
    ident = next((i for i, n in enumerate(names) if n in ID_COLUMNS), None)
    labels = next((i for i, n in enumerate(names) if n in LABEL_COLUMNS), None)
    if ident is None or labels is None:
        return None
    return ident, labels, names.index("split") if "split" in names else None


def _is_list_file(path: Path) -> bool:
    """A text file whose first line looks like ``image.jpg label``."""
    try:
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                if line.strip():
                    tokens = line.split()
                    return len(tokens) >= 1 and _is_image(tokens[0])
    except (UnicodeDecodeError, OSError):
        return False
    return False


def _list_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.txt") if p.name not in SYNSET_NAMES and "synsets" not in p.name and _is_list_file(p))


def detect(path: Path) -> str | None:
    if path.is_file() and path.suffix.lower() == ".csv":
        with open(path, encoding="utf-8", errors="replace") as handle:
            header = next(csv.reader(io.StringIO(handle.readline())), [])
        return "a CSV with ImageId and labels columns" if _csv_columns(header) else None
    if path.is_file() and path.suffix.lower() == ".txt":
        return "a text list of 'image label' lines" if _is_list_file(path) else None
    darknet = any((path / name).is_file() for name in ("obj.data", "obj.names", "data.yaml", "classes.txt")) if path.is_dir() else False
    if path.is_dir() and not darknet and _list_files(path):  # darknet's train.txt is a bare image list, not labels
        return "'image label' lists (imagenet_txt layout)"
    return None


def _read_synsets(path: Path) -> list[str]:
    names = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    return [n for n in names if n]


class _Context:
    """What every list of one read shares: options, categories, the synset names."""

    def __init__(self, path: Path, report: Report, options: dict[str, Any]):
        self.report = report
        folder = path if path.is_dir() else path.parent
        #: the dataset root; images are looked for in ``images/`` first, then beside the list
        self.root = Path(options["images"]) if options.get("images") else folder
        self.places = [self.root] if options.get("images") else [p for p in (folder / "images", folder) if p.is_dir()]
        self.sizes = str(options.get("sizes", False)).lower() in ("true", "1", "yes")
        self.missing = str(options.get("missing", "keep"))
        if self.missing not in ("keep", "skip", "error"):
            raise CvkitError(f"option missing must be keep, skip or error (got {self.missing!r})")
        self.split = options.get("split")
        synsets_path = Path(options["synsets"]) if options.get("synsets") else next((folder / n for n in SYNSET_NAMES if (folder / n).is_file()), None)
        if synsets_path is None:
            found = sorted(folder.glob("*synsets*.txt"))
            synsets_path = found[0] if len(found) == 1 else None
        if synsets_path is not None and not synsets_path.is_file():
            raise CvkitError("synsets file not found", file=synsets_path)
        self.synsets = _read_synsets(synsets_path) if synsets_path else None
        self.synsets_path = synsets_path
        self.categories = CategorySet(Category(i + 1, n) for i, n in enumerate(dict.fromkeys(self.synsets or [])))
        self.missing_count = 0

    def label(self, token: str, file: Path, location: str) -> str:
        if self.synsets is not None and token.isdigit():
            index = int(token)
            if index >= len(self.synsets):
                where = self.synsets_path.name if self.synsets_path else "the synsets"
                raise InvalidInputError(f"label index {index} is beyond the {len(self.synsets)} names of {where}", file=file, location=location)
            return self.synsets[index]
        if self.synsets is None and token.isdigit():
            self.report.warn("no synsets.txt: numeric labels are used as class names (-r synsets=PATH names them)")
        self.categories.ensure(token)
        return token

    def image_path(self, ident: str) -> tuple[str, bool]:
        """The image's path relative to the dataset root, and whether it exists."""
        for place in self.places:
            if _is_image(ident):
                found: Path | None = place / ident if (place / ident).is_file() else None
            else:
                found = find_image(place / os.path.dirname(ident), os.path.basename(ident))
            if found is not None:
                return relpath_posix(found, self.root), True
        return relpath_posix(self.places[0] / ident, self.root), False

    def sample(self, ident: str, labels: list[str], split: str | None, file: Path, location: str) -> Sample | None:
        rel, exists = self.image_path(ident)
        if not exists:
            self.missing_count += 1
            if self.missing == "error":
                self.report.invalid(InvalidInputError(f"listed image {rel} does not exist under {self.root}", file=file, location=location))
                return None
            if self.missing == "skip":
                self.report.lose("listed image that does not exist", "left out (-r missing=skip)")
                return None
        sample = Sample(rel, split=self.split or split, labels=labels)
        if self.sizes and exists:
            try:
                info = read_image_info(self.root / rel)
                sample.width, sample.height = info.width, info.height
            except InvalidInputError as err:
                self.report.invalid(err)
        self.report.count_read(sample.split, 0)
        return sample


def _split_of(path: Path) -> str | None:
    return path.stem if path.stem.lower() in SPLITS else None


def _read_txt(path: Path, ctx: _Context) -> Iterator[Sample]:
    split = _split_of(path)
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
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


def _read_csv(path: Path, ctx: _Context) -> Iterator[Sample]:
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader, [])
        columns = _csv_columns(header)
        if columns is None:
            raise InvalidInputError(f"expected a header with an image column ({', '.join(ID_COLUMNS[:3])}) and a labels column, got {','.join(header)!r}",
                                    file=path, location="line 1")
        ident_col, labels_col, split_col = columns
        width = len(header)
        for number, row in enumerate(reader, start=2):
            if not row or not "".join(row).strip():
                continue
            location = f"line {number}"
            if len(row) != width:
                ctx.report.invalid(InvalidInputError(f"expected {width} fields ({','.join(header)}), got {len(row)}", file=path, location=location))
                continue
            cell = row[labels_col].strip()
            tokens = cell.split("|") if "|" in cell else cell.split()
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


def read(path: Path, report: Report, **options: Any) -> Dataset:
    path = Path(path)
    ctx = _Context(path, report, options)
    if path.is_dir():
        lists = _list_files(path) + sorted(p for p in path.glob("*.csv") if detect(p))
        if not lists:
            raise CvkitError("no label lists here (expected <split>.txt lines 'image label' or an ImageId,labels CSV)", file=path)
    else:
        lists = [path]

    def samples() -> Iterator[Sample]:
        for item in lists:
            yield from (_read_csv(item, ctx) if item.suffix.lower() == ".csv" else _read_txt(item, ctx))
        if ctx.missing_count and ctx.missing == "keep":
            report.warn(f"{ctx.missing_count} listed image(s) do not exist under {ctx.root} (kept; -r missing=skip leaves them out)")

    return Dataset(samples(), ctx.categories, root=ctx.root, source_format="labels")


# --- writing ---------------------------------------------------------------------------------
def _image_ref(sample: Sample, dataset: Dataset, base: Path, mode: str, used: set[str]) -> str:
    """Where the list points for ``sample``: placed under ``base/images`` or referenced in place."""
    source = sample.resolve(dataset.root)
    if mode == "reference":
        return relpath_posix(os.path.abspath(source), os.path.abspath(base))
    name = Path(sample.path).name
    target, number = name, 1
    while target in used:
        number += 1
        stem, ext = os.path.splitext(name)
        target = f"{stem}-{number}{ext}"
    used.add(target)
    place_image(source, base / "images" / target, mode)
    return f"images/{target}"


def _check_labels(sample: Sample, report: Report) -> None:
    if sample.objects:
        report.lose("object annotations", "a label list holds image-level labels only", len(sample.objects))
    report.lose_image_attributes(sample.attributes, "a label list")


def write(dataset: Dataset, path: Path, report: Report, **options: Any) -> None:
    """A CSV (``.csv``), a text list (``.txt``) or a folder of ``<split>.txt`` + ``synsets.txt``."""
    mode = options.get("images") or "reference"
    suffix = path.suffix.lower()
    base = path.parent if suffix in (".csv", ".txt") else path
    used: set[str] = set()
    rows = []
    for sample in dataset:
        _check_labels(sample, report)
        rows.append((_image_ref(sample, dataset, base, mode, used), list(dict.fromkeys(sample.labels)), sample.split))
        report.count_written(sample.split, 0)
    names = list(dict.fromkeys([c.name for c in dataset.categories] + [label for _r, labels, _s in rows for label in labels]))
    report.written.categories = len(names)
    if suffix == ".csv":
        _write_csv(path, rows)
    elif suffix == ".txt":
        _write_txt_list(path, rows, report)
    else:
        _write_folder(path, rows, names, placed=mode != "reference")


def _write_csv(path: Path, rows: list[tuple[str, list[str], str | None]]) -> None:
    with_split = any(split for _r, _l, split in rows)
    pipe = any(any(c.isspace() for c in label) for _r, labels, _s in rows for label in labels)
    with atomic_file(path) as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["ImageId", "labels", "split"] if with_split else ["ImageId", "labels"])
        for ref, labels, split in rows:
            cell = ("|" if pipe else " ").join(labels)
            writer.writerow([ref, cell, split or ""] if with_split else [ref, cell])


def _write_txt_list(path: Path, rows: list[tuple[str, list[str], str | None]], report: Report) -> None:
    for _r, labels, _s in rows:
        for label in labels:
            if any(c.isspace() for c in label):
                raise CvkitError(f"label {label!r} has spaces, which a 'path label' list cannot hold; write a .csv or a folder")
    splits = {s for _r, _l, s in rows if s}
    if splits:
        report.lose("split", "a single 'path label' list has no split column; write a .csv or a folder for one list per split", len(rows))
    with atomic_file(path) as handle:
        for ref, labels, _split in rows:
            if any(c.isspace() for c in ref):
                raise CvkitError(f"image path {ref!r} has spaces, which a 'path label' list cannot hold; write a .csv")
            handle.write(" ".join([ref, *labels]) + "\n")


def _write_folder(path: Path, rows: list[tuple[str, list[str], str | None]], names: list[str], placed: bool) -> None:
    index = {name: i for i, name in enumerate(names)}
    path.mkdir(parents=True, exist_ok=True)
    (path / "synsets.txt").write_text("".join(n + "\n" for n in names), encoding="utf-8")
    by_split: dict[str, list[str]] = {}
    for ref, labels, split in rows:
        if any(c.isspace() for c in ref):
            raise CvkitError(f"image path {ref!r} has spaces, which a 'path label' list cannot hold; write a .csv")
        line = " ".join([ref.removeprefix("images/") if placed else ref, *(str(index[label]) for label in labels)])
        by_split.setdefault(split or "default", []).append(line + "\n")
    for split, lines in by_split.items():
        (path / f"{split}.txt").write_text("".join(lines), encoding="utf-8")
