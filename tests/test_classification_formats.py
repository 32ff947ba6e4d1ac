"""Image folders, label lists and CIFAR: corpus samples, real layouts built here, bad input."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

import cvkit
from cvkit.cli import app
from cvkit.core.report import Report
from cvkit.errors import CvkitError, InvalidInputError, UnsafePickleError
from cvkit.formats import get_format
from cvkit.manifest import read_manifest

STRAY_LOSS = (
    "image outside every class folder",
    "an image folder's label is its class folder; -r stray=keep keeps it unlabelled",
)


def detected(path: Path) -> list[str]:
    """Names of this branch's formats whose detect() claims ``path``."""
    names = ("imagenet", "imagenet_kaggle", "imagenet21k", "imagefolder", "cifar", "labels")
    return [n for n in names if get_format(n).load().detect(path)]


# --- image folders --------------------------------------------------------------------------------
def test_corpus_image_folder_nested_class_and_stray_root_image(corpus):
    report = Report()
    root = corpus("imagenet", "imagenet_dataset")
    ds = cvkit.read(root, format="imagefolder", report=report).materialize()
    # like torchvision: label_1/label_1_1/label_1_1.jpg belongs to label_1; the root image is no class's
    assert [(s.path, s.labels) for s in ds] == [
        ("label_0/label_0_1.jpg", ["label_0"]),
        ("label_1/label_1_1.jpg", ["label_1"]),
        ("label_1/label_1_1/label_1_1.jpg", ["label_1"]),
    ]
    assert [(c.id, c.name) for c in ds.categories] == [(1, "label_0"), (2, "label_1")]
    assert report.losses == {STRAY_LOSS: 1}
    assert report.warnings == [
        "1 image(s) in no class folder left out: label_0_2.jpg (-r stray=keep keeps them unlabelled)"
    ]
    kept = cvkit.read(root, format="imagefolder", stray="keep").materialize()
    assert [s.labels for s in kept if s.path == "label_0_2.jpg"] == [[]]
    with pytest.raises(InvalidInputError) as info:
        cvkit.read(root, format="imagefolder", stray="error").materialize()
    assert info.value.describe() == f"{root / 'label_0_2.jpg'}: image at the root is in no class folder"
    assert detected(root) == ["imagefolder"]


def test_corpus_image_folder_with_split_folders(corpus):
    report = Report()
    root = corpus("imagenet", "imagenet_subsets_dataset")
    ds = cvkit.read(root, format="imagefolder", report=report).materialize()
    assert len(ds) == 9
    assert report.read.splits == {"train": 3, "val": 3, "test": 3}
    assert {s.path for s in ds if s.split == "val"} == {
        "val/label_0/label_0_1.jpg",
        "val/label_1/label_1_1.jpg",
        "val/label_1/label_1_1/label_1_1.jpg",
    }
    assert report.losses == {STRAY_LOSS: 3}
    assert report.warnings == [
        "3 image(s) in no class folder left out: test/label_0_2.jpg and 2 more (-r stray=keep keeps them unlabelled)"
    ]


def test_export_manifest_to_imagefolder_round_trip(tmp_path):
    from conftest import make_image

    src = tmp_path / "src"
    make_image(src / "train" / "cat" / "a.jpg", 10, 8)
    make_image(src / "train" / "dog" / "b.png", 12, 9)
    make_image(src / "val" / "cat" / "c.jpg", 10, 8)
    manifest = tmp_path / "m.jsonl"
    runner = CliRunner()
    assert runner.invoke(app, ["ingest", str(src), "--format", "imagefolder", "-o", str(manifest)]).exit_code == 0
    result = runner.invoke(app, ["export", str(manifest), str(tmp_path / "out"), "--to", "imagefolder", "--json"])
    assert result.exit_code == 0, result.output
    files = sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*") if p.is_file())
    assert files == ["train/cat/a.jpg", "train/dog/b.png", "val/cat/c.jpg"]
    assert (
        os.stat(tmp_path / "out" / "train" / "cat" / "a.jpg").st_ino == os.stat(src / "train" / "cat" / "a.jpg").st_ino
    )  # hard link by default
    back = cvkit.read(tmp_path / "out", format="imagefolder").materialize()
    assert sorted((s.split, s.labels[0], Path(s.path).name) for s in back) == [
        ("train", "cat", "a.jpg"),
        ("train", "dog", "b.png"),
        ("val", "cat", "c.jpg"),
    ]


