"""Writing CVAT for images 1.1 (``annotations.xml``), as CVAT's own exporter lays it out and its importer reads it.

Images are written as they stream; ``<meta>`` (labels with colours and attribute specs, skeleton points, the
project's subsets) comes first in the file but is only known at the end, so the images go to a temporary file
that is appended after it. Splits become the ``subset`` of each ``<image>`` in a project-style ``<meta>``.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any

from cvkit.core.categories import CategorySet
from cvkit.core.geometry import ELLIPSE, ROTATED_BOX, ellipse_polygon, rotated_box_corners, same_points
from cvkit.core.imageinfo import known_size
from cvkit.core.masks import decode
from cvkit.core.model import Annotation, Dataset, Sample
from cvkit.core.report import Report
from cvkit.core.shards import Pipeline
from cvkit.errors import CvkitError
from cvkit.formats.cvat._meta_writer import meta_element
from cvkit.io import atomic_file, file_or_folder_images, place_image

TARGET = "CVAT"


class _Labels:
    """What the objects used, for ``<meta>``: labels in order, attribute values seen, skeleton point names."""

    def __init__(self) -> None:
        self.used: dict[str, None] = {}
        self.values: dict[str, dict[str, list[Any]]] = {}
        self.skeletons: dict[str, list[str]] = {}

    def skeleton(self, label: str, names: list[str]) -> None:
        self.skeletons.setdefault(label, names)

    def note(self, label: str, attributes: dict[str, Any]) -> None:
        self.used.setdefault(label, None)
        seen = self.values.setdefault(label, {})
        for key, value in attributes.items():
            if value not in seen.setdefault(key, []) and len(seen[key]) < 50:
                seen[key].append(value)


class _NoteLog:
    """What one image's objects used, noted where it is encoded and replayed into the write's :class:`_Labels`."""

    def __init__(self) -> None:
        self.log: list[tuple[str, str, Any]] = []

    def skeleton(self, label: str, names: list[str]) -> None:
        self.log.append(("skeleton", label, names))

    def note(self, label: str, attributes: dict[str, Any]) -> None:
        self.log.append(("note", label, attributes))


def _number(value: float, precision: int) -> str:
    return f"{value:.{precision}f}"


def _points(flat: list[float], precision: int) -> str:
    return ";".join(f"{_number(x, precision)},{_number(y, precision)}" for x, y in zip(flat[0::2], flat[1::2]))


def _attribute_text(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def _mask_fields(rle: dict[str, Any]) -> dict[str, str] | None:
    """CVAT's ``rle left top width height`` of a COCO RLE: runs (0s first) over the mask's tight box, row order."""
    import numpy as np

    mask = decode(rle).astype(bool)
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if not len(rows):
        return None
    top, bottom, left, right = int(rows[0]), int(rows[-1]), int(cols[0]), int(cols[-1])
    flat = mask[top : bottom + 1, left : right + 1].ravel()
    change = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    bounds = np.concatenate(([0], change, [flat.size]))
    counts = np.diff(bounds).tolist()
    if flat[0]:
        counts.insert(0, 0)
    return {
        "rle": ", ".join(str(c) for c in counts),
        "left": str(left),
        "top": str(top),
        "width": str(right - left + 1),
        "height": str(bottom - top + 1),
    }


def _common(obj: Annotation, attributes: dict[str, Any], group: int | None) -> dict[str, str]:
    out = {
        "label": obj.label,
        "source": str(obj.meta.get("cvat", {}).get("source", "manual")),
        "occluded": "1" if attributes.pop("occluded", False) is True else "0",
    }
    return out | ({"group_id": str(group)} if group else {})


def _shape_elements(
    obj: Annotation, precision: int, report: Report, groups: _Groups
) -> list[tuple[str, dict[str, str]]]:
    """(tag, XML attributes) of the element(s) one object becomes; empty when CVAT cannot hold it (reported)."""
    n = lambda v: _number(v, precision)  # noqa: E731
    shape, meta = obj.shape, obj.meta
    if shape == "polygon" and obj.polygon:
        rotated, ellipse = meta.get(ROTATED_BOX), meta.get(ELLIPSE)
        if rotated and len(obj.polygon) == 1 and same_points(obj.polygon[0], rotated_box_corners(*rotated)):
            cx, cy, w, h, degrees = rotated
            fields = {"xtl": n(cx - w / 2), "ytl": n(cy - h / 2), "xbr": n(cx + w / 2), "ybr": n(cy + h / 2)}
            return [("box", fields | ({"rotation": n(degrees % 360)} if degrees % 360 else {}))]
        if ellipse and len(obj.polygon) == 1 and same_points(obj.polygon[0], ellipse_polygon(*ellipse)):
            cx, cy, rx, ry, degrees = ellipse
            return [
                (
                    "ellipse",
                    {"cx": n(cx), "cy": n(cy), "rx": n(rx), "ry": n(ry)}
                    | ({"rotation": n(degrees % 360)} if degrees % 360 else {}),
                )
            ]
        parts = [p for p in obj.polygon if len(p) >= 6]
        if len(parts) < len(obj.polygon):
            report.lose(
                "polygon part with fewer than 3 points",
                "CVAT polygons need 3 points; part dropped",
                len(obj.polygon) - len(parts),
            )
        if len(parts) > 1:
            groups.need(obj)
        return [("polygon", {"points": _points(p, precision)}) for p in parts]
    if shape == "mask" and obj.rle is not None:
        fields = _mask_fields(obj.rle)
        if fields is None:
            report.lose("empty mask", "a mask with no pixels has no CVAT shape; dropped")
            return []
        return [("mask", fields)]
    if shape in ("line", "linestrip") and obj.points and len(obj.points) >= 4:
        return [("polyline", {"points": _points(obj.points, precision)})]
    if shape == "point" and obj.points:
        return [("points", {"points": _points(obj.points, precision)})]
    if shape == "circle" and obj.points and len(obj.points) >= 4:
        cx, cy, px, py = obj.points[:4]
        r = ((px - cx) ** 2 + (py - cy) ** 2) ** 0.5
        return [("ellipse", {"cx": n(cx), "cy": n(cy), "rx": n(r), "ry": n(r)})]
    if shape == "keypoints" and obj.keypoints:
        return [("skeleton", {})]
    box = obj.bbox if obj.bbox is not None else obj.ensure_bbox()
    if box is None:
        report.lose(f"{shape} shape", "no geometry CVAT can hold; dropped")
        return []
    if shape not in ("box",):
        report.lose(shape if shape != "polygon" else "polygon", "written to CVAT as its bounding box")
    x, y, w, h = box
    return [("box", {"xtl": n(x), "ytl": n(y), "xbr": n(x + w), "ybr": n(y + h)})]


class _Groups:
    """Group ids for the several elements of one object (a multi-part polygon), unused in the image."""

    def __init__(self, objects: list[Annotation]):
        self.used = {o.group for o in objects if o.group is not None}
        self.pending: Annotation | None = None

    def need(self, obj: Annotation) -> None:
        self.pending = obj

    def of(self, obj: Annotation) -> int | None:
        if obj.group is not None or self.pending is not obj:
            return obj.group
        new = max(self.used, default=0) + 1
        self.used.add(new)
        return new


def _skeleton_children(obj: Annotation, names: list[str], precision: int) -> list[Any]:
    from lxml import etree

    out = []
    keypoints = obj.keypoints or []
    for i, name in enumerate(names):
        x, y, v = keypoints[3 * i : 3 * i + 3] if 3 * i + 2 < len(keypoints) else (0.0, 0.0, 0.0)
        el = etree.Element(
            "points",
            {
                "label": name,
                "source": "manual",
                "outside": "1" if v == 0 else "0",
                "occluded": "1" if v == 1 else "0",
                "points": _points([x, y], precision),
            },
        )
        out.append(el)
    return out


def _keypoint_names(obj: Annotation, categories: CategorySet) -> list[str]:
    category = categories.get(obj.label)
    names = category.attributes.get("keypoints") if category is not None else None
    count = len(obj.keypoints or []) // 3
    if isinstance(names, list) and len(names) == count:
        return [str(v) for v in names]
    recorded = obj.meta.get("cvat", {}).get("keypoint_names")
    return (
        list(recorded) if isinstance(recorded, list) and len(recorded) == count else [str(i + 1) for i in range(count)]
    )


@dataclass(frozen=True, slots=True)
class _Options:
    precision: int
    skeletons: bool


def _image_element(
    sample: Sample,
    index: int | str,
    name: str,
    size: tuple[int, int] | None,
    labels: _Labels | _NoteLog,
    categories: CategorySet,
    options: _Options,
    report: Report,
    task_id: int | str = 0,
) -> tuple[Any, int]:
    from lxml import etree

    fields = {"id": str(index), "name": name}
    if sample.split:  # a project export's image: its subset and the task (one per subset) holding it
        fields["subset"], fields["task_id"] = sample.split, str(task_id)
    if size:
        fields["width"], fields["height"] = str(size[0]), str(size[1])
    image = etree.Element("image", fields)
    groups = _Groups(sample.objects)
    written = 0
    for obj in sample.objects:
        report.lose_object_extras(obj, TARGET, holds=("attributes", "keypoints"))
        if options.skeletons and obj.keypoints and obj.shape != "keypoints":
            elements = [("skeleton", {})]
            report.lose(
                f"{obj.shape} of a keypoint object",
                "a CVAT skeleton label labels no other shape; written as its skeleton",
            )
        else:
            elements = _shape_elements(obj, options.precision, report, groups)
        if not elements:
            continue
        if obj.keypoints and elements[0][0] != "skeleton":
            report.lose(
                "keypoints",
                "CVAT keeps keypoints in skeletons, which label no box; written without them (-w keypoints=skeleton)",
            )
        attributes = dict(obj.attributes)
        common = _common(obj, attributes, groups.of(obj))
        labels.note(obj.label, {k: v for k, v in attributes.items()})
        z_order = str(obj.meta.get("cvat", {}).get("z_order", 0))
        for tag, geometry in elements:
            el = etree.SubElement(image, tag, common | geometry | {"z_order": z_order})
            if tag == "skeleton":
                del el.attrib["occluded"]
                names = _keypoint_names(obj, categories)
                labels.skeleton(obj.label, names)
                el.extend(_skeleton_children(obj, names, options.precision))
            for key, value in attributes.items():
                etree.SubElement(el, "attribute", {"name": key}).text = _attribute_text(value)
        written += 1
    tag_meta = {t.get("label"): t for t in sample.meta.get("cvat", {}).get("tags", []) if isinstance(t, dict)}
    for label in sample.labels:
        extra = tag_meta.get(label, {})
        el = etree.SubElement(
            image,
            "tag",
            {"label": label, "source": "manual"} | ({"group_id": str(extra["group"])} if extra.get("group") else {}),
        )
        for key, value in (extra.get("attributes") or {}).items():
            etree.SubElement(el, "attribute", {"name": key}).text = _attribute_text(value)
        labels.note(label, extra.get("attributes") or {})
    return image, written


def _image_name(recorded: Any, path: str, split: str | None, used: set[str]) -> str:
    """The ``name`` CVAT matches to a task's frame: the source's CVAT name (``recorded``), else the image's file name
    (what CVAT names an uploaded image); a clash in one subset gets ``_2``, ``_3``."""
    name = recorded if isinstance(recorded, str) else PurePosixPath(path).name
    if not PurePosixPath(name).suffix:  # a video frame (``frame_000010``) becomes an image with its file's suffix
        name += PurePosixPath(path).suffix
    pure = PurePosixPath(name)
    if pure.is_absolute() or ".." in pure.parts:
        name = pure.name
    base, n = PurePosixPath(name), 1
    while f"{split}/{name}".lower() in used:
        n += 1
        name = str(base.with_name(f"{base.stem}_{n}{base.suffix}"))
    used.add(f"{split}/{name}".lower())
    return name


#: what an ``<image>`` holds until the tasks are written: its number, name and task (the parent's to give)
_ID, _NAME, _TASK = "\ue000", "\ue001", "\ue002"


@dataclass(slots=True)
class ImageEncoder:
    """The sample-alone half of a CVAT write (runs where the shard is read; picklable)."""

    root: Path | None
    categories: CategorySet  # skeleton point names of keypoint categories
    options: _Options
    report: Report


#: what :func:`encode_image` gives: split, path, the source's CVAT name, whether its size is known, the ``<image>``
#: text waiting for its number, name and task, the objects written and what they used (replayed into ``<meta>``)
EncodedImage = tuple[str | None, str, Any, bool, str, int, list[tuple[str, str, Any]]]


def encode_image(encoder: ImageEncoder, sample: Sample) -> EncodedImage:
    """The sample's ``<image>`` element as text, and what it loses."""
    report = encoder.report
    size = known_size(sample, encoder.root)
    log = _NoteLog()
    element, written = _image_element(
        sample,
        _ID,
        _NAME,
        size,
        log,
        encoder.categories,
        encoder.options,
        report,
        _TASK,  # type: ignore[arg-type]
    )
    report.lose_image_attributes(sample.attributes, TARGET)
    recorded = sample.meta.get("cvat", {}).get("name")
    return sample.split, sample.path, recorded, size is not None, _element_text(element), written, log.log


