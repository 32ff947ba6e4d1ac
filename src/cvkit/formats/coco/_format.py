"""COCO JSON: detection, reading (a file loaded at once, read a run of images at a time) and writing (records
encoded a run at a time, numbered and spooled by ``_spool``). What the format holds: the package's docstring.
"""

from __future__ import annotations

import mmap
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cvkit.core import jsonio
from cvkit.core.categories import Category, CategorySet, Hierarchy
from cvkit.core.model import Annotation, Dataset, Sample, Shard
from cvkit.core.progress import track
from cvkit.core.report import Report
from cvkit.core.shards import Pipeline, memory_available, runs
from cvkit.core.splits import NO_SPLIT
from cvkit.errors import CvkitError, InvalidInputError
from cvkit.io import files_in, open_regular, read_regular_bytes, relpath_posix

from . import _bounded, _bounded_samples
from ._categories import read_categories
from ._images import clean_file_name, common_root, file_name_of, image_root, planned_sample, written_size
from ._objects import ANN_KEYS, add_annotations, group_by_image
from ._panoptic import is_panoptic
from ._spool import EncodedRun, Output, SplitWriter, place_run

#: Which annotation file to read per split when a folder holds several tasks.
TASK_PRIORITY = ("instances", "person_keypoints", "panoptic", "stuff", "labels", "image_info", "captions")
FILE_RE = re.compile(
    r"^(?P<task>instances|person_keypoints|image_info|labels|captions|panoptic|stuff)_(?P<split>.+)\.json$"
)


# --- detection -----------------------------------------------------------------------
def _json_head(path: Path) -> bytes:
    with open(path, "rb") as handle:
        return jsonio.strip_bom(handle.read(4096))


def _is_coco_file(path: Path) -> bool:
    if path.suffix.lower() != ".json" or not path.is_file():
        return False
    head = _json_head(path).lstrip()
    if head.startswith(b"{"):  # categories alone are no dataset (Label Studio's notes.json beside its YOLO export)
        if b'"images"' in head or b'"annotations"' in head:
            return True
        return b'"categories"' in head and _has_key_further(path, (b'"images"', b'"annotations"'))
    return head.startswith(b"[") and b'"image_id"' in head[:2048]


#: Roboflow's COCO export: ``<split>/_annotations.coco.json`` beside the split's images
ROBOFLOW_FILE = "_annotations.coco.json"


def _has_key_further(path: Path, keys: tuple[bytes, ...], limit: int = 1 << 24) -> bool:
    """Whether one of ``keys`` appears in the first ``limit`` bytes (datumaro writes a long categories list first)."""
    with open(path, "rb") as handle:
        tail = b""
        for _ in range(limit >> 20):
            chunk = handle.read(1 << 20)
            if not chunk:
                return False
            window = tail + chunk
            if any(key in window for key in keys):
                return True
            tail = window[-16:]
    return False


#: JSON files of a folder that detection opens: a COCO folder holds a handful, a LabelMe folder thousands
DETECT_LOOK_AT = 16


def _annotation_files(path: Path, look_at: int | None = None) -> list[Path]:
    """COCO files of a dataset folder: ``annotations/*.json``, else ``*.json`` in the folder, else
    Roboflow's one file per split folder. ``look_at``: open only the first N JSON files (detection)."""
    folder = path / "annotations" if (path / "annotations").is_dir() else path
    found = [p for p in files_in(folder, ".json", limit=look_at) if _is_coco_file(p)]
    if not found and folder == path:
        found = sorted(p for p in path.glob(f"*/{ROBOFLOW_FILE}") if _is_coco_file(p))
    return found


#: file stems that name a split by themselves (``annotations/train.json``)
SPLIT_WORDS = frozenset(("train", "training", "val", "valid", "validation", "test", "testing", "trainval", "dev"))


def _loose_split(file: Path, several: bool) -> str | None:
    """The split of a file not named ``<task>_<split>.json``: Roboflow's is its folder; others their stem
    when it names a split or when several such files sit side by side, else none (Label Studio's result.json)."""
    if file.name == ROBOFLOW_FILE:
        return file.parent.name
    return file.stem if several or file.stem.lower() in SPLIT_WORDS else None


