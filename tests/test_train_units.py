"""Trainer building blocks with known answers: metrics, samplers, schedules, losses, models, weights, CLI errors."""

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


# --- metrics ---------------------------------------------------------------------------------
def test_topk_and_per_class_accuracy_by_hand():
    from cvkit.train.metrics import single_label_metrics

    logits = np.array([[3, 2, 1], [1, 3, 2], [3, 1, 2], [1, 2, 3]], dtype=float)
    targets = np.array([0, 2, 1, 2])  # row 0 right, row 1 second, row 2 third, row 3 right
    m = single_label_metrics(logits, targets, ["a", "b", "c"])
    assert m["top1"] == 0.5 and m["top5"] == 1.0
    assert m["per_class_accuracy"] == {"a": 1.0, "b": 0.0, "c": 0.5}
    assert m["confusion_matrix"] == [[1, 0, 0], [1, 0, 0], [0, 1, 1]]
    assert m["worst_classes"][0] == {"class": "b", "accuracy": 0.0}


def test_average_precision_and_f1_by_hand():
    from cvkit.train.metrics import average_precision, multi_label_metrics

    # positives ranked 1st and 3rd: precision 1/1 and 2/3 -> AP 5/6
    assert average_precision(np.array([0.9, 0.8, 0.7, 0.6]), np.array([1, 0, 1, 0])) == pytest.approx(5 / 6)
    assert average_precision(np.array([0.1, 0.2]), np.array([0, 0])) is None
    logits = np.array([[2.0, -2.0], [2.0, 2.0], [-2.0, -2.0]])  # predicted {0}, {0,1}, {}
    targets = np.array([[1, 0], [1, 0], [0, 1]])
    m = multi_label_metrics(logits, targets, ["x", "y"])
    # class x: tp 2 -> F1 1; class y: fp 1, fn 1 -> F1 0; micro: tp 2, fp 1, fn 1 -> 4/6
    assert m["f1_macro"] == pytest.approx(0.5) and m["f1_micro"] == pytest.approx(2 / 3)
    assert m["per_class_ap"]["x"] == 1.0 and m["mAP"] == pytest.approx((1.0 + 1 / 3) / 2)


# --- samplers --------------------------------------------------------------------------------
def test_repeat_factor_sampler_repeats_rare_images_by_the_lvis_factor():
    from cvkit.train.samplers import RepeatFactorSampler

    targets = [0] * 90 + [1] * 10
    sampler = RepeatFactorSampler(targets, [90, 10], threshold=0.5, seed=0)
    assert sampler.repeat[0] == 1.0 and sampler.repeat[-1] == pytest.approx(math.sqrt(5))  # sqrt(0.5 / 0.1)
    rare = []
    for epoch in range(40):
        sampler.set_epoch(epoch)
        indices = sampler.indices()
        assert indices.count(0) == 1
        rare.append(sum(i >= 90 for i in indices) / 10)
    assert np.mean(rare) == pytest.approx(math.sqrt(5), abs=0.1)


def test_balanced_sampler_draws_classes_equally_and_ranks_split_the_epoch():
    from cvkit.train.samplers import BalancedSampler, ShuffleSampler

    targets = [0] * 950 + [1] * 50
    drawn = BalancedSampler(targets, [950, 50], seed=1).indices()
    assert 0.45 < sum(i >= 950 for i in drawn) / len(drawn) < 0.55
    shards = [ShuffleSampler(11, seed=3, rank=r, world=2).indices() for r in (0, 1)]
    assert len(shards[0]) == len(shards[1]) == 6
    assert set(shards[0]) | set(shards[1]) == set(range(11))


# --- optimisation ----------------------------------------------------------------------------
def test_step_schedule_is_the_classic_30_60_90_and_cosine_warms_up():
    from cvkit.train.config import TrainConfig
    from cvkit.train.optim import lr_multiplier

    step = TrainConfig("resnet50", "m.jsonl", schedule="step", epochs=100)
    assert [lr_multiplier(e * 10, step, 10) for e in (0, 29, 30, 59, 60, 90)] == pytest.approx(
        [1, 1, 0.1, 0.1, 0.01, 0.001]
    )
    cosine = TrainConfig("resnet50", "m.jsonl", schedule="cosine", epochs=10, warmup_epochs=1)
    assert lr_multiplier(0, cosine, 10) == pytest.approx(0.1)  # first of 10 warm-up steps
    assert lr_multiplier(10, cosine, 10) == pytest.approx(1.0)
    assert lr_multiplier(55, cosine, 10) == pytest.approx(0.5)  # half-way through the cosine
    assert lr_multiplier(100, cosine, 10) == pytest.approx(0.0)


