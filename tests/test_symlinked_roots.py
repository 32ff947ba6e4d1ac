"""A dataset reached through a symbolic link converts as it does through its real path.

The corpus is reached once through its real path and once through ``sh -> <relative path to its parent>``, a
relative link as ``ln -s ../shared sh`` makes, from a working folder elsewhere; every corpus dataset is converted
both ways to several formats, with images referenced and copied, and the outputs must be the same bytes (or both
conversions fail with the same message).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

import cvkit
from conftest import corpus_path
from cvkit.errors import CvkitError

#: (folder below the corpus, its format)
SOURCES = [
    ("voc/voc_dataset1", "voc"),
    ("voc/voc_dataset2", "voc"),
    ("voc/voc_dataset3", "voc"),
    ("imagenet/ilsvrc_bbox_xml", "voc"),
    ("cvat/datumaro_for_video", "voc"),
    ("coco/coco_instances", "coco"),
    ("coco/coco_person_keypoints", "coco"),
    ("coco/coco_panoptic", "coco"),
    ("labelme_json/bbox_detection", "labelme"),
    ("labelme_json/instance_segmentation", "labelme"),
    ("labelme_json/primitives", "labelme"),
    ("labelme_json/tutorial", "labelme"),
    ("labelme_mit/datumaro_labelme_xml", "labelme_mit"),
    ("labelimg/yolo_real_repo_408f739", "yolo"),
    ("imagenet/imagenet_subsets_dataset", "imagefolder"),
    ("imagenet_txt/basic", "labels"),
    ("cifar/cifar10_dataset", "cifar"),
    ("mnist/mnist_dataset", "mnist"),
]
#: (format, destination name, writer options)
TARGETS = [
    ("coco", "out.json", {}),
    ("coco", "out", {"images": "copy"}),
    ("voc", "out", {"images": "copy"}),
    ("yolo", "out", {}),
    ("labelme_mit", "out", {}),
    ("createml", "out.json", {}),
    ("labelme", "out", {}),
    ("labels", "labels.csv", {}),
    ("manifest", "out.jsonl", {}),
]


def tree_bytes(path: Path) -> dict[str, bytes]:
    """Every file under ``path`` (or ``path`` itself) by its path below it, with its bytes; a link by its target."""
    if path.is_file():
        return {"": path.read_bytes()}
    found: dict[str, bytes] = {}
    for file in sorted(path.rglob("*")):
        name = file.relative_to(path).as_posix()
        if file.is_symlink():
            found[name] = os.readlink(file).encode()
        elif file.is_file():
            found[name] = file.read_bytes()
    return found


def outcome(
    source: Path, destination: Path, from_format: str, to_format: str, options: dict[str, str]
) -> tuple[str, object]:
    """The files a conversion wrote (then removed, so that the next one writes to the same place), or its error
    with the source's path, as given and made absolute, replaced by ``SOURCE``."""
    try:
        cvkit.convert(source, destination, to_format=to_format, from_format=from_format, write_options=options)
    except CvkitError as error:
        message = str(error)
        for shown in (os.path.abspath(source), str(source)):
            message = message.replace(shown, "SOURCE")
        return "error", message
    written = tree_bytes(destination)
    for made in (destination, destination.parent / f"{destination.stem}_images"):
        if made.is_dir():
            shutil.rmtree(made)
        elif made.exists():
            made.unlink()
    return "written", written


@pytest.fixture
def linked_corpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """(the corpus's real path, ``sh/corpus`` relative to the working folder, where ``sh`` is a relative link)."""
    real = corpus_path().resolve()
    work = tmp_path / "work"
    work.mkdir()
    (work / "sh").symlink_to(os.path.relpath(real.parent, work), target_is_directory=True)
    monkeypatch.chdir(work)
    return real, Path("sh") / real.name


@pytest.mark.parametrize(("folder", "from_format"), SOURCES, ids=[folder for folder, _ in SOURCES])
def test_a_linked_dataset_converts_as_its_real_path_does(
    linked_corpus: tuple[Path, Path], tmp_path: Path, folder: str, from_format: str
):
    real_corpus, linked = linked_corpus
    for number, (to_format, name, options) in enumerate(TARGETS):
        if to_format == from_format:
            continue
        destination = tmp_path / "out" / str(number) / name
        real = outcome(real_corpus / folder, destination, from_format, to_format, options)
        through_link = outcome(linked / folder, destination, from_format, to_format, options)
        assert through_link == real, f"{folder} -> {to_format} {options}"


def test_the_linked_mit_labelme_example_names_its_images_below_the_root(
    linked_corpus: tuple[Path, Path], tmp_path: Path
):
    """The case reported: ``labelmemit2voc sh/corpus/labelme_mit/datumaro_labelme_xml out --images copy``."""
    _, linked = linked_corpus
    dataset = cvkit.read(linked / "labelme_mit" / "datumaro_labelme_xml", format="labelme_mit")
    paths = [sample.path for sample in dataset]
    assert paths and all(not path.startswith("..") for path in paths)
    cvkit.convert(
        linked / "labelme_mit" / "datumaro_labelme_xml",
        tmp_path / "voc",
        to_format="voc",
        write_options={"images": "copy"},
    )
    assert len(list((tmp_path / "voc" / "JPEGImages").iterdir())) == len(paths)


#: writers that reference the images where they are (format, destination, writer options)
REFERENCING = [
    ("labels", "labels.csv", {}),
    ("createml", "out.json", {}),
    ("labelme", "out", {}),
    ("manifest", "out.jsonl", {}),
    ("yolo", "out", {"images": "reference", "paths": "relative"}),
]


@pytest.mark.parametrize(("to_format", "name", "options"), REFERENCING, ids=[case[0] for case in REFERENCING])
def test_references_written_through_a_linked_destination_lead_to_the_images(
    tmp_path: Path, to_format: str, name: str, options: dict[str, str]
):
    """A dataset written, images referenced in place, into a folder reached through a link from elsewhere, then read
    back through that link: every image path leads to the image (the system follows the link before the ``..`` that
    climb out of it, so the paths must be computed between real paths, and read without folding ``..`` by hand)."""
    source = corpus_path("voc", "voc_dataset1")
    (tmp_path / "deep" / "er").mkdir(parents=True)
    (tmp_path / "near").symlink_to(tmp_path / "deep" / "er", target_is_directory=True)
    written = tmp_path / "near" / name
    cvkit.convert(source, written, to_format=to_format, from_format="voc", write_options=options)
    back = cvkit.read(written, format=to_format)
    found = [sample.resolve(back.root) for sample in back]
    assert sorted(path.name for path in found) == sorted(path.name for path in (source / "JPEGImages").iterdir())
    assert all(path.is_file() for path in found), found
