"""Two training nodes on one machine: two ``torchrun`` launches joined by c10d rendezvous on 127.0.0.1 (gloo), as
two machines of a cluster would be, reach the same final metrics as one process with the same global batch."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from train_fixtures import digit_folder

REPO = Path(__file__).resolve().parents[1]
TRAIN = [
    "small_cnn",
    "--epochs",
    "5",
    "--lr",
    "1e-2",
    "--optimizer",
    "adamw",
    "--image-size",
    "28",
    "--device",
    "cpu",
    "--workers",
    "0",
    "--seed",
    "0",
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def loopback_env() -> dict[str, str]:
    """Every socket of the run on loopback: gloo's and the rendezvous store's."""
    return {
        **os.environ,
        "PYTHONPATH": str(REPO / "src"),
        "OMP_NUM_THREADS": "1",
        "GLOO_SOCKET_IFNAME": "lo",
        "TP_SOCKET_IFNAME": "lo",
        "MASTER_ADDR": "127.0.0.1",
        "CVKIT_NO_FAST_EXIT": "1",
    }


def final_metrics(run: Path) -> dict:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()][-1]


@pytest.fixture(scope="module")
def digits(tmp_path_factory) -> Path:
    return digit_folder(tmp_path_factory.mktemp("digits"), 480, 120)


def test_two_torchrun_nodes_reach_one_process_metrics(digits: Path, tmp_path: Path):
    env = loopback_env()
    single = subprocess.run(
        [sys.executable, "-m", "cvkit", "train", TRAIN[0], digits, *TRAIN[1:], "-b", "64", "-o", tmp_path / "single"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert single.returncode == 0, single.stderr[-3000:]

    port = free_port()
    nodes = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "torch.distributed.run",
                "--nnodes",
                "2",
                "--nproc-per-node",
                "1",
                "--rdzv-backend",
                "c10d",
                "--rdzv-endpoint",
                f"127.0.0.1:{port}",
                "--rdzv-id",
                "cvkit-test",
                "--local-addr",
                "127.0.0.1",
                "-m",
                "cvkit",
                "train",
                TRAIN[0],
                str(digits),
                *TRAIN[1:],
                "-b",
                "32",
                "-o",
                str(tmp_path / "two-nodes"),
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _node in range(2)
    ]
    outputs = [node.communicate(timeout=600) for node in nodes]
    assert all(node.returncode == 0 for node in nodes), [err[-3000:] for _, err in outputs]

    one, two = final_metrics(tmp_path / "single"), final_metrics(tmp_path / "two-nodes")
    assert two["epoch"] == one["epoch"] == 5
    # the same global batch (2 x 32 = 64) and data; different per-rank random streams: equal within noise
    assert abs(two["val_top1"] - one["val_top1"]) <= 0.08, (one, two)
    assert one["val_top1"] > 0.5 and two["val_top1"] > 0.5, (one, two)  # both really learned (chance is 0.1)
