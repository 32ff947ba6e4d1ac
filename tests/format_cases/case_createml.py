"""Contract-test inputs for CreateML (one JSON list, written to ``out.json``)."""

from pathlib import Path

DESTINATION = "out.json"


def bad_input(tmp: Path) -> tuple[Path, str]:
    path = tmp / "bad_createml.json"
    path.write_text(
        '[{"image": "a.jpg", "annotations": [{"label": "cat", "coordinates": {"y": 5, "width": 4, "height": 4}}]}]'
    )
    return path, "[0].annotations[0].coordinates.x: missing key 'x'"