def detect(path: Path) -> str | None:
    if path.is_file():
        return (
            "a JSON file with COCO keys (images/annotations/categories or a results list)"
            if _is_coco_file(path)
            else None
        )
    if path.is_dir():
        files = _annotation_files(path, look_at=DETECT_LOOK_AT)
        if files:
            return f"COCO annotation files ({', '.join(relpath_posix(f, path) for f in files[:3])})"
    return None


# --- reading -------------------------------------------------------------------------
def _load(path: Path) -> Any:
    """The parsed file. orjson reads it straight from a memory map: no copy of a file of hundreds of MB on the
    heap (peak memory), and less time (docs/benchmarks.md). An empty, unmappable or malformed file is read
    again as bytes, for the error and its line and column."""
    parsed = _load_mapped(path)
    if parsed is not _UNMAPPED:
        return parsed
    data = read_regular_bytes(path)
    try:
        return jsonio.loads(data)
    except jsonio.JSONDecodeError as exc:
        raise InvalidInputError(
            f"malformed JSON: {exc}", file=path, location=jsonio.error_location(exc, data)
        ) from None


_UNMAPPED = object()


def _load_mapped(path: Path) -> Any:
    """orjson over a read-only memory map of ``path``; :data:`_UNMAPPED` when that fails in any way."""
    try:
        with open_regular(path) as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            view = memoryview(mapped)
            try:
                return jsonio.loads(view)
            finally:
                view.release()
    except (
        OSError,
        ValueError,
        BufferError,
    ):  # empty file, no mmap here, malformed JSON (orjson's error is a ValueError)
        return _UNMAPPED


def _pick_files(path: Path, task: str | None, report: Report) -> list[tuple[Path, str | None]]:
    """(file, split) pairs to read: one task per split, the others reported as not read."""
    if path.is_file():
        match = FILE_RE.match(path.name)
        return [(path, match["split"] if match else _loose_split(path, several=False))]
    by_split: dict[str, dict[str, Path]] = defaultdict(dict)
    loose: list[Path] = []
    for file in _annotation_files(path):
        match = FILE_RE.match(file.name)
        if match:
            by_split[match["split"]][match["task"]] = file
        else:
            loose.append(file)
    chosen: list[tuple[Path, str | None]] = [(f, _loose_split(f, len(loose) > 1)) for f in loose]
    for split, tasks in sorted(by_split.items()):
        order = (task,) if task else TASK_PRIORITY
        pick = next((tasks[t] for t in order if t in tasks), None)
        if pick is None:
            report.warn(f"split {split!r}: no {'/'.join(order)} file; found only {', '.join(sorted(tasks))}")
            continue
        chosen.append((pick, split))
        ignored = sorted(f.name for t, f in tasks.items() if f != pick)
        if ignored:
            report.warn(f"split {split!r}: read {pick.name}; not read: {', '.join(ignored)} (choose with -r task=NAME)")
    if not chosen:
        raise InvalidInputError("no COCO annotation files found", file=path)
    return chosen


@dataclass(slots=True)
class _FilePlan:
    """One loaded annotation file, checked as a whole and ready to be read a run of images at a time."""

    file: Path
    images: list[Any]
    annotations: list[Any]
    by_image: dict[Any, list[int]]
    names: dict[int, str]
    split: str | None
    prefix: str
    by_name: bool
    listed: bool  # images the file lists (not made up for a results list): a missing size is read from the header
    special: bool  # captions or panoptic records
    duplicates: set[int]  # positions in images of an id seen before
    keypoint_names: dict[int, list[Any]]  # category id -> its keypoint names, for categories that name them


