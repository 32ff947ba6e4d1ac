"""Reading Label Studio JSON exports of image tasks: the full export (tasks with ``annotations``/``predictions``)
and JSON-MIN (one record per annotation, regions listed under each control's ``from_name``).

Every annotation and prediction of a task becomes objects of the task's one sample, each remembering where it came
from (``meta["label_studio"]``) so the writer gives the annotations back apart; ``choices`` alone are image-level
labels, ``choices``/``textarea``/``number``/``rating`` results sharing a region's id are that region's attributes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

from cvkit.core import jsonio
from cvkit.core.categories import CategorySet
from cvkit.core.imageinfo import IMAGE_EXTENSIONS, read_image_info
from cvkit.core.model import Annotation, Dataset, Sample, Shard
from cvkit.core.report import Report
from cvkit.core.shards import read_here, shards_of
from cvkit.errors import CvkitError, InvalidInputError
from cvkit.formats.label_studio._regions import REGION_TYPES, VALUE_KEYS, region_kind, region_to_annotation
from cvkit.io import read_regular_bytes

#: JSON-MIN keys that are the annotation's own, not task data or a control's regions
MIN_KEYS = ("id", "annotator", "annotation_id", "created_at", "updated_at", "lead_time", "agreement", "history")
#: the 8-hex-digit prefix Label Studio gives uploaded files (``e97d4735-000000000025.jpg``)
_UPLOAD_PREFIX = re.compile(r"^[0-9a-f]{8}-")


def load_records(file: Path) -> list[dict[str, Any]]:
    """The file's tasks (or JSON-MIN records): a JSON list, or one task object."""
    data = read_regular_bytes(file)
    try:
        top = jsonio.loads(data)
    except jsonio.JSONDecodeError as exc:
        raise InvalidInputError(
            f"malformed JSON: {exc}", file=file, location=jsonio.error_location(exc, data)
        ) from None
    records = [top] if isinstance(top, dict) else top
    if not isinstance(records, list):
        raise InvalidInputError("expected a JSON list of Label Studio tasks", file=file)
    return records


def looks_like_image(value: Any) -> bool:
    if not isinstance(value, str) or not value or "\n" in value:
        return False
    path = urlparse(value).path if "://" in value else value
    if "/data/local-files/" in value:
        path = (parse_qs(urlparse(value).query).get("d") or [""])[0]
    return path.startswith("/data/upload/") or PurePosixPath(path).suffix.lower() in IMAGE_EXTENSIONS


class Images:
    """Resolves an image reference as Label Studio writes it against ``root`` (``-r image_root=DIR``):
    ``/data/upload/<project>/<file>``, ``/data/local-files/?d=<path>``, URLs (by file name), plain paths; the
    upload prefix (``e97d4735-``) is also tried without."""

    def __init__(self, root: Path):
        self.root = root

    def candidates(self, ref: str) -> list[str]:
        if ref.startswith("/data/upload/"):
            rel = ref[len("/data/upload/") :]
        elif "/data/local-files/" in ref:
            rel = unquote((parse_qs(urlparse(ref).query).get("d") or [""])[0])
        elif "://" in ref:
            rel = unquote(urlparse(ref).path).lstrip("/")
        else:
            rel = ref
        rel = rel.lstrip("/") if rel.startswith("/") and not Path(rel).is_file() else rel
        name = PurePosixPath(rel).name
        out = [rel] + [c for c in (name, _UPLOAD_PREFIX.sub("", name)) if c and c != rel]
        parts = PurePosixPath(rel).parts
        if len(parts) > 1 and ref.startswith("/data/upload/"):
            out.insert(1, str(PurePosixPath(*parts[1:])))  # the project id folder dropped
        return out

    def resolve(self, ref: str) -> tuple[str, bool]:
        for candidate in self.candidates(ref):
            if candidate and (self.root / candidate).is_file():
                return candidate, True
        return ref, False


