from pathlib import Path

EXACT_IDS = True


def bad_input(tmp: Path) -> tuple[Path, str]:
    path = tmp / "instances_bad.json"
    path.write_text(
        '{"images": [{"id": 1, "file_name": "a.jpg", "width": 4, "height": 4}],\n'
        ' "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 2]}],\n'
        ' "categories": [{"id": 1, "name": "a"}]}'
    )
    return path, "annotations[0].bbox"
