"""Hostile cases for destinations and sources (issue 15, items 1-4 and 10), run through the CLI over every writer.

Each case builds its source under ``tmp_path``, snapshots the whole of ``tmp_path``, runs ``cvkit`` and asserts the
promise of docs/safety.md ("Destinations and sources"): a refused case exits 2 with a one-line error naming what was
refused, no traceback, and nothing anywhere changed (source hash unchanged, no partial output, nothing outside); an
accepted case writes only inside its destination.
"""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from conftest import corpus_path, make_image
from hostile.harness import Run, assert_clean_error, assert_nothing_written, assert_only_inside, cvkit, snapshot

#: writers whose output has a folder (or file name) per split
SPLIT_WRITERS = ["yolo", "coco", "voc", "labelme_mit", "labels", "imagefolder"]
#: writers that hold no splits (the split is reported as not represented)
SPLITLESS_WRITERS = ["labelme", "createml"]
#: writers that place image files with --images copy|hardlink|symlink
PLACING_WRITERS = SPLIT_WRITERS + SPLITLESS_WRITERS
MODES = ["copy", "hardlink", "symlink"]

#: split names that are paths or would hide or break a file name; "{abs}" becomes an absolute path under tmp_path
HOSTILE_SPLITS = ["../../outside/X", "{abs}", "a/b", "a\\b", "..", ".", ".hidden", "x\u0000y", "x\ny", " ", "s" * 250]


def _header() -> dict:
    return {"type": "header", "schema": "cvkit.manifest", "version": 1, "categories": [{"id": 1, "name": "cat"}]}


def manifest(folder: Path, records: list[dict], name: str = "m.jsonl") -> Path:
    """A manifest in ``folder`` whose images are ``records``' (each a cat with one box)."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = [_header()] + [
        {"width": 8, "height": 8, "labels": ["cat"], "objects": [{"label": "cat", "bbox": [1, 1, 4, 4]}], **r}
        for r in records
    ]
    path = folder / name
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def refused(run: Run, before: dict[str, str], root: Path, names: str) -> None:
    assert_clean_error(run, names=names)
    assert len(run.stderr.strip().splitlines()) == 1, run.stderr
    assert_nothing_written(before, root)


# --- 1. split names are never paths -----------------------------------------------------------------------------------
@pytest.mark.parametrize("split", HOSTILE_SPLITS, ids=[repr(s)[:14] for s in HOSTILE_SPLITS])
@pytest.mark.parametrize("writer", SPLIT_WRITERS)
def test_hostile_split_name_is_refused_by_every_split_writer(tmp_path, writer, split):
    split = split.replace("{abs}", str(tmp_path / "abs" / "X"))
    src = tmp_path / "work" / "src"
    make_image(src / "a.jpg", 8, 8)
    source = manifest(src, [{"image": "a.jpg", "split": split}])
    before = snapshot(tmp_path)
    run = cvkit("export", source, tmp_path / "work" / "out", "--to", writer, "--images", "copy")
    refused(run, before, tmp_path, "split name")


@pytest.mark.parametrize("split", ["../../outside/X", "{abs}", ".."])
@pytest.mark.parametrize("writer", [*SPLITLESS_WRITERS, "manifest"])
def test_a_manifest_split_that_is_no_plain_name_is_refused_at_its_line(tmp_path, writer, split):
    """Refused where it is read, naming the manifest and the record's line, whether or not the writer uses splits."""
    split = split.replace("{abs}", str(tmp_path / "abs" / "X"))
    src = tmp_path / "work" / "src"
    make_image(src / "a.jpg", 8, 8)
    source = manifest(src, [{"image": "a.jpg", "split": "train"}, {"image": "a.jpg", "split": split}])
    before = snapshot(tmp_path)
    destination = tmp_path / "work" / ("out.jsonl" if writer == "manifest" else "out")
    args = () if writer == "manifest" else ("--images", "copy")
    run = cvkit("export", source, destination, "--to", writer, *args)
    refused(run, before, tmp_path, f"{source}:line 3")
    assert "split name" in run.stderr


