"""The style standards, enforced: ``ruff check .`` and ``ruff format --check .`` at the repository root report nothing.

The settings (line length 120, the rule selection, the heavy modules banned at module level) live in pyproject.toml;
this test runs the ruff that the dev extra installs, so CI fails on a long line or an unformatted file instead of
leaving it to whoever runs ``make lint``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def ruff_command() -> list[str]:
    """The ruff installed beside this interpreter (the dev extra's), else ``python -m ruff``."""
    beside = shutil.which("ruff", path=str(Path(sys.executable).parent))
    if beside:
        return [beside]
    found = subprocess.run([sys.executable, "-m", "ruff", "--version"], capture_output=True, text=True)
    if found.returncode != 0:
        pytest.skip("ruff is not installed (pip install -e '.[dev]')")
    return [sys.executable, "-m", "ruff"]


@pytest.mark.parametrize(
    "arguments",
    [["check", ".", "--output-format", "concise"], ["format", "--check", "."]],
    ids=["check", "format"],
)
def test_ruff_reports_nothing_over_the_repository(arguments: list[str]) -> None:
    # --no-cache: the check writes nothing into the tree, and two runs at once cannot race on .ruff_cache
    result = subprocess.run(
        [*ruff_command(), *arguments, "--no-cache"], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, f"ruff {' '.join(arguments)}:\n{result.stdout}{result.stderr}"
