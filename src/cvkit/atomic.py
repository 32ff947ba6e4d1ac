"""Outputs that appear whole or not at all, and what a killed run left behind.

Files are written to a temporary sibling and renamed into place; whole dataset folders are built in a temporary
sibling folder and renamed at the end, so a crash leaves the destination as it was. Temporary names carry the
writing run's ``PID@HOST`` (``.<name>.<PID@HOST>.<random>.tmp``; ``.<name>.old-<PID@HOST>`` for an output being
replaced by ``--overwrite``), so that a later run can tell a dead run's leftovers from a live run's work and clear
them, or move back an output a killed run had moved aside (:func:`clear_leftovers`). Without ``--overwrite`` no
final rename replaces what another run finished meanwhile (:func:`exclusive`, :func:`atomic_dir`). A failed write
removes its temporary sibling and the folders it made, stops the worker processes that could still write into
it, and names the destination the user gave (not the temporary sibling) in its error.
"""

from __future__ import annotations

import errno
import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from cvkit.core.interrupts import raise_if_interrupted
from cvkit.core.workers import stop_workers, workers_mark
from cvkit.errors import CvkitError, DestinationExistsError

#: ``.<name>.<PID@HOST>.<random>.tmp``: a temporary file or folder of the run with that tag
TMP_SUFFIX = ".tmp"
#: ``.<name>.old-<PID@HOST>``: a destination being replaced by ``--overwrite``
OLD_INFIX = ".old-"


def check_destination(path: Path, overwrite: bool) -> None:
    """Refuse an existing non-empty destination unless ``overwrite``."""
    if not path.exists() or overwrite:
        return
    if path.is_dir() and not any(path.iterdir()):
        return
    raise DestinationExistsError("destination exists and is not empty; pass --overwrite to replace it", file=path)


def _raced(path: Path) -> DestinationExistsError:
    return DestinationExistsError(
        "destination exists: another run wrote it while this one was running (its output "
        "is kept); pass --overwrite to replace it",
        file=path,
    )


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


# --- temporary names, and what a killed run left -------------------------------------------------
def _owner_tag() -> str:
    """``PID@HOST``: which run a temporary sibling belongs to, so a later run can tell a dead run's leftovers."""
    host = "".join(char if char.isalnum() or char in "-_" else "_" for char in socket.gethostname())[:32]
    return f"{os.getpid()}@{host}"


def _leftover_tag(name: str, target: str) -> tuple[bool, str] | None:
    """``(moved aside, PID@HOST)`` of a temporary name cvkit gave ``target``; None when ``name`` is not one."""
    prefix = f".{target}."
    if not name.startswith(prefix):
        return None
    rest = name[len(prefix) :]
    if rest.startswith(OLD_INFIX[1:]):
        tag, aside = rest[len(OLD_INFIX) - 1 :], True
    elif rest.endswith(TMP_SUFFIX):
        tag, aside = rest.partition(".")[0], False
    else:
        return None
    pid, at, host = tag.partition("@")
    return (aside, tag) if pid.isdigit() and at and host else None


def leftover_owner(name: str, target: str) -> int | None:
    """The process id in a temporary name cvkit gave ``target`` (``.<target>.<PID@HOST>.<random>.tmp`` or
    ``.<target>.old-<PID@HOST>``); None when ``name`` is not one."""
    found = _leftover_tag(name, target)
    return int(found[1].partition("@")[0]) if found else None


def _run_is_gone(tag: str) -> bool:
    """Whether the run ``tag`` (:func:`_owner_tag`) has ended: on this host and its process no longer exists."""
    pid, _, host = tag.partition("@")
    if host != _owner_tag().partition("@")[2] or int(pid) == os.getpid():
        return False  # another machine's run (a shared folder), or this one's: left alone
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:  # alive, another user's
        return False
    return False


def _remove(stale: Path) -> None:
    if stale.is_dir() and not stale.is_symlink():
        shutil.rmtree(stale, ignore_errors=True)
    else:
        stale.unlink(missing_ok=True)


def clear_leftovers(path: Path) -> list[Path]:
    """Clear what a killed run (SIGKILL, power loss) writing ``path`` left beside it: its temporary siblings, and an
    output it had moved aside to replace it, once ``path`` exists again. A run killed between moving the old output
    aside and moving the new one in leaves ``path`` missing: the old output is then moved back. What a live run (or
    a run on another host, in a shared folder) left is not touched. Returns what was removed."""
    removed: list[Path] = []
    try:
        with os.scandir(path.parent) as entries:
            names = [entry.name for entry in entries if entry.name.startswith(f".{path.name}.")]
    except OSError:
        return removed
    for name in names:
        found = _leftover_tag(name, path.name)
        if found is None or not _run_is_gone(found[1]):
            continue
        stale = path.parent / name
        if found[0] and not os.path.lexists(path):
            os.replace(stale, path)
            continue
        _remove(stale)
        removed.append(stale)
    return removed


# --- folders made for a destination, and errors that name it ----------------------------------------------------
def _made_parents(folder: Path) -> Path | None:
    """Create ``folder`` and its missing parents; the topmost one created (None if it existed), so that a failed
    write can remove what it made."""
    top = None
    for parent in [folder, *folder.parents]:
        if os.path.lexists(parent):
            if not parent.is_dir():
                raise CvkitError(
                    f"is a file, not a folder: the destination cannot be made under it ({folder})", file=parent
                )
            break
        top = parent
    folder.mkdir(parents=True, exist_ok=True)
    return top