def _plan_file(
    file: Path,
    split: str | None,
    data: Any,
    names: dict[int, str],
    categories: CategorySet,
    report: Report,
    info: dict[str, Any],
    common: Path,
    gt: Any = None,
) -> _FilePlan:
    """What reading one loaded file needs beyond each image's own entry; ``names``: its category id -> name, read by
    :func:`read` up front. Annotations of unknown images and repeated image ids are found here, once."""
    if isinstance(data, list):
        info["kind"] = "results"
        data = {
            "images": (gt or {}).get("images", []),
            "categories": (gt or {}).get("categories", []),
            "annotations": data,
        }
    if not isinstance(data, dict):
        raise InvalidInputError("top level must be an object or a results list", file=file, location="$")
    for key in ("info", "licenses"):
        if key in data:
            info.setdefault(key, data[key])
    annotations = data.get("annotations") or []
    by_image = group_by_image(annotations, file, report)
    images = data.get("images") or []
    listed = bool(images)
    if info.get("kind") == "results" and not images:
        images = [{"id": image_id, "file_name": str(image_id)} for image_id in by_image]
        for ann in data["annotations"]:
            cat_id = ann.get("category_id")
            if (
                isinstance(cat_id, int) and cat_id not in names
            ):  # named by id; another results file may have named it already
                known = categories.by_id(cat_id)
                names[cat_id] = known.name if known is not None else categories.add(Category(cat_id, str(cat_id))).name
    known_ids: set[Any] = set()
    duplicates = set()
    for n, img in enumerate(images):  # a repeated id: its annotations would be given to both images
        if isinstance(img, dict):
            if isinstance(img.get("id"), (list, dict)):  # JSON's unhashable values: not an id
                raise InvalidInputError(
                    f"image id must be a number or a string, got {img['id']!r}"[:200],
                    file=file,
                    location=f"images[{n}].id",
                )
            if img.get("id") in known_ids and "id" in img:
                duplicates.add(n)
            known_ids.add(img.get("id"))
    for image_id, anns in by_image.items():
        if image_id not in known_ids:
            i = anns[0]
            report.invalid(
                InvalidInputError(
                    f"annotation refers to unknown image id {image_id!r}",
                    file=file,
                    location=f"annotations[{i}].image_id",
                )
            )
    first = file_name_of(images[0]) if images and isinstance(images[0], dict) else None
    # instances_default.json: what cvkit writes for samples without a split, and CVAT's/datumaro's "default" subset
    # (its images sit in images/default/, so the folder is still looked for by that name)
    sample_split = None if split == NO_SPLIT else split
    root, by_name = image_root(
        file, split, clean_file_name(first, file, 0) if isinstance(first, str) else None, data.get("info") or {}, report
    )
    prefix = relpath_posix(root, common)
    prefix = "" if prefix == "." else prefix + "/"
    # captions_*.json and panoptic_*.json records are told apart by their first annotation (one check a file, not one an
    # annotation)
    special = (
        bool(annotations)
        and isinstance(annotations[0], dict)
        and ("caption" in annotations[0] or is_panoptic(annotations[0]))
    )
    keypoint_names = {
        cat.id: cat.attributes["keypoints"] for cat in categories if isinstance(cat.attributes.get("keypoints"), list)
    }
    return _FilePlan(
        file,
        images,
        annotations,
        by_image,
        names,
        sample_split,
        prefix,
        by_name,
        listed,
        special,
        duplicates,
        keypoint_names,
    )


def _plan_samples(plan: _FilePlan, positions: Iterable[int], common: Path, report: Report) -> Iterator[Sample]:
    """The samples of ``plan.images[n]`` for ``n`` in ``positions``."""
    file, images = plan.file, plan.images
    for n in positions:
        img = images[n]
        sample = planned_sample(img, n, plan, n in plan.duplicates, common, report)
        if sample is None:
            continue
        add_annotations(
            sample,
            plan.by_image.get(img["id"], ()),
            plan.annotations,
            plan.names,
            plan.special,
            file,
            report,
            plan.keypoint_names,
        )
        report.count_read(sample.split, len(sample.objects))
        yield sample


def _read_shard(
    source: tuple[_FilePlan, Path], positions: range, categories: CategorySet, report: Report
) -> Iterator[Sample]:
    """A shard's samples (:class:`~cvkit.core.model.Shard`): the images at ``positions`` of one loaded file."""
    plan, common = source
    return _plan_samples(plan, positions, common, report)


