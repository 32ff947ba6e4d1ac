from pathlib import Path


def bad_input(tmp: Path) -> tuple[Path, str]:
    root = tmp / "mnist"
    root.mkdir()
    (root / "train-images-idx3-ubyte").write_bytes(
        b"\x00\x00\x08\x03" + (1).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2 + b"\x00" * 100
    )
    (root / "train-labels-idx1-ubyte").write_bytes(b"\x00\x00\x08\x01" + (1).to_bytes(4, "big") + b"\x03")
    return root, "pixel bytes are not whole 28x28 images"
