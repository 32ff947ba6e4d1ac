"""Contract-test inputs for FiftyOne exports (a FiftyOneImageDetectionDataset folder)."""

from pathlib import Path

from conftest import make_image


def bad_input(tmp: Path) -> tuple[Path, str]:
    root = tmp / "bad_fiftyone"
    make_image(root / "data" / "a.jpg", 10, 10)
    (root / "labels.json").write_text(
        '{"classes": null, "labels": {"a": [{"label": "cat", "bounding_box": [0.1, 0.2, 0.3]}]}}'
    )
    return root / "labels.json", "labels.a[0].bounding_box"
