"""File output that never leaves half-written results, image placement, and reading inputs safely.

Atomic files and folders, and the clearing of what a killed run left, live in :mod:`cvkit.atomic` and are
re-exported here. Inputs are only ever opened for reading, and regular files only (:func:`open_regular_fd`).
"""

from __future__ import annotations

import codecs
import os
import shutil
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from cvkit.atomic import OLD_INFIX as OLD_INFIX
from cvkit.atomic import TMP_SUFFIX as TMP_SUFFIX
from cvkit.atomic import _owner_tag as _owner_tag
from cvkit.atomic import atomic_dir as atomic_dir
from cvkit.atomic import atomic_file as atomic_file
from cvkit.atomic import atomic_write_bytes as atomic_write_bytes
from cvkit.atomic import atomic_write_text as atomic_write_text
from cvkit.atomic import check_destination as check_destination
from cvkit.atomic import clear_leftovers as clear_leftovers
from cvkit.atomic import exclusive as exclusive
from cvkit.atomic import extraction_folder as extraction_folder
from cvkit.atomic import leftover_owner as leftover_owner
from cvkit.atomic import rewrite_own_file as rewrite_own_file
from cvkit.core import jsonio
from cvkit.core.paths import check_image_source
from cvkit.errors import CvkitError, InvalidInputError

IMAGE_MODES = ("reference", "copy", "hardlink", "symlink")


def file_or_folder_images(images: str | None, single_file: bool, writer: str, suffix: str) -> str:
    """The image mode of a writer whose destination is one file (images referenced where they are) or a folder
    (images copied beside the annotations unless asked otherwise); refuses a mode the destination cannot take."""
    mode = images or ("reference" if single_file else "copy")
    if mode not in IMAGE_MODES:
        raise CvkitError(f"{writer} writer option images={mode!r}: choose one of {', '.join(IMAGE_MODES)}")
    if single_file and mode != "reference":
        kind = suffix.lstrip(".").upper()
        raise CvkitError(
            f"a {suffix} destination references the images where they are; write to a folder to copy them beside the "
            f"{kind}"
        )
    return mode


def place_image(src: Path, dst: Path, mode: str) -> None:
    """Put an image at ``dst`` by copying, hard-linking (falls back to copy) or symlinking.

    Only an image file is placed (:func:`cvkit.core.paths.check_image_source`: its first bytes, and inside the
    source's folders while :func:`cvkit.core.paths.image_sources` is active)."""
    if mode not in IMAGE_MODES or mode == "reference":
        raise CvkitError(f"unknown image mode {mode!r}; choose one of {', '.join(IMAGE_MODES[1:])}")
    if not os.path.lexists(src):
        raise CvkitError("image file not found", file=src)
    require_regular(src)  # a FIFO named x.jpg would block the copy, a link to /dev/zero fill the disk
    check_image_source(src)
    dst.parent.mkdir(parents=True, exist_ok=True)
    if mode == "symlink":
        os.symlink(os.path.abspath(src), dst)
    elif mode == "hardlink":
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)
    else:
        shutil.copy2(src, dst)


class RealPaths:
    """``os.path.realpath`` of many files in few folders: each folder resolved once, then only the file itself
    looked at (one ``lstat`` a file instead of one a path component; measured in docs/benchmarks.md), and past
    :data:`LIST_AFTER` files of one folder its links taken from one listing of it. What a writer records as an
    image's absolute path, so that a dataset read through a symbolic link writes what its real path writes."""

    #: files looked at one by one in a folder before it is listed (a few images of a big folder cost no listing)
    LIST_AFTER = 64

    def __init__(self) -> None:
        self.folders: dict[str, str] = {}
        self.cwd = os.getcwd()
        #: real folder -> the names of its symbolic links (None: it cannot be listed), once listed
        self.links: dict[str, frozenset[str] | None] = {}
        self.looked_at: dict[str, int] = {}

    def __call__(self, path: str) -> str:
        """What ``Path(path).resolve()`` gives (symbolic links resolved before ``..``)."""
        parts = path.split(os.sep)
        if "." in parts or ".." in parts:
            return os.path.realpath(path)
        folder, name = os.path.split(path if os.path.isabs(path) else os.path.join(self.cwd, path))
        real = self.folders.get(folder)
        if real is None:
            real = self.folders[folder] = os.path.realpath(folder)
        joined = os.path.join(real, name)
        return os.path.realpath(joined) if self._is_link(real, name, joined) else joined

    def _is_link(self, folder: str, name: str, joined: str) -> bool:
        """``os.path.islink(joined)`` (``joined``: ``name`` in the real ``folder``), from the folder's listing once
        it has been looked at :data:`LIST_AFTER` times."""
        links = self.links.get(folder, False)
        if links is False:
            looked_at = self.looked_at[folder] = self.looked_at.get(folder, 0) + 1
            if looked_at <= self.LIST_AFTER:
                return os.path.islink(joined)
            links = self.links[folder] = _links_in(folder)
        return os.path.islink(joined) if links is None else name in links

    def folder(self, path: str | Path) -> str:
        """The real path of a folder, resolved once."""
        key = os.path.abspath(path)
        real = self.folders.get(key)
        if real is None:
            real = self.folders[key] = os.path.realpath(key)
        return real

    def relative(self, path: str | Path, start: str | Path) -> str:
        """``path`` relative to the folder ``start`` (POSIX), computed between real paths: the system follows a
        symbolic link before the ``..`` after it, so only such a path leads from ``start`` to ``path`` wherever
        either was reached through a link, and a dataset read through a link writes what its real path writes."""
        return relpath_posix(self(os.fspath(path)), self.folder(start))


