"""Pipeline specs: presets, YAML/JSON round trips, albumentations import, classification transforms."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cvkit.augment import PRESETS, classification_transform, load_spec
from cvkit.errors import CvkitError, InvalidInputError


def test_every_preset_loads_and_gives_a_square_uint8_image_of_the_asked_size():
    image = np.random.default_rng(0).integers(0, 255, (300, 451, 3), dtype=np.uint8)
    assert set(PRESETS) == {"imagenet", "light", "strong", "detection", "texture"}
    for name in PRESETS:
        out = classification_transform(name, 96, seed=0)(image)
        assert out.shape == (96, 96, 3) and out.dtype == np.uint8, name


def test_imagenet_preset_is_random_resized_crop_then_flip():
    spec = load_spec("imagenet")
    assert spec.names() == ["RandomResizedCrop", "HorizontalFlip"]
    assert spec.transforms[0].params == {"size": 224, "scale": [0.08, 1.0], "ratio": [0.75, 1.3333333333333333]}
    assert spec.transforms[1].p == 0.5


def test_eval_transform_is_shorter_side_resize_then_centre_crop():
    # shorter side already 224/0.875 = 256, so the resize keeps the image and the crop is exact
    image = np.arange(256 * 384 * 3, dtype=np.uint32).reshape(256, 384, 3).astype(np.uint8)
    out = classification_transform("strong", 224, train=False)(image)
    assert np.array_equal(out, image[16:240, 80:304])


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_spec_file_round_trip_keeps_every_step_and_box_rule(tmp_path, suffix):
    spec = load_spec("detection")
    path = spec.save(tmp_path / f"pipe{suffix}")
    back = load_spec(path)
    assert back.to_dict() == spec.to_dict()
    if suffix == ".json":
        assert json.loads(path.read_text())["boxes"] == {"min_visibility": 0.3, "min_area": 16.0, "redraw": 10}


def test_bare_list_spec_fills_defaults():
    spec = load_spec([{"name": "HorizontalFlip", "p": 1.0}, {"name": "GaussianBlur"}])
    assert spec.transforms[1].params == {"kernel": 5, "sigma": [0.1, 2.0]}
    assert spec.transforms[1].p == 0.5


def test_albumentations_to_dict_is_imported_with_the_same_parameters():
    import albumentations as A

    compose = A.Compose(
        [
            A.RandomResizedCrop(size=(160, 160), scale=(0.3, 1.0)),
            A.HorizontalFlip(p=0.25),
            A.HueSaturationValue(10, 20, 30, p=0.8),
        ],
        bbox_params=A.BboxParams(format="coco", min_visibility=0.4, min_area=9),
    )
    spec = load_spec(A.to_dict(compose))
    assert spec.names() == ["RandomResizedCrop", "HorizontalFlip", "HueSaturationValue"]
    assert spec.transforms[0].params["size"] == [160, 160] and spec.transforms[0].params["scale"] == [0.3, 1.0]
    assert spec.transforms[1].p == 0.25
    assert spec.transforms[2].params == {"hue_shift": [-10, 10], "sat_shift": [-20, 20], "val_shift": [-30, 30]}
    assert (spec.boxes.min_visibility, spec.boxes.min_area) == (0.4, 9.0)


def test_albumentations_transform_without_cvkit_equivalent_is_named():
    import albumentations as A

    with pytest.raises(InvalidInputError, match="'ElasticTransform' has no cvkit equivalent"):
        load_spec(A.to_dict(A.Compose([A.ElasticTransform()])))


def test_unknown_transform_and_parameter_name_the_step(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("transforms:\n  - {name: HorizontalFlip}\n  - {name: Blurry}\n")
    with pytest.raises(InvalidInputError) as info:
        load_spec(path)
    assert "transforms[1]" in info.value.describe() and "unknown transform 'Blurry'" in info.value.describe()
    with pytest.raises(InvalidInputError, match="GaussianBlur: unknown parameter 'radius'"):
        load_spec([{"name": "GaussianBlur", "radius": 3}])
    with pytest.raises(InvalidInputError, match="p must be between 0 and 1"):
        load_spec([{"name": "HorizontalFlip", "p": 2}])


def test_bad_yaml_names_the_line(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("transforms:\n  - {name: HorizontalFlip\n")
    with pytest.raises(InvalidInputError) as info:
        load_spec(path)
    assert info.value.file == str(path) and info.value.location and info.value.location.startswith("line ")


def test_neither_preset_nor_file_lists_the_presets():
    with pytest.raises(CvkitError, match=r"neither a preset .*imagenet.* nor a spec file"):
        load_spec("no-such-pipeline")


def test_same_seed_same_augmentation():
    image = np.random.default_rng(1).integers(0, 255, (120, 160, 3), dtype=np.uint8)
    a = classification_transform("strong", 64, seed=7)
    b = classification_transform("strong", 64, seed=7)
    assert all(np.array_equal(a(image), b(image)) for _ in range(3))
