"""Every Open Images, LVIS, KITTI and FiftyOne sample of ../shared/corpus converts with the counts its README
states (counted there with the stdlib), to the manifest (which holds everything) and to each of these writers."""

from __future__ import annotations

import pytest

import cvkit
from conftest import corpus_path

#: (corpus folder, format, images, objects) from ../shared/corpus/README.md "Sources and expected counts"; objects
#: are boxes + masks (Open Images: 2 box rows + 1 segmentation row; FiftyOneDataset: 3 + 2 detections)
SAMPLES = [
    (("open_images", "datumaro_v6"), "open_images", 4, 3),
    (("open_images", "official_metadata"), "open_images", 0, 0),
    (("lvis", "lvis_api_val100_v0_5"), "lvis", 100, 977),
    (("kitti", "kitti_object_vis"), "kitti", 2, 8),
    (("kitti", "datumaro_kitti_detection"), "kitti", 2, 5),
    (("fiftyone", "kitti_fo_image_detection"), "fiftyone", 2, 8),
    (("fiftyone", "coco_instances_fo_dataset"), "fiftyone", 2, 5),
]
IDS = ["/".join(parts) for parts, *_ in SAMPLES]


@pytest.mark.parametrize(("parts", "name", "images", "objects"), SAMPLES, ids=IDS)
def test_corpus_sample_converts_to_the_manifest_with_its_counts(parts, name, images, objects, tmp_path):
    source = corpus_path(*parts)
    assert cvkit.detect_format(source) == name
    report = cvkit.convert(source, tmp_path / "out.jsonl", to_format="manifest")
    assert (report.read.images, report.read.objects) == (images, objects)
    assert (report.written.images, report.written.objects) == (images, objects)
    back = cvkit.read(tmp_path / "out.jsonl").materialize()
    assert (len(back), sum(len(s.objects) for s in back)) == (images, objects)


@pytest.mark.parametrize("target", ["lvis", "kitti", "fiftyone"])
@pytest.mark.parametrize(
    ("parts", "name", "images", "objects"),
    [s for s in SAMPLES if s[2] and s[0][0] != "lvis"],
    ids=[i for i, s in zip(IDS, SAMPLES, strict=True) if s[2] and s[0][0] != "lvis"],
)
def test_corpus_sample_converts_to_each_new_writer_with_its_counts(parts, name, images, objects, target, tmp_path):
    """LVIS's sample has no image files, which KITTI and FiftyOne need beside their labels: it is covered above."""
    report = cvkit.convert(
        corpus_path(*parts), tmp_path / ("out.json" if target == "lvis" else "out"), to_format=target
    )
    assert (report.written.images, report.written.objects) == (images, objects)
