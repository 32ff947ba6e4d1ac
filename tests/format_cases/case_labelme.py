from pathlib import Path


def bad_input(tmp: Path) -> tuple[Path, str]:
    path = tmp / "bad.json"
    path.write_text(
        '{"version": "5.5.0", "flags": {}, "imagePath": "bad.jpg", "imageHeight": 4, "imageWidth": 4,\n'
        ' "shapes": [{"label": "a", "points": [[0, 0], [1, 1]], "shape_type": "ellipse"}]}'
    )
    return path, "shapes[0].shape_type: unknown shape type 'ellipse'"
