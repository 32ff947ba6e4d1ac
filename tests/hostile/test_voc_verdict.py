"""``cvkit stats --format voc`` and ``cvkit convert`` give one verdict on every VOC file (issue 15, item 8): both
refuse it naming the same file, or both read it with the same counts. The stats fast path once took junk after
the root, NUL and control characters, 50,000-deep nesting, ``<difficult>maybe</difficult>`` and mismatched tags,
and printed ``-9223372036854775808x48`` for a 20-digit width."""

from __future__ import annotations

from pathlib import Path

import pytest

import cvkit
from cvkit.core.report import Report
from cvkit.errors import InvalidInputError
from cvkit.stats.sources import load_columns
from cvkit.stats.voc_scan import scan_voc_columns
from hostile.harness import assert_clean_error
from hostile.harness import cvkit as run_cvkit
from hostile.voc_cases import MALFORMED, VALID, mutations, plain


def devkit(root: Path, data: bytes) -> Path:
    """A devkit tree of a good ``a.xml`` and ``b.xml`` holding ``data``, both listed in train.txt."""
    (root / "Annotations").mkdir(parents=True)
    (root / "ImageSets" / "Main").mkdir(parents=True)
    (root / "Annotations" / "a.xml").write_text(plain("a"))
    (root / "Annotations" / "b.xml").write_bytes(data)
    (root / "ImageSets" / "Main" / "train.txt").write_text("a\nb\n")
    return root


def verdict_of_stats(root: Path) -> tuple[str, ...]:
    try:
        columns = load_columns(root, "voc", Report())
    except InvalidInputError as exc:
        return ("refused", Path(exc.file or "").name)
    return (
        "read",
        str(columns.num_images),
        str(len(columns.obj_class)),
        ",".join(map(str, columns.image_width.tolist())),
    )


def verdict_of_convert(root: Path) -> tuple[str, ...]:
    try:
        dataset = cvkit.read(root, format="voc").materialize()
    except InvalidInputError as exc:
        return ("refused", Path(exc.file or "").name)
    samples = dataset.samples
    return (
        "read",
        str(len(samples)),
        str(sum(len(s.objects) for s in samples)),
        ",".join(str(float(s.width)) for s in samples),
    )


CASES = {**MALFORMED, **VALID, **mutations(seed=15, count=200)}


@pytest.mark.parametrize("name", list(CASES))
def test_stats_and_convert_give_one_verdict(name: str, tmp_path: Path):
    root = devkit(tmp_path / "voc", CASES[name])
    stats, convert = verdict_of_stats(root), verdict_of_convert(root)
    assert stats == convert
    if name in MALFORMED:
        assert stats == ("refused", "b.xml")
    if name in VALID:
        assert stats[0] == "read"
        assert scan_voc_columns(root, Report()) is not None  # the fast path itself, not the reader it falls back to


@pytest.mark.parametrize(
    "name",
    [
        "junk_after_root",
        "nul_in_name",
        "control_char_in_name",
        "nesting_50000_deep",
        "difficult_maybe",
        "width_past_int64",
        "mismatched_tag",
    ],
)
def test_the_cli_commands_refuse_the_issue_cases_alike(name: str, tmp_path: Path):
    root = devkit(tmp_path / "voc", MALFORMED[name])
    stats = run_cvkit("stats", root, "--format", "voc", "--json")
    convert = run_cvkit("convert", root, tmp_path / "out.json", "-f", "voc", "-t", "coco")
    for run in (stats, convert):
        assert_clean_error(run, 2, names="b.xml")
    assert stats.stderr == convert.stderr
    assert not (tmp_path / "out.json").exists()
