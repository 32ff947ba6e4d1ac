"""`cvkit validate`: every planted defect is found (and only those), a clean dataset passes, --fix cleans."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import make_image
from cvkit.cli import app
from cvkit.stats.findings import CHECKS
from cvkit.stats.validate import validate_dataset

runner = CliRunner()
HEADER = {
    "type": "header",
    "schema": "cvkit.manifest",
    "version": 1,
    "source": {"format": "test"},
    "categories": [{"id": 1, "name": "cat", "parents": []}, {"id": 2, "name": "dog", "parents": []}],
}


def _record(
    image: str,
    width: int | None,
    height: int | None,
    objects: list[dict],
    split: str = "train",
    labels: list[str] | None = None,
) -> dict:
    return {
        "image": image,
        "width": width,
        "height": height,
        "split": split,
        "labels": labels or [],
        "objects": objects,
    }


def _write(path: Path, records: list[dict | str]) -> Path:
    lines = [json.dumps(HEADER)] + [r if isinstance(r, str) else json.dumps(r) for r in records]
    path.write_text("\n".join(lines) + "\n")
    return path


def make_exif_jpeg(path: Path, width: int, height: int, orientation: int) -> Path:
    from PIL import Image

    img = Image.new("RGB", (width, height), (10, 200, 30))
    exif = img.getexif()
    exif[0x0112] = orientation
    img.save(path, exif=exif)
    return path


def clean_manifest(root: Path) -> Path:
    make_image(root / "a.jpg", 64, 48, (10, 10, 10))
    make_image(root / "b.png", 80, 60, (20, 20, 20))
    return _write(
        root / "clean.jsonl",
        [
            _record(
                "a.jpg",
                64,
                48,
                [{"label": "cat", "bbox": [0, 0, 64, 48], "id": 1}, {"label": "dog", "bbox": [4, 4, 10, 10], "id": 2}],
            ),
            _record(
                "b.png",
                80,
                60,
                [{"label": "dog", "bbox": [10, 5, 20, 30], "polygon": [[10, 5, 30, 5, 30, 35]], "id": 3}],
                split="val",
            ),
        ],
    )


#: check -> how many were planted in planted_manifest()
PLANTED = {
    "invalid_record": 1,
    "invalid_value": 2,
    "missing_image": 1,
    "unreadable_image": 1,
    "size_mismatch": 1,
    "box_not_finite": 1,
    "box_empty": 2,
    "box_out_of_bounds": 1,
    "polygon_too_few_points": 1,
    "duplicate_annotation_id": 1,
    "unknown_category": 2,
    "split_leakage": 1,
    "exif_rotated": 1,
    "image_without_annotations": 1,
    "duplicate_image": 1,
}


def planted_manifest(root: Path) -> Path:
    """One defect of every kind, each exactly as many times as PLANTED says."""
    make_image(root / "ok.jpg", 64, 48, (1, 2, 3))
    make_image(root / "sized.png", 64, 48, (4, 5, 6))
    make_image(root / "empty.png", 30, 30, (7, 8, 9))
    make_image(root / "twin1.png", 40, 40, (50, 60, 70))
    shutil.copy(root / "twin1.png", root / "twin2.png")  # same split: duplicate_image
    make_image(root / "leak.png", 41, 41, (90, 60, 70))
    shutil.copy(root / "leak.png", root / "leak_val.png")  # other split: split_leakage
    (root / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0garbage")
    make_exif_jpeg(root / "rotated.jpg", 64, 48, 6)  # displayed 48x64, declared correctly
    make_image(root / "masked.png", 40, 30, (11, 12, 13))
    return _write(
        root / "planted.jsonl",
        [
            _record(
                "ok.jpg",
                64,
                48,
                [
                    {"label": "cat", "bbox": [50, 40, 20, 20], "id": 10},  # out of bounds: x2 = 70 > 64
                    {"label": "cat", "bbox": [5, 5, 0, 10], "id": 11},  # zero width
                    {"label": "dog", "bbox": [5, 5, 10, -3], "id": 12},  # negative height
                    {"label": "dog", "bbox": [None, 5, 10, 10], "id": 13},  # not finite
                    {"label": "dog", "bbox": [1, 1, 5, 5], "polygon": [[1, 1, 6, 6]], "id": 14},  # 2-point polygon
                    {"label": "bird", "bbox": [1, 1, 5, 5], "id": 15},  # unknown category
                    {"label": "cat", "bbox": [2, 2, 5, 5], "id": 10},  # duplicate id
                ],
            ),
            _record("missing.jpg", 10, 10, [{"label": "cat", "bbox": [1, 1, 2, 2]}]),
            _record("corrupt.jpg", 10, 10, [{"label": "cat", "bbox": [1, 1, 2, 2]}]),
            _record("sized.png", 100, 100, [{"label": "cat", "bbox": [1, 1, 2, 2]}]),
            _record("empty.png", 30, 30, []),
            _record("twin1.png", 40, 40, [{"label": "cat", "bbox": [1, 1, 2, 2]}]),
            _record(
                "twin2.png", 40, 40, [{"label": "cat", "bbox": [1, 1, 2, 2]}], labels=["zebra"]
            ),  # unknown image label
            _record("leak.png", 41, 41, [{"label": "dog", "bbox": [1, 1, 2, 2]}]),
            _record("leak_val.png", 41, 41, [{"label": "dog", "bbox": [1, 1, 2, 2]}], split="val"),
            _record("rotated.jpg", 48, 64, [{"label": "dog", "bbox": [0, 0, 48, 64]}]),
            _record(
                "masked.png",
                40,
                30,
                [
                    {"label": "cat", "bbox": [1, 1, 5, 5]},
                    {
                        "label": "cat",
                        "bbox": [1, 1, 5, 5],
                        "rle": {"size": [30, 40], "counts": [5, 10]},
                    },  # runs cover 15 of 1200 pixels
                    {"label": "cat", "bbox": [1, 1, 5, 5], "keypoints": [1, 2, 2, 3, 4]},  # not (x, y, v) triplets
                ],
            ),
            '{"image": "broken.jpg", "objects": [',
        ],
    )


def test_every_planted_defect_is_found_and_nothing_else(tmp_path):
    result = validate_dataset(planted_manifest(tmp_path))
    assert {check: n for check, n in result.counts.items() if n} == PLANTED
    assert set(PLANTED) == set(CHECKS)  # the fixture covers every check
    assert result.errors == sum(n for c, n in PLANTED.items() if CHECKS[c][0] == "error")
    assert result.warnings == 3


def test_findings_name_the_image_and_where(tmp_path):
    doc = validate_dataset(planted_manifest(tmp_path)).to_dict()
    oob = doc["checks"]["box_out_of_bounds"]["examples"][0]
    assert oob == {
        "check": "box_out_of_bounds",
        "severity": "error",
        "image": "ok.jpg",
        "location": "line 2, object 1",
        "message": "box x1,y1,x2,y2 = 50,40,70,60 outside the 64x48 image",
    }
    assert doc["checks"]["size_mismatch"]["examples"][0]["message"] == "declared 100x100, image is 64x48"
    assert doc["checks"]["invalid_record"]["examples"][0]["location"] == "line 13"
    assert [f["message"] for f in doc["checks"]["invalid_value"]["examples"]] == [
        "RLE runs cover 15 pixels, its 30x40 size has 1200",
        "keypoints must be (x, y, visibility) triplets, got 5 numbers",
    ]
    assert "twin1.png, twin2.png" in doc["checks"]["duplicate_image"]["examples"][0]["message"]
    assert "in splits train, val" in doc["checks"]["split_leakage"]["examples"][0]["message"]


def test_clean_dataset_passes_with_exit_code_zero(tmp_path):
    path = clean_manifest(tmp_path)
    result = validate_dataset(path)
    assert result.errors == 0 and result.warnings == 0
    out = runner.invoke(app, ["validate", str(path)])
    assert out.exit_code == 0
    assert "no errors: 0 error(s), 0 warning(s) in 2 images" in out.output


def test_errors_give_exit_code_one_and_json(tmp_path):
    path = planted_manifest(tmp_path)
    out = runner.invoke(app, ["validate", str(path), "--json"])
    assert out.exit_code == 1
    doc = json.loads(out.stdout)
    assert doc["ok"] is False and doc["errors"] == 15 and doc["warnings"] == 3
    assert doc["checks"]["missing_image"]["count"] == 1


def test_bad_input_is_exit_code_two(tmp_path):
    out = runner.invoke(app, ["validate", str(tmp_path / "nope.jsonl")])
    assert out.exit_code == 2
    assert "nope.jsonl: input not found" in out.output


def test_deep_decoding_finds_truncated_pixels(tmp_path):
    make_image(tmp_path / "full.jpg", 200, 150)
    data = (tmp_path / "full.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])  # header intact, pixels cut
    path = _write(tmp_path / "m.jsonl", [_record("cut.jpg", 200, 150, [{"label": "cat", "bbox": [1, 1, 5, 5]}])])
    assert validate_dataset(path).counts["unreadable_image"] == 0
    deep = validate_dataset(path, deep=True)
    assert deep.counts["unreadable_image"] == 1
    assert "pixels cannot be decoded" in deep.findings["unreadable_image"][0].message


def test_exif_size_mix_up_is_explained(tmp_path):
    make_exif_jpeg(tmp_path / "r.jpg", 64, 48, 8)
    path = _write(tmp_path / "m.jsonl", [_record("r.jpg", 64, 48, [{"label": "cat", "bbox": [1, 1, 5, 5]}])])
    result = validate_dataset(path)
    assert (
        result.findings["size_mismatch"][0].message
        == "declared 64x48, image is 48x64 (the stored size: EXIF orientation 8 was ignored)"
    )


def test_fix_writes_a_clean_manifest_and_leaves_the_input_alone(tmp_path):
    path = planted_manifest(tmp_path)
    before = path.read_bytes()
    out = runner.invoke(app, ["validate", str(path), "--fix", "-o", str(tmp_path / "clean.jsonl")])
    assert out.exit_code == 1  # the input had errors
    assert "cleaned manifest written to" in out.output
    assert path.read_bytes() == before
    fixed = validate_dataset(tmp_path / "clean.jsonl")
    remaining = {check: n for check, n in fixed.counts.items() if n}
    # leakage and duplicates are reported, not resolved; the empty image is legal
    assert remaining == {"split_leakage": 1, "exif_rotated": 1, "image_without_annotations": 1, "duplicate_image": 1}
    records = [json.loads(line) for line in (tmp_path / "clean.jsonl").read_text().splitlines()[1:]]
    by_image = {r["image"]: r for r in records}
    assert "missing.jpg" not in by_image and "corrupt.jpg" not in by_image
    ok = by_image["ok.jpg"]["objects"]
    assert [o["bbox"] for o in ok] == [[50, 40, 14, 8], [2, 2, 5, 5]]  # clipped to 64x48; broken ones dropped
    assert [o["id"] for o in ok] == [10, 16]  # the repeated id 10 got a fresh one
    assert (by_image["sized.png"]["width"], by_image["sized.png"]["height"]) == (64, 48)
    assert by_image["twin2.png"]["labels"] == []
    assert len(by_image["masked.png"]["objects"]) == 1  # the bad mask and keypoints dropped


def test_fix_refuses_to_overwrite_its_input(tmp_path):
    path = clean_manifest(tmp_path)
    out = runner.invoke(app, ["validate", str(path), "--fix", "-o", str(path)])
    assert out.exit_code == 2
    assert "the destination is the source" in out.output and "never writes over its input" in out.output
    out = runner.invoke(app, ["validate", str(path), "--fix"])
    assert out.exit_code == 2 and "--fix needs -o clean.jsonl" in out.output


def test_real_exif_photos_from_the_corpus(corpus, tmp_path):
    folder = corpus("exif_orientation")
    records = []
    for name in ("Landscape_1.jpg", "Landscape_3.jpg", "Landscape_6.jpg", "Landscape_8.jpg"):
        from cvkit.core.imageinfo import read_image_info

        info = read_image_info(folder / name)
        # declare the *stored* size, as tools that ignore EXIF do
        records.append(
            _record(
                str(folder / name), info.stored_width, info.stored_height, [{"label": "cat", "bbox": [0, 0, 10, 10]}]
            )
        )
    result = validate_dataset(_write(tmp_path / "m.jsonl", records))
    assert result.counts["exif_rotated"] == 3  # orientations 3, 6, 8
    assert result.counts["size_mismatch"] == 2  # 6 and 8 swap width and height
    assert result.counts["missing_image"] == result.counts["unreadable_image"] == 0


@pytest.mark.parametrize("flag", ["--no-images"])
def test_annotation_only_validation_skips_files(tmp_path, flag):
    path = _write(tmp_path / "m.jsonl", [_record("nowhere.jpg", 10, 10, [{"label": "cat", "bbox": [1, 1, 20, 2]}])])
    out = runner.invoke(app, ["validate", str(path), flag, "--json"])
    doc = json.loads(out.stdout)
    assert doc["images_checked"] is False
    assert doc["checks"]["missing_image"]["count"] == 0 and doc["checks"]["box_out_of_bounds"]["count"] == 1
    assert out.exit_code == 1


def test_labelme_ignore_regions_are_no_unknown_category(corpus):
    # labelme's instance_segmentation example marks __ignore__ regions: cvkit keeps them as crowd regions without a
    # category, so they are no "unknown category" error; its one box past the image edge still is an error
    result = validate_dataset(corpus("labelme_json", "instance_segmentation"), format="labelme", check_images=False)
    assert result.counts.get("unknown_category", 0) == 0
    assert result.counts["box_out_of_bounds"] == 1
