"""VOC -> COCO on a 20,000-file tree: cvkit vs datumaro vs globox vs a naive ElementTree script.

Usage: python benchmarks/convert_voc2coco.py [--files 20000] [--no-peers]

The tree is generated from a real corpus XML (../shared/corpus/voc/voc_dataset3, which
every peer accepts) with a different file name and box per file, plus ImageSets/Main/train.txt.
Each tool runs in a fresh process, three times; the fastest run counts.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import CORPUS, WORK, best_of, cvkit_cmd, fresh_dir, peers_python, print_speedup, print_table

NAIVE = r"""
import json, sys, xml.etree.ElementTree as ET
from pathlib import Path
src, dst = Path(sys.argv[1]), sys.argv[2]
cats, images, anns = {}, [], []
for i, f in enumerate(sorted((src / "Annotations").glob("*.xml"))):
    r = ET.parse(f).getroot()
    size = int(r.findtext("size/width")), int(r.findtext("size/height"))
    images.append({"id": i, "file_name": r.findtext("filename"), "width": size[0], "height": size[1]})
    for o in r.iter("object"):
        b = [float(o.findtext("bndbox/" + t)) for t in ("xmin", "ymin", "xmax", "ymax")]
        c = cats.setdefault(o.findtext("name"), len(cats) + 1)
        box = [b[0] - 1, b[1] - 1, b[2] - b[0] + 1, b[3] - b[1] + 1]
        anns.append({"id": len(anns) + 1, "image_id": i, "category_id": c, "bbox": box})
categories = [{"id": v, "name": k} for k, v in cats.items()]
json.dump({"images": images, "annotations": anns, "categories": categories}, open(dst, "w"))
"""


def generate(root: Path, files: int) -> Path:
    """A devkit tree of ``files`` XMLs made from one real annotation (reused when present)."""
    marker = root / f".complete-{files}"
    if marker.exists():
        return root
    shutil.rmtree(root, ignore_errors=True)
    template = (CORPUS / "voc" / "voc_dataset3" / "Annotations" / "2007_000001.xml").read_text()
    ann = root / "Annotations"
    ann.mkdir(parents=True)
    names = []
    for i in range(files):
        name = f"{i:06d}"
        text = template.replace("2007_000001", name).replace("<xmax>3</xmax>", f"<xmax>{3 + i % 15}</xmax>")
        (ann / f"{name}.xml").write_text(text)
        names.append(name)
    (root / "ImageSets" / "Main").mkdir(parents=True)
    (root / "ImageSets" / "Main" / "train.txt").write_text("\n".join(names) + "\n")
    marker.touch()
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=20_000)
    parser.add_argument("--no-peers", action="store_true", help="Time cvkit and the naive script only.")
    args = parser.parse_args()
    tree = generate(WORK / f"voc{args.files // 1000}k", args.files)
    out = fresh_dir("out")
    rows: dict[str, dict[str, float] | None] = {}
    rows["cvkit"] = best_of(cvkit_cmd("convert", "voc2coco", str(tree), str(out / "cvkit.json"), "--overwrite"))
    rows["naive ElementTree script"] = best_of([sys.executable, "-c", NAIVE, str(tree), str(out / "naive.json")])
    if not args.no_peers:
        python = peers_python("datumaro[cli]", "globox")
        if python is None:
            rows["datumaro"] = rows["globox"] = None
        else:
            bin_dir = python.parent
            rows["datumaro"] = best_of(
                [
                    str(bin_dir / "datum"),
                    "convert",
                    "-if",
                    "voc_detection",
                    "-i",
                    str(tree),
                    "-f",
                    "coco_instances",
                    "-o",
                    str(out / "datum"),
                    "--overwrite",
                ],
                repeat=2,
            )
            rows["globox"] = best_of(
                [
                    str(bin_dir / "globox"),
                    "convert",
                    "-f",
                    "pascalvoc",
                    "-F",
                    "coco",
                    "--coco_auto_ids",
                    str(tree / "Annotations"),
                    str(out / "globox.json"),
                ],
                repeat=2,
            )
    print_table(f"VOC -> COCO, {args.files:,} files", rows, baseline="cvkit")
    print_speedup(rows, ("datumaro", "globox"), "10x")


if __name__ == "__main__":
    main()
