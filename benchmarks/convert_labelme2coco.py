"""LabelMe JSON -> COCO on 20,000 files / 500,000 shapes, cvkit vs globox.

The input is generated from the real corpus (labelme_json/bbox_detection): its rectangles,
cycled and shifted, 25 shapes a file, with varied file and label names, each JSON beside
its image (hard links to one corpus JPEG). Rectangles, because globox's LabelMe parser
reads rectangles only.
datumaro is not a peer here: its ``label_me`` format is the MIT LabelMe *XML* (web tool),
it has no reader for LabelMe desktop JSON.

    python benchmarks/convert_labelme2coco.py [--files 20000] [--shapes-per-file 25]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import CORPUS, WORK, best_of, cvkit_cmd, fresh_dir, peers_python, print_speedup, print_table


def generate(folder: Path, files: int, per_file: int) -> int:
    """Write ``files`` LabelMe JSONs (and their images) built from corpus shapes; returns the shape count."""
    # globox reads LabelMe rectangles only, so the shapes are the corpus rectangles (bbox_detection)
    source = sorted((CORPUS / "labelme_json" / "bbox_detection" / "data_annotated").glob("*.json"))
    pool = [s for f in source for s in json.loads(f.read_text())["shapes"]]
    folder.mkdir(parents=True, exist_ok=True)
    image = folder / "_image.jpg"  # one real JPEG, hard-linked as every file's image
    shutil.copyfile(source[0].with_suffix(".jpg"), image)
    total = 0
    for i in range(files):
        shapes = []
        for k in range(per_file):
            shape = dict(pool[(i + k) % len(pool)])
            dx = (i * 7 + k * 3) % 40
            shape["points"] = [[x + dx, y] for x, y in shape["points"]]
            shape["label"] = f"{shape['label']}_{(i + k) % 20}"
            shape["group_id"] = None
            shapes.append(shape)
        doc = {
            "version": "5.5.0",
            "flags": {},
            "shapes": shapes,
            "imagePath": f"img_{i:06d}.jpg",
            "imageData": None,
            "imageHeight": 375,
            "imageWidth": 500,
        }
        sub = folder / f"part_{i // 1000:03d}"
        sub.mkdir(exist_ok=True)
        (sub / f"img_{i:06d}.json").write_text(json.dumps(doc))
        os.link(image, sub / f"img_{i:06d}.jpg")
        total += len(shapes)
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=20000)
    parser.add_argument("--shapes-per-file", type=int, default=25)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    data = WORK / f"labelme_{args.files}"
    if not data.is_dir():
        print(f"generating {args.files} files ...", flush=True)
        shapes = generate(data, args.files, args.shapes_per_file)
    else:
        shapes = args.files * args.shapes_per_file
    print(f"input: {args.files} LabelMe JSON files, {shapes} shapes ({data})")
    out = fresh_dir("out_labelme2coco")
    rows: dict[str, dict[str, float] | None] = {}
    rows["cvkit"] = best_of(
        cvkit_cmd("convert", "labelme2coco", str(data), str(out / "cvkit.json"), "--overwrite", "--json"), args.repeat
    )
    rows["cvkit (1 process)"] = best_of(
        cvkit_cmd(
            "convert", "labelme2coco", str(data), str(out / "cvkit1.json"), "--overwrite", "--json", "-r", "workers=1"
        ),
        args.repeat,
    )
    python = peers_python("globox")
    if python is not None:
        globox = str(python.parent / "globox")
        rows["globox"] = best_of(
            [
                globox,
                "convert",
                "--format",
                "labelme",
                "--recursive",
                "--save_fmt",
                "coco",
                "--coco_auto_ids",
                str(data),
                str(out / "globox.json"),
            ],
            args.repeat,
        )
    rows["datumaro (no LabelMe JSON reader)"] = None
    print_table(f"LabelMe JSON -> COCO, {args.files} files / {shapes} shapes", rows, "cvkit")
    print_speedup(rows, ("globox",), "5x")


if __name__ == "__main__":
    main()
