"""An Objects365-sized COCO file (1.7M images, 25M boxes, boxes only; about 3.2 GB) converted to YOLO and to a
Parquet manifest: cvkit's wall time and peak memory, and what datumaro and globox do with the same file.

The file is generated once (``--scale 0.01`` gives 1% of it: 17,000 images, 250,000 boxes): 365 categories, image
sizes and boxes drawn from a fixed seed, pycocotools' seven keys per box, no image files (COCO gives every size).
Each tool runs in a fresh process under an address-space cap (``prlimit --as``, ``--peer-cap-gb``) so that a peer
that loads the whole file fails with a MemoryError instead of taking the shared machine down; cvkit's cap is wider
(``--cvkit-cap-gb``, 16: its columns reserve address space they never touch, see ``formats/coco/_bounded.py``).

    python benchmarks/coco_large.py [--scale 1.0] [--peers datumaro globox] [--peer-cap-gb 8]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import WORK, cvkit_cmd, fresh_dir, peers_python, timed

IMAGES = 1_742_289  # Objects365 v2 train
BOXES = 25_407_280
CATEGORIES = 365


def _digits(values: np.ndarray, width: int, zeros: bool = False) -> np.ndarray:
    """Non-negative integers as ``width`` ASCII digits a row, right-aligned: leading spaces (JSON whitespace before
    a number) or, with ``zeros``, leading zeros (inside a string)."""
    out = np.empty((len(values), width), np.uint8)
    rest = values.astype(np.int64)
    for k in range(width - 1, -1, -1):
        out[:, k] = 48 + rest % 10
        rest //= 10
    if not zeros:
        for k in range(width - 1):
            out[:, k] = np.where(values < 10 ** (width - 1 - k), 32, out[:, k])
    return out


def _records(template: str, fields: list[tuple[str, np.ndarray]]) -> bytes:
    """Rows of ``template`` with each run of ``#`` named by ``fields`` (in order) filled with its digits."""
    row = np.frombuffer(template.encode("ascii"), np.uint8)
    out = np.tile(row, (len(fields[0][1]), 1))
    pos = 0
    for _, digits in fields:
        pos = template.index("#", pos)
        out[:, pos : pos + digits.shape[1]] = digits
        pos += digits.shape[1]
    return out.tobytes()


