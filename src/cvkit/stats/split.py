"""``cvkit split``: seeded, class-stratified train/val/test splits that keep groups together.

Stratification is iterative stratification (Sechidis, Tsoumakas & Vlahavas, ECML PKDD 2011),
which handles multi-label and detection data, where an image holds several classes:
labels are taken rarest first; each image (or group) holding the label goes to the split
that still wants most of that label, ties broken by the split that wants most images,
then at random. With ``group_by`` the unit is a group of images sharing an attribute
value (a video, a patient, a scene), so related images never straddle splits.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cvkit.api import read
from cvkit.core.model import Dataset, Sample
from cvkit.core.paths import check_apart
from cvkit.errors import CvkitError, DestinationExistsError
from cvkit.io import exclusive
from cvkit.manifest import check_manifest_name, write_manifest

DEFAULT_NAMES = {1: ["train"], 2: ["train", "val"], 3: ["train", "val", "test"]}


def parse_ratios(text: str | Sequence[float]) -> list[float]:
    """``"0.8,0.1,0.1"`` -> floats; each > 0, summing to 1."""
    try:
        ratios = [float(v) for v in (text.split(",") if isinstance(text, str) else text)]
    except ValueError:
        raise CvkitError(f"--ratios must be numbers separated by commas, e.g. 0.8,0.1,0.1 (got {text!r})") from None
    if not ratios or any(r <= 0 for r in ratios):
        raise CvkitError(f"every ratio must be > 0 (got {text!r})")
    if abs(sum(ratios) - 1.0) > 1e-6:
        raise CvkitError(f"--ratios must sum to 1 (got {sum(ratios):g})")
    return ratios


def split_names(names: str | Sequence[str] | None, count: int) -> list[str]:
    """Names for ``count`` splits: given (comma-separated) or train/val/test."""
    if names is None:
        if count not in DEFAULT_NAMES:
            raise CvkitError(f"give --names for {count} splits")
        return DEFAULT_NAMES[count]
    out = [n.strip() for n in names.split(",")] if isinstance(names, str) else list(names)
    if len(out) != count or len(set(out)) != count or not all(out):
        raise CvkitError(f"--names needs {count} distinct non-empty names, one per ratio (got {names!r})")
    return out


def iterative_stratification(
    group_labels: Sequence[dict[int, int]],
    group_sizes: Sequence[int],
    ratios: Sequence[float],
    num_labels: int,
    seed: int = 0,
) -> np.ndarray:
    """Split index per group (Sechidis et al. 2011).

    ``group_labels[g]`` maps label index -> how many images of group g hold it; ``group_sizes[g]``
    is its number of images. Deterministic for a given ``seed``.
    """
    rng = np.random.default_rng(seed)
    n_groups = len(group_sizes)
    ratio = np.asarray(ratios, dtype=np.float64)
    sizes = np.asarray(group_sizes, dtype=np.float64)
    label_totals = np.zeros(num_labels, dtype=np.float64)
    members: list[list[int]] = [[] for _ in range(num_labels)]
    for g, labels in enumerate(group_labels):
        for label, count in labels.items():
            label_totals[label] += count
            members[label].append(g)
    desired_images = ratio * sizes.sum()
    desired_labels = np.outer(ratio, label_totals)  # (k, L)
    remaining = label_totals.copy()
    assignment = np.full(n_groups, -1, dtype=np.int64)
    noise = rng.random(n_groups)  # random processing order of the groups holding a label

    def choose(scores: np.ndarray) -> int:
        best = np.flatnonzero(scores == scores.max())
        return int(best[0] if len(best) == 1 else rng.choice(best))

    while True:
        open_labels = np.flatnonzero(remaining > 0)
        if len(open_labels) == 0:
            break
        fewest = remaining[open_labels].min()
        ties = open_labels[remaining[open_labels] == fewest]
        label = int(ties[0] if len(ties) == 1 else rng.choice(ties))
        pending = [g for g in members[label] if assignment[g] < 0]
        pending.sort(key=lambda g: noise[g])
        for g in pending:
            wanted = desired_labels[:, label]
            best = np.flatnonzero(wanted == wanted.max())
            j = int(best[0]) if len(best) == 1 else int(best[choose(desired_images[best])])
            assignment[g] = j
            desired_images[j] -= sizes[g]
            for other, count in group_labels[g].items():
                desired_labels[j, other] -= count
                remaining[other] -= count
        remaining[label] = 0
    for g in rng.permutation(np.flatnonzero(assignment < 0)):
        j = choose(desired_images)
        assignment[g] = j
        desired_images[j] -= sizes[g]
    return assignment


def group_key(sample: Sample, index: int, attribute: str | None) -> Any:
    """The value images are grouped by: ``attributes[attribute]`` (its own group when absent)."""
    if attribute is None:
        return ("image", index)
    value = sample.attributes.get(attribute)
    if value is None:
        return ("image", index)
    return ("value", repr(value))


def assign_splits(
    samples: Sequence[Sample],
    class_names: Sequence[str],
    ratios: Sequence[float],
    seed: int = 0,
    group_by: str | None = None,
) -> tuple[np.ndarray, int]:
    """Split index per sample, and how many samples lacked the ``group_by`` attribute."""
    index = {name: i for i, name in enumerate(class_names)}
    groups: dict[Any, int] = {}
    sample_group = np.empty(len(samples), dtype=np.int64)
    group_labels: list[dict[int, int]] = []
    group_sizes: list[int] = []
    missing = 0
    for i, sample in enumerate(samples):
        if group_by is not None and sample.attributes.get(group_by) is None:
            missing += 1
        key = group_key(sample, i, group_by)
        g = groups.get(key)
        if g is None:
            g = groups[key] = len(group_sizes)
            group_labels.append({})
            group_sizes.append(0)
        sample_group[i] = g
        group_sizes[g] += 1
        labels = group_labels[g]
        for name in {o.label for o in sample.objects} | set(sample.labels):
            c = index.setdefault(name, len(index))
            labels[c] = labels.get(c, 0) + 1
    per_group = iterative_stratification(group_labels, group_sizes, ratios, len(index), seed)
    return per_group[sample_group], missing


def split_table(samples: Sequence[Sample], names: Sequence[str], class_names: Sequence[str]) -> dict[str, Any]:
    """Images per split, and per class images per split (what ``cvkit split`` prints)."""
    images = dict.fromkeys(names, 0)
    per_class: dict[str, dict[str, int]] = {c: dict.fromkeys(names, 0) for c in class_names}
    for sample in samples:
        images[sample.split] += 1  # type: ignore[index]
        for name in {o.label for o in sample.objects} | set(sample.labels):
            per_class.setdefault(name, dict.fromkeys(names, 0))[sample.split] += 1  # type: ignore[index]
    return {"images": images, "classes": per_class}


def split_dataset(
    path: str | Path,
    ratios: str | Sequence[float],
    output: str | Path,
    names: str | Sequence[str] | None = None,
    seed: int = 0,
    group_by: str | None = None,
    format: str | None = None,
    overwrite: bool = False,
    **read_options: Any,
) -> dict[str, Any]:
    """Read a dataset, assign every image a split, write the manifest ``output``; returns the summary."""
    ratio_list = parse_ratios(ratios)
    name_list = split_names(names, len(ratio_list))
    output = Path(output)
    check_manifest_name(output, "split manifest")
    check_apart(output, [path])
    if output.exists() and not overwrite:
        raise DestinationExistsError("destination exists; pass --overwrite to replace it", file=output)
    from cvkit.stats.sources import resolve_format

    dataset = read(path, resolve_format(path, format), **read_options).materialize()
    samples = dataset.samples
    class_names = dataset.categories.names()
    assignment, missing = assign_splits(samples, class_names, ratio_list, seed, group_by)
    from dataclasses import replace

    out_samples = [replace(s, split=name_list[j]) for s, j in zip(samples, assignment, strict=True)]
    out = Dataset(out_samples, dataset.categories, dataset.hierarchy, dataset.root, dataset.source_format, dataset.info)
    with exclusive(output, overwrite):
        write_manifest(out, output)
    table = split_table(out_samples, name_list, class_names)
    total = max(len(samples), 1)
    return {
        "output": str(output),
        "seed": seed,
        "group_by": group_by,
        "images_without_group": missing if group_by else None,
        "splits": [
            {"name": n, "ratio": r, "images": table["images"][n], "share": table["images"][n] / total}
            for n, r in zip(name_list, ratio_list, strict=True)
        ],
        "classes": table["classes"],
    }