def test_imagefolder_writer_reports_what_it_cannot_place(tmp_path):
    from conftest import small_dataset

    ds = small_dataset(tmp_path / "src").materialize()
    ds.samples[1].labels = ["dog"]
    report = cvkit.write(ds, tmp_path / "out", format="imagefolder", images="copy")
    assert report.written.images == 1
    assert report.losses == {
        ("image with objects only", "an image folder holds exactly one class per image"): 1,
        ("image with no label", "an image folder holds exactly one class per image"): 1,
        ("object annotations", "an image folder holds image-level classes only"): 1,
    }
    assert (tmp_path / "out" / "train" / "dog" / "dog_02.png").is_file()
    with pytest.raises(CvkitError, match="use --images hardlink, copy or symlink"):
        cvkit.write(ds, tmp_path / "out2", format="imagefolder", images="reference")


# --- label lists ----------------------------------------------------------------------------------
def test_corpus_imagenet_txt_lists(corpus):
    report = Report()
    ds = cvkit.read(corpus("imagenet_txt", "basic"), format="labels", report=report).materialize()
    assert [(s.path, s.split, s.labels) for s in ds] == [
        ("images/1.jpg", "train", ["label_0"]),
        ("images/2.jpg", "train", ["label_5"]),
        ("images/3.jpg", "train", ["label_3"]),
        ("images/4.jpg", "train", ["label_5"]),
    ]
    assert len(ds.categories) == 10 and ds.categories.get("label_0").id == 1
    assert report.warnings == [
        f"2 listed image(s) do not exist under {corpus('imagenet_txt', 'basic')} (kept; -r missing=skip leaves them "
        "out)"
    ]
    skipped = Report()
    assert (
        len(cvkit.read(corpus("imagenet_txt", "basic"), format="labels", missing="skip", report=skipped).materialize())
        == 2
    )
    assert skipped.losses == {("listed image that does not exist", "left out (-r missing=skip)"): 2}
    custom = cvkit.read(corpus("imagenet_txt", "custom_labels"), format="labels").materialize()
    assert [s.labels for s in custom] == [["alt_label_0"]]
    bare = Report()
    no_labels = cvkit.read(corpus("imagenet_txt", "no_labels"), format="labels", report=bare).materialize()
    assert [s.labels for s in no_labels] == [["4"]]
    assert "no synsets.txt: numeric labels are used as class names (-r synsets=PATH names them)" in bare.warnings
    assert detected(corpus("imagenet_txt", "basic")) == ["labels"]


def test_multilabel_csv_pipe_and_space_separated(tmp_path):
    from conftest import make_image

    make_image(tmp_path / "a.jpg", 4, 4)
    make_image(tmp_path / "b.png", 4, 4)
    (tmp_path / "train.csv").write_text("ImageId,labels\na,cat dog\nb.png,big cat|dog\n")
    ds = cvkit.read(tmp_path / "train.csv", format="labels").materialize()
    assert [(s.path, s.split, s.labels) for s in ds] == [
        ("a.jpg", "train", ["cat", "dog"]),
        ("b.png", "train", ["big cat", "dog"]),
    ]
    cvkit.write(ds, tmp_path / "out" / "copy.csv", format="labels")
    assert (
        tmp_path / "out" / "copy.csv"
    ).read_text() == "ImageId,labels,split\n../a.jpg,cat|dog,train\n../b.png,big cat|dog,train\n"


