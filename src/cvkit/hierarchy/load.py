"""``load_hierarchy(path)``: recognise which hierarchy form a file or folder is, and load it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cvkit.core.categories import Hierarchy
from cvkit.errors import CvkitError, InvalidInputError
from cvkit.hierarchy import sources, wordnet

IS_A_NAMES = ("wordnet.is_a.txt", "is_a.txt")
WORDS_NAMES = ("words.txt", "wordnet.words.txt")
LOOKED_FOR = (
    "wordnet.is_a.txt or is_a.txt (+ words.txt), WordNet's data.noun, an ImageNet devkit meta.mat (or data/meta.mat), "
    "a CIFAR-100 python folder (meta + train/test), a COCO .json, a cvkit manifest (.jsonl or .parquet), "
    "or a child,parent .csv / .json edge list"
)


@dataclass(frozen=True, slots=True)
class HierarchySource:
    """A recognised hierarchy on disk: its ``kind`` and files. ``load`` reads it."""

    kind: str
    path: Path
    words: Path | None = None

    @property
    def needs_names(self) -> bool:
        """True for the WordNet database: it is read for a set of WNIDs, not whole."""
        return self.kind == "wordnet-database"

    def load(self, names: Iterable[str] | None = None) -> Hierarchy:
        """The hierarchy, checked for cycles. ``names`` limits the WordNet database to those
        WNIDs and their ancestors (all 82,000 nouns when None); other forms load whole."""
        if self.kind == "imagenet-is-a":
            hierarchy = wordnet.load_imagenet_isa(self.path, self.words)
        elif self.kind == "wordnet-database":
            hierarchy = wordnet.load_wordnet_database(self.path, names)
        elif self.kind == "devkit-meta":
            hierarchy = sources.load_devkit_meta(self.path)
        elif self.kind == "cifar100":
            hierarchy = sources.load_cifar100(self.path)
        elif self.kind == "manifest":
            hierarchy = sources.load_manifest_header(self.path)
        elif self.kind == "json":
            hierarchy = sources.load_json(self.path)
        else:
            hierarchy = sources.load_edge_csv(self.path)
        try:
            hierarchy.check_acyclic()
        except CvkitError as exc:
            raise InvalidInputError(exc.message, file=self.path) from None
        return hierarchy


def _first_file(folder: Path, names: Iterable[str]) -> Path | None:
    return next((folder / name for name in names if (folder / name).is_file()), None)


def find_hierarchy(path: str | Path) -> HierarchySource:
    """Which hierarchy form ``path`` is (see :data:`LOOKED_FOR`); raises saying what was looked for."""
    path = Path(path)
    if not path.exists():
        raise CvkitError("hierarchy not found", file=path)
    if path.is_dir():
        is_a = _first_file(path, IS_A_NAMES)
        if is_a is not None:
            return HierarchySource("imagenet-is-a", is_a, _first_file(path, WORDS_NAMES))
        data_noun = _first_file(path, ("data.noun", "dict/data.noun"))
        if data_noun is not None:
            return HierarchySource("wordnet-database", data_noun)
        meta_mat = _first_file(path, ("meta.mat", "data/meta.mat"))
        if meta_mat is not None:
            return HierarchySource("devkit-meta", meta_mat)
        if (path / "meta").is_file() and _first_file(path, ("train", "test")):
            return HierarchySource("cifar100", path)
        raise CvkitError(f"no hierarchy found in this folder; looked for {LOOKED_FOR}", file=path)
    name, suffix = path.name.lower(), path.suffix.lower()
    if name == "data.noun":
        return HierarchySource("wordnet-database", path)
    if name.endswith("is_a.txt"):
        return HierarchySource("imagenet-is-a", path, _first_file(path.parent, WORDS_NAMES))
    if suffix == ".mat":
        return HierarchySource("devkit-meta", path)
    if name == "meta" and _first_file(path.parent, ("train", "test")):
        return HierarchySource("cifar100", path.parent)
    if suffix in (".jsonl", ".parquet", ".pq"):
        return HierarchySource("manifest", path)
    if suffix == ".json":
        return HierarchySource("json", path)
    if suffix == ".csv":
        return HierarchySource("csv", path)
    raise CvkitError(f"not a hierarchy file cvkit knows; expected {LOOKED_FOR}", file=path)


def load_hierarchy(path: str | Path, names: Iterable[str] | None = None) -> Hierarchy:
    """Load the hierarchy at ``path`` (form auto-detected); ``names`` limits the WordNet database.

    A cycle is an error naming the cycle and the file.
    """
    return find_hierarchy(path).load(names)
