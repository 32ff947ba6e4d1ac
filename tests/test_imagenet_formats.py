"""ImageNet readers: ILSVRC folders + devkit meta.mat + box XMLs, the Kaggle layout, ImageNet-21k tars."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import cvkit
from cvkit.cli import app
from cvkit.core.imagefile import open_image_bytes, split_member_path
from cvkit.core.report import Report
from cvkit.errors import CvkitError, InvalidInputError
from cvkit.manifest import read_manifest

# Three leaves and two internal synsets in devkit order: ID 1 is n02119789 (kit fox), as in the real
# devkit, whose sorted-WNID position differs from its ILSVRC2012_ID.
SYNSETS = [
    (1, "n02119789", "kit fox, Vulpes macrotis", []),
    (2, "n01440764", "tench, Tinca tinca", []),
    (3, "n01443537", "goldfish, Carassius auratus", []),
    (4, "n01439121", "cyprinid, cyprinid fish", [2, 3]),
    (5, "n00015388", "animal, animate being", [1, 4]),
]


def make_meta_mat(path: Path, synsets=SYNSETS) -> Path:
    """A devkit data/meta.mat with the real ``synsets`` struct array fields."""
    import scipy.io

    fields = [
        "ILSVRC2012_ID",
        "WNID",
        "words",
        "gloss",
        "num_children",
        "children",
        "wordnet_height",
        "num_train_images",
    ]
    arr = np.zeros((len(synsets), 1), dtype=[(f, "O") for f in fields])
    for i, (ident, wnid, words, children) in enumerate(synsets):
        arr[i, 0] = (
            np.array([[ident]], dtype=np.uint16),
            np.array([wnid]),
            np.array([words]),
            np.array(["a gloss"]),
            np.array([[len(children)]], dtype=np.uint16),
            np.array([children], dtype=np.uint16).reshape(1, -1),
            np.array([[0 if not children else 1]], dtype=np.uint16),
            np.array([[1300]], dtype=np.uint16),
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    scipy.io.savemat(str(path), {"synsets": arr})
    return path


def touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


BOX_XML = """<annotation><folder>val</folder><filename>{stem}</filename>\
<size><width>500</width><height>375</height><depth>3</depth></size>
<object><name>{wnid}</name><pose>Unspecified</pose><truncated>0</truncated><difficult>0</difficult>
<bndbox><xmin>111</xmin><ymin>108</ymin><xmax>441</xmax><ymax>193</ymax></bndbox></object></annotation>"""


@pytest.fixture
def ilsvrc(tmp_path: Path) -> Path:
    """train/ (2 classes, one nested sub-folder), a flat val/ with ground truth, devkit, a box XML."""
    root = tmp_path / "ILSVRC2012"
    touch(root / "train" / "n01440764" / "n01440764_1.JPEG")
    touch(root / "train" / "n01440764" / "n01440764_2.JPEG")
    touch(root / "train" / "n01440764" / "extra" / "n01440764_3.JPEG")
    touch(root / "train" / "n02119789" / "n02119789_1.JPEG")
    (root / "train" / "n02119789" / "notes.txt").write_text("not an image")
    for i in (1, 2, 3):
        touch(root / "val" / f"ILSVRC2012_val_{i:08d}.JPEG")
    make_meta_mat(root / "ILSVRC2012_devkit_t12" / "data" / "meta.mat")
    (root / "ILSVRC2012_devkit_t12" / "data" / "ILSVRC2012_validation_ground_truth.txt").write_text("1\n3\n2\n")
    (root / "bbox").mkdir()
    (root / "bbox" / "ILSVRC2012_val_00000001.xml").write_text(
        BOX_XML.format(stem="ILSVRC2012_val_00000001", wnid="n02119789")
    )
    return root


def test_ilsvrc_layout_maps_devkit_ids_to_wnids(ilsvrc):
    report = Report()
    ds = cvkit.read(ilsvrc, format="imagenet", report=report).materialize()
    got = {s.path: (s.split, s.labels) for s in ds}
    assert got == {
        "train/n01440764/n01440764_1.JPEG": ("train", ["n01440764"]),
        "train/n01440764/n01440764_2.JPEG": ("train", ["n01440764"]),
        "train/n01440764/extra/n01440764_3.JPEG": ("train", ["n01440764"]),
        "train/n02119789/n02119789_1.JPEG": ("train", ["n02119789"]),
        # ground truth 1, 3, 2 = ILSVRC2012_IDs: 1 is n02119789 although it sorts last
        "val/ILSVRC2012_val_00000001.JPEG": ("val", ["n02119789"]),
        "val/ILSVRC2012_val_00000002.JPEG": ("val", ["n01443537"]),
        "val/ILSVRC2012_val_00000003.JPEG": ("val", ["n01440764"]),
    }
    # categories: the devkit's leaves in sorted-WNID order, ids = ILSVRC2012_ID, lemmas as display names
    assert [(c.name, c.id, c.display_name) for c in ds.categories] == [
        ("n01440764", 2, "tench, Tinca tinca"),
        ("n01443537", 3, "goldfish, Carassius auratus"),
        ("n02119789", 1, "kit fox, Vulpes macrotis"),
    ]
    assert ds.hierarchy.parents("n01440764") == ["n01439121"]
    assert ds.hierarchy.parents("n01439121") == ["n00015388"]
    assert ds.hierarchy.ancestors("n01443537") == {"n01439121": 1, "n00015388": 2}
    assert report.read.images == 7 and report.read.splits == {"train": 4, "val": 3}


def test_box_xml_is_attached_with_voc_one_based_conversion(ilsvrc):
    ds = cvkit.read(ilsvrc, format="imagenet").materialize()
    val1 = next(s for s in ds if s.path.endswith("val_00000001.JPEG"))
    assert (val1.width, val1.height) == (500, 375)
    assert [(o.label, o.bbox) for o in val1.objects] == [("n02119789", (110.0, 107.0, 331.0, 86.0))]
    assert all(s.width is None for s in ds if s.path.startswith("train/"))  # no header reads by default


def test_meta_mat_with_a_cycle_or_foreign_child_is_refused(tmp_path):
    path = make_meta_mat(tmp_path / "meta.mat", [(1, "n00000001", "a", [2]), (2, "n00000002", "b", [1])])
    with pytest.raises(CvkitError, match="hierarchy has a cycle"):
        cvkit.read(
            touch(tmp_path / "d" / "n00000001" / "x.JPEG").parents[1], format="imagenet", devkit=str(path)
        ).materialize()


def test_missing_devkit_and_bad_ground_truth_are_named(ilsvrc, tmp_path):
    with pytest.raises(CvkitError, match=r"no devkit meta\.mat found there"):
        cvkit.read(ilsvrc, format="imagenet", devkit=str(tmp_path / "nowhere"))
    gt = ilsvrc / "ILSVRC2012_devkit_t12" / "data" / "ILSVRC2012_validation_ground_truth.txt"
    gt.write_text("1\n1001\n")
    with pytest.raises(InvalidInputError) as info:
        cvkit.read(ilsvrc, format="imagenet")
    assert info.value.describe() == f"{gt}:line 2: expected an ILSVRC2012_ID listed in meta.mat, got '1001'"


def test_without_devkit_ids_follow_sorted_wnids_and_synset_names(tmp_path):
    root = tmp_path / "train"
    touch(root / "n02119789" / "a.JPEG")
    touch(root / "n01440764" / "b.jpeg")
    (tmp_path / "words.txt").write_text("n01440764\ttench, Tinca tinca\nn02119789\tkit fox, Vulpes macrotis\n")
    ds = cvkit.read(root, format="imagenet").materialize()
    assert [(c.id, c.name, c.display_name) for c in ds.categories] == [
        (1, "n01440764", "tench, Tinca tinca"),
        (2, "n02119789", "kit fox, Vulpes macrotis"),
    ]
    assert [s.split for s in ds] == ["train", "train"]


def test_sizes_option_reads_headers(tmp_path):
    from conftest import make_image

    make_image(tmp_path / "train" / "n01440764" / "a.JPEG", 40, 30)
    ds = cvkit.read(tmp_path / "train", format="imagenet", sizes=True).materialize()
    assert [(s.width, s.height) for s in ds] == [(40, 30)]


def test_corpus_box_xml_folder(corpus):
    report = Report()
    ds = cvkit.read(corpus("imagenet", "ilsvrc_bbox_xml"), format="imagenet", report=report).materialize()
    assert [(s.path, s.labels, s.width, s.height) for s in ds] == [
        ("ILSVRC2012_val_00000001.JPEG", ["n01751748"], 500, 375)
    ]
    assert [(o.label, o.bbox, o.attributes) for o in ds.samples[0].objects] == [
        ("n01751748", (110.0, 107.0, 331.0, 86.0), {"truncated": False, "difficult": False})
    ]


# --- Kaggle ---------------------------------------------------------------------------------------
@pytest.fixture
def kaggle(tmp_path: Path) -> Path:
    root = tmp_path / "imagenet-object-localization-challenge"
    data = root / "ILSVRC" / "Data" / "CLS-LOC"
    touch(data / "train" / "n01440764" / "n01440764_10026.JPEG")
    touch(data / "train" / "n01443537" / "n01443537_2.JPEG")
    touch(data / "val" / "ILSVRC2012_val_00000001.JPEG")
    touch(data / "test" / "ILSVRC2012_test_00000001.JPEG")
    (root / "LOC_synset_mapping.txt").write_text(
        "n01440764 tench, Tinca tinca\nn01443537 goldfish, Carassius auratus\n"
    )
    (root / "LOC_train_solution.csv").write_text("ImageId,PredictionString\nn01440764_10026,n01440764 1 2 10 20 \n")
    (root / "LOC_val_solution.csv").write_text(
        "ImageId,PredictionString\nILSVRC2012_val_00000001,n01443537 11 21 110 120 n01443537 5 5 6 6\n"
    )
    return root


def test_kaggle_layout(kaggle):
    report = Report()
    ds = cvkit.read(kaggle, format="imagenet_kaggle", report=report).materialize()
    got = {s.path: (s.split, s.labels, [(o.label, o.bbox) for o in s.objects]) for s in ds}
    assert got == {
        "train/n01440764/n01440764_10026.JPEG": ("train", ["n01440764"], [("n01440764", (0.0, 1.0, 10.0, 19.0))]),
        "train/n01443537/n01443537_2.JPEG": ("train", ["n01443537"], []),
        "val/ILSVRC2012_val_00000001.JPEG": (
            "val",
            ["n01443537"],
            [("n01443537", (10.0, 20.0, 100.0, 100.0)), ("n01443537", (4.0, 4.0, 2.0, 2.0))],
        ),
        "test/ILSVRC2012_test_00000001.JPEG": ("test", [], []),
    }
    assert [(c.id, c.name, c.display_name) for c in ds.categories] == [
        (1, "n01440764", "tench, Tinca tinca"),
        (2, "n01443537", "goldfish, Carassius auratus"),
    ]
    assert report.read.objects == 3


def test_kaggle_image_sets_list_images_when_folders_are_absent(kaggle):
    import shutil

    shutil.rmtree(kaggle / "ILSVRC" / "Data")
    sets = kaggle / "ILSVRC" / "ImageSets" / "CLS-LOC"
    sets.mkdir(parents=True)
    (sets / "train_cls.txt").write_text("n01440764/n01440764_10026 1\n")
    (sets / "val.txt").write_text("ILSVRC2012_val_00000001 1\n")
    ds = cvkit.read(kaggle, format="imagenet_kaggle").materialize()
    assert [s.path for s in ds] == ["train/n01440764/n01440764_10026.JPEG", "val/ILSVRC2012_val_00000001.JPEG"]


def test_kaggle_bad_header_is_named(kaggle):
    (kaggle / "LOC_val_solution.csv").write_text("id,boxes\n")
    with pytest.raises(InvalidInputError) as info:
        cvkit.read(kaggle, format="imagenet_kaggle")
    assert (
        info.value.describe()
        == f"{kaggle / 'LOC_val_solution.csv'}:line 1: expected the header 'ImageId,PredictionString', got 'id,boxes'"
    )


# --- ImageNet-21k tars ----------------------------------------------------------------------------
def make_tar(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_in21k_reads_tar_members_in_place_and_opens_them(tmp_path):
    root = tmp_path / "winter21"
    root.mkdir()
    make_tar(root / "n01440764.tar", {"n01440764_1.JPEG": b"first", "n01440764_2.JPEG": b"second", "README": b"x"})
    touch(root / "n01443537" / "n01443537_7.JPEG")
    ds = cvkit.read(root, format="imagenet21k").materialize()
    assert [(s.path, s.labels) for s in ds] == [
        ("n01440764.tar#n01440764_1.JPEG", ["n01440764"]),
        ("n01440764.tar#n01440764_2.JPEG", ["n01440764"]),
        ("n01443537/n01443537_7.JPEG", ["n01443537"]),
    ]
    assert not (root / "n01440764_1.JPEG").exists()  # nothing extracted
    # through a manifest written elsewhere, the member paths still open
    out = tmp_path / "m" / "in21k.jsonl"
    cvkit.write(cvkit.read(root, format="imagenet21k"), out, format="manifest")
    paths = [s.resolve(out.parent) for s in read_manifest(out)]
    assert open_image_bytes(paths[1]) == b"second"
    assert split_member_path(paths[0]) == (out.parent / "../winter21/n01440764.tar", "n01440764_1.JPEG")
    assert open_image_bytes(paths[2]) == b""
    with pytest.raises(InvalidInputError, match=r"no member .nope\.JPEG. in the archive"):
        open_image_bytes(root / "n01440764.tar#nope.JPEG")


def test_open_image_bytes_reads_gzipped_members_and_plain_files(tmp_path):
    with tarfile.open(tmp_path / "a.tar.gz", "w:gz") as tar:
        info = tarfile.TarInfo("x.jpg")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"abc"))
    assert open_image_bytes(f"{tmp_path}/a.tar.gz#x.jpg") == b"abc"
    (tmp_path / "odd#name.jpg").write_bytes(b"plain")
    assert open_image_bytes(tmp_path / "odd#name.jpg") == b"plain"
    with pytest.raises(InvalidInputError, match="image file not found"):
        open_image_bytes(tmp_path / "missing.jpg")


def test_cli_ingest_imagenet(ilsvrc, tmp_path):
    out = tmp_path / "train.jsonl"
    result = CliRunner().invoke(app, ["ingest", str(ilsvrc), "--format", "imagenet", "-o", str(out), "--json"])
    assert result.exit_code == 0, result.output
    header = out.read_text().splitlines()[0]
    assert '"name":"n02119789","parents":["n00015388"],"display_name":"kit fox, Vulpes macrotis"' in header
    result = CliRunner().invoke(
        app, ["ingest", str(ilsvrc), "--format", "imagenet", "-o", str(tmp_path / "x.jsonl"), "-r", "colour=red"]
    )
    assert result.exit_code == 2
    assert "unknown imagenet reader option(s) colour" in result.output


def test_detection_of_imagenet_layouts(ilsvrc, kaggle, tmp_path, corpus):
    from cvkit.formats import get_format

    def detected(path: Path) -> list[str]:
        names = ("imagenet", "imagenet_kaggle", "imagenet21k", "imagefolder", "cifar", "labels")
        return [n for n in names if get_format(n).load().detect(path)]

    assert detected(ilsvrc) == ["imagenet"]
    assert detected(ilsvrc / "train") == ["imagenet"]  # WNID folders are not left to the generic imagefolder
    assert detected(kaggle) == ["imagenet_kaggle"]
    make_tar(tmp_path / "n01440764.tar", {"n01440764_1.JPEG": b"x"})
    assert detected(tmp_path) == ["imagenet21k"]
    assert (
        detected(corpus("imagenet", "ilsvrc_bbox_xml")) == []
    )  # plain VOC too: left to voc, read with --format imagenet
