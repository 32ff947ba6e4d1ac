"""Ctrl-C, SIGTERM and SIGHUP in the middle of a conversion with worker processes.

A terminal sends Ctrl-C to the whole process group: the command and its workers. Each case starts a real
``cvkit`` in a process group of its own, waits until its workers run, signals the group, and asserts the promise
of docs/safety.md ("Signals"): exit 128 + the signal's number, promptly (a hang guard, not a speed assertion),
no traceback from the command or a worker, no temporary folder or partial output left, no process left
behind, the source unchanged.
"""

from __future__ import annotations

import io
import json
import signal
import sys
from pathlib import Path

import pytest

from hostile.harness import cvkit, interrupt, snapshot, temp_leftovers

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="process groups and /proc: Linux")

#: files in the generated tree: enough that every conversion below is still running when its workers have started
FILES = 20_000
SIGNALS = [signal.SIGINT, signal.SIGTERM, signal.SIGHUP]
#: each case: the command line after ``cvkit`` (SRC/DST placeholders), the destination's name
CASES = {
    "voc2voc --images copy": (["convert", "voc2voc", "{voc}", "{dst}", "--images", "copy"], "out"),
    "voc2voc": (["convert", "voc2voc", "{voc}", "{dst}"], "out"),
    "voc2yolo --images copy": (["convert", "voc2yolo", "{voc}", "{dst}", "--images", "copy"], "out"),
    "coco2voc": (["convert", "coco2voc", "{coco}", "{dst}"], "out"),
    "coco2voc --images copy": (["convert", "coco2voc", "{coco}", "{dst}", "--images", "copy"], "out"),
    "voc2coco": (["convert", "voc2coco", "{voc}", "{dst}"], "out.json"),
    "stats": (["stats", "{voc}", "--json"], None),
}
#: every case runs on two workers, whatever the machine's CPU count
WORKERS = ["-r", "workers=2", "-w", "workers=2"]


@pytest.fixture(scope="module")
def trees(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A VOC tree of :data:`FILES` annotations and 8x8 JPEGs, and the same as one COCO file (written by hand)."""
    from PIL import Image

    root = tmp_path_factory.mktemp("signals")
    voc = root / "voc"
    (voc / "Annotations").mkdir(parents=True)
    (voc / "JPEGImages").mkdir()
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (10, 20, 30)).save(buffer, "JPEG")
    jpeg = buffer.getvalue()
    images, annotations = [], []
    for index in range(FILES):
        name = f"{index:06d}"
        (voc / "Annotations" / f"{name}.xml").write_text(
            f"<annotation><filename>{name}.jpg</filename>"
            "<size><width>8</width><height>8</height><depth>3</depth></size>"
            f"<object><name>c{index % 5}</name>"
            "<bndbox><xmin>1</xmin><ymin>1</ymin><xmax>5</xmax><ymax>6</ymax></bndbox>"
            "</object></annotation>"
        )
        (voc / "JPEGImages" / f"{name}.jpg").write_bytes(jpeg)
        images.append({"id": index + 1, "file_name": f"{name}.jpg", "width": 8, "height": 8})
        annotations.append(
            {
                "id": index + 1,
                "image_id": index + 1,
                "category_id": index % 5 + 1,
                "bbox": [0, 0, 5, 6],
                "area": 30,
                "iscrowd": 0,
            }
        )
    coco = voc / "JPEGImages" / "instances.json"
    categories = [{"id": n + 1, "name": f"c{n}"} for n in range(5)]
    coco.write_text(json.dumps({"images": images, "annotations": annotations, "categories": categories}))
    return {"voc": voc, "coco": coco, "root": root}


@pytest.mark.parametrize("signum", SIGNALS, ids=lambda s: signal.Signals(s).name)
@pytest.mark.parametrize("case", CASES)
def test_a_signal_to_the_process_group_ends_the_conversion_cleanly(
    trees: dict[str, Path], tmp_path: Path, case: str, signum: int
):
    template, dst_name = CASES[case]
    dst = tmp_path / dst_name if dst_name else None
    args = [part.format(voc=trees["voc"], coco=trees["coco"], dst=dst) for part in template]
    options = WORKERS if args[0] == "convert" else []
    if case.startswith("coco2"):
        options = ["-w", "workers=2"]  # the COCO reader has no workers of its own
    before = snapshot(trees["voc"])

    # as soon as the workers exist: the fastest cases (stats, voc2coco) finish 20,000 files in well under a second
    ended = interrupt(*args, *options, signum=signum, settle_s=0.02)

    assert ended.had_workers, "the command ended before its workers started: the tree is too small to test this"
    assert ended.run.code == 128 + signum, f"exit {ended.run.code}\n{ended.run.stderr}"
    for noise in ("Traceback", "KeyboardInterrupt", "BrokenPipe", "Error"):
        assert noise not in ended.run.stderr, ended.run.stderr
    assert ended.survivors == [], "worker processes outlived the command"
    if dst is not None:
        assert not dst.exists(), "partial output left at the destination"
        assert temp_leftovers(tmp_path) == []
    assert snapshot(trees["voc"]) == before


def test_uninterrupted_the_same_command_finishes(trees: dict[str, Path], tmp_path: Path):
    """The oracle for the cases above: run to the end (no signal), the same command exits 0 and leaves a result."""
    done = cvkit("convert", "voc2coco", trees["voc"], tmp_path / "out.json", *WORKERS)
    assert done.code == 0, done.stderr
    assert len(json.loads((tmp_path / "out.json").read_text())["images"]) == FILES


def test_what_a_killed_run_left_is_cleared_by_the_next_run(trees: dict[str, Path], tmp_path: Path):
    """SIGKILL cannot be unwound: the temporary folder stays. The next run into the same destination removes it
    (its run is gone) and writes its own output."""
    from hostile.trees import voc_tree

    dst = tmp_path / "out"
    killed = interrupt("convert", "voc2voc", trees["voc"], dst, "--images", "copy", *WORKERS, signum=signal.SIGKILL)
    assert killed.run.code == -signal.SIGKILL and killed.had_workers
    left = temp_leftovers(tmp_path)
    assert left, "the killed run left no temporary folder: nothing to test"

    done = cvkit("convert", "voc2voc", voc_tree(tmp_path / "small"), dst)

    assert done.code == 0, done.stderr
    assert temp_leftovers(tmp_path) == []
    assert len(list((dst / "Annotations").iterdir())) == 3
