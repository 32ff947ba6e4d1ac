"""Open image bytes from a plain path or from a member of a tar archive.

Some readers (ImageNet-21k per-synset tars) reference images that are never extracted.
Their manifest paths name the archive, a ``#`` and the member::

    n01234567.tar#n01234567_1.JPEG

A path is a member path when it contains ``.tar#`` / ``.tar.gz#`` / ``.tgz#`` and the part
before the ``#`` is an existing file; anything else is an ordinary file path (so a real
file name containing ``#`` keeps working). Consumers (stats, train) call
:func:`open_image_bytes` instead of ``open()`` to understand both.
"""

from __future__ import annotations

import os
import re
import tarfile
import threading
from functools import lru_cache
from pathlib import Path

from cvkit.errors import InvalidInputError

#: Separator between an archive path and a member name in manifest image paths.
MEMBER_SEPARATOR = "#"
_ARCHIVE_MEMBER = re.compile(r"^(.*?\.(?:tar|tar\.gz|tgz))#(.+)$", re.IGNORECASE)
_lock = threading.Lock()


def member_path(archive: str, member: str) -> str:
    """The manifest path of ``member`` inside ``archive`` (``archive#member``)."""
    return f"{archive}{MEMBER_SEPARATOR}{member}"


def split_member_path(path: str | Path) -> tuple[Path, str] | None:
    """``(archive, member)`` when ``path`` names a tar member that can exist, else None."""
    match = _ARCHIVE_MEMBER.match(str(path))
    if match is None:
        return None
    archive = Path(match.group(1))
    if not archive.is_file():
        return None
    return archive, match.group(2)


@lru_cache(maxsize=16)
def _tar_index(archive: str, mtime_ns: int) -> dict[str, tuple[int, int]]:
    """Member name -> (data offset, size) of an uncompressed tar, from its headers only."""
    index: dict[str, tuple[int, int]] = {}
    with tarfile.open(archive, mode="r:") as tar:
        for info in tar:
            if info.isfile():
                index[info.name] = (info.offset_data, info.size)
    return index


def _read_member(archive: Path, member: str) -> bytes:
    try:
        if archive.suffix.lower() == ".tar":
            with _lock:
                index = _tar_index(str(archive), archive.stat().st_mtime_ns)
            found = index.get(member)
            if found is None:
                raise InvalidInputError(f"no member {member!r} in the archive", file=archive)
            offset, size = found
            with open(archive, "rb") as handle:
                handle.seek(offset)
                return handle.read(size)
        with tarfile.open(archive) as tar:  # compressed: no random access, read through
            handle = tar.extractfile(member)
            if handle is None:
                raise InvalidInputError(f"member {member!r} is not a regular file", file=archive)
            return handle.read()
    except KeyError:
        raise InvalidInputError(f"no member {member!r} in the archive", file=archive) from None
    except tarfile.TarError as exc:
        raise InvalidInputError(f"not a readable tar archive ({exc})", file=archive) from None


def open_image_bytes(path: str | Path) -> bytes:
    """The encoded bytes of an image: a plain file or an ``archive.tar#member`` path.

    Raises :class:`InvalidInputError` naming the file when it (or the member) is missing.
    Uncompressed tars are indexed once (headers only, cached) so each read is one seek.
    """
    member = split_member_path(path)
    if member is not None:
        return _read_member(*member)
    try:
        with open(os.fspath(path), "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        raise InvalidInputError("image file not found", file=path) from None
