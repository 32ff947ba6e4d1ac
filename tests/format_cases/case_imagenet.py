from pathlib import Path


def bad_input(tmp: Path) -> tuple[Path, str]:
    root = tmp / "ilsvrc"
    (root / "val").mkdir(parents=True)
    (root / "val" / "ILSVRC2012_val_00000001.JPEG").write_bytes(b"")
    (root / "ILSVRC2012_validation_ground_truth.txt").write_text("1\n")
    return root, "only the devkit's data/meta.mat turns into WNIDs"
