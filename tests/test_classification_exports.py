"""Classification sources laid out exactly as real tools and published datasets leave them on disk.

Each fixture is built in ``tmp_path`` the way the named tool or dataset writes it (the comment
cites where the layout comes from); the tests assert what users rely on: image counts, labels,
class order and ids, splits, and errors that name the file and line.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import cvkit
from conftest import make_image
from cvkit.core.report import Report
from cvkit.errors import CvkitError, InvalidInputError
from cvkit.formats import get_format

STRAY_LOSS = (
    "image outside every class folder",
    "an image folder's label is its class folder; -r stray=keep keeps it unlabelled",
)


def touch(path: Path, data: bytes = b"") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def detected(path: Path) -> list[str]:
    names = ("imagenet", "imagenet_kaggle", "imagenet21k", "imagefolder", "cifar", "labels", "mnist")
    return [n for n in names if get_format(n).load().detect(path)]


# --- image folders --------------------------------------------------------------------------------
def test_fastai_kaggle_layout_train_valid_and_an_unlabelled_flat_test_folder(tmp_path):
    # fastai's ImageDataLoaders.from_folder layout (train/<class>/, valid/<class>/, test/ with loose images),
    # as in Kaggle's "Intel Image Classification" (seg_train/, seg_test/, seg_pred/) and fastai's docs
    root = tmp_path / "data"
    make_image(root / "train" / "cat" / "1.jpg", 8, 8)
    make_image(root / "train" / "dog" / "2.jpg", 8, 8)
    make_image(root / "valid" / "cat" / "3.jpg", 8, 8)
    make_image(root / "test" / "4.jpg", 8, 8)
    make_image(root / "test" / "5.jpg", 8, 8)
    report = Report()
    ds = cvkit.read(root, format="imagefolder", report=report).materialize()
    assert [(s.path, s.split, s.labels) for s in ds] == [
        ("train/cat/1.jpg", "train", ["cat"]),
        ("train/dog/2.jpg", "train", ["dog"]),
        ("valid/cat/3.jpg", "valid", ["cat"]),
    ]
    # the unlabelled test images are counted as left out, not dismissed as "not a split"
    assert report.losses == {STRAY_LOSS: 2}
    assert not any("not a split" in w for w in report.warnings)
    kept = cvkit.read(root, format="imagefolder", stray="keep").materialize()
    assert [(s.path, s.split, s.labels) for s in kept if s.split == "test"] == [
        ("test/4.jpg", "test", []),
        ("test/5.jpg", "test", []),
    ]
    assert detected(root) == ["imagefolder"]


@pytest.mark.parametrize(
    "names", [("Training", "Testing"), ("train", "validation"), ("train", "dev"), ("training", "eval")]
)
def test_split_folder_synonyms_of_hugging_face_and_kaggle(tmp_path, names):
    # Hugging Face datasets SPLIT_KEYWORDS (data_files.py): train/training, validation/valid/dev/val,
    # test/testing/eval/evaluation; Kaggle's "Brain Tumor MRI Dataset" ships Training/<class>/ and Testing/<class>/
    root = tmp_path / "mri"
    for split in names:
        make_image(root / split / "glioma" / f"{split}_1.jpg", 8, 8)
        make_image(root / split / "notumor" / f"{split}_2.jpg", 8, 8)
    report = Report()
    ds = cvkit.read(root, format="imagefolder", report=report).materialize()
    assert ds.categories.names() == ["glioma", "notumor"]
    assert dict(report.read.splits) == {names[0].lower(): 2, names[1].lower(): 2}
    assert {s.labels[0] for s in ds} == {"glioma", "notumor"}
    assert detected(root) == ["imagefolder"]


def test_flat_split_folders_are_not_two_classes_named_train_and_test(tmp_path):
    # a root of train/ and test/ holding loose images (labels in file names or a CSV elsewhere) is no class tree:
    # reading it as classes "train" and "test" would silently mislabel every image
    root = tmp_path / "loose"
    make_image(root / "train" / "cat.0.jpg", 8, 8)
    make_image(root / "test" / "1.jpg", 8, 8)
    assert detected(root) == []
    with pytest.raises(CvkitError, match="no class folders here"):
        cvkit.read(root, format="imagefolder")


def test_image_folder_extensions_any_case_hidden_files_and_symlinks(tmp_path):
    # torchvision IMG_EXTENSIONS (.jpg .jpeg .png .ppm .bmp .pgm .tif .tiff .webp), matched on filename.lower();
    # macOS AppleDouble "._x.jpg" files and Jupyter's .ipynb_checkpoints are not images nor classes
    root = tmp_path / "pets"
    for name in ("a.JPG", "b.JPEG", "c.Png", "d.webp", "e.pgm", "f.TIFF", "g.bmp", "h.ppm"):
        touch(root / "cat" / name)
    touch(root / "cat" / "._a.JPG")
    touch(root / "cat" / "notes.txt")
    touch(root / ".ipynb_checkpoints" / "x.jpg")
    make_image(tmp_path / "elsewhere" / "z.jpg", 8, 8)
    (root / "dog").mkdir()
    os.symlink(tmp_path / "elsewhere" / "z.jpg", root / "dog" / "z.jpg")
    (root / "zebra").mkdir()  # an empty class keeps its place: torchvision's class_to_idx (allow_empty=True) counts it
    ds = cvkit.read(root, format="imagefolder").materialize()
    assert [(c.id, c.name) for c in ds.categories] == [(1, "cat"), (2, "dog"), (3, "zebra")]
    assert sorted(s.path for s in ds) == [
        "cat/a.JPG",
        "cat/b.JPEG",
        "cat/c.Png",
        "cat/d.webp",
        "cat/e.pgm",
        "cat/f.TIFF",
        "cat/g.bmp",
        "cat/h.ppm",
        "dog/z.jpg",
    ]


# --- ImageNet -------------------------------------------------------------------------------------
def test_imagenet_skips_appledouble_files_and_hidden_folders(tmp_path):
    # an ILSVRC train folder copied from a Mac: every image has a "._" AppleDouble twin (4 KB of resource fork)
    root = tmp_path / "train"
    touch(root / "n01440764" / "n01440764_1.JPEG")
    touch(root / "n01440764" / "._n01440764_1.JPEG")
    touch(root / "n01440764" / ".ipynb_checkpoints" / "n01440764_1-checkpoint.JPEG")
    touch(tmp_path / "val" / "ILSVRC2012_val_00000001.JPEG")
    touch(tmp_path / "val" / "._ILSVRC2012_val_00000001.JPEG")
    ds = cvkit.read(root, format="imagenet").materialize()
    assert [s.path for s in ds] == ["n01440764/n01440764_1.JPEG"]
    ds = cvkit.read(tmp_path / "val", format="imagenet").materialize()
    assert [s.path for s in ds] == ["ILSVRC2012_val_00000001.JPEG"]
    # a synset list saved with a BOM (Windows Notepad) still names the classes
    (tmp_path / "synset_words.txt").write_bytes("n01440764 tench, Tinca tinca\r\n".encode("utf-8-sig"))
    assert [c.display_name for c in cvkit.read(root, format="imagenet").categories] == ["tench, Tinca tinca"]


def test_imagenet_validation_folder_of_timm_and_hugging_face_is_read(tmp_path):
    # timm's create_dataset looks for validation/ (and val/, valid/, eval/, evaluation/) beside train/;
    # Hugging Face's ILSVRC/imagenet-1k export names it validation/
    touch(tmp_path / "train" / "n01440764" / "a.JPEG")
    touch(tmp_path / "validation" / "n01440764" / "b.JPEG")
    touch(tmp_path / "validation" / "n01443537" / "c.JPEG")
    report = Report()
    ds = cvkit.read(tmp_path, format="imagenet", report=report).materialize()
    assert [(s.path, s.split, s.labels) for s in ds] == [
        ("train/n01440764/a.JPEG", "train", ["n01440764"]),
        ("validation/n01440764/b.JPEG", "validation", ["n01440764"]),
        ("validation/n01443537/c.JPEG", "validation", ["n01443537"]),
    ]
    assert [(c.id, c.name) for c in ds.categories] == [(1, "n01440764"), (2, "n01443537")]
    assert detected(tmp_path) == ["imagenet"]


def devkit_archive(path: Path, ground_truth: str | None = None) -> Path:
    """ILSVRC2012_devkit_t12.tar.gz as image-net.org ships it: data/meta.mat and
    data/ILSVRC2012_validation_ground_truth.txt."""
    import tarfile

    from test_imagenet_formats import make_meta_mat

    data = path.parent / "unpacked" / "ILSVRC2012_devkit_t12" / "data"
    make_meta_mat(data / "meta.mat")
    if ground_truth is not None:
        (data / "ILSVRC2012_validation_ground_truth.txt").write_text(ground_truth)
    with tarfile.open(path, "w:gz") as tar:
        tar.add(data.parent, arcname="ILSVRC2012_devkit_t12")
    return path


def test_torchvision_imagenet_root_keeps_the_devkit_archive(tmp_path):
    # torchvision.datasets.ImageNet(root) parses ILSVRC2012_devkit_t12.tar.gz in a temporary folder and leaves
    # root/{ILSVRC2012_devkit_t12.tar.gz, meta.bin, train/<wnid>/, val/<wnid>/}: meta.mat is read from the archive
    root = tmp_path / "imagenet"
    touch(root / "train" / "n01440764" / "n01440764_1.JPEG")
    touch(root / "val" / "n02119789" / "ILSVRC2012_val_00000001.JPEG")
    touch(root / "meta.bin", b"PK\x03\x04 torch.save zip, never unpickled")
    devkit_archive(root / "ILSVRC2012_devkit_t12.tar.gz")
    ds = cvkit.read(root, format="imagenet").materialize()
    assert [(c.id, c.name, c.display_name) for c in ds.categories] == [
        (2, "n01440764", "tench, Tinca tinca"),
        (3, "n01443537", "goldfish, Carassius auratus"),
        (1, "n02119789", "kit fox, Vulpes macrotis"),
    ]
    assert ds.hierarchy.parents("n01440764") == ["n01439121"]
    # a flat val folder (ILSVRC2012_img_val.tar unpacked) is labelled from the ground truth inside the same archive
    flat = tmp_path / "flat"
    touch(flat / "val" / "ILSVRC2012_val_00000001.JPEG")
    touch(flat / "val" / "ILSVRC2012_val_00000002.JPEG")
    devkit_archive(flat / "ILSVRC2012_devkit_t12.tar.gz", ground_truth="3\n1\n")
    ds = cvkit.read(flat, format="imagenet").materialize()
    assert [(s.path, s.labels) for s in ds] == [
        ("val/ILSVRC2012_val_00000001.JPEG", ["n01443537"]),
        ("val/ILSVRC2012_val_00000002.JPEG", ["n02119789"]),
    ]


def test_imagenet21k_p_winter21_resized_layout(tmp_path):
    # image-net.org's imagenet21k_resized.tar.gz, made by Alibaba-MIIL/ImageNet21K processing_script.sh:
    # imagenet21k_train/<wnid>/, imagenet21k_val/<wnid>/ and imagenet21k_small_classes/<wnid>/ (classes set aside)
    root = tmp_path / "imagenet21k_resized"
    touch(root / "imagenet21k_train" / "n00005787" / "n00005787_1.JPEG")
    touch(root / "imagenet21k_train" / "n00006024" / "n00006024_2.JPEG")
    touch(root / "imagenet21k_val" / "n00005787" / "n00005787_3.JPEG")
    touch(root / "imagenet21k_small_classes" / "n00004475" / "n00004475_4.JPEG")
    report = Report()
    ds = cvkit.read(root, format="imagenet21k", report=report).materialize()
    assert [(s.path, s.split, s.labels) for s in ds] == [
        ("imagenet21k_train/n00005787/n00005787_1.JPEG", "train", ["n00005787"]),
        ("imagenet21k_train/n00006024/n00006024_2.JPEG", "train", ["n00006024"]),
        ("imagenet21k_val/n00005787/n00005787_3.JPEG", "val", ["n00005787"]),
    ]
    assert [(c.id, c.name) for c in ds.categories] == [(1, "n00005787"), (2, "n00006024")]
    assert any("imagenet21k_small_classes/" in w for w in report.warnings)
    assert detected(root) == ["imagenet21k"]
    # a split folder given on its own still reads
    assert len(cvkit.read(root / "imagenet21k_val", format="imagenet21k").materialize()) == 1


# --- label lists ----------------------------------------------------------------------------------
def test_kaggle_dog_breed_labels_csv_ids_without_extension_in_train_folder(tmp_path):
    # Kaggle dog-breed-identification: labels.csv "id,breed" (id = file stem), images in train/ and test/
    root = tmp_path / "dog-breed-identification"
    make_image(root / "train" / "000bec180eb18c7604dcecc8fe0dba07.jpg", 8, 8)
    make_image(root / "train" / "001513dfcb2ffafc82cccf4d8bbaba97.jpg", 8, 8)
    make_image(root / "test" / "00a3edd22dc7859c487a64777fc8d093.jpg", 8, 8)
    (root / "labels.csv").write_text(
        "id,breed\n000bec180eb18c7604dcecc8fe0dba07,boston_bull\n001513dfcb2ffafc82cccf4d8bbaba97,dingo\n"
    )
    report = Report()
    ds = cvkit.read(root / "labels.csv", format="labels", report=report).materialize()
    assert [(s.path, s.labels) for s in ds] == [
        ("train/000bec180eb18c7604dcecc8fe0dba07.jpg", ["boston_bull"]),
        ("train/001513dfcb2ffafc82cccf4d8bbaba97.jpg", ["dingo"]),
    ]
    assert all(s.resolve(ds.root).is_file() for s in ds)
    assert report.warnings == []
    assert detected(root / "labels.csv") == ["labels"]


def test_single_label_column_keeps_class_names_with_spaces(tmp_path):
    # a "label" / "class" column holds one class a row (Stanford Cars, CUB, fruits: names with spaces);
    # only plural columns (labels, tags) hold several
    make_image(tmp_path / "a.jpg", 4, 4)
    make_image(tmp_path / "b.jpg", 4, 4)
    (tmp_path / "cars.csv").write_text("filename,class\na.jpg,AM General Hummer SUV 2000\nb.jpg,Acura RL Sedan 2012\n")
    ds = cvkit.read(tmp_path / "cars.csv", format="labels").materialize()
    assert [s.labels for s in ds] == [["AM General Hummer SUV 2000"], ["Acura RL Sedan 2012"]]
    assert ds.categories.names() == ["AM General Hummer SUV 2000", "Acura RL Sedan 2012"]


def test_excel_csv_with_bom_and_crlf_and_bom_in_text_lists(tmp_path):
    # Excel's "CSV UTF-8" starts the file with a byte-order mark and ends lines with CRLF; Notepad writes BOMs too
    make_image(tmp_path / "images" / "1.jpg", 4, 4)
    make_image(tmp_path / "images" / "2.jpg", 4, 4)
    (tmp_path / "excel.csv").write_bytes("ImageId,labels\r\n1.jpg,cat\r\n2.jpg,dog\r\n".encode("utf-8-sig"))
    assert detected(tmp_path / "excel.csv") == ["labels"]
    ds = cvkit.read(tmp_path / "excel.csv", format="labels").materialize()
    assert [(s.path, s.labels) for s in ds] == [("images/1.jpg", ["cat"]), ("images/2.jpg", ["dog"])]
    (tmp_path / "synsets.txt").write_bytes("cat\r\ndog\r\n".encode("utf-8-sig"))
    (tmp_path / "train.txt").write_bytes("1.jpg 1\r\n2.jpg 0\r\n".encode("utf-8-sig"))
    report = Report()
    ds = cvkit.read(tmp_path / "train.txt", format="labels", report=report).materialize()
    assert [(s.path, s.labels) for s in ds] == [("images/1.jpg", ["dog"]), ("images/2.jpg", ["cat"])]
    assert ds.categories.names() == ["cat", "dog"]
    assert report.warnings == []


def test_lists_not_in_utf8_are_errors_naming_the_file(tmp_path):
    # Excel's plain "CSV" saves in the Windows code page (cp1252: "café" is b"caf\xe9"); a synset list saved so too
    (tmp_path / "cp1252.csv").write_bytes("ImageId,labels\r\n1.jpg,café\r\n".encode("cp1252"))
    with pytest.raises(InvalidInputError) as info:
        cvkit.read(tmp_path / "cp1252.csv", format="labels").materialize()
    assert info.value.describe() == f"{tmp_path / 'cp1252.csv'}: not UTF-8 text (byte 0xe9); save the list as UTF-8"
    (tmp_path / "train.txt").write_text("1.jpg 0\n")
    (tmp_path / "synsets.txt").write_bytes("dog\ncafé\n".encode("cp1252"))
    with pytest.raises(InvalidInputError) as info:
        cvkit.read(tmp_path / "train.txt", format="labels").materialize()
    assert info.value.describe() == f"{tmp_path / 'synsets.txt'}:line 2: not UTF-8 text (byte 0xe9)"


def test_hugging_face_imagefolder_metadata_csv(tmp_path):
    # Hugging Face "imagefolder": metadata.csv with a file_name column beside the images of each split folder
    root = tmp_path / "hf"
    for split, name, label in (
        ("train", "0001.png", "cat"),
        ("train", "0002.png", "dog"),
        ("validation", "0003.png", "cat"),
    ):
        make_image(root / split / name, 4, 4)
        with open(root / split / "metadata.csv", "a") as handle:
            handle.write(("" if handle.tell() else "file_name,label\n") + f"{name},{label}\n")
    ds = cvkit.read(root / "train" / "metadata.csv", format="labels").materialize()
    assert [(s.path, s.split, s.labels) for s in ds] == [("0001.png", "train", ["cat"]), ("0002.png", "train", ["dog"])]
    ds = cvkit.read(root, format="labels").materialize()
    assert [(s.path, s.split, s.labels) for s in ds] == [
        ("train/0001.png", "train", ["cat"]),
        ("train/0002.png", "train", ["dog"]),
        ("validation/0003.png", "validation", ["cat"]),
    ]
    assert all(s.resolve(ds.root).is_file() for s in ds)
    assert detected(root) == ["labels"]


def test_hugging_face_imagefolder_metadata_jsonl(tmp_path):
    # Hugging Face "imagefolder": metadata.jsonl, one {"file_name": ..., <feature>: ...} object a line
    root = tmp_path / "hf"
    make_image(root / "train" / "a.png", 4, 4)
    make_image(root / "train" / "b.png", 4, 4)
    (root / "train" / "metadata.jsonl").write_text(
        '{"file_name": "a.png", "label": "golden retriever"}\n'
        '{"file_name": "b.png", "labels": ["cat", "dog"]}\n{"label": "x"}\n'
    )
    report = Report(skip_invalid=True)
    ds = cvkit.read(root, format="labels", report=report).materialize()
    assert [(s.path, s.split, s.labels) for s in ds] == [
        ("train/a.png", "train", ["golden retriever"]),
        ("train/b.png", "train", ["cat", "dog"]),
    ]
    assert [(s.location, s.reason) for s in report.skipped] == [("line 3", "expected an object with a file_name")]
    assert detected(root) == ["labels"] and detected(root / "train" / "metadata.jsonl") == ["labels"]


def test_two_column_csvs_that_are_not_labels_are_not_claimed(tmp_path):
    # Kaggle Airbus ship detection (ImageId,EncodedPixels: RLE masks) and the ImageNet LOC solutions
    # (ImageId,PredictionString: boxes) are two-column CSVs whose second column is no class
    (tmp_path / "train_ship_segmentations_v2.csv").write_text(
        "ImageId,EncodedPixels\n00003e153.jpg,\n000155de5.jpg,264661 17 265429 33\n"
    )
    (tmp_path / "LOC_val_solution.csv").write_text(
        "ImageId,PredictionString\nILSVRC2012_val_00008726,n02119789 255 142 454 329\n"
    )
    # nor is a class list such as "id,name"
    (tmp_path / "classes.csv").write_text("id,name\n1,cat\n")
    assert detected(tmp_path / "train_ship_segmentations_v2.csv") == []
    assert detected(tmp_path / "LOC_val_solution.csv") == []
    assert detected(tmp_path / "classes.csv") == []


# --- MNIST ----------------------------------------------------------------------------------------
def idx_bytes(images: np.ndarray, labels: list[int]) -> tuple[bytes, bytes]:
    n, rows, cols = images.shape
    head = (0x803).to_bytes(4, "big") + n.to_bytes(4, "big") + rows.to_bytes(4, "big") + cols.to_bytes(4, "big")
    return head + images.astype(np.uint8).tobytes(), (0x801).to_bytes(4, "big") + n.to_bytes(4, "big") + bytes(labels)


def torchvision_raw(folder: Path, prefix: str, images: np.ndarray, labels: list[int], keep_gz: bool = True) -> None:
    """What torchvision's download_and_extract_archive leaves in <Name>/raw: the .gz and the extracted file."""
    for kind, data in zip(("images-idx3", "labels-idx1"), idx_bytes(images, labels)):
        touch(folder / f"{prefix}-{kind}-ubyte", data)
        if keep_gz:
            touch(folder / f"{prefix}-{kind}-ubyte.gz", gzip.compress(data))


