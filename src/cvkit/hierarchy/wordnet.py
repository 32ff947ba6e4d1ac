"""WordNet hierarchies: ImageNet's ``wordnet.is_a.txt`` + ``words.txt``, and the WordNet 3.0 database.

ImageNet ships the noun hierarchy as two text files: ``wordnet.is_a.txt`` (``parent child``
per line) and ``words.txt`` (``wnid<TAB>lemma, lemma, ...``). The WordNet 3.0 database
(``data.noun``, e.g. Debian's ``wordnet-base`` in ``/usr/share/wordnet``) holds the same
synsets: a WNID is ``n`` + the 8-digit byte offset of the synset's line, so a synset is
found by one seek. Its hypernym (``@``) and instance-hypernym (``@i``) pointers are the
parents. Both are DAGs; every parent is kept.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from cvkit.core.categories import Hierarchy
from cvkit.errors import CvkitError, InvalidInputError

WNID_PATTERN = re.compile(r"^n\d{8}$")
#: pointer symbols in data.noun that lead to a parent: hypernym and instance hypernym
PARENT_POINTERS = ("@", "@i")


def load_imagenet_isa(is_a_path: str | Path, words_path: str | Path | None = None) -> Hierarchy:
    """Read ``wordnet.is_a.txt`` (``parent child`` lines) and, when given, ``words.txt`` lemmas."""
    is_a_path = Path(is_a_path)
    hierarchy = Hierarchy()
    with open(is_a_path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) != 2:
                raise InvalidInputError(
                    f"expected 'parent child', got {line.strip()!r}", file=is_a_path, location=f"line {number}"
                )
            parent, child = fields
            try:
                hierarchy.add_edge(child, parent)
            except CvkitError as exc:
                raise InvalidInputError(exc.message, file=is_a_path, location=f"line {number}") from None
    if words_path is not None:
        apply_words(hierarchy, words_path)
    return hierarchy


def apply_words(hierarchy: Hierarchy, words_path: str | Path) -> None:
    """Set display names from ``words.txt`` (``wnid<TAB>lemmas``) for the nodes the hierarchy holds."""
    words_path = Path(words_path)
    with open(words_path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            wnid, sep, words = line.rstrip("\r\n").partition("\t")
            if not sep:
                raise InvalidInputError(
                    f"expected 'wnid<TAB>lemmas', got {line.strip()!r}", file=words_path, location=f"line {number}"
                )
            node = hierarchy.nodes.get(wnid.strip())
            if node is not None:
                node.display_name = words.strip()


class WordNetDatabase:
    """Random access to the synsets of a WordNet 3.0 ``data.noun`` by WNID (one seek each)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.handle = open(self.path, "rb")  # noqa: SIM115 - closed in close() / __exit__
        self.size = self.path.stat().st_size

    def __enter__(self) -> WordNetDatabase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.handle.close()

    def synset(self, wnid: str) -> tuple[str, list[str]] | None:
        """``(lemmas, parent WNIDs)`` of ``wnid``; None when no synset line starts at its offset."""
        if not WNID_PATTERN.match(wnid):
            return None
        offset = int(wnid[1:])
        if offset >= self.size:
            return None
        if offset > 0:
            self.handle.seek(offset - 1)
            if self.handle.read(1) != b"\n":
                return None
        else:
            self.handle.seek(0)
        line = self.handle.readline().decode("utf-8", errors="replace")
        if not line.startswith(wnid[1:] + " "):
            return None
        return parse_synset_line(line, self.path, f"byte {offset}")


def parse_synset_line(line: str, path: Path, location: str) -> tuple[str, list[str]]:
    """Lemmas (underscores -> spaces, comma-joined) and parent WNIDs of one ``data.noun`` line.

    Layout (wndb(5)): ``offset lex_filenum ss_type w_cnt(hex) [word lex_id]... p_cnt [ptr offset pos st]... | gloss``.
    """
    try:
        fields = line.split(" | ", 1)[0].split()
        word_count = int(fields[3], 16)
        words = [fields[4 + 2 * i].replace("_", " ") for i in range(word_count)]
        at = 4 + 2 * word_count
        pointer_count = int(fields[at])
        parents = []
        for i in range(pointer_count):
            symbol, target, pos = fields[at + 1 + 4 * i : at + 4 + 4 * i]
            if symbol in PARENT_POINTERS and pos == "n":
                parents.append("n" + target)
    except (IndexError, ValueError):
        raise InvalidInputError("malformed synset line (see wndb(5))", file=path, location=location) from None
    return ", ".join(words), parents


def load_wordnet_database(path: str | Path, names: Iterable[str] | None = None) -> Hierarchy:
    """The noun hierarchy of ``data.noun`` for ``names`` (WNIDs) and their ancestors, or all of it.

    Names that are not WNIDs of this database are left out (callers report classes the
    hierarchy lacks); only the synsets reached from ``names`` are read, by seeking.
    """
    path = Path(path)
    if names is None:
        return _load_whole_database(path)
    hierarchy = Hierarchy()
    with WordNetDatabase(path) as database:
        pending = [name for name in dict.fromkeys(names) if WNID_PATTERN.match(name)]
        seen: set[str] = set()
        while pending:
            wnid = pending.pop()
            if wnid in seen:
                continue
            seen.add(wnid)
            found = database.synset(wnid)
            if found is None:
                continue
            words, parents = found
            node = hierarchy.node(wnid)
            node.display_name = words
            for parent in parents:
                hierarchy.add_edge(wnid, parent)
            pending.extend(parents)
    return hierarchy


def _load_whole_database(path: Path) -> Hierarchy:
    """Every noun synset of ``data.noun`` (about 82,000), read in one pass."""
    hierarchy = Hierarchy()
    with open(path, "rb") as handle:
        offset = 0
        for raw in handle:
            start, offset = offset, offset + len(raw)
            if raw.startswith(b"  "):  # licence header lines
                continue
            words, parents = parse_synset_line(raw.decode("utf-8", errors="replace"), path, f"byte {start}")
            wnid = f"n{start:08d}"
            node = hierarchy.node(wnid)
            node.display_name = words
            for parent in parents:
                hierarchy.add_edge(wnid, parent)
    return hierarchy
