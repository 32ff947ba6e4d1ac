"""The shape matrix: each conversion on every input shape (``shapes.py``), cvkit against datumaro and globox.

Usage: python benchmarks/matrix.py [--only voc2coco coco2yolo labelme2coco] [--cells NAME ...] [--files 20000]
                                   [--images 20000] [--repeat 2] [--quick] [--no-peers] [--json PATH]

Every cell runs each tool in a fresh process (best of ``--repeat``: wall and CPU seconds, user + system, of the
process tree) and prints the fastest peer's time as a multiple of cvkit's, for wall and for CPU time (CPU time is
steadier on a shared machine: a busy core takes the workers' gain first). Each conversion ends with its slowest
cell, the figure that has to meet the goal: speed that holds on every shape, not one.

A peer that cannot read a shape shows ``n/a``: datumaro reads devkit trees only (not LabelImg's flat folder) and
has no LabelMe JSON reader. globox's LabelMe reader is called with ``include_poly=True`` (its CLI reads rectangles
only). The objects each tool wrote are counted after its last run and printed under the table (crowds: cvkit and
datumaro leave them out of YOLO labels, globox writes their boxes).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import shapes
from _common import WORK, best_of, cvkit_cmd, fresh_dir, peers_python

GOAL = 5.0
PEERS = ("datumaro", "globox")
GLOBOX_LABELME = (
    "import sys; from globox import AnnotationSet; "
    "AnnotationSet.from_labelme(sys.argv[1], recursive=True, include_poly=True).save_coco(sys.argv[2], auto_ids=True)"
)
Row = dict[str, float]


def _count_coco(path: Path) -> int:
    files = [path] if path.is_file() else sorted(path.rglob("*.json"))
    return sum(len(json.loads(f.read_bytes()).get("annotations", [])) for f in files)


def _count_lines(folder: Path) -> int:
    """Label lines under ``folder``: its subfolders' text files, else (globox) its own (not the image lists)."""
    files = [f for f in folder.rglob("*.txt") if f.parent != folder] or list(folder.glob("*.txt"))
    return sum(1 for f in files for line in f.read_bytes().splitlines() if line)


class Cell:
    """One shape of one conversion: its input (made once) and the commands of each tool."""

    def __init__(self, conversion: str, shape: str, size: int):
        self.conversion, self.shape, self.size = conversion, shape, size
        self.root = WORK / "matrix" / f"{conversion}-{shape}-{size}"

    def prepare(self) -> Path:
        """The input path, generated on first use."""
        if self.conversion == "voc2coco":
            shapes.cached(self.root, lambda folder: shapes.write_voc(folder, self.shape, self.size))
            return shapes.voc_input(self.root, self.shape)
        if self.conversion == "coco2yolo":
            shapes.cached(self.root, lambda folder: shapes.write_coco(folder, self.shape, self.size))
            name = "person_keypoints_train.json" if self.shape == "keypoints" else "instances_train.json"
            return self.root / "annotations" / name
        shapes.cached(self.root, lambda folder: shapes.write_labelme(folder, self.shape, self.size))
        return self.root

    def commands(self, source: Path, out: Path, bin_dir: Path | None) -> dict[str, tuple[list[str], Path] | None]:
        """tool -> (command, output path), None where the tool cannot read the shape."""
        datum = str(bin_dir / "datum") if bin_dir else None
        globox = str(bin_dir / "globox") if bin_dir else None
        cmds: dict[str, tuple[list[str], Path] | None] = {}
        if self.conversion == "voc2coco":
            target = out / "cvkit.json"
            cmds["cvkit"] = (cvkit_cmd("convert", "voc2coco", str(source), str(target), "--overwrite"), target)
            if bin_dir is None:
                return cmds
            devkit = self.shape != "labelimg"
            target = out / "datumaro"
            cmds["datumaro"] = None
            if devkit:
                cmd = [datum, "convert", "-if", "voc_detection", "-i", str(source), "-f", "coco_instances", "-o"]
                cmds["datumaro"] = ([*cmd, str(target), "--overwrite"], target)
            xml_folder = source / "Annotations" if devkit else source
            target = out / "globox.json"
            cmds["globox"] = (
                [globox, "convert", "-f", "pascalvoc", "-F", "coco", "--coco_auto_ids", str(xml_folder), str(target)],
                target,
            )
        elif self.conversion == "coco2yolo":
            target = out / "cvkit"
            cmds["cvkit"] = (
                cvkit_cmd("convert", "coco2yolo", str(source), str(target), "--images", "reference", "--overwrite"),
                target,
            )
            if bin_dir is None:
                return cmds
            task = "coco_person_keypoints" if self.shape == "keypoints" else "coco_instances"
            target = out / "datumaro"
            cmds["datumaro"] = (
                [datum, "convert", "-if", task, "-i", str(self.root), "-f", "yolo", "-o", str(target), "--overwrite"],
                target,
            )
            target = out / "globox"
            cmds["globox"] = (
                [globox, "convert", "--format", "coco", "--save_fmt", "yolov5", str(source), str(target)],
                target,
            )
        else:
            target = out / "cvkit.json"
            cmds["cvkit"] = (cvkit_cmd("convert", "labelme2coco", str(source), str(target), "--overwrite"), target)
            if bin_dir is None:
                return cmds
            cmds["datumaro"] = None
            target = out / "globox.json"
            cmds["globox"] = ([str(bin_dir / "python"), "-c", GLOBOX_LABELME, str(source), str(target)], target)
        return cmds

    def count(self, target: Path) -> int:
        """Objects a tool wrote (annotations of its COCO files, lines of its YOLO label files)."""
        return _count_lines(target) if self.conversion == "coco2yolo" else _count_coco(target)