def test_bad_csv_line_and_label_index_are_named(tmp_path):
    (tmp_path / "l.csv").write_text("ImageId,labels\na.jpg,cat\nb.jpg\n")
    with pytest.raises(InvalidInputError) as info:
        cvkit.read(tmp_path / "l.csv", format="labels").materialize()
    assert info.value.describe() == f"{tmp_path / 'l.csv'}:line 3: expected 2 fields (ImageId,labels), got 1"
    report = Report(skip_invalid=True)
    assert len(cvkit.read(tmp_path / "l.csv", format="labels", report=report).materialize()) == 1
    assert [s.location for s in report.skipped] == ["line 3"]
    (tmp_path / "synsets.txt").write_text("a\nb\n")
    (tmp_path / "train.txt").write_text("x.jpg 0\ny.jpg 7\n")
    with pytest.raises(InvalidInputError) as info:
        cvkit.read(tmp_path / "train.txt", format="labels").materialize()
    assert (
        info.value.describe() == f"{tmp_path / 'train.txt'}:line 2: label index 7 is beyond the 2 names of synsets.txt"
    )


def test_label_folder_writer_is_imagenet_txt_layout(tmp_path):
    from conftest import small_dataset

    ds = small_dataset(tmp_path / "src").materialize()
    for s, labels in zip(ds, (["cat"], ["dog", "cat"], [])):
        s.objects, s.labels = [], labels
    cvkit.write(ds, tmp_path / "out", format="labels", images="copy")
    assert (tmp_path / "out" / "synsets.txt").read_text() == "cat\ndog\n"
    assert (tmp_path / "out" / "train.txt").read_text() == "cat_01.jpg 0\ndog_02.png 1 0\nempty_03.jpg\n"
    back = cvkit.read(tmp_path / "out", format="labels").materialize()
    assert [(s.path, s.labels) for s in back] == [
        ("images/cat_01.jpg", ["cat"]),
        ("images/dog_02.png", ["dog", "cat"]),
        ("images/empty_03.jpg", []),
    ]


def test_label_folder_places_the_images_by_default(tmp_path):
    # datumaro's imagenet_txt importer joins each listed path onto <dataset>/images/ and refuses one that leaves it
    # (util/os_util.py join_within_base: "not allowed to reference the parent directory"): a folder destination
    # places the images under images/ (hard links, else copies) unless --images reference is asked for.
    from conftest import small_dataset

    ds = small_dataset(tmp_path / "src").materialize()
    for s in ds:
        s.objects, s.labels = [], ["cat"]
    cvkit.write(ds, tmp_path / "out", format="labels")
    refs = [line.split()[0] for line in (tmp_path / "out" / "train.txt").read_text().splitlines()]
    assert refs == ["cat_01.jpg", "dog_02.png", "empty_03.jpg"]
    assert all((tmp_path / "out" / "images" / ref).is_file() for ref in refs)
    cvkit.write(ds, tmp_path / "list.txt", format="labels")  # a single list still references the images in place
    assert (tmp_path / "list.txt").read_text().splitlines()[0] == "src/images/cat_01.jpg cat"
    ds.samples[0].path = "images/gone.jpg"  # an image that is not there can be skipped, not placed
    report = cvkit.write(ds, tmp_path / "out2", format="labels", report=Report(skip_invalid=True))
    assert [s.reason for s in report.skipped] == [
        "image file not found; --images reference lists it without placing it"
    ]
    assert len((tmp_path / "out2" / "train.txt").read_text().splitlines()) == 2


# --- CIFAR ----------------------------------------------------------------------------------------
def real_cifar10(folder: Path, binary: bool = False) -> Path:
    """Batches laid out like cifar-10-batches-py (Python-2 style bytes keys, uint8 rows) or -bin."""
    folder.mkdir(parents=True)
    rows = np.zeros((2, 3072), dtype=np.uint8)
    rows[0, :1024] = 255  # image 0: red plane full -> a red picture
    rows[1, 2048:] = 200  # image 1: blue
    if binary:
        (folder / "batches.meta.txt").write_text("airplane\nautomobile\nbird\n\n")
        (folder / "data_batch_1.bin").write_bytes(bytes([2]) + rows[0].tobytes() + bytes([0]) + rows[1].tobytes())
        return folder
    meta = {b"label_names": [b"airplane", b"automobile", b"bird"], b"num_cases_per_batch": 2}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta, protocol=2))
    batch = {
        b"batch_label": b"training batch 1 of 1",
        b"labels": [2, 0],
        b"data": rows,
        b"filenames": [b"bird_s_000001.png", b"plane_s_000002.png"],
    }
    (folder / "data_batch_1").write_bytes(pickle.dumps(batch, protocol=2))
    (folder / "test_batch").write_bytes(pickle.dumps({**batch, b"labels": [1, 1]}, protocol=2))
    return folder


