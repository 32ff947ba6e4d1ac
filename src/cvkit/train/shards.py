"""Training from WebDataset shards (``cvkit export --to webdataset``): ``cvkit train cnn 'shards/train-{0..9}.tar'``.

The shards' tar headers are read once (no image data): each sample's image member becomes an item held in numpy
arrays (shard number, byte offset, size, class), not a Python tuple. Training streams them
(:mod:`cvkit.train.stream`: whole shards read front to back); samplers that need random access (balanced,
repeat-factor, magnet) read an image with one seek into its tar, in the order the manifest gave. Class names come
from ``classes.txt`` beside the shards, classes from the ``.cls`` members (images with one label); the split of a
shard is the start of its name (``val-000000.tar``).
"""

from __future__ import annotations

import re
import tarfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from cvkit.errors import CvkitError, InvalidInputError

CLASSES_FILE = "classes.txt"
_RANGE = re.compile(r"\{(\d+)\.\.(\d+)\}")
_CHOICE = re.compile(r"\{([^{}]*,[^{}]*)\}")


def is_shard_source(path: str | Path) -> bool:
    """True for a tar file or a brace pattern of tars (``train-{000000..000009}.tar``)."""
    return str(path).lower().endswith(".tar")


def expand_shards(spec: str | Path) -> list[Path]:
    """``dir/train-{000000..000002}.tar`` -> three paths (zero padding kept); ``{a,b}`` lists too. Each must exist."""
    patterns = [str(spec)]
    expanded: list[str] = []
    while patterns:
        pattern = patterns.pop(0)
        if match := _RANGE.search(pattern):
            first, last = match.group(1), match.group(2)
            width = len(first) if first.startswith("0") else 0
            for number in range(int(first), int(last) + 1):
                patterns.append(pattern[: match.start()] + str(number).zfill(width) + pattern[match.end() :])
        elif match := _CHOICE.search(pattern):
            patterns.extend(
                pattern[: match.start()] + choice + pattern[match.end() :] for choice in match.group(1).split(",")
            )
        else:
            expanded.append(pattern)
    paths = [Path(p) for p in expanded]
    for path in paths:
        if not path.is_file():
            raise InvalidInputError("shard not found", file=path)
    return paths


def shard_class_names(spec: str | Path) -> list[str]:
    """The class names in ``classes.txt`` beside the (first) shard, in class-number order."""
    first = expand_shards(spec)[0]
    names_file = first.parent / CLASSES_FILE
    if not names_file.is_file():
        raise InvalidInputError(
            f"no {CLASSES_FILE} beside the shards (cvkit export --to webdataset writes it)", file=names_file
        )
    return [line.strip() for line in names_file.read_text(encoding="utf-8").splitlines() if line.strip()]


class MemberPath(str):
    """An item's image: ``archive.tar#member`` as text (for messages), read with one seek at ``offset``."""

    offset: int
    size: int
    archive: str

    def __new__(cls, archive: str, member: str, offset: int, size: int) -> MemberPath:
        path = super().__new__(cls, f"{archive}#{member}")
        path.archive, path.offset, path.size = archive, offset, size
        return path

    def read(self) -> bytes:
        with open(self.archive, "rb") as handle:
            handle.seek(self.offset)
            return handle.read(self.size)


class ShardItems(Sequence):
    """Items (``(MemberPath, class, None)``) of shards held as numpy arrays: a few bytes per sample in every
    DataLoader worker, shared copy-on-write without Python objects to touch."""

    def __init__(
        self,
        archives: list[str],
        shard: np.ndarray,
        members: np.ndarray,
        offsets: np.ndarray,
        sizes: np.ndarray,
        targets: np.ndarray,
    ):
        self.archives, self.shard, self.members = archives, shard, members
        self.offsets, self.sizes, self.targets = offsets, sizes, targets

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int) -> tuple[MemberPath, int, None]:  # type: ignore[override]
        member = self.members[index].decode("utf-8")
        path = MemberPath(self.archives[self.shard[index]], member, int(self.offsets[index]), int(self.sizes[index]))
        return path, int(self.targets[index]), None

    def __iter__(self) -> Iterator[tuple[MemberPath, int, None]]:
        return (self[i] for i in range(len(self)))


