"""Bounded resources: decompression bombs, YAML alias bombs, files that never end, sizes nobody can allocate.

Each case runs ``cvkit`` as a user would and asserts the promise of docs/safety.md ("Resources and limits"): a
one-line error naming the file and the limit (exit 2), no traceback, nothing written, in bounded time, and no more
memory than the same command takes on a harmless input (the oracle: the 20000x20000 bomb decoded would take 400 MB
to 1.2 GB more).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from hostile import trees
from hostile.harness import assert_clean_error, bomb_png, cvkit, snapshot

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="FIFOs, /dev/zero and wait4: Linux")

#: what a refused bomb may take beyond the same command on a harmless input (a decode of the bomb: 400-1200 MB)
MEMORY_SLACK_MB = 250


@pytest.fixture(scope="module")
def bomb(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return bomb_png(tmp_path_factory.mktemp("bomb") / "bomb.png").read_bytes()


@pytest.fixture(scope="module")
def classified(tmp_path_factory: pytest.TempPathFactory, bomb: bytes) -> dict[str, Path]:
    """Two image-folder manifests, one harmless and one with the bomb among its images, and a checkpoint trained
    on the harmless one."""
    root = tmp_path_factory.mktemp("classified")
    good = trees.imagefolder_tree(root / "good", per_class=3)
    bad = trees.imagefolder_tree(root / "bad", per_class=3)
    (bad / "dog" / "2.png").write_bytes(bomb)
    manifests = {
        "good": trees.manifest_of(good, root / "good.jsonl"),
        "bad": trees.manifest_of(bad, root / "bad.jsonl"),
        "bomb": bad / "dog" / "2.png",
        "root": root,
    }
    run = cvkit(
        "train",
        "small_cnn",
        manifests["good"],
        "--epochs",
        "1",
        "--device",
        "cpu",
        "--workers",
        "0",
        "-o",
        root / "run",
        timeout=300,
    )
    assert run.code == 0, run.stderr
    manifests["checkpoint"] = root / "run" / "best.pt"
    return manifests


#: commands that decode the images of a manifest (MANIFEST, OUT, RUN placeholders)
DECODING = {
    "augment --preview": ["augment", "{manifest}", "--preview", "{out}/sheet.png", "--n", "6"],
    "augment --apply": ["augment", "{manifest}", "--apply", "-o", "{out}/augmented"],
    "train (torchvision decoder)": [
        "train",
        "small_cnn",
        "{manifest}",
        "--epochs",
        "1",
        "--device",
        "cpu",
        "--workers",
        "0",
        "--decoder",
        "torchvision",
        "-o",
        "{out}/run",
    ],
    "train (OpenCV decoder)": [
        "train",
        "small_cnn",
        "{manifest}",
        "--epochs",
        "1",
        "--device",
        "cpu",
        "--workers",
        "0",
        "--decoder",
        "opencv",
        "-o",
        "{out}/run",
    ],
    "train (Pillow decoder)": [
        "train",
        "small_cnn",
        "{manifest}",
        "--epochs",
        "1",
        "--device",
        "cpu",
        "--workers",
        "0",
        "--decoder",
        "pil",
        "-o",
        "{out}/run",
    ],
    "train (data loader workers)": [
        "train",
        "small_cnn",
        "{manifest}",
        "--epochs",
        "1",
        "--device",
        "cpu",
        "--workers",
        "2",
        "-o",
        "{out}/run",
    ],
}


def _args(template: list[str], **values: object) -> list[str]:
    return [part.format(**values) for part in template]


@pytest.mark.parametrize("command", DECODING)
def test_a_pixel_bomb_is_refused_from_its_header_by_every_decoder(
    classified: dict[str, Path], tmp_path: Path, command: str
):
    good = cvkit(*_args(DECODING[command], manifest=classified["good"], out=tmp_path / "good"), timeout=300)
    assert good.code == 0, good.stderr

    refused = cvkit(*_args(DECODING[command], manifest=classified["bad"], out=tmp_path / "bad"), timeout=300)

    assert_clean_error(refused, 2, names="dog/2.png")
    assert "CVKIT_MAX_PIXELS" in refused.stderr and "400,000,000 pixels" in refused.stderr
    assert refused.peak_mb < good.peak_mb + MEMORY_SLACK_MB, f"{refused.peak_mb:.0f} MB against {good.peak_mb:.0f} MB"
    # nothing partial: no augmented copies, no run folder of a training that never reached a checkpoint
    assert not (tmp_path / "bad").exists() or not any((tmp_path / "bad").iterdir())


def test_predict_refuses_a_pixel_bomb(classified: dict[str, Path]):
    good = cvkit(
        "predict",
        classified["checkpoint"],
        classified["root"] / "good" / "cat" / "0.png",
        "--device",
        "cpu",
        timeout=300,
    )
    assert good.code == 0, good.stderr
    refused = cvkit("predict", classified["checkpoint"], classified["bomb"], "--device", "cpu", timeout=300)
    assert_clean_error(refused, 2, names="2.png")
    assert refused.peak_mb < good.peak_mb + MEMORY_SLACK_MB


@pytest.mark.parametrize("tree", ["labelme_mit", "labelme"])
def test_a_mask_that_is_a_pixel_bomb_is_refused(tmp_path: Path, bomb: bytes, tree: str):
    """An MIT LabelMe mask PNG, a LabelMe mask shape's base64 PNG."""
    build = {
        "labelme_mit": lambda root, png: trees.mit_tree(root, png),
        "labelme": lambda root, png: trees.labelme_tree(root, 1, png),
    }[tree]
    good_source, bad_source = (
        build(tmp_path / "good", trees.png_bytes(16, 16, (255, 255, 255))),
        build(tmp_path / "bad", bomb),
    )
    good = cvkit("convert", "--from", tree, good_source, tmp_path / "good.json", "--to", "coco")
    assert good.code == 0, good.stderr
    before = snapshot(tmp_path / "bad")

    refused = cvkit("convert", "--from", tree, bad_source, tmp_path / "bad.json", "--to", "coco", memory_mb=2048)

    assert_clean_error(refused, 2, names="CVKIT_MAX_PIXELS")
    assert "bad/" in refused.stderr  # the file holding the mask
    assert refused.peak_mb < good.peak_mb + MEMORY_SLACK_MB
    assert not (tmp_path / "bad.json").exists()
    assert snapshot(tmp_path / "bad") == before


