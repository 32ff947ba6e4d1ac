"""The Ray engine against a real two-node cluster on 127.0.0.1 (the session's: tests/conftest.py): the executor
contract of tests/test_executor.py, plus what a cluster adds: a worker killed mid-run is retried and the results stay
whole, a task that keeps dying stops the run with a named error, and leaving early cancels the queued tasks."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # loopback only (see tests/ray_cluster.py)
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

import pytest

from cvkit.core.executor import make_executor
from cvkit.errors import CvkitError, InvalidInputError
from engine_cli import cli, same_tree
from executor_tasks import always_dies, dies_once, fails_on, scaled, slow

ray = pytest.importorskip("ray", reason="the Ray engine is an optional extra: pip install 'cvkit[ray]'")
HERE = Path(__file__).resolve().parent


@pytest.fixture
def cluster_address(ray_cluster):
    """The session's cluster (tests/conftest.py)."""
    return ray_cluster


@pytest.fixture
def executor(cluster_address):
    made = make_executor("ray", address=cluster_address)
    yield made
    made.close()


def test_two_nodes_on_loopback(executor):
    nodes = [node for node in ray.nodes() if node["Alive"]]
    assert len(nodes) == 2 and {node["NodeManagerAddress"] for node in nodes} == {"127.0.0.1"}
    assert executor.workers == 2


def test_results_come_in_task_order_with_the_context(executor):
    tasks = list(range(41))
    assert list(executor.map(scaled, {"factor": 7}, tasks)) == [(t, 7 * t) for t in tasks]


def test_on_done_hears_of_every_completed_task_once(executor):
    done: list[int] = []
    results = list(executor.map(scaled, {"factor": 5}, list(range(30)), on_done=lambda i, _r: done.append(i)))
    assert results == [(t, 5 * t) for t in range(30)]
    assert sorted(done) == list(range(30))  # in completion order, each once


def test_a_task_error_is_raised_as_itself_at_its_place(executor):
    seen = []
    with pytest.raises(InvalidInputError) as caught:
        for value in executor.map(fails_on, {"bad": 3}, list(range(10))):
            seen.append(value)
    assert seen == [0, 1, 2]
    assert caught.value.describe() == "item3.xml:object[0]: bad value"


def test_a_killed_worker_is_retried_and_nothing_is_lost(executor, tmp_path):
    context = {"victim": 4, "marker": str(tmp_path / "died")}
    assert list(executor.map(dies_once, context, list(range(12)))) == [t * 2 for t in range(12)]
    assert (tmp_path / "died").exists()  # the first attempt really died


def test_a_task_that_keeps_dying_stops_the_run_with_a_named_error(cluster_address):
    executor = make_executor("ray", address=cluster_address)
    executor.max_retries = 1
    with pytest.raises(CvkitError, match=r"task 2 was lost on the Ray cluster after 1 retries"):
        list(executor.map(always_dies, {"victim": 2}, list(range(6))))


def test_leaving_early_cancels_the_rest(executor):
    results = executor.map(slow, {"seconds": 0.2}, list(range(50)))
    assert next(results) == 0
    results.close()
    assert executor._pending == []


# --- the CLI on the cluster: the same bytes as the local engine ---------------------------------------------------

VOC_XML = """<annotation><folder>VOC</folder><filename>{name}.jpg</filename><size><width>64</width><height>48</height>
<depth>3</depth></size><object><name>{label}</name><pose>Unspecified</pose><truncated>0</truncated><difficult>0</difficult>
<bndbox><xmin>{x}</xmin><ymin>5</ymin><xmax>{x2}</xmax><ymax>30</ymax></bndbox></object></annotation>
"""


def voc_tree(root: Path, files: int) -> Path:
    """A VOC tree of ``files`` annotations (sizes in the XML: no image needs opening) with a train/val split."""
    (root / "Annotations").mkdir(parents=True)
    (root / "ImageSets" / "Main").mkdir(parents=True)
    names = [f"img{i:06d}" for i in range(files)]
    for i, name in enumerate(names):
        label = ("cat", "dog", "bird")[i % 3]
        (root / "Annotations" / f"{name}.xml").write_text(
            VOC_XML.format(name=name, label=label, x=1 + i % 20, x2=30 + i % 30)
        )
    (root / "ImageSets" / "Main" / "train.txt").write_text("\n".join(names[: files * 4 // 5]) + "\n")
    (root / "ImageSets" / "Main" / "val.txt").write_text("\n".join(names[files * 4 // 5 :]) + "\n")
    return root


CORPUS_CASES = [
    ("voc/voc_dataset1", "coco"),
    ("coco/coco_instances", "yolo"),
    ("labelme_json/instance_segmentation", "coco"),
]


@pytest.mark.parametrize(("dataset", "target"), CORPUS_CASES, ids=[f"{d}->{t}" for d, t in CORPUS_CASES])
def test_cli_conversion_on_ray_gives_the_local_bytes(cluster_address, tmp_path, dataset, target):
    from conftest import corpus_path

    source = corpus_path(*dataset.split("/"))
    local = cli("convert", source, tmp_path / "local", "--to", target)
    assert local.returncode == 0, local.stderr
    on_ray = cli(
        "convert", source, tmp_path / "ray", "--to", target, "--engine", "ray", "--ray-address", cluster_address
    )
    assert on_ray.returncode == 0, on_ray.stderr
    assert re.search(r"engine ray: [1-9]\d* task\(s\) ran on the cluster", on_ray.stderr), on_ray.stderr
    same_tree(tmp_path / "local", tmp_path / "ray")


def test_a_20k_file_tree_converts_and_ingests_on_ray_as_locally(cluster_address, tmp_path):
    tree = voc_tree(tmp_path / "voc", 20_000)
    for command, extra in (("convert", ["--to", "coco"]), ("ingest", [])):
        local_out = (
            tmp_path / f"{command}-local" / "out.jsonl" if command == "ingest" else tmp_path / f"{command}-local"
        )
        ray_out = tmp_path / f"{command}-ray" / "out.jsonl" if command == "ingest" else tmp_path / f"{command}-ray"
        target = ["-o", local_out] if command == "ingest" else [local_out]
        local = cli(command, tree, *target, *extra, "--json")
        assert local.returncode == 0, local.stderr
        target = ["-o", ray_out] if command == "ingest" else [ray_out]
        env = {"CVKIT_ENGINE": "ray", "RAY_ADDRESS": cluster_address}  # the environment's switches, not the flags
        on_ray = cli(command, tree, *target, *extra, "--json", env=env)
        assert on_ray.returncode == 0, on_ray.stderr
        assert re.search(r"engine ray: [1-9]\d* task\(s\) ran on the cluster", on_ray.stderr), on_ray.stderr
        assert json.loads(on_ray.stdout) == json.loads(local.stdout)  # the same counts, losses and skipped items
        same_tree(
            local_out if command == "convert" else local_out.parent, ray_out if command == "convert" else ray_out.parent
        )
