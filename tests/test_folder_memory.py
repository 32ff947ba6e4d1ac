"""Folder readers list a tree without holding more than its listing (issue #16: 3M-file trees)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from cvkit.core.report import Report
from cvkit.formats import labelme
from cvkit.formats.voc._layout import ImageIndex

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