@pytest.mark.parametrize("limit, code", [("100", 2), ("100_000_000", 0), ("lots", 2), ("-5", 2)])
def test_cvkit_max_pixels_sets_the_limit(classified: dict[str, Path], tmp_path: Path, limit: str, code: int):
    """The oracle for the limit itself: 16x16 images pass under the default, fail under 100 pixels; a value that is no
    positive number is an error saying so."""
    run = cvkit(
        "augment",
        classified["good"],
        "--preview",
        tmp_path / "sheet.png",
        "--n",
        "2",
        env={"CVKIT_MAX_PIXELS": limit},
        timeout=300,
    )
    assert run.code == code, run.stderr
    if code:
        assert_clean_error(run, 2, names="CVKIT_MAX_PIXELS")


# --- YAML -----------------------------------------------------------------------------------------------------------
def _alias_bomb(levels: int) -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, levels):
        lines.append(f"a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * 9) + "]")
    return "\n".join(lines)


YAML_CASES = {
    "alias bomb as names": _alias_bomb(14) + "\nnames: *a13\n",
    "alias bomb beside names": _alias_bomb(14) + "\nnames: [cat, dog]\n",
    "names holding lists": "names: [[cat, dog], [bird]]\n",
    "names holding a null": "names: [cat, null]\n",
    "names holding a mapping": "names: [{cat: 1}, dog]\n",
    "names mapping to lists": "names: {0: [cat], 1: dog}\n",
    "names holding booleans": "names: [true, false]\n",
}


@pytest.mark.parametrize("command", ["convert", "stats"])
@pytest.mark.parametrize("case", YAML_CASES)
def test_a_hostile_data_yaml_is_refused_quickly_in_bounded_memory(tmp_path: Path, case: str, command: str):
    source = trees.yolo_tree(tmp_path / "yolo")
    (source / "data.yaml").write_text("path: .\ntrain: images/train\n" + YAML_CASES[case])
    before = snapshot(source)
    args = ["convert", "yolo2coco", source, tmp_path / "out.json"] if command == "convert" else ["stats", source]

    run = cvkit(*args, memory_mb=1024, timeout=30)

    assert_clean_error(run, 2, names="data.yaml")
    assert ("CVKIT_MAX_YAML_ALIASES" in run.stderr) == case.startswith("alias bomb")
    assert not (tmp_path / "out.json").exists()
    assert snapshot(source) == before


