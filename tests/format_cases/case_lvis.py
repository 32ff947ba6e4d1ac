"""Contract-test inputs for LVIS (one JSON, written to ``out.json``)."""

from pathlib import Path

DESTINATION = "out.json"
EXACT_IDS = True


def bad_input(tmp: Path) -> tuple[Path, str]:
    path = tmp / "bad_lvis.json"
    path.write_text(
        '{"categories": [{"id": 1, "name": "acorn", "frequency": "r", "synset": "acorn.n.01"}, {"name": "x"}], '
        '"images": [], "annotations": []}'
    )
    return path, "categories[1]"
