"""Contract-test inputs for the YOLO format (Ultralytics layout by default, written to a folder)."""

from pathlib import Path

from conftest import make_image

EXACT_IDS = False  # YOLO class indices are positions 0..N-1, not the source's category ids


def bad_input(tmp: Path) -> tuple[Path, str]:
    root = tmp / "bad_yolo"
    make_image(root / "images" / "train" / "a.jpg", 20, 10)
    (root / "labels" / "train").mkdir(parents=True)
    (root / "labels" / "train" / "a.txt").write_text("0 0.5 0.5 0.2 0.2\n0 0.5 0.5 0.2\n")
    (root / "data.yaml").write_text("train: images/train\nval: images/train\nnames: [cat]\n")
    return root, "a.txt:line 2: expected 5 fields"
