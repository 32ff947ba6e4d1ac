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
from dataclasses import dataclass
from pathlib import Path

#: a hostile case may take this long at most (a hang is a failure, not a stuck CI)
TIMEOUT_S = 60


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str


def cvkit(*args: str | os.PathLike[str], cwd: Path | None = None, timeout: float = TIMEOUT_S,
          env: dict[str, str] | None = None, memory_mb: int | None = None) -> Run:
    """``cvkit ARGS`` in a subprocess; ``memory_mb`` caps its address space (RLIMIT_AS) so a bomb fails fast."""
    preexec = None
    if memory_mb is not None:
        import resource

        def preexec() -> None:
            limit = memory_mb * 1024 * 1024
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    full_env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", **(env or {})}
    done = subprocess.run([sys.executable, "-m", "cvkit", *map(str, args)], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=full_env, preexec_fn=preexec)
    return Run(done.returncode, done.stdout, done.stderr)


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
