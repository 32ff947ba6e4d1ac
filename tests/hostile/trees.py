"""Small datasets the hostile cases start from, each in the layout its format's tools write, built in a folder given."""

from __future__ import annotations

import base64
import io
import json
import os
import pickle
from pathlib import Path


def png_bytes(width: int = 16, height: int = 16, color: tuple[int, int, int] = (90, 120, 150)) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, "PNG")
    return buffer.getvalue()


def jpeg_bytes(width: int = 16, height: int = 16) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (10, 20, 30)).save(buffer, "JPEG")
    return buffer.getvalue()


def voc_xml(name: str, label: str = "cat", filename: str | None = None) -> str:
    return (
        f"<annotation><filename>{filename or name + '.jpg'}</filename>"
        "<size><width>16</width><height>16</height><depth>3</depth></size>"
        f"<object><name>{label}</name>"
        "<bndbox><xmin>2</xmin><ymin>2</ymin><xmax>9</xmax><ymax>10</ymax></bndbox></object></annotation>"
    )


def voc_tree(root: Path, count: int = 3, listed: bool = True) -> Path:
    """A devkit folder: Annotations/, JPEGImages/ and (``listed``) ImageSets/Main/train.txt naming every file."""
    (root / "Annotations").mkdir(parents=True)
    (root / "JPEGImages").mkdir()
    names = [f"{n:06d}" for n in range(count)]
    for number, name in enumerate(names):
        (root / "Annotations" / f"{name}.xml").write_text(voc_xml(name, ("cat", "dog")[number % 2]))
        (root / "JPEGImages" / f"{name}.jpg").write_bytes(jpeg_bytes())
    if listed:
        list_voc(root, names)
    return root


def list_voc(root: Path, names: list[str]) -> None:
    (root / "ImageSets" / "Main").mkdir(parents=True, exist_ok=True)
    (root / "ImageSets" / "Main" / "train.txt").write_text("\n".join(names) + "\n")


def imagefolder_tree(root: Path, per_class: int = 2) -> Path:
    for label in ("cat", "dog"):
        (root / label).mkdir(parents=True)
        for n in range(per_class):
            (root / label / f"{n}.png").write_bytes(png_bytes(color=(40 * n, 90, 200 if label == "dog" else 30)))
    return root


def yolo_tree(root: Path, count: int = 2) -> Path:
    """Ultralytics layout: data.yaml, images/train, labels/train."""
    (root / "images" / "train").mkdir(parents=True)
    (root / "labels" / "train").mkdir(parents=True)
    for n in range(count):
        (root / "images" / "train" / f"{n}.png").write_bytes(png_bytes())
        (root / "labels" / "train" / f"{n}.txt").write_text("0 0.5 0.5 0.25 0.25\n")
    (root / "data.yaml").write_text("path: .\ntrain: images/train\nnames: [cat, dog]\n")
    return root


def coco_file(path: Path, count: int = 2, **overrides: object) -> Path:
    """A COCO instances file beside its images (``file_name`` relative to the file's folder)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    images, annotations = [], []
    for n in range(count):
        (path.parent / f"{n}.jpg").write_bytes(jpeg_bytes())
        images.append({"id": n + 1, "file_name": f"{n}.jpg", "width": 16, "height": 16})
        annotations.append(
            {"id": n + 1, "image_id": n + 1, "category_id": 1, "bbox": [2, 2, 6, 7], "area": 42, "iscrowd": 0}
        )
    document = {
        "images": images,
        "annotations": annotations,
        "categories": [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}],
    }
    document.update(overrides)
    path.write_text(json.dumps(document))
    return path


def labelme_tree(root: Path, count: int = 2, mask_png: bytes | None = None) -> Path:
    """LabelMe JSON files beside their images; ``mask_png`` adds a mask shape holding that PNG."""
    root.mkdir(parents=True, exist_ok=True)
    for n in range(count):
        (root / f"{n}.png").write_bytes(png_bytes())
        shapes = [
            {"label": "cat", "points": [[2, 2], [9, 10]], "shape_type": "rectangle", "group_id": None, "flags": {}}
        ]
        if mask_png is not None:
            shapes.append(
                {
                    "label": "dog",
                    "points": [[0, 0], [15, 15]],
                    "shape_type": "mask",
                    "group_id": None,
                    "flags": {},
                    "mask": base64.b64encode(mask_png).decode("ascii"),
                }
            )
        (root / f"{n}.json").write_text(
            json.dumps(
                {
                    "version": "5.4.1",
                    "flags": {},
                    "shapes": shapes,
                    "imagePath": f"{n}.png",
                    "imageData": None,
                    "imageHeight": 16,
                    "imageWidth": 16,
                }
            )
        )
    return root


def mit_tree(root: Path, mask_png: bytes) -> Path:
    """MIT LabelMe (web tool layout): Annotations/, Images/, Masks/ with one segmentation mask."""
    for folder in ("Annotations", "Images", "Masks"):
        (root / folder).mkdir(parents=True)
    (root / "Images" / "img1.png").write_bytes(png_bytes())
    (root / "Masks" / "img1_mask_1.png").write_bytes(mask_png)
    (root / "Annotations" / "img1.xml").write_text(
        "<annotation><filename>img1.png</filename><folder></folder>"
        "<imagesize><nrows>16</nrows><ncols>16</ncols></imagesize>"
        "<object><name>cat</name><deleted>0</deleted><verified>0</verified><id>0</id>"
        "<segm><box><xmin>2</xmin><ymin>2</ymin>"
        "<xmax>9</xmax><ymax>10</ymax></box><mask>img1_mask_1.png</mask></segm></object></annotation>"
    )
    return root


def cifar_tree(root: Path, batch: dict[bytes, object] | None = None) -> Path:
    """A CIFAR-10 python folder: batches.meta and one data batch (``batch`` replaces the good one)."""
    import numpy as np

    root.mkdir(parents=True, exist_ok=True)
    names = [b"airplane", b"automobile", b"bird", b"cat", b"deer", b"dog", b"frog", b"horse", b"ship", b"truck"]
    with open(root / "batches.meta", "wb") as handle:
        pickle.dump({b"label_names": names, b"num_cases_per_batch": 2, b"num_vis": 3072}, handle)
    good = {
        b"batch_label": b"training batch 1 of 1",
        b"labels": [3, 5],
        b"data": np.zeros((2, 3072), np.uint8),
        b"filenames": [b"a.png", b"b.png"],
    }
    with open(root / "data_batch_1", "wb") as handle:
        pickle.dump(batch if batch is not None else good, handle)
    return root


def manifest_of(source: Path, manifest: Path) -> Path:
    """``source`` read into a cvkit manifest, in-process (the oracle path of the commands under test)."""
    import cvkit

    cvkit.convert(source, manifest, to_format="manifest")
    return manifest


def fifo(path: Path) -> Path:
    """A named pipe at ``path`` (no writer: a plain open for reading would wait forever)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() or path.is_symlink():
        path.unlink()
    os.mkfifo(path)
    return path


def dev_zero(path: Path) -> Path:
    """A link at ``path`` to /dev/zero (endless bytes: a read to the end would fill memory)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() or path.is_symlink():
        path.unlink()
    path.symlink_to("/dev/zero")
    return path
