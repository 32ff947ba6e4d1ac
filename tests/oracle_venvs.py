"""Virtual environments for the oracle tests: a labeling tool's own Python library, in a venv of its own.

datumaro, lvis and FiftyOne cannot share cvkit's dev venv (datumaro pins pandas, opencv and pillow below ours; lvis
needs numpy < 1.24; FiftyOne needs a MongoDB), so each gets one, built on first use from the complete, pinned list
``tests/oracles/<tool>.txt`` with ``pip install --no-deps`` (pip never resolves: what is listed is what runs). The venvs
live in ``$CVKIT_ORACLE_VENVS`` (default ``tests/oracles``, git-ignored) as ``.venv-<tool>``; a digest of the list,
written last, marks a venv complete, so a changed list or a build cut short rebuilds it. A file lock lets several
pytest processes ask at once. A venv that cannot be built skips its tests, and fails them under ``CI=true``
(conftest).

A test runs a script of ``tests/oracles/`` in the venv (:func:`run`): it reads what cvkit wrote with the tool's
library and prints JSON, which the test compares with what cvkit wrote or read.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
ORACLES = REPO / "tests" / "oracles"
BUILD_TIMEOUT = 1200
MARKER = ".cvkit-oracle-digest"


def venvs_dir() -> Path:
    return Path(os.environ.get("CVKIT_ORACLE_VENVS") or ORACLES)


def _digest(requirements: Path) -> str:
    """The list's bytes and the base interpreter the venv links to: either changing means a new venv."""
    text = requirements.read_bytes() + f"\n{sys.version_info[:2]} {sys.base_prefix}".encode()
    return hashlib.sha256(text).hexdigest()


def _environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This environment less what would let the dev venv's packages (or cvkit's tree) leak into another venv."""
    skip = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")
    return {k: v for k, v in os.environ.items() if k not in skip} | (extra or {})


def _build(venv: Path, requirements: Path) -> None:
    """A venv without pip of its own (no ensurepip: seconds, not a minute), filled by this interpreter's pip."""
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, capture_output=True, timeout=300
    )
    pip = [
        sys.executable,
        "-m",
        "pip",
        "--python",
        str(venv / "bin" / "python"),
        "install",
        "-q",
        "--no-deps",
        "--no-compile",
    ]
    done = subprocess.run(
        [*pip, "--disable-pip-version-check", "-r", str(requirements)],
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT,
        cwd=venv,
        env=_environment(),
    )
    if done.returncode != 0:
        raise RuntimeError(
            done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"pip exit {done.returncode}"
        )


def python(tool: str) -> Path:
    """The interpreter of ``tool``'s venv, built (or rebuilt) first when its list changed; skips the test when the venv
    cannot be built (a failure under CI, where it must)."""
    requirements = ORACLES / f"{tool}.txt"
    base = venvs_dir()
    base.mkdir(parents=True, exist_ok=True)
    venv = base / f".venv-{tool}"
    digest = _digest(requirements)
    with open(base / f".venv-{tool}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        marker = venv / MARKER
        built = marker.is_file() and marker.read_text().strip() == digest
        if not (built and (venv / "bin" / "python").exists()):
            try:
                _build(venv, requirements)
            except (OSError, RuntimeError, subprocess.SubprocessError) as error:
                pytest.skip(f"the {tool} oracle's venv could not be built from {requirements.name}: {error}")
            marker.write_text(digest + "\n")
    return venv / "bin" / "python"


def run(tool: str, script: str, *args: str | Path, env: dict[str, str] | None = None, timeout: float = 600) -> Any:
    """Run ``tests/oracles/<script>`` with ``args`` in ``tool``'s venv; its stdout's last line, as JSON.

    The environment is this one's less PYTHONPATH (the dev venv's packages must not leak in) plus ``env``."""
    done = subprocess.run(
        [str(python(tool)), str(ORACLES / script), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=_environment(env),
    )
    assert done.returncode == 0, f"{script} failed in the {tool} venv:\n{done.stderr[-4000:]}"
    lines = done.stdout.strip().splitlines()
    assert lines, f"{script} printed nothing:\n{done.stderr[-4000:]}"
    return json.loads(lines[-1])
