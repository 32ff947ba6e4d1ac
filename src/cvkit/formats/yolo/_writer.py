"""Write YOLO labels in the Ultralytics, darknet or LabelImg layout.

One pass over the samples (a streaming dataset is never held in memory): each image gets
its label file as soon as it is seen; ``data.yaml`` / ``obj.data`` / ``classes.txt`` come last,
when every category is known. Class index = position in ``dataset.categories``.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from cvkit.core import validate_values
from cvkit.core.imageinfo import read_image_info
from cvkit.core.model import Dataset, Sample
from cvkit.core.paths import inside, split_name
from cvkit.core.report import Report
from cvkit.core.shards import Pipeline
from cvkit.errors import CvkitError, InvalidInputError
from cvkit.io import IMAGE_MODES, BackgroundFiles, RealPaths, place_image

from ._labels import LineWriter, UniqueStems
from ._layouts import DARKNET_RESERVED, YAML_RESERVED

LAYOUTS = ("ultralytics", "darknet", "labelimg")
TASKS = ("detect", "segment", "pose")
VAL_NAMES = ("val", "valid", "validation")


def _choice(name: str, value: Any, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise CvkitError(f"YOLO writer option {name}={value!r}: choose one of {', '.join(allowed)}")
    return str(value)


#: a sample's split (None: none given), path, image path and label text, as :meth:`YoloWriter.encode` gives them
Encoded = tuple[str | None, str, str, str]


@dataclass(frozen=True, slots=True)
class Pending:
    """A sample a forked worker encoded with labels its class index lacks: their lines start with ``{0}``, ``{1}``,
    ... for ``labels[0]``, ``labels[1]``, ..., which the parent numbers (it alone knows the categories' order)."""

    encoded: Encoded
    labels: tuple[str, ...]


@dataclass(slots=True)
class LabelEncoder:
    """The sample-alone half of a YOLO write: label text from a sample (runs on the workers; picklable)."""

    report: Report
    lines: LineWriter
    class_index: dict[str, int]
    root_prefix: str
    referenced: bool

    def size_of(self, sample: Sample, source: str) -> tuple[int, int] | None:
        """The sample's size, from the header only when the source did not give it."""
        if sample.width and sample.height:
            return sample.width, sample.height
        try:
            info = read_image_info(source)
        except InvalidInputError as err:
            self.report.invalid(
                InvalidInputError(f"image size unknown and the image cannot be read ({err.message})", file=source)
            )
            return None
        return info.width, info.height


def encode_labels(encoder: LabelEncoder, sample: Sample) -> Encoded | Pending | None:
    """What writing ``sample`` needs from the sample alone: its split, path, image path and label text (None: left
    out, and reported). Plain strings and os calls, as this runs per file. A label the class index lacks (a
    category the reader found on the way: LabelMe, VOC without labelmap.txt) gets a placeholder the placing side
    numbers (:class:`Pending`)."""
    report = encoder.report
    path = sample.path
    source = path if os.path.isabs(path) else encoder.root_prefix + path
    size = encoder.size_of(sample, source)
    if size is None:
        return None
    if not encoder.referenced and not os.path.isfile(source):
        report.invalid(
            InvalidInputError(
                "image file not found; --images reference writes the labels without copying images", file=source
            )
        )
        return None
    unknown: dict[str, str] = {}

    def placeholder(label: str) -> str:
        return unknown.setdefault(label, "{" + str(len(unknown)) + "}")

    text = encoder.lines.lines(sample.objects, encoder.class_index, placeholder, size[0], size[1])
    report.lose_image_labels("YOLO", len(sample.labels))
    report.lose_image_attributes(sample.attributes, "YOLO")
    encoded = sample.split, path, source, text
    return encoded if not unknown else Pending(encoded, tuple(unknown))


class _SplitFolder:
    """Where one split's images and labels go, with unique file stems and an optional image list."""

    def __init__(self, image_dir: Path, label_dir: Path, list_file: IO[str] | None = None, list_prefix: str = ""):
        self.image_dir = image_dir
        self.label_dir = label_dir
        self.label_prefix = str(label_dir) + os.sep
        self.stems = UniqueStems()
        self.list_file = list_file
        self.list_prefix = list_prefix
        image_dir.mkdir(parents=True, exist_ok=True)
        label_dir.mkdir(parents=True, exist_ok=True)


class YoloWriter:
    """Holds the options and the open split folders of one write."""

    def __init__(
        self,
        dataset: Dataset,
        out: Path,
        report: Report,
        images: str,
        layout: str,
        task: str,
        precision: int,
        crowd: str,
        paths: str,
        keypoints: int | None = None,
    ):
        self.dataset = dataset
        self.out = out
        self.real_paths = RealPaths()  # listed images: real paths, whatever link the dataset was read through
        self.report = report
        self.images = _choice("images", images, IMAGE_MODES)
        self.layout = _choice("layout", layout, LAYOUTS)
        self.paths = _choice("paths", paths, ("absolute", "relative"))
        if self.images == "reference" and self.layout != "ultralytics":
            raise CvkitError(
                f"the {self.layout} layout keeps images next to their labels; use --images copy, hardlink or symlink"
            )
        if not isinstance(precision, int) or not 1 <= precision <= 17:
            raise CvkitError(f"YOLO writer option precision={precision!r}: give decimals between 1 and 17")
        task = _choice("task", task, TASKS)
        self.pose = pose_spec(dataset, keypoints) if task == "pose" else None
        if self.pose is not None and self.layout != "ultralytics":
            raise CvkitError(f"pose labels need data.yaml's kpt_shape: use the ultralytics layout, not {self.layout}")
        pose_shape = self.pose[:2] if self.pose is not None else None
        self.lines = LineWriter(
            report, task == "segment", _choice("crowd", crowd, ("skip", "keep")) == "keep", precision, pose_shape
        )
        self.class_index = dataset.categories.index_of()
        self.root_prefix = os.path.abspath(dataset.root if dataset.root is not None else ".") + os.sep
        self.folders: dict[str, _SplitFolder] = {}
        #: label files and image copies are written by worker threads (see BackgroundFiles)
        self.files = BackgroundFiles()
        self.lists: list[IO[str]] = []

    # --- names and folders -----------------------------------------------------------
    def index_of(self, label: str) -> int:
        """Class index of a label first seen now (appended to the categories when new)."""
        self.dataset.categories.ensure(label)
        self.class_index.update(self.dataset.categories.index_of())  # in place: an encoder in this process shares it
        return self.class_index[label]

    def folder(self, split: str) -> _SplitFolder:
        found = self.folders.get(split)
        if found is not None:
            return found
        out = self.out
        if split_name(split) in (DARKNET_RESERVED if self.layout == "darknet" else YAML_RESERVED):
            raise CvkitError(
                f"a split named {split!r} would be read as {'obj.data' if self.layout == 'darknet' else 'data.yaml'}'s "
                f"{split!r} key; rename the split"
            )
        if self.layout == "labelimg":  # one flat folder for every split
            found = next(iter(self.folders.values()), None) or _SplitFolder(out, out)
        elif self.layout == "darknet":
            taken = {Path(h.name).stem for h in self.lists}
            key = "valid" if split in VAL_NAMES and "valid" not in taken else split
            handle = open(out / f"{key}.txt", "w", encoding="utf-8", newline="\n")  # noqa: SIM115 - closed by write()
            self.lists.append(handle)
            found = _SplitFolder(out / f"obj_{key}_data", out / f"obj_{key}_data", handle, f"data/obj_{key}_data/")
        elif self.images == "reference":
            handle = open(out / f"{split}.txt", "w", encoding="utf-8", newline="\n")  # noqa: SIM115 - closed by write()
            self.lists.append(handle)
            found = _SplitFolder(out / "labels" / split, out / "labels" / split, handle)
        else:
            found = _SplitFolder(out / "images" / split, out / "labels" / split)
        self.folders[split] = found
        return found

    # --- samples ---------------------------------------------------------------------
    def encoder(self, report: Report) -> LabelEncoder:
        """What encoding a sample needs, picklable (it travels to the workers), recording into ``report``."""
        lines = copy.copy(self.lines)
        lines.report = report
        return LabelEncoder(report, lines, self.class_index, self.root_prefix, self.images == "reference")

    def place(self, encoded: Encoded | Pending | None) -> None:
        """Write an encoded sample: a unique file stem in its split's folder, the image or list line, the label file."""
        if isinstance(encoded, Pending):  # numbered as encode() numbers them: new labels in the order of their objects
            indices = [
                self.class_index[label] if label in self.class_index else self.index_of(label)
                for label in encoded.labels
            ]
            split, path, source, text = encoded.encoded
            encoded = split, path, source, text.format(*indices)
        if encoded is None:
            return
        given_split, path, source, text = encoded
        split = given_split or "train"
        try:  # a line break in a name splits <split>.txt (and names a label file no reader pairs with its image)
            validate_values.one_line(str(source) if self.images == "reference" else path, f"{split}.txt")
        except InvalidInputError as exc:
            self.report.invalid(exc)
            return
        folder = self.folders.get(split) or self.folder(split)
        stem, suffix = os.path.splitext(path.rpartition("/")[2])
        stem = folder.stems(stem)
        if self.images == "reference":
            real = self.real_paths
            listed = real(os.path.abspath(source)) if self.paths == "absolute" else real.relative(source, self.out)
            folder.list_file.write(listed.replace(os.sep, "/") + "\n")  # type: ignore[union-attr]
        else:
            self.files.submit(place_image, Path(source), inside(folder.image_dir, stem + suffix), self.images)
            if folder.list_file is not None:
                folder.list_file.write(f"{folder.list_prefix}{stem}{suffix}\n")
        self.files.write_bytes(folder.label_prefix + stem + ".txt", text.encode("utf-8"))
        if self.layout == "labelimg" and given_split:
            self.report.lose("split", "LabelImg's flat folder has no splits")
        self.report.count_written(None if self.layout == "labelimg" else split, text.count("\n"))

    # --- dataset files ---------------------------------------------------------------
    def finish(self) -> None:
        names = self.dataset.categories.names()
        self.report.written.categories = len(names)
        if any(cat.id != index for index, cat in enumerate(self.dataset.categories)):
            self.report.warn("category ids became YOLO class indices 0..N-1, in the order of the categories")
        if len(self.dataset.hierarchy):
            self.report.lose("hierarchy", "YOLO class names are flat", len(self.dataset.hierarchy))
        for cat in self.dataset.categories:
            for key in sorted(cat.attributes):
                if not (
                    key == "keypoints" and self.pose is not None and len(cat.attributes[key]) == self.pose[0]
                ):  # kept in kpt_names
                    self.report.lose(
                        f"category attribute {key!r}",
                        "YOLO class names carry no attributes (pose labels keep keypoint names)",
                    )
        names_text = "".join(f"{n}\n" for n in names)
        if self.layout == "labelimg":
            (self.out / "classes.txt").write_text(names_text, encoding="utf-8")
        elif self.layout == "darknet":
            self._write_darknet(names_text)
        else:
            self._write_yaml(names)

    def _write_darknet(self, names_text: str) -> None:
        (self.out / "obj.names").write_text(names_text, encoding="utf-8")
        lines = [f"classes = {names_text.count(chr(10))}"]
        lines += [f"{Path(h.name).stem} = data/{Path(h.name).name}" for h in self.lists]
        lines += ["names = data/obj.names", "backup = backup/"]
        (self.out / "obj.data").write_text("\n".join(lines) + "\n", encoding="utf-8")

    def _keypoint_names(self, points: int) -> dict[int, list[str]]:
        """``kpt_names`` for data.yaml: each class's keypoint names, unless they are only the numbers ``0..K-1``."""
        numbered = [str(k) for k in range(points)]
        named = {}
        for index, cat in enumerate(self.dataset.categories):
            keypoints = cat.attributes.get("keypoints")
            if isinstance(keypoints, list) and len(keypoints) == points and [str(k) for k in keypoints] != numbered:
                named[index] = [str(k) for k in keypoints]
        return named

    def _write_yaml(self, names: list[str]) -> None:
        import yaml

        keys: dict[str, str] = {}
        for split in self.folders:
            key = "val" if split in VAL_NAMES and "val" not in keys else split
            keys[key] = f"{split}.txt" if self.images == "reference" else f"images/{split}"
        comments = ["# YOLO dataset written by cvkit (Ultralytics layout: images/<split>/, labels/<split>/)"]
        if not keys:
            keys["train"] = "images/train"
        for required, other in (("train", "val"), ("val", "train")):
            if required not in keys:
                fallback = keys.get(other) or next(iter(keys.values()))
                keys[required] = fallback
                comments.append(
                    f"# the source had no {required} split: {required} repeats {fallback} (Ultralytics needs both keys)"
                )
        ordered = {k: keys[k] for k in ("train", "val", "test") if k in keys} | keys
        data: dict[str, Any] = dict(ordered)
        if self.images == "reference":
            comments.append(
                "# --images reference: labels/<split>/ holds one label file per image listed in <split>.txt, in order"
            )
            data["labels"] = "labels"
        if self.pose is not None:
            points, dims, flip = self.pose
            data["kpt_shape"] = [points, dims]
            if flip is not None:
                data["flip_idx"] = flip
            named = self._keypoint_names(points)
            if named:
                data["kpt_names"] = named
        data["nc"] = len(names)
        data["names"] = dict(enumerate(names))
        text = (
            "\n".join(comments)
            + "\n"
            + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=False)
        )
        (self.out / "data.yaml").write_text(text, encoding="utf-8")


