"""The Ray engine against a real two-node cluster on 127.0.0.1 (started and stopped here): the executor contract
of tests/test_executor.py, plus what a cluster adds: a worker killed mid-run is retried and the results stay
whole, a task that keeps dying stops the run with a named error, and leaving early cancels the queued tasks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # loopback only (see tests/ray_cluster.py)
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

import pytest

from cvkit.core.executor import make_executor
from cvkit.errors import CvkitError, InvalidInputError
from executor_tasks import always_dies, dies_once, fails_on, scaled, slow

ray = pytest.importorskip("ray", reason="the Ray engine is an optional extra: pip install 'cvkit[ray]'")
HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def cluster_address():
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE.parent / "src"), str(HERE), os.environ.get("PYTHONPATH", "")])}
    process = subprocess.Popen([sys.executable, str(HERE / "ray_cluster.py")], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               text=True, env=env)
    try:
        address = process.stdout.readline().strip()
        assert address.startswith("127.0.0.1:"), f"cluster did not start: {address!r}"
        yield address
    finally:
        if ray.is_initialized():
            ray.shutdown()
        process.stdin.close()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()


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
