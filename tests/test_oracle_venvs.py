"""tests/oracle_venvs.py itself: a venv is built once per pinned list, rebuilt when the list changes, and a list pip
cannot install skips the oracle's tests (which conftest turns into a failure under CI) rather than passing them."""

from __future__ import annotations

from pathlib import Path

import pytest

import oracle_venvs


@pytest.fixture
def lists(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder of pinned lists and scripts in place of tests/oracles, the venvs beside it."""
    folder = tmp_path / "oracles"
    folder.mkdir()
    monkeypatch.setattr(oracle_venvs, "ORACLES", folder)
    monkeypatch.setenv("CVKIT_ORACLE_VENVS", str(tmp_path / "venvs"))
    (folder / "echo.py").write_text("import json, sys\nprint('noise')\nprint(json.dumps({'args': sys.argv[1:]}))\n")
    return folder


def test_a_venv_is_built_once_for_its_list_and_again_when_the_list_changes(lists: Path):
    (lists / "tiny.txt").write_text("# nothing to install\n")
    python = oracle_venvs.python("tiny")
    assert python == lists.parent / "venvs" / ".venv-tiny" / "bin" / "python"
    assert oracle_venvs.run("tiny", "echo.py", "a", Path("b")) == {"args": ["a", "b"]}  # the last line, as JSON
    (python.parent / "left-by-the-first-build").touch()
    oracle_venvs.python("tiny")
    assert (python.parent / "left-by-the-first-build").exists()  # the same list: the same venv
    (lists / "tiny.txt").write_text("# nothing to install, said otherwise\n")
    oracle_venvs.python("tiny")
    assert not (python.parent / "left-by-the-first-build").exists()  # a changed list: built anew


def test_a_list_pip_cannot_install_skips_with_pips_reason(lists: Path):
    (lists / "broken.txt").write_text("this is not a requirement\n")
    with pytest.raises(pytest.skip.Exception, match=r"broken oracle's venv could not be built from broken\.txt"):
        oracle_venvs.python("broken")
    assert not (lists.parent / "venvs" / ".venv-broken" / oracle_venvs.MARKER).exists()  # tried again next time
