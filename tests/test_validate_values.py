"""core/validate_values.py: the rules every reader applies to untrusted numbers, against independent oracles
(pycocotools for RLE masks, ``str.splitlines`` for line breaks)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from cvkit.core import validate_values
from cvkit.errors import InvalidInputError


def _runs_of(mask: np.ndarray) -> list[int]:
    """Runs of a mask in column-major order, starting with zeros (COCO's uncompressed RLE), by hand."""
    flat = mask.flatten(order="F")
    change = np.flatnonzero(np.diff(flat)) + 1
    runs = np.diff(np.concatenate(([0], change, [flat.size]))).tolist()
    return [0, *runs] if flat.size and flat[0] else runs


@pytest.mark.parametrize("seed", range(4))
def test_rle_strings_decode_to_the_runs_pycocotools_encoded(seed):
    rng = np.random.default_rng(seed)
    for _ in range(40):
        height, width = (int(v) for v in rng.integers(1, 200, 2))
        mask = (rng.random((height, width)) < rng.random()).astype(np.uint8)
        encoded = mask_utils.encode(np.asfortranarray(mask))
        runs = validate_values.rle_counts(encoded["counts"])
        assert runs == _runs_of(mask_utils.decode(encoded))
        checked = validate_values.rle(
            {"size": [height, width], "counts": encoded["counts"].decode()}, "f.json", "here", height, width
        )
        assert sum(runs[1::2]) == int(mask_utils.area(encoded)) == int(mask.sum())
        assert checked["size"] == [height, width]


def test_rle_of_a_large_run_and_of_a_list_is_taken():
    mask = np.zeros((600, 900), np.uint8)
    mask[10:500, 3:800] = 1  # runs past 2**16 need several characters each
    encoded = mask_utils.encode(np.asfortranarray(mask))
    assert validate_values.rle_counts(encoded["counts"]) == _runs_of(mask)
    validate_values.rle({"size": [600, 900], "counts": _runs_of(mask)}, None, None, 600, 900)


@pytest.mark.parametrize(
    ("rle", "message"),
    [
        ({"size": [4, 5], "counts": [5, 10]}, "RLE runs cover 15 pixels, its 4x5 size has 20"),
        ({"size": [4, 5], "counts": [25, -5]}, "RLE counts hold a negative run (-5)"),
        (
            {"size": [4, 5], "counts": [10.5, 9.5]},
            "RLE counts must be a list of whole numbers or a COCO RLE string, got '[10.5, 9.5]'",
        ),
        ({"size": [4, 5], "counts": "~~"}, "RLE counts must be a list of whole numbers or a COCO RLE string, got '~~'"),
        ({"size": [4, 5], "counts": "P"}, "RLE counts must be a list of whole numbers or a COCO RLE string, got 'P'"),
        ({"size": [4, 5, 3], "counts": [60]}, "RLE size must be [height, width] in whole pixels, got [4, 5, 3]"),
        ({"size": [0, 5], "counts": []}, "RLE size must be [height, width] in whole pixels, got [0, 5]"),
        ({"size": [3, 3], "counts": [9]}, "RLE size 3x3 (height x width) is not the image's 4x5"),
        ({"counts": [20]}, "RLE segmentation needs 'counts' and 'size'"),
    ],
)
def test_bad_rle_is_refused_with_its_reason(rle, message):
    with pytest.raises(InvalidInputError) as info:
        validate_values.rle(rle, "f.json", "annotations[3].segmentation", 4, 5)
    assert info.value.describe() == f"f.json:annotations[3].segmentation: {message}"


def _to_string(runs: list[int]) -> bytes:
    """pycocotools' ``rleToString`` by hand (runs after the second as differences, 5 bits a character), so a
    string can hold runs pycocotools would never write."""
    out = bytearray()
    for m, run in enumerate(runs):
        x = run - runs[m - 2] if m > 2 else run
        more = True
        while more:
            c = x & 0x1F
            x >>= 5
            more = not ((c & 0x10 == 0 and x == 0) or (c & 0x10 and x == -1))
            out.append((c | 0x20 if more else c) + 48)
    return bytes(out)


def test_a_negative_run_in_a_string_is_refused():
    runs = [10, 5, 2, 3]
    assert (
        _to_string(runs) == mask_utils.frPyObjects({"size": [4, 5], "counts": runs}, 4, 5)["counts"]
    )  # the encoder is pycocotools'
    assert validate_values.rle_counts(_to_string([10, 5, -2, 7])) == [10, 5, -2, 7]
    with pytest.raises(InvalidInputError, match=r"negative run \(-2\)"):
        validate_values.rle({"size": [4, 5], "counts": _to_string([10, 5, -2, 7]).decode()}, None, None)


@pytest.mark.parametrize(("value", "expected"), [(64, 64), (64.0, 64), (np.int64(7), 7), (None, None), (0, None)])
def test_image_sides_taken(value, expected):
    assert validate_values.image_side(value, "width", None, None) == expected


@pytest.mark.parametrize("value", [-64, True, False, "64", 64.5, math.nan, math.inf, 1e30, 2**31, [64]])
def test_image_sides_refused(value):
    with pytest.raises(InvalidInputError, match="width must be a whole number of pixels from 1 to 2147483647"):
        validate_values.image_side(value, "width", "a.json", "images[0].width")


@pytest.mark.parametrize(
    ("values", "ok"),
    [
        ([1, 2, 3, 4, 5, 6], True),
        ([1, 2, 3, 4, 5, 6, 7], False),
        ([1, 2, 3, 4], False),
        ([1, 2, 3, 4, 5, math.nan], False),
        ([1, 2, 3, 4, 5, True], False),
        ([1, 2, 3, 4, 5, "6"], False),
    ],
)
def test_polygon_parts(values, ok):
    if ok:
        assert validate_values.polygon_part(values, None, None) == [float(v) for v in values]
    else:
        with pytest.raises(InvalidInputError):
            validate_values.polygon_part(values, None, None)


def test_keypoints_are_triplets_as_many_as_the_category_names():
    assert validate_values.keypoints([1, 2, 2, 3, 4, 0], None, None, ["a", "b"]) == [1.0, 2.0, 2.0, 3.0, 4.0, 0.0]
    with pytest.raises(InvalidInputError, match="triplets, got 5 numbers"):
        validate_values.keypoints([1, 2, 2, 3, 4], None, None)
    with pytest.raises(InvalidInputError, match="keypoints hold 1 points, the category names 2"):
        validate_values.keypoints([1, 2, 2], None, None, ["a", "b"])


@pytest.mark.parametrize("text", ["nan", "inf", "-Infinity", "1e999", "", "x"])
def test_numbers_written_as_text_must_be_finite(text):
    with pytest.raises(InvalidInputError, match="must be a finite number"):
        validate_values.parse_finite(text, "<x>", "a.xml", "object[0]")


def test_line_breaks_are_what_splitlines_breaks_at():
    for code in range(0x3000):
        name = f"a{chr(code)}b"
        splits = len(name.splitlines()) > 1
        try:
            validate_values.one_line(name, "train.txt")
            refused = False
        except InvalidInputError:
            refused = True
        assert refused == splits, hex(code)


def test_a_manifest_object_has_as_many_keypoints_as_its_category_names(tmp_path):
    import json

    import cvkit
    from cvkit.core.report import Report

    header = {
        "type": "header",
        "schema": "cvkit.manifest",
        "version": 1,
        "source": {"format": "test"},
        "categories": [{"id": 1, "name": "person", "parents": [], "attributes": {"keypoints": ["nose", "eye"]}}],
    }
    good = {"label": "person", "bbox": [1, 1, 5, 5], "keypoints": [1, 2, 2, 3, 4, 2]}
    bad = {**good, "keypoints": [1, 2, 2]}
    lines = [header] + [
        {"image": f"{n}.jpg", "width": 10, "height": 10, "objects": [obj]} for n, obj in enumerate((good, bad))
    ]
    (tmp_path / "m.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    report = Report(skip_invalid=True)
    assert len(cvkit.read(tmp_path / "m.jsonl", report=report).materialize()) == 1
    assert [(s.location, s.reason) for s in report.skipped] == [
        ("line 3, objects[0].keypoints", "keypoints hold 1 points, the category names 2")
    ]


@pytest.mark.parametrize(
    ("xmin", "width", "message"),
    [
        ("inf", "500", "box must hold finite numbers only, got inf"),
        ("90", "500", "box has a negative width or height"),
        ("1", "99999999999999999999", "width must be a whole number of pixels from 1 to 2147483647"),
    ],
)
def test_imagenet_box_xml_values(xmin, width, message, tmp_path):
    from cvkit.formats.imagenet.common import parse_box_xml

    xml = tmp_path / "n01440764_10026.xml"
    xml.write_text(
        f"<annotation><size><width>{width}</width><height>375</height></size><object><name>n01440764</name>"
        f"<bndbox><xmin>{xmin}</xmin><ymin>1</ymin><xmax>50</xmax><ymax>60</ymax></bndbox></object></annotation>"
    )
    with pytest.raises(InvalidInputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_box_xml(xml)


def test_imagenet_kaggle_boxes_are_finite_and_not_inverted():
    from cvkit.formats.imagenet.kaggle import parse_prediction

    assert parse_prediction("n01440764 1 2 30 40", None, "line 2")[0].bbox == (0.0, 1.0, 30.0, 39.0)
    for text in ("n01440764 1 2 inf 40", "n01440764 50 2 30 40"):
        with pytest.raises(InvalidInputError):
            parse_prediction(text, None, "line 2")


def test_an_int_past_any_float_is_refused_not_a_traceback():
    for check in (
        lambda v: validate_values.image_side(v, "width", None, None),
        lambda v: validate_values.whole_number(v, "label", None, None),
        lambda v: validate_values.finite(v, "x", None, None),
        lambda v: validate_values.box([0, 0, v, 1], None, None),
    ):
        with pytest.raises(InvalidInputError):
            check(10**400)
