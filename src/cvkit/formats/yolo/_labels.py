"""YOLO label lines: parse ``cls cx cy w h`` / ``cls x1 y1 x2 y2 ...`` and write them back.

Coordinates are normalised by the displayed image size (see docs/coordinates.md, "YOLO").
Parsing is one ``split`` and a few float conversions per line; messages name the file and
``line N`` so a user can jump to the problem.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from cvkit.core.geometry import box_corners, box_to_yolo, clip_box, polygon_area, polygon_bbox, yolo_to_box
from cvkit.core.model import Annotation
from cvkit.core.report import Report
from cvkit.errors import InvalidInputError

#: Normalised values may overshoot [0, 1] by this much before it is an error: Ultralytics' own 1%
#: (``verify_image_label``: coordinates <= 1.01, >= -0.01), so what Ultralytics trains on is read.
TOLERANCE = 0.01
#: a 6-field line is what Ultralytics' ``predict(save_txt=True, save_conf=True)`` writes (``save_one_txt``: class, box,
#: confidence); its trainer refuses it as a label ("labels require 5 columns"), so reading one is said out loud
SIX_FIELDS_WARNING = (
    "some label lines have 6 fields: read as class, box and confidence (Ultralytics' save_conf "
    "predictions); Ultralytics' trainer refuses such lines as labels"
)
FIELDS_HELP = "expected 5 fields (class cx cy w h) or a polygon of at least 3 points (class x1 y1 x2 y2 x3 y3 ...)"
#: the target named in what detect and segment labels lose (:meth:`Report.lose_object_extras`)
LABELS_TARGET = "YOLO detect/segment labels"
POLYGON_AS_BOX = "YOLO detection labels hold boxes only; written as its box (-w task=segment writes polygons)"


class ClassNames:
    """Class index -> name, from a names file, a data.yaml or (when none exists) the indices themselves."""

    def __init__(self, names: Sequence[str], source: str | None, kpt_shape: tuple[int, int] | None = None):
        self.names = list(names)
        #: where the names came from, for messages ("obj.names"); None: names are made up from indices
        self.source = source
        #: Ultralytics pose labels (``kpt_shape: [points, 2 or 3]`` in data.yaml): keypoints follow the box
        self.kpt_shape = kpt_shape
        #: ``flip_idx`` of a pose data.yaml, kept so a YOLO -> YOLO conversion gives it back
        self.flip_idx: list[int] | None = None
        #: ``kpt_names`` of a pose data.yaml: class index -> keypoint names
        self.kpt_names: dict[int, list[str]] = {}

    def name(self, index: int, file: str | Path, line: int) -> str:
        if 0 <= index < len(self.names):
            return self.names[index]
        if self.source is None:
            while len(self.names) <= index:
                self.names.append(str(len(self.names)))
            return self.names[index]
        raise InvalidInputError(
            f"class id {index} is beyond the {len(self.names)} names in {self.source}",
            file=file,
            location=f"line {line}",
        )


def _class_index(token: str, file: str | Path, line: int) -> int:
    try:
        return int(token)
    except ValueError:
        pass
    try:
        value = float(token)
    except ValueError:
        raise InvalidInputError(f"class id {token!r} is not an integer", file=file, location=f"line {line}") from None
    if not value.is_integer() or value < 0:
        raise InvalidInputError(f"class id {token!r} is not an integer", file=file, location=f"line {line}")
    return int(value)


def _numbers(tokens: list[str], file: str | Path, line: int) -> list[float]:
    try:
        values = [float(t) for t in tokens]
    except ValueError:
        bad = next(t for t in tokens if not _is_number(t))
        raise InvalidInputError(f"{bad!r} is not a number", file=file, location=f"line {line}") from None
    for value in values:
        if not -TOLERANCE <= value <= 1.0 + TOLERANCE:  # also catches nan
            raise InvalidInputError(
                f"value {value:g} is outside [0, 1]; YOLO coordinates are normalised by the image size",
                file=file,
                location=f"line {line}",
            )
    return values


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def parse_line(text: str, number: int, file: str | Path, names: ClassNames, width: int, height: int) -> Annotation:
    """One non-blank label line to an annotation in pixels; raises :class:`InvalidInputError`."""
    tokens = text.split()
    count = len(tokens)
    if names.kpt_shape is not None:
        return _pose_line(tokens, number, file, names, width, height)
    if count != 5 and count != 6 and (count < 7 or count % 2 == 0):
        raise InvalidInputError(f"{FIELDS_HELP}, got {count}", file=file, location=f"line {number}")
    label = names.name(_class_index(tokens[0], file, number), file, number)
    values = _numbers(tokens[1:], file, number)
    if count <= 6:
        cx, cy, w, h = values[:4]
        ann = Annotation(label, yolo_to_box(cx, cy, w, h, width, height))
        if count == 6:  # Ultralytics predictions saved with save_conf: a trailing confidence
            ann.score = values[4]
        return ann
    points = [v * (width if i % 2 == 0 else height) for i, v in enumerate(values)]
    return Annotation(label, polygon_bbox([points]), shape="polygon", polygon=[points])


def _pose_line(
    tokens: list[str], number: int, file: str | Path, names: ClassNames, width: int, height: int
) -> Annotation:
    """``class cx cy w h`` then ``points`` keypoints of ``x y`` (or ``x y visibility``), as COCO keypoints in pixels."""
    points, dims = names.kpt_shape  # type: ignore[misc]
    expected = 5 + points * dims
    if len(tokens) != expected:
        what = "x y v" if dims == 3 else "x y"
        raise InvalidInputError(
            f"expected {expected} fields (class cx cy w h + {points} keypoints {what}), got {len(tokens)}",
            file=file,
            location=f"line {number}",
        )
    label = names.name(_class_index(tokens[0], file, number), file, number)
    coords = [tokens[1:5]] + [tokens[5 + k * dims : 7 + k * dims] for k in range(points)]
    values = _numbers([t for group in coords for t in group], file, number)
    try:
        visibility = [float(tokens[7 + k * 3]) for k in range(points)] if dims == 3 else None
    except ValueError:
        raise InvalidInputError("keypoint visibility is not a number", file=file, location=f"line {number}") from None
    keypoints: list[float] = []
    for k in range(points):
        x, y = values[4 + 2 * k], values[5 + 2 * k]
        v = visibility[k] if visibility is not None else (0.0 if x == 0 and y == 0 else 2.0)
        keypoints += [x * width, y * height, v]
    return Annotation(label, yolo_to_box(*values[:4], width, height), keypoints=keypoints)


def parse_label_file(
    data: bytes, file: str | Path, names: ClassNames, width: int, height: int, report: Report
) -> list[Annotation]:
    """Every object of one label file; bad lines go through ``report.invalid`` (skipped with --skip-invalid)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInputError("label file is not UTF-8 text", file=file) from None
    objects: list[Annotation] = []
    known = names.names
    low, high = -TOLERANCE, 1.0 + TOLERANCE
    for number, line in enumerate(text.splitlines(), 1):
        tokens = line.split()
        if not tokens:
            continue
        if (
            len(tokens) == 5 and names.kpt_shape is None
        ):  # the common case, checked inline; anything unusual takes parse_line for its message
            try:
                index, cx, cy, w, h = (
                    int(tokens[0]),
                    float(tokens[1]),
                    float(tokens[2]),
                    float(tokens[3]),
                    float(tokens[4]),
                )
            except ValueError:
                index = -1
            if (
                0 <= index < len(known)
                and low <= cx <= high
                and low <= cy <= high
                and low <= w <= high
                and low <= h <= high
            ):
                objects.append(Annotation(known[index], yolo_to_box(cx, cy, w, h, width, height)))
                continue
        try:
            objects.append(parse_line(line, number, file, names, width, height))
        except InvalidInputError as err:
            report.invalid(err)
            continue
        if len(tokens) == 6 and names.kpt_shape is None:
            report.warn(SIX_FIELDS_WARNING)
    return objects


