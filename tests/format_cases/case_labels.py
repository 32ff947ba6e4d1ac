from pathlib import Path

DESTINATION = "labels.csv"
HOLDS_BOXES = False
IMAGE_LABELS = {"cat_01": ["cat", "dog"], "dog_02": ["dog"], "empty_03": []}
READ_OPTIONS = {"sizes": True}


def bad_input(tmp: Path) -> tuple[Path, str]:
    path = tmp / "bad.csv"
    path.write_text("ImageId,labels\na.jpg,cat\nb.jpg,cat,dog\n")
    return path, "line 3: expected 2 fields (ImageId,labels), got 3"
