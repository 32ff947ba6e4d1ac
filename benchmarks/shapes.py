"""Input shapes for the benchmark matrix (``matrix.py``): one generator per shape real tools write.

Each generator writes a dataset and returns its ground truth (:class:`Truth`: image file -> the objects a
converter must give, label and box in pixels with 0-based continuous corners), so tests/test_bench_shapes.py
can check that cvkit converts every shape to the right boxes: the benchmark inputs are valid.

The shapes follow the tools' own writers:

- VOC ``devkit2012``: the VOC2012 devkit's files: tags in alphabetical order, tab-indented, no declaration;
  person-layout objects with ``<part>`` boxes, action objects with ``<actions>`` and a ``<point>``, ``<occluded>``
  on some objects; ImageSets/Main/train.txt.
- VOC ``labelimg``: LabelImg's ``pascal_voc_io.py``: lxml pretty print with tabs, ``<path>`` holding the image's
  absolute path, images in a folder of their own (hard links to one JPEG), the XML files flat in another (no
  JPEGImages/, no ImageSets/).
- VOC ``cvat``: CVAT's VOC export (datumaro's VOC converter): two-space indent, ``<source>`` with three fields, an
  empty ``<depth>``, objects with ``<truncated>``, ``<occluded>``, ``<difficult>``, float corners (``12.0``) and an
  ``<attributes>`` element; labelmap.txt with ``background``; ImageSets/Main/default.txt.
- VOC ``objects1`` / ``objects25``: plain devkit files (the layout cvkit's own writer uses) with 1 or 25 objects.
- COCO ``boxes``: an instances file with empty segmentations; ``polygons``: a 12-point polygon on every
  annotation (as instances files from annotation tools have); ``crowds``: polygons plus one crowd region a
  image as uncompressed RLE (COCO's own ``iscrowd: 1`` encoding); ``keypoints``: a person_keypoints file (17
  keypoints, skeleton, a polygon on every person).
- LabelMe ``rectangles``, ``polygons`` (12 points) and ``imagedata`` (rectangles with the image embedded as
  base64, LabelMe's default when saving).
"""

from __future__ import annotations

import base64
import json
import math
import os
import random
import shutil
from collections.abc import Callable
from pathlib import Path

#: image file name -> [(label, (x, y, w, h))] that a converter must give (0-based continuous pixel corners)
Truth = dict[str, list[tuple[str, tuple[float, float, float, float]]]]

HERE = Path(__file__).resolve().parent
CORPUS = Path(os.environ.get("CVKIT_CORPUS", HERE.parent.parent / "shared" / "corpus"))
#: a small real JPEG (LabelMe's primitives example, 560 x 450, 21 kB) linked as every generated image
JPEG = CORPUS / "labelme_json" / "primitives" / "primitives.jpg"
JPEG_SIZE = (560, 450)
VOC_CLASSES = ("person", "car", "dog", "cat", "bicycle", "chair", "bottle", "horse", "boat", "bird")
VOC_ACTIONS = (
    "jumping",
    "other",
    "phoning",
    "playinginstrument",
    "reading",
    "ridingbike",
    "ridinghorse",
    "running",
    "takingphoto",
    "usingcomputer",
    "walking",
)
SIZES = ((500, 375), (640, 480), (375, 500), (480, 640), (333, 500))


def _image_size(i: int) -> tuple[int, int]:
    return SIZES[i % len(SIZES)]


def _voc_box(rng: random.Random, width: int, height: int) -> tuple[int, int, int, int]:
    """1-based inclusive corners inside the image, as VOC files hold them."""
    xmin, ymin = rng.randint(1, width - 40), rng.randint(1, height - 40)
    return xmin, ymin, rng.randint(xmin + 5, min(width, xmin + 300)), rng.randint(ymin + 5, min(height, ymin + 300))


def _canonical(xmin: float, ymin: float, xmax: float, ymax: float) -> tuple[float, float, float, float]:
    """VOC's 1-based inclusive pixel indices as 0-based corners (docs/coordinates.md)."""
    return (xmin - 1.0, ymin - 1.0, xmax - xmin + 1.0, ymax - ymin + 1.0)


def _bndbox(indent: str, box: tuple[float, ...], unit: str) -> str:
    inner = indent + unit
    return (
        f"{indent}<bndbox>\n"
        + "".join(f"{inner}<{tag}>{value}</{tag}>\n" for tag, value in zip(("xmin", "ymin", "xmax", "ymax"), box))
        + f"{indent}</bndbox>\n"
    )