def test_torchvision_mnist_root_raw_folder_with_gz_and_extracted_copies(tmp_path):
    # torchvision.datasets.MNIST(root, download=True): root/MNIST/raw/{train,t10k}-*-ubyte and the .gz beside them,
    # root/MNIST/processed/ (legacy torch.save files, never read)
    rng = np.random.default_rng(1)
    raw = tmp_path / "data" / "MNIST" / "raw"
    torchvision_raw(raw, "train", rng.integers(0, 256, (3, 28, 28)), [5, 0, 4])
    torchvision_raw(raw, "t10k", rng.integers(0, 256, (2, 28, 28)), [7, 2])
    touch(tmp_path / "data" / "MNIST" / "processed" / "training.pt", b"\x80\x02not-unpickled")
    for given in (raw, raw.parent, tmp_path / "data"):
        report = Report()
        ds = cvkit.read(
            given, format="mnist", images_dir=str(tmp_path / "png" / given.name), report=report
        ).materialize()
        assert [(s.path, s.split, s.labels) for s in ds] == [
            ("train/00000.png", "train", ["5"]),
            ("train/00001.png", "train", ["0"]),
            ("train/00002.png", "train", ["4"]),
            ("test/00000.png", "test", ["7"]),
            ("test/00001.png", "test", ["2"]),
        ]
        assert detected(given) == ["mnist"]
    # torchvision's FashionMNIST/raw holds the same file names: the folder names the classes as FashionMNIST.classes
    # does
    fashion = tmp_path / "data" / "FashionMNIST" / "raw"
    torchvision_raw(fashion, "train", np.zeros((1, 28, 28)), [9])
    ds = cvkit.read(fashion.parent, format="mnist", images_dir=str(tmp_path / "png" / "fashion")).materialize()
    assert [s.labels for s in ds] == [["Ankle boot"]]
    with pytest.raises(CvkitError, match=r"several datasets here \(FashionMNIST/raw, MNIST/raw\)"):
        cvkit.read(tmp_path / "data", format="mnist", images_dir=str(tmp_path / "png" / "both"))