def read(path: Path, report: Report, task: str | None = None, gt: str | None = None) -> Dataset:
    """Read one COCO file or a folder of them (one task per split; ``task=`` picks it).

    ``gt=instances.json`` gives a results list its images and category names.
    """
    if task is not None and task not in TASK_PRIORITY:
        raise CvkitError(f"unknown COCO task {task!r}; choose one of {', '.join(TASK_PRIORITY)}")
    files = _pick_files(path, task, report)
    categories, hierarchy, info = CategorySet(), Hierarchy(), {}
    gt_data = _load(Path(gt)) if gt else None
    loaded = []
    for file, split in files:  # categories first, so they are known before samples stream
        scanned = _bounded.scan(file) if gt is None else None
        if scanned is not None:
            data: Any = scanned
            raw = scanned.categories
        else:
            data = _load(file)
            raw = data.get("categories") if isinstance(data, dict) else (gt_data or {}).get("categories")
        loaded.append((file, split, data, read_categories(raw or [], file, categories, hierarchy, report, info)))
    common = common_root([file for file, _ in files])

    def plans() -> list[_FilePlan | _bounded_samples.BoundedPlan]:
        return [
            _bounded_samples.plan(data, split, names, categories, report, info, common)
            if isinstance(data, _bounded.ScannedFile)
            else _plan_file(file, split, data, names, categories, report, info, common, gt_data)
            for file, split, data, names in loaded
        ]

    def samples() -> Iterator[Sample]:
        for plan in plans():
            if isinstance(plan, _bounded_samples.BoundedPlan):
                yield from track(
                    _bounded_samples.all_samples(plan, common, report, SHARD_IMAGES),
                    f"reading {plan.file.name}",
                    plan.count,
                )
                continue
            positions = track(range(len(plan.images)), f"reading {plan.file.name}", len(plan.images))
            yield from _plan_samples(plan, positions, common, report)
        report.read.categories = len(categories)

    def shards(workers: int) -> list[Shard] | None:
        # Forked workers read the parsed JSON through copy-on-write pages, and CPython writes a reference count into
        # each object it reads: together they copy about as much as the parent holds, some 8 bytes a byte of JSON.
        # Columns (numpy arrays) are not copied so.
        loaded_json = [file for file, _, data, _ in loaded if not isinstance(data, _bounded.ScannedFile)]
        needed = PARSED_BYTES_PER_JSON_BYTE * sum(file.stat().st_size for file in loaded_json)
        available = memory_available() if workers > 1 and needed else None
        if available is not None and needed > available:
            report.warn(
                f"written in one process: worker processes would need about {needed / 2**30:.1f} GiB more memory "
                "than is free"
            )
            return None
        out = []
        for plan in plans():
            if isinstance(plan, _bounded_samples.BoundedPlan):
                out += [
                    Shard(len(run), _bounded_samples.read_shard, (plan, common), run)
                    for run in runs(range(plan.count), SHARD_IMAGES)
                ]
            else:
                out += [
                    Shard(len(run), _read_shard, (plan, common), run)
                    for run in runs(range(len(plan.images)), SHARD_IMAGES)
                ]
        return out

    # the dataset root is fixed now, before images are seen: the folder the annotation files share
    return Dataset(
        samples(), categories, hierarchy, root=common, source_format="coco", info={"coco": info}, shards=shards
    )


#: images in one :class:`~cvkit.core.model.Shard` of a loaded file (writers that use several processes take them)
SHARD_IMAGES = 1000
#: memory the parsed JSON takes per byte of file (measured: 73 MB of COCO instances -> about 550 MB of objects)
PARSED_BYTES_PER_JSON_BYTE = 8


# --- writing -------------------------------------------------------------------------
#: keys a record's ``meta["coco"]`` never sets: the ids the writer gives and the geometry it writes
IMAGE_STRUCTURAL_KEYS = frozenset(("id", "file_name", "width", "height"))
ANNOTATION_STRUCTURAL_KEYS = frozenset(ANN_KEYS)


