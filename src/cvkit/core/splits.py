"""Split names the readers share: which folder and file names are splits, and the name that means "no split"."""

from __future__ import annotations

import os
from pathlib import Path

#: Split folder and file names, Hugging Face datasets' ``SPLIT_KEYWORDS`` (``data_files.py``), which also cover
#: timm's and Kaggle's; each with its place when split folders are listed: 0 train, 1 validation, 2 test.
SPLIT_KEYWORDS: dict[str, int] = {
    "train": 0,
    "training": 0,
    "val": 1,
    "valid": 1,
    "validation": 1,
    "dev": 1,
    "eval": 1,
    "evaluation": 1,
    "test": 2,
    "testing": 2,
}
#: The place of test splits in :data:`SPLIT_KEYWORDS` (their images are unlabelled in most public datasets).
TEST_PLACE = 2
#: The subset datumaro and CVAT give items without one (``DEFAULT_SUBSET_NAME``): read as no split, and the
#: file or folder name cvkit writes samples without a split under (``default.txt``, ``instances_default.json``).
NO_SPLIT = "default"


def split_keyword(name: str) -> str | None:
    """``name`` lower-cased when it names a split (:data:`SPLIT_KEYWORDS`), else None."""
    lowered = name.lower()
    return lowered if lowered in SPLIT_KEYWORDS else None


def split_folders(path: Path) -> list[str]:
    """Names of the split sub-folders of ``path`` (:data:`SPLIT_KEYWORDS`, any case), train first, then
    validation, then test (one ``scandir``, no ``stat`` per entry)."""
    try:
        with os.scandir(path) as it:
            names = [e.name for e in it if e.name.lower() in SPLIT_KEYWORDS and e.is_dir()]
    except (FileNotFoundError, NotADirectoryError):
        return []
    return sorted(names, key=lambda n: (SPLIT_KEYWORDS[n.lower()], n))
