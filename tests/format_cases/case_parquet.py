from pathlib import Path

DESTINATION = "out.parquet"
EXACT_IDS = True


def bad_input(tmp: Path) -> tuple[Path, str]:
    """A Parquet manifest whose record uses a label its header does not list."""
    from cvkit.manifest_parquet import write_rows

    path = tmp / "bad.parquet"
    header = {"type": "header", "schema": "cvkit.manifest", "version": 1, "categories": [{"id": 1, "name": "cat"}]}
    record = {
        "image": "a.jpg",
        "width": 4,
        "height": 4,
        "split": None,
        "labels": [],
        "objects": [{"label": "dog", "bbox": [0, 0, 1, 1]}],
    }
    with open(path, "wb") as handle:
        write_rows([record], lambda: header, handle, path)
    return path, "row 1: label 'dog' is not in the header's categories"