def _scan(archive: Path) -> Iterator[tuple[str, int, int, int | None]]:
    """``(image member, offset, size, class or None)`` per sample of one tar, from its headers and .cls members."""
    images: dict[str, tuple[str, int, int]] = {}
    classes: dict[str, int] = {}
    order: list[str] = []
    try:
        with tarfile.open(archive) as tar:
            for info in tar:
                if not info.isfile():
                    continue
                key, _, extension = info.name.partition(".")
                if key not in images and key not in classes:
                    order.append(key)
                if extension == "cls":
                    handle = tar.extractfile(info)
                    classes[key] = int(handle.read()) if handle is not None else -1
                elif extension != "json":
                    images[key] = (info.name, info.offset_data, info.size)
    except (tarfile.TarError, ValueError) as exc:
        raise InvalidInputError(f"not a readable WebDataset shard ({exc})", file=archive) from None
    for key in order:
        if key in images:
            yield (*images[key], classes.get(key))


def shard_items(
    spec: str | Path, split: str | None = None, exclude_splits: Sequence[str] = ()
) -> tuple[ShardItems, int]:
    """The items of the shards (of ``split``, without ``exclude_splits``, by shard name) and the unlabelled count."""
    archives = [p for p in expand_shards(spec) if _keep(_split_of(p), split, exclude_splits)]
    columns: dict[str, list] = {"shard": [], "member": [], "offset": [], "size": [], "target": []}
    unlabelled = 0
    for number, archive in enumerate(archives):
        for member, offset, size, target in _scan(archive):
            if target is None:
                unlabelled += 1
                continue
            for name, value in zip(columns, (number, member.encode("utf-8"), offset, size, target), strict=True):
                columns[name].append(value)
    items = ShardItems(
        [str(a) for a in archives],
        np.asarray(columns["shard"], dtype=np.int32),
        np.asarray(columns["member"], dtype=bytes),
        np.asarray(columns["offset"], dtype=np.int64),
        np.asarray(columns["size"], dtype=np.int64),
        np.asarray(columns["target"], dtype=np.int64),
    )
    return items, unlabelled


def _split_of(archive: Path) -> str:
    return archive.name.rsplit("-", 1)[0] if "-" in archive.name else ""


def _keep(shard_split: str, split: str | None, exclude_splits: Sequence[str]) -> bool:
    return (split is None or shard_split == split) and shard_split not in exclude_splits


def shard_item_set(
    spec: str | Path, names: list[str], split: str | None, exclude_splits: Sequence[str]
) -> tuple[ShardItems, int, list[int]]:
    """Items whose classes are numbers in ``names`` (the model's classes; shards number theirs by their own
    ``classes.txt``), the unlabelled count and the images per class."""
    items, unlabelled = shard_items(spec, split, exclude_splits)
    own = shard_class_names(spec)
    if own != list(names):
        index = {name: i for i, name in enumerate(names)}
        missing = [name for name in own if name not in index]
        used = set(np.unique(items.targets).tolist())
        if any(own.index(name) in used for name in missing):
            raise CvkitError(f"the shards' classes {missing[:5]} are not the model's classes", file=str(spec))
        lookup = np.asarray([index.get(name, -1) for name in own], dtype=np.int64)
        items.targets = lookup[items.targets]
    counts = np.bincount(items.targets, minlength=len(names)).tolist() if len(items) else [0] * len(names)
    return items, unlabelled, counts


def check_task(multi_label: bool, crops: bool, path: str | Path) -> None:
    """Shards carry one class per image (``.cls``): the other training modes need a manifest."""
    if multi_label or crops:
        raise CvkitError(
            "training from WebDataset shards is single-label classification; --multi-label and --crops "
            "need the manifest",
            file=path,
        )
