"""Annotations follow the image exactly: flips, fixed crops, resizes; clipping and box-loss accounting.

Known answers are computed by hand in cvkit's continuous coordinates (origin at the
top-left corner of the top-left pixel): a horizontal flip maps x to W - x, so a box
(x, y, w, h) becomes (W - x - w, y, w, h).
"""

from __future__ import annotations

import numpy as np
import pytest

from cvkit.augment.backends import CpuSampleAugmenter, GpuSampleAugmenter
from cvkit.augment.spec import load_spec
from cvkit.core.masks import decode, encode
from cvkit.core.model import Annotation, Sample

W, H = 200, 100
IMAGE = np.random.default_rng(0).integers(0, 255, (H, W, 3), dtype=np.uint8)


def sample(*objects: Annotation) -> Sample:
    return Sample("img.png", W, H, objects=list(objects))


def cpu(steps, **boxes):
    return CpuSampleAugmenter(load_spec({"transforms": steps, "boxes": boxes}), seed=0)


def kornia_on_cpu(steps, **boxes):
    """The GPU back-end run on CPU tensors: same code as on CUDA, checked here for correctness."""
    pytest.importorskip("kornia")
    return GpuSampleAugmenter(load_spec({"transforms": steps, "boxes": boxes}), "cpu", seed=0)


BACKENDS = [cpu, kornia_on_cpu]


@pytest.mark.parametrize("backend", BACKENDS, ids=["albumentations", "kornia"])
def test_horizontal_flip_moves_box_polygon_and_keypoints_exactly(backend):
    obj = Annotation(
        "cat",
        (20.0, 30.0, 40.0, 20.0),
        polygon=[[20, 30, 60, 30, 60, 50]],
        shape="polygon",
        keypoints=[25, 35, 2, 55, 45, 1],
    )
    result = backend([{"name": "HorizontalFlip", "p": 1.0}]).augment_many(IMAGE, sample(obj), 1)[0]
    assert np.array_equal(result.image, IMAGE[:, ::-1])
    (out,) = result.sample.objects
    assert out.bbox == (140.0, 30.0, 40.0, 20.0)
    assert out.polygon == [[180.0, 30.0, 140.0, 30.0, 140.0, 50.0]]
    assert out.keypoints == [175.0, 35.0, 2.0, 145.0, 45.0, 1.0]
    assert result.boxes_lost == 0 and out.label == "cat"


@pytest.mark.parametrize("backend", BACKENDS, ids=["albumentations", "kornia"])
def test_vertical_flip_then_fixed_crop(backend):
    steps = [{"name": "VerticalFlip", "p": 1.0}, {"name": "Crop", "x_min": 10, "y_min": 20, "x_max": 110, "y_max": 100}]
    result = backend(steps).augment_many(IMAGE, sample(Annotation("dog", (20.0, 10.0, 30.0, 40.0))), 1)[0]
    # flip: y -> 100 - y, box y 10..50 -> 50..90; crop shifts by (-10, -20)
    assert result.image.shape == (80, 100, 3)
    assert np.array_equal(result.image, IMAGE[::-1][20:100, 10:110])
    assert result.sample.objects[0].bbox == (10.0, 30.0, 30.0, 40.0)
    assert (result.sample.width, result.sample.height) == (100, 80)


@pytest.mark.parametrize("backend", BACKENDS, ids=["albumentations", "kornia"])
def test_resize_scales_boxes_by_the_size_ratio(backend):
    result = backend([{"name": "Resize", "height": 50, "width": 400}]).augment_many(
        IMAGE, sample(Annotation("a", (20.0, 30.0, 40.0, 20.0))), 1
    )[0]
    assert result.image.shape == (50, 400, 3)
    assert result.sample.objects[0].bbox == (40.0, 15.0, 80.0, 10.0)


@pytest.mark.parametrize("backend", BACKENDS, ids=["albumentations", "kornia"])
def test_centre_crop_shifts_boxes(backend):
    result = backend([{"name": "CenterCrop", "height": 60, "width": 100}]).augment_many(
        IMAGE, sample(Annotation("a", (60.0, 30.0, 40.0, 20.0))), 1
    )[0]
    # crop starts at ((200-100)/2, (100-60)/2) = (50, 20)
    assert result.sample.objects[0].bbox == (10.0, 10.0, 40.0, 20.0)


