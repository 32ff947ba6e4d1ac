"""COCO -> YOLO on 20,000 images / 500,000 boxes, cvkit vs globox vs datumaro.

The input is generated from the real corpus (coco/cocoapi_results, fakebbox100: 734 real
COCO val2014 boxes over 99 images with COCO's non-contiguous category ids): each generated
image takes a source image's size and 25 corpus boxes scaled into it. Image files do not
exist: COCO gives every size, so no tool needs them, and none copies images (cvkit:
``--images reference``; globox and datumaro write labels only by default).

    python benchmarks/convert_coco2yolo.py [--images 20000] [--boxes-per-image 25] [--repeat 2]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import CORPUS, WORK, best_of, cvkit_cmd, fresh_dir, peers_python, print_speedup, print_table

SOURCE = CORPUS / "coco" / "cocoapi_results" / "instances_val2014_fakebbox100_results.json"


def generate(path: Path, images: int, per_image: int) -> int:
    """Write one COCO instances file built from the corpus boxes; returns the box count."""
    if not SOURCE.is_file():
        raise SystemExit(f"corpus file not found: {SOURCE}")
    results = json.loads(SOURCE.read_text())
    by_image: dict[int, list[list[float]]] = defaultdict(list)
    for r in results:
        by_image[r["image_id"]].append(r["bbox"])
    # a source image's size: the extent of its boxes rounded up to 16 pixels (COCO's are at most 640)
    sizes = [
        (
            min(640, 16 * math.ceil(max(b[0] + b[2] for b in boxes) / 16)),
            min(640, 16 * math.ceil(max(b[1] + b[3] for b in boxes) / 16)),
        )
        for boxes in by_image.values()
    ]
    pool = [(r["category_id"], r["bbox"]) for r in results]
    category_ids = sorted({c for c, _ in pool})
    doc: dict = {
        "info": {"description": f"generated from {SOURCE.name}"},
        "licenses": [],
        "categories": [{"id": c, "name": f"coco_{c}", "supercategory": ""} for c in category_ids],
        "images": [],
        "annotations": [],
    }
    ann_id = 0
    for i in range(images):
        width, height = sizes[i % len(sizes)]
        doc["images"].append({"id": i + 1, "file_name": f"{i:06d}.jpg", "width": width, "height": height})
        sx, sy = width / 640, height / 640
        for k in range(per_image):
            category, (x, y, w, h) = pool[(i * per_image + k) % len(pool)]
            box = [round(x * sx, 2), round(y * sy, 2), round(w * sx, 2), round(h * sy, 2)]
            ann_id += 1
            doc["annotations"].append(
                {
                    "id": ann_id,
                    "image_id": i + 1,
                    "category_id": category,
                    "bbox": box,
                    "area": round(box[2] * box[3], 2),
                    "iscrowd": 0,
                    "segmentation": [],
                }
            )
    path.parent.mkdir(parents=True, exist_ok=True)
    (path.parent.parent / "images" / "train").mkdir(
        parents=True, exist_ok=True
    )  # empty: datumaro insists the folder exists
    path.write_text(json.dumps(doc))
    return ann_id


def count_lines(folder: Path, pattern: str = "*/*.txt") -> int:
    """Label lines in the label files under ``folder`` (a check that each tool wrote every box)."""
    return sum(1 for f in folder.glob(pattern) for line in f.read_bytes().splitlines() if line.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=20000)
    parser.add_argument("--boxes-per-image", type=int, default=25)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    data = WORK / f"coco_{args.images}x{args.boxes_per_image}" / "annotations" / "instances_train.json"
    if not data.is_file():
        print(f"generating {args.images} images ...", flush=True)
        boxes = generate(data, args.images, args.boxes_per_image)
    else:
        boxes = args.images * args.boxes_per_image
    print(f"input: {args.images} images, {boxes} boxes ({data}, {data.stat().st_size / 1e6:.0f} MB)")
    out = fresh_dir("out_coco2yolo")
    rows: dict[str, dict[str, float] | None] = {}
    rows["cvkit"] = best_of(
        cvkit_cmd(
            "convert", "coco2yolo", str(data), str(out / "cvkit"), "--images", "reference", "--overwrite", "--json"
        ),
        args.repeat,
        clean=out / "cvkit",
    )
    print(f"cvkit wrote {count_lines(out / 'cvkit', 'labels/*/*.txt')} label lines", flush=True)
    python = peers_python("globox", "datumaro[cli]")
    if python is not None:
        globox = str(python.parent / "globox")
        target = out / "globox"
        rows["globox"] = best_of(
            [globox, "convert", "--format", "coco", "--save_fmt", "yolov5", str(data), str(target)],
            args.repeat,
            clean=target,
        )
        print(f"globox wrote {count_lines(target, '*.txt')} label lines", flush=True)
        datum = str(python.parent / "datum")
        target = out / "datumaro"
        rows["datumaro"] = best_of(
            [
                datum,
                "convert",
                "-if",
                "coco_instances",
                "-i",
                str(data.parent.parent),
                "-f",
                "yolo",
                "-o",
                str(target),
                "--overwrite",
            ],
            args.repeat,
            clean=target,
        )
        print(f"datumaro wrote {count_lines(target)} label lines", flush=True)
    print_table(f"COCO -> YOLO, {args.images} images / {boxes} boxes", rows, "cvkit")
    print("\nCPU seconds (user + system; steadier than wall time on a busy machine):")
    for name, r in rows.items():
        if r:
            print(f"{name:<28}{r['cpu_seconds']:>10.3f}{r['cpu_seconds'] / rows['cvkit']['cpu_seconds']:>9.1f}x")
    print_speedup(rows, ("globox", "datumaro"), "5x")


if __name__ == "__main__":
    main()