def test_torchvision_emnist_raw_holds_six_subsets(tmp_path):
    # torchvision.datasets.EMNIST extracts gzip.zip into EMNIST/raw: emnist-<split>-{train,test}-*-ubyte for
    # byclass, bymerge, balanced, letters, digits and mnist; class names as torchvision's classes_split_dict
    raw = tmp_path / "EMNIST" / "raw"
    zeros = np.zeros((2, 28, 28))
    for subset, labels in (("balanced", [10, 46]), ("letters", [1, 26]), ("digits", [3, 4])):
        for split in ("train", "test"):
            torchvision_raw(raw, f"emnist-{subset}-{split}", zeros, labels, keep_gz=False)
    with pytest.raises(CvkitError) as info:
        cvkit.read(raw, format="mnist", images_dir=str(tmp_path / "png"))
    assert "emnist-balanced, emnist-digits, emnist-letters" in info.value.describe()
    assert "-r subset=" in info.value.describe()
    ds = cvkit.read(raw, format="mnist", subset="balanced", images_dir=str(tmp_path / "png")).materialize()
    assert [(s.split, s.labels) for s in ds] == [("train", ["A"]), ("train", ["t"]), ("test", ["A"]), ("test", ["t"])]
    assert len(ds.categories) == 47 and ds.categories.get("t").id == 46
    ds = cvkit.read(raw, format="mnist", subset="emnist-letters", images_dir=str(tmp_path / "png2")).materialize()
    assert [s.labels for s in ds] == [["a"], ["z"], ["a"], ["z"]]
    assert cvkit.read(
        raw, format="mnist", subset="digits", images_dir=str(tmp_path / "png3")
    ).categories.names() == list("0123456789")


