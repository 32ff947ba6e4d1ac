"""The viewer's index: a Parquet manifest indexed from its columns answers as its JSON Lines twin does, duplicate
groups are marked on every image, and the index is built on the executor every pipeline uses."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs

import numpy as np
import pytest

from cvkit.core.executor import InProcess, using
from cvkit.core.model import Dataset, Sample
from cvkit.manifest import read_manifest, write_manifest
from cvkit.view import api
from cvkit.view.index import ViewIndex
from cvkit.view.store import ParquetStore
from test_view_api import QUERIES
from view_fixtures import photo_manifest

pytest.importorskip("pyarrow")


@pytest.fixture(scope="module")
def twins(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The photo manifest as JSON Lines and the same records written as Parquet."""
    jsonl = photo_manifest(tmp_path_factory.mktemp("photos"))
    parquet = write_manifest(read_manifest(jsonl), jsonl.with_suffix(".parquet"))
    return jsonl, parquet


@pytest.mark.parametrize("query", QUERIES)
def test_a_parquet_manifest_answers_every_filter_as_its_jsonl_twin(twins: tuple[Path, Path], query: str) -> None:
    jsonl, parquet = (ViewIndex.open(path) for path in twins)
    assert isinstance(parquet.store, ParquetStore)
    assert api.samples(parquet, parse_qs(query)) == api.samples(jsonl, parse_qs(query))
    assert api.stats(parquet, parse_qs(query)) == api.stats(jsonl, parse_qs(query))


def test_parquet_records_are_read_back_by_row_across_row_groups(tmp_path: Path, twins: tuple[Path, Path]) -> None:
    from cvkit.manifest import iter_records, read_header
    from cvkit.manifest_parquet import write_rows

    jsonl, _ = twins
    small_groups = tmp_path / "groups.parquet"
    header = read_header(jsonl)
    with open(small_groups, "wb") as handle:  # row groups of 3 rows: the 4 records span two groups
        write_rows((r for _, r in iter_records(jsonl)), lambda: header, handle, small_groups, row_group_rows=3)
    index = ViewIndex.open(small_groups)
    expected = read_manifest(jsonl).samples
    for number in (3, 0, 2, 1, 3):  # back and forth between the groups
        got = index.sample(number)
        assert (got.path, got.labels, got.objects) == (
            expected[number].path,
            expected[number].labels,
            expected[number].objects,
        )
    assert [s.path for s in index.store] == [s.path for s in expected]


def test_a_parquet_columns_arrays_match_the_jsonl_index(twins: tuple[Path, Path]) -> None:
    jsonl, parquet = (ViewIndex.open(path) for path in twins)
    for name in ("image_width", "image_height", "image_split", "obj_image", "obj_class", "label_image", "label_class"):
        assert np.array_equal(getattr(parquet.columns, name), getattr(jsonl.columns, name)), name
    assert np.array_equal(parquet.columns.obj_box, jsonl.columns.obj_box, equal_nan=True)


def test_every_image_of_a_duplicate_or_leakage_group_is_marked(tmp_path: Path, twins: tuple[Path, Path]) -> None:
    jsonl, _ = twins
    dataset = read_manifest(jsonl).materialize()
    for sample in dataset.samples:
        sample.path = str((jsonl.parent / sample.path).resolve())
    photo = Path(dataset.samples[0].path)
    copies = []
    for number in range(3):  # three copies of one photo: two in train, one in val (leakage), and a fourth...
        copy = tmp_path / f"copy{number}.png"
        copy.write_bytes(photo.read_bytes())
        copies.append(copy)
    extra = [Sample(str(c), 512, 512, split) for c, split in zip(copies, ("train", "train", "val"), strict=True)]
    twin_a, twin_b = tmp_path / "twin_a.jpg", tmp_path / "twin_b.jpg"  # ...and a pair inside one split
    rocket = Path(dataset.samples[3].path)
    for twin in (twin_a, twin_b):
        twin.write_bytes(rocket.read_bytes())
    width, height = dataset.samples[3].width, dataset.samples[3].height
    extra += [Sample(str(t), width, height, "val") for t in (twin_a, twin_b)]
    manifest = write_manifest(Dataset(dataset.samples + extra, dataset.categories), tmp_path / "dupes.jsonl")
    index = ViewIndex.open(manifest)
    leaked = api.samples(index, {"problem": ["split_leakage"]})
    # the photo itself (train) and its three copies: one group across train and val
    assert [s["index"] for s in leaked["samples"]] == [0, 4, 5, 6]
    repeated = api.samples(index, {"problem": ["duplicate_image"]})
    assert [s["index"] for s in repeated["samples"]] == [3, 7, 8]  # the rocket (val) and its two val twins
    for number in (0, 4, 5, 6):
        assert "split_leakage" in [p["check"] for p in api.detail(index, number)["problems"]]


class CountingInProcess(InProcess):
    """In-process, counting the tasks it ran."""

    def __init__(self) -> None:
        self.tasks: list[object] = []

    def map(self, function, context, tasks):  # type: ignore[no-untyped-def]
        self.tasks += list(tasks)
        return super().map(function, context, tasks)


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
def test_the_index_is_built_on_the_executor_every_pipeline_uses(
    tmp_path: Path, twins: tuple[Path, Path], suffix: str
) -> None:
    source = twins[0] if suffix == ".jsonl" else twins[1]
    manifest = tmp_path / f"copy{suffix}"
    manifest.write_bytes(source.read_bytes())
    executor = CountingInProcess()
    with using(executor):
        index = ViewIndex.open(manifest)
    assert [task[0] for task in executor.tasks] == ["columns", "starts"]  # type: ignore[index]
    assert index.num_images == 4 and api.samples(index, {"has": ["cup"]})["total"] == 1
