"""Untrusted values through the CLI (issue 15, items 7-9): each case is refused with exit 2 and a one-line error
naming the file, nothing written and the source unchanged; with ``--skip-invalid`` the bad item is left out,
named in ``DST.skipped.jsonl``, and the good one converted (exit 0)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hostile.harness import assert_clean_error, assert_nothing_written, cvkit, snapshot
from hostile.value_cases import Case, all_cases

CASES = all_cases()
#: the checks of ``cvkit validate`` a bad value may be reported by (the manifest is read leniently: each is a finding)
VALUE_CHECKS = {"invalid_record", "invalid_value", "box_empty", "box_not_finite", "polygon_too_few_points"}


def _convert(case: Case, tmp_path: Path, *extra: str) -> tuple[Path, Path, dict[str, str]]:
    """Build the case in ``tmp_path/case``; return (source, a destination in ``tmp_path/out``, snapshot of the case)."""
    folder = tmp_path / "case"
    folder.mkdir()
    source = case.build(folder)
    (tmp_path / "out").mkdir()
    return source, tmp_path / "out" / "out.jsonl", snapshot(folder)


def _options(case: Case, tmp_path: Path) -> list[str]:
    """Readers that extract pixels (CIFAR, MNIST) write them outside the case folder: where they go by default
    (beside the destination, before reading ends) is issue 15's item 10, tested with the atomic outputs."""
    options = ["-f", case.format, "-t", "manifest"]
    if case.format in ("cifar", "mnist"):
        options += ["-r", f"images_dir={tmp_path / 'extracted'}"]
    return options


def test_there_are_cases_for_every_reader():
    assert len(CASES) >= 100
    assert {case.format for case in CASES} == {
        "coco",
        "voc",
        "yolo",
        "labelme",
        "labelme_mit",
        "createml",
        "manifest",
        "labels",
        "cifar",
        "mnist",
    }


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_value_is_refused_by_name_and_nothing_is_written(case: Case, tmp_path: Path):
    source, destination, before = _convert(case, tmp_path)
    run = cvkit("convert", source, destination, *_options(case, tmp_path))
    assert_clean_error(run, 2, names=case.names)
    assert len(run.stderr.strip().splitlines()) == 1, run.stderr
    assert_nothing_written(before, tmp_path / "case")
    assert not any(destination.parent.iterdir()), list(destination.parent.iterdir())


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_skip_invalid_leaves_the_bad_item_out_and_lists_it(case: Case, tmp_path: Path):
    source, destination, _ = _convert(case, tmp_path)
    run = cvkit("convert", source, destination, *_options(case, tmp_path), "--skip-invalid", "--json")
    assert run.code == 0, run.stderr
    assert "Traceback" not in run.stderr
    skipped = [json.loads(line) for line in Path(str(destination) + ".skipped.jsonl").read_text().splitlines()]
    assert any((item["file"] or "").endswith(case.names) for item in skipped), skipped
    summary = json.loads(run.stdout)
    assert summary["read"]["images"] >= 1 and summary["written"]["images"] == summary["read"]["images"]


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_validate_reports_the_bad_value_as_an_error(case: Case, tmp_path: Path):
    source, _destination, before = _convert(case, tmp_path)
    options = ["-r", f"images_dir={tmp_path / 'extracted'}"] if case.format in ("cifar", "mnist") else []
    run = cvkit("validate", source, "-f", case.format, "--json", *options)
    assert run.code == 1, run.stdout + run.stderr
    doc = json.loads(run.stdout)
    found = {check for check, entry in doc["checks"].items() if entry["count"] and entry["severity"] == "error"}
    assert found & VALUE_CHECKS, found
    assert_nothing_written(before, tmp_path / "case")


MANIFEST_CASES = [case for case in CASES if case.format == "manifest"]


@pytest.mark.parametrize("case", MANIFEST_CASES, ids=[case.id for case in MANIFEST_CASES])
def test_stats_refuses_what_convert_refuses_in_a_manifest(case: Case, tmp_path: Path):
    """``cvkit stats`` reads manifests with a parser of its own (columns_from_manifest): one verdict with convert."""
    source, destination, _ = _convert(case, tmp_path)
    stats = cvkit("stats", source, "--json")
    convert = cvkit("convert", source, destination, *_options(case, tmp_path))
    assert_clean_error(stats, 2, names=case.names)
    assert stats.stderr == convert.stderr
