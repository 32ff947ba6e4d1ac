"""Stylised training with AdaIN: the normalisation by hand, loading pytorch-AdaIN's file layout (random weights
here: nothing is downloaded), the stylizer on a batch, and ``cvkit train --style-model`` end to end."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from cvkit.cli import app
from cvkit.errors import InvalidInputError

torch = pytest.importorskip("torch")
skimage_data = pytest.importorskip("skimage.data")
from cvkit.train.stylize import Stylizer, adain, adain_decoder, channel_stats, load_style_model, vgg_encoder  # noqa: E402
from hostile.harness import assert_clean_error, cvkit  # noqa: E402
from train_fixtures import _save, digit_folder  # noqa: E402


def test_adain_gives_the_content_the_styles_channel_statistics():
    content = torch.tensor([[[[1.0, 3.0], [5.0, 7.0]]]])  # mean 4, unbiased var 20/3
    out = adain(content, torch.tensor([[[[10.0]]]]), torch.tensor([[[[2.0]]]]))
    expected = (content - 4.0) / np.sqrt(20 / 3 + 1e-5) * 2.0 + 10.0
    assert torch.allclose(out, expected)
    mean, std = channel_stats(out)
    assert float(mean) == pytest.approx(10.0) and float(std) == pytest.approx(2.0, abs=1e-5)


@pytest.fixture(scope="module")
def style_model(tmp_path_factory) -> Path:
    """pytorch-AdaIN's two files, random weights; the VGG file also holds layers past relu4_1, as the real one does."""
    folder = tmp_path_factory.mktemp("adain")
    torch.manual_seed(0)
    vgg = vgg_encoder().state_dict()
    vgg["31.weight"], vgg["31.bias"] = torch.zeros(512, 512, 3, 3), torch.zeros(512)
    torch.save(vgg, folder / "vgg_normalised.pth")
    torch.save(adain_decoder().state_dict(), folder / "decoder.pth")
    return folder


@pytest.fixture(scope="module")
def paintings(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("styles")
    _save(skimage_data.chelsea(), folder / "chelsea.png")
    _save(skimage_data.coffee(), folder / "coffee.png")
    return folder


def test_the_style_model_loads_from_pytorch_adains_files_and_missing_files_say_what_to_download(style_model, tmp_path):
    encoder, decoder = load_style_model(style_model)
    assert torch.equal(encoder[29].weight, torch.load(style_model / "vgg_normalised.pth")["29.weight"])
    assert not any(p.requires_grad for p in [*encoder.parameters(), *decoder.parameters()])
    with pytest.raises(InvalidInputError, match="naoto0804/pytorch-AdaIN"):
        load_style_model(tmp_path)


def test_the_stylizer_redraws_the_chosen_images_only(style_model, paintings):
    batch = torch.randn(4, 3, 32, 32)
    never = Stylizer(style_model, paintings, 32, prob=0.0, alpha=1.0, device=torch.device("cpu"))
    assert torch.equal(never(batch), batch)
    always = Stylizer(style_model, paintings, 32, prob=1.0, alpha=1.0, device=torch.device("cpu"))
    assert always.style_mean.shape == (2, 512, 1, 1)
    out = always(batch)
    assert out.shape == batch.shape and all(not torch.equal(out[i], batch[i]) for i in range(4))


def test_cvkit_train_with_a_style_model(style_model, paintings, tmp_path: Path):
    digits = digit_folder(tmp_path / "digits", 32, 8, classes=[0, 1])
    args = ["train", "small_cnn", str(digits), "-o", str(tmp_path / "run"), "--epochs", "1", "-b", "16",
            "--image-size", "28", "--device", "cpu", "--workers", "0", "--aug", "none",
            "--style-model", str(style_model), "--style-images", str(paintings), "--style-prob", "0.5"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, (result.output, result.exception)
    assert (tmp_path / "run" / "best.pt").is_file()
    refused = cvkit("train", "small_cnn", digits, "-o", tmp_path / "other", "--style-model", style_model)
    assert_clean_error(refused)


def test_a_foreign_file_as_style_model_is_a_clean_error(paintings, tmp_path: Path):
    bogus = tmp_path / "adain.pt"
    bogus.write_text("not weights")
    digits = digit_folder(tmp_path / "digits", 8, 2, classes=[0, 1])
    run = cvkit("train", "small_cnn", digits, "-o", tmp_path / "run", "--device", "cpu",
                "--style-model", bogus, "--style-images", paintings)  # fmt: skip
    assert_clean_error(run, names="adain.pt")
    assert not (tmp_path / "run").exists()
