"""Streaming training from WebDataset shards: every sample once an epoch across ranks and DataLoader workers, equal
batch counts per rank, an order that changes with the epoch and repeats with the seed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

import cvkit as cvkit_api
from cvkit.cli import app

torch = pytest.importorskip("torch")
from cvkit.train.data import ManifestDataset, eval_transform, load_items  # noqa: E402
from cvkit.train.stream import ShardStream, shuffled, stream_loader  # noqa: E402
from train_fixtures import digit_folder  # noqa: E402

runner = CliRunner()
PATTERN = "train-{000000..000008}.tar"  # 600 samples in shards of 70: eight full ones and one of 40


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def digits(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("digits")
    manifest = digit_folder(root, 600, 150)
    shards = root / "shards"
    cvkit_api.convert(
        manifest, shards, to_format="webdataset", from_format="manifest", write_options={"shard_size": 70}
    )
    return manifest, shards


class Names(ManifestDataset):
    """Each sample as its name (``archive#member``), its class and its transform seed instead of an image."""

    def from_bytes(self, data, name, value, seed):
        assert data  # the image's bytes were read
        return name, value, seed


def epoch(shards: Path, world: int, workers: int, epoch: int, seed: int = 0, buffer: int = 50, batch: int = 16):
    """``{rank: [batches of (name, class, seed)]}`` of one epoch, every rank and worker driven directly."""
    items = load_items(str(shards / PATTERN)).items
    out = {}
    for rank in range(world):
        stream = ShardStream(Names(items, 10, eval_transform(28)), batch, seed, rank, world, workers, buffer)
        stream.set_epoch(epoch)
        batches = []
        for worker in range(max(1, workers)):
            info = SimpleNamespace(id=worker, num_workers=max(1, workers))
            with pytest.MonkeyPatch.context() as patch:
                patch.setattr(torch.utils.data, "get_worker_info", lambda info=info: info)
                batches += [list(zip(*b, strict=True)) for b in stream]
        assert len(batches) == len(stream)  # the DataLoader's length is the batch count
        out[rank] = batches
    return out


def names_of(ranks: dict) -> list[str]:
    return [name for batches in ranks.values() for batch in batches for name, _, _ in batch]


def test_every_sample_once_an_epoch_across_two_ranks_and_two_workers(digits):
    _, shards = digits
    items = load_items(str(shards / PATTERN)).items
    everything = {f"{items.archives[items.shard[i]]}#{items.members[i].decode()}" for i in range(len(items))}
    assert len(everything) == 600
    ranks = epoch(shards, 2, 2, 0)
    assert Counter(names_of(ranks)) == Counter(dict.fromkeys(everything, 1))
    assert len(ranks[0]) == len(ranks[1])  # DDP steps together
    # the classes travel with their images
    by_name = {
        f"{items.archives[items.shard[i]]}#{items.members[i].decode()}": int(items.targets[i]) for i in range(600)
    }
    assert all(by_name[name] == value for batches in ranks.values() for b in batches for name, value, _ in b)


def test_short_ranks_repeat_a_few_samples_to_step_together(digits):
    _, shards = digits
    ranks = epoch(shards, 7, 3, 0)  # 600 = 7 * 85 + 5: two samples repeated
    counts = Counter(names_of(ranks))
    assert len(counts) == 600 and sum(counts.values()) == 7 * 86
    assert len({len(batches) for batches in ranks.values()}) == 1
    assert len({tuple(len(b) for b in batches) for batches in ranks.values()}) == 1


def test_the_order_changes_with_the_epoch_and_repeats_with_the_seed(digits):
    _, shards = digits
    first = names_of(epoch(shards, 2, 2, 0))
    assert names_of(epoch(shards, 2, 2, 0)) == first
    assert names_of(epoch(shards, 2, 2, 1)) != first
    assert names_of(epoch(shards, 2, 2, 0, seed=1)) != first
    seeds = [s for batches in epoch(shards, 2, 2, 0).values() for b in batches for _, _, s in b]
    assert len(set(seeds)) == len(seeds)  # every sample's transform draws from its own seed


def test_the_shuffle_buffer_mixes_within_its_size():
    out = list(shuffled(iter(range(100)), 10, __import__("numpy").random.default_rng(0)))
    assert sorted(out) == list(range(100)) and out != list(range(100))
    assert all(value <= index + 10 for index, value in enumerate(out))  # never further ahead than the buffer
    assert list(shuffled(iter(range(5)), 0, None)) == list(range(5))


def test_a_dataloader_with_workers_gets_the_epoch_set_in_the_main_process(digits):
    _, shards = digits
    items = load_items(str(shards / PATTERN)).items
    stream = ShardStream(Names(items, 10, eval_transform(28)), 64, 0, 0, 1, 2, 20)
    loader = stream_loader(stream, 2, False, 2)
    seen = []
    for number in range(2):
        stream.set_epoch(number)
        batches = list(loader)
        assert len(batches) == len(loader)
        seen.append([name for names, _, _ in batches for name in names])
    assert sorted(seen[0]) == sorted(seen[1]) and len(set(seen[0])) == 600
    assert seen[0] != seen[1]


def test_training_streams_shards_to_the_accuracy_of_the_manifest(digits, tmp_path):
    manifest, shards = digits
    fast = ["--lr", "3e-3", "--optimizer", "adamw", "--device", "cpu", "--aug", "none", "--image-size", "28"]

    def run(name: str, *source: str) -> dict:
        out = tmp_path / name
        result = runner.invoke(
            app, ["train", "small_cnn", *source, "-o", str(out), "--epochs", "3", "-b", "32", "--seed", "0", *fast]
        )
        assert result.exit_code == 0, result.output
        return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()][-1]

    from_manifest = run("manifest", str(manifest), "--val-split", "val", "--workers", "0")
    val = str(shards / "val-{000000..000002}.tar")
    from_shards = run("shards", str(shards / PATTERN), "--val", val, "--workers", "2", "--shuffle-buffer", "100")
    assert from_manifest["val_top1"] > 0.5  # it learned (chance: 0.1)
    assert from_shards["val_top1"] == pytest.approx(from_manifest["val_top1"], abs=0.08)


