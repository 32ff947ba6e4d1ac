"""Which JSON parser reads a big COCO file's annotations fastest in bounded memory: each candidate in a fresh
process on the same file, wall and CPU time and the peak memory it adds (VmHWM less the memory after imports).

    PYTHONPATH=src python benchmarks/coco_parsers.py [FILE]   (default: convert_coco2yolo.py's 73 MB file)

Candidates: orjson on the whole file (the former reader), msgspec typed structs on the whole file, msgspec typed
structs a 1 MB run at a time into numpy columns (the bounded reader's scan, ``formats/coco/_bounded.py``), and
ijson's event parser (yajl2_c backend) streaming one dict per annotation. simdjson (pysimdjson) has no wheel in
this machine's package index and was not measured.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import WORK

CANDIDATES = {
    "orjson, whole file": """
import orjson
data = orjson.loads(open(PATH, "rb").read())
count = len(data["annotations"])
""",
    "msgspec typed structs, whole file": """
import msgspec
from cvkit.formats.coco._bounded import _Box, _Image
class File(msgspec.Struct):
    images: list[_Image]
    annotations: list[_Box]
data = msgspec.json.decode(open(PATH, "rb").read(), type=File)
count = len(data.annotations)
""",
    "msgspec typed structs, 1 MB runs -> columns": """
from pathlib import Path
from cvkit.formats.coco import _bounded
count = len(_bounded.scan(Path(PATH)).annotations["id"])
""",
    "ijson (yajl2_c), one dict per annotation": """
import ijson
count = 0
with open(PATH, "rb") as handle:
    for record in ijson.items(handle, "annotations.item", use_float=True):
        count += 1
""",
}

MEASURE = """
import resource, sys, time
PATH = sys.argv[1]
import numpy, orjson, msgspec
import cvkit.formats.coco._bounded
def status(key):
    return int(open("/proc/self/status").read().split(key + ":")[1].split()[0]) * 1024
before = status("VmRSS")
usage = resource.getrusage(resource.RUSAGE_SELF)
start = time.perf_counter()
exec(sys.argv[2])
wall = time.perf_counter() - start
after = resource.getrusage(resource.RUSAGE_SELF)
cpu = after.ru_utime + after.ru_stime - usage.ru_utime - usage.ru_stime
print(count, wall, cpu, status("VmHWM") - before)
"""


def main() -> None:
    default = WORK / "coco_20000x25" / "annotations" / "instances_train.json"
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else default
    if not path.is_file():
        raise SystemExit(f"no file {path}: run benchmarks/convert_coco2yolo.py first (it generates it)")
    size = path.stat().st_size
    print(f"file: {path} ({size / 1e6:.0f} MB)\n")
    print(f"{'parser':<46}{'records':>9}{'wall s':>8}{'CPU s':>8}{'added MB':>10}{'x file':>8}")
    for name, code in CANDIDATES.items():
        done = subprocess.run([sys.executable, "-c", MEASURE, str(path), code], capture_output=True, text=True)
        if done.returncode:
            print(f"{name:<46} failed: {done.stderr.strip()[-200:]}")
            continue
        count, wall, cpu, added = done.stdout.split()
        megabytes, ratio = int(added) / 2**20, int(added) / size
        print(f"{name:<46}{count:>9}{float(wall):>8.2f}{float(cpu):>8.2f}{megabytes:>10.0f}{ratio:>8.2f}")


if __name__ == "__main__":
    main()
