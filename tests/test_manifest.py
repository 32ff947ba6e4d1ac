"""The manifest: schema-valid, streamed, movable, readable by plain tools."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import cvkit
from cvkit.errors import InvalidInputError
from cvkit.manifest import load_schema, read_manifest


def validate_manifest(path: Path) -> list[dict]:
    jsonschema = pytest.importorskip("jsonschema")
    schema = load_schema()
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    jsonschema.validate(lines[0], {**schema, "$ref": "#/$defs/header"})
    for record in lines[1:]:
        jsonschema.validate(record, {**schema, "$ref": "#/$defs/record"})
    return lines


@pytest.mark.parametrize(
    "dataset",
    [("voc", "voc_dataset1"), ("voc", "voc_dataset2"), ("coco", "coco_instances"), ("coco", "coco_person_keypoints")],
)
def test_real_datasets_give_schema_valid_manifests(corpus, tmp_path, dataset):
    cvkit.convert(corpus(*dataset), tmp_path / "m.jsonl", to_format="manifest")
    lines = validate_manifest(tmp_path / "m.jsonl")
    assert lines[0]["schema"] == "cvkit.manifest" and len(lines) > 1


def test_schema_rejects_a_box_with_three_numbers():
    jsonschema = pytest.importorskip("jsonschema")
    record = {"image": "a.jpg", "width": 4, "height": 4, "objects": [{"label": "a", "bbox": [0, 0, 1]}]}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(record, {**load_schema(), "$ref": "#/$defs/record"})


def test_image_paths_are_relative_so_the_folder_can_move(tmp_path, small):
    cvkit.write(small, tmp_path / "src" / "m.jsonl", format="manifest")
    shutil.move(tmp_path / "src", tmp_path / "moved")
    ds = read_manifest(tmp_path / "moved" / "m.jsonl")
    assert all(s.resolve(ds.root).is_file() for s in ds)


def test_records_stream_one_line_at_a_time(tmp_path, small):
    path = tmp_path / "m.jsonl"
    cvkit.write(small, path, format="manifest")
    with open(path, "a") as handle:
        handle.write("{not json\n")
    stream = iter(read_manifest(path))
    assert next(stream).path == "src/images/cat_01.jpg"  # earlier records arrive before the bad line is reached
    with pytest.raises(InvalidInputError) as info:
        list(stream)
    assert info.value.describe().endswith("m.jsonl:line 5: not valid JSON at column 2")


def test_categories_hierarchy_and_ids_travel_in_the_header(tmp_path, small):
    small.hierarchy.add_edge("cat", "animal")
    small.hierarchy.add_edge("dog", "animal")
    cvkit.write(small, tmp_path / "m.jsonl", format="manifest")
    header = json.loads((tmp_path / "m.jsonl").read_text().splitlines()[0])
    assert header["categories"] == [
        {"id": 3, "name": "cat", "parents": ["animal"]},
        {"id": 7, "name": "dog", "parents": ["animal"]},
    ]
    back = read_manifest(tmp_path / "m.jsonl")
    assert back.hierarchy.ancestors("dog") == {"animal": 1}


def test_pandas_reads_the_records(tmp_path, small):
    import pandas

    cvkit.write(small, tmp_path / "m.jsonl", format="manifest")
    frame = pandas.read_json(tmp_path / "m.jsonl", lines=True).iloc[1:]
    assert list(frame["image"]) == ["src/images/cat_01.jpg", "src/images/dog_02.png", "src/images/empty_03.jpg"]


def test_unknown_label_is_an_error_naming_the_line(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_text(
        '{"type":"header","schema":"cvkit.manifest","version":1,"categories":[{"id":1,"name":"a"}]}\n'
        '{"image":"x.jpg","width":2,"height":2,"objects":[{"label":"zebra","bbox":[0,0,1,1]}]}\n'
    )
    with pytest.raises(InvalidInputError) as info:
        list(read_manifest(path))
    assert info.value.describe() == f"{path}:line 2: label 'zebra' is not in the header's categories"
