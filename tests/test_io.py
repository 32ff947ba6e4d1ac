"""cvkit.io: atomic output (a failure part-way leaves the destination as it was), small-file reads, extraction
folders."""

from __future__ import annotations

import pytest

import cvkit
from cvkit.core.model import Sample
from cvkit.errors import CvkitError
from cvkit.io import atomic_dir, atomic_file, files_in


def test_failed_folder_write_leaves_no_destination_and_no_temp(tmp_path, small):
    def explode(sample: Sample) -> Sample:
        if sample.path.endswith("dog_02.png"):
            raise RuntimeError("disk full")
        return sample

    with pytest.raises(RuntimeError, match="disk full"):
        cvkit.write(small.map(explode), tmp_path / "voc", format="voc")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src"]


def test_failed_overwrite_keeps_the_old_dataset(tmp_path):
    dst = tmp_path / "out"
    dst.mkdir()
    (dst / "old.txt").write_text("old")
    with pytest.raises(ValueError), atomic_dir(dst, overwrite=True) as tmp:
        (tmp / "new.txt").write_text("new")
        raise ValueError("crash")
    assert [p.name for p in dst.iterdir()] == ["old.txt"]
    with atomic_dir(dst, overwrite=True) as tmp:
        (tmp / "new.txt").write_text("new")
    assert [p.name for p in dst.iterdir()] == ["new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_failed_file_write_keeps_the_old_file(tmp_path):
    target = tmp_path / "a.json"
    target.write_text("old")
    with pytest.raises(KeyError), atomic_file(target) as handle:
        handle.write("half")
        raise KeyError("crash")
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_inputs_are_never_modified(corpus, tmp_path):
    src = corpus("voc", "voc_dataset1")
    before = {p: p.stat().st_mtime_ns for p in src.rglob("*")}
    cvkit.convert(src, tmp_path / "coco", to_format="coco", write_options={"images": "copy"})
    cvkit.convert(src, tmp_path / "m.jsonl", to_format="manifest")
    assert {p: p.stat().st_mtime_ns for p in src.rglob("*")} == before


@pytest.mark.parametrize("size", [0, 10, 1 << 18, (1 << 18) + 1, 3 * (1 << 18) + 7])
def test_read_small_file_returns_every_byte(tmp_path, size):
    from cvkit.io import read_small_file

    data = bytes(range(256)) * (size // 256) + bytes(size % 256)
    (tmp_path / "f").write_bytes(data)
    assert read_small_file(tmp_path / "f") == data


def test_read_small_file_results_survive_later_reads_and_other_threads(tmp_path):
    """Files are read through a reused buffer: what was returned must be a copy, per thread."""
    from concurrent.futures import ThreadPoolExecutor

    from cvkit.io import read_small_file

    contents = {tmp_path / f"{n}.xml": f"<annotation>{n}</annotation>".encode() * (n + 1) for n in range(40)}
    for path, data in contents.items():
        path.write_bytes(data)
    first = read_small_file(tmp_path / "0.xml")
    read_small_file(tmp_path / "39.xml")
    assert first == contents[tmp_path / "0.xml"]
    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(read_small_file, contents)) == list(contents.values())


def test_extraction_dir_is_never_inside_the_input(tmp_path, monkeypatch):
    from cvkit.io import extraction_dir

    monkeypatch.setenv("CVKIT_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "in").mkdir()
    default = extraction_dir(tmp_path / "in", None)
    assert default.parent == tmp_path / "cache" / "images" and default.name.startswith("in-")
    assert extraction_dir(tmp_path / "in", None) == default  # the same input, the same folder
    with pytest.raises(CvkitError, match="must not be inside the input folder"):
        extraction_dir(tmp_path / "in", tmp_path / "in" / "png")


def test_files_in_lists_matching_files_sorted_and_honours_the_limit(tmp_path):
    for name in ("b.xml", "A.XML", "c.xml", "notes.txt", "._a.xml"):  # ._a.xml: a macOS AppleDouble twin, skipped
        (tmp_path / name).write_text("x")
    (tmp_path / "d.xml").mkdir()  # a folder named like a file is no file
    assert [p.name for p in files_in(tmp_path, ".xml")] == ["A.XML", "b.xml", "c.xml"]
    assert [p.name for p in files_in(tmp_path, ".xml", limit=1)] == ["A.XML"]
    assert files_in(tmp_path / "missing", ".xml") == []


def test_coco_detection_of_a_large_labelme_folder_is_not_coco(tmp_path):
    """A flat LabelMe folder (thousands of JSON files) is neither read as COCO nor called ambiguous."""
    for i in range(40):
        (tmp_path / f"img_{i:03d}.json").write_text(
            '{"version": "5.2.1", "flags": {}, "shapes": [], "imagePath": "x.jpg", '
            '"imageData": null, "imageHeight": 4, "imageWidth": 4}'
        )
    assert cvkit.detect_format(tmp_path) == "labelme"


def test_walk_files_orders_files_before_sub_folders_and_does_not_follow_folder_links(tmp_path):
    from cvkit.io import walk_files

    for name in ("b/2.json", "b/1.JSON", "a/x.json", "top.json", ".hidden/h.json", "a/._x.json", "a/note.txt"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("{}")
    (tmp_path / "link").symlink_to(tmp_path / "a", target_is_directory=True)  # would list a/x.json twice
    (tmp_path / "broken.json").symlink_to(tmp_path / "nowhere.json")
    assert [p.relative_to(tmp_path).as_posix() for p in walk_files(tmp_path, ".json")] == [
        "top.json",
        "a/x.json",
        "b/1.JSON",
        "b/2.json",
    ]


def test_format_detection_lists_each_folder_once(tmp_path):
    """Detectors share one listing a folder while cached_listings is active; outside it every call lists afresh."""
    from cvkit.io import cached_listings, walk_files

    (tmp_path / "a.xml").write_text("<annotation/>")
    with cached_listings():
        assert [p.name for p in files_in(tmp_path, ".xml")] == ["a.xml"]
        (tmp_path / "b.xml").write_text("<annotation/>")
        assert [p.name for p in walk_files(tmp_path, ".xml")] == ["a.xml"]  # the listing made above
    assert [p.name for p in files_in(tmp_path, ".xml")] == ["a.xml", "b.xml"]