def _attribute_value(value: str) -> str:
    """``value`` as lxml writes it in an attribute (escaped)."""
    from lxml import etree

    text = etree.tostring(etree.Element("i", {"v": value}), encoding="unicode")
    return text[len('<i v="') : -len('"/>')]


def write(
    dataset: Dataset,
    path: Path,
    report: Report,
    images: str | None = None,
    precision: int = 2,
    name: str = "cvkit",
    keypoints: str = "box",
    workers: int | None = None,
) -> None:
    """``path`` ending in .xml: that file, images referenced by name; else ``path/annotations.xml`` with the images
    in ``images/`` (``images/<subset>/`` when there are splits), CVAT's export layout (``images=copy`` by default,
    hardlink, symlink, or reference). ``precision``: decimals of coordinates (CVAT writes 2). ``keypoints``: what a
    box with keypoints (a COCO person) becomes, its ``box`` (keypoints reported lost) or its ``skeleton``. ``workers``:
    processes that read a sharded source and build its ``<image>`` elements; names, ids and files are placed here."""
    if keypoints not in ("box", "skeleton"):
        raise CvkitError(f"CVAT writer option keypoints={keypoints!r}: choose box or skeleton")
    options = _Options(int(precision), keypoints == "skeleton")
    single = path.suffix.lower() == ".xml"
    images = file_or_folder_images(images, single, "CVAT", ".xml")
    target = path if single else path / "annotations.xml"
    labels = _Labels()
    splits: dict[str, int] = {}
    used: set[str] = set()
    count = 0
    pipeline = Pipeline(dataset, report, workers)
    encoder = ImageEncoder(dataset.root, dataset.categories, options, pipeline.report)
    with tempfile.TemporaryFile("w+", encoding="utf-8") as body:
        encoded = pipeline.samples(encode_image, encoder, "writing CVAT")
        for index, (split, sample_path, recorded, sized, text, written, log) in enumerate(encoded):
            image_name = _image_name(recorded, sample_path, split, used)
            source = Sample(sample_path).resolve(dataset.root)
            if images != "reference" and source.is_file():
                place_image(source, path / "images" / (split or "") / image_name, images)
            elif images != "reference":
                report.warn("some images were not found and not copied (CVAT matches annotations to images by name)")
            if not sized:
                report.warn("some image sizes are unknown (image not found); their <image> has no width/height")
            if split:
                splits[split] = splits.get(split, 0) + 1
            task_id = list(splits).index(split) + 1 if split else 0
            text = text.replace(f'id="{_ID}"', f'id="{index}"', 1)
            text = text.replace(f'name="{_NAME}"', f'name="{_attribute_value(image_name)}"', 1)
            body.write(text.replace(f'task_id="{_TASK}"', f'task_id="{task_id}"', 1))
            for kind, label, value in log:
                if kind == "note":
                    labels.note(label, value)
                else:
                    labels.skeleton(label, value)
            report.count_written(split, written)
            count += 1
        body.seek(0)
        with atomic_file(target, "w") as handle:
            handle.write('<?xml version="1.0" encoding="utf-8"?>\n<annotations>\n  <version>1.1</version>\n')
            _write_element(handle, meta_element(dataset, labels, splits, count, name))
            shutil.copyfileobj(body, handle)
            handle.write("</annotations>\n")
    if len(dataset.hierarchy):
        report.lose("hierarchy", "CVAT labels are flat (only skeleton points have a parent)", len(dataset.hierarchy))
    report.written.categories = len(labels.used)


def _write_element(handle: IO[str], element: Any) -> None:
    handle.write(_element_text(element))


def _element_text(element: Any) -> str:
    """An element as the file holds it: indented one level, on its own lines."""
    from lxml import etree

    etree.indent(element, space="  ", level=1)
    return "  " + etree.tostring(element, encoding="unicode") + "\n"