class LabelStudioReader:
    """Turns records into samples; categories grow as labels are met."""

    def __init__(self, root: Path, report: Report, image_key: str | None):
        self.images = Images(root)
        self.report, self.image_key = report, image_key
        self.categories = CategorySet()
        self.cancelled = self.no_image = self.missing = 0

    # --- results -> objects ------------------------------------------------------------
    def _size(self, result: dict[str, Any], sample: Sample, file: Path, where: str) -> tuple[int, int]:
        width, height = result.get("original_width"), result.get("original_height")
        if isinstance(width, (int, float)) and isinstance(height, (int, float)) and width > 0 and height > 0:
            if not sample.width:
                sample.width, sample.height = int(width), int(height)
            return int(width), int(height)
        if sample.width and sample.height:
            return sample.width, sample.height
        raise InvalidInputError(
            "a region needs original_width/original_height (or a readable image) to place its percentages",
            file=file,
            location=where,
        )

    def _label(
        self, kind: str, value: dict[str, Any], siblings: list[dict[str, Any]], fallback: str
    ) -> tuple[str, list[str]]:
        names = value.get(kind) or value.get("labels")
        if not names:
            names = next(
                (
                    s["value"].get("labels")
                    for s in siblings
                    if isinstance(s.get("value"), dict) and s["value"].get("labels")
                ),
                None,
            )
        names = [str(n) for n in names] if isinstance(names, list) and names else [fallback]
        return names[0], names[1:]

    def results(self, results: Any, sample: Sample, source: dict[str, Any], file: Path, where: str) -> list[Annotation]:
        """The objects of one annotation's (or prediction's) ``result`` list; image-level values go to ``sample``."""
        if not isinstance(results, list):
            raise InvalidInputError("'result' must be a list", file=file, location=where)
        by_id: dict[str, list[dict[str, Any]]] = {}
        for i, result in enumerate(results):
            if not isinstance(result, dict) or not isinstance(result.get("value"), dict):
                raise InvalidInputError(
                    "a result must be an object with a 'value' object", file=file, location=f"{where}[{i}]"
                )
            by_id.setdefault(str(result.get("id", f"#{i}")), []).append(result)
        objects = []
        for i, result in enumerate(results):
            value, rid = result["value"], str(result.get("id", f"#{i}"))
            kind = region_kind(str(result.get("type", "")), value)
            if kind is None:
                region = any(region_kind(str(r.get("type", "")), r["value"]) for r in by_id[rid])
                if not region:
                    self._image_value(result, sample)
                continue
            label, more = self._label(kind, value, by_id[rid], str(result.get("from_name", "label")))
            obj = region_to_annotation(
                kind, value, label, self._size(result, sample, file, f"{where}[{i}]"), file, f"{where}[{i}]"
            )
            for sibling in by_id[rid]:
                if sibling is not result and region_kind(str(sibling.get("type", "")), sibling["value"]) is None:
                    key, attribute = _value(sibling)
                    if key is not None:
                        obj.attributes[str(sibling.get("from_name", key))] = attribute
            if more:
                obj.attributes["labels"] = [label, *more]
            score = result.get("score", source.get("score"))
            if isinstance(score, (int, float)) and not isinstance(score, bool):
                obj.score = float(score)
            obj.meta["label_studio"] = {
                "id": result.get("id"),
                "type": kind,
                "from_name": result.get("from_name"),
                "to_name": result.get("to_name"),
                **{k: v for k, v in source.items() if k != "score"},
            }
            self.categories.ensure(label)
            objects.append(obj)
        return objects

    def _image_value(self, result: dict[str, Any], sample: Sample) -> None:
        key, value = _value(result)
        if key == "choices":
            for choice in value if isinstance(value, list) else [value]:
                if choice not in sample.labels:
                    sample.labels.append(str(choice))
                    self.categories.ensure(str(choice))
            sample.meta.setdefault("label_studio", {})["choice_from_name"] = result.get("from_name")
        elif key is not None:
            sample.attributes[str(result.get("from_name", key))] = value

    # --- tasks -------------------------------------------------------------------------
    def _key(self, data: dict[str, Any], results: list[Any]) -> str | None:
        if self.image_key is not None:
            return self.image_key
        for result in results:  # a region's to_name is the Image tag, usually named after its data key
            if not isinstance(result, dict) or not isinstance(result.get("value"), dict):
                continue
            to_name = str(result.get("to_name", "")).lstrip("$")
            if region_kind(str(result.get("type", "")), result["value"]) and isinstance(data.get(to_name), str):
                return to_name
        if isinstance(data.get("image"), str):
            return "image"
        return next((k for k, v in data.items() if looks_like_image(v)), None)

    def _sample(self, task_id: Any, data: dict[str, Any], results: list[Any]) -> Sample:
        key = self._key(data, results)
        ref = data.get(key) if key is not None else None
        if not isinstance(ref, str):
            self.no_image += 1
            sample = Sample(f"task_{task_id}", id=task_id)
        else:
            path, found = self.images.resolve(ref)
            sample = Sample(path, id=task_id)
            if found:
                info = read_image_info(self.images.root / path)
                sample.width, sample.height = info.width, info.height
            else:
                self.missing += 1
        sample.attributes = {k: v for k, v in data.items() if k != key}
        sample.meta["label_studio"] = {"task": task_id, "image_key": key, "image": ref}
        return sample

    def task(self, task: Any, file: Path, where: str) -> Sample:
        if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
            raise InvalidInputError("a task must be an object with a 'data' object", file=file, location=where)
        annotations = task.get("annotations", task.get("completions")) or []
        predictions = task.get("predictions") or []
        if not isinstance(annotations, list) or not isinstance(predictions, list):
            raise InvalidInputError("'annotations' and 'predictions' must be lists", file=file, location=where)
        every = [
            r for group in (*annotations, *predictions) if isinstance(group, dict) for r in group.get("result") or []
        ]
        sample = self._sample(task.get("id"), task["data"], every)
        meta = task.get("meta")
        if isinstance(meta, dict) and not sample.width and isinstance(meta.get("original_width"), int):
            sample.width, sample.height = meta["original_width"], meta.get("original_height")
        for kind, groups in (("annotation", annotations), ("prediction", predictions)):
            for i, group in enumerate(groups):
                here = f"{where}.{kind}s[{i}]"
                if not isinstance(group, dict):
                    raise InvalidInputError(f"an {kind} must be an object", file=file, location=here)
                if group.get("was_cancelled") or group.get("skipped"):
                    self.cancelled += 1
                    continue
                source = _source(kind, i, group)
                sample.objects += self.results(group.get("result") or [], sample, source, file, f"{here}.result")
        return sample

    def minimal(self, record: Any, file: Path, where: str, merged: dict[Any, Sample]) -> Sample | None:
        """A JSON-MIN record; records of one task (several annotators) join its sample, returned only when new."""
        if not isinstance(record, dict):
            raise InvalidInputError("a JSON-MIN record must be an object", file=file, location=where)
        task_id = record.get("id")
        regions = {
            k: v
            for k, v in record.items()
            if k not in MIN_KEYS and isinstance(v, list) and v and all(isinstance(i, dict) for i in v)
        }
        data = {k: v for k, v in record.items() if k not in MIN_KEYS and k not in regions}
        new = task_id not in merged
        sample = merged.get(task_id) or self._sample(task_id, data, [])
        merged[task_id] = sample
        source = {
            "source": "annotation",
            "annotation": record.get("annotation_id"),
            "annotator": record.get("annotator"),
        }
        for name, items in regions.items():
            results = [
                {
                    "from_name": name,
                    "type": _min_type(item),
                    "value": item,
                    **{k: item[k] for k in ("original_width", "original_height") if k in item},
                }
                for item in items
            ]
            sample.objects += self.results(results, sample, source, file, f"{where}.{name}")
        annotations = sample.meta["label_studio"].setdefault("annotations", [])
        annotations.append({k: record[k] for k in ("annotation_id", "annotator") if k in record})
        return sample if new else None

    def tally(self) -> None:
        """Hand this shard's counts to the report (summed over the shards; :func:`_word_tallies` words them)."""
        tallies = self.report.tallies
        for key, count in (("cancelled", self.cancelled), ("no_image", self.no_image), ("missing", self.missing)):
            if count:
                tallies[f"label_studio.{key}"] += count
        self.cancelled = self.no_image = self.missing = 0