def write(
    dataset: Dataset,
    path: Path,
    report: Report,
    images: str = "copy",
    layout: str = "ultralytics",
    task: str = "detect",
    precision: int = 6,
    crowd: str = "skip",
    paths: str = "absolute",
    keypoints: int | None = None,
    workers: int | None = None,
) -> None:
    """Write ``dataset`` as YOLO into the folder ``path`` (made atomic by the caller).

    Options: ``images`` copy|hardlink|symlink|reference, ``layout`` ultralytics|darknet|labelimg,
    ``task`` detect|segment|pose (pose: keypoints after the box, ``kpt_shape``/``flip_idx`` in data.yaml),
    ``precision`` (decimals, 6), ``crowd`` skip|keep, ``paths``
    absolute|relative (image paths in the lists written with ``images=reference``), ``keypoints``
    (pose: keypoints an object, when the source names none; else counted on the first object that has them),
    ``workers`` (processes that read and encode a sharded source such as COCO; default: one a CPU).
    """
    samples: Iterator[Sample] | None = None
    if task == "pose" and keypoints is None and not _names_keypoints(dataset):
        keypoints, samples = _first_keypoint_count(iter(dataset))  # the dataset is iterated: no shards after this
    writer = YoloWriter(dataset, Path(path), report, images, layout, task, precision, crowd, paths, keypoints)
    if samples is not None:  # the samples looked at for the keypoint count are handed on as they are
        dataset = Dataset(
            samples, dataset.categories, dataset.hierarchy, dataset.root, dataset.source_format, dataset.info
        )
    pipeline = Pipeline(dataset, report, workers)
    items = pipeline.samples(encode_labels, writer.encoder(pipeline.report), "writing YOLO labels")
    try:
        with writer.files:
            for item in items:
                writer.place(item)
    finally:
        for handle in writer.lists:
            handle.close()
    writer.finish()


