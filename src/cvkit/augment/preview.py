"""Contact sheets: what a pipeline does to your images *and* their annotations.

Rows are sampled images, the first column the original, then ``k`` augmented variants.
Boxes, polygons, masks, keypoints and labels are drawn on every tile; each tile's caption
names the applied steps with their parameters and how many boxes the sample lost.
Deterministic for a given seed. ``--html`` writes the same tiles plus the spec as a page.
"""

from __future__ import annotations

import base64
import html
import io
import random
import textwrap
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cvkit.augment.cpu import AugmentResult
from cvkit.augment.spec import PipelineSpec, load_spec
from cvkit.core.limits import open_image
from cvkit.core.masks import decode
from cvkit.core.model import Dataset, Sample
from cvkit.errors import CvkitError
from cvkit.io import atomic_write_bytes, atomic_write_text

TILE = 256  # image area of a tile, pixels (images are fitted inside, aspect kept)
PAD = 8
HEADER = 26
CAPTION_LINES = 7
LINE = 14
BACKGROUND = (250, 250, 250)
PALETTE = [
    (230, 25, 75),
    (60, 180, 75),
    (0, 130, 200),
    (245, 130, 48),
    (145, 30, 180),
    (70, 240, 240),
    (240, 50, 230),
    (210, 245, 60),
    (250, 190, 212),
    (0, 128, 128),
    (170, 110, 40),
    (128, 0, 0),
    (0, 0, 128),
    (128, 128, 0),
]


@dataclass(slots=True)
class SheetLayout:
    """Where tile (row, col) sits on the sheet and how its image was scaled into it."""

    rows: int
    cols: int

    @property
    def tile_height(self) -> int:
        return TILE + CAPTION_LINES * LINE + PAD

    @property
    def size(self) -> tuple[int, int]:
        return (PAD + self.cols * (TILE + PAD), HEADER + self.rows * self.tile_height + PAD)

    def origin(self, row: int, col: int) -> tuple[int, int]:
        """Top-left corner of the tile's image area."""
        return (PAD + col * (TILE + PAD), HEADER + row * self.tile_height)

    @staticmethod
    def fit(width: int, height: int) -> tuple[float, int, int]:
        """Scale and offset (inside the tile) that fit a width x height image, centred."""
        scale = min(TILE / width, TILE / height)
        return scale, (TILE - round(width * scale)) // 2, (TILE - round(height * scale)) // 2


@dataclass
class PreviewResult:
    """What the command prints: where the sheet is, the back-end used and its speed."""

    path: Path
    rows: int
    cols: int
    device: str
    augment_seconds: float
    variants: int
    boxes_lost: int
    html: Path | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        per_image = self.augment_seconds / self.variants if self.variants else 0.0
        return {
            "path": str(self.path),
            "html": str(self.html) if self.html else None,
            "rows": self.rows,
            "columns": self.cols,
            "device": self.device,
            "variants": self.variants,
            "seconds": round(self.augment_seconds, 4),
            "ms_per_image": round(per_image * 1000, 3),
            "images_per_second": round(1 / per_image, 1) if per_image else None,
            "boxes_lost": self.boxes_lost,
            "notes": self.notes,
        }


def sample_labels(sample: Sample) -> set[str]:
    return {o.label for o in sample.objects} | set(sample.labels)


def pick_samples(
    samples: list[Sample], n: int, classes: list[str] | None = None, rare: bool = False, seed: int = 0
) -> list[Sample]:
    """``n`` samples: only those with one of ``classes`` when given; rarest classes first with ``rare``."""
    pool = [s for s in samples if not classes or sample_labels(s) & set(classes)]
    if classes and not pool:
        raise CvkitError(f"no image has any of the classes {', '.join(classes)}")
    rng = random.Random(seed)
    rng.shuffle(pool)
    if rare:
        frequency = Counter(label for s in samples for label in sample_labels(s))
        pool.sort(key=lambda s: min((frequency[label] for label in sample_labels(s)), default=1 << 62))
    return pool[:n]


def load_rgb(path: Path) -> np.ndarray:
    """An image as displayed (EXIF orientation applied, as annotations are), HWC uint8 RGB."""
    from PIL import ImageOps

    try:
        with open_image(path) as img:  # refused over the pixel limit (cvkit.core.limits), from its header
            return np.asarray(ImageOps.exif_transpose(img).convert("RGB"))
    except FileNotFoundError:
        raise CvkitError("image file not found", file=path) from None
    except OSError as exc:
        raise CvkitError(f"cannot read image ({exc})", file=path) from None


def _font(size: int = 12) -> Any:
    from PIL import ImageFont

    return ImageFont.load_default(size=size)