@pytest.mark.parametrize("writer", ["yolo", "coco", "voc", "imagefolder"])
def test_a_labels_csv_split_column_is_no_path(tmp_path, writer):
    src = tmp_path / "work" / "src"
    make_image(src / "images" / "a.jpg", 8, 8)
    (src / "labels.csv").write_text("ImageId,labels,split\na.jpg,cat,../../outside/X\n")
    before = snapshot(tmp_path)
    run = cvkit(
        "convert", src / "labels.csv", tmp_path / "work" / "out", "--from", "labels", "--to", writer, "--images", "copy"
    )
    refused(run, before, tmp_path, "split name")


# --- 2. only images, and only from inside the source ------------------------------------------------------------------
def _payload(kind: str, tmp_path: Path, src: Path) -> tuple[str, str]:
    """(the manifest's ``image``, what the error must name) for a file that must not be placed."""
    if kind == "secret outside":
        (tmp_path / "secret.txt").write_text("password=hunter2\n")
        return str(tmp_path / "secret.txt"), str(tmp_path / "secret.txt")
    if kind == "secret inside":
        (src / "notes.jpg").write_text("password=hunter2\n")
        return "notes.jpg", "not an image file"
    if kind == "image outside":
        make_image(tmp_path / "private" / "holiday.jpg", 8, 8)
        return str(tmp_path / "private" / "holiday.jpg"), "outside the source's folders"
    if kind == "climbing path":
        make_image(tmp_path / "private" / "holiday.jpg", 8, 8)
        return "../../private/holiday.jpg", "outside the source's folders"
    if kind == "device":
        return "/dev/zero", "/dev/zero"
    if kind == "fifo":
        os.mkfifo(src / "pipe.jpg")
        return "pipe.jpg", "pipe.jpg"  # some writers check for a file before placing: "image file not found"
    if kind == "link to a secret":
        os.symlink("/etc/passwd", src / "link.jpg")
        return "link.jpg", "not an image file"
    raise AssertionError(kind)


PAYLOADS = ["secret outside", "secret inside", "image outside", "climbing path", "device", "fifo", "link to a secret"]


@pytest.mark.parametrize("kind", PAYLOADS)
@pytest.mark.parametrize("writer", PLACING_WRITERS)
def test_only_images_inside_the_source_are_placed(tmp_path, writer, kind):
    src = tmp_path / "work" / "src"
    make_image(src / "a.jpg", 8, 8)
    image, named = _payload(kind, tmp_path, src)
    source = manifest(src, [{"image": "a.jpg", "split": "train"}, {"image": image, "split": "train"}])
    mode = MODES[(PLACING_WRITERS.index(writer) + PAYLOADS.index(kind)) % 3]  # every mode over the cases
    before = snapshot(tmp_path)
    run = cvkit("export", source, tmp_path / "work" / "out", "--to", writer, "--images", mode)
    refused(run, before, tmp_path, named)


@pytest.mark.parametrize("writer", PLACING_WRITERS)
def test_allow_outside_root_places_an_outside_image_inside_the_destination(tmp_path, writer):
    src = tmp_path / "work" / "src"
    make_image(src / "a.jpg", 8, 8)
    make_image(tmp_path / "private" / "holiday.jpg", 8, 8)
    source = manifest(
        src,
        [{"image": "a.jpg", "split": "train"}, {"image": str(tmp_path / "private" / "holiday.jpg"), "split": "train"}],
    )
    destination = tmp_path / "work" / "out"
    before = snapshot(tmp_path)
    run = cvkit("export", source, destination, "--to", writer, "--images", "copy", "--allow-outside-root")
    assert run.code == 0, run.stderr
    assert_only_inside(before, tmp_path, destination)
    assert any(p.name.startswith("holiday") for p in destination.rglob("*.jpg")), sorted(destination.rglob("*"))