def _word_tallies(report: Report) -> None:
    """The warnings the counts of every shard give, once."""
    tallies = report.tallies
    cancelled, no_image, missing = (
        tallies.pop(f"label_studio.{key}", 0) for key in ("cancelled", "no_image", "missing")
    )
    if cancelled:
        report.warn(f"{cancelled} cancelled (skipped) annotation(s) left out")
    if no_image:
        report.warn(f"{no_image} task(s) reference no image (text or audio tasks?): named task_<id>")
    if missing:
        report.warn(
            f"{missing} image(s) not found under the image root; their sizes come from the regions "
            "(-r image_root=DIR: the folder holding Label Studio's media/upload files or local-files root)"
        )


def _min_type(item: dict[str, Any]) -> str:
    return next(
        (k for k in REGION_TYPES if k in item), "choices" if "choices" in item else "textarea" if "text" in item else ""
    )


def _value(result: dict[str, Any]) -> tuple[str | None, Any]:
    """(kind, value) of a value result (choices, textarea, number, ...); one choice or text is kept as a string."""
    value = result.get("value", {})
    for key, field in VALUE_KEYS.items():
        if field in value:
            got = value[field]
            return key, got[0] if isinstance(got, list) and len(got) == 1 and key in ("choices", "textarea") else got
    return None, None