def test_keras_mnist_npz_read_without_pickle(tmp_path):
    # keras.datasets.mnist.load_data() caches ~/.keras/datasets/mnist.npz: x_train (N,28,28) uint8, y_train, x_test,
    # y_test
    rng = np.random.default_rng(2)
    x_train = rng.integers(0, 256, (3, 28, 28), dtype=np.uint8)
    folder = tmp_path / "datasets"
    folder.mkdir()
    np.savez_compressed(
        folder / "mnist.npz",
        x_train=x_train,
        y_train=np.array([5, 0, 4], dtype=np.uint8),
        x_test=np.zeros((1, 28, 28), dtype=np.uint8),
        y_test=np.array([7], dtype=np.uint8),
    )
    for given in (folder, folder / "mnist.npz"):
        ds = cvkit.read(given, format="mnist", images_dir=str(tmp_path / "png" / given.name)).materialize()
        assert [(s.path, s.split, s.labels) for s in ds] == [
            ("train/00000.png", "train", ["5"]),
            ("train/00001.png", "train", ["0"]),
            ("train/00002.png", "train", ["4"]),
            ("test/00000.png", "test", ["7"]),
        ]
        assert np.array_equal(np.asarray(Image.open(ds.samples[1].resolve(ds.root))), x_train[1])
        assert detected(given) == ["mnist"]
    # Keras' imdb.npz beside it (x_train: an object array of word-id lists) is not taken for images
    np.savez(
        folder / "imdb.npz",
        x_train=np.array([[1, 2], [3]], dtype=object),
        y_train=np.array([0, 1]),
        x_test=np.array([[4]], dtype=object),
        y_test=np.array([1]),
    )
    assert detected(folder / "imdb.npz") == []
    assert len(cvkit.read(folder, format="mnist", images_dir=str(tmp_path / "png" / "again")).materialize()) == 4
    # given explicitly, an object array (it needs pickle to load) is refused, never unpickled
    evil = folder / "evil.npz"
    np.savez(evil, x_train=np.array([object()], dtype=object), y_train=np.array([1]))
    with pytest.raises(InvalidInputError) as info:
        cvkit.read(evil, format="mnist", images_dir=str(tmp_path / "png3")).materialize()
    assert info.value.describe().startswith(
        f"{evil}:x_train: cannot read x_train (Object arrays cannot be loaded when allow_pickle=False"
    )


