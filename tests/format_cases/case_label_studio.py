"""Contract-test inputs for Label Studio (an import file of tasks)."""

from pathlib import Path


def bad_input(tmp: Path) -> tuple[Path, str]:
    path = tmp / "export.json"
    path.write_text(
        '[{"id": 1, "data": {"image": "/data/upload/1/a.jpg"}, "annotations": [{"id": 1, "result": [\n'
        '  {"id": "r1", "type": "rectanglelabels", "from_name": "label", "to_name": "image", "original_width": 10,\n'
        '   "original_height": 10,\n'
        '   "value": {"x": 1, "y": "2", "width": 3, "height": 4, "rectanglelabels": ["cat"]}}]}]}]\n'
    )
    return path, "[0].annotations[0].result[0].value.y: expected a number, got '2'"
