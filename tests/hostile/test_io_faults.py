"""Faults of the system and inputs no format allows: each a one-line error naming the path, never a traceback.

The promise of docs/safety.md ("I/O errors"): a full disk or a read-only destination exits 74 naming the destination
(not cvkit's temporary sibling) and leaves nothing there; stdout on a full device exits 74 naming ``<stdout>``; a
closed stdout ends quietly with 141; a destination under a regular file, a link loop, a file name that is not
UTF-8 and the malformed values below exit 2 naming the file; the source is never changed.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from hostile import trees
from hostile.harness import assert_clean_error, cvkit, fault_preamble, mount_tmpfs, snapshot, unmount

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="tmpfs, /dev/full and link loops: Linux")

EXIT_IO = 74
EXIT_CLOSED_PIPE = 141


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Inputs big enough (300 images) that any output overflows a 16 KB file system."""
    root = tmp_path_factory.mktemp("sources")
    voc = trees.voc_tree(root / "voc", count=300)
    coco = trees.coco_file(root / "coco" / "instances.json", count=300)
    return {"voc": voc, "coco": coco, "manifest": trees.manifest_of(voc, root / "voc.jsonl"), "root": root}


#: commands writing below DST, and the path the error must name
WRITERS = {
    "voc2coco": (["convert", "voc2coco", "{voc}", "{dst}/out.json"], "{dst}/out.json"),
    "voc2voc --images copy": (["convert", "voc2voc", "{voc}", "{dst}/out", "--images", "copy"], "{dst}/out"),
    "voc2yolo --images copy": (["convert", "voc2yolo", "{voc}", "{dst}/out", "--images", "copy"], "{dst}/out"),
    "coco2voc": (["convert", "coco2voc", "{coco}", "{dst}/out"], "{dst}/out"),
    "ingest": (["ingest", "{voc}", "-o", "{dst}/m.jsonl"], "{dst}/m.jsonl"),
    "export --to coco": (["export", "{manifest}", "{dst}/out", "--to", "coco"], "{dst}/out"),
}


def _writer_args(command: str, dst: Path, sources: dict[str, Path]) -> tuple[list[str], str]:
    template, named = WRITERS[command]
    values = {"voc": sources["voc"], "coco": sources["coco"], "manifest": sources["manifest"], "dst": dst}
    return [part.format(**values) for part in template], named.format(**values)


@pytest.fixture
def small_fs(tmp_path: Path):
    """A mounted 16 KB tmpfs and a mounted read-only one, or None each where mounting is not allowed."""
    full, read_only = tmp_path / "full", tmp_path / "ro"
    mounted = {
        "ENOSPC": full if mount_tmpfs(full, 16) else None,
        "EROFS": read_only if mount_tmpfs(read_only, 16, read_only=True) else None,
    }
    yield mounted
    for folder in mounted.values():
        if folder is not None:
            unmount(folder)


@pytest.mark.parametrize("fault", ["ENOSPC", "EROFS"])
@pytest.mark.parametrize("command", WRITERS)
def test_a_full_or_read_only_file_system_is_a_named_error_that_leaves_nothing(
    sources: dict[str, Path], small_fs: dict[str, Path | None], command: str, fault: str
):
    dst = small_fs[fault]
    if dst is None:
        pytest.skip("mounting a tmpfs is not allowed here; the simulated case below covers this")
    args, named = _writer_args(command, dst, sources)
    before = snapshot(sources["voc"])

    run = cvkit(*args)

    assert_clean_error(run, EXIT_IO, names=named)  # the destination, or a file in it: never the temporary sibling
    assert fault in run.stderr and ".tmp" not in run.stderr
    assert os.listdir(dst) == [], "something was left on the file system"
    assert snapshot(sources["voc"]) == before


@pytest.mark.parametrize("fault", ["ENOSPC", "EROFS"])
@pytest.mark.parametrize("command", WRITERS)
def test_the_same_faults_injected_where_no_file_system_can_be_mounted(
    sources: dict[str, Path], tmp_path: Path, command: str, fault: str
):
    """The same promise with every creation under the destination failing (a fault injected in the process)."""
    dst = tmp_path / "dst"
    dst.mkdir()
    args, _named = _writer_args(command, dst, sources)

    run = cvkit(*args, preamble=fault_preamble(fault, dst))

    assert_clean_error(run, EXIT_IO, names=str(dst))
    assert fault in run.stderr
    assert ".tmp" not in run.stderr, "the temporary sibling is cvkit's business, the destination the user's"
    assert os.listdir(dst) == []