def test_cifar10_bytes_keys_real_layout(tmp_path):
    src = real_cifar10(tmp_path / "cifar-10-batches-py")
    report = Report()
    ds = cvkit.read(src, format="cifar", images_dir=tmp_path / "px", report=report).materialize()
    assert [(s.path, s.split, s.labels, s.width, s.height) for s in ds] == [
        ("data_batch_1/bird_s_000001.png", "train", ["bird"], 32, 32),
        ("data_batch_1/plane_s_000002.png", "train", ["airplane"], 32, 32),
        ("test_batch/bird_s_000001.png", "test", ["automobile"], 32, 32),
        ("test_batch/plane_s_000002.png", "test", ["automobile"], 32, 32),
    ]
    assert [(c.id, c.name) for c in ds.categories] == [(0, "airplane"), (1, "automobile"), (2, "bird")]
    pixels = np.asarray(Image.open(tmp_path / "px" / "data_batch_1" / "bird_s_000001.png"))
    assert pixels.shape == (32, 32, 3) and pixels[0, 0].tolist() == [255, 0, 0]  # CHW planes -> HWC
    assert np.asarray(Image.open(tmp_path / "px" / "data_batch_1" / "plane_s_000002.png"))[5, 5].tolist() == [0, 0, 200]
    assert sorted(os.listdir(src)) == ["batches.meta", "data_batch_1", "test_batch"]  # the input is untouched


def test_cifar10_binary_batches(tmp_path):
    src = real_cifar10(tmp_path / "cifar-10-batches-bin", binary=True)
    ds = cvkit.read(src, format="cifar", images_dir=tmp_path / "px").materialize()
    assert [(s.path, s.split, s.labels) for s in ds] == [
        ("data_batch_1/00000.png", "train", ["bird"]),
        ("data_batch_1/00001.png", "train", ["airplane"]),
    ]
    assert np.asarray(Image.open(tmp_path / "px" / "data_batch_1" / "00000.png"))[0, 0].tolist() == [255, 0, 0]
    (src / "data_batch_1.bin").write_bytes(b"\x00" * 3000)
    with pytest.raises(InvalidInputError) as info:
        cvkit.read(src, format="cifar", images_dir=tmp_path / "px2").materialize()
    assert (
        info.value.describe()
        == f"{src / 'data_batch_1.bin'}: size 3000 is not a multiple of the 3073-byte records of CIFAR-10"
    )


def test_cifar100_binary_coarse_labels_become_parents(tmp_path):
    src = tmp_path / "cifar-100-binary"
    src.mkdir()
    (src / "fine_label_names.txt").write_text("apple\nmaple_tree\noak_tree\n")
    (src / "coarse_label_names.txt").write_text("fruit_and_vegetables\ntrees\n")
    records = b"".join(bytes([coarse, fine]) + bytes(3072) for coarse, fine in ((1, 1), (0, 0), (1, 2)))
    (src / "train.bin").write_bytes(records)
    ds = cvkit.read(src, format="cifar", images_dir=tmp_path / "px").materialize()
    assert [s.labels for s in ds] == [["maple_tree"], ["apple"], ["oak_tree"]]
    assert {n: ds.hierarchy.parents(n) for n in ("apple", "maple_tree", "oak_tree")} == {
        "apple": ["fruit_and_vegetables"],
        "maple_tree": ["trees"],
        "oak_tree": ["trees"],
    }


