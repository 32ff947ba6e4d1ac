"""``--apply``: materialise augmented copies (images + updated annotations + a new manifest).

Two modes, both writing ``out/manifest.jsonl`` and ``out/images/`` atomically (the folder
appears only when complete):

- ``copies=K``: K augmented copies of every image;
- ``oversample_target=N``: copies of images holding a class until every class is in at
  least N images (rarest first; a copy counts for every class it still holds after
  augmentation) — oversampling, one of the standard answers to class imbalance.

The new manifest lists the original images (referenced where they are, paths relative to
the output folder) followed by the copies; copies carry ``attributes["augmented_from"]``.
"""

from __future__ import annotations

import io
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cvkit.augment.preview import load_rgb, sample_labels
from cvkit.augment.spec import PipelineSpec, load_spec
from cvkit.core.model import Dataset, Sample
from cvkit.core.paths import check_not_over
from cvkit.core.progress import track
from cvkit.errors import CvkitError
from cvkit.io import RealPaths, atomic_dir
from cvkit.manifest import write_manifest

MANIFEST_NAME = "manifest.jsonl"
#: draws per oversampling copy before accepting one that lost the class it was made for
OVERSAMPLE_TRIES = 5


@dataclass
class ApplyResult:
    """What ``--apply`` wrote: counts per class before and after, boxes lost, the device used."""

    output: Path
    originals: int
    copies: int
    boxes_lost: int
    device: str
    before: dict[str, int] = field(default_factory=dict)
    after: dict[str, int] = field(default_factory=dict)
    short: dict[str, int] = field(default_factory=dict)  # classes that could not reach the target: how many images they have
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"output": str(self.output), "manifest": str(self.output / MANIFEST_NAME), "originals": self.originals, "copies": self.copies,
                "boxes_lost": self.boxes_lost, "device": self.device, "images_per_class_before": self.before,
                "images_per_class_after": self.after, "below_target": self.short, "notes": self.notes}


def class_counts(samples: list[Sample]) -> Counter[str]:
    """Images per class (a class counts once per image, objects or image labels)."""
    return Counter(label for s in samples for label in sample_labels(s))


def _save(image: np.ndarray, path: Path) -> None:
    from PIL import Image

    buf = io.BytesIO()
    if path.suffix.lower() in (".jpg", ".jpeg"):
        Image.fromarray(image).save(buf, format="JPEG", quality=95)
    else:
        Image.fromarray(image).save(buf, format="PNG")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buf.getvalue())


def plan_oversampling(samples: list[Sample], target: int) -> list[tuple[int, str]]:
    """Rarest classes first: (sample index, class) pairs to copy, cycling over each class's images."""
    counts = class_counts(samples)
    plan: list[tuple[int, str]] = []
    for label, have in sorted(counts.items(), key=lambda kv: (kv[1], kv[0])):
        holders = [i for i, s in enumerate(samples) if label in sample_labels(s)]
        plan += [(holders[j % len(holders)], label) for j in range(max(0, target - have))]
    return plan


def apply_augmentations(dataset: Dataset, output: str | Path, spec: str | Path | dict | list | PipelineSpec = "light", copies: int = 1,
                        oversample_target: int | None = None, seed: int = 0, device: str = "cpu", overwrite: bool = False) -> ApplyResult:
    """Write augmented copies and a manifest listing originals + copies into ``output``."""
    from cvkit.augment.backends import sample_augmenter

    output = Path(output)
    check_not_over(output, dataset.root)
    parsed = load_spec(spec)
    samples = dataset.samples
    if not samples:
        raise CvkitError("the dataset has no images")
    if oversample_target is None and copies < 1:
        raise CvkitError("--copies must be at least 1")
    if oversample_target is not None and oversample_target < 1:
        raise CvkitError("--target must be at least 1")
    augmenter, used = sample_augmenter(parsed, device, seed)
    before = class_counts(samples)
    counts = Counter(before)
    real_paths = RealPaths()
    originals = [_reference(s, dataset.root, output, real_paths) for s in samples]
    made: list[Sample] = []
    lost = 0
    with atomic_dir(output, overwrite=overwrite) as tmp:
        jobs: list[tuple[int, str | None]] = list(plan_oversampling(samples, oversample_target)) if oversample_target is not None \
            else [(i, None) for i in range(len(samples)) for _ in range(copies)]
        for number, (index, label) in enumerate(track(jobs, "augmenting", total=len(jobs))):
            if label is not None and counts[label] >= oversample_target:
                continue  # earlier copies of other classes already lifted this one
            source = samples[index]
            image = load_rgb(source.resolve(dataset.root))
            for _attempt in range(OVERSAMPLE_TRIES):
                result = augmenter.augment_many(image, source, 1)[0]
                lost += result.boxes_lost
                if label is None or label in sample_labels(result.sample):
                    break  # an oversampling copy must still hold the class it is for
            suffix = Path(source.path).suffix.lower() if Path(source.path).suffix.lower() in (".jpg", ".jpeg", ".png") else ".png"
            rel = f"images/{Path(source.path).stem}_aug{number:06d}{suffix}"
            _save(result.image, tmp / rel)
            copy = result.sample
            copy.path = rel
            copy.id = f"{source.id if source.id is not None else Path(source.path).stem}_aug{number}"
            copy.attributes = {**copy.attributes, "augmented_from": originals[index].path}
            made.append(copy)
            counts.update(sample_labels(copy))
        out = Dataset(originals + made, dataset.categories, dataset.hierarchy, root=None, source_format=dataset.source_format,
                      info={**dataset.info, "augment": {"spec": parsed.to_dict(), "seed": seed, "device": used}})
        write_manifest(out, tmp / MANIFEST_NAME)
    short = {c: n for c, n in counts.items() if oversample_target is not None and n < oversample_target}
    return ApplyResult(output, len(originals), len(made), lost, used, dict(before), dict(counts), short, list(getattr(augmenter, "notes", [])))


def _reference(sample: Sample, root: Path | None, final_dir: Path, real_paths: RealPaths) -> Sample:
    """The original sample with its image path made relative to the output folder."""
    from dataclasses import replace

    absolute = sample.resolve(root)
    path = real_paths.relative(absolute, final_dir)
    return replace(sample, path=path)
