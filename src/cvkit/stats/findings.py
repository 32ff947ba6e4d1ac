"""What ``cvkit validate`` finds: the checks, one finding, and the result the report and the fixer read.

Kept apart from :mod:`cvkit.stats.validate` (which finds them) and :mod:`cvkit.stats.fix` (which repairs them), so
that both depend on it and not on each other.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from cvkit.core import validate_values
from cvkit.errors import InvalidInputError

ERROR, WARNING = "error", "warning"

#: check name -> (severity, what it means). Order is the order reports list them in.
CHECKS: dict[str, tuple[str, str]] = {
    "invalid_record": (ERROR, "a record the reader could not parse"),
    "missing_image": (ERROR, "the image file does not exist"),
    "unreadable_image": (ERROR, "the image header (or, with --deep, its pixels) cannot be decoded"),
    "size_mismatch": (ERROR, "declared width/height differ from the image's real (displayed) size"),
    "box_not_finite": (ERROR, "a box coordinate is NaN or infinite"),
    "box_empty": (ERROR, "a box with zero or negative width or height"),
    "box_out_of_bounds": (ERROR, "a box reaches outside the image"),
    "polygon_too_few_points": (ERROR, "a polygon part with fewer than 3 points (or an odd number of coordinates)"),
    "invalid_value": (
        ERROR,
        "a value no tool reads right: an image size that is no positive whole number; a mask "
        "whose runs do not cover its size or whose size is not the image's; keypoints not in "
        "(x, y, v) triplets; a NaN or infinite polygon, point or score",
    ),
    "duplicate_annotation_id": (ERROR, "two annotations of one split share an id (COCO numbers each file on its own)"),
    "unknown_category": (ERROR, "an object or image label names a category the dataset does not define"),
    "split_leakage": (ERROR, "the same image (same file or identical content) is in more than one split"),
    "exif_rotated": (WARNING, "the image has an EXIF orientation other than 1 (tools disagree on such images)"),
    "image_without_annotations": (WARNING, "an image with neither objects nor image-level labels"),
    "duplicate_image": (WARNING, "identical image content (or the same file) listed more than once in one split"),
}
#: boxes may touch the border exactly; beyond this many pixels they are out of bounds
BOUNDS_TOLERANCE = 1e-6


@dataclass(slots=True)
class Finding:
    check: str
    image: str | None
    message: str
    location: str | None = None
    #: every image of a group the finding is about (duplicates, split leakage); ``image`` is the first of them
    images: tuple[str, ...] = ()

    @property
    def severity(self) -> str:
        return CHECKS[self.check][0]

    def to_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "severity": self.severity,
            "image": self.image,
            "location": self.location,
            "message": self.message,
        }


@dataclass
class ValidationResult:
    """Counts per check, the first ``examples`` findings of each, and what was checked."""

    images: int = 0
    objects: int = 0
    images_checked: bool = True
    deep: bool = False
    examples: int = 5
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CHECKS, 0))
    findings: dict[str, list[Finding]] = field(default_factory=lambda: defaultdict(list))
    #: image index -> facts the fixer needs (real size; broken image)
    image_facts: dict[int, dict[str, Any]] = field(default_factory=dict)
    fix: dict[str, Any] | None = None

    def add(
        self, check: str, image: str | None, message: str, location: str | None = None, images: tuple[str, ...] = ()
    ) -> None:
        self.counts[check] += 1
        if len(self.findings[check]) < self.examples:
            self.findings[check].append(Finding(check, image, message, location, images))

    @property
    def errors(self) -> int:
        return sum(n for check, n in self.counts.items() if CHECKS[check][0] == ERROR)

    @property
    def warnings(self) -> int:
        return sum(n for check, n in self.counts.items() if CHECKS[check][0] == WARNING)

    @property
    def ok(self) -> bool:
        return self.errors == 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": "cvkit.validation",
            "version": 1,
            "ok": self.ok,
            "errors": self.errors,
            "warnings": self.warnings,
            "images": self.images,
            "objects": self.objects,
            "images_checked": self.images_checked,
            "deep": self.deep,
            "checks": {
                check: {
                    "severity": CHECKS[check][0],
                    "count": self.counts[check],
                    "description": CHECKS[check][1],
                    "examples": [f.to_dict() for f in self.findings.get(check, [])],
                }
                for check in CHECKS
            },
            "fix": self.fix,
        }


def value_problem(obj: Any, width: int | None, height: int | None) -> str | None:
    """Why an object's polygon, mask, keypoints, points or score cannot be right (the rules every reader applies,
    :mod:`cvkit.core.validate_values`), or None. Boxes and short polygons have checks of their own."""
    try:
        if obj.polygon is not None:
            for part in obj.polygon:
                if len(part) >= 6 and len(part) % 2 == 0:
                    validate_values.finite_list(part, "polygon", None, None)
        if obj.rle is not None:
            validate_values.rle(obj.rle, None, None, height, width)
        if obj.keypoints is not None:
            validate_values.keypoints(obj.keypoints, None, None)
        if obj.points is not None:
            validate_values.flat_points(obj.points, "points", None, None)
        validate_values.score(obj.score, None, None)
    except InvalidInputError as exc:
        return exc.message
    return None