def _links_in(folder: str) -> frozenset[str] | None:
    """The names of the symbolic links in ``folder`` (none in a folder that is not there), None when it cannot be
    listed."""
    try:
        with os.scandir(folder) as entries:
            return frozenset(entry.name for entry in entries if entry.is_symlink())
    except (FileNotFoundError, NotADirectoryError):
        return frozenset()
    except OSError:
        return None


def same_file(a: Path, b: Path) -> bool:
    """Whether ``a`` and ``b`` both exist and are one file (a link, a hard link or the same path)."""
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def relpath_posix(path: str | Path, start: str | Path) -> str:
    """``path`` relative to ``start`` with forward slashes (manifest and COCO paths).

    Folded by hand (``a/b/../c`` -> ``a/c``) only where neither holds a ``..``: the system follows a symbolic link
    before the ``..`` after it, so a path that climbs (an image listed as ``../../x.jpg``, reached through a link)
    is made relative between real paths, which is where that path leads."""
    path, start = os.fspath(path), os.fspath(start)
    if _climbs(path) or _climbs(start):
        path, start = os.path.realpath(path), os.path.realpath(start)
    return Path(os.path.relpath(path, start)).as_posix()


def _climbs(path: str) -> bool:
    return ".." in path and ".." in path.replace("\\", "/").split("/")


class BackgroundFiles:
    """Writes many small files from a few threads, in a bounded backlog (memory stays flat).

    Creating a file waits on the filesystem (journal, directory lock) far longer than the
    Python around it; threads overlap those waits, which makes writing 20,000 label files
    several times faster. Small files are handed over in batches so the hand-off costs
    little. Use inside an atomic folder; the first error is raised by :meth:`close`
    (or the next :meth:`submit`).

    ``workers``: threads, by default one a CPU and at most 8. More threads than CPUs only contend for the
    folder's lock (measured in docs/benchmarks.md, "Measured choices").
    """

    def __init__(self, workers: int | None = None, backlog: int = 64, batch: int = 32):
        import threading
        from concurrent.futures import ThreadPoolExecutor

        workers = workers if workers is not None else min(8, os.cpu_count() or 1)

        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cvkit-io")
        self._slots = threading.BoundedSemaphore(backlog)
        self._errors: list[BaseException] = []
        self._batch: list[tuple[str, bytes]] = []
        self._batch_size = batch

    def submit(self, fn, *args) -> None:  # type: ignore[no-untyped-def]
        """Run ``fn(*args)`` on a worker thread (blocks while the backlog is full)."""
        if self._errors:
            raise self._errors[0]
        self._slots.acquire()
        self._pool.submit(self._run, fn, args)

    def write_bytes(self, path: str, data: bytes) -> None:
        """Create (or truncate) ``path`` with ``data``, soon, on a worker thread."""
        self._batch.append((path, data))
        if len(self._batch) >= self._batch_size:
            self.submit(_write_new_files, self._batch)
            self._batch = []

    def _run(self, fn, args) -> None:  # type: ignore[no-untyped-def]
        try:
            fn(*args)
        except BaseException as exc:
            self._errors.append(exc)
        finally:
            self._slots.release()

    def close(self) -> None:
        """Wait for every pending file; raise the first error."""
        if self._batch and not self._errors:
            self.submit(_write_new_files, self._batch)
            self._batch = []
        self._pool.shutdown(wait=True)
        if self._errors:
            raise self._errors[0]

    def __enter__(self) -> BackgroundFiles:
        return self

    def __exit__(self, exc_type: object, *exc_info: object) -> None:
        if exc_type is None:
            self.close()
        else:  # an error is already on its way out: wait for the threads, keep that error
            self._pool.shutdown(wait=True)


def _write_new_files(files: list[tuple[str, bytes]]) -> None:
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    for path, data in files:
        handle = os.open(path, flags, 0o644)
        try:
            os.write(handle, data)
        finally:
            os.close(handle)


