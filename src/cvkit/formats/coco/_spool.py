"""How the COCO writer numbers and spools its records: one output file per split, its ids, and the runs of
records encoded on an executor (:class:`cvkit.core.shards.Pipeline`), numbered here a run at a time.

A run's records come as JSON objects without their ids (and without ``file_name`` where images are placed), beside
the ids each sample and object asks for, as data; this side gives the ids (and names) in input order and writes them
first in each record, so the file is the one a single process writes, byte for byte.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from collections.abc import Iterator, Sequence
from itertools import accumulate, chain, repeat
from pathlib import Path
from typing import IO, Any, NamedTuple

from cvkit.core import jsonio
from cvkit.core.categories import CategorySet
from cvkit.core.paths import inside, split_name
from cvkit.core.report import Report
from cvkit.core.shards import Journal, create_journalled
from cvkit.core.splits import NO_SPLIT
from cvkit.io import atomic_file, place_image


class SplitWriter:
    """Streams one output JSON: images and annotations go to spools (memory, then temporary files), joined at the end.

    Items are serialised in batches of about :data:`BATCH` (one ``orjson.dumps`` and one write
    per batch, not per item), so memory stays flat and the per-item cost is a list append:
    the COCO writer appends to ``images.items`` / ``annotations.items`` and calls ``flush_if_full``.
    Image and annotation ids are unique per file, as COCO requires.
    """

    def __init__(self, folder: Path):
        self.images, self.annotations = Spool(folder), Spool(folder)
        # annotation id 0 is "unmatched" to pycocotools' COCOeval (evaluateImg's dtm/gtm): never written
        self.image_ids, self.annotation_ids = Ids(), Ids(positive=True)

    def finish(self, target: Path, head: dict[str, Any]) -> None:
        import shutil

        with atomic_file(target, "wb", encoding=None) as out:
            out.write(jsonio.dumps(head)[:-1] + b',"images":[')
            for spool, last in ((self.images, b'],"annotations":['), (self.annotations, b"]}")):
                spool.flush()
                spool.file.seek(0)
                shutil.copyfileobj(spool.file, out, 1 << 20)
                spool.file.close()
                out.write(last)
            out.write(b"\n")


#: Items serialised per batch by :class:`SplitWriter`.
BATCH = 4096
#: bytes a spool keeps in memory before it moves to a temporary file (a file of 20,000 images and boxes: 5 MB)
SPOOL_MEMORY = 16 << 20


class Spool:
    """Comma-separated JSON items, filled a batch at a time: in memory up to :data:`SPOOL_MEMORY`, then in a
    temporary file beside the output."""

    def __init__(self, folder: Path):
        self.file: IO[bytes] = tempfile.SpooledTemporaryFile(SPOOL_MEMORY, dir=folder)  # noqa: SIM115 - closed by SplitWriter.finish()
        #: records to write: dicts, or (on the worker-process path) their JSON bytes
        self.items: list[Any] = []
        self.count = 0

    def flush_if_full(self) -> None:
        if len(self.items) >= BATCH:
            self.flush()

    def flush(self) -> None:
        if not self.items:
            return
        items = self.items
        body = (
            b",".join(items) if isinstance(items[0], bytes) else jsonio.dumps(items)[1:-1]
        )  # the items without brackets
        self.file.write(body if self.count == 0 else b"," + body)
        self.count += len(self.items)
        self.items.clear()


class Ids:
    """Keeps source ids when they are unique integers (``positive``: above 0), else hands out the next free one."""

    def __init__(self, positive: bool = False) -> None:
        self.used: set[int] = set()
        self.next = 1
        #: no used id above this one: from ``next`` on, every id is free when ``next > highest``
        self.highest = 0
        self.lowest = 1 if positive else -(1 << 63)
        #: a source id below ``lowest`` was replaced (the writer says so once)
        self.replaced_low = False

    def take(self, wanted: Any) -> int:
        used = self.used
        if type(wanted) is int and wanted not in used:
            if wanted >= self.lowest:
                used.add(wanted)
                self.highest = max(self.highest, wanted)
                return wanted
            self.replaced_low = True
        while self.next in used:
            self.next += 1
        taken = self.next
        used.add(taken)
        self.next = taken + 1
        self.highest = max(self.highest, taken)
        return taken

    def take_all(self, wanted: list[Any]) -> Sequence[int]:
        """:meth:`take` of each of ``wanted`` in order; when none asks for an id (all None) and no id from ``next``
        on is used, the run of next ids at once."""
        if wanted.count(None) != len(wanted) or self.next <= self.highest:
            return [self.take(one) for one in wanted]
        taken = range(self.next, self.next + len(wanted))
        self.used.update(taken)
        self.next = taken.stop
        self.highest = max(self.highest, taken.stop - 1)
        return taken


class Output:
    """The split files of one write, the category ids their records use (new labels get the next id) and, unless
    images are referenced, the names of the images placed into ``images/<split>/``."""

    def __init__(
        self, work: Path, single: bool, categories: CategorySet, images: str = "reference", root: Path | None = None
    ):
        self.work, self.single, self.categories = work, single, categories
        self.images, self.root = images, root
        self.writers: dict[str | None, SplitWriter] = {}
        self.cat_ids = {c.name: c.id for c in categories}
        self.placed: set[str] = set()

    def place_image(self, path: str, key: str | None) -> str:
        """The file_name of a sample's image (its POSIX ``path``) after copying/linking it into images/<key>/:
        its own name, or its whole path with ``__`` for ``/`` when another image of the split took that."""
        name = Path(path).name
        if f"{key}/{name}" in self.placed:
            name = Path(path).as_posix().replace("/", "__")
        self.placed.add(f"{key}/{name}")
        source = Path(path) if self.root is None or Path(path).is_absolute() else self.root / path
        place_image(source, inside(self.work, "images", key or NO_SPLIT, name), self.images)
        return name

    def writer(self, split: str | None) -> tuple[str | None, SplitWriter]:
        """(file key, writer) of a sample's split: one file, or one per split (``default`` without one)."""
        key = None if self.single else (split or NO_SPLIT)
        writer = self.writers.get(key)
        if writer is None:
            split_name(key) if key is not None else None
            writer = self.writers[key] = SplitWriter(self.work)
        return key, writer

    def category_id(self, label: str) -> int:
        cat_id = self.cat_ids.get(label)
        if cat_id is None:
            cat_id = self.cat_ids[label] = self.categories.ensure(label).id
        return cat_id