def test_two_torchrun_ranks_stream_uneven_shards_in_step(tmp_path):
    """201 samples over 2 ranks x 2 workers: one padded sample, and both ranks take the same steps (a rank with
    fewer batches would leave the other waiting in DDP's all-reduce until the timeout)."""
    manifest = digit_folder(tmp_path / "small", 201, 40)
    shards = tmp_path / "shards"
    cvkit_api.convert(
        manifest, shards, to_format="webdataset", from_format="manifest", write_options={"shard_size": 50}
    )
    repo = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(repo / "src"), "OMP_NUM_THREADS": "1"}
    source = ["small_cnn", str(shards / "train-{000000..000004}.tar"), "--val", str(shards / "val-000000.tar")]
    options = ["--epochs", "2", "-b", "25", "--workers", "2", "--device", "cpu", "--image-size", "28", "--aug", "none"]
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    done = subprocess.run(
        [*torchrun, "-m", "cvkit", "train", *source, *options, "-o", str(tmp_path / "run"), "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout)
    assert summary["world_size"] == 2 and summary["train_items"] == 201
    steps = [json.loads(line)["step"] for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert steps == [5, 10]  # 101 samples a rank: 51 + 50 over its workers, 3 + 2 batches of 25 (100: 2 + 2)


def test_with_device_decoding_the_stream_hands_over_packed_images_the_device_transforms(digits):
    """On CUDA the trainer transforms on the device (``encoded``): the stream's packed batches, transformed there
    (here on the CPU device), equal the stream's own transform of the same images."""
    from cvkit.train.config import TrainConfig
    from cvkit.train.data import GpuJpegBatches, PackedImages

    _, shards = digits
    items = load_items(str(shards / PATTERN)).items
    batches = {}
    for encoded in (False, True):
        samples = ManifestDataset(items, 10, eval_transform(28), encoded=encoded)
        batches[encoded] = next(iter(ShardStream(samples, 8, 0, 0, 1, 0, 0)))
    (packed, targets), (images, same_targets) = batches[True], batches[False]
    assert isinstance(packed, PackedImages) and torch.equal(targets, same_targets)
    on_device = GpuJpegBatches(TrainConfig("small_cnn", "m.jsonl", image_size=28), torch.device("cpu"), False)(packed)
    assert torch.equal(on_device, images)


def test_a_resumed_stream_trains_as_an_uninterrupted_one(digits, tmp_path):
    """Epoch 2 of a resumed run streams what epoch 2 of a straight run does: the same weights (2 workers)."""
    _, shards = digits
    common = [str(shards / PATTERN), "-b", "32", "--seed", "3", "--workers", "2", "--max-steps-per-epoch", "4"]
    common += [
        "--lr",
        "3e-3",
        "--optimizer",
        "adamw",
        "--schedule",
        "constant",
        "--device",
        "cpu",
        "--image-size",
        "28",
    ]

    def train(out: Path, epochs: int, *extra: str) -> dict:
        result = runner.invoke(app, ["train", "small_cnn", *common, "-o", str(out), "--epochs", str(epochs), *extra])
        assert result.exit_code == 0, result.output
        return torch.load(out / "last.pt", weights_only=True)["model"]

    straight = train(tmp_path / "straight", 2)
    train(tmp_path / "resumed", 1)
    resumed = train(tmp_path / "resumed", 2, "--resume", str(tmp_path / "resumed" / "last.pt"))
    assert all(torch.equal(straight[k], resumed[k]) for k in straight)


def test_a_negative_seed_streams_too(digits):
    _, shards = digits
    assert sorted(names_of(epoch(shards, 1, 1, 0, seed=-5))) == sorted(names_of(epoch(shards, 1, 1, 0)))


def test_a_shard_gone_after_indexing_stops_the_stream_naming_it(digits, tmp_path):
    import shutil

    from cvkit.errors import InvalidInputError

    _, shards = digits
    copy = tmp_path / "shards"
    shutil.copytree(shards, copy)
    items = load_items(str(copy / PATTERN)).items
    stream = ShardStream(ManifestDataset(items, 10, eval_transform(28)), 16, 0, 0, 1, 0, 0)
    (copy / "train-000004.tar").unlink()
    with pytest.raises(InvalidInputError, match=r"train-000004\.tar"):
        list(stream)
