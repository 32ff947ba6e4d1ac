"""Benchmark: folder readers (imagenet, imagefolder, VOC, LabelMe) at growing file counts: time and peak memory.

Generates each tree under ``benchmarks/_work/folders_<format>_<N>`` and times ``cvkit ingest TREE --format F -o
manifest.jsonl`` under ``/usr/bin/time -v`` (wall, user+sys CPU, max RSS) at each ``--files`` size, so that memory
against N shows what grows with the tree. Images are hard links to one 8x8 JPEG per folder (no inodes, no data
blocks; ingest reads no pixels without ``-r sizes=true``); VOC XML and LabelMe JSON are real, one small file per
image (one box / one rectangle each), since ingest parses them.

- ``imagenet``: 1000 WNID class folders (``n00000000``...), N/1000 images each: ILSVRC's train layout.
- ``imagefolder``: 1000 class folders ``class_0000``..., the same count.
- ``voc``: ``Annotations/<id>.xml`` + ``JPEGImages/<id>.jpg`` (a flat devkit tree, no ImageSets).
- ``labelme``: ``<id>.json`` beside ``<id>.jpg`` in 1000 sub-folders.

With ``--datasets``, Hugging Face ``datasets.load_dataset("imagefolder", data_dir=TREE)`` runs on the imagefolder
tree at the same sizes, under ``prlimit --as`` (``--cap-gb``) and ``timeout`` (``--cap-s``), its cache in the work
folder; the table gives its time and peak, or how it failed, and the ratio to cvkit.

Usage: ``python benchmarks/folders_large.py --formats imagenet,voc --files 100000,300000 [--datasets] [--keep]``.
Trees are deleted after each size unless ``--keep`` (keep the file count on the disk below a few million).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import WORK, cvkit_cmd

CLASSES = 1000
PAGE = os.sysconf("SC_PAGE_SIZE")
XML = (
    "<annotation><folder>JPEGImages</folder><filename>{id}.jpg</filename><size><width>8</width><height>8</height>"
    "<depth>3</depth></size><object><name>c{c}</name><difficult>0</difficult><bndbox><xmin>1</xmin><ymin>1</ymin>"
    "<xmax>6</xmax><ymax>7</ymax></bndbox></object></annotation>\n"
)
LABELME = (
    '{{"version": "5.2.1", "flags": {{}}, "shapes": [{{"label": "c{c}", "points": [[1, 1], [6, 7]], '
    '"group_id": null, "shape_type": "rectangle", "flags": {{}}}}], "imagePath": "{id}.jpg", "imageData": null, '
    '"imageHeight": 8, "imageWidth": 8}}\n'
)


def _seed() -> bytes:
    from PIL import Image

    seed = WORK / "folders_seed.jpg"
    if not seed.exists():
        WORK.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (8, 8), (120, 90, 60)).save(seed, format="JPEG")
    return seed.read_bytes()


def _linked(folder: str, names: list[str], data: bytes) -> None:
    """``names`` in ``folder``: the first a real JPEG, the rest hard links to it (ext4 allows 65,000 a file)."""
    first = f"{folder}/{names[0]}"
    with open(first, "wb") as handle:
        handle.write(data)
    for name in names[1:]:
        os.link(first, f"{folder}/{name}")


def generate(fmt: str, root: Path, files: int) -> Path:
    """A ``fmt`` tree of ``files`` images (see the module docstring); reused when complete."""
    marker = root / ".complete"
    if marker.exists():
        return root
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    data = _seed()
    per = -(-files // CLASSES)
    if fmt in ("imagenet", "imagefolder", "labelme"):
        for c in range(CLASSES):
            count = min(per, files - c * per)
            if count <= 0:
                break
            name = f"n{c:08d}" if fmt == "imagenet" else f"class_{c:04d}"
            folder = root / name
            folder.mkdir()
            ids = [f"{name}_{i}" for i in range(count)]
            ext = "JPEG" if fmt == "imagenet" else "jpg"
            for start in range(0, count, 60_000):  # ext4 allows 65,000 hard links to one file
                _linked(str(folder), [f"{i}.{ext}" for i in ids[start : start + 60_000]], data)
            if fmt == "labelme":
                for i in ids:
                    with open(folder / f"{i}.json", "w") as handle:
                        handle.write(LABELME.format(id=i, c=c))
    elif fmt == "voc":
        ann, jpg = root / "Annotations", root / "JPEGImages"
        ann.mkdir()
        jpg.mkdir()
        ids = [f"{i:08d}" for i in range(files)]
        for start in range(0, files, 60_000):
            _linked(str(jpg), [f"{i}.jpg" for i in ids[start : start + 60_000]], data)
        for n, i in enumerate(ids):
            with open(ann / f"{i}.xml", "w") as handle:
                handle.write(XML.format(id=i, c=n % 20))
    else:
        raise SystemExit(f"unknown format {fmt}")
    marker.write_text(str(files))
    return root


def tree_rss(pid: int) -> int:
    """Memory of ``pid`` and all its descendants now: their proportional set sizes added up."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    fields = handle.read().rpartition(")")[2].split()
            except OSError:
                continue
            parents[int(entry)] = int(fields[1])
            rss[int(entry)] = int(fields[21]) * PAGE
    tree, grew = {pid}, True
    while grew:
        more = {p for p, parent in parents.items() if parent in tree} - tree
        grew = bool(more)
        tree |= more
    return sum(_pss(p, rss.get(p, 0)) for p in tree)