# --- where readers put pixels they extract ---------------------------------------------------
def cache_dir(*parts: str) -> Path:
    """cvkit's cache folder: ``$CVKIT_CACHE_DIR``, else ``$XDG_CACHE_HOME/cvkit`` (``~/.cache/cvkit``), + ``parts``."""
    base = os.environ.get("CVKIT_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "cvkit"
    )
    return Path(base, *parts)


def extraction_dir(source: Path, images_dir: str | Path | None) -> Path:
    """Where a reader whose files hold the pixels (CIFAR, MNIST) writes each image: ``images_dir``, else a
    per-input cache folder ``images/<name>-<hash>``. Never inside the input: inputs are never written to."""
    import hashlib

    if images_dir:
        folder = Path(images_dir)
    else:
        digest = hashlib.sha1(str(source.resolve()).encode()).hexdigest()[:10]
        folder = cache_dir("images", f"{source.resolve().name}-{digest}")
    inside = source if source.is_dir() else source.parent
    if folder.resolve().is_relative_to(inside.resolve()):
        raise CvkitError("images_dir must not be inside the input folder (inputs are never written to)", file=folder)
    return folder


_HAS_READV = hasattr(os, "readv")
#: first read of :func:`read_small_file`; annotation files are almost always smaller
SMALL_READ = 1 << 18
#: each thread's reusable buffer for :func:`read_small_file`
_read_buffers = threading.local()


_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
#: what a path that is not a regular file is, for the message that refuses it
_KINDS = (
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISDIR, "a folder"),
)


def _refuse_irregular(mode: int, path: str | os.PathLike[str]) -> None:
    if not stat.S_ISREG(mode):
        kind = next((name for test, name in _KINDS if test(mode)), "not a regular file")
        raise InvalidInputError(f"{kind}, not a regular file: cvkit reads regular files only", file=path)


