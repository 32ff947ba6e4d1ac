"""The bounded-memory COCO reader (formats/coco/_bounded.py) against the reader that loads the whole file: the same
samples, categories, info, reports and written files, on the whole corpus and on generated edge cases; and its
memory, measured in a child process against the file's size."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import cvkit
from conftest import CORPUS, corpus_path
from cvkit.core.report import Report
from cvkit.formats.coco import _bounded, _scan


def _snapshot(path: Path, bounded: bool, monkeypatch: pytest.MonkeyPatch, **options: Any) -> Any:
    """Everything a read gives: samples, categories, hierarchy, info and the report (or the error it raises)."""
    monkeypatch.setattr(_bounded, "ENABLED", bounded)
    report = Report(skip_invalid=options.pop("skip_invalid", True))
    try:
        dataset = cvkit.read(path, "coco", report=report, **options)
        samples = list(dataset)
    except Exception as exc:  # the same error, worded the same, from both readers
        return ("error", type(exc).__name__, str(exc))
    categories = [(c.id, c.name, c.attributes) for c in dataset.categories]
    edges = sorted((name, tuple(dataset.hierarchy.parents(name))) for name in dataset.categories.names())
    return samples, categories, edges, dataset.info, report.skipped, report.warnings, report.read, dataset.root


def _same(path: Path, monkeypatch: pytest.MonkeyPatch, **options: Any) -> Any:
    bounded = _snapshot(path, True, monkeypatch, **dict(options))
    whole = _snapshot(path, False, monkeypatch, **dict(options))
    assert bounded == whole
    return bounded


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _converted(src: Path, out: Path, to: str, bounded: bool, monkeypatch: pytest.MonkeyPatch) -> dict[str, bytes]:
    monkeypatch.setattr(_bounded, "ENABLED", bounded)
    dataset = cvkit.read(src, "coco", report=Report(skip_invalid=True))
    cvkit.write(dataset, out, to, report=Report(skip_invalid=True))
    return _files(out)


def _scanned(path: Path, monkeypatch: pytest.MonkeyPatch) -> bool:
    monkeypatch.setattr(_bounded, "ENABLED", True)
    return _bounded.scan(path) is not None


def _corpus_files() -> list[Path]:
    return sorted(CORPUS.glob("coco/**/*.json")) + sorted(CORPUS.glob("lvis/**/*.json"))


#: corpus files the columns take (the others: captions, panoptic, results lists, read whole by design)
BOUNDED_IN_CORPUS = ("instances_", "person_keypoints_", "image_info_", "labels_", "stuff_", "lvis_val_100")


@pytest.mark.parametrize("name", [str(p.relative_to(CORPUS)) for p in _corpus_files()] or ["coco"])
def test_every_corpus_file_reads_the_same_bounded(name, monkeypatch):
    path = corpus_path(name)
    _same(path, monkeypatch)
    if path.name.startswith(BOUNDED_IN_CORPUS) and not path.stem.endswith("_results"):
        assert _scanned(path, monkeypatch)


@pytest.mark.parametrize("folder", ["coco/coco", "coco/coco_instances", "coco/coco_person_keypoints"])
@pytest.mark.parametrize("to", ["yolo", "coco"])
def test_corpus_folders_convert_to_the_same_bytes(folder, to, tmp_path, monkeypatch):
    src = corpus_path(folder)
    _same(src, monkeypatch)
    bounded = _converted(src, tmp_path / "bounded", to, True, monkeypatch)
    whole = _converted(src, tmp_path / "whole", to, False, monkeypatch)
    assert bounded and bounded == whole


def test_lvis_converts_to_the_same_bytes(tmp_path, monkeypatch):
    src = corpus_path("lvis", "lvis_api_val100_v0_5", "lvis_val_100.json")
    bounded = _converted(src, tmp_path / "bounded.json", "coco", True, monkeypatch)
    whole = _converted(src, tmp_path / "whole.json", "coco", False, monkeypatch)
    assert bounded == whole


# --- generated edge cases --------------------------------------------------------------------------------------------
def _box(ann_id: int, image_id: int, category_id: int = 1, **extra: Any) -> dict[str, Any]:
    record = {
        "id": ann_id,
        "image_id": image_id,
        "category_id": category_id,
        "bbox": [1, 2.5, 3, 4],
        "segmentation": [],
        "area": 12,
        "iscrowd": 0,
    }
    record.update(extra)
    return record


def _document(images: list[Any], annotations: list[Any], annotations_first: bool = False) -> dict[str, Any]:
    categories = [
        {"id": 1, "name": "cat", "supercategory": "animal"},
        {"id": 7, "name": "Straße ☃", "supercategory": ""},
        {
            "id": 9,
            "name": "person",
            "supercategory": "person",
            "keypoints": ["nose", "eye"],
            "skeleton": [[1, 2]],
        },
    ]
    head = {"info": {"description": 'quotes " and \\ and },{ in a string'}, "licenses": [{"id": 1, "name": "x"}]}
    if annotations_first:
        return {"annotations": annotations, **head, "categories": categories, "images": images}
    return {**head, "images": images, "categories": categories, "annotations": annotations}


def _images(count: int) -> list[dict[str, Any]]:
    return [{"id": n + 1, "file_name": f"img_{n:03d}.jpg", "width": 64, "height": 48} for n in range(count)]


def _edge_case_document() -> dict[str, Any]:
    """Every kind of record the columns do not model, among plain boxes the runs cut between."""
    images = _images(30)
    images[3] = {"id": 4, "file_name": 'ünï/çødé },{ "q".jpg', "width": 64, "height": 48, "license": 1}
    images[5] = {"id": 6, "coco_url": "http://x/val2017/000006.jpg", "width": 64, "height": 48}  # LVIS
    images[7] = {"id": 8, "file_name": "no_size.jpg"}
    images[9] = {"id": 10, "file_name": "big.jpg", "width": 64, "height": 48, "attributes": {"weather": "rain"}}
    images.append({"id": 31, "file_name": "empty.jpg", "width": 10, "height": 10})  # no annotations
    annotations: list[Any] = []
    for n in range(1, 31):
        annotations += [_box(2 * n, n), _box(2 * n + 1, n, 7, area=12.5)]
    annotations += [
        _box(100, 2, segmentation=[[1, 1, 5, 1, 5, 5, 1, 5]]),
        _box(101, 3, iscrowd=1, segmentation={"counts": [0, 10, 3062], "size": [48, 64]}),
        _box(102, 4, 9, keypoints=[2, 3, 2, 4, 5, 1], num_keypoints=2),
        _box(103, 5, note="extra key ☃", attributes={"occluded": True}),
        _box(104, 6, score=0.5),
        _box(2**62, 7),  # a huge id that still fits the columns
        _box(106, 8, area=2**60),  # an integer area past float64's exact range: kept whole
        _box(107, 9, bbox=[1, 2, 3, 4.0], area=0.1),
        {"id": 108, "image_id": 10, "category_id": 1, "bbox": [0, 0, 2, 2]},  # fewer keys
        _box(109, 11, iscrowd=True),
    ]
    annotations.insert(7, _box(110, 12, note='a },{ "string" \\ with brackets ]]'))
    return _document(images, annotations)


@pytest.mark.parametrize("annotations_first", [False, True])
@pytest.mark.parametrize("indent", [None, 2])
@pytest.mark.parametrize("tiny_runs", [False, True])
def test_edge_cases_read_and_convert_the_same(tmp_path, monkeypatch, annotations_first, indent, tiny_runs):
    if tiny_runs:  # runs of a record or two, windows of a few bytes: every cut and window edge is exercised;
        # columns allocated too small, so that they grow
        monkeypatch.setattr(_scan, "CHUNK_BYTES", 64)
        monkeypatch.setattr(_scan, "WINDOW_BYTES", 7)
        monkeypatch.setattr(_bounded, "SMALLEST_RECORD", 1 << 40)
        monkeypatch.setattr(_bounded, "TRIES", 1)  # a run's records after a miss are kept whole
    document = _edge_case_document()
    if annotations_first:
        document = _document(document["images"], document["annotations"], annotations_first=True)
    src = tmp_path / "annotations" / "instances_train.json"
    src.parent.mkdir()
    src.write_text(json.dumps(document, indent=indent, ensure_ascii=False), encoding="utf-8")
    samples = _same(src, monkeypatch)[0]
    assert _scanned(src, monkeypatch)
    assert len(samples) == 31
    assert samples[-1].objects == []
    assert any(obj.rle is not None for s in samples for obj in s.objects)
    assert any(obj.meta.get("coco", {}).get("note") == "extra key ☃" for s in samples for obj in s.objects)
    for to in ("coco", "yolo", "manifest"):
        bounded = _converted(src.parent.parent, tmp_path / f"bounded_{to}", to, True, monkeypatch)
        whole = _converted(src.parent.parent, tmp_path / f"whole_{to}", to, False, monkeypatch)
        assert bounded == whole


@pytest.mark.parametrize(
    "mutate",
    [
        pytest.param(lambda d: d["annotations"].append(_box(500, 1, 3)), id="unknown-category"),
        pytest.param(lambda d: d["annotations"].append(_box(501, 999)), id="unknown-image"),
        pytest.param(lambda d: d["annotations"].append(_box(502, 1, bbox=[0, 0, -1, 2])), id="negative-box"),
        pytest.param(lambda d: d["annotations"].append({"id": 503, "category_id": 1}), id="no-image-id"),
        pytest.param(lambda d: d["annotations"].append(_box(504, [1])), id="list-image-id"),
        pytest.param(lambda d: d["annotations"].append(7), id="not-an-object"),
        pytest.param(lambda d: d["images"].append({"id": 2, "file_name": "dup.jpg"}), id="duplicate-image-id"),
        pytest.param(lambda d: d["images"].append({"file_name": "no_id.jpg"}), id="image-without-id"),
        pytest.param(lambda d: d["images"].append({"id": 40, "file_name": 5}), id="file-name-not-a-string"),
    ],
)
@pytest.mark.parametrize("skip_invalid", [True, False])
def test_invalid_records_are_reported_the_same(tmp_path, monkeypatch, mutate, skip_invalid):
    monkeypatch.setattr(_scan, "CHUNK_BYTES", 100)
    document = _document(_images(5), [_box(n, n % 5 + 1) for n in range(1, 20)])
    mutate(document)
    src = tmp_path / "instances_train.json"
    src.write_text(json.dumps(document))
    result = _same(src, monkeypatch, skip_invalid=skip_invalid)
    assert _scanned(src, monkeypatch)
    if skip_invalid:
        assert result[4], "the report names the bad record"
    else:
        assert result[0] == "error"


@pytest.mark.parametrize(
    "mutate",
    [
        pytest.param(lambda d: d["images"][0].update(id="a"), id="string-image-id"),
        pytest.param(lambda d: d["annotations"][0].update(image_id=1.0), id="float-image-id"),
        pytest.param(lambda d: d["annotations"][0].update(id=2**64 + 1), id="id-past-64-bits"),
        pytest.param(lambda d: d["annotations"].insert(0, {"id": 1, "image_id": 1, "caption": "x"}), id="captions"),
    ],
)
def test_files_the_columns_do_not_fit_are_read_whole_the_same(tmp_path, monkeypatch, mutate):
    document = _document(_images(5), [_box(n, n % 5 + 1) for n in range(1, 20)])
    mutate(document)
    src = tmp_path / "instances_train.json"
    src.write_text(json.dumps(document))
    _same(src, monkeypatch)
    assert not _scanned(src, monkeypatch)


@pytest.mark.parametrize(
    "text",
    [
        b'{"images": [{"id": 1, "file_name": "a.jpg"}], "annotations": [{"id": 1,}]}',
        b'{"images": [{"id": 1, "file_name": "a.jpg"}], "annotations": [',
        b'{"images": [], "annotations": []} trailing',
        b'\xef\xbb\xbf{"images": [{"id": 1, "file_name": "a.jpg", "width": 2, "height": 2}], "annotations": []}',
        b'{"images": [], "images": [], "annotations": []}',
    ],
    ids=["malformed", "truncated", "trailing", "byte-order-mark", "repeated-key"],
)
def test_malformed_or_odd_files_give_the_same_result(tmp_path, monkeypatch, text):
    src = tmp_path / "instances_train.json"
    src.write_bytes(text)
    _same(src, monkeypatch, skip_invalid=False)


# --- memory ----------------------------------------------------------------------------------------------------------
MEASURE = """
import sys
from pathlib import Path
import cvkit
from cvkit.core.report import Report
from cvkit.formats.coco import _bounded
_bounded.ENABLED = sys.argv[2] == "1"
list(cvkit.read(Path(sys.argv[1]).with_name("instances_other.json"), "coco", report=Report()))  # imports first
def status(key):  # VmHWM: the peak of this process image (ru_maxrss would carry the forking parent's over exec)
    return int(open("/proc/self/status").read().split(key + ":")[1].split()[0]) * 1024
