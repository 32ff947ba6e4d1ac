"""Training from WebDataset shards: the same items, order and result as from the manifest they were exported from."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import cvkit as cvkit_api
from cvkit.cli import app
from cvkit.errors import InvalidInputError

torch = pytest.importorskip("torch")
from cvkit.train.data import load_items  # noqa: E402
from cvkit.train.shards import expand_shards  # noqa: E402
from train_fixtures import digit_folder  # noqa: E402

runner = CliRunner()
FAST = [
    "--lr",
    "3e-3",
    "--optimizer",
    "adamw",
    "--device",
    "cpu",
    "--workers",
    "0",
    "--aug",
    "none",
    "--image-size",
    "28",
]


BALANCED = ["--sampler", "balanced", *FAST]


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def digits(tmp_path_factory) -> tuple[Path, Path]:
    """600 training and 150 validation digits as a manifest and as shards of 200 samples."""
    root = tmp_path_factory.mktemp("digits")
    manifest = digit_folder(root, 600, 150)
    shards = root / "shards"
    cvkit_api.convert(
        manifest, shards, to_format="webdataset", from_format="manifest", write_options={"shard_size": 200}
    )
    return manifest, shards


def test_brace_patterns_expand_with_their_zero_padding(digits):
    _, shards = digits
    paths = expand_shards(str(shards / "train-{000000..000002}.tar"))
    assert [p.name for p in paths] == ["train-000000.tar", "train-000001.tar", "train-000002.tar"]
    with pytest.raises(InvalidInputError, match="shard not found"):
        expand_shards(str(shards / "train-{000000..000003}.tar"))


def test_shard_items_are_the_manifests_items_in_order_held_as_arrays(digits):
    manifest, shards = digits
    from_manifest = load_items(manifest, exclude_splits=["val"])
    from_shards = load_items(str(shards / "train-{000000..000002}.tar"), from_manifest.class_names)
    assert isinstance(from_shards.items.targets, np.ndarray)
    assert [target for _, target, _ in from_shards.items] == [target for _, target, _ in from_manifest.items]
    assert from_shards.counts == from_manifest.counts
    from cvkit.train.data import decode_image

    for index in (0, 299, 599):  # the same pixels from the tar as from the file
        assert torch.equal(decode_image(from_shards.items[index][0]), decode_image(from_manifest.items[index][0]))


def test_a_random_access_sampler_on_shards_trains_as_on_the_manifest(digits, tmp_path):
    """Samplers that need random access (here ``balanced``) read the shards by seeks, item for item as from the
    manifest (plain shuffling streams instead: tests/test_train_stream.py)."""
    manifest, shards = digits

    def run(name: str, *source: str) -> dict:
        out = tmp_path / name
        result = runner.invoke(
            app,
            ["train", "small_cnn", *source, "-o", str(out), "--epochs", "2", "-b", "32", "--seed", "0", *BALANCED],
        )
        assert result.exit_code == 0, result.output
        return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()][-1]

    from_manifest = run("manifest", str(manifest), "--val-split", "val")
    from_shards = run("shards", str(shards / "train-{000000..000002}.tar"), "--val", str(shards / "val-000000.tar"))
    assert from_manifest["val_top1"] > 0.4  # it learned (chance: 0.1)
    assert from_shards["val_top1"] == pytest.approx(from_manifest["val_top1"])
    assert from_shards["train_loss"] == pytest.approx(from_manifest["train_loss"], rel=1e-5)