def test_corpus_cifar10_and_cifar100_str_keys_and_odd_sizes(corpus, tmp_path):
    report = Report()
    ds = cvkit.read(
        corpus("cifar", "cifar10_dataset"), format="cifar", images_dir=tmp_path / "c10", report=report
    ).materialize()
    assert [(s.path, s.labels, s.width, s.height) for s in ds] == [
        ("data_batch_1/image_1.png", ["airplane"], 32, 32),
        ("test_batch/image_2.png", ["automobile"], 32, 32),
        ("test_batch/image_3.png", ["cat"], 32, 32),
        ("test_batch/image_4.png", ["bird"], 32, 32),
        ("test_batch/image_5.png", ["cat"], 2, 2),
    ]
    assert report.read.splits == {"train": 1, "test": 4}
    with Image.open(tmp_path / "c10" / "test_batch" / "image_5.png") as image:
        assert image.size == (2, 2)
    ds = cvkit.read(corpus("cifar", "cifar100_dataset"), format="cifar", images_dir=tmp_path / "c100").materialize()
    assert [(s.split, s.labels, s.width, s.height) for s in ds] == [
        ("test", ["airplane"], 32, 32),
        ("test", ["automobile"], 32, 32),
        ("test", ["bird"], 2, 2),
        ("train", ["airplane"], 8, 7),
        ("train", ["automobile"], 5, 4),
        ("train", ["bird"], 5, 4),
    ]
    assert ds.hierarchy.parents("airplane") == ["air_object"] and ds.hierarchy.parents("automobile") == [
        "ground_object"
    ]
    assert detected(corpus("cifar", "cifar100_dataset")) == ["cifar"]


def test_cli_ingest_cifar_puts_images_beside_the_manifest(corpus, tmp_path):
    out = tmp_path / "c10.jsonl"
    result = CliRunner().invoke(
        app, ["ingest", str(corpus("cifar", "cifar10_dataset")), "--format", "cifar", "-o", str(out), "--json"]
    )
    assert result.exit_code == 0, result.output
    records = read_manifest(out).samples
    assert records[0].path == "c10_images/data_batch_1/image_1.png"
    assert all((tmp_path / s.path).is_file() for s in records)


class _Evil:
    def __reduce__(self):
        return (os.system, ("touch pwned-by-pickle",))


