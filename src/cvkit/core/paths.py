"""Where cvkit may write and what it may copy: the one rule every writer and command follows.

- **Nothing outside the destination.** A split name is never a path: :func:`split_name` refuses one that would
  leave its folder or hide in it (``/``, ``\\``, ``..``, NUL, control characters, a leading dot). Every other path a
  writer derives from data (an image's file name, a label file) is joined through :func:`inside`, which refuses a
  result that is not under the destination.
- **Never the source.** :func:`check_apart` refuses a destination equal to, inside, or containing a source (links
  resolved), before anything is read or written.
- **Only images are copied.** :func:`check_image_source` (called by :func:`cvkit.io.place_image`) refuses a file
  whose first bytes are no image format's, or that lies outside the source's folders while
  :func:`image_sources` says where they are (``--allow-outside-root`` lifts the second rule, never the first).

docs/safety.md ("Destinations and sources") describes the promise.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from cvkit.errors import CvkitError, InvalidInputError

#: split names that :func:`split_name` checked already (a dataset has a handful; checking each sample's is a set lookup)
_good_splits: set[str] = set()
#: the longest split name: a folder name and ``instances_<split>.json`` must both fit a 255-byte file name
MAX_SPLIT_BYTES = 200


class UnsafePathError(CvkitError):
    """A name from the data would put a file outside the destination (or a destination would touch a source)."""


def split_name(split: str, file: str | Path | None = None) -> str:
    """``split`` when it is safe as one folder or file name part; :class:`UnsafePathError` naming it when not.

    Refused: empty, ``.`` / ``..`` or a leading dot (hidden, and readers skip hidden entries), ``/`` or ``\\``
    (a path, absolute or climbing), NUL and other control characters, more than :data:`MAX_SPLIT_BYTES` bytes.
    Split names are refused rather than rewritten: a rewritten name would silently merge or rename splits."""
    if split in _good_splits:
        return split
    why = _split_problem(split)
    if why:
        raise UnsafePathError(
            f"split name {split!r} {why}; split names become folder and file names, so they must be "
            "plain names (e.g. train, val, test)",
            file=file,
        )
    _good_splits.add(split)
    return split


def _split_problem(split: object) -> str | None:
    if not isinstance(split, str):
        return "is not a string"
    if not split.strip():
        return "is empty"
    if "/" in split or "\\" in split:
        return "holds a path separator"
    if split.startswith("."):
        return "starts with a dot" if split not in (".", "..") else "names a parent or current folder"
    if any(ord(c) < 32 or ord(c) == 127 for c in split):
        return "holds a control character"
    if len(split.encode("utf-8", "surrogateescape")) > MAX_SPLIT_BYTES:
        return f"is longer than {MAX_SPLIT_BYTES} bytes"
    return None


def inside(root: str | Path, *parts: str) -> Path:
    """``root`` joined with ``parts``, refused (:class:`UnsafePathError`) unless the result stays under ``root``.

    The check is on the written path itself (``..`` and absolute parts resolved without touching the disk): the
    destination is a folder cvkit builds, so nothing in it is a link cvkit did not make."""
    root_text = os.path.abspath(root)
    joined = os.path.normpath(os.path.join(root_text, *parts))
    if joined != root_text and not joined.startswith(root_text.rstrip(os.sep) + os.sep):
        raise UnsafePathError(f"{'/'.join(parts)!r} would be written outside the destination", file=root)
    return Path(joined)


# --- a destination apart from its sources -----------------------------------------------------
def _real(path: str | Path) -> Path:
    return Path(os.path.realpath(path))


def check_apart(destination: str | Path, sources: Iterable[str | Path | None], what: str = "source") -> None:
    """Refuse a ``destination`` that is a source, lies inside a source folder, or contains a source (links resolved).

    A source file (a COCO JSON, a manifest) only has to differ from the destination and not lie inside it; a
    source folder also may not hold the destination (``voc2coco SRC SRC/coco`` would write into the input)."""
    dest = _real(destination)
    for source in sources:
        if source is None or not os.path.exists(source):
            continue
        src = _real(source)
        if dest == src:
            raise UnsafePathError(
                f"the destination is the {what} ({source}); cvkit never writes over its input", file=destination
            )
        if src.is_relative_to(dest):
            raise UnsafePathError(
                f"the destination holds the {what} ({source}); replacing it would delete the input", file=destination
            )
        if src.is_dir() and dest.is_relative_to(src):
            raise UnsafePathError(
                f"the destination is inside the {what} folder ({source}); cvkit never writes into its "
                "input: choose a folder outside it",
                file=destination,
            )


def check_not_over(destination: str | Path, folder: str | Path | None, what: str = "image folder") -> None:
    """Refuse a ``destination`` equal to or holding ``folder`` (a dataset's image root: writing there with
    ``--overwrite`` would delete the images being read); a destination inside it is allowed (a manifest's folder)."""
    if folder is None or not os.path.isdir(folder):
        return
    dest, src = _real(destination), _real(folder)
    if src.is_relative_to(dest):
        raise UnsafePathError(
            f"the destination {'is' if src == dest else 'holds'} the source's {what} ({folder}); "
            "cvkit never writes over its input",
            file=destination,
        )


# --- what may be copied into an output -------------------------------------------------------
#: first bytes of the image formats cvkit copies: JPEG, PNG, GIF, TIFF (and BigTIFF), JPEG 2000, ICO, OpenEXR
_MAGIC: tuple[bytes, ...] = (
    b"\xff\xd8\xff",
    b"\x89PNG\r\n\x1a\n",
    b"GIF87a",
    b"GIF89a",
    b"II*\x00",
    b"MM\x00*",
    b"II+\x00",
    b"MM\x00+",
    b"\x00\x00\x00\x0cjP  \r\n\x87\n",
    b"\xff\x4f\xff\x51",
    b"\x00\x00\x01\x00",
    b"v/1\x01",
)
#: sizes of the BMP information headers (BITMAPCOREHEADER ... BITMAPV5HEADER): "BM" alone starts many text files
_BMP_HEADERS = frozenset({12, 16, 40, 52, 56, 64, 108, 124})
#: ISO media brands of still images (AVIF, HEIC/HEIF) after ``ftyp``
_FTYP_BRANDS = (b"avif", b"avis", b"heic", b"heix", b"mif1", b"msf1", b"hevc")


def looks_like_image(head: bytes) -> bool:
    """Whether ``head`` (a file's first 32 bytes) starts like an image file."""
    if head.startswith(_MAGIC):
        return True
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return True
    if head[:2] == b"BM" and int.from_bytes(head[14:18], "little") in _BMP_HEADERS:
        return True
    if head[4:8] == b"ftyp" and head[8:12] in _FTYP_BRANDS:
        return True
    return len(head) > 2 and head[:1] == b"P" and head[1:2] in b"123456" and head[2:3] in b" \t\r\n#"  # PBM/PGM/PPM


#: (folders an image must lie under, whether anywhere is allowed) while :func:`image_sources` is active
_image_roots: tuple[tuple[str, ...], bool] | None = None


@contextmanager
def image_sources(roots: Iterable[str | Path | None], allow_outside: bool = False) -> Iterator[None]:
    """While active, :func:`check_image_source` also refuses images outside ``roots`` (unless ``allow_outside``)."""
    global _image_roots
    outer = _image_roots
    folders = tuple(dict.fromkeys(os.path.abspath(r).rstrip(os.sep) + os.sep for r in roots if r is not None))
    _image_roots = (folders, allow_outside)
    try:
        yield
    finally:
        _image_roots = outer


def check_image_source(source: Path) -> None:
    """Refuse to copy or link ``source`` unless it is a regular file that starts like an image, inside the
    source's folders (:func:`image_sources`). An annotation pointing at ``/etc/passwd`` must not land in the output."""
    policy = _image_roots
    if policy is not None and not policy[1] and policy[0]:
        where = os.path.abspath(source)
        if not any(where.startswith(root) for root in policy[0]):
            shown = ", ".join(root.rstrip(os.sep) for root in policy[0])
            raise InvalidInputError(
                f"image lies outside the source's folders ({shown}); cvkit copies and links only "
                "images inside them (pass --allow-outside-root to allow it)",
                file=source,
            )
    try:
        fd = os.open(source, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise InvalidInputError(f"image cannot be opened ({exc.strerror})", file=source) from None
    try:
        import stat

        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise InvalidInputError("image is not a regular file; cvkit copies and links only image files", file=source)
        head = os.read(fd, 32)
    finally:
        os.close(fd)
    if not looks_like_image(head):
        raise InvalidInputError(
            "not an image file (its first bytes are no JPEG, PNG, GIF, BMP, TIFF, WebP, ... header); "
            "cvkit copies and links only images",
            file=source,
        )
