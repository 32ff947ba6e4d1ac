"""What a read/convert/write did: counts, losses and skipped items.

Readers and writers add to one :class:`Report`; the CLI prints it as the summary
after every conversion, and ``--skip-invalid`` writes its skipped items to
``<output>.skipped.jsonl``. Nothing a writer cannot hold is dropped without a line here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from cvkit.errors import InvalidInputError


@dataclass(slots=True)
class Skipped:
    """One input item left out under ``--skip-invalid``: where and why."""

    file: str | None
    location: str | None
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "location": self.location, "reason": self.reason}


@dataclass(slots=True)
class Tally:
    """Images, objects, categories and per-split image counts seen on one side (read or written)."""

    images: int = 0
    objects: int = 0
    categories: int = 0
    splits: Counter[str] = field(default_factory=Counter)

    def to_dict(self) -> dict[str, Any]:
        return {
            "images": self.images,
            "objects": self.objects,
            "categories": self.categories,
            "splits": dict(self.splits),
        }


@dataclass
class Report:
    """Collects what happened; ``skip_invalid`` decides whether bad items raise or are recorded."""

    skip_invalid: bool = False
    #: formats actually used (after detection), for the summary's title
    source_format: str | None = None
    target_format: str | None = None
    read: Tally = field(default_factory=Tally)
    written: Tally = field(default_factory=Tally)
    #: (what, why) -> count: e.g. ("polygon", "YOLO detection labels hold boxes only; written as its box")
    losses: Counter[tuple[str, str]] = field(default_factory=Counter)
    skipped: list[Skipped] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    #: counts a reader keeps across its shards (``"label_studio.cancelled"``), summed by :meth:`merge`; the reader's
    #: finisher words them once every shard is read (a count per shard would give one warning each)
    tallies: Counter[str] = field(default_factory=Counter)

    def invalid(self, error: InvalidInputError) -> None:
        """Record a bad item, or raise it when not skipping."""
        if not self.skip_invalid:
            raise error
        self.skipped.append(Skipped(error.file, error.location, error.message))

    def lose(self, what: str, why: str, count: int = 1) -> None:
        """Record ``count`` items the target cannot represent as the source had them."""
        self.losses[(what, why)] += count

    def lose_image_labels(self, target: str, count: int) -> None:
        """Image-level labels ``target`` (the format as users name it) cannot hold: one wording for every writer."""
        if count:
            self.lose("image-level label", f"{target} cannot hold image-level labels", count)

    def lose_image_attributes(self, attributes: dict[str, Any], target: str) -> None:
        """Per-image attributes (weather, LabelMe's top-level extras, ...) ``target`` cannot hold."""
        for key in attributes:
            self.lose(f"image attribute {key!r}", f"{target} cannot hold image attributes")

    def lose_object_extras(self, obj: Any, target: str, holds: Collection[str] = ()) -> None:
        """What an object carries besides its geometry that ``target`` cannot hold: keypoints, a
        confidence score, attributes (``holds`` names those it can). Writers call this once per object,
        so a summary words these losses alike whatever the format."""
        if obj.keypoints is not None and "keypoints" not in holds:
            self.lose_keypoints(target)
        if obj.score is not None and "score" not in holds:
            self.lose("score", f"{target} cannot hold a confidence score; the object is written without it")
        if obj.attributes and "attributes" not in holds:
            for key in obj.attributes:
                self.lose(
                    f"object attribute {key!r}",
                    f"{target} cannot hold object attributes; the object is written without it",
                )

    def lose_keypoints(self, target: str, count: int = 1) -> None:
        """``count`` objects whose keypoints ``target`` cannot hold (:meth:`lose_object_extras`' wording)."""
        self.lose("keypoints", f"{target} cannot hold keypoints; the object is written without them", count)

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)

    def count_read(self, split: str | None, objects: int) -> None:
        self.read.images += 1
        self.read.objects += objects
        self.read.splits[split or "-"] += 1

    def count_written(self, split: str | None, objects: int) -> None:
        self.written.images += 1
        self.written.objects += objects
        self.written.splits[split or "-"] += 1

    def count_written_many(self, splits: Mapping[str | None, int], objects: int) -> None:
        """:meth:`count_written` of many samples: their number per split, and their objects."""
        for split, images in splits.items():
            self.written.images += images
            self.written.splits[split or "-"] += images
        self.written.objects += objects

    def clear(self) -> None:
        """Forget every count, loss, skipped item and warning (a forked worker starts its own part so)."""
        self.read, self.written = Tally(), Tally()
        self.losses = Counter()
        self.skipped, self.warnings = [], []
        self.tallies = Counter()

    def merge(self, part: Report) -> None:
        """Add what ``part`` (a worker's report on its share of the samples) recorded."""
        for mine, theirs in ((self.read, part.read), (self.written, part.written)):
            mine.images += theirs.images
            mine.objects += theirs.objects
            mine.categories = max(mine.categories, theirs.categories)
            mine.splits.update(theirs.splits)
        self.losses.update(part.losses)
        self.skipped.extend(part.skipped)
        self.tallies.update(part.tallies)
        for message in part.warnings:
            self.warn(message)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source_format": self.source_format,
            "target_format": self.target_format,
            "read": self.read.to_dict(),
            "written": self.written.to_dict(),
            "not_represented": [{"what": w, "why": y, "count": c} for (w, y), c in sorted(self.losses.items())],
            "skipped": [s.to_dict() for s in self.skipped],
            "warnings": list(self.warnings),
        }

    def skipped_jsonl(self) -> str:
        """The skipped items as JSON Lines, what ``<output>.skipped.jsonl`` holds (:func:`cvkit.api.write_skipped`)."""
        import json

        return "".join(json.dumps(s.to_dict(), ensure_ascii=False) + "\n" for s in self.skipped)