def largest_part(parts: Sequence[Sequence[float]]) -> Sequence[float]:
    """The polygon part with the most area (YOLO holds one polygon per object)."""
    return max(parts, key=lambda p: polygon_area([p]))


class LineWriter:
    """Formats objects of one image as label lines, recording what YOLO cannot hold."""

    def __init__(
        self, report: Report, segment: bool, keep_crowd: bool, precision: int, pose: tuple[int, int] | None = None
    ):
        self.report = report
        self.segment = segment
        self.keep_crowd = keep_crowd
        self.box_format = "%s" + f" %.{precision}f" * 4 + "\n"  # %s: a class index, or a worker's placeholder ("{0}")
        self.point_format = f" %.{precision}f"
        #: ``(keypoints per object, 2 or 3)`` when writing Ultralytics pose labels
        self.pose = pose

    def lines(
        self,
        objects: Sequence[Annotation],
        class_index: dict[str, int],
        index_of: Callable[[str], int | str],
        width: int,
        height: int,
    ) -> str:
        """Label text for ``objects``; ``index_of(label)`` gives a class index not yet in ``class_index``.

        Plain boxes take a short path (this loop runs 500,000 times in the benchmark), and so do the boxes of
        polygons and of objects with keypoints in a detect task (COCO instances and person_keypoints files), their
        losses counted once a call; anything else, and every object of a segment task, goes through
        :meth:`_other_line`, which records what YOLO cannot hold.
        """
        out: list[str] = []
        append, box_format, pose, segment = out.append, self.box_format, self.pose, self.segment
        polygons = keypoints = 0
        for obj in objects:
            if obj.iscrowd and not self.keep_crowd:
                self.report.lose(
                    "crowd region",
                    "YOLO has no crowd flag; left out as Ultralytics' COCO converter does (-w crowd=keep writes it "
                    "as an object)",
                )
                continue
            index = class_index.get(obj.label)
            if index is None:
                index = index_of(obj.label)
            if pose is not None:
                line = self._pose_line(obj, index, width, height, *pose)
                if line:
                    append(line)
                continue
            box = obj.bbox
            if (
                segment
                or obj.shape != "box"
                or box is None
                or obj.polygon
                or obj.rle is not None
                or obj.keypoints is not None
                or obj.score is not None
                or obj.attributes
            ):
                if (
                    segment
                    or box is None
                    or obj.rle is not None
                    or obj.score is not None
                    or obj.attributes
                    or obj.shape not in ("box", "polygon")
                ):
                    line = self._other_line(obj, index, width, height)
                    if line:
                        append(line)
                    continue
                # a polygon or an object with keypoints: written as its box, as _other_line writes it
                polygons += obj.shape == "polygon" or bool(obj.polygon)
                keypoints += obj.keypoints is not None
            x, y, w, h = box
            if x < 0 or y < 0 or x + w > width or y + h > height:
                x, y, w, h = self._clip(box, width, height)
            # box_to_yolo, inlined: this line runs once per box
            append(box_format % (index, (x + w / 2.0) / width, (y + h / 2.0) / height, w / width, h / height))
        if keypoints:
            self.report.lose_keypoints(LABELS_TARGET, keypoints)
        if polygons:
            self.report.lose("polygon", POLYGON_AS_BOX, polygons)
        return "".join(out)

    def _clip(self, box: Sequence[float], width: int, height: int) -> Sequence[float]:
        clipped = clip_box(box, width, height)
        if max(abs(a - b) for a, b in zip(clipped, box)) > 1e-6:
            self.report.lose("box outside the image", "YOLO coordinates are normalised to [0, 1]; clipped to the image")
        return clipped

    def _other_line(self, obj: Annotation, index: int | str, width: int, height: int) -> str | None:
        """A polygon, mask, point-like shape, an object with extras or any object of a segment task:
        its line, and what was lost."""
        report = self.report
        self.report.lose_object_extras(obj, LABELS_TARGET)
        part = self._segment_part(obj) if self.segment and obj.polygon else None
        if part is not None:
            return self._polygon_line(index, part, width, height)
        box = obj.bbox if obj.bbox is not None else obj.ensure_bbox()
        if box is None:
            report.lose(obj.shape, "YOLO labels hold boxes and polygons; a shape without a box was left out")
            return None
        if obj.shape in ("point", "line", "linestrip", "circle"):
            report.lose(obj.shape, "YOLO labels hold boxes and polygons; written as its box")
        elif (obj.shape == "polygon" or obj.polygon) and not self.segment:  # segment: reported by _segment_part
            report.lose("polygon", POLYGON_AS_BOX)
        elif obj.rle is not None:
            report.lose("mask", "YOLO labels hold no masks; written as its box")
        x, y, w, h = box
        if x < 0 or y < 0 or x + w > width or y + h > height:
            box = self._clip(box, width, height)
        if self.segment:
            # Ultralytics drops a label file that mixes box and polygon rows (data/utils.py verify_image_label) and
            # refuses a segment dataset with fewer polygons than boxes (YOLODataset.verify_labels): the box's corners
            report.warn(
                "-w task=segment: objects without a polygon were written as the 4 corners of their box "
                "(Ultralytics segment labels cannot mix box and polygon lines)"
            )
            return self._polygon_line(index, box_corners(box), width, height)
        return self.box_format % (index, *box_to_yolo(box, width, height))

    def _segment_part(self, obj: Annotation) -> Sequence[float] | None:
        """The polygon part a segment line holds (the largest of those with 3 points or more), None when none has."""
        parts = [p for p in obj.polygon or () if len(p) >= 6]
        if len(parts) < len(obj.polygon or ()):
            self.report.lose(
                "polygon part with fewer than 3 points",
                "a YOLO segment line needs 3 points; the object's box was used when no part had them",
                len(obj.polygon or ()) - len(parts),
            )
        if len(parts) > 1:
            self.report.lose(
                "polygon part",
                "YOLO segmentation holds one polygon per object; the largest part was kept",
                len(parts) - 1,
            )
        return (parts[0] if len(parts) == 1 else largest_part(parts)) if parts else None

    def _pose_line(
        self, obj: Annotation, index: int | str, width: int, height: int, points: int, dims: int
    ) -> str | None:
        """``class cx cy w h`` + ``points`` keypoints ``x y [v]``, normalised; unlabelled keypoints are ``0 0 0``
        (Ultralytics' convention), so an object without keypoints still gets a valid line."""
        report = self.report
        box = obj.bbox if obj.bbox is not None else obj.ensure_bbox()
        if box is None:
            report.lose(obj.shape, "YOLO pose labels need a box; a shape without one was left out")
            return None
        if obj.shape not in ("box", "keypoints") or obj.polygon or obj.rle is not None:
            report.lose(
                "mask" if obj.rle is not None and obj.shape == "box" else obj.shape,
                "YOLO pose labels hold boxes and keypoints; written as its box",
            )
        report.lose_object_extras(obj, "YOLO pose labels", holds=("keypoints",))
        x, y, w, h = box
        if x < 0 or y < 0 or x + w > width or y + h > height:
            box = self._clip(box, width, height)
        keypoints = obj.keypoints or []
        if keypoints and len(keypoints) != 3 * points:
            report.lose(
                "keypoints",
                f"YOLO pose labels hold {points} keypoints an object (kpt_shape); objects with another count are "
                "written without",
            )
            keypoints = []
        fmt, parts = self.point_format, [self.box_format[:-1] % (index, *box_to_yolo(box, width, height))]
        for k in range(points):
            px, py, v = keypoints[3 * k : 3 * k + 3] if keypoints else (0.0, 0.0, 0)
            nx, ny = (px / width, py / height) if v else (0.0, 0.0)
            if not (0.0 <= nx <= 1.0 and 0.0 <= ny <= 1.0):
                report.lose(
                    "keypoint outside the image", "YOLO coordinates are normalised to [0, 1]; clipped to the image"
                )
                nx, ny = min(max(nx, 0.0), 1.0), min(max(ny, 0.0), 1.0)
            parts.append(fmt % nx + fmt % ny)
            if dims == 3:
                parts.append(f" {int(v)}" if float(v).is_integer() else f" {v}")
        return "".join(parts) + "\n"

    def _polygon_line(self, index: int | str, part: Sequence[float], width: int, height: int) -> str:
        fmt = self.point_format
        coords = [v / (width if i % 2 == 0 else height) for i, v in enumerate(part)]
        if min(coords) < -1e-6 or max(coords) > 1.0 + 1e-6:
            self.report.lose(
                "polygon outside the image", "YOLO coordinates are normalised to [0, 1]; points clipped to the image"
            )
            coords = [min(max(v, 0.0), 1.0) for v in coords]
        return str(index) + "".join(fmt % v for v in coords) + "\n"


class UniqueStems:
    """File stems made unique within one folder (``x``, ``x_2``, ...), case-insensitively.

    The writer names label files with it and the reader of a ``--images reference`` list
    repeats it in the same order, so the n-th listed image finds its label file.
    """

    def __init__(self) -> None:
        self.used: set[str] = set()

    def __call__(self, stem: str) -> str:
        candidate, n = stem, 1
        while candidate.lower() in self.used:
            n += 1
            candidate = f"{stem}_{n}"
        self.used.add(candidate.lower())
        return candidate
