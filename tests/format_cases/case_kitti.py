"""Contract-test inputs for KITTI object labels (a folder with label_2/ and image_2/)."""

from pathlib import Path


def bad_input(tmp: Path) -> tuple[Path, str]:
    root = tmp / "bad_kitti"
    (root / "label_2").mkdir(parents=True)
    (root / "label_2" / "000000.txt").write_text(
        "Car 0.00 0 -1.57 10.0 20.0 30.0 40.0 1.5 1.6 3.7 1.0 1.5 20.0 -1.56\n"
        "Van 0.00 x -1.57 10.0 20.0 30.0 40.0 1.5 1.6 3.7 1.0 1.5 20.0 -1.56\n"
    )
    return root, "line 2: occluded must be a number"