# --- VOC -------------------------------------------------------------------------------
def _devkit2012_xml(name: str, i: int, rng: random.Random, objects: int) -> tuple[str, list]:
    """One VOC2012 devkit file: alphabetical tags, tabs; person layout and action objects on some files."""
    width, height = _image_size(i)
    truth = []
    out = ["<annotation>\n", f"\t<filename>{name}.jpg</filename>\n", "\t<folder>VOC2012</folder>\n"]
    for k in range(objects):
        box = _voc_box(rng, width, height)
        kind = (i + k) % 8
        label = "person" if kind in (0, 1) else VOC_CLASSES[(i + k) % len(VOC_CLASSES)]
        truth.append((label, _canonical(*box)))
        out.append("\t<object>\n")
        if kind == 1:  # an action object: actions, a reference point, no pose
            out.append("\t\t<actions>\n")
            out += [f"\t\t\t<{a}>{int(a == VOC_ACTIONS[i % 11])}</{a}>\n" for a in VOC_ACTIONS]
            out.append("\t\t</actions>\n")
        out.append(_bndbox("\t\t", box, "\t"))
        out.append(f"\t\t<difficult>{int(kind == 5)}</difficult>\n")
        out.append(f"\t\t<name>{label}</name>\n")
        if kind == 0:  # a person-layout object: a head and hands
            for part in ("head", "hand", "hand")[: 1 + i % 3]:
                px, py = box[0] + 1, box[1] + 1
                out += [
                    "\t\t<part>\n",
                    f"\t\t\t<name>{part}</name>\n",
                    _bndbox("\t\t\t", (px, py, px + 3, py + 3), "\t"),
                ]
                out.append("\t\t</part>\n")
        if kind == 1:
            out += ["\t\t<point>\n", f"\t\t\t<x>{box[0] + 2}</x>\n", f"\t\t\t<y>{box[1] + 2}</y>\n", "\t\t</point>\n"]
        if kind != 1:
            out.append("\t\t<pose>Unspecified</pose>\n")
        if kind in (2, 3):
            out.append(f"\t\t<occluded>{kind - 2}</occluded>\n")
        out.append(f"\t\t<truncated>{int(kind == 4)}</truncated>\n")
        out.append("\t</object>\n")
    out += [
        f"\t<segmented>{i % 2}</segmented>\n",
        f"\t<size>\n\t\t<depth>3</depth>\n\t\t<height>{height}</height>\n\t\t<width>{width}</width>\n\t</size>\n",
        "\t<source>\n\t\t<annotation>PASCAL VOC2007</annotation>\n\t\t<database>The VOC2007 Database</database>\n"
        "\t\t<image>flickr</image>\n\t</source>\n",
        "</annotation>",
    ]
    return "".join(out), truth


def _labelimg_xml(name: str, i: int, rng: random.Random, objects: int, image: Path) -> tuple[str, list]:
    """One file as LabelImg's PascalVocWriter saves it (lxml pretty print, two spaces replaced by a tab)."""
    width, height = JPEG_SIZE
    truth = []
    out = [
        "<annotation>\n",
        f"\t<folder>{image.parent.name}</folder>\n",
        f"\t<filename>{image.name}</filename>\n",
        f"\t<path>{image}</path>\n",
        "\t<source>\n\t\t<database>Unknown</database>\n\t</source>\n",
        f"\t<size>\n\t\t<width>{width}</width>\n\t\t<height>{height}</height>\n\t\t<depth>3</depth>\n\t</size>\n",
        "\t<segmented>0</segmented>\n",
    ]
    for k in range(objects):
        box = _voc_box(rng, width, height)
        label = VOC_CLASSES[(i + k) % len(VOC_CLASSES)]
        truth.append((label, _canonical(*box)))
        truncated = int(box[0] == 1 or box[1] == 1 or box[2] == width or box[3] == height)
        out += [
            "\t<object>\n",
            f"\t\t<name>{label}</name>\n",
            "\t\t<pose>Unspecified</pose>\n",
            f"\t\t<truncated>{truncated}</truncated>\n",
            "\t\t<difficult>0</difficult>\n",
            _bndbox("\t\t", box, "\t"),
            "\t</object>\n",
        ]
    out.append("</annotation>\n")
    return "".join(out), truth


