"""Known answers for imbalance metrics, class-balance weights and repeat factors (worked by hand)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from cvkit.errors import CvkitError, InvalidInputError
from cvkit.stats.imbalance import frequency_groups, gini, imbalance_metrics
from cvkit.stats.weights import (
    METHODS,
    compute_class_weights,
    load_class_weights,
    repeat_factors,
    weights_document,
    write_class_weights,
)

COUNTS = [5000, 500, 50]  # the example: N = 5550, C = 3


def test_balanced_is_n_over_c_times_count():
    # 5550 / (3 * 5000) = 0.37, 5550 / (3 * 500) = 3.7, 5550 / (3 * 50) = 37
    assert compute_class_weights(COUNTS, "balanced") == pytest.approx([0.37, 3.7, 37.0])


def test_balanced_matches_scikit_learn():
    from sklearn.utils.class_weight import compute_class_weight

    y = np.repeat([0, 1, 2], COUNTS)
    assert compute_class_weights(COUNTS, "balanced") == pytest.approx(
        compute_class_weight("balanced", classes=np.arange(3), y=y)
    )


def test_effective_number_weights_normalised_to_sum_to_c():
    # (1 - 0.999) / (1 - 0.999^n): 0.0010068, 0.0025407, 0.0204959; sum 0.0240434; * 3 / sum
    w = compute_class_weights(COUNTS, "effective", beta=0.999)
    assert w == pytest.approx([0.126, 0.317, 2.557], abs=6e-4)
    assert w.sum() == pytest.approx(3.0)


def test_inverse_and_sqrt_inverse_are_normalised_to_sum_to_c():
    # 1/n = 0.0002, 0.002, 0.02 (sum 0.0222) -> * 3 / 0.0222
    assert compute_class_weights(COUNTS, "inverse") == pytest.approx([0.027027, 0.27027, 2.7027], rel=1e-4)
    # n^-1/2 = 0.014142, 0.044721, 0.141421 (sum 0.200285) -> * 3 / sum
    assert compute_class_weights(COUNTS, "sqrt-inverse") == pytest.approx([0.21183, 0.66987, 2.11830], rel=1e-4)


def test_median_frequency_by_counts_and_by_pixel_frequencies():
    # median(5000, 500, 50) = 500 -> 500/5000, 500/500, 500/50
    assert compute_class_weights(COUNTS, "median-frequency") == pytest.approx([0.1, 1.0, 10.0])
    # pixel frequencies 0.2 and 0.05: median 0.125 -> 0.625, 2.5
    assert compute_class_weights([3, 1], "median-frequency", frequencies=[0.2, 0.05]) == pytest.approx([0.625, 2.5])


def test_imbalance_metrics_known_answers():
    m = imbalance_metrics(COUNTS)
    assert m.imbalance_ratio == 100.0  # 5000 / 50
    # sum |ni - nj| over ordered pairs = 2 * (4500 + 4950 + 450) = 19800; / (2 * 3^2 * 1850) = 0.5946
    assert m.gini == pytest.approx(19800 / 33300)
    assert round(m.gini, 3) == 0.595
    p = [5000 / 5550, 500 / 5550, 50 / 5550]
    entropy = -sum(x * math.log(x) for x in p)  # 0.35329
    assert m.entropy == pytest.approx(entropy)
    assert round(m.normalized_entropy, 3) == 0.322  # 0.35329 / ln 3
    assert m.effective_classes == pytest.approx(math.exp(entropy))  # 1.424 classes


def test_balanced_counts_have_no_imbalance():
    m = imbalance_metrics([7, 7, 7, 7])
    assert (m.imbalance_ratio, m.gini, m.normalized_entropy, m.effective_classes) == pytest.approx((1.0, 0.0, 1.0, 4.0))


def test_absent_classes_get_weight_zero_and_are_left_out_of_metrics():
    m = imbalance_metrics([10, 0, 5])
    assert m.imbalance_ratio == 2.0
    assert m.empty_classes == 1
    for method in ("balanced", "inverse", "sqrt-inverse", "effective", "median-frequency"):
        w = compute_class_weights([10, 0, 5], method)
        assert w[1] == 0.0 and np.isfinite(w).all(), method
    # balanced over the 2 present classes: 15 / (2 * 10), 15 / (2 * 5)
    assert compute_class_weights([10, 0, 5], "balanced") == pytest.approx([0.75, 0.0, 1.5])


def test_gini_of_one_dominant_class_approaches_one():
    assert gini([1_000_000, 1, 1, 1]) > 0.74  # (C-1)/C is the maximum for C=4
    assert gini([1, 1]) == 0.0


def test_lvis_repeat_factors():
    # 4 images; "a" in all, "b" in 1: f_a = 1, f_b = 0.25; t = 0.5 -> r_a = max(1, sqrt(0.5)) = 1, r_b = sqrt(2)
    class_factors, image_factors = repeat_factors([[0], [0, 1, 0], [0], [0]], num_classes=2, threshold=0.5)
    assert class_factors == pytest.approx([1.0, math.sqrt(2)])
    assert image_factors == pytest.approx([1.0, math.sqrt(2), 1.0, 1.0])
    weights = compute_class_weights([9, 1], "repeat-factor", image_counts=[4, 1], num_images=4, threshold=0.5)
    assert weights == pytest.approx([1.0, math.sqrt(2)])


def test_image_without_classes_has_repeat_factor_one():
    _, image_factors = repeat_factors([[], [1]], num_classes=2, threshold=1.0)
    assert image_factors == pytest.approx([1.0, math.sqrt(2)])


def test_lvis_frequency_groups_with_configurable_thresholds():
    groups = frequency_groups(["a", "b", "c", "d"], [500, 100, 10, 0])
    assert groups == {"a": "frequent", "b": "common", "c": "rare", "d": "absent"}
    assert frequency_groups(["a", "b"], [5, 3], rare_max=3, common_max=4) == {"a": "frequent", "b": "rare"}
    with pytest.raises(CvkitError, match="--rare-max"):
        frequency_groups(["a"], [1], rare_max=10, common_max=10)


def test_unknown_method_and_bad_beta_are_refused():
    with pytest.raises(CvkitError, match="unknown weight method 'focal'"):
        compute_class_weights([1, 2], "focal")
    with pytest.raises(CvkitError, match="--beta"):
        compute_class_weights([1, 2], "effective", beta=1.0)
    assert len(METHODS) == 6


def test_weights_file_round_trip_in_any_class_order(tmp_path):
    doc = weights_document(["cat", "dog"], np.array([1.5, 0.75]), [1, 2], "balanced", {"basis": "objects"})
    path = write_class_weights(tmp_path / "w.json", doc)
    on_disk = json.loads(path.read_text())
    assert (
        on_disk["schema"] == "cvkit.class_weights" and on_disk["version"] == 1 and on_disk["classes"] == ["cat", "dog"]
    )
    assert load_class_weights(path, ["cat", "dog"]) == [1.5, 0.75]
    assert load_class_weights(path, ["dog", "cat"]) == [0.75, 1.5]


def test_loading_weights_for_other_classes_fails_naming_them(tmp_path):
    path = write_class_weights(
        tmp_path / "w.json", weights_document(["cat", "dog"], np.array([1.0, 1.0]), [1, 1], "balanced", {})
    )
    with pytest.raises(InvalidInputError, match="missing 'bird'; not in the dataset 'dog'"):
        load_class_weights(path, ["cat", "bird"])
    bad = tmp_path / "bad.json"
    bad.write_text('{"weights": {}}')
    with pytest.raises(InvalidInputError, match="not a class weights file"):
        load_class_weights(bad, ["cat"])


def test_median_matches_numpy_for_odd_and_even_lengths():
    from cvkit.stats.column_arrays import median

    rng = np.random.default_rng(3)
    for n in (1, 2, 5, 6, 101):
        values = rng.random(n)
        assert median(values) == pytest.approx(float(np.median(values)))