def _coco_annotation(obj: Annotation, report: Report, id_keys: bool = False) -> dict[str, Any] | None:
    """The COCO record of one object without its ids (``id``, ``image_id``, ``category_id`` come first in the file:
    the placing side gives them, :mod:`cvkit.formats.coco._spool`; ``id_keys``: the record starts with those keys,
    0 standing for the ids); None when COCO cannot hold it (reported).

    Runs once per object (500,000 in the benchmark): fields are read once and only what is set is added. The
    object's ``meta["coco"]`` adds the source's other keys (``area`` as it was read), never a structural one."""
    bbox = obj.bbox if obj.bbox is not None else obj.ensure_bbox()
    shape, polygon, rle, keypoints = obj.shape, obj.polygon, obj.rle, obj.keypoints
    if bbox is None and not keypoints:
        report.lose(f"{shape} shape", "COCO has no shapes without area (points, lines); dropped")
        return None
    if shape != "box" and shape in ("circle", "line", "linestrip"):
        report.lose(f"{shape} shape", "COCO has no such shape; written as its bounding box")
    extra = obj.meta.get("coco") if obj.meta else None
    if extra and "area" in extra:
        area = extra["area"]
    elif polygon or rle is not None:
        area = round(obj.area(), 4)
    else:
        area = round(bbox[2] * bbox[3], 4) if bbox is not None else 0.0
    segmentation = rle if rle is not None else polygon or []
    box = list(bbox) if bbox is not None else [0, 0, 0, 0]
    if id_keys:
        item: dict[str, Any] = {
            "id": 0,
            "image_id": 0,
            "category_id": 0,
            "segmentation": segmentation,
            "area": area,
            "bbox": box,
            "iscrowd": int(obj.iscrowd),
        }
    else:
        item = {"segmentation": segmentation, "area": area, "bbox": box, "iscrowd": int(obj.iscrowd)}
    if keypoints is not None:
        item["keypoints"] = keypoints
        item["num_keypoints"] = sum(1 for v in keypoints[2::3] if v > 0)
    score, attributes = obj.score, obj.attributes
    if score is not None:
        item["score"] = score
    if attributes:
        item["attributes"] = attributes
    if extra:
        item.update((k, v) for k, v in extra.items() if k not in ANNOTATION_STRUCTURAL_KEYS)
    return item


def write(
    dataset: Dataset,
    path: Path,
    report: Report,
    images: str = "reference",
    task: str = "instances",
    workers: int | None = None,
) -> None:
    """Write one ``.json`` file or a folder with ``annotations/<task>_<split>.json``.

    ``images``: reference (file_name relative to the source root, which the JSON's
    ``info.image_root`` records), or copy/hardlink/symlink into ``images/<split>/``. ``workers``: processes that
    read a sharded source (a manifest, COCO, VOC, LabelMe) and write its records' JSON (default: one a CPU); ids,
    and the names of placed images, are given here, in order, so the file is the one a single process writes.
    """
    single = path.suffix.lower() == ".json"
    if single and images != "reference":
        raise CvkitError("--images copy/hardlink/symlink needs a folder destination, not a .json file", file=path)
    work = path.parent if single else path
    work.mkdir(parents=True, exist_ok=True)
    output = Output(work, single, dataset.categories, images, dataset.root)
    writers = output.writers
    pipeline = Pipeline(dataset, report, workers)
    encoder = RecordEncoder(dataset.root, pipeline.report, task, images == "reference", pipeline.in_process)
    for journal, run in pipeline.runs(encode_run, encoder, "writing COCO", lambda run: len(run.splits)):
        place_run(journal, run, output, report)
    if single and len({s for s in report.written.splits if s != "-"}) > 1:
        report.lose("split names", "one COCO file holds no splits; write to a folder to get one file per split")
    head = _head(dataset, images == "reference")
    if task == "captions":  # COCO's captions files have none: pycocotools indexes category_id when they do
        del head["categories"]
        if len(dataset.categories):
            report.lose("category", "COCO captions files hold no categories", len(dataset.categories))
    if any(writer.annotation_ids.replaced_low for writer in writers.values()):
        report.warn(
            "annotation ids of 0 (or below) were renumbered: pycocotools' COCOeval takes a match with annotation id "
            "0 for no match"
        )
    for key, writer in writers.items() or [(None if single else NO_SPLIT, SplitWriter(work))]:
        target = path if single else path / "annotations" / f"{task}_{key}.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        writer.finish(target, head)
    report.written.categories = len(dataset.categories) if "categories" in head else 0