@pytest.mark.parametrize("mode", MODES)
def test_coco_absolute_file_name_of_a_secret_never_reaches_jpegimages(tmp_path, mode):
    (tmp_path / "secret.jpg").write_text("password=hunter2\n")
    src = tmp_path / "work" / "coco"
    make_image(src / "images" / "a.jpg", 8, 8)
    images = [
        {"id": 1, "file_name": "a.jpg", "width": 8, "height": 8},
        {"id": 2, "file_name": str(tmp_path / "secret.jpg"), "width": 8, "height": 8},
    ]
    (src / "instances.json").write_text(
        json.dumps({"images": images, "annotations": [], "categories": [{"id": 1, "name": "x"}]})
    )
    before = snapshot(tmp_path)
    for extra in ((), ("--allow-outside-root",)):
        run = cvkit("convert", "coco2voc", src / "instances.json", tmp_path / "work" / "voc", "--images", mode, *extra)
        refused(run, before, tmp_path, str(tmp_path / "secret.jpg"))


# --- 3. never the source ----------------------------------------------------------------------------------------------
def _voc(tmp_path: Path) -> Path:
    import shutil

    src = tmp_path / "work" / "voc"
    shutil.copytree(corpus_path("voc", "voc_dataset1"), src)
    return src


SOURCE_CASES = {
    "voc2voc over itself": lambda w, s, m: ["convert", "voc2voc", s, s, "--overwrite", "--images", "copy"],
    "voc2coco inside the source": lambda w, s, m: ["convert", "voc2coco", s, s / "Annotations" / "coco"],
    "voc2coco a file inside the source": lambda w, s, m: ["convert", "voc2coco", s, s / "coco.json"],
    "voc2yolo over the folder holding it": lambda w, s, m: ["convert", "voc2yolo", s, w, "--overwrite"],
    "voc2coco through a link to the source": lambda w, s, m: ["convert", "voc2coco", w / "alias", s / "out"],
    "coco2coco over itself": lambda w, s, m: ["convert", "--from", "manifest", m, m, "--to", "manifest", "--overwrite"],
    "export over the folder holding it": lambda w, s, m: ["export", m, w, "--to", "yolo", "--overwrite"],
    "ingest into the source": lambda w, s, m: ["ingest", s, "-o", s / "Annotations" / "x.jsonl"],
    "remap over itself": lambda w, s, m: ["remap", m, "-o", m, "--overwrite", "--map", w / "map.csv"],
    "split over itself": lambda w, s, m: ["split", m, "--ratios", "0.5,0.5", "-o", m, "--overwrite"],
    "split into the source": lambda w, s, m: ["split", s, "--ratios", "0.5,0.5", "-o", s / "split.jsonl"],
    "validate --fix into the source": lambda w, s, m: ["validate", s, "--fix", "-o", s / "clean.jsonl"],
    "validate --fix over itself": lambda w, s, m: ["validate", m, "--fix", "-o", m, "--overwrite"],
    "augment --apply over the folder holding it": lambda w, s, m: ["augment", m, "--apply", "-o", w, "--overwrite"],
    "augment --apply into the source": lambda w, s, m: ["augment", s, "--apply", "-o", s / "aug"],
}


@pytest.mark.parametrize("case", list(SOURCE_CASES))
def test_a_destination_that_is_inside_or_holds_the_source_is_refused(tmp_path, case):
    src = _voc(tmp_path)
    work = src.parent
    os.symlink(src, work / "alias")
    (work / "map.csv").write_text("cat,animal\n")
    source = manifest(work, [{"image": "voc/JPEGImages/2007_000001.jpg", "split": "train"}])
    before = snapshot(tmp_path)
    run = cvkit(*SOURCE_CASES[case](work, src, source))
    refused(run, before, tmp_path, "the destination")


