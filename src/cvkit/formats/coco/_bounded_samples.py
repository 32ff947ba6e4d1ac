"""Samples from the columns of a scanned COCO file (:mod:`._bounded`): the file's checks made on the columns
(unknown and repeated image ids, annotations without an image), then, a run of images at a time (a shard), each
sample built from its rows; records kept whole are read from the file and given to the format's record readers.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cvkit.core import jsonio
from cvkit.core.categories import CategorySet
from cvkit.core.model import Annotation, Sample
from cvkit.core.report import Report
from cvkit.core.splits import NO_SPLIT
from cvkit.errors import InvalidInputError
from cvkit.io import relpath_posix

from ._bounded import ScannedFile
from ._images import clean_file_name, file_name_of, image_root, planned_sample
from ._objects import add_annotations


@dataclass
class BoundedPlan:
    """One scanned file, checked as a whole and ready to be read a run of images at a time (picklable: the
    columns and the file's path; records kept whole are read from the file where the run is read)."""

    file: Path
    split: str | None
    prefix: str
    by_name: bool
    listed: bool
    names: dict[int, str]
    keypoint_names: dict[int, list[Any]]
    images: dict[str, Any]
    annotations: dict[str, Any]
    duplicates: np.ndarray  # per image position: an id seen before
    order: np.ndarray  # annotation indices, by the position of their image, in file order within an image
    starts: np.ndarray  # image position -> where its annotations start in ``order`` (one more than the images)

    @property
    def count(self) -> int:
        return len(self.images["id"])


def plan(
    scanned: ScannedFile,
    split: str | None,
    names: dict[int, str],
    categories: CategorySet,
    report: Report,
    info: dict[str, Any],
    common: Path,
) -> BoundedPlan:
    """What reading the file's samples needs: the checks :func:`._format._plan_file` makes, on the columns."""
    if scanned.planned is not None:
        return scanned.planned
    file, images, anns = scanned.file, scanned.images, scanned.annotations
    if scanned.has_info:
        info.setdefault("info", scanned.info)
    if scanned.has_licenses:
        info.setdefault("licenses", scanned.licenses)
    bad = np.flatnonzero(~anns["ok"])
    if len(bad):
        records = _read_records(file, anns["records"], bad.tolist())
        for i in bad.tolist():
            record = records[i]
            if isinstance(record, dict) and "image_id" in record:
                message, where = "image_id must be a number or a string", f"annotations[{i}].image_id"
            else:
                message, where = "annotation needs an 'image_id'", f"annotations[{i}]"
            report.invalid(InvalidInputError(message, file=file, location=where))
    ids, has_id = images["id"], images["has_id"]
    _refuse_unhashable_ids(file, images["records"], np.flatnonzero(~has_id).tolist())
    positions = np.flatnonzero(has_id)
    unique, first = np.unique(ids[positions], return_index=True)
    first_position = positions[first]
    duplicates = has_id.copy()
    duplicates[first_position] = False
    ann_image = anns.pop("image")
    ok = anns["ok"]
    found = np.searchsorted(unique, ann_image)
    found[found == len(unique)] = 0
    known = ok & (unique[found] == ann_image) if len(unique) else np.zeros(len(ann_image), bool)
    unknown = np.flatnonzero(ok & ~known)
    if len(unknown):
        missing, where = np.unique(ann_image[unknown], return_index=True)
        for k in np.argsort(where, kind="stable").tolist():
            i = int(unknown[where[k]])
            report.invalid(
                InvalidInputError(
                    f"annotation refers to unknown image id {int(missing[k])!r}",
                    file=file,
                    location=f"annotations[{i}].image_id",
                )
            )
    owner = first_position.astype(np.int32 if len(ids) < 2**31 else np.int64)[found] if len(unique) else found
    owner[~known] = -1
    del found, ann_image, known
    count = len(ids)
    order = np.argsort(owner, kind="stable")  # annotations mostly come grouped by image: sorted runs, fast
    order = order[int(np.count_nonzero(owner < 0)) :]
    starts = np.searchsorted(owner[order], np.arange(count + 1))
    del owner
    first_image = scanned.first_image
    first_name = file_name_of(first_image) if isinstance(first_image, dict) else None
    sample_split = None if split == NO_SPLIT else split
    root, by_name = image_root(
        file,
        split,
        clean_file_name(first_name, file, 0) if isinstance(first_name, str) else None,
        scanned.info or {},
        report,
    )
    prefix = relpath_posix(root, common)
    prefix = "" if prefix == "." else prefix + "/"
    keypoint_names = {
        cat.id: cat.attributes["keypoints"] for cat in categories if isinstance(cat.attributes.get("keypoints"), list)
    }
    scanned.planned = BoundedPlan(
        file,
        sample_split,
        prefix,
        by_name,
        count > 0,
        names,
        keypoint_names,
        images,
        anns,
        duplicates,
        order,
        starts,
    )
    return scanned.planned


def _refuse_unhashable_ids(file: Path, records: tuple[np.ndarray, np.ndarray, np.ndarray], wanted: list[int]) -> None:
    """An image whose id is a list or an object stops the read, as the whole-file reader does (``images[N].id``)."""
    found = _read_records(file, records, wanted) if wanted else {}
    for n in wanted:
        img = found[n]
        if isinstance(img, dict) and isinstance(img.get("id"), (list, dict)):
            raise InvalidInputError(
                f"image id must be a number or a string, got {img['id']!r}"[:200], file=file, location=f"images[{n}].id"
            )


def _read_records(file: Path, records: tuple[np.ndarray, np.ndarray, np.ndarray], wanted: list[int]) -> dict[int, Any]:
    """The records kept whole among ``wanted`` (indices in their section), parsed, by index: read in one piece
    where they lie close together (a shard's records mostly do), else one by one."""
    index, offset, length = records
    where = np.searchsorted(index, wanted)
    starts, sizes = offset[where], length[where]
    out: dict[int, Any] = {}
    if not len(where):
        return out
    low, high = int(starts.min()), int((starts + sizes).max())
    with open(file, "rb") as handle:
        if high - low <= 2 * int(sizes.sum()) + (1 << 20):
            handle.seek(low)
            span = handle.read(high - low)
            for i, start, size in zip(wanted, (starts - low).tolist(), sizes.tolist()):
                out[i] = jsonio.loads(span[start : start + size])
        else:
            for i, start, size in zip(wanted, starts.tolist(), sizes.tolist()):
                handle.seek(start)
                out[i] = jsonio.loads(handle.read(size))
    return out


def samples(plan_: BoundedPlan, positions: range, common: Path, report: Report) -> Iterator[Sample]:
    """The samples of the images at ``positions`` (consecutive), as :func:`._format._plan_samples` gives them."""
    file, images, anns = plan_.file, plan_.images, plan_.annotations
    lo, hi = positions.start, positions.stop
    first, last = int(plan_.starts[lo]), int(plan_.starts[hi])
    picked = plan_.order[first:last]
    whole = anns["whole"][picked]
    records = _read_records(file, anns["records"], picked[whole].tolist()) if whole.any() else {}
    whole_images = np.flatnonzero(images["whole"][lo:hi]) + lo
    image_records = _read_records(file, images["records"], whole_images.tolist()) if len(whole_images) else {}
    ann_ids = anns["id"][picked].tolist()
    categories = anns["category"][picked].tolist()
    boxes = anns["bbox"][picked].tolist()
    crowd = anns["crowd"][picked].tolist()
    area_float = anns["area"][picked]
    area_int = anns["area_int"][picked]
    areas: list[Any] = area_float.tolist()
    if area_int.any():
        for k, exact in zip(np.flatnonzero(area_int).tolist(), area_float[area_int].astype(np.int64).tolist()):
            areas[k] = exact
    whole_list = whole.tolist()
    picked_list = picked.tolist()
    ids, sizes, names = images["id"], images["size"], images["names"]
    starts = plan_.starts
    duplicates = plan_.duplicates
    label_of = plan_.names
    for n in range(lo, hi):
        img = image_records.get(n)
        if img is None:
            width, height = sizes[n].tolist()
            img = {"id": int(ids[n]), "file_name": names[n], "width": width, "height": height}
        sample = planned_sample(img, n, plan_, bool(duplicates[n]), common, report)
        if sample is None:
            continue
        objects = sample.objects
        for k in range(int(starts[n]) - first, int(starts[n + 1]) - first):
            if whole_list[k]:
                i = picked_list[k]
                add_annotations(sample, [i], records, label_of, False, file, report, plan_.keypoint_names)  # type: ignore[arg-type]
                continue
            label = label_of.get(categories[k])
            if label is None:
                report.invalid(
                    InvalidInputError(
                        f"unknown category id {categories[k]!r}",
                        file=file,
                        location=f"annotations[{picked_list[k]}].category_id",
                    )
                )
                continue
            x, y, w, h = boxes[k]
            objects.append(
                Annotation(
                    label,
                    (x, y, w, h),
                    "box",
                    None,
                    None,
                    None,
                    None,
                    crowd[k],
                    None,
                    ann_ids[k],
                    None,
                    {},
                    {"coco": {"area": areas[k]}},
                )
            )
        report.count_read(sample.split, len(sample.objects))
        yield sample


def read_shard(
    source: tuple[BoundedPlan, Path], positions: range, categories: CategorySet, report: Report
) -> Iterator[Sample]:
    """A shard's samples (:class:`~cvkit.core.model.Shard`): the images at ``positions`` of one scanned file."""
    plan_, common = source
    return samples(plan_, positions, common, report)


def all_samples(plan_: BoundedPlan, common: Path, report: Report, run: int) -> Iterator[Sample]:
    """Every sample of the file, read ``run`` images at a time."""
    for start in range(0, plan_.count, run):
        yield from samples(plan_, range(start, min(start + run, plan_.count)), common, report)