def _cvat_xml(name: str, i: int, rng: random.Random, objects: int) -> tuple[str, list]:
    """One file of CVAT's VOC export (datumaro's VocConverter: lxml pretty print, float corners, attributes)."""
    width, height = _image_size(i)
    truth = []
    out = [
        "<annotation>\n",
        "  <folder></folder>\n",
        f"  <filename>{name}.jpg</filename>\n",
        "  <source>\n    <database>Unknown</database>\n    <annotation>Unknown</annotation>\n"
        "    <image>Unknown</image>\n  </source>\n",
        f"  <size>\n    <width>{width}</width>\n    <height>{height}</height>\n    <depth></depth>\n  </size>\n",
        "  <segmented>0</segmented>\n",
    ]
    for k in range(objects):
        x0, y0, x1, y1 = _voc_box(rng, width, height)
        box = (float(x0), float(y0), float(x1), float(y1))  # datumaro writes str(float): "12.0"
        label = VOC_CLASSES[(i + k) % 4]
        truth.append((label, _canonical(*box)))
        out += [
            "  <object>\n",
            f"    <name>{label}</name>\n",
            "    <truncated>0</truncated>\n",
            f"    <occluded>{(i + k) % 2}</occluded>\n",
            "    <difficult>0</difficult>\n",
            _bndbox("    ", box, "  "),
            "    <attributes>\n",
            "      <attribute>\n        <name>rotation</name>\n        <value>0.0</value>\n      </attribute>\n",
            f"      <attribute>\n        <name>color</name>\n        <value>{('red', 'blue')[k % 2]}</value>\n"
            "      </attribute>\n",
            "    </attributes>\n",
            "  </object>\n",
        ]
    out.append("</annotation>\n")
    return "".join(out), truth


def _plain_xml(name: str, i: int, rng: random.Random, objects: int) -> tuple[str, list]:
    """A plain devkit file (the layout cvkit's writer and most scripts use): pose and the flags, integer corners."""
    width, height = _image_size(i)
    truth = []
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>\n<annotation>\n  <folder>VOC2007</folder>\n',
        f"  <filename>{name}.jpg</filename>\n",
        f"  <size>\n    <width>{width}</width>\n    <height>{height}</height>\n    <depth>3</depth>\n  </size>\n",
        "  <segmented>0</segmented>\n",
    ]
    for k in range(objects):
        box = _voc_box(rng, width, height)
        label = VOC_CLASSES[(i + k) % len(VOC_CLASSES)]
        truth.append((label, _canonical(*box)))
        out += [
            f"  <object>\n    <name>{label}</name>\n    <pose>Unspecified</pose>\n",
            f"    <truncated>{k % 2}</truncated>\n    <difficult>0</difficult>\n",
            _bndbox("    ", box, "  "),
            "  </object>\n",
        ]
    out.append("</annotation>\n")
    return "".join(out), truth


def write_voc(root: Path, shape: str, files: int) -> Truth:
    """A VOC dataset of ``files`` annotation files of ``shape`` under ``root`` (see the module's docstring);
    the dataset to convert is :func:`voc_input` of ``root``."""
    rng = random.Random(f"voc-{shape}")
    truth: Truth = {}
    names = [f"{2008 + i // 100000}_{i % 100000:06d}" for i in range(files)]
    if shape == "labelimg":
        labels, images = root / "labels", root / "images"
        labels.mkdir(parents=True)
        images.mkdir()
        for i, name in enumerate(names):
            image = images / f"{name}.jpg"
            os.link(JPEG, image)
            text, objects = _labelimg_xml(name, i, rng, 2, image.resolve())
            (labels / f"{name}.xml").write_text(text, encoding="utf-8")
            truth[image.name] = objects
        return truth
    annotations = root / "Annotations"
    annotations.mkdir(parents=True)
    for i, name in enumerate(names):
        if shape == "devkit2012":
            text, objects = _devkit2012_xml(name, i, rng, 1 + i % 4)
        elif shape == "cvat":
            text, objects = _cvat_xml(name, i, rng, 2)
        else:
            text, objects = _plain_xml(name, i, rng, {"objects1": 1, "objects25": 25}[shape])
        (annotations / f"{name}.xml").write_text(text, encoding="utf-8")
        truth[f"{name}.jpg"] = objects
    main = root / "ImageSets" / "Main"
    main.mkdir(parents=True)
    (main / ("default.txt" if shape == "cvat" else "train.txt")).write_text("\n".join(names) + "\n")
    if shape == "cvat":
        labelmap = "".join(f"{name}:{60 * k},0,0::\n" for k, name in enumerate(VOC_CLASSES[:4]))
        (root / "labelmap.txt").write_text("# label:color_rgb:parts:actions\nbackground:0,0,0::\n" + labelmap)
    return truth