def test_no_weight_decay_on_batchnorm_and_biases():
    from cvkit.train.models import SmallCNN
    from cvkit.train.optim import param_groups

    decayed, plain = param_groups(SmallCNN(10), 0.05)
    assert decayed["weight_decay"] == 0.05 and plain["weight_decay"] == 0.0
    assert all(p.ndim > 1 for p in decayed["params"]) and all(p.ndim == 1 for p in plain["params"])
    assert len(decayed["params"]) + len(plain["params"]) == len(list(SmallCNN(10).parameters()))


def test_focal_loss_with_gamma_zero_is_cross_entropy():
    from cvkit.train.config import TrainConfig
    from cvkit.train.loss_table import build_loss

    def loss(kind: str, weights: list[float] | None = None, gamma: float = 2.0):
        return build_loss(TrainConfig("small_cnn", "m.jsonl", loss=kind, focal_gamma=gamma), 4, weights)

    logits, target = torch.randn(6, 4, generator=torch.Generator().manual_seed(0)), torch.tensor([0, 1, 2, 3, 0, 1])
    weights = [1.0, 2.0, 0.5, 1.0]
    ce = loss("ce", weights)(logits, target)
    assert loss("focal", weights, gamma=0.0)(logits, target) == pytest.approx(float(ce), rel=1e-5)
    assert loss("focal")(logits, target) < loss("ce")(logits, target)


# --- models and transfer learning ----------------------------------------------------------
def test_finetune_linear_trains_only_the_head_and_keeps_batchnorm_in_eval():
    from cvkit.train.models import build_model, train_mode

    model, info = build_model("resnet18", 5, finetune_stages=0)
    assert model.fc.out_features == 5
    assert {n for n, p in model.named_parameters() if p.requires_grad} == {"fc.weight", "fc.bias"}
    train_mode(model)
    assert model.training and model.fc.training
    assert all(not m.training for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d))
    assert info["trainable_stages"] == []


def test_finetune_last_n_unfreezes_the_last_stages():
    from cvkit.train.models import build_model, train_mode

    model, info = build_model("resnet18", 3, finetune_stages=2)
    assert info["trainable_stages"] == ["layer3", "layer4"]
    trainable = {n.split(".")[0] for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {"layer3", "layer4", "fc"}
    train_mode(model)
    assert not model.layer1[0].bn1.training and model.layer4[0].bn1.training


def test_weights_file_with_an_imagenet_head_loads_the_backbone_only(tmp_path: Path):
    from cvkit.train.models import SmallCNN, build_model

    source = SmallCNN(1000)  # a "torchvision-style" state dict with a 1000-class head
    torch.save(source.state_dict(), tmp_path / "w.pth")
    model, info = build_model("small_cnn", 4, weights=str(tmp_path / "w.pth"))
    assert torch.equal(model.stem[0].weight, source.stem[0].weight)
    assert info["weights"]["skipped"] == ["fc.bias", "fc.weight"] and model.fc.out_features == 4


def test_pretrained_offline_fails_saying_how_to_pass_a_file(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("CVKIT_OFFLINE", "1")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    manifest = digit_folder(tmp_path / "d", 20, 10)
    result = runner.invoke(
        app, ["train", "resnet18", str(manifest), "--pretrained", "-o", str(tmp_path / "run"), "--device", "cpu"]
    )
    assert result.exit_code == 2
    url = "https://download.pytorch.org/models/resnet18-f37072fd.pth"
    expected = (
        f"error: cannot download the pretrained weights of resnet18 (offline). Download {url} on a machine with "
        "internet access, then pass the file with --weights /path/to/resnet18-f37072fd.pth (or copy it into "
        f"{tmp_path / 'torch' / 'hub' / 'checkpoints'}/)\n"
    )
    assert result.stderr == expected


def test_small_cnn_finetune_linear_run_leaves_the_backbone_untouched(tmp_path: Path):
    from cvkit.train.models import build_model
    from cvkit.train.rng import seed_everything

    manifest = digit_folder(tmp_path / "d", 64, 16)
    out = tmp_path / "run"
    result = runner.invoke(
        app,
        [
            "train",
            "small_cnn",
            str(manifest),
            "-o",
            str(out),
            "--finetune",
            "linear",
            "--epochs",
            "1",
            "-b",
            "16",
            "--image-size",
            "28",
            "--device",
            "cpu",
            "--workers",
            "0",
            "--seed",
            "5",
            "--lr",
            "0.01",
        ],
    )
    assert result.exit_code == 0, result.output
    seed_everything(5)
    initial, _ = build_model("small_cnn", 10)
    trained = torch.load(out / "last.pt", weights_only=True)["model"]
    assert torch.equal(trained["stem.0.weight"], initial.stem[0].weight)
    assert torch.equal(trained["stem.1.running_mean"], initial.stem[1].running_mean)  # frozen BN stayed in eval mode
    assert not torch.equal(trained["fc.weight"], initial.fc.weight)


# --- class weights (cvkit.stats.weights) -----------------------------------------------------
def test_class_weights_balanced_come_from_cvkit_stats(tmp_path: Path):
    from cvkit.stats import weights
    from cvkit.train.data import ItemSet
    from cvkit.train.trainer import resolve_class_weights

    counts = [30, 10]
    resolved, _ = resolve_class_weights("balanced", ItemSet([], ["a", "b"], counts=counts))
    assert resolved == [float(w) for w in weights.compute_class_weights(counts, "balanced")]
    manifest = digit_folder(tmp_path / "d", 64, 16, classes=[0, 1])
    result = runner.invoke(
        app,
        [
            "train",
            "small_cnn",
            str(manifest),
            "-o",
            str(tmp_path / "run"),
            "--class-weights",
            "effective",
            "--sampler",
            "balanced",
            "--epochs",
            "1",
            "-b",
            "16",
            "--image-size",
            "28",
            "--device",
            "cpu",
            "--workers",
            "0",
        ],
    )
    assert result.exit_code == 0, result.output


# --- CLI messages ------------------------------------------------------------------------------
def test_cli_refuses_bad_options_with_clear_messages(tmp_path: Path):
    manifest = digit_folder(tmp_path / "d", 10, 4)
    cases = [
        (
            ["train", "small_cnn"],
            "error: expected ARCH MANIFEST, e.g. `cvkit train resnet18 train.jsonl` (or --list-models)\n",
        ),
        (
            ["train", "small_cnn", str(manifest), "--finetune", "last"],
            "error: --finetune must be full | linear | last-N (e.g. last-2), not 'last'\n",
        ),
        (
            ["train", "nosuchnet", str(manifest), "-o", str(tmp_path / "r")],
            "error: unknown model 'nosuchnet'; `cvkit train --list-models` lists the names\n",
        ),
        (
            ["train", "small_cnn", str(manifest), "--val-split", "holdout", "-o", str(tmp_path / "r2")],
            f"error: {manifest}: no records of split 'holdout' in the manifest\n",
        ),
    ]
    for args, message in cases:
        result = runner.invoke(app, args)
        assert result.exit_code == 2, result.output
        assert result.stderr == message


def test_list_models_includes_small_cnn_and_torchvision_models():
    result = runner.invoke(app, ["train", "--list-models", "--json"])
    names = json.loads(result.stdout)
    assert names[0] == "small_cnn" and {
        "resnet50",
        "mobilenet_v3_large",
        "efficientnet_b0",
        "vit_b_16",
        "swin_t",
    } <= set(names)


def test_aug_preset_runs_through_cvkit_augment_and_the_same_seed_gives_the_same_run(tmp_path: Path):
    manifest = digit_folder(tmp_path / "d", 64, 16)
    options = ["--aug", "light", "--epochs", "1", "--max-steps-per-epoch", "2", "-b", "16", "--image-size", "28"]
    weights = []
    for workers in ("0", "2"):  # each item's augmentation is seeded: the worker that loads it does not matter
        out = tmp_path / f"run{workers}"
        result = runner.invoke(
            app,
            ["train", "small_cnn", str(manifest), "-o", str(out), *options, "--device", "cpu", "--workers", workers],
        )
        assert result.exit_code == 0, result.output
        weights.append(torch.load(out / "last.pt", weights_only=True)["model"])
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


# --- data splits -----------------------------------------------------------------------------
def _manifest_with_splits(path: Path, splits: list[str]) -> Path:
    header = {
        "type": "header",
        "schema": "cvkit.manifest",
        "version": 1,
        "categories": [{"id": 1, "name": "cat", "parents": []}],
    }
    records = [
        {"image": f"{i}.jpg", "width": 8, "height": 8, "split": split, "labels": ["cat"], "objects": []}
        for i, split in enumerate(splits)
    ]
    path.write_text("\n".join(json.dumps(r) for r in [header, *records]) + "\n")
    return path


@pytest.mark.parametrize("name", ["valid", "validation"])
def test_roboflow_and_hugging_face_validation_splits_validate_and_never_train(tmp_path, name):
    # Roboflow exports valid/, Hugging Face and timm validation/: without --val-split that split must not be trained on
    from cvkit.train.config import TrainConfig
    from cvkit.train.trainer import prepare_items

    manifest = _manifest_with_splits(tmp_path / "m.jsonl", ["train", "train", name, "test"])
    cfg = TrainConfig("small_cnn", str(manifest))
    train, val = prepare_items(cfg)
    assert [Path(image).name for image, _, _ in train.items] == ["0.jpg", "1.jpg"]
    assert [Path(image).name for image, _, _ in val.items] == ["2.jpg"] and cfg.val_split == name
    no_val = TrainConfig("small_cnn", str(_manifest_with_splits(tmp_path / "n.jsonl", ["train", "train"])))
    assert prepare_items(no_val)[1] is None and no_val.val_split is None