def colour_of(label: str, labels: list[str]) -> tuple[int, int, int]:
    return PALETTE[labels.index(label) % len(PALETTE)] if label in labels else PALETTE[hash(label) % len(PALETTE)]


def draw_sample(tile: Any, sample: Sample, scale: float, labels: list[str]) -> None:
    """Draw ``sample``'s objects onto a tile image (already scaled by ``scale``)."""
    from PIL import Image, ImageDraw

    font = _font(11)
    overlay = Image.new("RGBA", tile.size, (0, 0, 0, 0))
    fill = ImageDraw.Draw(overlay)
    for obj in sample.objects:
        colour = colour_of(obj.label, labels)
        if obj.rle is not None:
            mask = decode(obj.rle)
            small = Image.fromarray(mask * 255).resize(tile.size, Image.NEAREST)
            fill.bitmap((0, 0), small, fill=(*colour, 90))
        for part in obj.polygon or []:
            pts = [(part[i] * scale, part[i + 1] * scale) for i in range(0, len(part) - 1, 2)]
            if len(pts) >= 3:
                fill.polygon(pts, fill=(*colour, 70))
    tile.paste(Image.alpha_composite(tile.convert("RGBA"), overlay).convert("RGB"))
    draw = ImageDraw.Draw(tile)
    for obj in sample.objects:
        colour = colour_of(obj.label, labels)
        for part in obj.polygon or []:
            pts = [(part[i] * scale, part[i + 1] * scale) for i in range(0, len(part) - 1, 2)]
            if len(pts) >= 2:
                draw.line([*pts, pts[0]], fill=colour, width=1)
        if obj.bbox is not None:
            x, y, w, h = (v * scale for v in obj.bbox)
            draw.rectangle(
                [round(x), round(y), max(round(x), round(x + w) - 1), max(round(y), round(y + h) - 1)],
                outline=colour,
                width=2,
            )
            text_w = draw.textlength(obj.label, font=font)
            ty = max(0, round(y) - 13)
            draw.rectangle([round(x), ty, round(x) + text_w + 4, ty + 12], fill=colour)
            draw.text((round(x) + 2, ty), obj.label, fill=(255, 255, 255), font=font)
        for flat in (obj.keypoints,):
            if flat:
                for i in range(0, len(flat) - 2, 3):
                    if flat[i + 2] > 0:
                        cx, cy = flat[i] * scale, flat[i + 1] * scale
                        draw.ellipse([cx - 3, cy - 3, cx + 3, cy + 3], fill=colour, outline=(255, 255, 255))
        if obj.points:
            pts = [(obj.points[i] * scale, obj.points[i + 1] * scale) for i in range(0, len(obj.points) - 1, 2)]
            if len(pts) > 1 and obj.shape in ("line", "linestrip"):
                draw.line(pts, fill=colour, width=2)
            for cx, cy in pts:
                draw.ellipse([cx - 3, cy - 3, cx + 3, cy + 3], outline=colour, width=2)


def caption_lines(result: AugmentResult | None, sample: Sample, width_chars: int = 46) -> list[str]:
    """Caption text: the file and objects for an original, else boxes lost and applied steps."""
    if result is None:
        lines = [Path(sample.path).name, f"{sample.width}x{sample.height}, {len(sample.objects)} objects"]
        if sample.labels:
            lines.append("labels: " + ", ".join(sample.labels))
        return lines
    head = f"{result.sample.width}x{result.sample.height}, {len(result.sample.objects)} objects"
    if result.boxes_lost:
        head += f", lost {result.boxes_lost}"
    if result.redraws:
        head += f", redrawn {result.redraws}x"
    lines = [head]
    for name, params in result.applied:
        text = name + (" " + " ".join(f"{k}={_short(v)}" for k, v in params.items()) if params else "")
        lines += textwrap.wrap(text, width_chars, subsequent_indent="  ", break_on_hyphens=False) or [name]
    if not result.applied:
        lines.append("(no step fired)")
    return lines


def _short(value: Any) -> str:
    if isinstance(value, dict):
        return "(" + ",".join(_short(v) for v in value.values()) + ")"
    if isinstance(value, list):
        return "[" + ",".join(_short(v) for v in value) + "]"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def render_tile(image: np.ndarray, sample: Sample, labels: list[str]) -> Any:
    """A TILE x TILE image: ``image`` fitted and centred with its annotations drawn."""
    from PIL import Image

    height, width = image.shape[:2]
    scale, dx, dy = SheetLayout.fit(width, height)
    fitted = Image.fromarray(image).resize(
        (max(1, round(width * scale)), max(1, round(height * scale))), Image.BILINEAR
    )
    draw_sample(fitted, sample, scale, labels)
    tile = Image.new("RGB", (TILE, TILE), (40, 40, 40))
    tile.paste(fitted, (dx, dy))
    return tile


