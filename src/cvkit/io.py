"""File output that never leaves half-written results, and image placement.

Files are written to a temporary sibling and renamed into place; whole dataset
folders are built in a temporary sibling folder and renamed at the end, so a crash
leaves the destination as it was. Inputs are only ever opened for reading.
"""

from __future__ import annotations

import codecs
import errno
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from cvkit.core import jsonio
from cvkit.core.paths import check_image_source
from cvkit.errors import CvkitError, DestinationExistsError, InvalidInputError

IMAGE_MODES = ("reference", "copy", "hardlink", "symlink")


def file_or_folder_images(images: str | None, single_file: bool, writer: str, suffix: str) -> str:
    """The image mode of a writer whose destination is one file (images referenced where they are) or a folder
    (images copied beside the annotations unless asked otherwise); refuses a mode the destination cannot take."""
    mode = images or ("reference" if single_file else "copy")
    if mode not in IMAGE_MODES:
        raise CvkitError(f"{writer} writer option images={mode!r}: choose one of {', '.join(IMAGE_MODES)}")
    if single_file and mode != "reference":
        kind = suffix.lstrip(".").upper()
        raise CvkitError(f"a {suffix} destination references the images where they are; write to a folder to copy them beside the {kind}")
    return mode


def check_destination(path: Path, overwrite: bool) -> None:
    """Refuse an existing non-empty destination unless ``overwrite``."""
    if not path.exists() or overwrite:
        return
    if path.is_dir() and not any(path.iterdir()):
        return
    raise DestinationExistsError("destination exists and is not empty; pass --overwrite to replace it", file=path)


def _raced(path: Path) -> DestinationExistsError:
    return DestinationExistsError("destination exists: another run wrote it while this one was running (its output is kept); "
                                  "pass --overwrite to replace it", file=path)


#: file destinations that must not be replaced when their temporary file is renamed into place (:func:`exclusive`)
_exclusive: set[str] = set()


@contextmanager
def exclusive(path: str | Path, overwrite: bool) -> Iterator[None]:
    """Inside the block, :func:`atomic_file` refuses to replace ``path`` (unless ``overwrite``): two runs writing one
    destination at once give the first its output and the second a "destination exists" error, never a silent swap."""
    key = os.path.abspath(path)
    if overwrite or key in _exclusive:
        yield
        return
    _exclusive.add(key)
    try:
        yield
    finally:
        _exclusive.discard(key)