def voc_input(root: Path, shape: str) -> Path:
    """The path a converter is given for a :func:`write_voc` dataset (LabelImg: its folder of XML files)."""
    return root / "labels" if shape == "labelimg" else root


VOC_SHAPES = ("devkit2012", "labelimg", "cvat", "objects1", "objects25")


# --- COCO ------------------------------------------------------------------------------
def _ellipse(x: float, y: float, w: float, h: float, points: int = 12) -> list[float]:
    """``points`` points on the ellipse inscribed in a box, rounded to 2 decimals as annotation tools write them."""
    cx, cy = x + w / 2, y + h / 2
    flat = []
    for k in range(points):
        angle = 2 * math.pi * k / points
        flat += [round(cx + w / 2 * math.cos(angle), 2), round(cy + h / 2 * math.sin(angle), 2)]
    return flat


def _extent(flat: list[float]) -> tuple[float, float, float, float]:
    xs, ys = flat[0::2], flat[1::2]
    return (min(xs), min(ys), round(max(xs) - min(xs), 2), round(max(ys) - min(ys), 2))


def _shoelace(flat: list[float]) -> float:
    xs, ys = flat[0::2], flat[1::2]
    n = len(xs)
    return abs(sum(xs[i] * ys[(i + 1) % n] - xs[(i + 1) % n] * ys[i] for i in range(n))) / 2


def _rectangle_rle(x0: int, y0: int, x1: int, y1: int, width: int, height: int) -> dict:
    """COCO's uncompressed RLE (column-major runs, starting with zeros) of the rectangle ``[x0, x1) x [y0, y1)``."""
    counts = [x0 * height + y0]
    for _ in range(x0, x1 - 1):
        counts += [y1 - y0, height - (y1 - y0)]
    counts += [y1 - y0, height - y1 + (width - x1) * height]
    return {"counts": counts, "size": [height, width]}


KEYPOINTS = [
    *("nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder", "left_elbow"),
    *("right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle"),
    "right_ankle",
]
SKELETON = [[16, 14], [14, 12], [17, 15], [15, 13], [12, 13], [6, 12], [7, 13], [6, 7], [6, 8], [7, 9], [8, 10]]


