from pathlib import Path

HOLDS_BOXES = False
IMAGE_LABELS = {"cat_01": ["cat"], "dog_02": ["dog"], "empty_03": ["dog"]}
READ_OPTIONS = {"sizes": True}


def bad_input(tmp: Path) -> tuple[Path, str]:
    root = tmp / "classes"
    root.mkdir()
    (root / "stray.jpg").write_bytes(b"")
    return root, "no class folders here"
