"""Running the CLI as users do (``python -m cvkit``, this tree's code) and comparing output trees: the engine
tests' common ground (tests/test_executor_ray.py, tests/test_engine_commands.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def cli_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """This environment with this tree's sources first on the path, plus ``env``."""
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(HERE.parent / "src"), os.environ.get("PYTHONPATH", "")]),
        **(env or {}),
    }


def cli(*args: object, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cvkit", *map(str, args)], capture_output=True, text=True, env=cli_env(env), timeout=600
    )


def same_tree(a: Path, b: Path) -> None:
    """The same files with the same bytes under ``a`` and ``b``."""
    files_a = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    assert files_a == files_b
    for rel in files_a:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel
