"""`cvkit augment`: exit codes and the messages users see."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from cvkit.cli import app
from cvkit.manifest import write_manifest

runner = CliRunner()


@pytest.fixture
def manifest(small, tmp_path):
    return write_manifest(small, tmp_path / "m.jsonl")


def test_presets_lists_every_preset_with_its_steps():
    result = runner.invoke(app, ["augment", "presets"])
    assert result.exit_code == 0
    for name in ("imagenet:", "light:", "strong:", "detection:", "texture:"):
        assert name in result.output
    assert "RandomResizedCrop (p=1): size=224" in result.output
    data = json.loads(runner.invoke(app, ["augment", "presets", "--json"]).output)
    assert [row["name"] for row in data] == ["imagenet", "light", "strong", "detection", "texture"]


def test_preview_writes_the_sheet_and_reports_backend_and_speed(manifest, tmp_path):
    out = tmp_path / "sheet.png"
    result = runner.invoke(
        app,
        [
            "augment",
            str(manifest),
            "--preview",
            str(out),
            "--preset",
            "light",
            "--n",
            "2",
            "--k",
            "2",
            "--device",
            "cpu",
        ],
    )
    assert result.exit_code == 0, result.output
    assert f"wrote {out}: 2 images x (original + 2 variants)" in result.output
    assert "back-end: cpu (albumentations 2.0.8 + OpenCV)" in result.output
    assert "ms per image" in result.output and "images/s" in result.output
    assert out.is_file()


def test_auto_device_says_which_it_used(manifest, tmp_path):
    torch = pytest.importorskip("torch")
    result = runner.invoke(
        app, ["augment", str(manifest), "--preview", str(tmp_path / "s.png"), "--n", "1", "--k", "1"]
    )
    assert result.exit_code == 0, result.output
    expected = (
        "(auto: CUDA GPU found)"
        if torch.cuda.is_available()
        else "back-end: cpu (albumentations 2.0.8 + OpenCV) (auto: no CUDA GPU found)"
    )
    assert expected in result.output


def test_preview_json(manifest, tmp_path):
    result = runner.invoke(
        app,
        [
            "augment",
            str(manifest),
            "--preview",
            str(tmp_path / "s.png"),
            "--n",
            "1",
            "--k",
            "3",
            "--device",
            "cpu",
            "--json",
        ],
    )
    data = json.loads(result.output)
    assert (data["rows"], data["columns"], data["variants"], data["device"]) == (1, 4, 3, "cpu")


def test_apply_oversample_prints_counts(manifest, tmp_path):
    out = tmp_path / "aug"
    args = [
        "--apply",
        "-o",
        str(out),
        "--preset",
        "light",
        "--oversample-rare",
        "--target",
        "3",
        "--device",
        "cpu",
        "--json",
    ]
    result = runner.invoke(app, ["augment", str(manifest), *args])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["images_per_class_before"] == {"cat": 1, "dog": 2}
    assert data["images_per_class_after"]["cat"] >= 3 and (out / "manifest.jsonl").is_file()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "error: nothing to do: pass --preview OUT.png or --apply -o OUT/"),
        (["--apply"], "error: --apply needs an output folder: -o OUT/"),
        (
            ["--preview", "s.png", "--spec", "a.yaml", "--preset", "strong"],
            "error: give either --spec or --preset, not both",
        ),
        (
            ["--preview", "s.png", "--preset", "wild"],
            "error: 'wild' is neither a preset (imagenet, light, strong, detection, texture) nor a spec file",
        ),
        (["--apply", "-o", "x", "--target", "5"], "error: --oversample-rare and --target N go together"),
        (["--preview", "s.png", "--device", "tpu"], "error: unknown device 'tpu'; choose auto, cpu or cuda"),
    ],
)
def test_bad_options_exit_2_with_a_message(manifest, tmp_path, args, message):
    result = runner.invoke(app, ["augment", str(manifest), *args])
    assert result.exit_code == 2
    assert message in result.output


def test_cuda_without_a_gpu_is_refused(manifest, tmp_path):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU")
    result = runner.invoke(app, ["augment", str(manifest), "--preview", str(tmp_path / "s.png"), "--device", "cuda"])
    assert result.exit_code == 2
    assert "error: --device cuda was asked for but torch sees no CUDA GPU; use --device cpu or auto" in result.output


def test_bad_spec_file_names_file_and_step(manifest, tmp_path):
    spec = tmp_path / "p.yaml"
    spec.write_text("transforms:\n  - {name: Sharpen}\n")
    result = runner.invoke(app, ["augment", str(manifest), "--preview", str(tmp_path / "s.png"), "--spec", str(spec)])
    assert result.exit_code == 2
    assert f"error: {spec}:transforms[0]: unknown transform 'Sharpen'" in result.output


def test_missing_dataset(tmp_path):
    result = runner.invoke(app, ["augment", str(tmp_path / "nope.jsonl"), "--preview", "s.png"])
    assert result.exit_code == 2 and "nope.jsonl" in result.output