def run_cell(cell: Cell, repeat: int, bin_dir: Path | None) -> dict[str, Row | None]:
    """Each tool's best run on ``cell`` (with ``objects``: what it wrote)."""
    print(f"  {cell.conversion} / {cell.shape} ({cell.size:,}): preparing ...", flush=True)
    source = cell.prepare()
    out = fresh_dir(f"matrix_out/{cell.conversion}-{cell.shape}")
    rows: dict[str, Row | None] = {}
    for tool, spec in cell.commands(source, out, bin_dir).items():
        if spec is None:
            rows[tool] = None
            continue
        cmd, target = spec
        row = best_of(cmd, repeat, clean=target)
        row["objects"] = cell.count(target)
        rows[tool] = row
        print(f"    {tool:<10}{row['seconds']:8.2f} s wall {row['cpu_seconds']:8.2f} s CPU", flush=True)
    return rows


def ratios(rows: dict[str, Row | None]) -> tuple[float | None, float | None]:
    """(fastest peer's wall / cvkit's, fastest peer's CPU / cvkit's); None without a peer."""
    peers = [r for name, r in rows.items() if name in PEERS and r]
    base = rows.get("cvkit")
    if not peers or not base:
        return None, None
    return (
        min(r["seconds"] for r in peers) / base["seconds"],
        min(r["cpu_seconds"] for r in peers) / base["cpu_seconds"],
    )


def _fmt(row: Row | None, key: str) -> str:
    return "n/a" if row is None else f"{row[key]:.2f}"


def print_matrix(conversion: str, results: dict[str, dict[str, Row | None]]) -> None:
    """The table of one conversion, the objects written, and its slowest cell."""
    print(f"\n{conversion}: seconds (wall / CPU = user + system), best run; x: fastest peer / cvkit")
    header = f"{'shape':<12}{'cvkit':>14}{'datumaro':>16}{'globox':>16}{'x wall':>9}{'x CPU':>8}"
    print(header)
    worst: tuple[float, str] | None = None
    worst_cpu: tuple[float, str] | None = None
    for shape, rows in results.items():
        tools = [f"{_fmt(rows.get(t), 'seconds')} / {_fmt(rows.get(t), 'cpu_seconds')}" for t in ("cvkit", *PEERS)]
        wall, cpu = ratios(rows)
        marks = f"{wall:>8.1f}x{cpu:>7.1f}x" if wall is not None and cpu is not None else f"{'-':>9}{'-':>8}"
        print(f"{shape:<12}{tools[0]:>14}{tools[1]:>16}{tools[2]:>16}{marks}")
        if wall is not None and cpu is not None:
            worst = min(worst or (wall, shape), (wall, shape))
            worst_cpu = min(worst_cpu or (cpu, shape), (cpu, shape))
    for shape, rows in results.items():
        written = ", ".join(f"{t} {r['objects']:,}" for t, r in rows.items() if r)
        print(f"  objects written, {shape}: {written}")
    if worst and worst_cpu:
        print(
            f"{conversion}: slowest cell {worst[1]}: cvkit is {worst[0]:.1f}x faster than the fastest peer "
            f"(wall; CPU time: {worst_cpu[0]:.1f}x, cell {worst_cpu[1]}; goal: {GOAL:g}x)"
        )


CONVERSIONS: dict[str, tuple[tuple[str, ...], Callable[[argparse.Namespace], int]]] = {
    "voc2coco": (shapes.VOC_SHAPES, lambda a: a.files),
    "coco2yolo": (shapes.COCO_SHAPES, lambda a: a.images),
    "labelme2coco": (shapes.LABELME_SHAPES, lambda a: a.files),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=list(CONVERSIONS), help="These conversions only.")
    parser.add_argument("--cells", nargs="+", help="These shapes only (names from shapes.py).")
    parser.add_argument("--files", type=int, default=20000, help="VOC and LabelMe files a cell.")
    parser.add_argument("--images", type=int, default=20000, help="COCO images a cell (25 objects each).")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="1,000 files/images, one run: a smoke test.")
    parser.add_argument("--no-peers", action="store_true", help="Time cvkit only.")
    parser.add_argument("--json", type=Path, help="Also write every measurement here.")
    args = parser.parse_args()
    if args.quick:
        args.files = args.images = 1000
        args.repeat = 1
    bin_dir = None
    if not args.no_peers:
        python = peers_python("datumaro[cli]", "globox")
        bin_dir = python.parent if python else None
    everything: dict[str, dict[str, dict[str, Row | None]]] = {}
    for conversion, (cells, size_of) in CONVERSIONS.items():
        if args.only and conversion not in args.only:
            continue
        results = everything[conversion] = {}
        for shape in cells:
            if not args.cells or shape in args.cells:
                size = size_of(args) // 4 if shape == "imagedata" else size_of(args)  # 28 kB a file
                results[shape] = run_cell(Cell(conversion, shape, size), args.repeat, bin_dir)
    for conversion, results in everything.items():
        print_matrix(conversion, results)
    if args.json:
        args.json.write_text(json.dumps(everything, indent=1))


if __name__ == "__main__":
    main()