def _fixed(values: np.ndarray, width: int) -> np.ndarray:
    """Values with two decimals (given times 100, as integers) as ``width``-wide ``ddd.dd`` columns."""
    return np.hstack(
        [_digits(values // 100, width - 3), np.full((len(values), 1), 46, np.uint8), _digits(values % 100, 2, True)]
    )


def generate(path: Path, images: int, boxes: int, seed: int = 0) -> None:
    """Write the COCO file a run of images at a time, each run's records filled in as a byte matrix by numpy
    (formatting 25M records in Python would take longer than converting them). Numbers have fixed widths, padded
    with the spaces JSON allows before a value."""
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    (path.parent.parent / "images" / "train").mkdir(parents=True, exist_ok=True)  # datumaro wants the folder
    per_image = rng.multinomial(boxes, np.full(images, 1 / images))
    all_widths, all_heights = rng.integers(320, 1920, images), rng.integers(240, 1080, images)
    categories = ",".join(
        f'{{"id":{c},"name":"object365_{c:03d}","supercategory":"group_{c % 20}"}}' for c in range(1, CATEGORIES + 1)
    )
    image_template = '{"id":########,"file_name":"objects365_v2_#########.jpg","width":####,"height":####},'
    box_template = (
        '{"id":#########,"image_id":########,"category_id":###,"bbox":[#######,#######,#######,#######],'
        '"segmentation":[],"area":##########,"iscrowd":0},'
    )
    run = 20_000
    with open(path, "wb") as out:
        out.write(b'{"info":{"description":"generated Objects365-sized file (benchmarks/coco_large.py)"},')
        out.write(b'"licenses":[],"categories":[' + categories.encode() + b'],"images":[')
        for start in range(0, images, run):
            ids = np.arange(start + 1, min(start + run, images) + 1)
            body = _records(
                image_template,
                [
                    ("id", _digits(ids, 8)),
                    ("name", _digits(ids, 9, True)),
                    ("width", _digits(all_widths[start : start + run], 4)),
                    ("height", _digits(all_heights[start : start + run], 4)),
                ],
            )
            out.write(body[:-1] if start + run >= images else body)
        out.write(b'],"annotations":[')
        written = 0
        for start in range(0, images, run):
            stop = min(start + run, images)
            counts = per_image[start:stop]
            n = int(counts.sum())
            if not n:
                continue
            owners = np.repeat(np.arange(start + 1, stop + 1), counts)
            widths, heights = all_widths[start:stop].repeat(counts), all_heights[start:stop].repeat(counts)
            w = np.round(rng.uniform(0.02, 0.5, n) * widths * 100).astype(np.int64)  # hundredths of a pixel
            h = np.round(rng.uniform(0.02, 0.5, n) * heights * 100).astype(np.int64)
            x = np.round(rng.uniform(0, 1, n) * (widths * 100 - w)).astype(np.int64)
            y = np.round(rng.uniform(0, 1, n) * (heights * 100 - h)).astype(np.int64)
            body = _records(
                box_template,
                [
                    ("id", _digits(np.arange(written + 1, written + n + 1), 9)),
                    ("image_id", _digits(owners, 8)),
                    ("category_id", _digits(rng.integers(1, CATEGORIES + 1, n), 3)),
                    ("x", _fixed(x, 7)),
                    ("y", _fixed(y, 7)),
                    ("w", _fixed(w, 7)),
                    ("h", _fixed(h, 7)),
                    ("area", _fixed(np.round(w * h / 100).astype(np.int64), 10)),
                ],
            )
            out.write((b"," if written else b"") + body[:-1])
            written += n
        out.write(b"]}\n")


def capped(cmd: list[str], gigabytes: float) -> list[str]:
    """``cmd`` under an address-space cap (a MemoryError, not the machine's memory, when a tool loads too much)."""
    return ["prlimit", f"--as={int(gigabytes * 2**30)}", "--", *cmd]


def report(name: str, result: dict[str, float]) -> dict[str, float]:
    state = "ok" if not result["rc"] else f"FAILED (rc {result['rc']}): {result['err'].strip()[-160:]!r}"
    wall, peak, cpu = result["seconds"], result["peak_mb"], result["cpu_seconds"]
    print(f"{name:<34}{wall:>9.1f} s{peak:>9.0f} MB{cpu:>9.1f} CPU s  {state}", flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of Objects365's size (0.01: 1%%)")
    parser.add_argument("--peers", nargs="*", default=["datumaro", "globox"])
    parser.add_argument("--peer-cap-gb", type=float, default=8.0)
    parser.add_argument("--cvkit-cap-gb", type=float, default=16.0, help="cvkit's address-space cap (a safety net)")
    parser.add_argument("--skip-parquet", action="store_true")
    args = parser.parse_args()
    images, boxes = max(1, round(IMAGES * args.scale)), max(1, round(BOXES * args.scale))
    data = WORK / f"coco_large_{args.scale:g}" / "annotations" / "instances_train.json"
    if not data.is_file():
        print(f"generating {images:,} images / {boxes:,} boxes ...", flush=True)
        generate(data, images, boxes)
    size = data.stat().st_size
    print(f"input: {images:,} images, {boxes:,} boxes, {size / 1e9:.2f} GB ({data})", flush=True)
    out = fresh_dir("out_coco_large")
    print(f"\n{'run':<34}{'wall':>11}{'peak RSS':>12}{'CPU':>15}")
    rows = {}
    rows["cvkit -> YOLO"] = report(
        "cvkit -> YOLO",
        timed(
            capped(
                cvkit_cmd("convert", "coco2yolo", str(data), str(out / "cvkit_yolo"), "--images", "reference"),
                args.cvkit_cap_gb,
            )
        ),
    )
    python = peers_python("globox", "datumaro[cli]") if args.peers else None
    if python is not None:
        if "datumaro" in args.peers:
            datum = str(python.parent / "datum")
            cmd = [datum, "convert", "-if", "coco_instances", "-i", str(data.parent.parent), "-f", "yolo"]
            rows["datumaro -> YOLO"] = report(
                f"datumaro -> YOLO (cap {args.peer_cap_gb:g} GB)",
                timed(capped([*cmd, "-o", str(out / "datumaro")], args.peer_cap_gb)),
            )
        if "globox" in args.peers:
            globox = str(python.parent / "globox")
            cmd = [globox, "convert", "--format", "coco", "--save_fmt", "yolov5", str(data), str(out / "globox")]
            rows["globox -> YOLO"] = report(
                f"globox -> YOLO (cap {args.peer_cap_gb:g} GB)", timed(capped(cmd, args.peer_cap_gb))
            )
    if not args.skip_parquet:
        rows["cvkit -> Parquet"] = report(
            "cvkit -> Parquet",
            timed(capped(cvkit_cmd("ingest", str(data), "-o", str(out / "cvkit.parquet")), args.cvkit_cap_gb)),
        )
    cvkit_yolo = rows["cvkit -> YOLO"]
    print(f"\ncvkit peak / file size: {cvkit_yolo['peak_mb'] * 2**20 / size:.2f}x (goal: under 4 GB)")
    for name in ("datumaro -> YOLO", "globox -> YOLO"):
        peer = rows.get(name)
        if peer and not peer["rc"] and not cvkit_yolo["rc"]:
            time_ratio = peer["seconds"] / cvkit_yolo["seconds"]
            memory_ratio = peer["peak_mb"] / cvkit_yolo["peak_mb"]
            print(f"{name}: {time_ratio:.1f}x cvkit's time, {memory_ratio:.1f}x its memory")


if __name__ == "__main__":
    main()
