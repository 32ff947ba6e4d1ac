"""Split names the readers share: which folder and file names are splits, and the name that means "no split"."""

from __future__ import annotations

#: Split folder and file names, Hugging Face datasets' ``SPLIT_KEYWORDS`` (``data_files.py``), which also cover
#: timm's and Kaggle's; each with its place when split folders are listed: 0 train, 1 validation, 2 test.
SPLIT_KEYWORDS: dict[str, int] = {"train": 0, "training": 0, "val": 1, "valid": 1, "validation": 1, "dev": 1, "eval": 1,
                                  "evaluation": 1, "test": 2, "testing": 2}
#: The place of test splits in :data:`SPLIT_KEYWORDS` (their images are unlabelled in most public datasets).
TEST_PLACE = 2
#: The subset datumaro and CVAT give items without one (``DEFAULT_SUBSET_NAME``): read as no split, and the
#: file or folder name cvkit writes samples without a split under (``default.txt``, ``instances_default.json``).
NO_SPLIT = "default"