def render_sheet(
    rows: list[tuple[Sample, np.ndarray, list[AugmentResult]]], labels: list[str], title: str
) -> tuple[Any, list[list[tuple[Any, list[str]]]]]:
    """The contact sheet and, per row, each tile image with its caption lines (for the HTML page)."""
    from PIL import Image, ImageDraw

    cols = 1 + max((len(r[2]) for r in rows), default=0)
    layout = SheetLayout(len(rows), cols)
    sheet = Image.new("RGB", layout.size, BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    font, bold = _font(11), _font(13)
    draw.text((PAD, 6), title, fill=(20, 20, 20), font=bold)
    tiles: list[list[tuple[Any, list[str]]]] = []
    for r, (sample, image, results) in enumerate(rows):
        row_tiles = []
        for c, (img, shown, result) in enumerate([(image, sample, None), *[(x.image, x.sample, x) for x in results]]):
            tile = render_tile(img, shown, labels)
            x0, y0 = layout.origin(r, c)
            sheet.paste(tile, (x0, y0))
            lines = caption_lines(result, sample)
            for i, line in enumerate(lines[:CAPTION_LINES]):
                draw.text(
                    (x0 + 2, y0 + TILE + 2 + i * LINE), line, fill=(20, 20, 20) if i == 0 else (70, 70, 70), font=font
                )
            if c == 0:
                draw.rectangle([x0 - 2, y0 - 2, x0 + TILE + 1, y0 + TILE + 1], outline=(20, 20, 20), width=2)
            row_tiles.append((tile, lines))
        tiles.append(row_tiles)
    return sheet, tiles


def write_html(path: Path, tiles: list[list[tuple[Any, list[str]]]], spec: PipelineSpec, title: str) -> None:
    """The same tiles with full captions, plus the spec as YAML, in one self-contained page."""

    def data_uri(img: Any) -> str:
        buf = io.BytesIO()
        img.save(buf, format="PNG")
        return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")

    cells = []
    for row in tiles:
        tds = "".join(
            f'<td><img src="{data_uri(t)}" width="{TILE}"><pre>{html.escape(chr(10).join(lines))}</pre></td>'
            for t, lines in row
        )
        cells.append(f"<tr>{tds}</tr>")
    page = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        "<style>body{font-family:sans-serif} td{vertical-align:top} pre{font-size:11px;white-space:pre-wrap;max-width:"
        f"{TILE}px}}</style></head><body><h1>{html.escape(title)}</h1><table>{''.join(cells)}</table>"
        f"<h2>Pipeline spec</h2><pre>{html.escape(spec.dumps('yaml'))}</pre></body></html>"
    )
    atomic_write_text(path, page)


def make_preview(
    dataset: Dataset,
    output: str | Path,
    spec: str | Path | dict | list | PipelineSpec = "imagenet",
    n: int = 4,
    k: int = 4,
    classes: list[str] | None = None,
    rare: bool = False,
    seed: int = 0,
    device: str = "auto",
    html_path: str | Path | None = None,
) -> PreviewResult:
    """Write a contact sheet PNG of ``n`` images x (original + ``k`` variants); returns timing and counts."""
    from cvkit.augment.backends import BACKEND_NAMES, sample_augmenter

    if n < 1 or k < 1:
        raise CvkitError("--n and --k must be at least 1")
    parsed = load_spec(spec)
    samples = dataset.samples
    if not samples:
        raise CvkitError("the dataset has no images")
    chosen = pick_samples(samples, n, classes, rare, seed)
    augmenter, used = sample_augmenter(parsed, device, seed)
    labels = dataset.categories.names() or sorted({label for s in samples for label in sample_labels(s)})
    rows = []
    seconds, lost = 0.0, 0
    for sample in chosen:
        image = load_rgb(sample.resolve(dataset.root))
        start = time.perf_counter()
        results = augmenter.augment_many(image, sample, k)
        seconds += time.perf_counter() - start
        lost += sum(r.boxes_lost for r in results)
        rows.append((sample, image, results))
    title = (
        f"cvkit augment preview: spec {parsed.name or 'custom'}, seed {seed}, back-end {BACKEND_NAMES.get(used, used)}"
    )
    sheet, tiles = render_sheet(rows, labels, title)
    output = Path(output)
    buf = io.BytesIO()
    sheet.save(buf, format="PNG")
    atomic_write_bytes(output, buf.getvalue())
    html_out = Path(html_path) if html_path else None
    if html_out is not None:
        write_html(html_out, tiles, parsed, title)
    return PreviewResult(
        output, len(rows), 1 + k, used, seconds, len(rows) * k, lost, html_out, list(getattr(augmenter, "notes", []))
    )