class EncodedRun(NamedTuple):
    """A run of samples' records without their ids, in columns (a worker's answer: cheap to send and to number)."""

    splits: list[str | None]
    image_ids: list[int | None]  # the id each sample asks for: an int (kept when unique), else None
    #: image records without id (and file_name, when placed): JSON without its opening brace, or a dict
    images: list[Any]
    paths: list[str]  # the samples' paths, when their images are placed (empty when referenced)
    counts: list[int]  # records per sample
    labels: list[str | None]  # per record: its object's label; None for a caption (no category_id)
    object_ids: list[int | None]
    #: records without ids, as images; None: COCO cannot hold it (its id is taken still)
    objects: list[Any]

    @classmethod
    def empty(cls) -> EncodedRun:
        return cls([], [], [], [], [], [], [], [])

    def subset(self, indices: list[int]) -> tuple[EncodedRun, list[int]]:
        """The samples at ``indices`` (in order) with their objects, and where those objects are in this run."""
        starts = list(accumulate(self.counts, initial=0))
        picked = [o for i in indices for o in range(starts[i], starts[i + 1])]
        part = EncodedRun(
            [self.splits[i] for i in indices],
            [self.image_ids[i] for i in indices],
            [self.images[i] for i in indices],
            [self.paths[i] for i in indices] if self.paths else [],
            [self.counts[i] for i in indices],
            [self.labels[o] for o in picked],
            [self.object_ids[o] for o in picked],
            [self.objects[o] for o in picked],
        )
        return part, picked

    def slice(self, start: int, stop: int, first: int) -> EncodedRun:
        """Samples ``start..stop``, their objects starting at ``first`` in this run."""
        end = first + sum(self.counts[start:stop])
        return EncodedRun(
            self.splits[start:stop],
            self.image_ids[start:stop],
            self.images[start:stop],
            self.paths[start:stop],
            self.counts[start:stop],
            self.labels[first:end],
            self.object_ids[first:end],
            self.objects[first:end],
        )


