from pathlib import Path


def bad_input(tmp: Path) -> tuple[Path, str]:
    root = tmp / "cifar-10-batches-py"
    root.mkdir()
    (root / "batches.meta").write_bytes(b"\x80\x04\x95")
    (root / "data_batch_1").write_bytes(b"")
    return root, "corrupt or truncated pickle"