before = status("VmRSS")
objects = sum(len(sample.objects) for sample in cvkit.read(sys.argv[1], "coco", report=Report()))
print(objects, status("VmHWM") - before)
"""


def _boxes_file(folder: Path, images: int, per_image: int = 25) -> Path:
    annotations = [
        _box(n * per_image + k + 1, n + 1, 1 + (k % 2) * 6, bbox=[k * 1.25, n * 0.5, 10.75, 20.5], area=220.375)
        for n in range(images)
        for k in range(per_image)
    ]
    src = folder / f"instances_{images}.json"
    src.write_text(json.dumps(_document(_images(images), annotations)))
    return src


def _added_memory(src: Path, bounded: bool) -> int:
    """Peak resident memory a read of ``src`` adds in a fresh process (its peak less its memory before)."""
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, str(src), "1" if bounded else "0"], capture_output=True, text=True, check=True
    )
    objects, added = map(int, done.stdout.split())
    assert objects == int(src.stem.split("_")[1]) * 25
    return added


def test_memory_grows_with_the_file_by_less_than_its_size(tmp_path):
    """What each further byte of JSON costs at the peak of a read: the columns hold about 64 bytes a box of about
    140 bytes of JSON (the whole-file reader: about 8 times the JSON). Measured as the difference between two files
    (10 and 20 MB), so that fixed costs (the allocator's and the kernel's huge pages, the runs in flight) cancel
    out; the bound leaves twice the room the columns need."""
    (tmp_path / "instances_other.json").write_text(json.dumps(_document(_images(1), [])))
    small, large = _boxes_file(tmp_path, 3000), _boxes_file(tmp_path, 6000)
    grown = large.stat().st_size - small.stat().st_size
    bounded = _added_memory(large, True) - _added_memory(small, True)
    whole = _added_memory(large, False) - _added_memory(small, False)
    assert bounded < grown, f"bounded reader: {bounded / grown:.2f} bytes of memory a byte of JSON"
    assert whole > 3 * grown  # the measure sees the whole-file reader's memory (the test can fail)
