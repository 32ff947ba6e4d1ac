"""``cvkit view``'s index and JSON answers, checked against a plain loop over the samples and against cvkit
stats/validate."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs

import numpy as np
import pytest

import cvkit
from conftest import corpus_path
from cvkit.core.model import Sample
from cvkit.errors import CvkitError
from cvkit.manifest import read_manifest, write_manifest
from cvkit.view import api
from cvkit.view.index import Filter, ViewIndex
from view_fixtures import photo_manifest

SMALL, MEDIUM = 32 * 32, 96 * 96


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return photo_manifest(tmp_path_factory.mktemp("photos"))


def _size_of(box: tuple[float, float, float, float] | None) -> str | None:
    if box is None:
        return None
    area = box[2] * box[3]
    return "small" if area < SMALL else "medium" if area < MEDIUM else "large"


def _attribute_texts(sample: Sample) -> set[str]:
    found = set()
    for attributes in [sample.attributes] + [o.attributes for o in sample.objects]:
        for key, value in attributes.items():
            found.add(key)
            found.add(f"{key}={str(value).lower() if isinstance(value, bool) else value}")
    return found


def expected(samples: list[Sample], query: str) -> list[int]:
    """The filter written as the docs describe it, one sample at a time (the oracle for the vectorised index)."""
    q = parse_qs(query)
    kept = []
    for i, s in enumerate(samples):
        classes = {o.label for o in s.objects} | set(s.labels)
        ok = True
        if "size" in q:
            ok &= any(
                _size_of(o.ensure_bbox()) in q["size"] and ("has" not in q or o.label in q["has"]) for o in s.objects
            )
        elif "has" in q:
            ok &= bool(classes & set(q["has"]))
        ok &= not classes & set(q.get("lacks", []))
        ok &= "split" not in q or s.split in q["split"]
        ok &= "label" not in q or bool(set(s.labels) & set(q["label"]))
        ok &= "min_objects" not in q or len(s.objects) >= int(q["min_objects"][0])
        ok &= "max_objects" not in q or len(s.objects) <= int(q["max_objects"][0])
        ok &= "min_width" not in q or (s.width or 0) >= float(q["min_width"][0])
        ok &= all(a in _attribute_texts(s) for a in q.get("attr", []))
        if ok:
            kept.append(i)
    return kept


QUERIES = [
    "",
    "has=person",
    "lacks=person",
    "split=val",
    "size=small",
    "size=large",
    "has=person&size=large",
    "has=flag&size=large",
    "has=cat&has=cup",
    "min_objects=1&max_objects=1",
    "label=cat",
    "attr=occluded=true",
    "attr=occluded",
    "attr=weather",
    "min_width=500",
    "split=train&lacks=flag",
    "has=rocket&split=train",
]


@pytest.mark.parametrize("query", QUERIES)
def test_filters_keep_what_a_loop_over_the_samples_keeps(photos: Path, query: str) -> None:
    index = ViewIndex.open(photos)
    samples = read_manifest(photos).samples
    answer = api.samples(index, parse_qs(query))
    assert [s["index"] for s in answer["samples"]] == expected(samples, query)
    assert answer["total"] == len(expected(samples, query))


def test_the_filter_round_trips_through_the_query_string() -> None:
    query = parse_qs("has=cat&has=dog&size=small&min_objects=2&max_width=640&attr=occluded=true")
    given = Filter.from_query(query)
    assert Filter.from_query(given.to_query()) == given
    assert given.to_query()["has"] == ["cat", "dog"]


@pytest.mark.parametrize(
    "query", ["has=unicorn", "size=huge", "min_objects=two", "problem=not_a_check", "offset=-1", "hass=cat"]
)
def test_a_bad_filter_is_refused_with_a_message(photos: Path, query: str) -> None:
    index = ViewIndex.open(photos)
    with pytest.raises(CvkitError):
        api.samples(index, parse_qs(query))


def test_pages_cut_the_filtered_images_in_order(photos: Path) -> None:
    index = ViewIndex.open(photos)
    first = api.samples(index, {"limit": ["3"]})
    second = api.samples(index, {"limit": ["3"], "offset": ["3"]})
    assert [s["index"] for s in first["samples"]] == [0, 1, 2]
    assert [s["index"] for s in second["samples"]] == [3]
    assert first["total"] == second["total"] == 4


def test_the_manifest_is_read_back_a_record_at_a_time_as_the_reader_reads_it(photos: Path) -> None:
    index = ViewIndex.open(photos)
    assert index.format_name == "manifest"
    for number, sample in enumerate(read_manifest(photos).samples):
        assert index.sample(number) == sample


def test_blank_lines_in_a_manifest_do_not_shift_the_records(tmp_path: Path, photos: Path) -> None:
    lines = photos.read_bytes().split(b"\n")
    spaced = tmp_path / "spaced.jsonl"
    spaced.write_bytes(b"\n".join([lines[0], lines[1], b"", b"  ", *lines[2:]]))
    index = ViewIndex.open(spaced)
    assert [index.sample(i).path for i in range(index.num_images)] == [s.path for s in read_manifest(photos).samples]


@pytest.mark.parametrize("query", ["", "has=person", "split=val", "size=large"])
def test_stats_of_a_view_are_cvkit_stats_of_those_images(tmp_path: Path, photos: Path, query: str) -> None:
    from cvkit.stats import dataset_stats
    from cvkit.stats.options import ImbalanceOptions

    index = ViewIndex.open(photos)
    dataset = read_manifest(photos).materialize()
    kept = expected(dataset.samples, query)
    subset = tmp_path / "subset.jsonl"
    write_manifest(
        cvkit.core.model.Dataset([dataset.samples[i] for i in kept], dataset.categories, root=photos.parent), subset
    )
    oracle = dataset_stats(subset, imbalance=ImbalanceOptions())
    doc = api.stats(index, parse_qs(query))
    assert doc["images"] == oracle["images"] == len(kept)
    assert doc["classes"] == oracle["classes"]
    assert doc["boxes"]["sizes"] == oracle["boxes"]["sizes"]
    assert doc["boxes"]["aspect_ratio"] == oracle["boxes"]["aspect_ratio"]
    assert {k: v for k, v in doc["imbalance"].items() if k != "weights"} == {
        k: v for k, v in oracle["imbalance"].items() if k != "weights"
    }


def test_problem_filter_finds_the_images_cvkit_validate_reports(tmp_path: Path, photos: Path) -> None:
    from cvkit.stats.validate import validate_dataset

    dataset = read_manifest(photos).materialize()
    broken = dataset.samples
    broken[1].objects[0].bbox = (500.0, 300.0, 300.0, 220.0)  # reaches past the 600x400 image
    broken[3].path = "images/gone.jpg"
    bad = tmp_path / "bad.jsonl"
    for sample in broken:
        sample.path = (
            str((photos.parent / sample.path).resolve())
            if sample.path != "images/gone.jpg"
            else str(tmp_path / "gone.jpg")
        )
    write_manifest(dataset, bad)
    findings = validate_dataset(bad, examples=100).to_dict()["checks"]
    index = ViewIndex.open(bad)
    for check in ("box_out_of_bounds", "missing_image"):
        flagged = {e["image"] for e in findings[check]["examples"]}
        answer = api.samples(index, {"problem": [check]})
        assert {index.sample(s["index"]).path for s in answer["samples"]} == flagged and flagged
    assert api.problems(index)["images"] == {"box_out_of_bounds": 1, "missing_image": 1}
    assert api.samples(index, {"problem": ["any"]})["total"] == 2
    detail = api.detail(index, 1)
    assert [p["check"] for p in detail["problems"]] == ["box_out_of_bounds"]


def test_any_format_cvkit_reads_is_viewed_with_its_annotations() -> None:
    source = corpus_path("coco", "coco_instances")
    dataset = cvkit.read(source).materialize()
    index = ViewIndex.open(source)
    assert index.format_name == "coco" and index.num_images == len(dataset.samples)
    page = api.samples(index, {})
    for doc, sample in zip(page["samples"], dataset.samples, strict=True):
        assert doc["path"] == sample.path
        assert [o["bbox"] for o in doc["objects"]] == [list(o.ensure_bbox()) for o in sample.objects]
    detail = api.detail(index, 1)
    assert detail["objects"][0]["attributes"] == {"x": 1, "y": "hello"}
    assert Path(detail["file"]) == dataset.samples[1].resolve(dataset.root)


def test_meta_lists_classes_with_distinct_colours_and_the_splits(photos: Path) -> None:
    meta = api.meta(ViewIndex.open(photos))
    assert [c["name"] for c in meta["classes"]] == ["person", "cup", "cat", "rocket", "flag"]
    assert len({c["colour"] for c in meta["classes"]}) == 5
    assert meta["splits"] == ["train", "val"] and meta["images"] == 4 and meta["objects"] == 6


def test_select_answers_with_arrays_not_per_sample_work(photos: Path) -> None:
    index = ViewIndex.open(photos)
    chosen = index.select(Filter(has=["person"]))
    assert isinstance(chosen, np.ndarray) and chosen.tolist() == [0]


def test_a_manifest_index_is_stored_once_and_rebuilt_when_the_manifest_changes(tmp_path: Path, photos: Path) -> None:
    from cvkit.view.cache import index_folder

    manifest = tmp_path / "copy.jsonl"
    manifest.write_bytes(photos.read_bytes())
    folder = index_folder(manifest)
    assert not folder.exists()
    first = ViewIndex.open(manifest)
    assert (folder / "stats.json").is_file()
    stored = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    again = ViewIndex.open(manifest)
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == stored  # read back, not built again
    assert np.array_equal(again.columns.obj_box, first.columns.obj_box, equal_nan=True)
    lines = manifest.read_bytes().splitlines(keepends=True)
    manifest.write_bytes(b"".join(lines[:3]))  # two records left
    changed = ViewIndex.open(manifest)
    assert changed.num_images == 2 and index_folder(manifest) != folder


def test_a_bad_record_is_a_clean_error_naming_its_line(tmp_path: Path, photos: Path) -> None:
    from hostile.harness import assert_clean_error, cvkit

    lines = photos.read_bytes().splitlines(keepends=True)
    broken = tmp_path / "broken.jsonl"
    broken.write_bytes(b"".join([*lines[:2], b'{"image": "x.jpg", "objects": [{"label": "unicorn"}]}\n', *lines[2:]]))
    run = cvkit("view", broken, "--no-browser")
    assert_clean_error(run, names="line 3")


def test_a_dataset_too_large_to_validate_in_the_viewer_says_so(photos: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from cvkit.view import index as index_module

    monkeypatch.setattr(index_module, "VALIDATE_UP_TO", 3)
    with pytest.raises(CvkitError, match="cvkit validate"):
        api.samples(ViewIndex.open(photos), {"problem": ["any"]})
