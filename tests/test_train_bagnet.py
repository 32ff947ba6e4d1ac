"""BagNet-9/17/33: each output location sees only a 9/17/33 px patch (by autograd), and it trains from scratch."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cvkit.cli import app

torch = pytest.importorskip("torch")
from cvkit.train.bagnet import BagNet  # noqa: E402
from cvkit.train.models import build_model, list_model_names  # noqa: E402
from train_fixtures import digit_folder  # noqa: E402

#: total stride of the feature map (strides 2, 2, 2, 1)
JUMP = 8


def input_patch_of(model: BagNet, size: int, row: int, col: int) -> tuple[int, int, int, int]:
    """Bounding box (top, left, height, width) of the input pixels with a non-zero gradient for one output location."""
    image = torch.randn(1, 3, size, size, dtype=torch.float64, requires_grad=True)
    features = model.local_features(image)
    features[0, :, row, col].sum().backward()
    rows, cols = torch.nonzero(image.grad.abs().sum(dim=(0, 1)) > 0, as_tuple=True)
    return int(rows.min()), int(cols.min()), int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1)


@pytest.mark.parametrize("field", [9, 17, 33])
def test_an_output_location_depends_only_on_its_field_sized_input_patch(field: int):
    torch.manual_seed(0)
    model = BagNet(field).double().eval()  # eval: BatchNorm does not mix locations through batch statistics
    assert model.field == field
    size = field + 3 * JUMP  # a 4x4 feature map
    assert model.local_features(torch.zeros(1, 3, size, size, dtype=torch.float64)).shape[-2:] == (4, 4)
    for row, col in [(0, 0), (2, 1), (3, 3)]:
        assert input_patch_of(model, size, row, col) == (row * JUMP, col * JUMP, field, field)


def test_bagnets_are_in_the_model_list_with_resnet50_sized_stages():
    names = list_model_names()
    assert {"bagnet9", "bagnet17", "bagnet33"} <= set(names)
    model, info = build_model("bagnet17", num_classes=3)
    assert info["heads"] == ["fc"] and model.fc.out_features == 3
    assert [len(getattr(model, f"layer{i}")) for i in range(1, 5)] == [3, 4, 6, 3]
    # 3x3 convolutions (the authors' kernel3 = 1,1,1,0): the stem and the first block of the first three stages
    threes = [name for name, m in model.named_modules() if isinstance(m, torch.nn.Conv2d) and m.kernel_size == (3, 3)]
    assert threes == ["conv2", "layer1.0.conv2", "layer2.0.conv2", "layer3.0.conv2"]


def test_cvkit_train_runs_a_bagnet_on_real_digits(tmp_path: Path):
    digits = digit_folder(tmp_path / "digits", 24, 8, classes=[0, 1])
    out = tmp_path / "run"
    result = CliRunner().invoke(
        app,
        [
            "train",
            "bagnet9",
            str(digits),
            "-o",
            str(out),
            "--epochs",
            "1",
            "-b",
            "8",
            "--image-size",
            "24",
            "--device",
            "cpu",
            "--workers",
            "0",
            "--aug",
            "none",
            "--optimizer",
            "adamw",
            "--lr",
            "1e-3",
        ],
    )
    assert result.exit_code == 0, (result.output, result.exception)
    assert (out / "best.pt").is_file()
    record = json.loads((out / "metrics.jsonl").read_text().splitlines()[-1])
    assert record["epoch"] == 1 and record["train_loss"] > 0
