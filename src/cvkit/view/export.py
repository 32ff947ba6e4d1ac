"""``cvkit view --export SITE``: the same page as static files, for a shared folder or a CI artefact.

The site holds the page (``index.html``, ``static/``), the data as JSON beside it (``data/meta.json``,
``data/samples.json``, ``data/stats.json``) and the same data as ``data/data.js``, which the page loads with a
script tag so it also works opened from disk (browsers refuse ``fetch`` of ``file://``). Thumbnails, images and
mask overlays of the exported samples are written once; the page filters those samples itself (and, with a
trained run, sorts them and counts their confusion matrix).
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cvkit.core import jsonio
from cvkit.core.model import Sample
from cvkit.errors import CvkitError
from cvkit.io import atomic_dir
from cvkit.view import api
from cvkit.view.index import CHECK_IMAGES_UP_TO, Filter, ViewIndex
from cvkit.view.render import image_bytes, mask_overlay, thumbnail
from cvkit.view.server import STATIC, static_file

#: images an export holds unless --limit says
DEFAULT_EXPORT_LIMIT = 1000
#: samples fetched from the dataset at a time (a Parquet row group is then read once for them all)
FETCHED_TOGETHER = 256
#: file suffixes of exported images by content type
SUFFIXES = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/gif": ".gif",
    "image/webp": ".webp",
    "image/bmp": ".bmp",
    "image/tiff": ".tif",
}


@dataclass(slots=True)
class ExportResult:
    """What the export wrote."""

    path: Path
    samples: int
    matching: int
    missing_images: int


def _write_images(index: ViewIndex, number: int, sample: Sample, doc: dict[str, Any], site: Path) -> bool:
    """The thumbnail, image and mask overlay of one sample; False when its image cannot be read."""
    path = sample.resolve(index.root)
    try:
        (site / "thumbs" / f"{number}.jpg").write_bytes(thumbnail(path))
        data, content_type = image_bytes(path)
    except CvkitError:
        return False
    doc["image_suffix"] = SUFFIXES.get(content_type, ".img")
    (site / "images" / f"{number}{doc['image_suffix']}").write_bytes(data)
    if doc["masks"]:
        (site / "masks" / f"{number}.png").write_bytes(mask_overlay(sample, index.class_index))
    return True


def export_site(
    index: ViewIndex,
    output: str | Path,
    query: Mapping[str, Sequence[str]] | None = None,
    limit: int = DEFAULT_EXPORT_LIMIT,
    overwrite: bool = False,
) -> ExportResult:
    """Write the page and the first ``limit`` images the filter ``query`` keeps to the folder ``output``."""
    if limit < 1:
        raise CvkitError("--limit must be at least 1")
    query = query or {}
    chosen = api.all_matching(index, query, limit)
    matching = len(index.select(Filter.from_query(query)))
    with_problems = index.num_images <= CHECK_IMAGES_UP_TO
    if with_problems:
        index.problems()
    missing = 0
    output = Path(output)
    with atomic_dir(output, overwrite=overwrite) as site:
        for folder in ("static", "data", "thumbs", "images", "masks"):
            (site / folder).mkdir()
        for url, (name, _) in STATIC.items():
            (site / ("index.html" if url == "/" else url.lstrip("/"))).write_bytes(static_file(name))
        samples = []
        for start in range(0, len(chosen), FETCHED_TOGETHER):
            numbers = [int(i) for i in chosen[start : start + FETCHED_TOGETHER]]
            for number, sample in zip(numbers, index.samples(numbers), strict=True):
                doc = api.sample_doc(index, number, detail=True, sample=sample)
                doc["file"] = str(sample.resolve(index.root))
                doc["problems"] = index.findings_of(number) if with_problems else None
                missing += not _write_images(index, number, sample, doc, site)
                samples.append(doc)
        meta = api.meta(index)
        meta["exported"] = len(samples)
        meta["page_size"] = api.PAGE_SIZE
        stats = index.stats(chosen)
        data = {"meta": meta, "samples": samples, "stats": stats}
        for name, value in data.items():
            (site / "data" / f"{name}.json").write_bytes(jsonio.dumps(value))
        (site / "data" / "data.js").write_bytes(b"window.CVKIT_STATIC = " + jsonio.dumps(data) + b";\n")
        if not any((site / "masks").iterdir()):
            shutil.rmtree(site / "masks")
    return ExportResult(output, len(samples), matching, missing)
