"""Where the images of a COCO file are, part of the ``coco`` format.

``file_name`` is relative to a folder no field names: ``images/<split>/`` or ``images/`` (datumaro,
CVAT, Label Studio), ``data/`` (FiftyOne), the split folder (Roboflow), the JSON's folder, or
``info.image_root`` (cvkit). The first image decides for the whole file. Real exports also hold
names that lead nowhere on this machine: Windows separators (Label Studio on Windows writes
``images\\x.png``), Label Studio's own URLs (``/data/upload/4/x.png``), paths into its media
folder (``..\\..\\label-studio\\media\\upload\\4\\x.png``) or detectron2's absolute paths; when the
first image is found by its file name alone, every image is looked up that way (with a warning).
LVIS names images by ``coco_url`` alone. Images without ``width``/``height`` get them from the image header, when read
and when written.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from cvkit.core import validate_values
from cvkit.core.imageinfo import fill_size_from_header, known_size
from cvkit.core.model import Sample
from cvkit.core.report import Report
from cvkit.errors import InvalidInputError

#: folders beside the annotations that hold the images, in the order they are tried
IMAGE_FOLDERS = ("images", "data")
#: keys of an ``images[]`` entry that the sample holds in its own fields
IMAGE_KEYS = ("id", "file_name", "width", "height", "attributes")


def file_name_of(img: dict[str, Any]) -> Any:
    """``file_name``; LVIS images have only ``coco_url``: its last two parts (``val2017/x.jpg``), as detectron2's
    and mmdetection's LVIS loaders take it."""
    name = img.get("file_name")
    if name is None and isinstance(img.get("coco_url"), str):
        return "/".join(img["coco_url"].rsplit("/", 2)[-2:])
    return name


def clean_file_name(file_name: Any, file: Path, n: int) -> str:
    """``file_name`` with forward slashes; an error naming ``images[n].file_name`` when it is no string."""
    if not isinstance(file_name, str):
        raise InvalidInputError(
            f"file_name must be a string, got {file_name!r}", file=file, location=f"images[{n}].file_name"
        )
    return file_name.replace("\\", "/") if "\\" in file_name else file_name


def image_root(
    json_file: Path, split: str | None, first_file_name: str | None, info: dict[str, Any], report: Report
) -> tuple[Path, bool]:
    """(folder ``file_name`` is relative to, whether only its last part names the image): see the module docstring."""
    base = json_file.parent.parent if json_file.parent.name == "annotations" else json_file.parent
    candidates = [base / "images" / split, base / split] if split else []
    candidates += [base / folder for folder in IMAGE_FOLDERS] + [base, json_file.parent]
    if isinstance(info.get("image_root"), str):
        candidates.append(Path(info["image_root"]))
    if first_file_name:
        for folder in candidates:
            if (folder / first_file_name).is_file():
                return folder, False
        name = first_file_name.rsplit("/", 1)[-1]
        for folder in candidates if "/" in first_file_name else ():  # the last part alone, when there is more
            if (folder / name).is_file():
                shown = os.path.relpath(folder, base).replace(os.sep, "/")
                report.warn(
                    f"{json_file.name}: file_name values do not lead to the images (e.g. {first_file_name!r}); "
                    f"images are found by their file name in {shown}/"
                )
                return folder, True
    return next((c for c in candidates if c.is_dir() and c != base), base), False


def common_root(files: list[Path]) -> Path:
    """The folder the annotation files share (Roboflow's split folders: the export's root)."""
    bases = [f.parent.parent if f.parent.name == "annotations" else f.parent for f in files]
    return bases[0] if all(b == bases[0] for b in bases) else Path(os.path.commonpath([b.absolute() for b in bases]))


def fill_size(sample: Sample, root: Path, report: Report) -> None:
    """Missing, null or zero width/height: read from the image header (never decoding the image)."""
    fill_size_from_header(
        sample,
        sample.resolve(root),
        report,
        "some COCO images have no width/height and no readable image file; their size stays unknown",
    )


def written_size(sample: Sample, root: Path | None, report: Report) -> tuple[int, int]:
    """The ``width``/``height`` to write: the sample's, else the image header's, else 0 x 0 with a warning
    (mmdetection drops an image of size 0 and clips its boxes to nothing; detectron2 refuses the mismatch)."""
    size = known_size(sample, root)
    if size is None:
        report.warn("some images have no known size and no readable file; their width and height are written as 0")
    return size or (0, 0)


def image_sample(img: Any, n: int, file: Path, split: str | None, prefix: str, by_name: bool) -> Sample:
    """One ``images[]`` entry; ``prefix`` makes file_name relative to the dataset root (``by_name``: its last part)."""
    file_name = file_name_of(img) if isinstance(img, dict) else None
    if file_name is None or "id" not in img:
        raise InvalidInputError("image needs 'id' and 'file_name'", file=file, location=f"images[{n}]")
    extra = {k: v for k, v in img.items() if k not in IMAGE_KEYS}
    file_name = clean_file_name(file_name, file, n)
    if by_name:
        file_name = file_name.rsplit("/", 1)[-1]
    path = file_name if file_name.startswith("/") else prefix + file_name
    attributes = img.get("attributes")
    if attributes is not None and not isinstance(attributes, dict):
        extra["attributes"] = attributes  # not datumaro's mapping: kept as it was
    width, height = validate_values.image_size(img.get("width"), img.get("height"), file, f"images[{n}]")
    return Sample(
        path=path,
        width=width,
        height=height,
        split=split,
        id=img["id"],
        attributes=dict(attributes) if isinstance(attributes, dict) else {},
        meta={"coco": extra} if extra else {},
    )


def planned_sample(img: Any, n: int, plan: Any, duplicate: bool, common: Path, report: Report) -> Sample | None:
    """``images[n]`` as a sample of a checked plan (``file``, ``split``, ``prefix``, ``by_name``, ``listed``: the
    whole-file reader's and the bounded reader's), None when it is invalid or repeats an image id (both reported)."""
    try:
        sample = image_sample(img, n, plan.file, plan.split, plan.prefix, plan.by_name)
    except InvalidInputError as exc:
        report.invalid(exc)
        return None
    if duplicate:
        report.invalid(
            InvalidInputError(
                f"duplicate image id {sample.id!r} (its annotations belong to the first image with it)",
                file=plan.file,
                location=f"images[{n}].id",
            )
        )
        return None
    if plan.listed and (sample.width is None or sample.height is None):
        fill_size(sample, common, report)
    return sample
