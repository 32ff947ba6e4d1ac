"""Regression tests for the trainer's defects (issue 18): weights counted per split, exact and strict resume,
per-rank seeds and the loss over ranks, and validation progress."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cvkit.cli import app
from cvkit.core.model import Dataset, Sample
from cvkit.manifest import write_manifest

torch = pytest.importorskip("torch")
from train_fixtures import digit_classes, digit_folder  # noqa: E402

runner = CliRunner()
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# --- 1. class weights count the split they say ----------------------------------------------------
def _imbalanced_manifest(path: Path) -> Path:
    """Digits 0-4 x 400 and 5-9 x 20 in train, 50 of each in val (no pixels needed to count)."""
    samples = [
        Sample(f"train/{d}_{i}.png", 28, 28, "train", labels=[f"digit_{d}"])
        for d in range(10)
        for i in range(400 if d < 5 else 20)
    ]
    samples += [Sample(f"val/{d}_{i}.png", 28, 28, "val", labels=[f"digit_{d}"]) for d in range(10) for i in range(50)]
    return write_manifest(
        Dataset(samples, digit_classes(list(range(10))), root=path.parent, source_format="test"), path
    )


def test_stats_split_gives_the_training_splits_balanced_weights_and_says_so(tmp_path: Path):
    manifest = _imbalanced_manifest(tmp_path / "m.jsonl")
    counted = tmp_path / "train.json"
    result = runner.invoke(
        app,
        ["stats", str(manifest), "--split", "train", "--weights-out", str(counted), "--method", "balanced", "--json"],
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(counted.read_text())
    # N / (C * n_c): 2100 / (10 * 400) = 0.525 and 2100 / (10 * 20) = 10.5
    assert [doc["weights"][f"digit_{d}"] for d in range(10)] == pytest.approx([0.525] * 5 + [10.5] * 5)
    assert doc["split"] == "train" and json.loads(result.stdout)["counted_split"] == "train"
    every = tmp_path / "all.json"
    assert (
        runner.invoke(app, ["stats", str(manifest), "--weights-out", str(every), "--method", "balanced"]).exit_code == 0
    )
    whole = json.loads(every.read_text())
    assert whole["split"] is None and whole["weights"]["digit_9"] == pytest.approx(2600 / (10 * 70))  # val counted too


def test_trainer_warns_when_the_weights_file_counted_other_splits(tmp_path: Path):
    from cvkit.train.config import TrainConfig
    from cvkit.train.trainer import prepare_items, resolve_class_weights

    manifest = _imbalanced_manifest(tmp_path / "m.jsonl")
    for name, args in (("train.json", ["--split", "train"]), ("all.json", [])):
        assert runner.invoke(app, ["stats", str(manifest), *args, "--weights-out", str(tmp_path / name)]).exit_code == 0
    train, _ = prepare_items(TrainConfig("small_cnn", str(manifest)))
    weights, warning = resolve_class_weights(str(tmp_path / "train.json"), train)
    assert warning is None and weights[0] == pytest.approx(0.525)
    _, warning = resolve_class_weights(str(tmp_path / "all.json"), train)
    assert warning == (
        f"warning: {tmp_path / 'all.json'} counted every split, but training uses only train; "
        "write it with `cvkit stats --split train` for weights of the training data"
    )


# --- 6. and 7. resume ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def digits(tmp_path_factory) -> Path:
    return digit_folder(tmp_path_factory.mktemp("digits"), 160, 40)


RESUMABLE = [
    "--lr",
    "3e-3",
    "--optimizer",
    "adamw",
    "--device",
    "cpu",
    "--image-size",
    "28",
    "-b",
    "16",
    "--max-steps-per-epoch",
    "3",
    "--schedule",
    "constant",
    "--mixup",
    "0.2",
    "--ema",
    "0.9",
    "--seed",
    "3",
]


def cvkit(*args: object) -> str:
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, (result.output, result.exception)
    return result.stdout


@pytest.mark.parametrize("workers", ["0", "2"])
def test_resume_after_two_epochs_ends_bit_exactly_where_four_straight_epochs_do(
    digits: Path, tmp_path: Path, workers: str
):
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    cvkit("train", "small_cnn", digits, "-o", straight, "--epochs", 4, "--workers", workers, *RESUMABLE)
    cvkit("train", "small_cnn", digits, "-o", resumed, "--epochs", 2, "--workers", workers, *RESUMABLE)
    cvkit(
        "train", "small_cnn", digits, "-o", resumed, "--epochs", 4, "--resume", resumed / "last.pt"
    )  # options from the checkpoint
    a, b = (torch.load(run / "last.pt", weights_only=True) for run in (straight, resumed))
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    assert all(torch.equal(a["ema"][k], b["ema"][k]) for k in a["ema"])

    def drop_timing(run: Path) -> list[dict]:
        rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
        return [{k: v for k, v in row.items() if k not in ("images_per_s", "seconds")} for row in rows]

    assert drop_timing(straight) == drop_timing(resumed)


def test_resume_with_another_optimizer_is_refused_before_anything_is_written(digits: Path, tmp_path: Path):
    from hostile.harness import assert_clean_error, assert_nothing_written, snapshot
    from hostile.harness import cvkit as cvkit_process

    run = tmp_path / "run"
    cvkit("train", "small_cnn", digits, "-o", run, "--epochs", 1, "--workers", "0", *RESUMABLE)
    before = snapshot(run)
    resume = ["train", "small_cnn", digits, "-o", run, "--epochs", "2", "--resume", run / "last.pt"]
    refused = cvkit_process(*resume, "--optimizer", "sgd", "--lr", "0.1", env={"PYTHONPATH": str(REPO / "src")})
    assert_clean_error(refused, 2, names="--optimizer sgd (the checkpoint has adamw)")
    assert refused.stderr == (
        f"error: {run / 'last.pt'}: a resumed run keeps the options it was trained with; "
        "drop these or start a new run: --lr 0.1 (the checkpoint has 0.003); --optimizer sgd (the checkpoint has "
        "adamw)\n"
    )
    assert_nothing_written(before, run)
    # the checkpoint's own options, and those that do not change what is learnt, are fine
    cvkit(*resume, "--optimizer", "adamw", "--workers", "0")
    assert [json.loads(line)["epoch"] for line in (run / "metrics.jsonl").read_text().splitlines()] == [1, 2]


# --- 10. per-rank seeds and the loss over every rank -----------------------------------------------
RANK_SCRIPT = """
import json, os, sys
import torch, torch.distributed as dist
from cvkit.train.loop import mean_over_ranks
from cvkit.train.rng import rank_seed, seed_everything
dist.init_process_group("gloo")
rank = dist.get_rank()
seed_everything(rank_seed(5, rank))
draw = torch.rand(3).tolist()
# rank 0 saw 2 images with losses summing to 3.0, rank 1 saw 6 summing to 3.0: the epoch's loss is 6 / 8
mean = mean_over_ranks(torch.tensor(3.0), 2 if rank == 0 else 6, torch.device("cpu"))
print(json.dumps({"rank": rank, "draw": draw, "mean": mean}))
dist.barrier()
dist.destroy_process_group()
"""


def test_two_gloo_ranks_draw_different_streams_and_log_the_loss_of_all_images():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO / "src"),
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": str(port),
        "WORLD_SIZE": "2",
        "OMP_NUM_THREADS": "1",
    }
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", RANK_SCRIPT],
            env={**env, "RANK": str(rank)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for rank in (0, 1)
    ]
    outputs = [p.communicate(timeout=120) for p in processes]
    assert all(p.returncode == 0 for p in processes), [err[-2000:] for _, err in outputs]
    results = [json.loads(out.strip().splitlines()[-1]) for out, _ in outputs]
    assert [r["mean"] for r in results] == [pytest.approx(0.75)] * 2
    assert results[0]["draw"] != results[1]["draw"]
    torch.manual_seed(5)
    assert results[0]["draw"] == pytest.approx(torch.rand(3).tolist())  # rank 0 keeps the run's own seed


# --- validation progress ----------------------------------------------------------------------------
def test_validation_reports_progress_batch_by_batch(digits: Path):
    from cvkit.train.data import EvalShardSampler, ManifestDataset, eval_transform, load_items, make_loader
    from cvkit.train.loop import DistEnv, StepContext, collect_logits
    from cvkit.train.models import SmallCNN

    items = load_items(digits, split="val")
    loader = make_loader(
        ManifestDataset(items.items, 10, eval_transform(28)), 16, EvalShardSampler(len(items)), 0, False, 2, 0
    )
    seen: list[tuple[int, int]] = []
    logits, _ = collect_logits(
        SmallCNN(10),
        loader,
        StepContext(torch.device("cpu"), None, False),
        DistEnv(),
        lambda done, total: seen.append((done, total)),
    )
    assert seen == [(1, 3), (2, 3), (3, 3)] and logits.shape == (40, 10)  # 40 images in batches of 16
