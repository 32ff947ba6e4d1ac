"""Few labels and domain adaptation: the gradient reversal layer, DANN's ramp and the association losses by hand,
then ``cvkit train --unlabeled / --target --adapt`` and ``cvkit evaluate --target`` on real digits."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cvkit.cli import app

torch = pytest.importorskip("torch")
pytest.importorskip("skimage")
from cvkit.train.adapt import association_losses, dann_strength, reverse_gradient  # noqa: E402
from hostile.harness import assert_clean_error, cvkit  # noqa: E402
from mnistm_fixture import digit_domains  # noqa: E402

runner = CliRunner()
#: softmax of (1, 0): the probability of the more similar image, and of the other
NEAR, FAR = math.e / (math.e + 1), 1 / (math.e + 1)


def test_gradient_reversal_is_the_identity_forward_and_flips_the_gradient_backward():
    x = torch.tensor([1.0, -2.0, 3.0], requires_grad=True)
    y = reverse_gradient(x, 0.3)
    assert torch.equal(y, x)
    (y * torch.tensor([1.0, 2.0, 4.0])).sum().backward()
    assert torch.allclose(x.grad, torch.tensor([-0.3, -0.6, -1.2]))


def test_dann_strength_follows_ganin_and_lempitsky():
    assert dann_strength(0.0) == 0.0
    assert dann_strength(0.5) == pytest.approx(2 / (1 + math.exp(-5)) - 1)
    assert dann_strength(1.0) == pytest.approx(0.9999092, abs=1e-7)


def test_walker_and_visit_losses_on_a_2x2_example_by_hand():
    labelled = torch.eye(2)
    unlabelled = torch.eye(2)  # similarities = identity: each walk prefers its own image with NEAR vs FAR
    round_trip_home = NEAR**2 + FAR**2  # a -> b -> the same a
    walker, visit = association_losses(labelled, torch.tensor([0, 1]), unlabelled)
    assert float(walker) == pytest.approx(-math.log(round_trip_home))  # different classes: only home is right
    assert float(visit) == pytest.approx(math.log(2))  # each unlabelled image visited with probability 1/2
    walker, _ = association_losses(labelled, torch.tensor([0, 0]), unlabelled)
    assert float(walker) == pytest.approx(-(0.5 * math.log(round_trip_home) + 0.5 * math.log(2 * NEAR * FAR)))
    _, visit = association_losses(torch.tensor([[1.0, 0.0], [1.0, 0.0]]), torch.tensor([0, 1]), unlabelled)
    assert float(visit) == pytest.approx(-(math.log(NEAR) + math.log(FAR)) / 2)  # both walk to b1 by preference


@pytest.fixture(scope="module")
def domains(tmp_path_factory) -> dict[str, Path]:
    return digit_domains(tmp_path_factory.mktemp("domains"), 200, 200, 100)


def train(domains: dict[str, Path], out: Path, *extra: str) -> list[dict]:
    torch.set_num_threads(1)
    args = ["train", "small_cnn", str(domains["source"]), "-o", str(out), "--epochs", "1", "-b", "32",
            "--image-size", "28", "--device", "cpu", "--workers", "0", "--aug", "none", "--optimizer", "adamw",
            "--lr", "3e-3", "--embed-dim", "32", *extra]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, (result.output, result.exception)
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.parametrize(
    ("options", "logged"),
    [
        (["--adapt", "dann"], {"domain_loss", "grl_strength"}),
        (["--adapt", "assoc"], {"walker_loss", "visit_loss"}),
    ],
)
def test_adaptation_trains_and_logs_its_loss(domains, tmp_path: Path, options: list[str], logged: set[str]):
    record = train(domains, tmp_path / "run", "--target", str(domains["target"]), *options)[-1]
    assert logged <= set(record) and all(math.isfinite(record[key]) for key in logged)
    if "grl_strength" in record:  # the last step of the only epoch: the ramp's end, 2/(1+e^-10)-1
        assert record["grl_strength"] == pytest.approx(dann_strength(1.0))
    result = runner.invoke(
        app, ["evaluate", str(tmp_path / "run"), str(domains["source"]), "--target", str(domains["target_test"]),
              "--device", "cpu", "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.stdout)
    assert metrics["target"]["images"] == 100 and 0.0 <= metrics["target"]["top1"] <= 1.0
    assert metrics["images"] == 200


def test_unlabeled_images_add_the_association_loss(domains, tmp_path: Path):
    record = train(domains, tmp_path / "run", "--unlabeled", str(domains["target"]), "--visit-weight", "0.25")[-1]
    assert record["walker_loss"] > 0 and record["visit_loss"] >= math.log(32) - 1e-3  # visit >= log(batch)


@pytest.mark.parametrize(
    "extra",
    [
        ["--adapt", "dann"],
        ["--target", "TARGET"],
        ["--target", "TARGET", "--adapt", "sideways"],
        ["--unlabeled", "TARGET", "--target", "TARGET", "--adapt", "dann"],
        ["--target", "TARGET", "--adapt", "assoc", "--mixup", "0.2"],
    ],
)
def test_bad_adaptation_options_are_clean_errors(domains, tmp_path: Path, extra: list[str]):
    extra = [str(domains["target"]) if e == "TARGET" else e for e in extra]
    run = cvkit("train", "small_cnn", domains["source"], "-o", tmp_path / "run", "--device", "cpu", *extra)
    assert_clean_error(run)
    assert not (tmp_path / "run").exists()