def _image_record(
    sample: Sample, file_name: str | None, size: tuple[int | None, int | None], captions: bool, id_keys: bool = False
) -> dict[str, Any]:
    """The ``images[]`` entry of a sample without its id (and without ``file_name`` when None: the image is placed
    and named by the placing side; ``id_keys``: the entry starts with those keys all the same, to be filled). Its
    captions, when written as records, are left out of its attributes; its ``meta["coco"]`` adds the source's other
    keys, never a structural one."""
    if id_keys:
        image: dict[str, Any] = {"id": 0, "file_name": file_name}
    else:
        image = {"file_name": file_name} if file_name is not None else {}
    image["width"], image["height"] = size
    attributes = {k: v for k, v in sample.attributes.items() if k != "captions"} if captions else sample.attributes
    if attributes:
        image["attributes"] = attributes  # as annotations carry theirs (datumaro's extension)
    extra = sample.meta.get("coco") if sample.meta else None
    if extra:
        image.update((k, v) for k, v in extra.items() if k not in IMAGE_STRUCTURAL_KEYS)
    return image


@dataclass(frozen=True, slots=True)
class RecordEncoder:
    """What encoding a run of samples into COCO records needs (picklable: it travels to the workers)."""

    root: Path | None
    report: Report
    task: str
    referenced: bool  # images referenced where they are: file_name is the sample's path
    #: records handed over as dicts whose ids the placing side fills in (every run encoded in this process: dumped
    #: a batch at a time when spooled), else as JSON bytes without the ids (cheaper to send than dicts)
    as_dicts: bool = False


def encode_run(encoder: RecordEncoder, samples: Iterator[Sample]) -> EncodedRun:
    """A run's image and object records without their ids, in columns (the encode half of :func:`write`)."""
    run = EncodedRun.empty()
    root, report, referenced = encoder.root, encoder.report, encoder.referenced
    captions_task = encoder.task == "captions"
    lost_labels = f"COCO {encoder.task}"
    as_dicts = encoder.as_dicts
    dumps = _as_is if as_dicts else _body
    for sample in samples:
        captions = sample.attributes.get("captions") if captions_task else None
        size = written_size(sample, root, report)
        image = _image_record(sample, sample.path if referenced else None, size, captions is not None, as_dicts)
        report.lose_image_labels(lost_labels, len(sample.labels))
        run.splits.append(sample.split)
        run.image_ids.append(sample.id if type(sample.id) is int else None)
        run.images.append(dumps(image))
        if not referenced:
            run.paths.append(sample.path)
        if captions is not None:  # a captions file: one record per caption, no objects
            run.counts.append(len(captions))
            for caption in captions:
                run.labels.append(None)
                run.object_ids.append(None)
                record = {"id": 0, "image_id": 0, "caption": str(caption)} if as_dicts else {"caption": str(caption)}
                run.objects.append(dumps(record))
            if sample.objects:
                report.lose("object", "COCO captions hold no objects", len(sample.objects))
            continue
        run.counts.append(len(sample.objects))
        for obj in sample.objects:
            item = _coco_annotation(obj, report, as_dicts)
            run.labels.append(obj.label)
            run.object_ids.append(obj.id if type(obj.id) is int else None)
            run.objects.append(None if item is None else dumps(item))
    return run


def _body(record: dict[str, Any]) -> bytes:
    """A record's JSON without its opening brace: the placing side writes the ids before it."""
    return jsonio.dumps(record)[1:]


def _as_is(record: dict[str, Any]) -> dict[str, Any]:
    return record


def _head(dataset: Dataset, referenced: bool) -> dict[str, Any]:
    """info, licenses and categories (ids kept; supercategory = the first parent in the hierarchy)."""
    source = dataset.info.get("coco", {}) if isinstance(dataset.info.get("coco"), dict) else {}
    info = dict(source.get("info") or {"description": "written by cvkit"})
    if referenced and dataset.root is not None:
        info["image_root"] = str(dataset.root.resolve())
    group = source.get("group_category")  # Roboflow's dataset-named group, unless a category now has its name or id
    free = (
        isinstance(group, dict)
        and group.get("name") not in dataset.categories
        and dataset.categories.by_id(group.get("id")) is None
    )
    categories = [group] if free else []
    for cat in dataset.categories:
        parents = dataset.hierarchy.parents(cat.name)
        categories.append(
            {"id": cat.id, "name": cat.name, "supercategory": parents[0] if parents else "", **cat.attributes}
        )
    return {"info": info, "licenses": source.get("licenses") or [], "categories": categories}
