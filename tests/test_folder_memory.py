"""Folder readers list a tree without holding more than its listing (issue #16: 3M-file trees)."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from cvkit.core.report import Report
from cvkit.formats import labelme
from cvkit.formats.voc._layout import ImageIndex
from cvkit.formats.voc._runs import xml_listing

FILES = 3000


def _labelme_tree(root: Path) -> None:
    for folder in range(30):
        sub = root / f"part_{folder:02d}"
        sub.mkdir()
        for i in range(FILES // 30):
            doc = {"version": "5.2.1", "flags": {}, "shapes": [], "imagePath": f"{i}.jpg", "imageData": None}
            (sub / f"{i}.json").write_text(json.dumps(doc))


#: measured in a fresh interpreter: what earlier tests left in this one (caches, interned names) moves the peak
_MEASURE = """
import sys, tracemalloc
from pathlib import Path
from cvkit.core.report import Report
from cvkit.formats import labelme
root = Path(sys.argv[1])
labelme.read(root, Report(), workers=2)  # one-off growth (pathlib interns name parts) before measuring
tracemalloc.start()
dataset = labelme.read(root, Report(), workers=2)
peak = tracemalloc.get_traced_memory()[1]
shards = dataset.take_shards(2)
tracemalloc.stop()
print(peak, sum(shard.size for shard in shards))
"""


def test_labelme_listing_holds_no_path_objects(tmp_path: Path) -> None:
    """The peak while reading a folder's listing stays near that of one path string a file: a list of ``Path``
    objects beside the jobs (as before) more than doubled it. The jobs themselves are kept and all there."""
    _labelme_tree(tmp_path)
    path_text = len(str(tmp_path / "part_00" / "99.json")) + 49  # a str object's size
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(tmp_path)], capture_output=True, text=True, timeout=120, check=True
    )
    peak, files = map(int, done.stdout.split())
    assert files == FILES
    # one path string, one job tuple and a list slot a file, with room to spare; a Path object alone is ~250 bytes
    assert peak / FILES < path_text + 200, (peak / FILES, path_text)


def test_labelme_reads_the_same_samples_from_the_walk(tmp_path: Path) -> None:
    """Jobs built straight from the folder walk: the same files, in the same (sorted, depth-first) order."""
    _labelme_tree(tmp_path)
    from cvkit.io import walk_files

    expected = [str(p) for p in walk_files(tmp_path, ".json")]
    shards = labelme.read(tmp_path, Report(), workers=2).take_shards(2)
    assert shards is not None
    assert [job[0] for shard in shards for job in shard.task] == expected
    empty = tmp_path / "empty"
    empty.mkdir()
    report = Report()
    labelme.read(empty, report, workers=2)
    assert any("no .json files" in w for w in report.warnings)


def _voc_index(root: Path) -> ImageIndex:
    for name in ("Annotations", "JPEGImages/sub"):
        (root / name).mkdir(parents=True)
    for name in ("a.jpg", "b.png", "b.jpg", "c.JPG", "d.jpeg", "notes.txt", "sub/e.png"):
        (root / "JPEGImages" / name).write_bytes(b"")
    return ImageIndex(root, devkit=True)


#: (filename in the XML, image id, the image found): by name, by id, other extensions, ranks, sub-folders, missing
VOC_CASES = [
    ("a.jpg", "a", "JPEGImages/a.jpg"),
    ("b.png", "b", "JPEGImages/b.png"),
    ("b.bmp", "b", "JPEGImages/b.jpg"),
    ("other.jpg", "b", "JPEGImages/b.jpg"),
    ("c", "c", "JPEGImages/c.JPG"),
    ("d.jpg", "d", "JPEGImages/d.jpeg"),
    ("sub/e.png", "sub/e", "JPEGImages/sub/e.png"),
    ("sub/e.jpg", "sub/e", "JPEGImages/sub/e.png"),
    ("x.jpg", "x", "JPEGImages/x.jpg"),
    (None, "a", "JPEGImages/a.jpg"),
    (None, "notes", "JPEGImages/notes.jpg"),
]


def test_voc_image_index_finds_images_without_a_stem_map_when_the_filename_is_there(tmp_path: Path) -> None:
    """The stem map of a folder is built only when an XML's ``<filename>`` is not in it: a worker reading a
    devkit whose XML name their images (the common case) holds one listing of the image folder, not two."""
    index = _voc_index(tmp_path)
    for filename, image_id, expected in VOC_CASES:
        assert index.image_path(None, filename, image_id, None) == expected, (filename, image_id)
    common = _voc_index(tmp_path / "common")
    assert common.image_path(None, "a.jpg", "a", None) == "JPEGImages/a.jpg"
    assert common.image_path(None, "sub/e.png", "sub/e", None) == "JPEGImages/sub/e.png"
    assert common.stem_maps == {}
    assert common.image_path(None, "b.bmp", "b", None) == "JPEGImages/b.jpg"
    assert set(common.stem_maps) == {"JPEGImages/"}


def _voc_devkit(root: Path) -> dict[str, str | None]:
    """A devkit whose listing has every turn: sub-folders, an upper-case suffix, a hidden twin, names that sort
    differently with and without ``.xml`` (``a`` < ``a-b`` but ``a-b.xml`` < ``a.xml``), ids listed without an XML.
    Returns the split lists' id -> split."""
    ann = root / "Annotations"
    (ann / "city").mkdir(parents=True)
    for name in ("a.xml", "a-b.xml", "c.XML", "._a.xml", "city/z.xml", "city/a.xml", "notes.txt"):
        (ann / name).write_text("<annotation><filename>x.jpg</filename></annotation>")
    main = root / "ImageSets" / "Main"
    main.mkdir(parents=True)
    (main / "train.txt").write_text("a\nonly_listed\ncity/z\n")
    (main / "val.txt").write_text("a-b\n")
    return {"a": "train", "only_listed": "train", "city/z": "train", "a-b": "val"}


