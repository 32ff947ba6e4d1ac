"""Image size and EXIF orientation from the file header, never by decoding pixels.

JPEG and PNG headers are parsed here directly (faster than Pillow: docs/benchmarks.md); other
formats go through Pillow's lazy ``Image.open``, which also reads only the header.
Sizes are reported for the *displayed* image: EXIF orientations 5-8 swap width and
height, because annotation tools show and label the rotated image.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cvkit.errors import InvalidInputError
from cvkit.io import open_regular

if TYPE_CHECKING:
    from cvkit.core.model import Sample
    from cvkit.core.report import Report

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")


@dataclass(slots=True, frozen=True)
class ImageInfo:
    """Stored size, EXIF orientation (1 when absent) and channel count (None if unknown)."""

    stored_width: int
    stored_height: int
    orientation: int = 1
    channels: int | None = None

    @property
    def width(self) -> int:
        """Width of the image as displayed (after EXIF rotation)."""
        return self.stored_height if self.orientation in (5, 6, 7, 8) else self.stored_width

    @property
    def height(self) -> int:
        return self.stored_width if self.orientation in (5, 6, 7, 8) else self.stored_height


def _exif_orientation(data: bytes) -> int:
    """Orientation tag (0x0112) from a TIFF-structured EXIF block, 1 when absent."""
    if len(data) < 8:
        return 1
    endian = "<" if data[:2] == b"II" else ">"
    (ifd,) = struct.unpack_from(endian + "I", data, 4)
    if ifd + 2 > len(data):
        return 1
    (count,) = struct.unpack_from(endian + "H", data, ifd)
    for i in range(count):
        entry = ifd + 2 + 12 * i
        if entry + 12 > len(data):
            break
        tag, _typ, _n = struct.unpack_from(endian + "HHI", data, entry)
        if tag == 0x0112:
            (value,) = struct.unpack_from(endian + "H", data, entry + 8)
            return value if 1 <= value <= 8 else 1
    return 1


def _jpeg_info(handle, path: Path) -> ImageInfo:
    orientation = 1
    handle.seek(2)
    while True:
        marker = handle.read(2)
        if len(marker) < 2 or marker[0] != 0xFF:
            raise InvalidInputError("truncated or corrupt JPEG header", file=path)
        code = marker[1]
        if code in (0xD8, 0x01) or 0xD0 <= code <= 0xD7:
            continue
        if code == 0xFF:
            handle.seek(-1, 1)
            continue
        (length,) = struct.unpack(">H", handle.read(2))
        if code == 0xE1:
            block = handle.read(length - 2)
            if block.startswith(b"Exif\x00\x00"):
                orientation = _exif_orientation(block[6:])
            continue
        if code in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF):
            _precision, height, width, channels = struct.unpack(">BHHB", handle.read(6))
            return ImageInfo(width, height, orientation, channels)
        handle.seek(length - 2, 1)


def read_image_info(path: str | Path) -> ImageInfo:
    """Header facts of an image file; raises :class:`InvalidInputError` naming the file."""
    path = Path(path)
    try:
        with open_regular(path) as handle:
            head = handle.read(32)
            if head[:2] == b"\xff\xd8":
                return _jpeg_info(handle, path)
            if head[:8] == b"\x89PNG\r\n\x1a\n":
                width, height, _depth, color = struct.unpack(">IIBB", head[16:26])
                channels = {0: 1, 2: 3, 3: 3, 4: 2, 6: 4}.get(color)
                return ImageInfo(width, height, 1, channels)
    except FileNotFoundError:
        raise InvalidInputError("image file not found", file=path) from None
    except OSError as exc:  # a folder named like the image, no permission: no traceback for a bad path
        raise InvalidInputError(
            f"cannot read the image file ({exc.strerror or exc.__class__.__name__})", file=path
        ) from None
    except struct.error:
        raise InvalidInputError("truncated image header", file=path) from None
    try:
        from PIL import Image

        with Image.open(path) as img:
            orientation = int(img.getexif().get(0x0112, 1) or 1)
            return ImageInfo(img.width, img.height, orientation, len(img.getbands()))
    except Exception as exc:  # Pillow raises many types for unreadable files
        raise InvalidInputError(f"not a readable image ({exc.__class__.__name__})", file=path) from None


def header_size(path: str | Path) -> tuple[int, int] | None:
    """Displayed ``(width, height)`` from the image header, None when the file cannot be read."""
    try:
        info = read_image_info(path)
    except InvalidInputError:
        return None
    return info.width, info.height


def known_size(sample: Sample, root: Path | None) -> tuple[int, int] | None:
    """The sample's ``(width, height)``, else its image header's (the image resolved against ``root`` only then:
    writers call this per sample), else None (writers never write a 0 size)."""
    return (sample.width, sample.height) if sample.width and sample.height else header_size(sample.resolve(root))


def fill_size_from_header(sample: Sample, image: str | Path, report: Report, warning: str) -> None:
    """A sample's missing size read from its image header (never decoding the image); ``warning`` (said once)
    when the image cannot be read and the size stays unknown."""
    size = header_size(image)
    if size is None:
        report.warn(warning)
        return
    sample.width, sample.height = size


def find_image(directory: Path, stem: str) -> Path | None:
    """The image file called ``stem`` + a known extension in ``directory`` (any case)."""
    for ext in IMAGE_EXTENSIONS:
        for candidate in (directory / (stem + ext), directory / (stem + ext.upper())):
            if candidate.is_file():
                return candidate
    return None