@contextmanager
def atomic_file(path: str | Path, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO]:
    """Open a temporary sibling of ``path`` for writing; rename over ``path`` on success (never over an existing
    ``path`` inside :func:`exclusive`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    clear_leftovers(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=TMP_SUFFIX, dir=path.parent)
    try:
        kwargs = {"encoding": encoding, "newline": ""} if "b" not in mode else {}
        with os.fdopen(fd, mode, **kwargs) as handle:
            yield handle
        os.chmod(tmp, 0o644)
        if os.path.abspath(path) in _exclusive:
            _link_new(tmp, path)
        else:
            os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def rewrite_own_file(path: str | Path, data: bytes) -> None:
    """Replace, atomically, a file this run wrote itself a moment ago (a writer's second pass over its own output).
    The run already holds the name, so the no-replace rule of :func:`exclusive` does not apply to it."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=TMP_SUFFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _link_new(tmp: str, path: Path) -> None:
    """Give ``tmp`` the name ``path`` only if no file has it (a hard link cannot replace), then drop ``tmp``."""
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise _raced(path) from None
    except OSError:  # no hard links here (some network and FUSE file systems): check, then rename
        if os.path.lexists(path):
            raise _raced(path) from None
        os.replace(tmp, path)
        return
    os.unlink(tmp)


def atomic_write_text(path: str | Path, text: str) -> None:
    with atomic_file(path, "w") as handle:
        handle.write(text)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_file(path, "wb", encoding=None) as handle:
        handle.write(data)


@contextmanager
def atomic_dir(path: str | Path, overwrite: bool = False) -> Iterator[Path]:
    """Build a folder in a temporary sibling and move it to ``path`` on success.

    An existing ``path`` is refused unless empty or ``overwrite``; with ``overwrite`` it is replaced only after
    the new folder is complete. Without ``overwrite`` the final rename never replaces a folder another run
    finished meanwhile (a non-empty folder cannot be renamed over): that run's output is kept and this one fails
    with :class:`DestinationExistsError`. Temporary folders of runs that were killed are removed first
    (:func:`clear_leftovers`).
    """
    path = Path(path)
    check_destination(path, overwrite)
    path.parent.mkdir(parents=True, exist_ok=True)
    clear_leftovers(path)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.{os.getpid()}.", suffix=TMP_SUFFIX, dir=path.parent))
    try:
        yield tmp
        os.chmod(tmp, 0o755)
        old = path.with_name(f".{path.name}{OLD_INFIX}{os.getpid()}") if overwrite and os.path.lexists(path) else None
        if old is not None:
            try:
                os.replace(path, old)
            except FileNotFoundError:  # another --overwrite run moved it first
                old = None
        try:
            _rename_new_dir(tmp, path)
        except OSError:  # not renamed, and no other run's output there: the old destination goes back
            if old is not None and not os.path.lexists(path):
                os.replace(old, path)
                old = None
            raise
        finally:
            if old is not None:
                shutil.rmtree(old, ignore_errors=True) if old.is_dir() and not old.is_symlink() else old.unlink()
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _rename_new_dir(tmp: Path, path: Path) -> None:
    """Rename the folder ``tmp`` to ``path``, which may be missing or an empty folder but nothing else by now."""
    try:
        os.rename(tmp, path)  # POSIX: replaces only an empty folder, atomically
    except OSError as exc:
        if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR, errno.EISDIR):
            raise
        try:  # Windows replaces no folder at all: an empty one is removed first
            os.rmdir(path)
            os.rename(tmp, path)
        except OSError:
            raise _raced(path) from None


# --- temporary names, and what a killed run left -------------------------------------------------
#: ``.<name>.<pid>.<random>.tmp``: a temporary file or folder of the run with that process id
TMP_SUFFIX = ".tmp"
#: ``.<name>.old-<pid>``: a destination being replaced by ``--overwrite``
OLD_INFIX = ".old-"


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # alive, another user's
        return True
    return True


def leftover_owner(name: str, target: str) -> int | None:
    """The process id in a temporary name cvkit gave ``target`` (``.<target>.<pid>.<random>.tmp`` or
    ``.<target>.old-<pid>``); None when ``name`` is not one."""
    prefix = f".{target}."
    if not name.startswith(prefix):
        return None
    rest = name[len(prefix):]
    if rest.startswith(OLD_INFIX[1:]):
        number = rest[len(OLD_INFIX) - 1:]
    elif rest.endswith(TMP_SUFFIX):
        number = rest.partition(".")[0]
    else:
        return None
    return int(number) if number.isdigit() else None


def clear_leftovers(path: Path) -> list[Path]:
    """Remove the temporary files and folders an earlier run writing ``path`` left when it was killed (their
    process is gone); those of a run still alive are left alone. Returns what was removed."""
    removed: list[Path] = []
    try:
        with os.scandir(path.parent) as entries:
            names = [e.name for e in entries if e.name.startswith(f".{path.name}.")]
    except OSError:
        return removed
    for name in names:
        pid = leftover_owner(name, path.name)
        if pid is None or _pid_alive(pid):
            continue
        stale = path.parent / name
        if stale.is_dir() and not stale.is_symlink():
            shutil.rmtree(stale, ignore_errors=True)
        else:
            stale.unlink(missing_ok=True)
        removed.append(stale)
    return removed