def _remove_made(top: Path | None, folder: Path) -> None:
    """Remove the empty folders :func:`_made_parents` created, from ``folder`` up to ``top``."""
    if top is None:
        return
    for parent in [folder, *folder.parents]:
        try:
            parent.rmdir()
        except OSError:
            return
        if parent == top:
            return


#: errors of writing whose OSError names no file (``os.write``): the destination is the file to name
_WRITE_ERRNOS = frozenset(
    getattr(errno, name) for name in ("ENOSPC", "EROFS", "EDQUOT", "EFBIG", "EIO") if hasattr(errno, name)
)


def _about_destination(exc: OSError, tmp: str | Path | None, path: Path) -> OSError:
    """``exc`` told about ``path`` as the user named it: a file in the temporary sibling ``tmp`` becomes the same file
    under ``path``, and a write error that names no file (a full disk) names ``path``."""
    for attribute in ("filename", "filename2"):
        name = getattr(exc, attribute)
        if tmp is not None and isinstance(name, str) and name.startswith(str(tmp)):
            setattr(exc, attribute, str(path) + name[len(str(tmp)) :])
        elif tmp is None and isinstance(name, str) and os.path.basename(name).startswith(f".{path.name}."):
            setattr(exc, attribute, str(path))
    if exc.filename is None and exc.errno in _WRITE_ERRNOS:
        exc.filename = str(path)
    return exc


# --- atomic files and folders -------------------------------------------------------------------------------------
def _temporary_sibling(path: Path, folder: bool) -> tuple[str, int | None, Path | None]:
    """A new temporary file (its name and open descriptor) or folder (its name, no descriptor) beside ``path``, after
    the folders it needs are made and what killed runs left is cleared; plus the topmost folder made."""
    made = _made_parents(path.parent)
    clear_leftovers(path)
    prefix = f".{path.name}.{_owner_tag()}."
    try:
        if folder:
            return tempfile.mkdtemp(prefix=prefix, suffix=TMP_SUFFIX, dir=path.parent), None, made
        fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=TMP_SUFFIX, dir=path.parent)
        return tmp, fd, made
    except OSError as exc:  # a read-only or full file system
        _remove_made(made, path.parent)
        raise _about_destination(exc, None, path) from None


@contextmanager
def atomic_file(path: str | Path, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO]:
    """Open a temporary sibling of ``path`` for writing; rename over ``path`` on success (never over an existing
    ``path`` inside :func:`exclusive`). Nothing is left on failure (nor the folders made for it)."""
    path = Path(path)
    tmp, fd, made = _temporary_sibling(path, folder=False)
    try:
        kwargs = {"encoding": encoding, "newline": ""} if "b" not in mode else {}
        with os.fdopen(fd, mode, **kwargs) as handle:  # type: ignore[arg-type]
            yield handle
        raise_if_interrupted()
        os.chmod(tmp, 0o644)
        if os.path.abspath(path) in _exclusive:
            _link_new(tmp, path)
        else:
            os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        _remove_made(made, path.parent)
        if isinstance(exc, OSError):
            _about_destination(exc, tmp, path)
        raise


def rewrite_own_file(path: str | Path, data: bytes) -> None:
    """Replace, atomically, a file this run wrote itself a moment ago (a writer's second pass over its own output).
    The run already holds the name, so the no-replace rule of :func:`exclusive` does not apply to it."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{_owner_tag()}.", suffix=TMP_SUFFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        raise_if_interrupted()
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            _about_destination(exc, tmp, path)
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
    (:func:`clear_leftovers`). On an error (or a signal), the worker processes started inside the block are stopped
    before the temporary folder is removed: they would go on writing into it.
    """
    path = Path(path)
    check_destination(path, overwrite)
    name, _, made = _temporary_sibling(path, folder=True)
    tmp = Path(name)
    workers = workers_mark()
    try:
        yield tmp
        raise_if_interrupted()
        os.chmod(tmp, 0o755)
        _move_in(tmp, path, overwrite)
    except BaseException as exc:
        stop_workers(since=workers)  # workers an error left running would go on writing into the folder
        shutil.rmtree(tmp, ignore_errors=True)
        _remove_made(made, path.parent)
        if isinstance(exc, OSError):
            _about_destination(exc, tmp, path)
        raise


def _move_in(tmp: Path, path: Path, overwrite: bool) -> None:
    """Rename the finished folder ``tmp`` to ``path``; with ``overwrite``, an existing ``path`` is moved aside first
    (``.<name>.old-<PID@HOST>``, moved back if the rename fails) and removed after."""
    old = path.with_name(f".{path.name}{OLD_INFIX}{_owner_tag()}") if overwrite and os.path.lexists(path) else None
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
            _remove(old)


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
        old = path.with_name(f".{path.name}{OLD_INFIX}{_owner_tag()}")
        os.replace(path, old)
    path.mkdir(exist_ok=True)
    workers = workers_mark()
    try:
        yield path
        raise_if_interrupted()
    except BaseException:
        stop_workers(since=workers)
        shutil.rmtree(path, ignore_errors=True)
        if old is not None:
            os.replace(old, path)
        elif was_empty:
            path.mkdir()
        raise
    if old is not None:
        _remove(old)