# --- stdout ---------------------------------------------------------------------------------------------------------
STDOUT_COMMANDS = {
    "formats": ["formats"],
    "formats --json": ["formats", "--json"],
    "stats --json": ["stats", "{voc}", "--json"],
    "stats": ["stats", "{voc}"],
    "convert --json": ["convert", "voc2coco", "{voc}", "{tmp}/out.json", "--json"],
}


@pytest.mark.parametrize("command", STDOUT_COMMANDS)
def test_stdout_on_a_full_device_is_a_named_error(sources: dict[str, Path], tmp_path: Path, command: str):
    args = [part.format(voc=sources["voc"], tmp=tmp_path) for part in STDOUT_COMMANDS[command]]
    full = os.open("/dev/full", os.O_WRONLY)
    try:
        run = cvkit(*args, stdout=full)
    finally:
        os.close(full)
    assert_clean_error(run, EXIT_IO, names="<stdout>: No space left on device")


@pytest.mark.parametrize("command", STDOUT_COMMANDS)
def test_a_closed_stdout_ends_quietly(sources: dict[str, Path], tmp_path: Path, command: str):
    """``cvkit ... | head -1``: the reader went away; nothing to tell it, no traceback, exit 141 as a tool killed by
    SIGPIPE."""
    args = [part.format(voc=sources["voc"], tmp=tmp_path) for part in STDOUT_COMMANDS[command]]
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        run = cvkit(*args, stdout=write_end)
    finally:
        os.close(write_end)
    assert run.code == EXIT_CLOSED_PIPE, run.stderr
    assert run.stderr == ""


# --- a destination under a regular file -----------------------------------------------------------------------------
UNDER_A_FILE = {
    "voc2coco": ["convert", "voc2coco", "{voc}", "{file}/out.json"],
    "voc2voc": ["convert", "voc2voc", "{voc}", "{file}/sub/out"],
    "coco2voc": ["convert", "coco2voc", "{coco}", "{file}/out"],
    "ingest": ["ingest", "{voc}", "-o", "{file}/m.jsonl"],
    "export": ["export", "{manifest}", "{file}/out", "--to", "yolo"],
}


@pytest.mark.parametrize("command", UNDER_A_FILE)
def test_a_destination_under_a_regular_file_is_a_named_error(sources: dict[str, Path], tmp_path: Path, command: str):
    blocker = tmp_path / "notes.txt"
    blocker.write_text("a file, not a folder\n")
    args = [
        part.format(voc=sources["voc"], coco=sources["coco"], manifest=sources["manifest"], file=blocker)
        for part in UNDER_A_FILE[command]
    ]
    run = cvkit(*args)
    assert_clean_error(run, 2, names=f"{blocker}: ")
    assert "folder" in run.stderr
    assert sorted(os.listdir(tmp_path)) == ["notes.txt"] and blocker.read_text() == "a file, not a folder\n"


# --- link loops -----------------------------------------------------------------------------------------------------
def _voc_file_loop(root: Path) -> tuple[Path, str]:
    source = trees.voc_tree(root / "voc", listed=False)
    (source / "Annotations" / "loop_a.xml").symlink_to("loop_b.xml")
    (source / "Annotations" / "loop_b.xml").symlink_to("loop_a.xml")
    trees.list_voc(source, ["000000", "loop_a"])
    return source, "Annotations/loop_"


def _voc_folder_loop(root: Path) -> tuple[Path, str]:
    source = trees.voc_tree(root / "voc", listed=False)
    (source / "Annotations" / "again").symlink_to(".")
    return source, "Annotations/again"


def _imagefolder_loop(root: Path) -> tuple[Path, str]:
    source = trees.imagefolder_tree(root / "if")
    (source / "cat" / "x.png").symlink_to("y.png")
    (source / "cat" / "y.png").symlink_to("x.png")
    return source, "cat/"


def _yolo_image_loop(root: Path) -> tuple[Path, str]:
    source = trees.yolo_tree(root / "yolo")
    (source / "images" / "train" / "x.png").symlink_to("y.png")
    (source / "images" / "train" / "y.png").symlink_to("x.png")
    return source, "images/train/"