@contextmanager
def extraction_folder(path: Path, overwrite: bool) -> Iterator[Path]:
    """The folder a reader that holds pixels (CIFAR, MNIST) extracts images into while a conversion runs
    (``<dst>_images/``): refused when occupied (unless ``overwrite``), and removed again when the run fails, an
    earlier one put back, so a failed conversion leaves nothing. Its images must exist while the writer copies or
    references them, so it is filled in place rather than renamed at the end like :func:`atomic_dir`."""
    path = Path(path)
    check_destination(path, overwrite)
    path.parent.mkdir(parents=True, exist_ok=True)
    clear_leftovers(path)
    old, was_empty = None, path.is_dir() and not any(path.iterdir())
    if os.path.lexists(path) and not was_empty:
        old = path.with_name(f".{path.name}{OLD_INFIX}{os.getpid()}")
        os.replace(path, old)
    path.mkdir(exist_ok=True)
    try:
        yield path
    except BaseException:
        shutil.rmtree(path, ignore_errors=True)
        if old is not None:
            os.replace(old, path)
        elif was_empty:
            path.mkdir()
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True) if old.is_dir() and not old.is_symlink() else old.unlink()


def place_image(src: Path, dst: Path, mode: str) -> None:
    """Put an image at ``dst`` by copying, hard-linking (falls back to copy) or symlinking.

    Only an image file is placed (:func:`cvkit.core.paths.check_image_source`: its first bytes, and inside the
    source's folders while :func:`cvkit.core.paths.image_sources` is active)."""
    if mode not in IMAGE_MODES or mode == "reference":
        raise CvkitError(f"unknown image mode {mode!r}; choose one of {', '.join(IMAGE_MODES[1:])}")
    if not os.path.lexists(src):
        raise CvkitError("image file not found", file=src)
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
    looked at (one ``lstat`` a file instead of one a path component; measured in docs/benchmarks.md). What a writer
    records as an image's absolute path, so that a dataset read through a symbolic link writes what its real path
    writes."""

    def __init__(self) -> None:
        self.folders: dict[str, str] = {}
        self.cwd = os.getcwd()

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
        return os.path.realpath(joined) if os.path.islink(joined) else joined

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
    base = os.environ.get("CVKIT_CACHE_DIR") or os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "cvkit")
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


def read_small_file(path: str | os.PathLike[str]) -> bytes:
    """A whole file in (usually) one system call: half the cost of ``open().read()`` on the 20,000 small
    XML/JSON files of an annotation folder (no buffered file object is built).

    The file is read into a buffer this thread reuses, and its bytes copied out. ``os.read(fd, 256 KiB)``
    allocates 256 KiB for every file and shrinks it; until glibc raises its ``mmap`` threshold, that is an
    ``mmap``/``munmap`` pair and a page fault per file (docs/benchmarks.md, "Measured choices")."""
    fd = os.open(path, os.O_RDONLY)
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
    data = Path(path).read_bytes()
    body = jsonio.strip_bom(data)
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = body[: exc.start].count(b"\n") + 1
        raise InvalidInputError(f"not UTF-8 text (byte 0x{body[exc.start]:02x})", file=path, location=f"line {line}") from None


def walk_files(root: Path, suffix: str) -> Iterator[Path]:
    """Every file under ``root`` ending in ``suffix`` (case-insensitive), recursively, hidden entries skipped,
    in a stable order: annotation tools that write one file per image (LabelMe JSON, MIT LabelMe XML).
    Symbolic links to folders are not followed (as ``os.walk``)."""
    suffix = suffix.lower()
    files, dirs = _listing(root)
    for name in sorted(n for n in files if n.lower().endswith(suffix) and not n.startswith(".")):  # filtered before sorting
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
                        files.append(entry.name)
                    elif entry.is_dir():
                        dirs.append((entry.name, entry.is_symlink()))
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
    import heapq

    suffix = suffix.lower()
    found = (name for name in _listing(folder)[0] if name.lower().endswith(suffix) and name[0] != ".")
    names = sorted(found) if limit is None else heapq.nsmallest(limit, found)
    return [folder / name for name in names]