def _source(kind: str, index: int, group: dict[str, Any]) -> dict[str, Any]:
    source: dict[str, Any] = {"source": kind, "index": index}
    for key in ("id", "completed_by", "model_version", "score", "ground_truth"):
        if group.get(key) is not None:
            source[key if key != "id" else kind] = (
                group[key] if not isinstance(group[key], dict) else group[key].get("email", group[key].get("id"))
            )
    return source


def _is_task_list(records: list[Any]) -> bool:
    return any(isinstance(r, dict) and isinstance(r.get("data"), dict) for r in records[:20])


#: what the shards of one read share: the image root, the image key, the files and their records (loaded once)
_Source = tuple[Path, str | None, list[Path], list[list[Any]]]


def read(path: Path, report: Report, image_root: str | None = None, image_key: str | None = None) -> Dataset:
    """One export file, or every ``.json`` export in a folder. The files are loaded here; runs of a task list's tasks
    (a JSON-MIN file, whose records of one task join, whole) are shards."""
    files = sorted(p for p in path.glob("*.json") if p.is_file()) if path.is_dir() else [path]
    if not files:
        raise CvkitError("no .json files in this folder", file=path)
    root = Path(image_root) if image_root else (path if path.is_dir() else path.parent)
    categories = CategorySet()

    def shards(_workers: int) -> list[Shard]:
        loaded = [load_records(file) for file in files]
        source: _Source = (root, image_key, files, loaded)
        found: list[Shard] = []
        for index, records in enumerate(loaded):
            if _is_task_list(records):
                found += shards_of(_read_run, source, [(index, i) for i in range(len(records))])
            else:
                found.append(Shard(len(records), _read_run, source, [(index, i) for i in range(len(records))]))
        return found

    def finish(merged: Report | None) -> None:
        target = merged if merged is not None else report
        _word_tallies(target)
        target.read.categories = max(target.read.categories, len(categories))

    dataset = Dataset(
        read_here(shards, categories, report), categories, root=root, source_format="label_studio", shards=shards
    )
    dataset.finishers.append(finish)
    return dataset


def _read_run(source: _Source, run: list[tuple[int, int]], categories: CategorySet, report: Report) -> Iterator[Sample]:
    """A shard's samples (:class:`~cvkit.core.model.Shard`): records ``(file, position)`` of one file, turned into
    samples here; a JSON-MIN file's samples come once its records are all read (later records of a task add
    objects)."""
    root, image_key, files, loaded = source
    reader = LabelStudioReader(root, report, image_key)
    reader.categories = categories
    file, records = (files[run[0][0]], loaded[run[0][0]]) if run else (None, [])
    tasks = _is_task_list(records)
    merged: dict[Any, Sample] = {}
    pending: list[Sample] = []
    for _index, i in run:
        record = records[i]
        try:
            sample = reader.task(record, file, f"[{i}]") if tasks else reader.minimal(record, file, f"[{i}]", merged)
        except InvalidInputError as err:
            report.invalid(err)
            continue
        if sample is None:
            continue
        if tasks:
            report.count_read(None, len(sample.objects))
            yield sample
        else:
            pending.append(sample)  # later records of the task may add objects
    for sample in pending:
        report.count_read(None, len(sample.objects))
        yield sample
    reader.tally()
