"""Losses, mixup/cutmix and the EMA against hand computations, then center and magnet loss on real digits."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from cvkit.cli import app

torch = pytest.importorskip("torch")
from train_fixtures import digit_folder  # noqa: E402

runner = CliRunner()


def _config(**options):
    from cvkit.train.config import TrainConfig

    return TrainConfig("small_cnn", "m.jsonl", **options)


def test_multi_label_label_smoothing_moves_bce_targets_towards_one_half():
    from cvkit.train.losses import build_loss

    logits, target = torch.tensor([[2.0, -1.0]]), torch.tensor([[1.0, 0.0]])
    # eps 0.1: targets 0.95 and 0.05; BCE = -(t log s(x) + (1 - t) log(1 - s(x))), averaged over the two classes
    s0, s1 = 1 / (1 + math.exp(-2.0)), 1 / (1 + math.exp(1.0))
    by_hand = (-(0.95 * math.log(s0) + 0.05 * math.log(1 - s0)) - (0.05 * math.log(s1) + 0.95 * math.log(1 - s1))) / 2
    assert float(build_loss(_config(multi_label=True, label_smoothing=0.1), 2)(logits, target)) == pytest.approx(
        by_hand, rel=1e-6
    )
    plain = float(build_loss(_config(multi_label=True), 2)(logits, target))
    assert plain == pytest.approx((-math.log(s0) - math.log(1 - s1)) / 2, rel=1e-6) and plain != pytest.approx(by_hand)


def test_mixup_and_cutmix_mix_images_and_targets_by_hand():
    from cvkit.train.mixup import cutmix_box, mix_batch

    images = torch.stack([torch.zeros(1, 10, 10), torch.ones(1, 10, 10)])
    mixed, soft, lam = mix_batch(images, torch.tensor([0, 2]), 3, 0.3)
    assert (
        lam == 0.3
        and torch.allclose(mixed[0], torch.full((1, 10, 10), 0.7))
        and torch.allclose(mixed[1], torch.full((1, 10, 10), 0.3))
    )
    assert soft.flatten().tolist() == pytest.approx([0.3, 0.0, 0.7, 0.7, 0.0, 0.3])
    box = cutmix_box(10, 10, 0.64, (5, 5))  # sides sqrt(1 - 0.64) = 0.6 of 10 -> 6 x 6 around (5, 5)
    assert box == (2, 8, 2, 8)
    cut, soft, lam = mix_batch(images, torch.tensor([0, 2]), 3, 0.64, box)
    assert float(cut[0].sum()) == 36 and float(cut[0, 0, 2:8, 2:8].min()) == 1.0 and lam == pytest.approx(0.64)
    clipped = cutmix_box(10, 10, 0.64, (0, 0))  # clipped at the corner: 3 x 3 kept, lam corrected to the area pasted
    _, soft, lam = mix_batch(images, torch.tensor([0, 2]), 3, 0.64, clipped)
    assert (
        clipped == (0, 3, 0, 3)
        and lam == pytest.approx(1 - 9 / 100)
        and soft[0].tolist() == pytest.approx([0.91, 0.0, 0.09])
    )


def test_mixed_targets_with_label_smoothing_give_timms_smoothed_cross_entropy():
    from cvkit.train.losses import build_loss

    logits = torch.tensor([[1.0, 0.0, -1.0], [0.5, 0.2, 0.1]])
    soft = torch.tensor([[0.3, 0.0, 0.7], [0.7, 0.0, 0.3]])
    # timm: targets (mixed one-hot) * (1 - eps) + eps / C, then -sum(targets * log_softmax), batch mean
    smoothed = soft.numpy() * 0.9 + 0.1 / 3
    log_p = logits.numpy() - np.log(np.exp(logits.numpy()).sum(axis=1, keepdims=True))
    by_hand = float(-(smoothed * log_p).sum(axis=1).mean())
    assert float(build_loss(_config(label_smoothing=0.1), 3)(logits, soft)) == pytest.approx(by_hand, rel=1e-6)


def test_ema_decay_warms_up_and_averages_by_hand():
    from cvkit.train.ema import ModelEma, warmed_decay

    assert [warmed_decay(0.999, t) for t in (0, 8, 10_000)] == pytest.approx([0.1, 0.5, 0.999])
    model = torch.nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        model.weight.fill_(0.0)
    ema = ModelEma(model, 0.999)
    with torch.no_grad():
        model.weight.fill_(1.0)
    ema.update(model)  # decay 0.1: 0.1 * 0 + 0.9 * 1
    assert float(ema.module.weight) == pytest.approx(0.9)
    with torch.no_grad():
        model.weight.fill_(2.0)
    ema.update(model)  # decay 2/11: 2/11 * 0.9 + 9/11 * 2
    assert float(ema.module.weight) == pytest.approx(2 / 11 * 0.9 + 9 / 11 * 2)


def test_center_loss_value_gradient_and_centre_update_by_hand():
    from cvkit.train.losses import build_loss

    loss_fn = build_loss(_config(loss="center", center_lambda=0.5, center_alpha=0.5), 2, feature_dim=2)
    loss_fn.centers.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0]]))
    features = torch.tensor([[1.0, 1.0], [3.0, 0.0], [0.0, 0.0]], requires_grad=True)
    target = torch.tensor([0, 0, 1])
    logits = torch.zeros(3, 2)  # softmax part: log 2 per sample
    loss = loss_fn(logits, target, features)
    # squared distances to the own centre: 1, 4, 1 -> lambda / 2 * mean = 0.25 * 2
    assert float(loss.detach()) == pytest.approx(math.log(2) + 0.25 * 2.0)
    loss.backward()
    # d/df_i = lambda / m * (f_i - c_{y_i}) = 0.5 / 3 * [(0, 1), (2, 0), (0, -1)]
    assert features.grad.flatten().tolist() == pytest.approx([0.0, 0.5 / 3, 1.0 / 3, 0.0, 0.0, -0.5 / 3])
    # centre 0: delta = ((c - f1) + (c - f2)) / (1 + 2) = ((0, -1) + (-2, 0)) / 3; c -= 0.5 * delta
    # centre 1: delta = (c - f3) / 2 = (0, 1) / 2
    assert loss_fn.centers.flatten().tolist() == pytest.approx([1 + 1 / 3, 1 / 6, 0.0, 0.75])
    assert float(loss_fn.validation_loss(logits, target)) == pytest.approx(math.log(2))


def _magnet_by_hand(features: np.ndarray, target: np.ndarray, per_cluster: int, alpha: float) -> float:
    """Rippel et al. 2016, eq. 2, written out sample by sample."""
    clusters = len(features) // per_cluster
    means = [features[c * per_cluster : (c + 1) * per_cluster].mean(axis=0) for c in range(clusters)]
    classes = [target[c * per_cluster] for c in range(clusters)]
    own = [((features[i] - means[i // per_cluster]) ** 2).sum() for i in range(len(features))]
    variance = sum(own) / (len(features) - 1)
    total = 0.0
    for i in range(len(features)):
        numerator = math.exp(-own[i] / (2 * variance) - alpha)
        denominator = sum(
            math.exp(-((features[i] - means[c]) ** 2).sum() / (2 * variance))
            for c in range(clusters)
            if classes[c] != target[i]
        )
        total += max(0.0, -math.log(numerator / denominator))
    return total / len(features)


def test_magnet_loss_matches_the_paper_by_hand_and_its_gradient_checks():
    from cvkit.train.feature_losses import magnet_loss

    generator = torch.Generator().manual_seed(0)
    features = torch.randn(6, 2, generator=generator, dtype=torch.float64) * 0.5
    features[:2] += 3.0  # three clusters of two: classes 0, 1, 0
    target = torch.tensor([0, 0, 1, 1, 0, 0])
    value = float(magnet_loss(features, target, 2, 0.5))
    assert value == pytest.approx(_magnet_by_hand(features.numpy(), target.numpy(), 2, 0.5), rel=1e-9) and value > 0
    assert torch.autograd.gradcheck(lambda f: magnet_loss(f, target, 2, 0.5), (features.clone().requires_grad_(True),))
    with pytest.raises(ValueError, match="whole clusters of 4 samples"):
        magnet_loss(features, target, 4, 0.5)


def test_magnet_head_predicts_the_class_of_the_nearest_cluster_means():
    from cvkit.train.feature_losses import refresh_magnet_index
    from cvkit.train.models import MagnetHead

    head = MagnetHead(2, num_classes=2, clusters=2)
    points = torch.tensor(
        [[0.0, 0.0], [0.1, 0.0], [5.0, 5.0], [5.1, 5.0], [10.0, 0.0], [10.1, 0.0], [0.0, 10.0], [0.1, 10.0]]
    )
    labels = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1])  # class 0 in two places, class 1 in two others
    assignment = refresh_magnet_index(head, points, labels, seed=0)
    assert sorted(assignment.tolist()) == [0, 0, 1, 1, 2, 2, 3, 3] and head.active.all()
    assert float(head.variance) == pytest.approx(0.0025, rel=1e-5)  # each point 0.05 from its cluster mean (float32)
    logits = head(torch.tensor([[5.0, 4.8], [9.0, 0.5], [0.3, 9.0]]))
    assert logits.argmax(dim=1).tolist() == [0, 1, 1]


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def digits(tmp_path_factory) -> Path:
    return digit_folder(tmp_path_factory.mktemp("digits"), 600, 200)


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
    "--seed",
    "0",
]


def _train(manifest: Path, out: Path, *options: str) -> dict:
    result = runner.invoke(app, ["train", "small_cnn", str(manifest), "-o", str(out), *FAST, *options, "--json"])
    assert result.exit_code == 0, (result.output, result.exception)
    return json.loads(result.stdout)


def test_center_loss_tightens_2d_digit_features_against_plain_softmax(digits: Path, tmp_path: Path):
    from cvkit.train.embed import spread_ratio

    ratios = {}
    for loss in ("ce", "center"):
        _train(
            digits,
            tmp_path / loss,
            "--epochs",
            "3",
            "-b",
            "32",
            "--embed-dim",
            "2",
            "--loss",
            loss,
            "--center-lambda",
            "0.1",
        )
        out = tmp_path / f"{loss}.npz"
        summary = json.loads(
            runner.invoke(
                app,
                [
                    "embed",
                    str(tmp_path / loss),
                    str(digits),
                    "--split",
                    "val",
                    "-o",
                    str(out),
                    "--plot",
                    str(tmp_path / f"{loss}.png"),
                    "--json",
                ],
            ).stdout
        )
        saved = np.load(out)
        assert (
            saved["features"].shape == (200, 2)
            and summary["images"] == 200
            and (tmp_path / f"{loss}.png").stat().st_size > 0
        )
        ratios[loss] = spread_ratio(saved["features"], saved["labels"])
        assert summary["spread_ratio"] == pytest.approx(ratios[loss], rel=1e-6)
    # same seed and budget: center loss pulls each class's 2-D features together (0.226 vs 0.253 when written)
    assert ratios["center"] < 0.95 * ratios["ce"]


def test_magnet_loss_learns_real_digits_and_classifies_by_cluster_means(digits: Path, tmp_path: Path):
    summary = _train(
        digits,
        tmp_path / "magnet",
        "--epochs",
        "2",
        "--loss",
        "magnet",
        "--embed-dim",
        "16",
        "--magnet-clusters",
        "2",
        "--magnet-m",
        "4",
        "--magnet-d",
        "8",
    )
    assert summary["steps"] == 2 * math.ceil(600 / 32)  # batches of M x D = 32
    assert summary["last"]["val_top1"] > 0.6  # chance is 0.1
    metrics = json.loads(runner.invoke(app, ["evaluate", str(tmp_path / "magnet"), str(digits), "--json"]).stdout)
    assert metrics["split"] == "val" and metrics["top1"] == pytest.approx(summary["best"]["top1"])


def test_embed_writes_parquet_and_refuses_to_overwrite(digits: Path, tmp_path: Path):
    import pandas as pd

    _train(digits, tmp_path / "run", "--epochs", "1", "--max-steps-per-epoch", "2", "-b", "16", "--embed-dim", "3")
    out = tmp_path / "features.parquet"
    assert (
        runner.invoke(app, ["embed", str(tmp_path / "run"), str(digits), "--split", "val", "-o", str(out)]).exit_code
        == 0
    )
    frame = pd.read_parquet(out)
    assert list(frame.columns) == ["path", "label", "class", "f0", "f1", "f2"] and len(frame) == 200
    assert (frame["class"] == [f"digit_{i}" for i in frame["label"]]).all()
    again = runner.invoke(app, ["embed", str(tmp_path / "run"), str(digits), "-o", str(out)])
    assert again.exit_code == 2 and "already exists; pass --overwrite" in again.stderr