#: cvkit's random geometric steps, and the albumentations transform each one is (built here, not through cvkit)
RANDOM_GEOMETRY = [
    (
        {"name": "RandomResizedCrop", "size": 96, "scale": [0.3, 1.0], "ratio": [0.75, 1.33]},
        lambda A: A.RandomResizedCrop(size=(96, 96), scale=(0.3, 1.0), ratio=(0.75, 1.33), p=1.0),
    ),
    ({"name": "RandomCrop", "height": 60, "width": 120}, lambda A: A.RandomCrop(60, 120, pad_if_needed=True, p=1.0)),
    ({"name": "BoxSafeCrop", "erosion_rate": 0.0, "p": 1.0}, lambda A: A.BBoxSafeRandomCrop(erosion_rate=0.0, p=1.0)),
    (
        {"name": "Affine", "scale": [0.8, 1.2], "rotate": 20, "translate": 0.1, "shear": 5, "p": 1.0},
        lambda A: A.Affine(scale=(0.8, 1.2), translate_percent=(-0.1, 0.1), rotate=(-20, 20), shear=(-5, 5), p=1.0),
    ),
]
#: one box inside, one near the right edge, one at the bottom-left corner: random draws cut, move or drop them
ORACLE_BOXES = [(20.0, 30.0, 40.0, 20.0), (150.0, 10.0, 48.0, 60.0), (0.0, 70.0, 30.0, 30.0)]


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize(
    ("step", "albumentations_step"), RANDOM_GEOMETRY, ids=[step["name"] for step, _ in RANDOM_GEOMETRY]
)
def test_random_geometry_moves_boxes_as_albumentations_own_boxes(step, albumentations_step, seed):
    """The same draw (same seed) through albumentations' own box handling (``out["bboxes"]``): cvkit follows the
    image through the step's matrix instead, and must land on the same boxes and drop the same ones."""
    import albumentations as A

    objects = [Annotation(str(index), box) for index, box in enumerate(ORACLE_BOXES)]
    result = CpuSampleAugmenter(load_spec({"transforms": [step]}), seed=seed).augment(IMAGE, sample(*objects))
    boxes = A.BboxParams(format="coco", label_fields=["index"], clip=True)
    oracle = A.Compose([albumentations_step(A)], bbox_params=boxes, seed=seed)(
        image=IMAGE, bboxes=np.array(ORACLE_BOXES), index=np.arange(len(ORACLE_BOXES))
    )
    assert np.array_equal(result.image, oracle["image"])  # the same draw
    expected = {str(int(index)): tuple(box) for index, box in zip(oracle["index"], oracle["bboxes"])}
    got = {obj.label: obj.bbox for obj in result.sample.objects}
    assert set(got) == set(expected)
    for label, box in got.items():
        assert box == pytest.approx(expected[label], abs=1e-3)
    assert result.boxes_lost == len(ORACLE_BOXES) - len(expected)


def test_box_partly_outside_the_input_is_clipped_not_rejected():
    obj = Annotation("a", (180.0, -10.0, 40.0, 30.0))  # sticks out right and top
    result = cpu([{"name": "HorizontalFlip", "p": 1.0}]).augment(IMAGE, sample(obj))
    assert result.boxes_lost == 0
    assert result.sample.objects[0].bbox == (0.0, 0.0, 20.0, 20.0)


def test_box_entirely_outside_the_input_counts_as_lost():
    objects = sample(Annotation("a", (250.0, 10.0, 5.0, 5.0)), Annotation("b", (0.0, 0.0, 10.0, 10.0)))
    result = cpu([{"name": "HorizontalFlip", "p": 1.0}]).augment(IMAGE, objects)
    assert result.boxes_lost == 1 and [o.label for o in result.sample.objects] == ["b"]


def test_min_visibility_and_min_area_drop_and_count_boxes():
    crop = [{"name": "Crop", "x_min": 0, "y_min": 0, "x_max": 100, "y_max": 100}]
    objects = (
        Annotation("quarter", (90.0, 10.0, 40.0, 10.0)),  # 10 of 40 px wide inside: 25% visible
        Annotation("half", (80.0, 30.0, 40.0, 10.0)),  # 50% visible
        Annotation("tiny", (10.0, 10.0, 3.0, 3.0)),  # 9 px²
        Annotation("whole", (10.0, 50.0, 20.0, 20.0)),
    )
    result = cpu(crop, min_visibility=0.3, min_area=10).augment(IMAGE, sample(*objects))
    assert [o.label for o in result.sample.objects] == ["half", "whole"]
    assert result.boxes_lost == 2
    assert result.sample.objects[0].bbox == (80.0, 30.0, 20.0, 10.0)  # clipped to the crop, not rejected
    kept_all = cpu(crop).augment(IMAGE, sample(*objects))
    assert kept_all.boxes_lost == 0 and kept_all.sample.objects[0].bbox == (90.0, 10.0, 10.0, 10.0)


def test_visibility_is_measured_over_the_whole_pipeline_not_per_step():
    # two crops each keep 60% of the box's remaining width: 36% overall, under 0.5
    steps = [
        {"name": "Crop", "x_min": 0, "y_min": 0, "x_max": 160, "y_max": 100},
        {"name": "Crop", "x_min": 0, "y_min": 0, "x_max": 136, "y_max": 100},
    ]
    result = cpu(steps, min_visibility=0.5).augment(IMAGE, sample(Annotation("a", (100.0, 10.0, 100.0, 10.0))))
    assert result.boxes_lost == 1 and result.sample.objects == []