def _yolo_label_loop(root: Path) -> tuple[Path, str]:
    source = trees.yolo_tree(root / "yolo")
    (source / "labels" / "train" / "1.txt").unlink()
    (source / "labels" / "train" / "1.txt").symlink_to("2.txt")
    (source / "labels" / "train" / "2.txt").symlink_to("1.txt")
    return source, "labels/train/"


LOOPS = {
    "VOC annotation": _voc_file_loop,
    "VOC folder": _voc_folder_loop,
    "imagefolder image": _imagefolder_loop,
    "YOLO image": _yolo_image_loop,
    "YOLO label": _yolo_label_loop,
}


@pytest.mark.parametrize("command", ["convert", "stats"])
@pytest.mark.parametrize("case", LOOPS)
def test_a_link_loop_in_the_input_is_a_named_error(tmp_path: Path, case: str, command: str):
    source, named = LOOPS[case](tmp_path)
    before = snapshot(source)
    args = ["convert", source, tmp_path / "out.json", "--to", "coco"] if command == "convert" else ["stats", source]
    run = cvkit(*args, timeout=30)
    assert_clean_error(run, 2, names=named)
    assert "ELOOP" in run.stderr or "symbolic links" in run.stderr
    assert not (tmp_path / "out.json").exists()
    assert snapshot(source) == before


# --- file names that are not UTF-8 ----------------------------------------------------------------------------------
def _imagefolder_odd_name(root: Path) -> Path:
    source = trees.imagefolder_tree(root / "if")
    os.rename(source / "cat" / "0.png", os.path.join(os.fsencode(source / "cat"), b"caf\xe9.png"))
    return source


def _yolo_odd_name(root: Path) -> Path:
    source = trees.yolo_tree(root / "yolo")
    os.rename(
        source / "images" / "train" / "0.png", os.path.join(os.fsencode(source / "images" / "train"), b"\xff0.png")
    )
    os.rename(
        source / "labels" / "train" / "0.txt", os.path.join(os.fsencode(source / "labels" / "train"), b"\xff0.txt")
    )
    return source


ODD_NAMES = {"imagefolder": (_imagefolder_odd_name, "caf\\xe9.png"), "yolo": (_yolo_odd_name, "\\xff0.png")}


@pytest.mark.parametrize("command", ["convert to coco", "convert to voc", "ingest", "stats"])
@pytest.mark.parametrize("case", ODD_NAMES)
def test_a_file_name_that_is_not_utf8_is_a_named_error(tmp_path: Path, case: str, command: str):
    build, shown = ODD_NAMES[case]
    source = build(tmp_path)
    args = {
        "convert to coco": ["convert", source, tmp_path / "out.json", "--to", "coco"],
        "convert to voc": ["convert", source, tmp_path / "out", "--to", "voc"],
        "ingest": ["ingest", source, "-o", tmp_path / "out.jsonl"],
        "stats": ["stats", source],
    }[command]
    run = cvkit(*args)
    assert_clean_error(run, 2, names=shown)
    assert "not valid UTF-8" in run.stderr
    assert [name for name in os.listdir(tmp_path) if name.startswith(("out", ".out"))] == []


# --- values no format allows, named with their file -----------------------------------------------------------------
def _coco_case(root: Path, **overrides: object) -> Path:
    return trees.coco_file(root / "coco" / "instances.json", **overrides)


def _coco_image_id_list(root: Path) -> Path:
    path = _coco_case(root)
    document = json.loads(path.read_text())
    document["images"][0]["id"] = [1, 2]
    document["annotations"] = []
    path.write_text(json.dumps(document))
    return path


def _coco_annotation_image_id_list(root: Path) -> Path:
    path = _coco_case(root)
    document = json.loads(path.read_text())
    document["annotations"][0]["image_id"] = [1]
    path.write_text(json.dumps(document))
    return path


def _coco_duplicate_category_ids(root: Path) -> Path:
    return _coco_case(root, categories=[{"id": 1, "name": "cat"}, {"id": 1, "name": "dog"}])


def _cifar_string_labels(root: Path) -> Path:
    import numpy as np

    return trees.cifar_tree(root / "cifar", {b"labels": ["cat", "dog"], b"data": np.zeros((2, 3072), np.uint8)})


def _cifar_string_data(root: Path) -> Path:
    return trees.cifar_tree(root / "cifar", {b"labels": [1, 2], b"data": "not pixels"})


