"""COCO JSON: instances, person_keypoints, stuff, image_info, labels, captions, panoptic (read)
and results lists.

Category ids are kept exactly (non-contiguous ids survive); supercategories become
parents in the hierarchy; images without annotations are kept; polygons, compressed
and uncompressed RLE, keypoints (names and skeleton), iscrowd and per-annotation
``attributes`` (datumaro's extension) round-trip. Annotations with no geometry at all
(datumaro's ``labels_*.json``) are image-level labels; captions become the image's
``captions`` attribute.

A folder destination gets ``annotations/instances_<split>.json``; a ``.json`` destination
is one file. Writing streams each split through temporary files, so memory stays flat.

The package: ``_format`` detects, reads and writes; ``_categories``, ``_images``, ``_objects`` and ``_panoptic``
read one part of a file (categories, where the images are, annotation records, panoptic segments); ``_scan``,
``_bounded`` and ``_bounded_samples`` read a file in bounded memory (sections as byte ranges, images and plain boxes
in numpy columns, samples built a shard at a time); ``_spool`` numbers and spools the records a write places.
"""

from __future__ import annotations

from ._format import detect, read, write

__all__ = ["detect", "read", "write"]
