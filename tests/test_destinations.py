"""Destinations and sources (issue 15, items 1-4, 9's stale skip report and 10): the rules of cvkit.core.paths and
the atomic writes of cvkit.io, each against what a user would otherwise lose. tests/hostile/test_destinations.py runs
the same promises through the CLI over every writer."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import cvkit
from conftest import make_image
from cvkit.core.paths import UnsafePathError, check_apart, check_image_source, inside, looks_like_image, split_name
from cvkit.errors import DestinationExistsError, InvalidInputError
from cvkit.io import _owner_tag, atomic_dir, atomic_file, clear_leftovers, exclusive, extraction_folder, leftover_owner
from hostile.harness import assert_clean_error, assert_nothing_written, snapshot
from hostile.harness import cvkit as run_cvkit


def dead_pid() -> int:
    """The id of a process that has ended (and been reaped)."""
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True
    )
    return int(done.stdout)


def tag(pid: int) -> str:
    """``PID@HOST`` of a run with process id ``pid`` on this host, as cvkit names its temporary siblings."""
    return f"{pid}@{_owner_tag().partition('@')[2]}"


# --- 1. split names are never paths --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "split", ["../x", "/etc", "a/b", "a\\b", "..", ".", ".hidden", "x\x00y", "x\ny", " ", "s" * 201]
)
def test_hostile_split_names_are_refused(split):
    with pytest.raises(UnsafePathError, match="split name"):
        split_name(split)


@pytest.mark.parametrize("split", ["train", "val", "test", "trainval", "fold-1", "été", "my split"])
def test_plain_split_names_pass(split):
    assert split_name(split) == split


@pytest.mark.parametrize("parts", [("..", "x"), ("a", "../../x"), ("/etc/passwd",), ("a/../..",)])
def test_inside_refuses_paths_that_leave_the_root(tmp_path, parts):
    with pytest.raises(UnsafePathError, match="outside the destination"):
        inside(tmp_path / "out", *parts)


def test_inside_keeps_paths_under_the_root(tmp_path):
    assert inside(tmp_path, "images", "train", "a.jpg") == tmp_path / "images" / "train" / "a.jpg"
    assert inside(tmp_path, "a/../b.jpg") == tmp_path / "b.jpg"


def test_library_write_refuses_a_split_that_climbs_and_writes_nothing(small, tmp_path):
    for sample in small.samples:
        sample.split = "../../escaped"
    with pytest.raises(UnsafePathError):
        cvkit.write(small, tmp_path / "out" / "yolo", format="yolo", images="copy")
    assert not (tmp_path / "escaped").exists() and not (tmp_path / "out" / "yolo").exists()


# --- 2. only images are copied, from inside the source ----------------------------------------------------------
@pytest.mark.parametrize(
    ("head", "image"),
    [
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", True),
        (b"\x89PNG\r\n\x1a\n\x00\x00", True),
        (b"GIF89a\x01\x00", True),
        (b"BM" + bytes(12) + (40).to_bytes(4, "little"), True),
        (b"II*\x00\x08\x00", True),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", True),
        (b"\x00\x00\x00\x1cftypavif", True),
        (b"P6\n2 2\n255\n", True),
        (b"root:x:0:0:root:/root:/bin/bash\n", False),
        (b"BM is a text file", False),
        (b"RIFF\x00\x00\x00\x00WAVEfmt ", False),
        (b"", False),
        (b"-----BEGIN OPENSSH PRIVATE KEY-----", False),
    ],
)
def test_image_headers(head, image):
    assert looks_like_image(head) is image


def test_a_text_file_or_a_device_is_never_placed(tmp_path):
    secret = tmp_path / "secret.jpg"
    secret.write_text("password=hunter2\n")
    with pytest.raises(InvalidInputError, match="not an image file"):
        check_image_source(secret)
    with pytest.raises(InvalidInputError, match="not a regular file"):
        check_image_source(Path("/dev/zero"))


def test_coco_absolute_file_name_outside_the_source_is_not_copied(tmp_path):
    make_image(tmp_path / "src" / "images" / "a.jpg", 8, 8)
    make_image(tmp_path / "private" / "holiday.jpg", 8, 8)
    images = [
        {"id": 1, "file_name": "a.jpg", "width": 8, "height": 8},
        {"id": 2, "file_name": str(tmp_path / "private" / "holiday.jpg"), "width": 8, "height": 8},
    ]
    (tmp_path / "src" / "coco.json").write_text(
        json.dumps({"images": images, "annotations": [], "categories": [{"id": 1, "name": "x"}]})
    )
    out = tmp_path / "voc"
    run = run_cvkit("convert", "coco2voc", tmp_path / "src" / "coco.json", out, "--images", "copy")
    assert_clean_error(run, names=str(tmp_path / "private" / "holiday.jpg"))
    assert "--allow-outside-root" in run.stderr and not out.exists()
    run = run_cvkit(
        "convert", "coco2voc", tmp_path / "src" / "coco.json", out, "--images", "copy", "--allow-outside-root"
    )
    assert run.code == 0, run.stderr
    assert sorted(p.name for p in (out / "JPEGImages").iterdir()) == ["a.jpg", "holiday.jpg"]


def test_allow_outside_root_never_lets_a_non_image_through(tmp_path):
    make_image(tmp_path / "a.jpg", 8, 8)
    (tmp_path / "m.jsonl").write_text(
        json.dumps(
            {"type": "header", "schema": "cvkit.manifest", "version": 1, "categories": [{"id": 1, "name": "cat"}]}
        )
        + "\n"
        + json.dumps({"image": "/etc/passwd", "labels": ["cat"], "objects": []})
        + "\n"
    )
    out = tmp_path.with_name(tmp_path.name + "-classes")
    run = run_cvkit(
        "export", tmp_path / "m.jsonl", out, "--to", "imagefolder", "--images", "copy", "--allow-outside-root"
    )
    assert_clean_error(run, names="/etc/passwd")
    assert "not an image file" in run.stderr and not out.exists()


# --- 3. never the source ------------------------------------------------------------------------------------------
def test_destination_equal_inside_or_holding_the_source_is_refused(tmp_path):
    src = tmp_path / "data"
    src.mkdir()
    (src / "a.json").write_text("{}")
    for destination, why in (
        (src, "is the source"),
        (src / "coco", "inside the source"),
        (tmp_path, "holds the source"),
    ):
        with pytest.raises(UnsafePathError, match=why):
            check_apart(destination, [src])
    with pytest.raises(UnsafePathError, match="is the source"):
        check_apart(src / "a.json", [src / "a.json"])
    os.symlink(src, tmp_path / "alias")
    with pytest.raises(UnsafePathError, match="inside the source"):
        check_apart(tmp_path / "alias" / "out", [src])
    check_apart(tmp_path / "elsewhere", [src])
    check_apart(tmp_path / "data-b.json", [src / "a.json"])  # beside a source file is fine


def test_voc2voc_over_itself_leaves_the_source_untouched(corpus, tmp_path):
    import shutil

    src = tmp_path / "voc"
    shutil.copytree(corpus("voc", "voc_dataset1"), src)
    before = snapshot(src)
    run = run_cvkit("convert", "voc2voc", src, src, "--overwrite", "--images", "copy")
    assert_clean_error(run, names=str(src))
    assert_nothing_written(before, src)


# --- 4. two writers, one destination -------------------------------------------------------------------------------
def test_a_destination_finished_by_another_run_is_kept(tmp_path):
    path = tmp_path / "out"
    with pytest.raises(DestinationExistsError, match="another run"), atomic_dir(path) as tmp:
        (tmp / "mine.txt").write_text("mine")
        path.mkdir()
        (path / "theirs.txt").write_text("theirs")  # the other run finished first
    assert [p.name for p in path.iterdir()] == ["theirs.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no temporary folder left


def test_an_exclusive_file_is_never_replaced(tmp_path):
    path = tmp_path / "out.json"
    with (
        pytest.raises(DestinationExistsError, match="another run"),
        exclusive(path, overwrite=False),
        atomic_file(path) as handle,
    ):
        handle.write("mine")
        path.write_text("theirs")
    assert path.read_text() == "theirs" and [p.name for p in tmp_path.iterdir()] == ["out.json"]
    with exclusive(path, overwrite=True), atomic_file(path) as handle:
        handle.write("replaced")
    assert path.read_text() == "replaced"


@pytest.mark.parametrize("destination", ["D", "D.json"])
def test_concurrent_conversions_one_wins_the_others_exit_2(corpus, tmp_path, destination):
    src = corpus("voc", "voc_dataset1")
    reference = tmp_path / "reference"
    assert run_cvkit("convert", "voc2coco", src, reference / destination).code == 0
    for trial in range(3):
        target = tmp_path / f"trial{trial}" / destination
        target.parent.mkdir()
        command = [sys.executable, "-m", "cvkit", "convert", "voc2coco", str(src), str(target)]
        runs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(4)]
        results = [(p.wait(timeout=120), p.stderr.read()) for p in runs]  # type: ignore[union-attr]
        for p in runs:
            p.stdout.close(), p.stderr.close()  # type: ignore[union-attr]
        assert sorted(code for code, _ in results) == [0, 2, 2, 2], results
        assert all("destination exists" in err and "Traceback" not in err for code, err in results if code), results
        assert snapshot(target) == snapshot(reference / destination)  # the winner's output, whole
        assert [p.name for p in target.parent.iterdir()] == [destination]  # no temporary left behind


# --- 5. what a killed run left ------------------------------------------------------------------------------------
def test_leftovers_of_a_dead_run_are_removed_and_a_live_runs_kept(tmp_path):
    dead, alive = tag(dead_pid()), tag(os.getpid())
    (tmp_path / "out").mkdir()  # the destination is there again: what the dead run moved aside is stale
    (tmp_path / f".out.{dead}.abc123.tmp").mkdir()
    (tmp_path / f".out.{dead}.abc123.tmp" / "half.xml").write_text("<annotation>")
    (tmp_path / f".out.old-{dead}").mkdir()
    (tmp_path / f".out.json.{dead}.xyz.tmp").write_text("{")
    (tmp_path / f".out.{alive}.live.tmp").mkdir()
    (tmp_path / ".out.notes.txt").write_text("mine")  # not a cvkit temporary name: kept
    removed = clear_leftovers(tmp_path / "out")
    assert sorted(p.name for p in removed) == sorted([f".out.{dead}.abc123.tmp", f".out.old-{dead}"])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["out", f".out.json.{dead}.xyz.tmp", f".out.{alive}.live.tmp", ".out.notes.txt"]
    )
    assert leftover_owner(f".out.json.{dead}.xyz.tmp", "out.json") == int(dead.partition("@")[0])


def test_a_conversion_clears_what_a_killed_one_left(corpus, tmp_path):
    stale = tmp_path / f".coco.{tag(dead_pid())}.k1ll3d.tmp"
    stale.mkdir()
    (stale / "annotations").mkdir()
    run = run_cvkit("convert", "voc2coco", corpus("voc", "voc_dataset1"), tmp_path / "coco")
    assert run.code == 0, run.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["coco"]


# --- 9. a stale skip report ---------------------------------------------------------------------------------------
def test_a_stale_skip_report_does_not_survive_a_clean_overwrite(tmp_path):
    from test_mnist import write_idx

    src = tmp_path / "mnist"
    src.mkdir()
    write_idx(src, "train", np.zeros((2, 28, 28)), [1, 12])  # the second label is out of range
    out = tmp_path / "out.jsonl"
    assert run_cvkit("ingest", src, "--format", "mnist", "-o", out, "--skip-invalid").code == 0
    assert (tmp_path / "out.jsonl.skipped.jsonl").is_file()
    write_idx(src, "train", np.zeros((2, 28, 28)), [1, 2])
    assert run_cvkit("ingest", src, "--format", "mnist", "-o", out, "--skip-invalid", "--overwrite").code == 0
    assert not (tmp_path / "out.jsonl.skipped.jsonl").exists()


# --- 10. extracted pixels go when the run fails ------------------------------------------------------------------
def test_extraction_folder_is_removed_on_failure_and_an_earlier_one_restored(tmp_path):
    folder = tmp_path / "out_images"
    with pytest.raises(RuntimeError), extraction_folder(folder, overwrite=False) as target:
        (target / "0.png").write_bytes(b"x")
        raise RuntimeError("reader failed")
    assert not folder.exists()
    folder.mkdir()
    (folder / "old.png").write_bytes(b"old")
    with pytest.raises(DestinationExistsError), extraction_folder(folder, overwrite=False):
        pass
    with pytest.raises(RuntimeError), extraction_folder(folder, overwrite=True) as target:
        assert not (target / "old.png").exists()
        raise RuntimeError("reader failed")
    assert [p.name for p in folder.iterdir()] == ["old.png"] and sorted(p.name for p in tmp_path.iterdir()) == [
        "out_images"
    ]


@pytest.mark.parametrize("labels", [[1, 2, 12], [12, 1, 2]])
def test_a_failed_mnist_ingest_leaves_no_images(tmp_path, labels):
    from test_mnist import write_idx

    src = tmp_path / "mnist"
    src.mkdir()
    write_idx(src, "train", np.zeros((3, 28, 28)), labels)
    run = run_cvkit("ingest", src, "--format", "mnist", "-o", tmp_path / "out.jsonl")
    assert_clean_error(run, names="label 12")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mnist"]
