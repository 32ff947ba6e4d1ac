"""The promise every hostile case checks, in one place.

A hostile case runs ``cvkit`` as a user would (a subprocess, so signals, exit codes and stray writes are real) and
asserts: the expected exit code, a one-line ``error:`` message naming the file (no traceback), nothing written
outside the destination, the source unchanged (hash of every file before and after), and no partial output.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

#: a hostile case may take this long at most (a hang is a failure, not a stuck CI)
TIMEOUT_S = 60


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str
    #: the command's peak resident memory (its own, from ``wait4``), in MB
    peak_mb: float = 0.0
    #: how long it ran, in seconds
    seconds: float = 0.0


def cvkit(
    *args: str | os.PathLike[str],
    cwd: Path | None = None,
    timeout: float = TIMEOUT_S,
    env: dict[str, str] | None = None,
    memory_mb: int | None = None,
    stdout: int | None = None,
    preamble: str | None = None,
) -> Run:
    """``cvkit ARGS`` in a subprocess; ``memory_mb`` caps its address space (RLIMIT_AS) so a bomb fails fast, and
    its peak resident memory is measured either way. ``stdout``: a file descriptor to write to instead of a pipe
    (``/dev/full``, a pipe already closed). ``preamble``: Python run first in the same process (a fault injected
    where the system cannot make one). Past ``timeout`` seconds it is killed and the case fails."""
    import threading
    import time

    preexec = None
    if memory_mb is not None:
        import resource

        def preexec() -> None:
            limit = memory_mb * 1024 * 1024
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    full_env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", **(env or {})}
    started = time.monotonic()
    run_cvkit = "\nimport runpy\nrunpy.run_module('cvkit', run_name='__main__')"
    launcher = ["-m", "cvkit"] if preamble is None else ["-c", preamble + run_cvkit]
    process = subprocess.Popen(
        [sys.executable, *launcher, *map(str, args)],
        cwd=cwd,
        env=full_env,
        preexec_fn=preexec,
        stdout=subprocess.PIPE if stdout is None else stdout,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    captured: dict[str, bytes] = {}

    def drain(name: str, stream: object) -> None:
        captured[name] = stream.read() if stream is not None else b""  # type: ignore[attr-defined]

    streams = (("out", process.stdout), ("err", process.stderr))
    readers = [threading.Thread(target=drain, args=(name, stream)) for name, stream in streams]
    for reader in readers:
        reader.start()
    killer = threading.Timer(timeout, process.kill)
    killer.start()
    try:
        _pid, status, usage = os.wait4(process.pid, 0)
    finally:
        killer.cancel()
    process.returncode = os.waitstatus_to_exitcode(status)
    for reader in readers:
        reader.join()
    if time.monotonic() - started >= timeout:
        raise subprocess.TimeoutExpired(process.args, timeout)
    out, err = (captured.get(name, b"").decode("utf-8", "replace") for name in ("out", "err"))
    return Run(process.returncode, out, err, usage.ru_maxrss / 1024, time.monotonic() - started)


def snapshot(root: Path) -> dict[str, str]:
    """Relative path -> sha256 of every regular file below ``root`` (links recorded by target, not followed)."""
    found: dict[str, str] = {}
    if root.is_file():
        return {root.name: hashlib.sha256(root.read_bytes()).hexdigest()}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_symlink():
            found[rel] = "link:" + os.readlink(path)
        elif path.is_file():
            found[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
        elif path.is_dir():
            found[rel + "/"] = "dir"
    return found


def assert_clean_error(run: Run, code: int = 2, names: str | None = None) -> None:
    """Exit ``code``, a message starting ``error:`` (naming ``names`` when given), and no Python traceback."""
    assert run.code == code, f"exit {run.code}, expected {code}\nstdout: {run.stdout}\nstderr: {run.stderr}"
    assert "Traceback" not in run.stderr and "Traceback" not in run.stdout, run.stderr
    assert "error" in run.stderr.lower(), run.stderr
    if names is not None:
        assert names in run.stderr, f"{names!r} not named in: {run.stderr}"


def assert_nothing_written(before: dict[str, str], root: Path) -> None:
    """Nothing under ``root`` changed since ``before = snapshot(root)`` (no file added, removed or altered)."""
    after = snapshot(root)
    added = sorted(set(after) - set(before))
    removed = sorted(set(before) - set(after))
    changed = sorted(k for k in set(before) & set(after) if before[k] != after[k])
    assert not (added or removed or changed), f"added {added}, removed {removed}, changed {changed}"


def assert_only_inside(before: dict[str, str], root: Path, destination: Path) -> None:
    """Everything that changed under ``root`` since ``before = snapshot(root)`` is ``destination`` (a file or a folder,
    which must lie under ``root``) or something in it: nothing was written beside or above it."""
    after = snapshot(root)
    changed = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
    prefix = destination.relative_to(root).as_posix()
    stray = sorted(k for k in changed if k not in (prefix, prefix + "/") and not k.startswith(prefix + "/"))
    assert not stray, f"written outside {prefix}: {stray}"


#: an interrupted command must be gone this long after the signal (a hang guard, not a speed assertion)
UNWIND_GUARD_S = 30


@dataclass
class Interrupted:
    run: Run
    #: processes of the command's process group still alive after it exited (its workers, if any outlived it)
    survivors: list[int]
    #: whether the command had started worker processes when the signal was sent
    had_workers: bool


def children_of(pid: int) -> list[int]:
    """Process ids whose parent is ``pid`` (Linux ``/proc``)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def group_members(pgid: int) -> list[int]:
    """Live (not zombie) processes of process group ``pgid``."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


def interrupt(
    *args: str | os.PathLike[str],
    signum: int,
    ready: Callable[[int], bool] | None = None,
    settle_s: float = 0.3,
    start_guard_s: float = TIMEOUT_S,
) -> Interrupted:
    """``cvkit ARGS`` in a new process group, sent ``signum`` as a terminal sends Ctrl-C (to the whole group) once
    ``ready(pid)`` holds (default: it has started worker processes) and ``settle_s`` more have passed."""
    import signal
    import time

    ready = ready or (lambda pid: bool(children_of(pid)))
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "cvkit", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        process_group=0,
    )
    try:
        deadline = time.monotonic() + start_guard_s
        while process.poll() is None and not ready(process.pid) and time.monotonic() < deadline:
            time.sleep(0.01)
        had_workers = bool(children_of(process.pid))
        time.sleep(settle_s)
        os.killpg(process.pid, signum)
        stdout, stderr = process.communicate(timeout=UNWIND_GUARD_S)
    except BaseException:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise
    survivors: list[int] = []
    for _ in range(50):  # workers the command stopped may take a moment to be reaped
        survivors = group_members(process.pid)
        if not survivors:
            break
        time.sleep(0.1)
    if survivors:
        os.killpg(process.pid, signal.SIGKILL)
    return Interrupted(Run(process.returncode, stdout, stderr), survivors, had_workers)


def temp_leftovers(folder: Path) -> list[str]:
    """Names of temporary siblings (``.NAME.*.tmp``, ``.NAME.old-*``) an atomic write left in ``folder``."""
    names = os.listdir(folder)
    return sorted(name for name in names if name.startswith(".") and (name.endswith(".tmp") or ".old-" in name))


def bomb_png(path: Path, width: int = 20_000, height: int = 20_000) -> Path:
    """A valid grayscale PNG of ``width`` x ``height`` black pixels, a few hundred KB on disk (a decompression bomb:
    decoded as RGB, 20000x20000 is 1.2 GB), written without ever holding the pixels."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    compressor = zlib.compressobj(9)
    rows = b"\0" * ((width + 1) * 500)  # 500 rows of filter byte 0 and black pixels
    body = [compressor.compress(rows) for _ in range(height // 500)]
    body.append(compressor.compress(b"\0" * ((width + 1) * (height % 500))))
    body.append(compressor.flush())
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    chunks = chunk(b"IHDR", header) + chunk(b"IDAT", b"".join(body)) + chunk(b"IEND", b"")
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunks)
    return path


def fault_preamble(errno_name: str, root: Path) -> str:
    """Python that makes every creation of a file or folder under ``root`` fail with ``errno_name`` (ENOSPC, EROFS),
    as a full or read-only file system does: for machines where a small tmpfs cannot be mounted."""
    return f"""
import builtins, errno, os
_root = {str(root)!r}
_code = errno.{errno_name}
def _under(path):
    try:
        return os.path.abspath(os.fsdecode(path)).startswith(_root)
    except TypeError:
        return False
def _fail(path):
    raise OSError(_code, os.strerror(_code), os.fsdecode(path))
import io
_open, _mkdir, _builtin_open = os.open, os.mkdir, builtins.open
def _os_open(path, flags, *args, **kwargs):
    if flags & (os.O_CREAT | os.O_WRONLY | os.O_RDWR) and _under(path):
        _fail(path)
    return _open(path, flags, *args, **kwargs)
def _os_mkdir(path, *args, **kwargs):
    if _under(path):
        _fail(path)
    return _mkdir(path, *args, **kwargs)
def _builtins_open(file, mode="r", *args, **kwargs):
    if isinstance(file, (str, bytes, os.PathLike)) and any(c in mode for c in "wax+") and _under(file):
        _fail(file)
    return _builtin_open(file, mode, *args, **kwargs)
os.open, os.mkdir, builtins.open, io.open = _os_open, _os_mkdir, _builtins_open, _builtins_open
"""


def mount_tmpfs(folder: Path, size_kb: int, read_only: bool = False) -> bool:
    """Mount a tmpfs of ``size_kb`` at ``folder`` (root only); False where that is not allowed."""
    folder.mkdir(parents=True, exist_ok=True)
    options = f"size={size_kb}k" + (",ro" if read_only else "")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True)
    return done.returncode == 0


def unmount(folder: Path) -> None:
    subprocess.run(["umount", str(folder)], capture_output=True)
