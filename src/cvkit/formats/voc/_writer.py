"""Writing Pascal VOC: a devkit tree or LabelImg's flat folder, XML encoded per sample (on workers when the source
is sharded) and placed in order here. What the format holds and its coordinates: the package's docstring.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from cvkit.core import validate_values
from cvkit.core.imageinfo import known_size
from cvkit.core.model import Dataset, Sample
from cvkit.core.paths import inside
from cvkit.core.report import Report
from cvkit.core.shards import Pipeline
from cvkit.core.splits import NO_SPLIT
from cvkit.errors import CvkitError, InvalidInputError
from cvkit.formats._xml_text import filename_element
from cvkit.io import RealPaths, place_image

from ._layout import write_labelmap, write_split_lists
from ._xml import annotation_xml


def write(
    dataset: Dataset,
    path: Path,
    report: Report,
    one_based: bool = True,
    images: str = "reference",
    layout: str = "devkit",
    workers: int | None = None,
) -> None:
    """Write a devkit tree (Annotations/, JPEGImages/, ImageSets/Main/) or, with
    ``layout=flat``, XML next to the images as LabelImg does. ``workers``: processes that read a sharded
    source (COCO, a manifest, VOC, LabelMe) and write its XML text (default: one a CPU); the files are named and
    written here, in order."""
    if layout not in ("devkit", "flat"):
        raise CvkitError(f"unknown VOC layout {layout!r}; choose devkit or flat")
    writer = _VocWriter(dataset, path, report, images, layout)
    pipeline = Pipeline(dataset, report, workers)
    encoder = XmlEncoder(dataset.root, pipeline.report, one_based, images == "reference", RealPaths())
    for item in pipeline.samples(encode_xml, encoder, "writing VOC"):
        writer.place(item)
    report.written.categories = len(dataset.categories)
    if layout == "devkit":
        write_split_lists(path, writer.split_members)
    write_labelmap(path / "labelmap.txt", dataset.categories.names(), writer.declared, report)


#: what :meth:`_VocWriter.encode` gives for one sample: split, path, its file's stem and suffix, image file, XML, the
#: objects' labels, and the parts and actions they use ``(label, parts, actions)``
EncodedXml = tuple[str | None, str, str, str, Path, bytes, list[str], list[tuple[str, list[str], list[str]]]]


@dataclass(slots=True)
class XmlEncoder:
    """The sample-alone half of a VOC write (runs on the workers; picklable)."""

    root: Path | None
    report: Report
    one_based: bool
    referenced: bool  # images referenced where they are: <path> records the image's real path
    resolve: RealPaths


def encode_xml(encoder: XmlEncoder, sample: Sample) -> EncodedXml:
    """The sample's XML, naming its image by the image's own file name (:meth:`_VocWriter.place` renames a repeated
    one)."""
    root = encoder.root
    stem, suffix = _name_parts(sample.path)
    source = sample.resolve(root)
    recorded = None
    if encoder.referenced:
        recorded = encoder.resolve(os.fspath(source)) if root is not None or source.is_absolute() else sample.path
    xml = annotation_xml(sample, stem + suffix, recorded, encoder.one_based, encoder.report, known_size(sample, root))
    uses = [
        (
            obj.label,
            [p["label"] for p in obj.attributes.get("parts", ()) if p.get("label")],
            list(obj.attributes.get("actions", ())),
        )
        for obj in sample.objects
        if "parts" in obj.attributes or "actions" in obj.attributes
    ]
    return sample.split, sample.path, stem, suffix, source, xml, [obj.label for obj in sample.objects], uses


class _VocWriter:
    """The placing half of one write: names and writes the files in order."""

    def __init__(self, dataset: Dataset, path: Path, report: Report, images: str, layout: str):
        self.dataset, self.report, self.images = dataset, report, images
        ann_dir = path / "Annotations" if layout == "devkit" else path
        self.img_dir = path / "JPEGImages" if layout == "devkit" else path
        ann_dir.mkdir(parents=True, exist_ok=True)
        self.ann_prefix = os.path.join(ann_dir, "")
        self.split_members: dict[str, list[str]] = {}
        self.used: set[str] = set()
        self.declared: dict[str, tuple[dict[str, None], dict[str, None]]] = {}  # label -> (part names, action names)

    def place(self, encoded: EncodedXml) -> None:
        split, path, natural, suffix, source, xml, labels, uses = encoded
        try:
            validate_values.one_line(natural, f"ImageSets/Main/{split or NO_SPLIT}.txt")
        except InvalidInputError as exc:
            self.report.invalid(exc)
            return
        stem = _unique_stem(path, natural, self.used, self.report)
        if stem != natural:  # the XML names the image as written: <filename> is the first element holding it
            xml = xml.replace(filename_element(natural + suffix), filename_element(stem + suffix), 1)
        if self.images != "reference":
            place_image(source, inside(self.img_dir, stem + suffix), self.images)
        with open(f"{self.ann_prefix}{stem}.xml", "wb") as handle:
            handle.write(xml)
        self.split_members.setdefault(split or NO_SPLIT, []).append(stem)
        categories = self.dataset.categories
        for label in labels:
            if label not in categories:  # labelmap.txt must declare every object's label
                categories.ensure(label)
        for label, part_names, action_names in uses:
            parts, actions = self.declared.setdefault(label, ({}, {}))
            parts.update(dict.fromkeys(part_names))
            actions.update(dict.fromkeys(action_names))
        self.report.count_written(split, len(labels))


def _name_parts(path: str) -> tuple[str, str]:
    """(stem, suffix) of a POSIX path's last part, as ``pathlib`` splits them (``b.`` has no suffix)."""
    name = path.rpartition("/")[2]
    dot = name.rfind(".")
    return (name[:dot], name[dot:]) if 0 < dot < len(name) - 1 else (name, "")


def _unique_stem(path: str, stem: str, used: set[str], report: Report) -> str:
    """File stem for a sample's image ``path`` (whose own stem is ``stem``); images with the same name in different
    folders get a folder prefix."""
    if stem in used:
        stem = PurePosixPath(path).with_suffix("").as_posix().replace("/", "__")
        report.warn("images with the same file name in different folders were renamed with their folder as prefix")
    used.add(stem)
    return stem