#: samples looked at for the keypoint count of a pose source that names none
PEEK_SAMPLES = 1000


def _keypoint_lists(dataset: Dataset) -> set[tuple[Any, ...]]:
    return {
        tuple(c.attributes["keypoints"])
        for c in dataset.categories
        if isinstance(c.attributes.get("keypoints"), list) and c.attributes["keypoints"]
    }


def _names_keypoints(dataset: Dataset) -> bool:
    return bool((dataset.info.get("yolo") or {}).get("kpt_shape")) or bool(_keypoint_lists(dataset))


def _first_keypoint_count(samples: Iterator[Sample]) -> tuple[int | None, Iterator[Sample]]:
    """Keypoints an object, from the first object that has them within :data:`PEEK_SAMPLES` samples
    (datumaro's COCO exports leave the categories' keypoint names empty); the samples looked at are given back."""
    from itertools import chain, islice

    seen = list(islice(samples, PEEK_SAMPLES))
    count = next((len(o.keypoints) // 3 for s in seen for o in s.objects if o.keypoints), None)
    return count, chain(seen, samples)


def pose_spec(dataset: Dataset, keypoints: int | None = None) -> tuple[int, int, list[int] | None]:
    """``(keypoints per object, 2 or 3, flip_idx)`` for pose labels: a YOLO pose source's own, else the
    keypoint names of the categories (COCO person_keypoints; their left_/right_ pairs give flip_idx), else
    ``keypoints`` (the writer option, or the count seen on the first objects)."""
    kept = dataset.info.get("yolo") or {}
    if kept.get("kpt_shape"):
        points, dims = kept["kpt_shape"]
        return int(points), int(dims), kept.get("flip_idx")
    lists = _keypoint_lists(dataset)
    if len(lists) > 1:
        raise CvkitError(
            "-w task=pose: the categories name different keypoint lists; YOLO pose labels have one kpt_shape for the "
            "dataset"
        )
    if lists:
        names = [str(n) for n in lists.pop()]
        return len(names), 3, flip_from_names(names)
    if isinstance(keypoints, int) and not isinstance(keypoints, bool) and keypoints > 0:
        return keypoints, 3, None
    if keypoints is not None:
        raise CvkitError(
            f"YOLO writer option keypoints={keypoints!r}: give the number of keypoints an object has (a positive "
            "integer)"
        )
    raise CvkitError(
        f"-w task=pose: no keypoints in the categories nor on the first {PEEK_SAMPLES} images; "
        "pass -w keypoints=N (N keypoints an object)"
    )


def flip_from_names(names: list[str]) -> list[int] | None:
    """Ultralytics' ``flip_idx`` from keypoint names: ``left_x`` and ``right_x`` swap, the rest map to themselves;
    None when no name has a mirror (a flip then needs no index)."""
    index = {name: i for i, name in enumerate(names)}
    flip = [
        index.get(name.replace("left", "\0").replace("right", "left").replace("\0", "right"), i)
        for i, name in enumerate(names)
    ]
    return flip if flip != list(range(len(names))) else None