def test_an_alias_bomb_in_an_augment_spec_is_refused(classified: dict[str, Path], tmp_path: Path):
    spec = tmp_path / "spec.yaml"
    spec.write_text(_alias_bomb(14) + "\ntransforms: [{name: HorizontalFlip}]\n")
    run = cvkit("augment", classified["good"], "--preview", tmp_path / "sheet.png", "--spec", spec, timeout=120)
    assert_clean_error(run, 2, names="spec.yaml")
    assert "CVKIT_MAX_YAML_ALIASES" in run.stderr


# --- sizes nobody can allocate ----------------------------------------------------------------------------------------
SPEC_SIZES = {
    "Resize": "{name: Resize, height: 200000, width: 200000}",
    "RandomResizedCrop": "{name: RandomResizedCrop, size: 200000}",
    "RandomResizedCrop pair": "{name: RandomResizedCrop, size: [64, 300000]}",
    "CenterCrop": "{name: CenterCrop, height: 100000, width: 64}",
    "RandomCrop": "{name: RandomCrop, height: 64, width: 1000000}",
    "Crop": "{name: Crop, x_min: 0, y_min: 0, x_max: 5000000, y_max: 64}",
}


@pytest.mark.parametrize("step", SPEC_SIZES)
def test_an_augment_spec_asking_for_a_huge_image_is_refused_before_allocating(
    classified: dict[str, Path], tmp_path: Path, step: str
):
    spec = tmp_path / "spec.yaml"
    spec.write_text(f"transforms:\n  - {SPEC_SIZES[step]}\n")
    run = cvkit("augment", classified["good"], "--preview", tmp_path / "sheet.png", "--spec", spec, timeout=120)
    assert_clean_error(run, 2, names="spec.yaml:transforms[0]")
    assert "CVKIT_MAX_SIDE" in run.stderr
    assert not (tmp_path / "sheet.png").exists()


def test_cvkit_max_side_raises_the_bound(classified: dict[str, Path], tmp_path: Path):
    """The oracle: the same kind of step at a size within the bound works, and a lower bound refuses it."""
    spec = tmp_path / "spec.yaml"
    spec.write_text("transforms:\n  - {name: Resize, height: 48, width: 48}\n")
    assert cvkit("augment", classified["good"], "--preview", tmp_path / "a.png", "--spec", spec, timeout=120).code == 0
    lowered = cvkit(
        "augment",
        classified["good"],
        "--preview",
        tmp_path / "b.png",
        "--spec",
        spec,
        env={"CVKIT_MAX_SIDE": "32"},
        timeout=120,
    )
    assert_clean_error(lowered, 2, names="CVKIT_MAX_SIDE")


def _checkpoint_with(source: Path, target: Path, **config: object) -> Path:
    import torch

    state = torch.load(source, map_location="cpu", weights_only=True)
    state["config"] = {**state["config"], **config}
    torch.save(state, target)
    return target


@pytest.mark.parametrize("command", ["predict", "evaluate", "export"])
def test_a_checkpoint_asking_for_a_huge_image_size_is_refused(
    classified: dict[str, Path], tmp_path: Path, command: str
):
    checkpoint = _checkpoint_with(classified["checkpoint"], tmp_path / "big.pt", image_size=200_000)
    args = {
        "predict": ["predict", checkpoint, classified["root"] / "good" / "cat" / "0.png", "--device", "cpu"],
        "evaluate": ["evaluate", checkpoint, classified["good"], "--device", "cpu"],
        "export": ["export", checkpoint, tmp_path / "model.onnx", "--onnx"],
    }[command]
    run = cvkit(*args, timeout=300)
    assert_clean_error(run, 2, names="big.pt:config.image_size")
    assert "CVKIT_MAX_SIDE" in run.stderr
    assert not (tmp_path / "model.onnx").exists()


def test_train_refuses_a_huge_image_size(classified: dict[str, Path], tmp_path: Path):
    run = cvkit(
        "train",
        "small_cnn",
        classified["good"],
        "--image-size",
        "200000",
        "--device",
        "cpu",
        "-o",
        tmp_path / "run",
        timeout=300,
    )
    assert_clean_error(run, 2, names="--image-size 200000")
    assert not (tmp_path / "run").exists()


# --- files that never end ---------------------------------------------------------------------------------------------
def _voc_listed(root: Path, make: object) -> tuple[Path, Path, list[str]]:
    source = trees.voc_tree(root / "voc", listed=False)
    bad = make(source / "Annotations" / "000003.xml")  # type: ignore[operator]
    trees.list_voc(source, ["000000", "000001", "000002", "000003"])
    return source, bad, ["convert", "voc2coco", source, root / "out.json"]


