from pathlib import Path


def bad_input(tmp: Path) -> tuple[Path, str]:
    root = tmp / "in21k"
    root.mkdir()
    (root / "n01440764.tar").write_bytes(b"this is not a tar archive" * 40)
    return root, "not a readable tar archive"