# --- 10. pixels extracted by a failed read are removed ----------------------------------------------------------------
def _idx(folder: Path, count: int, labels: list[int], declared: int | None = None, truncate: int = 0) -> None:
    import gzip

    head = (0x803).to_bytes(4, "big") + (declared or count).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2
    data = head + bytes(count * 784)
    (folder / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(data[: len(data) - truncate]))
    (folder / "train-labels-idx1-ubyte.gz").write_bytes(
        gzip.compress((0x801).to_bytes(4, "big") + len(labels).to_bytes(4, "big") + bytes(labels))
    )


def _cifar(folder: Path, labels: list[int], rows: int = 2, second_batch: dict | None = None) -> None:
    meta = {b"label_names": [b"airplane", b"automobile", b"bird"]}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta, protocol=2))
    batch = {b"labels": labels, b"data": np.zeros((rows, 3072), dtype=np.uint8)}
    (folder / "data_batch_1").write_bytes(pickle.dumps(batch, protocol=2))
    (folder / "test_batch").write_bytes(pickle.dumps(second_batch or batch, protocol=2))


EXTRACTING_CASES = {
    "mnist label out of range last": lambda d: _idx(d, 3, [1, 2, 12]),
    "mnist label out of range first": lambda d: _idx(d, 3, [12, 1, 2]),
    "mnist more labels than images": lambda d: _idx(d, 2, [1, 2, 3]),
    "mnist header counts more images": lambda d: _idx(d, 2, [1, 2], declared=5),
    "mnist truncated images": lambda d: _idx(d, 3, [1, 2, 3], truncate=100),
    "mnist csv short row": lambda d: (d / "mnist_train.csv").write_text("3," + ",".join(["0"] * 784) + "\n7,1,2\n"),
    "cifar label out of range": lambda d: _cifar(d, [1, 9]),
    "cifar labels and images disagree": lambda d: _cifar(d, [1, 1, 1]),
    "cifar bad second batch": lambda d: _cifar(
        d, [1, 2], second_batch={b"labels": [1], b"data": np.zeros((1, 100), dtype=np.uint8)}
    ),
}


@pytest.mark.parametrize("target", ["ingest", "convert"])
@pytest.mark.parametrize("case", list(EXTRACTING_CASES))
def test_a_failed_cifar_or_mnist_read_leaves_no_images(tmp_path, case, target):
    src = tmp_path / "src"
    src.mkdir()
    EXTRACTING_CASES[case](src)
    reader = case.split()[0]
    before = snapshot(tmp_path)
    if target == "ingest":
        run = cvkit("ingest", src, "--format", reader, "-o", tmp_path / "out.jsonl")
    else:
        run = cvkit("convert", src, tmp_path / "out", "--from", reader, "--to", "imagefolder", "--images", "copy")
    assert_clean_error(run, names=str(src))
    assert_nothing_written(before, tmp_path)


@pytest.mark.parametrize("kind", ["image outside", "link to a secret"])
def test_labelme_embeds_only_what_it_could_copy(tmp_path, kind):
    src = tmp_path / "work" / "src"
    make_image(src / "a.jpg", 8, 8)
    image, named = _payload(kind, tmp_path, src)
    source = manifest(src, [{"image": image}])
    before = snapshot(tmp_path)
    run = cvkit("export", source, tmp_path / "work" / "out", "--to", "labelme", "-w", "image_data=embed")
    refused(run, before, tmp_path, named)


@pytest.mark.parametrize(
    ("writer", "split"), [("yolo", "path"), ("yolo", "names"), ("yolo", "nc"), ("labels", "synsets")]
)
def test_a_split_named_like_a_file_the_writer_needs_is_refused(tmp_path, writer, split):
    src = tmp_path / "work" / "src"
    make_image(src / "a.jpg", 8, 8)
    source = manifest(src, [{"image": "a.jpg", "split": split}])
    before = snapshot(tmp_path)
    run = cvkit("export", source, tmp_path / "work" / "out", "--to", writer, "--images", "copy")
    refused(run, before, tmp_path, f"split named {split!r}")