def _pss(pid: int, rss: int) -> int:
    """The proportional set size of ``pid`` (pages shared with forked workers counted once in all), else its RSS."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as handle:
            for line in handle:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return rss


def time_v(cmd: list[str], env: dict[str, str] | None = None, cap_s: int | None = None) -> dict[str, object]:
    """``cmd`` under ``/usr/bin/time -v`` (and ``timeout`` when ``cap_s``): wall, CPU, max RSS, exit status."""
    full = ["/usr/bin/time", "-v", *(["timeout", str(cap_s)] if cap_s else []), *cmd]
    with tempfile.TemporaryFile("w+") as errors:
        process = subprocess.Popen(full, stdout=subprocess.DEVNULL, stderr=errors, text=True, env=env)
        tree_peak = 0
        while process.poll() is None:
            tree_peak = max(tree_peak, tree_rss(process.pid))
            time.sleep(0.1)
        errors.seek(0)
        err = errors.read()

    def field(label: str) -> str:
        found = re.search(rf"^\s*{re.escape(label)}: (.*)$", err, re.M)
        return found.group(1) if found else "0"

    parts = [float(p) for p in field("Elapsed (wall clock) time (h:mm:ss or m:ss)").split(":")]
    wall = sum(p * 60**i for i, p in enumerate(reversed(parts)))
    cpu = float(field("User time (seconds)")) + float(field("System time (seconds)"))
    status = int(field("Exit status"))
    body = err.split("\tCommand being timed")[0].strip().splitlines()
    return {
        "wall": wall,
        "cpu": cpu,
        "rss_mb": int(field("Maximum resident set size (kbytes)")) / 1024,
        "tree_mb": tree_peak / (1 << 20),
        "rc": status,
        "tail": body[-1][-200:] if body else "",
    }


DATASETS = (
    "import sys, datasets; datasets.disable_progress_bars(); "
    "d = datasets.load_dataset('imagefolder', data_dir=sys.argv[1], cache_dir=sys.argv[2]); "
    "print({k: len(v) for k, v in d.items()})"
)


def run_datasets(tree: Path, cap_gb: float, cap_s: int) -> dict[str, object]:
    cache = WORK / "folders_hf_cache"
    shutil.rmtree(cache, ignore_errors=True)
    env = {**os.environ, "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1", "HF_HOME": str(cache / "home")}
    cmd = ["prlimit", f"--as={int(cap_gb * (1 << 30))}", sys.executable, "-c", DATASETS, str(tree), str(cache)]
    try:
        return time_v(cmd, env=env, cap_s=cap_s)
    finally:
        shutil.rmtree(cache, ignore_errors=True)


def describe(result: dict[str, object], cap_s: int | None = None) -> str:
    if result["rc"] == 124:
        return f"stopped at the {cap_s} s cap ({result['rss_mb']:.0f} MB by then)"
    if result["rc"]:
        return f"failed (exit {result['rc']}, {result['rss_mb']:.0f} MB): {result['tail']}"
    return f"{result['wall']:.1f} s wall, {result['cpu']:.1f} s CPU, {result['rss_mb']:.0f} MB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--formats", default="imagenet,imagefolder,voc,labelme")
    parser.add_argument("--files", default="100000,300000")
    parser.add_argument("--datasets", action="store_true", help="also Hugging Face datasets on the imagefolder tree")
    parser.add_argument("--cap-gb", type=float, default=16.0, help="address-space cap for datasets (prlimit --as)")
    parser.add_argument("--cap-s", type=int, default=900, help="time cap for datasets")
    parser.add_argument("--keep", action="store_true", help="keep the generated trees")
    args = parser.parse_args()
    formats = args.formats.split(",")
    if args.datasets and "imagefolder" not in formats:
        formats.append("imagefolder")
    out = WORK / "folders_manifest.jsonl"
    print(f"load average at start: {os.getloadavg()[0]:.1f} ({os.cpu_count()} cores)", flush=True)
    head = f"{'format':<12}{'files':>10}{'wall s':>9}{'CPU s':>8}{'peak MB':>9}{'tree MB':>9}{'records':>10}"
    print(f"{head}  peer", flush=True)
    for files in (int(n) for n in args.files.split(",")):
        for fmt in formats:
            tree = generate(fmt, WORK / f"folders_{fmt}_{files}", files)
            got = time_v(cvkit_cmd("ingest", str(tree), "--format", fmt, "-o", str(out), "--overwrite", "--json"))
            if got["rc"]:
                raise SystemExit(f"cvkit ingest {fmt} failed: {got['tail']}")
            with open(out, "rb") as handle:
                records = sum(1 for _ in handle) - 1
            peer = ""
            if args.datasets and fmt == "imagefolder":
                hf = run_datasets(tree, args.cap_gb, args.cap_s)
                peer = "datasets: " + describe(hf, args.cap_s)
                if not hf["rc"]:
                    ratios = hf["wall"] / got["wall"], hf["rss_mb"] / got["rss_mb"]
                    peer += f" = {ratios[0]:.1f}x cvkit's time, {ratios[1]:.1f}x its peak"
            line = f"{fmt:<12}{files:>10,}{got['wall']:>9.1f}{got['cpu']:>8.1f}{got['rss_mb']:>9.0f}"
            line += f"{got['tree_mb']:>9.0f}{records:>10,}"
            print(f"{line}  {peer}", flush=True)
            out.unlink(missing_ok=True)
            if not args.keep:
                shutil.rmtree(tree)
    print(f"load average at end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
