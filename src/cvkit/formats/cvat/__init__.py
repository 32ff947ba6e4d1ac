"""CVAT for images 1.1 and CVAT for video 1.1 XML: ``annotations.xml``, a folder holding it, or CVAT's export zip.

Read: boxes (rotated ones as 4-corner polygons), polygons, polylines, points, ellipses, masks (CVAT's RLE),
skeletons (keypoints), tags (image-level labels), typed attributes, ``occluded``/``z_order``/``group_id``, the
labels of ``<meta>`` with their colours and attribute specs, subsets (or jobs, ``-r split_by=job``) as splits;
video tracks as per-frame objects with their ``track_id``. Written: CVAT for images 1.1, which CVAT imports
("Upload annotations" as CVAT 1.1, matching images by name). See docs/formats.md and docs/coordinates.md.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from cvkit.formats.cvat._reader import is_cvat_xml, read
from cvkit.formats.cvat._writer import write

__all__ = ["detect", "read", "write"]


def detect(path: Path) -> str | None:
    if path.is_dir():
        xml = path / "annotations.xml"
        return "a CVAT annotations.xml (<annotations><version>)" if xml.is_file() and is_cvat_xml(xml) else None
    if path.suffix.lower() == ".xml":
        return "a CVAT XML file (<annotations><version>)" if is_cvat_xml(path) else None
    if path.suffix.lower() == ".zip" and zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            if any(Path(n).name == "annotations.xml" for n in archive.namelist()):
                return "a CVAT export zip (annotations.xml + images/)"
    return None