def require_regular(path: str | os.PathLike[str]) -> None:
    """Refuse ``path`` unless it is a regular file (after links), before a library that opens it by name does;
    a missing file is left to that library to report."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return
    _refuse_irregular(mode, path)


def open_regular_fd(path: str | os.PathLike[str]) -> int:
    """A descriptor of ``path`` open for reading, refused unless it is a regular file (after links): a FIFO named
    ``x.xml`` would block the read forever, a link to ``/dev/zero`` would fill memory. The open itself does not
    wait (``O_NONBLOCK``: a FIFO with no writer opens at once, to be refused)."""
    fd = os.open(path, os.O_RDONLY | _NONBLOCK)
    try:
        _refuse_irregular(os.fstat(fd).st_mode, path)  # O_NONBLOCK may stay: it changes nothing for a regular file
    except BaseException:
        os.close(fd)
        raise
    return fd


def open_regular(path: str | os.PathLike[str]) -> IO[bytes]:
    """``open(path, "rb")`` for a regular file only (:func:`open_regular_fd`)."""
    return os.fdopen(open_regular_fd(path), "rb")


def read_regular_bytes(path: str | os.PathLike[str]) -> bytes:
    """``Path(path).read_bytes()`` for a regular file only (:func:`open_regular_fd`)."""
    with open_regular(path) as handle:
        return handle.read()


def require_utf8_name(folder: str | os.PathLike[str], name: str) -> str:
    """``name`` (an entry of ``folder``) when it is valid UTF-8; refused otherwise, naming it with its odd bytes
    escaped: every format cvkit writes (JSON, XML, lists) holds names as UTF-8 text, and such a name would fail
    there, or be written as something else. Cheap for the ASCII names of nearly every dataset."""
    if name.isascii():
        return name
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raw = os.path.join(os.fspath(folder), name).encode("utf-8", "surrogateescape")
        raise InvalidInputError(
            "file name is not valid UTF-8; rename it (cvkit writes names as UTF-8 text)",
            file=raw.decode("utf-8", "backslashreplace"),
        ) from None
    return name


def read_small_file(path: str | os.PathLike[str]) -> bytes:
    """A whole file in (usually) one system call: half the cost of ``open().read()`` on the 20,000 small
    XML/JSON files of an annotation folder (no buffered file object is built).

    The file is read into a buffer this thread reuses, and its bytes copied out. ``os.read(fd, 256 KiB)``
    allocates 256 KiB for every file and shrinks it; until glibc raises its ``mmap`` threshold, that is an
    ``mmap``/``munmap`` pair and a page fault per file (docs/benchmarks.md, "Measured choices"). A regular file only
    (:func:`open_regular_fd`)."""
    fd = open_regular_fd(path)
    try:
        if _HAS_READV:
            buffer = getattr(_read_buffers, "view", None)
            if buffer is None:
                buffer = _read_buffers.view = memoryview(bytearray(SMALL_READ))
            count = os.readv(fd, [buffer])
            first, whole = bytes(buffer[:count]), count < SMALL_READ
        else:  # Windows: a first read below glibc's concerns anyway
            first = os.read(fd, 1 << 16)
            whole = len(first) < 1 << 16
        if whole:
            return first
        chunks = [first]
        while chunk := os.read(fd, SMALL_READ):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def known_encoding(encoding: str | None, option: str) -> str | None:
    """``encoding`` (a reader option such as LabelMe's ``encoding``) when Python has a codec for it, None
    when not given; an unknown name is an error naming the option before any file is read."""
    if encoding is not None:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise CvkitError(f"unknown encoding {encoding!r} (reader option {option})") from None
    return encoding


def read_utf8_text(path: str | os.PathLike[str]) -> str:
    """A small text file (split list, class list, label map) as UTF-8, a leading byte order mark skipped (Windows
    Notepad writes one); text in another encoding is an error naming the file and line, not a traceback."""
    data = read_regular_bytes(path)
    body = jsonio.strip_bom(data)
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = body[: exc.start].count(b"\n") + 1
        raise InvalidInputError(
            f"not UTF-8 text (byte 0x{body[exc.start]:02x})", file=path, location=f"line {line}"
        ) from None


def walk_files(root: Path, suffix: str) -> Iterator[Path]:
    """Every file under ``root`` ending in ``suffix`` (case-insensitive), recursively, hidden entries skipped,
    in a stable order: annotation tools that write one file per image (LabelMe JSON, MIT LabelMe XML).
    Symbolic links to folders are not followed (as ``os.walk``)."""
    suffix = suffix.lower()
    files, dirs = _listing(root)
    for name in sorted(
        n for n in files if n.lower().endswith(suffix) and not n.startswith(".")
    ):  # filtered before sorting
        yield root / name
    for name, is_link in sorted((d, link) for d, link in dirs if not d.startswith(".")):
        if not is_link:
            yield from walk_files(root / name, suffix)


#: folder -> its listing, while :func:`cached_listings` is active (format detection: one listing a folder)
_listings: dict[str, tuple[list[str], list[tuple[str, bool]]]] | None = None


@contextmanager
def cached_listings() -> Iterator[None]:
    """Inside the block, each folder is listed once: format detection asks every detector about one path, and
    several of them list the same folder of 20,000 files (VOC, LabelMe JSON, MIT LabelMe)."""
    global _listings
    outer = _listings
    if outer is None:
        _listings = {}
    try:
        yield
    finally:
        if outer is None:
            _listings = None


def folders_in(folder: Path) -> list[str]:
    """Names of the sub-folders directly in ``folder`` (links to folders included), unsorted; listed once while
    :func:`cached_listings` is active."""
    return [name for name, _link in _listing(folder)[1]]


def _listing(folder: Path) -> tuple[list[str], list[tuple[str, bool]]]:
    """(file names, [(folder name, is a symbolic link)]) directly in ``folder`` (symbolic links followed to tell
    files from folders; anything else, such as a broken link, is neither); empty when it cannot be listed."""
    key = os.fspath(folder)
    cache = _listings
    if cache is not None and key in cache:
        return cache[key]
    files: list[str] = []
    dirs: list[tuple[str, bool]] = []
    try:
        with os.scandir(key) as entries:
            for entry in entries:
                try:
                    if entry.is_file():
                        files.append(require_utf8_name(key, entry.name))
                    elif entry.is_dir():
                        dirs.append((require_utf8_name(key, entry.name), entry.is_symlink()))
                except OSError:
                    continue
    except OSError:
        pass
    if cache is not None:
        cache[key] = (files, dirs)
    return files, dirs


def files_in(folder: Path, suffix: str, limit: int | None = None) -> list[Path]:
    """Files directly in ``folder`` ending in ``suffix`` (case-insensitive), sorted by name, hidden ones skipped as
    :func:`walk_files` skips them (macOS's ``._x.xml`` AppleDouble twins); only the first ``limit`` when given.
    Format detection looks at a few files of folders that may hold 100,000: names are listed once
    (:func:`cached_listings`) and sorted as strings (sorting ``Path`` objects cost more: docs/benchmarks.md)."""
    return [folder / name for name in names_in(folder, suffix, limit)]


def names_in(folder: Path, suffix: str, limit: int | None = None) -> list[str]:
    """:func:`files_in` as file names: a reader that keeps a folder's listing holds strings, not paths."""
    import heapq

    suffix = suffix.lower()
    found = (name for name in _listing(folder)[0] if name.lower().endswith(suffix) and name[0] != ".")
    return sorted(found) if limit is None else heapq.nsmallest(limit, found)