def _walked_ids(ann: Path) -> dict[str, str]:
    """The oracle: image id -> XML path, from ``os.walk`` (hidden files left out)."""
    found = {}
    for folder, _dirs, files in os.walk(ann):
        for name in files:
            if name.lower().endswith(".xml") and not name.startswith("."):
                rel = os.path.relpath(os.path.join(folder, name), ann).replace(os.sep, "/")
                found[rel[:-4]] = os.path.join(folder, name)
    return found


@pytest.mark.parametrize("size", [1, 2, 1000])
def test_voc_runs_give_the_devkit_listing_in_id_order(tmp_path: Path, size: int) -> None:
    """The compact runs give back each id's XML path, id and split, sorted by id, whatever the run size."""
    splits = _voc_devkit(tmp_path)
    walked = _walked_ids(tmp_path / "Annotations")
    expected = [(walked.get(i), i, splits.get(i)) for i in sorted({*walked, *splits})]
    listing, runs = xml_listing(tmp_path, size=size)
    assert [entry for run in runs for entry in listing.entries(run)] == expected
    assert all(run.count <= size for run in runs) and sum(run.count for run in runs) == len(expected)
    named, named_runs = xml_listing(tmp_path, default_split="extra", size=size)  # ``train/Annotations``
    got = [split for run in named_runs for _file, _id, split in named.entries(run)]
    assert got == [splits.get(i) or "extra" for i in sorted({*walked, *splits})]


def test_voc_runs_of_flat_and_split_folders_and_one_file(tmp_path: Path) -> None:
    """LabelImg's flat folder, Roboflow's split folders (in SPLIT_FOLDERS order) and a file given alone."""
    for name in ("b.xml", "a.tar.xml", "train/t.xml", "valid/v1.xml", "valid/v0.xml"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text("<annotation/>")
    listing, runs = xml_listing(tmp_path, size=2)
    got = [entry for run in runs for entry in listing.entries(run)]
    assert got == [
        (str(tmp_path / "train" / "t.xml"), "t", "train"),
        (str(tmp_path / "valid" / "v0.xml"), "v0", "valid"),
        (str(tmp_path / "valid" / "v1.xml"), "v1", "valid"),
    ]
    for name in ("train/t.xml", "valid/v1.xml", "valid/v0.xml"):
        (tmp_path / name).unlink()
    listing, runs = xml_listing(tmp_path)
    assert [entry for run in runs for entry in listing.entries(run)] == [
        (str(tmp_path / name), Path(name).stem, None) for name in ("a.tar.xml", "b.xml")
    ]
    listing, runs = xml_listing(tmp_path / "b.xml")
    assert listing.image_root == tmp_path
    assert [entry for run in runs for entry in listing.entries(run)] == [(str(tmp_path / "b.xml"), "b", None)]


def test_voc_image_index_travels_without_its_listings(tmp_path: Path) -> None:
    """A spawned worker (or another machine) gets where the images are, not the parent's listing of them; it
    finds the same images."""
    index = _voc_index(tmp_path)
    expected = [index.image_path(None, filename, image_id, None) for filename, image_id, _ in VOC_CASES]
    assert index.listings
    copy = pickle.loads(pickle.dumps(index))
    assert copy.listings == {} and copy.stem_maps == {} and copy.image_folder == "JPEGImages/"
    assert [copy.image_path(None, filename, image_id, None) for filename, image_id, _ in VOC_CASES] == expected


_MEASURE_VOC = """
import gc, sys, tracemalloc
from pathlib import Path
from cvkit.core.report import Report
from cvkit.formats import voc
root = Path(sys.argv[1])
voc.read(root, Report(), workers=2).take_shards(2)  # imports and one-off caches before measuring
gc.collect()
tracemalloc.start()
dataset = voc.read(root, Report(), workers=2)
shards = dataset.take_shards(2)
gc.collect()
held, peak = tracemalloc.get_traced_memory()
print(held, peak, sum(shard.size for shard in shards))
"""


def test_voc_shards_hold_about_a_name_a_file(tmp_path: Path) -> None:
    """Once its shards are cut, a VOC reader holds about each XML's name a file (one string a run), not a job
    tuple with an absolute path a file (320 B a file before)."""
    (tmp_path / "Annotations").mkdir()
    (tmp_path / "JPEGImages").mkdir()
    for i in range(FILES):
        (tmp_path / "Annotations" / f"{i:06d}.xml").write_text("<annotation/>")
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE_VOC, str(tmp_path)], capture_output=True, text=True, timeout=120, check=True
    )
    held, peak, files = map(int, done.stdout.split())
    assert files == FILES
    name = len("000000.xml") + 1
    assert held / FILES < name + 16, held / FILES  # the run strings; a str object a file alone is ~60 bytes
    assert peak / FILES < 200, peak / FILES  # the listing while it is sorted and cut