def _yolo_label(root: Path, make: object) -> tuple[Path, Path, list[str]]:
    source = trees.yolo_tree(root / "yolo")
    bad = make(source / "labels" / "train" / "0.txt")  # type: ignore[operator]
    return source, bad, ["convert", "yolo2coco", source, root / "out.json"]


def _yolo_yaml(root: Path, make: object) -> tuple[Path, Path, list[str]]:
    source = trees.yolo_tree(root / "yolo")
    bad = make(source / "data.yaml")  # type: ignore[operator]
    return source, bad, ["convert", "--from", "yolo", source, root / "out.json", "--to", "coco"]


def _yolo_image(root: Path, make: object) -> tuple[Path, Path, list[str]]:
    source = trees.yolo_tree(root / "yolo")
    bad = make(source / "images" / "train" / "1.png")  # type: ignore[operator]
    return source, bad, ["convert", "yolo2coco", source, root / "out.json"]


def _coco(root: Path, make: object) -> tuple[Path, Path, list[str]]:
    source = root / "coco"
    trees.coco_file(source / "real.json")
    bad = make(source / "instances.json")  # type: ignore[operator]
    return source, bad, ["convert", "coco2voc", bad, root / "out"]


def _cifar(root: Path, make: object) -> tuple[Path, Path, list[str]]:
    source = trees.cifar_tree(root / "cifar")
    bad = make(source / "data_batch_1")  # type: ignore[operator]
    return source, bad, ["convert", "cifar2coco", source, root / "out.json"]


def _mnist_csv(root: Path, make: object) -> tuple[Path, Path, list[str]]:
    source = root / "mnist"
    bad = make(source / "mnist_train.csv")  # type: ignore[operator]
    return source, bad, ["convert", "--from", "mnist", source, root / "out.json", "--to", "coco"]


def _manifest(root: Path, make: object) -> tuple[Path, Path, list[str]]:
    source = root / "m"
    bad = make(source / "manifest.jsonl")  # type: ignore[operator]
    return source, bad, ["export", bad, root / "out", "--to", "coco"]


def _spec(root: Path, make: object) -> tuple[Path, Path, list[str]]:
    source = trees.imagefolder_tree(root / "if")
    manifest = trees.manifest_of(source, root / "if.jsonl")
    bad = make(root / "spec" / "spec.yaml")  # type: ignore[operator]
    return root / "spec", bad, ["augment", manifest, "--preview", root / "sheet.png", "--spec", bad]


def _image_of_voc_copy(root: Path, make: object) -> tuple[Path, Path, list[str]]:
    source = trees.voc_tree(root / "voc")
    bad = make(source / "JPEGImages" / "000001.jpg")  # type: ignore[operator]
    return source, bad, ["convert", "voc2voc", source, root / "out", "--images", "copy"]


NEVER_ENDING = {
    "VOC annotation listed in train.txt": _voc_listed,
    "YOLO label": _yolo_label,
    "YOLO data.yaml": _yolo_yaml,
    "YOLO image (size from its header)": _yolo_image,
    "COCO file given as the source": _coco,
    "CIFAR batch": _cifar,
    "MNIST CSV": _mnist_csv,
    "manifest": _manifest,
    "augment spec": _spec,
    "VOC image copied": _image_of_voc_copy,
}


#: cases whose reader lists regular files only, so the FIFO is passed over: what the error then says
PASSED_OVER = {"CIFAR batch": "cifar: no CIFAR batches"}


@pytest.mark.parametrize("kind", ["fifo", "dev_zero"])
@pytest.mark.parametrize("case", NEVER_ENDING)
def test_a_fifo_or_a_link_to_dev_zero_is_refused_without_blocking_or_filling_memory(
    tmp_path: Path, case: str, kind: str
):
    source, bad, args = NEVER_ENDING[case](tmp_path, getattr(trees, kind))
    before = snapshot(source)

    run = cvkit(*args, memory_mb=1500 if args[0] != "augment" else None, timeout=60)

    assert run.code == 2, f"exit {run.code}\n{run.stderr}"
    assert "Traceback" not in run.stderr, run.stderr
    if case in PASSED_OVER:  # the reader lists regular files only: the folder is named, holding nothing it reads
        assert PASSED_OVER[case] in run.stderr, run.stderr
    else:
        assert bad.name in run.stderr and "not a regular file" in run.stderr, run.stderr
    # augment imports torch and albumentations (1.1-1.3 GB resident on its own); reading /dev/zero or waiting on the
    # FIFO would pass either bound within seconds (and the 60 s guard)
    assert run.peak_mb < (2048 if args[0] == "augment" else 1200)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("out")] == []
    assert snapshot(source) == before
