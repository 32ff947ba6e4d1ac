from pathlib import Path

DESTINATION = "out.jsonl"
EXACT_IDS = True


def bad_input(tmp: Path) -> tuple[Path, str]:
    path = tmp / "bad.jsonl"
    path.write_text(
        '{"type": "header", "schema": "cvkit.manifest", "version": 1, "categories": []}\n'
        '{"image": "a.jpg", "objects": [\n'
    )
    return path, "line 2"