def _cifar_latin1_meta(root: Path) -> Path:
    folder = root / "cifar-bin"
    folder.mkdir()
    (folder / "batches.meta.txt").write_bytes("caf\u00e9\nbird\n".encode("latin-1"))
    (folder / "data_batch_1.bin").write_bytes(bytes(3073))
    return folder


def _mnist_three_columns(root: Path) -> Path:
    folder = root / "mnist"
    folder.mkdir()
    (folder / "mnist_train.csv").write_text("label,a,b\n1,2,3\n")
    return folder


MALFORMED = {
    "COCO image id a list": (_coco_image_id_list, "coco", "instances.json:images[0].id"),
    "COCO annotation image_id a list": (
        _coco_annotation_image_id_list,
        "coco",
        "instances.json:annotations[0].image_id",
    ),
    "COCO duplicate category ids": (_coco_duplicate_category_ids, "coco", "instances.json:categories[1].id"),
    "CIFAR labels that are strings": (_cifar_string_labels, "cifar", "data_batch_1:labels[0]"),
    "CIFAR data a string": (_cifar_string_data, "cifar", "data_batch_1:data"),
    "CIFAR Latin-1 batches.meta.txt": (_cifar_latin1_meta, "cifar", "batches.meta.txt:line 1"),
    "MNIST CSV of 3 columns": (_mnist_three_columns, "mnist", "mnist_train.csv:line 2"),
}


@pytest.mark.parametrize("command", ["convert", "stats"])
@pytest.mark.parametrize("case", MALFORMED)
def test_a_malformed_value_is_a_named_error(tmp_path: Path, case: str, command: str):
    build, format_name, named = MALFORMED[case]
    source = build(tmp_path)
    before = snapshot(source.parent if source.is_file() else source)
    args = (
        ["convert", "--from", format_name, source, tmp_path / "out.json", "--to", "coco"]
        if command == "convert"
        else ["stats", source, "--format", format_name]
    )
    run = cvkit(*args)
    assert_clean_error(run, 2, names=named)
    assert not (tmp_path / "out.json").exists()
    assert snapshot(source.parent if source.is_file() else source) == before


def test_hierarchy_show_of_a_folder_is_a_named_error(tmp_path: Path):
    run = cvkit("hierarchy", "show", tmp_path)
    assert_clean_error(run, 2, names=str(tmp_path))


# --- checkpoints ----------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("trained")
    manifest = trees.manifest_of(trees.imagefolder_tree(root / "if"), root / "if.jsonl")
    run = cvkit(
        "train",
        "small_cnn",
        manifest,
        "--epochs",
        "1",
        "--device",
        "cpu",
        "--workers",
        "0",
        "-o",
        root / "run",
        timeout=300,
    )
    assert run.code == 0, run.stderr
    return root / "run" / "best.pt"


def _unknown_architecture(good: Path, target: Path) -> None:
    import torch

    state = torch.load(good, map_location="cpu", weights_only=True)
    state["config"]["arch"] = "resnet9000"
    torch.save(state, target)


def _foreign_object(_good: Path, target: Path) -> None:
    import argparse

    import torch

    torch.save({"format": "cvkit.checkpoint", "config": argparse.Namespace(arch="small_cnn")}, target)


def _truncated(good: Path, target: Path) -> None:
    target.write_bytes(good.read_bytes()[:4096])


CHECKPOINTS = {
    "unknown architecture": (_unknown_architecture, "target.pt:config.arch", "resnet9000"),
    "a foreign object": (_foreign_object, "target.pt: refused", "could run code"),
    "truncated": (_truncated, "target.pt: not a readable PyTorch checkpoint", "truncated"),
}


@pytest.mark.parametrize("command", ["predict", "evaluate"])
@pytest.mark.parametrize("case", CHECKPOINTS)
def test_a_bad_checkpoint_is_refused_in_cvkits_words(checkpoint: Path, tmp_path: Path, case: str, command: str):
    make, named, says = CHECKPOINTS[case]
    target = tmp_path / "target.pt"
    make(checkpoint, target)
    image = next(checkpoint.parents[1].glob("if/cat/*.png"))
    manifest = checkpoint.parents[1] / "if.jsonl"
    args = (
        ["predict", target, image, "--device", "cpu"]
        if command == "predict"
        else ["evaluate", target, manifest, "--device", "cpu"]
    )
    run = cvkit(*args, timeout=300)
    assert_clean_error(run, 2, names=named)
    assert says in run.stderr
    assert "weights_only" not in run.stderr  # torch's advice to turn the safe loader off is not passed on