def test_restricted_unpickler_refuses_and_never_runs_other_globals(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    src = real_cifar10(tmp_path / "cifar-10-batches-py")
    (src / "data_batch_1").write_bytes(pickle.dumps({b"data": _Evil(), b"labels": [0]}))
    with pytest.raises(UnsafePickleError) as info:
        cvkit.read(src, format="cifar", images_dir=tmp_path / "px", skip_invalid=True).materialize()
    assert info.value.describe() == (
        f"{src / 'data_batch_1'}: refused to unpickle the global posix.system: "
        "CIFAR batches hold only lists, dicts and numpy arrays"
    )
    assert not (tmp_path / "pwned-by-pickle").exists()


def test_corrupt_pickle_and_missing_meta_are_named(tmp_path):
    src = real_cifar10(tmp_path / "cifar-10-batches-py")
    (src / "test_batch").write_bytes((src / "test_batch").read_bytes()[:100])
    report = Report(skip_invalid=True)
    ds = cvkit.read(src, format="cifar", images_dir=tmp_path / "px", report=report).materialize()
    assert len(ds) == 2
    assert report.skipped[0].file == str(src / "test_batch")
    assert report.skipped[0].reason.startswith("corrupt or truncated pickle (")
    with pytest.raises(CvkitError, match="images_dir must not be inside the input folder"):
        cvkit.read(src, format="cifar", images_dir=src / "png")
    (src / "batches.meta").unlink()
    with pytest.raises(InvalidInputError) as info:
        cvkit.read(src, format="cifar", images_dir=tmp_path / "px")
    assert (
        info.value.describe()
        == f"{src}: missing the class names: no batches.meta (CIFAR-10) or meta (CIFAR-100) beside the batches"
    )


def test_cifar_label_out_of_range_skips_only_that_image(tmp_path):
    src = tmp_path / "cifar-10-batches-bin"
    src.mkdir()
    (src / "batches.meta.txt").write_text("airplane\nautomobile\n")
    (src / "data_batch_1.bin").write_bytes(
        bytes([1]) + bytes(3072) + bytes([9]) + bytes(3072) + bytes([0]) + bytes(3072)
    )
    with pytest.raises(InvalidInputError) as info:
        cvkit.read(src, format="cifar", images_dir=tmp_path / "px").materialize()
    assert info.value.describe() == f"{src / 'data_batch_1.bin'}:image 1: label 9, but there are 2 classes"
    report = Report(skip_invalid=True)
    ds = cvkit.read(src, format="cifar", images_dir=tmp_path / "px", report=report).materialize()
    assert [s.labels for s in ds] == [["automobile"], ["airplane"]]
    assert [(s.location, s.reason) for s in report.skipped] == [("image 1", "label 9, but there are 2 classes")]


def test_csv_row_without_image_id_is_named(tmp_path):
    (tmp_path / "l.csv").write_text("ImageId,labels\n,cat\n")
    with pytest.raises(InvalidInputError) as info:
        cvkit.read(tmp_path / "l.csv", format="labels").materialize()
    assert info.value.describe() == f"{tmp_path / 'l.csv'}:line 2: empty ImageId"


def test_empty_image_folder_reads_as_empty_but_loose_images_are_an_error(tmp_path):
    (tmp_path / "empty").mkdir()
    report = Report()
    assert len(cvkit.read(tmp_path / "empty", format="imagefolder", report=report).materialize()) == 0
    assert report.warnings == [f"{tmp_path / 'empty'} holds no class folders and no images: nothing to read"]
    touch = tmp_path / "loose" / "a.jpg"
    touch.parent.mkdir()
    touch.write_bytes(b"")
    with pytest.raises(CvkitError) as info:
        cvkit.read(tmp_path / "loose", format="imagefolder")
    assert info.value.describe() == (
        f"{tmp_path / 'loose'}: no class folders here (expected ROOT/<class>/<image> or ROOT/<split>/<class>/<image>)"
    )


def test_imagefolder_writer_streams_and_moves_early_images_when_a_split_shows_up_later(tmp_path):
    from conftest import make_image
    from cvkit.core.categories import Category, CategorySet
    from cvkit.core.model import Dataset, Sample

    for name in ("a.jpg", "b.jpg", "c.jpg"):
        make_image(tmp_path / "src" / name, 8, 8)
    samples = [
        Sample("a.jpg", labels=["cat"]),
        Sample("b.jpg", labels=["dog"]),
        Sample("c.jpg", split="val", labels=["cat"]),
    ]
    consumed = []

    def stream():  # a one-shot stream: the writer may not look ahead
        for sample in samples:
            consumed.append(sample.path)
            yield sample

    ds = Dataset(stream(), CategorySet([Category(0, "cat"), Category(1, "dog")]), root=tmp_path / "src")
    report = cvkit.write(ds, tmp_path / "out", format="imagefolder", images="copy")
    files = sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*") if p.is_file())
    assert files == [
        "train/cat/a.jpg",
        "train/dog/b.jpg",
        "val/cat/c.jpg",
    ]  # as if the split had been known from the start
    assert consumed == ["a.jpg", "b.jpg", "c.jpg"]
    assert dict(report.written.splits) == {"train": 2, "val": 1}
    assert (
        report.losses[
            ("image without a split", "once any image has a split folder every image needs one; written under train/")
        ]
        == 2
    )


def test_class_list_beside_the_class_folders_does_not_hide_the_image_folder(tmp_path):
    from conftest import make_image

    make_image(tmp_path / "cat" / "1.jpg", 8, 8)
    make_image(tmp_path / "dog" / "2.jpg", 8, 8)
    (tmp_path / "classes.txt").write_text("cat\ndog\n")
    (tmp_path / "README.md").write_text("pets")
    assert cvkit.detect_format(tmp_path) == "imagefolder"
    assert sorted(s.labels[0] for s in cvkit.read(tmp_path, format="imagefolder")) == ["cat", "dog"]
