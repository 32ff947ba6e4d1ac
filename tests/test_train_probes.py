"""``cvkit evaluate --scramble GRID`` and ``--level coarse|DEPTH``: the tile shuffle and the coarse accuracy by
hand, then both reported on a small real-digit run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from cvkit.cli import app

torch = pytest.importorskip("torch")
from cvkit.train.levels import coarse_mapping, coarse_metrics  # noqa: E402
from cvkit.train.scramble import ScrambledDataset, scramble_tiles, tile_order  # noqa: E402
from hostile.harness import assert_clean_error, cvkit  # noqa: E402
from train_fixtures import digit_folder  # noqa: E402

runner = CliRunner()
DIGITS = [f"digit_{d}" for d in range(4)]


def tiles_of(image: torch.Tensor, grid: int) -> list[bytes]:
    size = image.shape[-1] // grid
    return [
        image[:, r * size : (r + 1) * size, c * size : (c + 1) * size].numpy().tobytes()
        for r in range(grid)
        for c in range(grid)
    ]


def test_scramble_moves_whole_tiles_as_asked():
    image = torch.arange(16).reshape(1, 4, 4)
    # tiles (row-major): A=[[0,1],[4,5]] B=[[2,3],[6,7]] C=[[8,9],[12,13]] D=[[10,11],[14,15]]; order D, C, B, A
    expected = torch.tensor([[10, 11, 8, 9], [14, 15, 12, 13], [2, 3, 0, 1], [6, 7, 4, 5]])
    assert torch.equal(scramble_tiles(image, 2, torch.tensor([3, 2, 1, 0]))[0], expected)


def test_a_seeded_scramble_is_a_permutation_of_the_same_tiles_and_leaves_the_remainder():
    image = torch.randint(0, 256, (3, 14, 13), dtype=torch.uint8)
    out = scramble_tiles(image, 4, tile_order(4, seed=7))
    assert sorted(tiles_of(out[:, :12, :12], 4)) == sorted(tiles_of(image[:, :12, :12], 4))
    assert not torch.equal(out, image)
    assert torch.equal(out[:, 12:], image[:, 12:]) and torch.equal(out[:, :, 12:], image[:, :, 12:])
    assert torch.equal(scramble_tiles(image, 4, tile_order(4, seed=7)), out)  # same seed, same shuffle
    dataset = ScrambledDataset([(image, 0), (image, 1)], grid=4, seed=0)
    assert not torch.equal(dataset[0][0], dataset[1][0])  # each item its own permutation


@pytest.fixture()
def toy_hierarchy(tmp_path: Path) -> Path:
    path = tmp_path / "toy.csv"
    path.write_text("digit_0,low\ndigit_1,low\ndigit_2,high\ndigit_3,high\nlow,digit\nhigh,digit\ndigit,\n")
    return path


def test_coarse_accuracy_on_a_toy_hierarchy_by_hand(toy_hierarchy: Path):
    assert coarse_mapping(DIGITS, toy_hierarchy, "coarse") == ["low", "low", "high", "high"]
    assert coarse_mapping(DIGITS, toy_hierarchy, "0") == ["digit"] * 4
    targets = np.array([0, 1, 2, 3])
    logits = np.eye(4)[[1, 1, 3, 0]]  # predictions 1, 1, 3, 0: one right; 0->1 and 2->3 stay in their superclass
    result = coarse_metrics(logits, targets, coarse_mapping(DIGITS, toy_hierarchy, "1"), "1")
    assert result == {
        "level": "1",
        "classes": 2,
        "top1": 0.75,
        "fine_top1": 0.25,
        "mistakes_within_coarse_class": pytest.approx(2 / 3),
    }


@pytest.fixture(scope="module")
def digit_run(tmp_path_factory) -> tuple[Path, Path]:
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("probe")
    manifest = digit_folder(root / "digits", 600, 120, classes=[0, 1, 2, 3])
    out = root / "run"
    result = runner.invoke(
        app,
        [
            "train",
            "small_cnn",
            str(manifest),
            "-o",
            str(out),
            "--epochs",
            "2",
            "-b",
            "32",
            "--image-size",
            "28",
            "--device",
            "cpu",
            "--workers",
            "0",
            "--aug",
            "none",
            "--optimizer",
            "adamw",
            "--lr",
            "3e-3",
        ],
    )
    assert result.exit_code == 0, (result.output, result.exception)
    return out, manifest


def evaluate_json(*args: str) -> dict:
    result = runner.invoke(app, ["evaluate", *map(str, args), "--device", "cpu", "--json"])
    assert result.exit_code == 0, (result.output, result.exception)
    return json.loads(result.stdout)


def test_evaluate_reports_scrambled_accuracy_next_to_the_plain_one(digit_run: tuple[Path, Path]):
    run, manifest = digit_run
    metrics = evaluate_json(run, manifest, "--scramble", "4")
    assert metrics["top1"] > 0.8, metrics["top1"]
    assert metrics["scrambled"]["grid"] == 4 and metrics["scrambled"]["images"] == metrics["images"] == 120
    assert metrics["scrambled"]["top1"] < metrics["top1"] - 0.1, metrics["scrambled"][
        "top1"
    ]  # digits are shapes: shuffled tiles lose them
    assert evaluate_json(run, manifest, "--scramble", "4")["scrambled"]["top1"] == metrics["scrambled"]["top1"]
    text = runner.invoke(app, ["evaluate", str(run), str(manifest), "--device", "cpu", "--scramble", "2"])
    assert text.exit_code == 0 and "scrambled 2x2 tiles: top-1" in text.stdout


def test_evaluate_level_matches_the_confusion_matrix_summed_by_superclass(
    digit_run: tuple[Path, Path], toy_hierarchy: Path
):
    run, manifest = digit_run
    metrics = evaluate_json(run, manifest, "--level", "coarse", "--hierarchy", toy_hierarchy)
    matrix = np.array(metrics["confusion_matrix"])
    superclass = np.array([0, 0, 1, 1])
    same = superclass[:, None] == superclass[None, :]
    assert metrics["coarse"]["top1"] == pytest.approx(matrix[same].sum() / matrix.sum())
    assert metrics["coarse"]["fine_top1"] == pytest.approx(metrics["top1"])


@pytest.mark.parametrize(
    "extra", [["--scramble", "1"], ["--scramble", "500"], ["--level", "sideways"], ["--level", "coarse"]]
)
def test_bad_probe_options_are_clean_errors(digit_run: tuple[Path, Path], extra: list[str]):
    run, manifest = digit_run  # the manifest has no hierarchy: --level coarse without --hierarchy is refused
    assert_clean_error(cvkit("evaluate", run, manifest, "--device", "cpu", *extra))
