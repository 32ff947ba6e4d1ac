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
from typing import Any, NamedTuple

import numpy as np

from cvkit.augment.preview import load_rgb, sample_labels
from cvkit.augment.spec import PipelineSpec, load_spec
from cvkit.core.executor import InProcess, chosen, default_workers
from cvkit.core.model import Dataset, Sample
from cvkit.core.paths import check_not_over
from cvkit.core.progress import progress_bar
from cvkit.core.shards import choose_executor
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
    short: dict[str, int] = field(
        default_factory=dict
    )  # classes that could not reach the target: how many images they have
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "output": str(self.output),
            "manifest": str(self.output / MANIFEST_NAME),
            "originals": self.originals,
            "copies": self.copies,
            "boxes_lost": self.boxes_lost,
            "device": self.device,
            "images_per_class_before": self.before,
            "images_per_class_after": self.after,
            "below_target": self.short,
            "notes": self.notes,
        }


def class_counts(samples: list[Sample]) -> Counter[str]:
    """Images per class (a class counts once per image, objects or image labels)."""
    return Counter(label for s in samples for label in sample_labels(s))


def _encoded(image: np.ndarray, suffix: str) -> bytes:
    """The copy's file: JPEG q95 for a JPEG source, else PNG."""
    from PIL import Image

    buf = io.BytesIO()
    if suffix in (".jpg", ".jpeg"):
        Image.fromarray(image).save(buf, format="JPEG", quality=95)
    else:
        Image.fromarray(image).save(buf, format="PNG")
    return buf.getvalue()


def plan_oversampling(samples: list[Sample], target: int) -> list[tuple[int, str]]:
    """Rarest classes first: (sample index, class) pairs to copy, cycling over each class's images."""
    counts = class_counts(samples)
    plan: list[tuple[int, str]] = []
    for label, have in sorted(counts.items(), key=lambda kv: (kv[1], kv[0])):
        holders = [i for i, s in enumerate(samples) if label in sample_labels(s)]
        plan += [(holders[j % len(holders)], label) for j in range(max(0, target - have))]
    return plan


def copy_seed(seed: int, index: int, copy: int) -> int:
    """The seed of copy ``copy`` of sample ``index``: its own stream, whatever engine, worker or order makes it."""
    return int(np.random.SeedSequence([seed % 2**64, index, copy]).generate_state(1)[0])  # a negative --seed too


@dataclass(frozen=True, slots=True)
class _Job:
    """What every copy task needs (sent once per worker): the pipeline, the back-end, the samples and their root."""

    spec: PipelineSpec
    device: str
    seed: int
    samples: list[Sample]
    root: str | None


class _Made(NamedTuple):
    """One augmented copy, encoded: the file's bytes, its sample (targets moved) and the boxes its draws lost."""

    data: bytes
    sample: Sample
    lost: int


#: (job number, sample index, copy index of that sample, class an oversampling copy is for)
Copy = tuple[int, int, int, str | None]
#: the augmenter of each (spec, device) a worker has built (built once a worker, re-seeded per copy)
_augmenters: dict[tuple[str, str], Any] = {}


def _augmenter(job: _Job) -> Any:
    from cvkit.augment.backends import sample_augmenter

    key = (repr(job.spec.to_dict()), job.device)
    if key not in _augmenters:
        _augmenters.clear()
        _augmenters[key] = sample_augmenter(job.spec, job.device)[0]
    return _augmenters[key]


def _reseed(augmenter: Any, seed: int) -> None:
    """Start ``augmenter``'s random streams over from ``seed`` (albumentations' own, or torch's on a GPU)."""
    compose = getattr(augmenter, "compose", None)
    if compose is not None:
        compose.set_random_seed(seed)
        return
    import torch

    torch.manual_seed(seed)
    for number, stage in enumerate(augmenter.gpu.stages):  # steps without a GPU kernel run through albumentations
        if stage.cpu is not None:
            stage.cpu.set_random_seed((seed + number) % 2**32)


def make_copies(job: _Job, copies: list[Copy]) -> list[_Made]:
    """Worker side: the copies of one run, each drawn from its own seed (:func:`copy_seed`)."""
    augmenter = _augmenter(job)
    made: list[_Made] = []
    loaded: tuple[int, np.ndarray] | None = None
    for _number, index, copy, label in copies:
        source = job.samples[index]
        if loaded is None or loaded[0] != index:
            loaded = (index, load_rgb(source.resolve(job.root)))
        _reseed(augmenter, copy_seed(job.seed, index, copy))
        lost = 0
        for _attempt in range(OVERSAMPLE_TRIES):
            result = augmenter.augment_many(loaded[1], source, 1)[0]
            lost += result.boxes_lost
            if label is None or label in sample_labels(result.sample):
                break  # an oversampling copy must still hold the class it is for
        made.append(_Made(_encoded(result.image, _suffix(source)), result.sample, lost))
    return made


