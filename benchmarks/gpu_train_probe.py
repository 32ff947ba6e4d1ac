"""Where does the CUDA training NaN come from (docs/benchmarks.md "GPU")? Run on a CUDA machine.

1. Batches of real digits (as JPEG) through the DataLoader workers and ``GpuJpegBatches``, with and without pinned
   memory, against the CPU decoder: a corrupted hand-over or decode shows as a large mean difference.
2. Two-epoch ``cvkit train`` runs that switch one CUDA feature off each (nvJPEG decode, bf16, channels-last, workers):
   the run whose losses stay finite names the culprit.

PROBE_DEVICE=cpu runs part 1 on the CPU (a check of the probe itself).
"""

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import torch
from PIL import Image

from cvkit.train.config import TrainConfig
from cvkit.train.data import GpuJpegBatches, ManifestDataset, eval_transform, load_items, make_loader
from train_fixtures import digit_folder

t = Path(tempfile.mkdtemp())
m = digit_folder(t / "d", 1200, 300)
for png in (t / "d").rglob("*.png"):
    Image.open(png).convert("RGB").save(png, format="JPEG", quality=95)
items = load_items(m)
cfg = TrainConfig("small_cnn", str(m), aug="none", image_size=28)
ds = ManifestDataset(items.items, 10, eval_transform(28), encoded=True)
for pin in (False, True):
    loader = make_loader(ds, 32, None, workers=2, pin_memory=pin, prefetch_factor=2, seed=0)
    gpu = GpuJpegBatches(cfg, torch.device(os.environ.get("PROBE_DEVICE", "cuda")), train=True)
    worst, bad = 0.0, 0
    for b, (packed, _) in enumerate(loader):
        out = gpu(packed)
        ref = torch.stack(
            [
                eval_transform(28)(
                    torch.from_numpy(np.array(Image.open(items.items[i][0]).convert("RGB"))).permute(2, 0, 1)
                )
                for i in range(b * 32, b * 32 + len(out))
            ]
        )
        d = (out.cpu().float() - ref.float()).abs().mean().item()
        worst = max(worst, d)
        bad += int(d > 3)
        if b >= 20:
            break
    print(
        f"pin={pin}: batches checked {b + 1}, worst mean diff vs CPU decode {worst:.2f}, batches >3: {bad}", flush=True
    )
base = [
    sys.executable,
    "-m",
    "cvkit",
    "train",
    "small_cnn",
    str(m),
    "--epochs",
    "2",
    "-b",
    "32",
    "--image-size",
    "28",
    "--device",
    "cuda",
    "--lr",
    "3e-3",
    "--optimizer",
    "adamw",
    "--workers",
    "2",
    "--aug",
    "none",
]
for name, extra in [
    ("default", []),
    ("no-gpu-decode", ["--no-gpu-decode"]),
    ("fp32", ["--precision", "fp32"]),
    ("no-channels-last", ["--no-channels-last"]),
    ("workers0", ["--workers", "0"]),
]:
    out = t / f"run_{name}"
    r = subprocess.run([*base, "-o", str(out), *extra], capture_output=True, text=True, timeout=120)
    rows = (
        [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
        if (out / "metrics.jsonl").exists()
        else []
    )
    print(
        name,
        r.returncode,
        [(round(x["train_loss"], 3), round(x["val_top1"], 3)) for x in rows],
        r.stderr[-300:] if r.returncode else "",
        flush=True,
    )
