"""``cvkit models``: torchvision's published size/compute/accuracy, cvkit's own models counted, --measure, errors."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from cvkit.cli import app

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")
from cvkit.train.model_table import count_gflops, model_table  # noqa: E402
from cvkit.train.models import create  # noqa: E402
from hostile.harness import assert_clean_error, cvkit  # noqa: E402

runner = CliRunner()


def rows_by_name(*args: str) -> dict[str, dict]:
    result = runner.invoke(app, ["models", *args, "--json"])
    assert result.exit_code == 0, (result.output, result.exception)
    return {row["name"]: row for row in json.loads(result.stdout)}


def test_every_model_is_listed_with_torchvisions_published_metadata():
    rows = rows_by_name()
    torchvision_names = torchvision.models.list_models(module=torchvision.models)
    assert set(rows) == {*torchvision_names, "small_cnn", "bagnet9", "bagnet17", "bagnet33"}
    for name in torchvision_names:
        meta = torchvision.models.get_model_weights(name).DEFAULT.meta
        row = rows[name]
        assert row["source"] == "torchvision"
        assert row["params"] == meta["num_params"] and row["gflops"] == meta["_ops"]
        assert (row["top1"], row["top5"]) == (
            meta["_metrics"]["ImageNet-1K"]["acc@1"],
            meta["_metrics"]["ImageNet-1K"]["acc@5"],
        )
    assert (
        rows["resnet50"]["top1"] == 80.858 and rows["inception_v3"]["image_size"] == 299
    )  # the V2 weights; 299 px crop


@pytest.mark.parametrize("name", ["resnet18", "bagnet9", "small_cnn"])
def test_parameter_counts_equal_the_built_models(name: str):
    built = sum(p.numel() for p in create(name).parameters())
    assert model_table([name])[0]["params"] == built


def test_the_compute_count_reproduces_torchvisions_gflops():
    """The counter used for cvkit's own models gives torchvision's published _ops on a torchvision model."""
    with torch.device("meta"):
        counted = count_gflops(torchvision.models.resnet18(), 224)
    assert round(counted, 3) == torchvision.models.ResNet18_Weights.DEFAULT.meta["_ops"]
    own = model_table(["bagnet33"])[0]
    assert own["top1"] is None and own["gflops"] > model_table(["bagnet9"])[0]["gflops"] * 0.9


def test_measure_times_forward_and_training_steps_on_this_machine():
    row = rows_by_name("small_cnn", "--measure", "--image-size", "16", "-b", "4", "--steps", "1", "--device", "cpu")[
        "small_cnn"
    ]
    assert row["forward_images_per_s"] > 0 and row["train_images_per_s"] > 0
    assert (row["device"], row["measure_size"], row["batch"]) == ("cpu", 16, 4)
    table = runner.invoke(app, ["models", "small_cnn", "resnet18"])
    assert table.exit_code == 0 and "69.76" in table.stdout and "small_cnn" in table.stdout


@pytest.mark.parametrize("args", [["no_such_net"], ["small_cnn", "--measure", "-b", "1"]])
def test_bad_names_and_options_are_clean_errors(args: list[str], tmp_path):
    run = cvkit("models", *args, cwd=tmp_path)
    assert_clean_error(run)
