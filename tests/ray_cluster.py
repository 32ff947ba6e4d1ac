"""A two-node Ray cluster on 127.0.0.1 for the tests: ``python tests/ray_cluster.py`` prints the GCS address, then
keeps the cluster up until its standard input closes, and takes it down (``python tests/ray_cluster.py 1``: the head
node alone). :func:`running_cluster` runs it for a
test session (the ``ray_cluster`` fixture of tests/conftest.py: one cluster for every Ray test).

Ray binds a node to the machine's outward address unless told it is a single-machine setup; the tests' traffic
must stay on loopback, so ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` is set (that makes Ray pick 127.0.0.1) and the
second node is added through ``ray.cluster_utils.Cluster`` (``ray start`` refuses a second node in that mode).
Each node is a raylet process of its own with one CPU, so a task can run on either and one can be killed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

HERE = Path(__file__).resolve().parent
NODE = {"num_cpus": 1, "object_store_memory": 80 * 1024 * 1024, "include_dashboard": False}


@contextmanager
def running_cluster(nodes: int = 2) -> Iterator[str]:
    """Start a cluster of ``nodes`` one-CPU nodes in a process of its own, yield its address, and stop it (a driver
    this process connected is shut down first). benchmarks/ray_engine.py uses it too."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(HERE.parent / "src"), str(HERE), os.environ.get("PYTHONPATH", "")]),
    }
    process = subprocess.Popen(
        [sys.executable, str(HERE / "ray_cluster.py"), str(nodes)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None and process.stdin is not None
        address = process.stdout.readline().strip()
        if not address.startswith("127.0.0.1:"):
            raise RuntimeError(f"the test Ray cluster did not start: {address!r}")
        yield address
    finally:
        import ray

        if ray.is_initialized():
            ray.shutdown()
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


if __name__ == "__main__":
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args=NODE)
    for _ in range(int(sys.argv[1]) - 1 if len(sys.argv) > 1 else 1):
        cluster.add_node(**{k: v for k, v in NODE.items() if k != "include_dashboard"})
    cluster.wait_for_nodes()
    print(cluster.address, flush=True)
    sys.stdin.read()
    cluster.shutdown()