def test_mnist_label_count_mismatch_names_the_label_file(tmp_path):
    images, _labels = idx_bytes(np.zeros((2, 28, 28)), [1, 2])
    touch(tmp_path / "src" / "train-images-idx3-ubyte", images)
    touch(tmp_path / "src" / "train-labels-idx1-ubyte", idx_bytes(np.zeros((3, 28, 28)), [1, 2, 3])[1])
    with pytest.raises(InvalidInputError) as info:
        cvkit.read(tmp_path / "src", format="mnist", images_dir=str(tmp_path / "png")).materialize()
    assert info.value.describe() == f"{tmp_path / 'src' / 'train-labels-idx1-ubyte'}:header: 2 images but 3 labels"


def test_torchvision_cifar_root_holding_the_unpacked_archive(tmp_path):
    # torchvision.datasets.CIFAR10(root="data", download=True): data/cifar-10-python.tar.gz and
    # data/cifar-10-batches-py/
    import pickle

    batches = tmp_path / "data" / "cifar-10-batches-py"
    batches.mkdir(parents=True)
    (batches / "batches.meta").write_bytes(pickle.dumps({b"label_names": [b"airplane", b"automobile"]}, protocol=2))
    rows = np.zeros((1, 3072), dtype=np.uint8)
    (batches / "test_batch").write_bytes(
        pickle.dumps({b"labels": [1], b"data": rows, b"filenames": [b"car_s_000001.png"]}, protocol=2)
    )
    (batches / "readme.html").write_text("<html></html>")
    touch(tmp_path / "data" / "cifar-10-python.tar.gz", b"not read")
    assert detected(tmp_path / "data") == ["cifar"]
    ds = cvkit.read(tmp_path / "data", format="cifar", images_dir=str(tmp_path / "png")).materialize()
    assert [(s.path, s.split, s.labels) for s in ds] == [("test_batch/car_s_000001.png", "test", ["automobile"])]


def test_mnist_csv_with_a_bom_and_no_header_keeps_its_first_row(tmp_path):
    # mnist_train.csv re-saved by Excel: a BOM before the first label, no header row
    src = tmp_path / "csv"
    src.mkdir()
    rows = ["5," + ",".join(["0"] * 784), "0," + ",".join(["255"] * 784)]
    (src / "mnist_train.csv").write_bytes(("\r\n".join(rows) + "\r\n").encode("utf-8-sig"))
    ds = cvkit.read(src, format="mnist", images_dir=str(tmp_path / "png")).materialize()
    assert [s.labels for s in ds] == [["5"], ["0"]]