def test_redraw_replaces_a_sample_that_lost_all_its_boxes():
    steps = [{"name": "RandomCrop", "height": 60, "width": 100}]
    corner = sample(Annotation("a", (0.0, 0.0, 40.0, 40.0)))  # kept in roughly 1 crop out of 20
    plain = cpu(steps, min_visibility=0.5)
    assert any(not plain.augment(IMAGE, corner).sample.objects for _ in range(20))
    redrawing = cpu(steps, min_visibility=0.5, redraw=300)
    results = [redrawing.augment(IMAGE, corner) for _ in range(20)]
    assert all(r.sample.objects for r in results)
    assert any(r.redraws > 0 for r in results)


def test_redraw_gives_up_after_the_limit_and_says_so():
    always_lost = [{"name": "Crop", "x_min": 100, "y_min": 0, "x_max": 200, "y_max": 100}]
    result = cpu(always_lost, redraw=3).augment(IMAGE, sample(Annotation("a", (0.0, 0.0, 20.0, 20.0))))
    assert result.sample.objects == [] and result.redraws == 3 and result.boxes_lost == 1


def test_mask_follows_the_flip():
    mask = np.zeros((H, W), np.uint8)
    mask[10:20, 0:30] = 1
    obj = Annotation("m", shape="mask", rle=encode(mask))
    result = cpu([{"name": "HorizontalFlip", "p": 1.0}]).augment(IMAGE, sample(obj))
    out = result.sample.objects[0]
    assert np.array_equal(decode(out.rle), mask[:, ::-1])
    assert out.bbox == (170.0, 10.0, 30.0, 10.0)


def test_polygon_is_clipped_to_the_crop():
    obj = Annotation("p", polygon=[[50, 10, 150, 10, 150, 60, 50, 60]], shape="polygon")
    result = cpu([{"name": "Crop", "x_min": 0, "y_min": 0, "x_max": 100, "y_max": 100}]).augment(IMAGE, sample(obj))
    (out,) = result.sample.objects
    xs = out.polygon[0][0::2]
    assert max(xs) == 100.0 and min(xs) == 50.0
    assert out.bbox == (50.0, 10.0, 50.0, 50.0)


def test_keypoint_leaving_the_image_becomes_unlabeled():
    obj = Annotation("person", (10.0, 10.0, 100.0, 50.0), keypoints=[20, 20, 2, 150, 20, 2])
    result = cpu([{"name": "Crop", "x_min": 0, "y_min": 0, "x_max": 100, "y_max": 100}]).augment(IMAGE, sample(obj))
    assert result.sample.objects[0].keypoints == [20.0, 20.0, 2.0, 0.0, 0.0, 0.0]


def test_image_labels_and_attributes_survive():
    s = Sample(
        "img.png",
        W,
        H,
        labels=["outdoor"],
        attributes={"source": "x"},
        objects=[Annotation("a", (1.0, 1.0, 5.0, 5.0), attributes={"difficult": True})],
    )
    result = cpu([{"name": "HorizontalFlip", "p": 1.0}]).augment(IMAGE, s)
    assert result.sample.labels == ["outdoor"] and result.sample.attributes == {"source": "x"}
    assert result.sample.objects[0].attributes == {"difficult": True}


def test_patch_shuffle_refuses_annotations_but_serves_classification():
    from cvkit.augment import classification_transform
    from cvkit.errors import CvkitError

    steps = [{"name": "PatchShuffle", "p": 1.0, "grid": 2}]
    with pytest.raises(CvkitError, match="PatchShuffle moves image patches"):
        cpu(steps).augment(IMAGE, sample(Annotation("a", (1.0, 1.0, 5.0, 5.0))))
    assert classification_transform(steps, 64)(IMAGE).shape == (64, 64, 3)


def test_gpu_backend_reports_cpu_fallback_once():
    aug = kornia_on_cpu(
        [{"name": "Crop", "x_min": 0, "y_min": 0, "x_max": 50, "y_max": 50}, {"name": "HorizontalFlip", "p": 1.0}]
    )
    assert aug.notes == ["no GPU implementation for Crop: it runs on the CPU"]


def test_gpu_augmenter_contract_on_cpu_tensors():
    torch = pytest.importorskip("torch")
    from cvkit.augment.gpu import GpuAugmenter

    batch = torch.from_numpy(IMAGE).permute(2, 0, 1)[None].repeat(3, 1, 1, 1)
    out = GpuAugmenter("strong", 64, "cpu", seed=0)(batch)
    assert out.shape == (3, 3, 64, 64) and out.dtype == torch.float32
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0
    normalised = GpuAugmenter("imagenet", 32, "cpu", train=False, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))(batch)
    assert normalised.shape == (3, 3, 32, 32) and float(normalised.min()) < 0


def test_kornia_draws_parameters_per_image():
    torch = pytest.importorskip("torch")
    from cvkit.augment.gpu import GpuAugmenter

    batch = torch.from_numpy(IMAGE).permute(2, 0, 1)[None].repeat(8, 1, 1, 1)
    out = GpuAugmenter("imagenet", 48, "cpu", seed=0)(batch)
    assert len({out[i].sum().item() for i in range(8)}) == 8
