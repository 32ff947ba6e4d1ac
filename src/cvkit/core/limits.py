"""The bounds cvkit puts on what an input can make it allocate, one per resource, each with a way to raise it.

A 2.6 MB PNG can declare 30000x30000 pixels (a 2.7 GB decode), a 1 KB YAML file can expand to gigabytes through
aliases, an augment spec or a checkpoint can ask for 200000x200000 images. Such inputs are refused before
anything is allocated, with an error that names the file, the limit and how to raise it (docs/safety.md):

- :func:`max_pixels`: pixels of one image any decoder may decode (``CVKIT_MAX_PIXELS``);
- :data:`MAX_IMAGE_SIDE`: the side of an image a transform or a model may be asked to produce (``CVKIT_MAX_SIDE``);
- :data:`MAX_YAML_ALIASES`: aliases a YAML file may use (``CVKIT_MAX_YAML_ALIASES``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from cvkit.core.imageinfo import read_image_info
from cvkit.errors import CvkitError, InvalidInputError
from cvkit.io import require_regular

#: default pixel limit: Pillow's own refusal threshold (2 x its ``MAX_IMAGE_PIXELS``), about 13400 x 13400
DEFAULT_MAX_PIXELS = 178_956_970
#: default bound on a requested image side (Resize, crop sizes, a model's ``image_size``)
DEFAULT_MAX_SIDE = 16_384
#: default bound on aliases in one YAML file (real data.yaml and spec files use none or a handful)
DEFAULT_MAX_YAML_ALIASES = 100


def _from_env(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    try:
        number = int(value.replace("_", ""))
    except ValueError:
        raise CvkitError(f"{name} must be a whole number, got {value!r}") from None
    if number <= 0:
        raise CvkitError(f"{name} must be positive, got {number}")
    return number


def max_pixels() -> int:
    """Pixels (width x height) of one image any decoder may decode: ``$CVKIT_MAX_PIXELS``, else
    :data:`DEFAULT_MAX_PIXELS`."""
    return _from_env("CVKIT_MAX_PIXELS", DEFAULT_MAX_PIXELS)


def max_side() -> int:
    """The longest image side a spec or a checkpoint may ask for: ``$CVKIT_MAX_SIDE``, else :data:`DEFAULT_MAX_SIDE`."""
    return _from_env("CVKIT_MAX_SIDE", DEFAULT_MAX_SIDE)


def max_yaml_aliases() -> int:
    """Aliases one YAML file may use: ``$CVKIT_MAX_YAML_ALIASES``, else :data:`DEFAULT_MAX_YAML_ALIASES`."""
    return _from_env("CVKIT_MAX_YAML_ALIASES", DEFAULT_MAX_YAML_ALIASES)


def check_pixels(width: int, height: int, file: str | Path | None) -> None:
    """Refuse an image of ``width`` x ``height`` over :func:`max_pixels`, before it is decoded."""
    limit = max_pixels()
    if width * height > limit:
        raise InvalidInputError(
            f"image of {width}x{height} = {width * height:,} pixels is over the limit of {limit:,} pixels "
            "(a decompression bomb?); set CVKIT_MAX_PIXELS to raise it",
            file=file,
        )


def check_image_file(path: str | Path) -> None:
    """Refuse the image file ``path`` (a regular file only) if its header declares more than :func:`max_pixels`."""
    info = read_image_info(path)
    check_pixels(info.stored_width, info.stored_height, path)


def _opened(source: str | Path | Any) -> Any:
    """Pillow's lazy ``Image.open`` (the header alone is read), its own bomb check off here: :func:`check_pixels`
    decides, with the size and the way to raise the limit in the message."""
    from PIL import Image

    previous = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None
    try:
        return Image.open(source)
    finally:
        Image.MAX_IMAGE_PIXELS = previous


def open_image(source: str | Path | Any, file: str | Path | None = None) -> Any:
    """``PIL.Image.open(source)`` (a path or a binary file object), refused with :class:`InvalidInputError` naming
    ``file`` (default: ``source``) when it declares more than :func:`max_pixels`: only the header is read. Pillow's
    own check is set to the same limit for every other ``Image.open``."""
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = max_pixels()
    name = file if file is not None else source if isinstance(source, (str, Path)) else None
    if isinstance(source, (str, Path)):
        require_regular(source)  # a FIFO named x.png would block the open
    image = _opened(source)
    try:
        check_pixels(image.width, image.height, name)
    except InvalidInputError:
        image.close()
        raise
    return image


def check_side(size: int | float, what: str, file: str | Path | None = None, location: str | None = None) -> None:
    """Refuse a requested image side (``what``: "Resize size", "image_size") over :func:`max_side`."""
    limit = max_side()
    if size > limit:
        raise InvalidInputError(
            f"{what} {size} is over the limit of {limit} pixels a side; set CVKIT_MAX_SIDE to raise it",
            file=file,
            location=location,
        )


def load_yaml(text: str, file: str | Path | None) -> Any:
    """YAML as plain data (no tags: PyYAML's safe loader), refusing a file that uses more than
    :func:`max_yaml_aliases` aliases: a few lines of nested aliases (a "billion laughs") expand to gigabytes as
    soon as anything walks them. Malformed YAML is an :class:`InvalidInputError` naming the file and line."""
    import yaml

    limit = max_yaml_aliases()

    class BoundedLoader(yaml.SafeLoader):
        aliases = 0

        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.AliasEvent):
                self.aliases += 1
                if self.aliases > limit:
                    mark = self.peek_event().start_mark
                    raise InvalidInputError(
                        f"more than {limit} YAML aliases (an alias bomb?); set CVKIT_MAX_YAML_ALIASES to raise it",
                        file=file,
                        location=f"line {mark.line + 1}",
                    )
            return super().compose_node(parent, index)

    loader = BoundedLoader(text)
    try:
        return loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        raise InvalidInputError(
            f"not valid YAML ({exc.problem})", file=file, location=f"line {mark.line + 1}" if mark else None
        ) from None
    except yaml.YAMLError as exc:
        raise InvalidInputError(f"not valid YAML ({exc.__class__.__name__})", file=file) from None
    finally:
        loader.dispose()