def _suffix(source: Sample) -> str:
    suffix = Path(source.path).suffix.lower()
    return suffix if suffix in (".jpg", ".jpeg", ".png") else ".png"


def plan_copies(samples: list[Sample], copies: int, oversample_target: int | None) -> list[Copy]:
    """Every copy the run may make, in order; an oversampling copy is made only while its class is short."""
    if oversample_target is None:
        return [(i * copies + c, i, c, None) for i in range(len(samples)) for c in range(copies)]
    made: Counter[int] = Counter()
    plan: list[Copy] = []
    for number, (index, label) in enumerate(plan_oversampling(samples, oversample_target)):
        plan.append((number, index, made[index], label))
        made[index] += 1
    return plan


#: copies per executor task, and tasks per worker in one wave (oversampling decides between waves what is still
#: short, so little is made in vain)
COPIES_PER_TASK = 16
TASKS_PER_WORKER = 4
#: below this many copies they are made in this process (starting workers costs more than it saves)
PARALLEL_MIN_COPIES = 64


def apply_augmentations(
    dataset: Dataset,
    output: str | Path,
    spec: str | Path | dict | list | PipelineSpec = "light",
    copies: int = 1,
    oversample_target: int | None = None,
    seed: int = 0,
    device: str = "cpu",
    overwrite: bool = False,
) -> ApplyResult:
    """Write augmented copies and a manifest listing originals + copies into ``output``.

    Copies are made on the executor (``--engine``; local processes for many copies; a GPU back-end in this
    process), each from its own seed (:func:`copy_seed`), and written here in order: the output is the same on
    every engine."""
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
    plan = plan_copies(samples, copies, oversample_target)
    _augmenters.clear()
    _augmenters[(repr(parsed.to_dict()), used)] = augmenter  # this process's (and forked workers') copy
    if used == "cpu":
        executor = choose_executor(default_workers(None) if len(plan) >= PARALLEL_MIN_COPIES else 1)
    else:  # one GPU, this process
        executor = InProcess()
    job = _Job(parsed, used, seed, samples, str(dataset.root) if dataset.root is not None else None)
    wave = COPIES_PER_TASK * TASKS_PER_WORKER * executor.workers
    try:
        with atomic_dir(output, overwrite=overwrite) as tmp, progress_bar("augmenting", len(plan)) as advance:
            for start in range(0, len(plan), wave):
                todo = [c for c in plan[start : start + wave] if c[3] is None or counts[c[3]] < oversample_target]
                tasks = [todo[i : i + COPIES_PER_TASK] for i in range(0, len(todo), COPIES_PER_TASK)]
                results = executor.map(make_copies, job, tasks, on_done=lambda _i, run: advance(len(run)))
                for task, run in zip(tasks, results):
                    for (number, index, _copy, label), copy in zip(task, run):
                        if label is not None and counts[label] >= oversample_target:
                            continue  # earlier copies of other classes already lifted this one
                        lost += copy.lost
                        source = samples[index]
                        rel = f"images/{Path(source.path).stem}_aug{number:06d}{_suffix(source)}"
                        (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
                        (tmp / rel).write_bytes(copy.data)
                        sample = copy.sample
                        sample.path = rel
                        sample.id = f"{source.id if source.id is not None else Path(source.path).stem}_aug{number}"
                        sample.attributes = {**sample.attributes, "augmented_from": originals[index].path}
                        made.append(sample)
                        counts.update(sample_labels(sample))
            out = Dataset(
                originals + made,
                dataset.categories,
                dataset.hierarchy,
                root=None,
                source_format=dataset.source_format,
                info={**dataset.info, "augment": {"spec": parsed.to_dict(), "seed": seed, "device": used}},
            )
            write_manifest(out, tmp / MANIFEST_NAME)
    finally:
        _augmenters.clear()  # a GPU back-end's memory goes back
        if executor is not chosen():
            executor.close()
    short = {c: n for c, n in counts.items() if oversample_target is not None and n < oversample_target}
    return ApplyResult(
        output,
        len(originals),
        len(made),
        lost,
        used,
        dict(before),
        dict(counts),
        short,
        list(getattr(augmenter, "notes", [])),
    )


def _reference(sample: Sample, root: Path | None, final_dir: Path, real_paths: RealPaths) -> Sample:
    """The original sample with its image path made relative to the output folder."""
    from dataclasses import replace

    absolute = sample.resolve(root)
    path = real_paths.relative(absolute, final_dir)
    return replace(sample, path=path)
