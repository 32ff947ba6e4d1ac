"""Pascal VOC XML: devkit trees, flat folders (LabelImg), per-split folders (Roboflow), no-ImageSets trees.

Coordinates: VOC stores 1-based inclusive pixel indices. By default a box
``xmin..xmax`` becomes ``x = xmin - 1, w = xmax - xmin + 1`` (VOC devkit, detectron2) and
writing inverts it exactly; reader/writer option ``one_based=false`` keeps raw values
for producers that wrote 0-based boxes. See docs/coordinates.md.

The package: ``_format`` detects, reads and writes; ``_layout`` finds the files of each layout (split lists,
labelmap.txt, where the images are); ``_runs`` lists a layout's XML files as compact runs (a shard each);
``_plain`` reads the plain files every tool writes without an XML tree, lxml the rest (``_format.parse_tree``);
``_xml`` writes one file's XML. ``parse_xml``, ``plain_boxes`` (the plain parser's sizes, names and boxes alone)
and the layout finders serve ``cvkit stats`` too.
"""

from __future__ import annotations

from ._format import detect, parse_xml, read
from ._layout import devkit_root, read_labelmap
from ._plain import Boxes, plain_boxes
from ._runs import annotation_jobs
from ._writer import write

__all__ = [
    "Boxes",
    "annotation_jobs",
    "detect",
    "devkit_root",
    "parse_xml",
    "plain_boxes",
    "read",
    "read_labelmap",
    "write",
]