def place_run(journal: Journal, run: EncodedRun, output: Output, report: Report) -> None:
    """Number and spool a run of encoded samples as the writer numbers them one by one.

    Where the run's reader created categories, the samples from there on are placed after them (so a label the
    writer itself makes a category, such as LabelMe's ``__ignore__``, gets the id one process gives it)."""
    starts = [index for index, names in enumerate(journal) if names]
    if not starts:
        _place_numbered(run, output, report)
        return
    first = sum(run.counts[: starts[0]])
    if starts[0]:
        _place_numbered(run.slice(0, starts[0], 0), output, report)
    for start, stop in zip(starts, [*starts[1:], len(journal)]):
        create_journalled(journal[start], output.categories)
        _place_numbered(run.slice(start, stop, first), output, report)
        first += sum(run.counts[start:stop])


def _place_numbered(run: EncodedRun, output: Output, report: Report) -> None:
    """Number and spool samples whose categories exist: a file at a time, category ids taken in object order."""
    if not run.splits:
        return  # every file of the run was skipped
    known, category_id = output.cat_ids, output.category_id
    # new ones in object order; a caption has none
    categories = [
        known[label] if label in known else None if label is None else category_id(label) for label in run.labels
    ]
    keys = [output.writer(split)[0] for split in dict.fromkeys(run.splits)]
    if len(set(keys)) == 1:
        _place_columns(run, categories, keys[0], output, report)
        return
    by_key: dict[str | None, list[int]] = {}
    for index, split in enumerate(run.splits):
        by_key.setdefault(output.writer(split)[0], []).append(index)
    for key, indices in by_key.items():
        part, picked = run.subset(indices)
        _place_columns(part, [categories[o] for o in picked], key, output, report)


def _place_columns(
    run: EncodedRun, categories: list[int | None], key: str | None, output: Output, report: Report
) -> None:
    """Number and spool samples that go to one file (``categories``: their records' category ids)."""
    writer = output.writers[key]
    image_ids = writer.image_ids.take_all(run.image_ids)
    object_ids = writer.annotation_ids.take_all(run.object_ids)  # taken for a dropped object too, as one by one
    owners = chain.from_iterable(map(repeat, image_ids, run.counts))
    numbered = zip(object_ids, owners, categories, run.objects)
    names = [output.place_image(path, key) for path in run.paths]  # images placed: each named here, in order
    if run.images and isinstance(run.images[0], dict):  # encoded here: dicts with their id keys, to be filled in
        images = _filled_images(image_ids, names, run.images)
        records = _filled_records(numbered)
    else:
        images = _numbered_images(image_ids, names, run.images)
        records = _numbered_records(numbered, None in categories)
    writer.images.items.extend(images)
    writer.images.flush_if_full()
    writer.annotations.items.extend(records)
    writer.annotations.flush_if_full()
    report.count_written_many(Counter(run.splits), len(records) - categories.count(None))


def _numbered_images(image_ids: Sequence[int], names: list[str], bodies: list[bytes]) -> list[bytes]:
    """Image records in JSON: each id (and file name) written before the body a worker encoded."""
    if names:
        return [
            b'{"id":%d,"file_name":%b,%b' % (image_id, jsonio.dumps(name), body)
            for image_id, name, body in zip(image_ids, names, bodies)
        ]
    return [b'{"id":%d,%b' % numbered for numbered in zip(image_ids, bodies)]


def _numbered_records(numbered: Iterator[tuple[int, int, int | None, bytes | None]], captions: bool) -> list[bytes]:
    """Annotation records in JSON: ids (a caption has no category) before each body; a dropped object left out."""
    if captions:
        return [
            b'{"id":%d,"image_id":%d,%b' % (ann_id, image_id, body)
            if category is None
            else b'{"id":%d,"image_id":%d,"category_id":%d,%b' % (ann_id, image_id, category, body)
            for ann_id, image_id, category, body in numbered
            if body is not None
        ]
    return [b'{"id":%d,"image_id":%d,"category_id":%d,%b' % record for record in numbered if record[3] is not None]


def _filled_images(image_ids: Sequence[int], names: list[str], records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Image records encoded here with their id (and file name) keys: filled in."""
    for image_id, record in zip(image_ids, records):
        record["id"] = image_id
    for name, record in zip(names, records):
        record["file_name"] = name
    return records


def _filled_records(numbered: Iterator[tuple[int, int, int | None, dict[str, Any] | None]]) -> list[dict[str, Any]]:
    """Annotation records encoded here with their id keys: filled in; a dropped object left out."""
    records = []
    for ann_id, image_id, category, record in numbered:
        if record is not None:
            record["id"] = ann_id
            record["image_id"] = image_id
            if category is not None:  # a caption has none
                record["category_id"] = category
            records.append(record)
    return records
