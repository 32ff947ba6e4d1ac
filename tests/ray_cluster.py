"""A two-node Ray cluster on 127.0.0.1 for the tests: ``python tests/ray_cluster.py`` prints the GCS address, then
keeps the cluster up until its standard input closes (the test fixture's end), and takes it down.

Ray binds a node to the machine's outward address unless told it is a single-machine setup; the tests' traffic
must stay on loopback, so ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` is set (that makes Ray pick 127.0.0.1) and the
second node is added through ``ray.cluster_utils.Cluster`` (``ray start`` refuses a second node in that mode).
Each node is a raylet process of its own with one CPU, so a task can run on either and one can be killed.
"""

from __future__ import annotations

import os
import sys

os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

from ray.cluster_utils import Cluster

NODE = {"num_cpus": 1, "object_store_memory": 80 * 1024 * 1024, "include_dashboard": False}

if __name__ == "__main__":
    cluster = Cluster(initialize_head=True, head_node_args=NODE)
    cluster.add_node(**{k: v for k, v in NODE.items() if k != "include_dashboard"})
    cluster.wait_for_nodes()
    print(cluster.address, flush=True)
    sys.stdin.read()
    cluster.shutdown()
