"""KITTI object detection: ``label_2/<frame>.txt`` beside ``image_2/`` (and ``calib/``), reader and writer.

A label line is ``type truncated occluded alpha left top right bottom h w l x y z rotation_y [score]``
(the KITTI object devkit's readme). The box corners are continuous pixel coordinates (floats such as
``712.40``; the devkit's evaluation measures overlap as ``x2 - x1`` without a +1), so the box is
``(left, top, right - left, bottom - top)``: docs/coordinates.md, "KITTI". The other fields become object
attributes under FiftyOne's KITTI names (``truncated``, ``occluded``, ``alpha``, ``dimensions`` [h, w, l],
``location`` [x, y, z], ``rotation_y``) except where they hold KITTI's "not given" value (-1, -1, -10,
[-1, -1, -1], [-1000, -1000, -1000], -10), which the writer puts back. ``DontCare`` regions stay objects of
class ``DontCare`` (as the devkit, datumaro and FiftyOne keep them): evaluation ignores detections there, so
they are kept rather than dropped; ``cvkit remap`` can drop them.
A split is the folder holding ``label_2`` (``training``, ``testing``) when it is not the dataset folder itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from cvkit.core.categories import CategorySet
from cvkit.core.imageinfo import IMAGE_EXTENSIONS, read_image_info
from cvkit.core.model import Annotation, Dataset, Sample, Shard
from cvkit.core.progress import track
from cvkit.core.report import Report
from cvkit.core.shards import read_here, shards_of
from cvkit.errors import InvalidInputError
from cvkit.io import files_in, folders_in, read_utf8_text

from ._common import NOT_GIVEN
from ._writer import write

__all__ = ["NOT_GIVEN", "detect", "parse_line", "read", "write"]

LABELS, IMAGES, CALIB = "label_2", "image_2", "calib"


def _split_roots(path: Path) -> list[Path]:
    """Folders holding ``label_2``: the dataset folder itself or its split folders (``training``, ``testing``)."""
    if (path / LABELS).is_dir():
        return [path]
    return sorted(path / name for name in folders_in(path) if (path / name / LABELS).is_dir())


def detect(path: Path) -> str | None:
    """A folder with ``label_2/*.txt`` (or split folders holding one) whose first line has KITTI's 15 or 16 fields."""
    if not path.is_dir():
        return None
    for root in _split_roots(path):
        first = files_in(root / LABELS, ".txt", limit=1)
        if first:
            lines = read_utf8_text(first[0]).split("\n", 1)
            if not lines[0].strip() or len(lines[0].split()) in (15, 16):
                return f"KITTI object labels ({root.name}/{LABELS}/{first[0].name})"
    return None


def _number(text: str, file: Path, line: int, field: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise InvalidInputError(f"{field} must be a number, got {text!r}", file=file, location=f"line {line}") from None


def parse_line(text: str, file: Path, line: int) -> Annotation:
    """One label line as an object; an error names the file, the line and the field."""
    fields = text.split()
    if len(fields) not in (15, 16):
        raise InvalidInputError(
            f"expected 15 fields (16 with a score), got {len(fields)}", file=file, location=f"line {line}"
        )
    names = (
        "truncated",
        "occluded",
        "alpha",
        "left",
        "top",
        "right",
        "bottom",
        "height",
        "width",
        "length",
        "x",
        "y",
        "z",
        "rotation_y",
        "score",
    )
    values = [_number(value, file, line, name) for value, name in zip(fields[1:], names, strict=False)]
    left, top, right, bottom = values[3:7]
    if right < left or bottom < top:
        raise InvalidInputError(
            f"box right/bottom ({right}, {bottom}) before left/top ({left}, {top})", file=file, location=f"line {line}"
        )
    occluded = values[1]
    if occluded != int(occluded) or not -1 <= occluded <= 3:
        raise InvalidInputError(
            f"occluded must be 0, 1, 2, 3 (or -1), got {fields[2]!r}", file=file, location=f"line {line}"
        )
    found = {
        "truncated": values[0],
        "occluded": int(occluded),
        "alpha": values[2],
        "dimensions": values[7:10],
        "location": values[10:13],
        "rotation_y": values[13],
    }
    attributes = {key: value for key, value in found.items() if value != NOT_GIVEN[key]}
    return Annotation(
        fields[0],
        (left, top, right - left, bottom - top),
        score=values[14] if len(values) == 15 else None,
        attributes=attributes,
    )


def _image_of(root: Path, stem: str) -> Path | None:
    for suffix in IMAGE_EXTENSIONS:
        candidate = root / IMAGES / (stem + suffix)
        if candidate.is_file():
            return candidate
    return None


def _read_shard(
    root_path: Path, run: list[tuple[Path, Path]], categories: CategorySet, report: Report
) -> Iterator[Sample]:
    """A shard's samples (:class:`~cvkit.core.model.Shard`): a run of ``(split folder, label file)``, parsed here."""
    for root, file in run:
        split = None if root == root_path else root.name
        objects = []
        for number, text in enumerate(read_utf8_text(file).splitlines(), start=1):
            if not text.strip():
                continue
            try:
                obj = parse_line(text, file, number)
            except InvalidInputError as err:
                report.invalid(err)
                continue
            categories.ensure(obj.label)
            objects.append(obj)
        image = _image_of(root, file.stem)
        relative = root.relative_to(root_path).as_posix()
        prefix = "" if relative == "." else relative + "/"
        sample = Sample(f"{prefix}{IMAGES}/{file.stem}.png", split=split, objects=objects, id=file.stem)
        if image is None:
            report.warn(f"some KITTI label files have no image in {IMAGES}/; their sizes are unknown")
        else:
            sample.path = f"{prefix}{IMAGES}/{image.name}"
            info = read_image_info(image)
            sample.width, sample.height = info.width, info.height
        calib = root / CALIB / file.name
        if calib.is_file():
            sample.meta["kitti"] = {"calib": f"{prefix}{CALIB}/{file.name}"}
        report.count_read(split, len(objects))
        yield sample


def read(path: Path, report: Report) -> Dataset:
    """Read a KITTI object folder (``label_2``/``image_2``, or ``training``/``testing`` holding them); runs of label
    files are shards."""
    roots = _split_roots(path)
    if not roots:
        raise InvalidInputError(f"no {LABELS}/ folder here or in a split folder (training/, testing/)", file=path)
    categories = CategorySet()

    def shards(_workers: int) -> list[Shard]:
        return shards_of(
            _read_shard, path, [(root, file) for root in roots for file in files_in(root / LABELS, ".txt")]
        )

    return Dataset(
        track(read_here(shards, categories, report), "reading KITTI labels"),
        categories,
        root=path,
        source_format="kitti",
        shards=shards,
    )
