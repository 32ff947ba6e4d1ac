"""What the FiftyOne package's modules share: the export's file names and its JSON reading."""

from __future__ import annotations

from pathlib import Path

from cvkit.core import jsonio
from cvkit.errors import InvalidInputError
from cvkit.io import read_regular_bytes

LABELS_FILE, SAMPLES_FILE, METADATA_FILE = "labels.json", "samples.json", "metadata.json"


def load_json(file: Path) -> object:
    """A whole JSON file; malformed JSON is an error naming the file and line/column."""
    data = read_regular_bytes(file)
    try:
        return jsonio.loads(data)
    except jsonio.JSONDecodeError as exc:
        raise InvalidInputError(
            f"malformed JSON: {exc}", file=file, location=jsonio.error_location(exc, data)
        ) from None