def write_coco(root: Path, shape: str, images: int, per_image: int = 25) -> tuple[Path, Truth]:
    """A COCO file under ``root/annotations`` (instances_train.json, person_keypoints_train.json for
    ``keypoints``) and an empty ``root/images/train`` (datumaro wants the folder); returns the file and the truth:
    every object but crowds, which YOLO leaves out."""
    rng = random.Random(f"coco-{shape}")
    keypoints = shape == "keypoints"
    if keypoints:
        categories = [
            {"id": 1, "name": "person", "supercategory": "person", "keypoints": KEYPOINTS, "skeleton": SKELETON}
        ]
    else:  # COCO's ids are not contiguous
        categories = [{"id": 1 + 3 * k, "name": f"class_{k}", "supercategory": "thing"} for k in range(20)]
    doc: dict = {"info": {"description": f"cvkit benchmark: {shape}"}, "licenses": [], "images": [], "annotations": []}
    truth: Truth = {}
    ann_id = 0
    for i in range(images):
        width, height = _image_size(i)
        name = f"{i:012d}.jpg"
        doc["images"].append({"id": i + 1, "file_name": name, "width": width, "height": height, "license": 0})
        objects = truth[name] = []
        for k in range(per_image):
            category = categories[(i + k) % len(categories)]
            x, y = round(rng.uniform(0, width - 60), 2), round(rng.uniform(0, height - 60), 2)
            w, h = round(rng.uniform(8, min(200, width - x)), 2), round(rng.uniform(8, min(200, height - y)), 2)
            ann: dict = {"id": ann_id + 1, "image_id": i + 1, "category_id": category["id"], "iscrowd": 0}
            if shape == "crowds" and k == per_image - 1:  # one crowd region an image, as COCO encodes them
                x0, y0 = int(x), int(y)
                x1, y1 = min(width, x0 + max(2, int(w))), min(height, y0 + max(2, int(h)))
                ann.update(
                    segmentation=_rectangle_rle(x0, y0, x1, y1, width, height),
                    iscrowd=1,
                    bbox=[x0, y0, x1 - x0, y1 - y0],
                    area=(x1 - x0) * (y1 - y0),
                )
            elif shape == "boxes":
                ann.update(segmentation=[], bbox=[x, y, w, h], area=round(w * h, 2))
                objects.append((category["name"], (x, y, w, h)))
            else:
                flat = _ellipse(x, y, w, h)
                box = _extent(flat)
                ann.update(segmentation=[flat], bbox=list(box), area=round(_shoelace(flat), 2))
                objects.append((category["name"], box))
            if keypoints:
                values = []
                for n in range(len(KEYPOINTS)):
                    visible = (i + k + n) % 4
                    px, py = round(box[0] + box[2] * ((n % 5) + 0.5) / 5), round(box[1] + box[3] * (n + 0.5) / 17)
                    values += [px, py, min(visible, 2)] if visible else [0, 0, 0]
                ann.update(keypoints=values, num_keypoints=sum(1 for v in values[2::3] if v))
            ann_id += 1
            doc["annotations"].append(ann)
    doc["categories"] = categories
    annotations = root / "annotations"
    annotations.mkdir(parents=True)
    (root / "images" / "train").mkdir(parents=True)
    path = annotations / ("person_keypoints_train.json" if keypoints else "instances_train.json")
    path.write_text(json.dumps(doc))
    return path, truth


COCO_SHAPES = ("boxes", "polygons", "crowds", "keypoints")


# --- LabelMe ---------------------------------------------------------------------------
def write_labelme(root: Path, shape: str, files: int, per_file: int = 25) -> Truth:
    """``files`` LabelMe JSON files, each beside its image (a hard link to one JPEG), in folders of 1,000."""
    rng = random.Random(f"labelme-{shape}")
    image_data = base64.b64encode(JPEG.read_bytes()).decode() if shape == "imagedata" else None
    truth: Truth = {}
    for i in range(files):
        width, height = JPEG_SIZE
        shapes, objects = [], []
        for k in range(per_file):
            label = f"{VOC_CLASSES[(i + k) % len(VOC_CLASSES)]}_{k % 3}"
            x, y = round(rng.uniform(0, width - 60), 2), round(rng.uniform(0, height - 60), 2)
            w, h = round(rng.uniform(8, min(200, width - x)), 2), round(rng.uniform(8, min(200, height - y)), 2)
            if shape == "polygons":
                flat = _ellipse(x, y, w, h)
                points = [[flat[j], flat[j + 1]] for j in range(0, len(flat), 2)]
                objects.append((label, _extent(flat)))
                kind = "polygon"
            else:
                points = [[x, y], [round(x + w, 2), round(y + h, 2)]]
                objects.append((label, (x, y, round(x + w, 2) - x, round(y + h, 2) - y)))
                kind = "rectangle"
            shapes.append(
                {
                    "label": label,
                    "points": points,
                    "group_id": None,
                    "description": "",
                    "shape_type": kind,
                    "flags": {},
                    "mask": None,
                }
            )
        name = f"img_{i:06d}"
        doc = {
            "version": "5.5.0",
            "flags": {},
            "shapes": shapes,
            "imagePath": f"{name}.jpg",
            "imageData": image_data,
            "imageHeight": height,
            "imageWidth": width,
        }
        folder = root / f"part_{i // 1000:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{name}.json").write_text(json.dumps(doc, indent=2))
        os.link(JPEG, folder / f"{name}.jpg")
        truth[f"{folder.name}/{name}.jpg"] = objects
    return truth


LABELME_SHAPES = ("rectangles", "polygons", "imagedata")


def cached(folder: Path, make: Callable[[Path], object]) -> Path:
    """``folder`` made by ``make`` once (a marker file says it is complete; a partial one is made again)."""
    marker = folder / ".complete"
    if not marker.exists():
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        make(folder)
        marker.touch()
    return folder
