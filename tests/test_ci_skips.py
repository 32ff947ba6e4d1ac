"""Under ``CI=true`` a skipped test fails unless it needs CUDA (the conftest hook), so that a missing tool or data
set is installed rather than silently left out."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

SKIPPING = """
import pytest

def test_skipped_for_missing_data():
    pytest.skip("WordNet data.noun absent")

@pytest.mark.gpu
def test_marked_gpu():
    pytest.skip("no device")

@pytest.mark.skipif(True, reason="needs a CUDA GPU")
def test_skipped_for_cuda():
    pass

@pytest.mark.xfail(reason="a known bug")
def test_expected_failure():
    assert False
"""


@pytest.mark.parametrize(("ci", "failed", "skipped"), [("true", 1, 2), ("", 0, 3)], ids=["ci", "local"])
def test_only_cuda_may_skip_under_ci(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, ci: str, failed: int, skipped: int
):
    pytester.makeconftest((Path(__file__).parent / "conftest.py").read_text(encoding="utf-8"))
    pytester.makepyfile(test_skips=SKIPPING)
    monkeypatch.setenv("CI", ci)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=failed, skipped=skipped, xfailed=1)
    if failed:
        result.stdout.fnmatch_lines(["*test_skipped_for_missing_data*skipped under CI=true*WordNet data.noun absent*"])


def test_a_module_skipped_whole_fails_under_ci(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch):
    pytester.makeconftest((Path(__file__).parent / "conftest.py").read_text(encoding="utf-8"))
    pytester.makepyfile(test_module='import pytest\npytest.importorskip("a_module_nobody_installed")\n')
    monkeypatch.setenv("CI", "true")
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
