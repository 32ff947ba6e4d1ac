"""MIT LabelMe XML (the LabelMe web tool, CSAIL): one ``<annotation>`` per image.

Two layouts are read: the web tool's (``Annotations/<folder>/x.xml``, ``Images/<folder>/``,
``Masks/<folder>/``, ``Scribbles/<folder>/``) (also current datumaro's) and older datumaro's (``<subset>/x.xml`` next to
the image, masks in ``<subset>/Masks/``). Objects: ``<polygon>`` (a box when
``<type>bounding_box</type>``; a point or a line with 1 or 2 ``<pt>``, as the web tool
saves them), ``<segm>`` masks (any non-zero pixel of the mask PNG);
``<deleted>1</deleted>`` objects are skipped; ``<occluded>yes|no`` -> attribute ``occluded``;
the free-text ``<attributes>`` (``a=b, c`` with ``\\,`` escapes) -> attributes; parts
(``<hasparts>``/``<ispartof>``) -> ``Annotation.id``, attribute ``parent`` and ``group``
(the id of the part tree's root). The split is the collection folder (datumaro's subset).

The package: ``_format`` detects, reads and writes; ``_xml`` reads and writes one file's objects.
"""

from __future__ import annotations

from ._format import detect, read, write

__all__ = ["detect", "read", "write"]
