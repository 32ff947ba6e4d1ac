"""From a manifest to batches: items, decoding, transforms, DataLoaders and the GPU decode path.

Items are read from the manifest streaming and kept as numpy arrays (:mod:`cvkit.train.items`; a
Parquet manifest's column-wise), each ``(path, target, box)`` made when asked for. Workers return **uint8** CHW tensors
(4x less to copy than float); the loop normalises on the device (:func:`to_device`). On CUDA, JPEG files may instead be
decoded in batches on the GPU with nvJPEG (:class:`GpuJpegBatches`).
"""

from __future__ import annotations

import io
import random
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch

from cvkit.core.geometry import Box
from cvkit.core.limits import check_image_file, open_image
from cvkit.errors import CvkitError, InvalidInputError
from cvkit.manifest import read_header, read_manifest
from cvkit.train import shards
from cvkit.train.config import MEAN, STD, TrainConfig
from cvkit.train.items import ItemArrays, parquet_single_label_items

#: ``(absolute image path, class index or tuple of class indices, crop box or None)``
Item = tuple[str, Any, Box | None]
#: Decoder preference, fastest first as measured on CPU (benchmarks/train_throughput.py; figures in
#: docs/benchmarks.md). torchvision is also the library of the nvJPEG path and a hard dependency of the train extra.
DECODER_ORDER = ("torchvision", "opencv", "pil")
# torchvision 0.29 deprecates its decoders in favour of TorchCodec; the notice would otherwise fire per image
warnings.filterwarnings(
    "ignore", message="The image decoding and encoding capabilities of TorchVision", category=DeprecationWarning
)


@dataclass
class ItemSet:
    """What one manifest (or one split of it) gives the trainer."""

    items: list[Item]
    class_names: list[str]
    unlabelled: int = 0
    counts: list[int] = field(default_factory=list)
    splits: list[str | None] = field(default_factory=list)  # the splits the items come from
    other_splits: list[str | None] = field(default_factory=list)  # splits of the manifest left out (validation, test)

    def __len__(self) -> int:
        return len(self.items)


# --- manifest -> items -------------------------------------------------------------------
def manifest_class_names(path: str | Path) -> list[str]:
    """Category names in header order: the model's output order (shards: their ``classes.txt``)."""
    if shards.is_shard_source(path):
        return shards.shard_class_names(path)
    return [entry["name"] for entry in read_header(path).get("categories", [])]


def load_items(
    path: str | Path,
    class_names: Sequence[str] | None = None,
    split: str | None = None,
    exclude_splits: Sequence[str] = (),
    multi_label: bool = False,
    crops: bool = False,
    crop_padding: float = 0.0,
) -> ItemSet:
    """Stream ``path`` into items: one per image (single/multi-label) or one per boxed object (crops).

    ``split`` keeps only records of that split; ``exclude_splits`` drops records of
    those splits (the training side of ``--val-split``, and ``test``). Single-label images need exactly one image
    label; images with none are counted as ``unlabelled`` and left out.
    """
    names = list(class_names) if class_names is not None else manifest_class_names(path)
    if shards.is_shard_source(path):  # WebDataset shards: items held as arrays (cvkit/train/shards.py)
        shards.check_task(multi_label, crops, path)
        shard_set, without_label, counts = shards.shard_item_set(path, names, split, exclude_splits)
        return ItemSet(shard_set, names, without_label, counts)  # type: ignore[arg-type]
    path = Path(path)
    if not multi_label and not crops and (columns := parquet_single_label_items(path, names, split, exclude_splits)):
        return ItemSet(columns[0], names, columns[1], columns[2])  # type: ignore[arg-type]
    dataset = read_manifest(path)
    index = {name: i for i, name in enumerate(names)}
    items: list[Item] = []
    unlabelled = 0
    kept: set[str | None] = set()
    dropped: set[str | None] = set()

    def class_of(label: str, where: str) -> int:
        if label not in index:
            raise CvkitError(
                f"label {label!r} of {where} is not one of the model's classes ({', '.join(names[:10])}...)", file=path
            )
        return index[label]

    for sample in dataset:
        if (split is not None and sample.split != split) or (
            sample.split is not None and sample.split in exclude_splits
        ):
            dropped.add(sample.split)
            continue
        kept.add(sample.split)
        image = str(sample.resolve(dataset.root))
        if crops:
            for obj in sample.objects:
                if obj.iscrowd or obj.ensure_bbox() is None or obj.bbox[2] <= 1 or obj.bbox[3] <= 1:
                    continue
                items.append((image, class_of(obj.label, sample.path), pad_box(obj.bbox, crop_padding)))
        elif multi_label:
            labels = dict.fromkeys([*sample.labels, *(o.label for o in sample.objects)])
            items.append((image, tuple(sorted(class_of(label, sample.path) for label in labels)), None))
        elif len(sample.labels) == 1:
            items.append((image, class_of(sample.labels[0], sample.path), None))
        elif not sample.labels:
            unlabelled += 1
        else:
            raise CvkitError(
                f"image {sample.path} has {len(sample.labels)} labels ({', '.join(sample.labels)}); "
                "train with --multi-label, or give one label per image",
                file=path,
            )
    counts = class_counts(items, len(names))
    return ItemSet(
        ItemArrays.from_items(items), names, unlabelled, counts, sorted(kept, key=str), sorted(dropped, key=str)
    )  # type: ignore[arg-type]


def pad_box(box: Box, padding: float) -> Box:
    """Grow a box by ``padding`` times its size on every side (context around a crop)."""
    x, y, w, h = box
    return (x - padding * w, y - padding * h, w * (1 + 2 * padding), h * (1 + 2 * padding))


def class_counts(items: Sequence[Item], num_classes: int) -> list[int]:
    """Images (or crops) per class; a multi-label image counts once for each of its labels."""
    counter: Counter[int] = Counter()
    for _, target, _ in items:
        counter.update(target if isinstance(target, tuple) else (target,))
    return [counter.get(i, 0) for i in range(num_classes)]


# --- decoding ------------------------------------------------------------------------------
def available_decoders() -> list[str]:
    """Decoders importable here, in :data:`DECODER_ORDER`."""
    found = []
    for name, module in (("torchvision", "torchvision.io"), ("opencv", "cv2"), ("pil", "PIL.Image")):
        try:
            __import__(module)
            found.append(name)
        except ImportError:
            pass
    return [name for name in DECODER_ORDER if name in found]


def resolve_decoder(name: str) -> str:
    if name == "auto":
        return available_decoders()[0]
    if name not in available_decoders():
        raise CvkitError(f"decoder {name!r} is not installed here (available: {', '.join(available_decoders())})")
    return name


def decode_image(path: str, decoder: str = "torchvision") -> torch.Tensor:
    """Decode ``path`` to a uint8 RGB CHW tensor, EXIF orientation applied (the displayed image); an image over the
    pixel limit (:mod:`cvkit.core.limits`) is refused from its header."""
    if hasattr(path, "read"):  # an image inside a shard (cvkit.train.shards.MemberPath): decoded from its bytes
        return decode_image_bytes(path.read(), str(path))
    check_image_file(path)
    try:
        if decoder == "torchvision":
            import torchvision.io as tio

            return tio.decode_image(tio.read_file(path), mode=tio.ImageReadMode.RGB, apply_exif_orientation=True)
        if decoder == "opencv":
            import cv2

            array = cv2.imread(path, cv2.IMREAD_COLOR)  # IMREAD_COLOR applies EXIF orientation
            if array is None:
                raise ValueError("OpenCV could not read it")
            return torch.from_numpy(cv2.cvtColor(array, cv2.COLOR_BGR2RGB)).permute(2, 0, 1).contiguous()
        from PIL import ImageOps

        with open_image(path) as img:
            array = np.asarray(ImageOps.exif_transpose(img).convert("RGB"))
        return torch.from_numpy(array.copy()).permute(2, 0, 1).contiguous()
    except FileNotFoundError:
        raise InvalidInputError("image file not found", file=path) from None
    except (RuntimeError, ValueError, OSError) as exc:
        raise InvalidInputError(f"could not decode the image ({exc})", file=path) from None


def decode_image_bytes(data: bytes, name: str) -> torch.Tensor:
    """:func:`decode_image` of encoded bytes (torchvision, EXIF orientation applied); ``name`` for messages. An
    image over the pixel limit (:mod:`cvkit.core.limits`) is refused from its header."""
    import torchvision.io as tio

    try:
        with open_image(io.BytesIO(data), file=name):
            pass
        return tio.decode_image(
            torch.frombuffer(bytearray(data), dtype=torch.uint8),
            mode=tio.ImageReadMode.RGB,
            apply_exif_orientation=True,
        )
    except (OSError, RuntimeError, ValueError) as exc:
        raise InvalidInputError(f"could not decode the image ({exc})", file=name) from None


def crop(image: torch.Tensor, box: Box) -> torch.Tensor:
    """Cut ``box`` (canonical x, y, w, h) out of a CHW image, clipped to the image."""
    height, width = image.shape[-2:]
    x, y, w, h = box
    x1, y1 = max(0, round(x)), max(0, round(y))
    x2, y2 = min(width, round(x + w)), min(height, round(y + h))
    if x2 <= x1 or y2 <= y1:
        return image
    return image[:, y1:y2, x1:x2]


# --- transforms ----------------------------------------------------------------------------
def default_transform(image_size: int, train: bool) -> Callable[[torch.Tensor], torch.Tensor]:
    """Built-in transforms on uint8 tensors: RandomResizedCrop + flip (train), resize + centre crop (eval)."""
    from torchvision.transforms import v2

    if train:
        return v2.Compose(
            [v2.RandomResizedCrop(image_size, scale=(0.25, 1.0), antialias=True), v2.RandomHorizontalFlip()]
        )
    return eval_transform(image_size)


def eval_transform(image_size: int) -> Callable[[torch.Tensor], torch.Tensor]:
    """Resize the short side to ``image_size / 0.875`` and centre-crop (the ImageNet evaluation recipe)."""
    from torchvision.transforms import v2

    return v2.Compose([v2.Resize(round(image_size / 0.875), antialias=True), v2.CenterCrop(image_size)])


class AugmentTransform:
    """A ``cvkit.augment`` spec on CHW uint8 tensors, through albumentations (the CPU back-end).

    albumentations draws from generators of its own: :meth:`reseed` sets them from an item's seed, so that the
    item is augmented the same whichever worker loads it (and a resumed run draws what an uninterrupted one would).
    """

    def __init__(self, spec: str, image_size: int, train: bool):
        try:
            import albumentations as A

            from cvkit.augment.cpu import albumentations_transforms, eval_spec, sized_for_classification
            from cvkit.augment.spec import load_spec
        except ImportError as exc:
            raise CvkitError(f"--aug needs cvkit.augment, which is not available here ({exc})") from None
        parsed = load_spec(spec)
        final = sized_for_classification(parsed, image_size) if train else eval_spec(image_size)
        self.compose = A.Compose(albumentations_transforms(final))
        self.image_size = image_size

    def reseed(self, seed: int) -> None:
        self.compose.set_random_seed(seed % 2**32)

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        out = np.ascontiguousarray(self.compose(image=image.permute(1, 2, 0).numpy())["image"])
        tensor = torch.from_numpy(out).permute(2, 0, 1).contiguous()
        if tensor.shape[-2:] != (self.image_size, self.image_size):
            tensor = eval_transform(self.image_size)(tensor)
        return tensor


def build_transform(cfg: TrainConfig, train: bool) -> Callable[[torch.Tensor], torch.Tensor]:
    """``--aug`` absent: built-in transforms; ``none``: evaluation transform only; else cvkit.augment."""
    if not train or cfg.aug == "none":
        return eval_transform(cfg.image_size)
    if cfg.aug is None:
        return default_transform(cfg.image_size, train)
    return AugmentTransform(cfg.aug, cfg.image_size, train)


# --- dataset and loaders --------------------------------------------------------------------
@contextmanager
def item_random_state(seed: int | None) -> Iterator[None]:
    """Seed Python, numpy and torch for one item's transform, then give the caller's generators back
    (in the main process with ``--workers 0`` they also drive dropout and mixup)."""
    if seed is None:
        yield
        return
    saved = torch.get_rng_state(), np.random.get_state(), random.getstate()
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)
    try:
        yield
    finally:
        torch.set_rng_state(saved[0])
        np.random.set_state(saved[1])
        random.setstate(saved[2])


class ManifestDataset(torch.utils.data.Dataset):
    """Decodes, crops and transforms one item; returns ``(uint8 CHW image, target)``.

    Indexed by a position, or by ``(position, item_seed)`` from the samplers (the transform's random draws then
    depend on the seed alone). With ``encoded`` (GPU decoding) nothing is transformed here: JPEG files come back
    as their bytes, other files decoded, and :class:`GpuJpegBatches` transforms every image once on the device.
    """

    def __init__(
        self,
        items: Sequence[Item],
        num_classes: int,
        transform: Callable[[torch.Tensor], torch.Tensor],
        decoder: str = "torchvision",
        multi_label: bool = False,
        encoded: bool = False,
    ):
        self.items = items if hasattr(items, "targets") else list(items)  # item arrays are shared, not copied
        self.num_classes = num_classes
        self.transform = transform
        self.decoder = decoder
        self.multi_label = multi_label
        self.encoded = encoded

    def __len__(self) -> int:
        return len(self.items)

    def target(self, index: int) -> torch.Tensor:
        return self.target_of(self.items[index][1])

    def target_of(self, value: Any) -> torch.Tensor:
        if self.multi_label:
            vector = torch.zeros(self.num_classes)
            vector[list(value)] = 1.0
            return vector
        return torch.tensor(value, dtype=torch.long)

    def __getitem__(self, key: int | tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        index, seed = key if isinstance(key, tuple) else (key, None)
        path, _, box = self.items[index]
        if not hasattr(path, "read"):  # (an image in a shard is checked by decode_image_bytes)
            check_image_file(
                path
            )  # the pixel limit, from the header, before any decoder (here or on the GPU) allocates
        if self.encoded and box is None:
            if is_jpeg(path):
                import torchvision.io as tio

                return tio.read_file(path), self.target(index)  # decoded later on the GPU
            return decode_image(path, self.decoder), self.target(index)  # transformed on the device with the JPEGs
        return self.finish(decode_image(path, self.decoder), box, self.items[index][1], seed)

    def from_bytes(self, data: bytes, name: str, value: Any, seed: int | None) -> tuple[torch.Tensor, torch.Tensor]:
        """One sample read from a stream (:mod:`cvkit.train.stream`): decoded from ``data`` (``name`` for
        messages), then as :meth:`__getitem__` (on the CPU; with ``encoded`` the device transforms it)."""
        image = decode_image_bytes(data, name)
        if self.encoded:
            return image, self.target_of(value)
        return self.finish(image, None, value, seed)

    def finish(
        self, image: torch.Tensor, box: Box | None, value: Any, seed: int | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Crop and transform a decoded image (random draws from ``seed`` when given); with its target."""
        if box is not None:
            image = crop(image, box)
        with item_random_state(seed):
            if seed is not None and hasattr(self.transform, "reseed"):
                self.transform.reseed(seed)
            return self.transform(image), self.target_of(value)


def is_jpeg(path: str) -> bool:
    if hasattr(path, "read"):  # inside a shard: decoded on the CPU from its bytes
        return False
    with open(path, "rb") as handle:
        return handle.read(2) == b"\xff\xd8"


class PackedImages(NamedTuple):
    """A batch of JPEG byte strings and decoded CHW images in two tensors, for the trip from a DataLoader worker.

    Each tensor a worker hands over travels as its own shared-memory file descriptor; a list of 256 images would be
    256 descriptors a batch, which machines with tight descriptor limits refuse (``EBADF`` in ``DupFd``). Packed, a
    batch is two. ``spans`` rows are ``(offset, length, channels, height, width)``; ``channels`` 0 marks JPEG bytes.
    """

    data: torch.Tensor
    spans: torch.Tensor

    def unpack(self) -> list[torch.Tensor]:
        """The images again: 1-D byte tensors for JPEG files, uint8 CHW tensors for the others (views, no copy)."""
        out = []
        for offset, length, channels, height, width in self.spans.tolist():
            part = self.data[offset : offset + length]
            out.append(part if channels == 0 else part.view(channels, height, width))
        return out


def pack_images(images: Sequence[torch.Tensor]) -> PackedImages:
    """:class:`PackedImages` of 1-D JPEG byte tensors and uint8 CHW images."""
    spans = torch.zeros((len(images), 5), dtype=torch.int64)
    offset = 0
    for row, image in enumerate(images):
        spans[row, 0], spans[row, 1] = offset, image.numel()
        if image.dim() == 3:
            spans[row, 2:] = torch.tensor(image.shape)
        offset += image.numel()
    data = torch.cat([image.reshape(-1) for image in images]) if images else torch.zeros(0, dtype=torch.uint8)
    return PackedImages(data, spans)


def collate_encoded(batch: list[tuple[torch.Tensor, torch.Tensor]]) -> tuple[PackedImages, torch.Tensor]:
    """Variable-length JPEG byte tensors (and any CPU-decoded images) packed into two tensors, with the targets."""
    return pack_images([image for image, _ in batch]), torch.stack([target for _, target in batch])


def make_loader(
    dataset: ManifestDataset,
    batch_size: int,
    sampler: Any,
    workers: int,
    pin_memory: bool,
    prefetch_factor: int,
    seed: int,
    drop_last: bool = False,
) -> torch.utils.data.DataLoader:
    """A DataLoader with persistent workers and prefetch when ``workers`` > 0, seeded for reproducibility."""
    extra: dict[str, Any] = {}
    if workers > 0:
        extra = {"persistent_workers": True, "prefetch_factor": prefetch_factor}
    if getattr(sampler, "yields_batches", False):
        extra["batch_sampler"] = sampler
    else:
        extra.update(batch_size=batch_size, sampler=sampler, drop_last=drop_last)
    return torch.utils.data.DataLoader(
        dataset,
        num_workers=workers,
        pin_memory=pin_memory,
        collate_fn=collate_encoded if dataset.encoded else None,
        generator=torch.Generator().manual_seed(seed),
        **extra,
    )


def epoch_sampler(loader: torch.utils.data.DataLoader) -> Any:
    """The loader's epoch-aware sampler (``set_epoch``), whether it samples items or whole batches."""
    if hasattr(loader.dataset, "set_epoch"):  # a streaming dataset (cvkit.train.stream) orders its own epochs
        return loader.dataset
    return loader.batch_sampler if getattr(loader.batch_sampler, "yields_batches", False) else loader.sampler


class EvalShardSampler(torch.utils.data.Sampler[int]):
    """Every ``world``-th index from ``rank``, in order, without padding (exact distributed evaluation)."""

    def __init__(self, length: int, rank: int = 0, world: int = 1):
        self.indices = list(range(rank, length, world))

    def __iter__(self):
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)


# --- on the device -------------------------------------------------------------------------
def to_device(images: torch.Tensor, device: torch.device, channels_last: bool) -> torch.Tensor:
    """uint8 NCHW (0-255) or float NCHW (0-1, from a GPU augmenter) -> normalised float on ``device``.

    The copy is non-blocking (the loader pins memory on CUDA).
    """
    images = images.to(device, non_blocking=True)
    scale = 255.0 if images.dtype == torch.uint8 else 1.0
    mean = torch.tensor(MEAN, device=device).view(1, 3, 1, 1) * scale
    std = torch.tensor(STD, device=device).view(1, 3, 1, 1) * scale
    images = (images.float() - mean) / std
    return images.contiguous(memory_format=torch.channels_last) if channels_last else images


class GpuJpegBatches:
    """Decode a batch of JPEG byte tensors with nvJPEG and resize/augment on the GPU (CUDA only).

    Items that were not JPEG arrive decoded (not transformed) from the worker; every image
    is transformed here exactly once. With ``--aug`` ``cvkit.augment.gpu.GpuAugmenter``
    does the augmentation; otherwise a per-image random resized crop + flip (train) or
    resize + centre crop (eval) runs on the device. Any torch device works (tests use the CPU).
    """

    def __init__(self, cfg: TrainConfig, device: torch.device, train: bool):
        self.device = device
        self.image_size = cfg.image_size
        self.train = train
        self.augmenter = None
        if train and cfg.aug not in (None, "none"):
            try:
                from cvkit.augment.gpu import GpuAugmenter
            except ImportError as exc:
                raise CvkitError(
                    f"--aug on the GPU needs cvkit.augment.gpu ({exc}); pass --no-gpu-decode to augment on the CPU"
                ) from None
            self.augmenter = GpuAugmenter(cfg.aug, cfg.image_size, str(device))
        self.train_tf = default_transform(cfg.image_size, True) if train and cfg.aug is None else None
        self.eval_tf = eval_transform(cfg.image_size)
        # the augmenter crops to image_size itself: give it a fixed, slightly larger square to work from
        from torchvision.transforms import v2

        side = round(cfg.image_size / 0.875)
        self.pre_augment = v2.Compose([v2.Resize(side, antialias=True), v2.CenterCrop(side)])

    def __call__(self, images: list[torch.Tensor] | PackedImages) -> torch.Tensor:
        import torchvision.io as tio

        if isinstance(images, PackedImages):
            images = images.unpack()
        encoded = [i for i, img in enumerate(images) if img.dim() == 1]
        decoded = (
            tio.decode_jpeg(
                [images[i] for i in encoded],
                mode=tio.ImageReadMode.RGB,
                device=self.device,
                apply_exif_orientation=True,
            )
            if encoded
            else []
        )
        out: list[torch.Tensor] = [img if img.dim() == 1 else img.to(self.device, non_blocking=True) for img in images]
        for i, img in zip(encoded, decoded):
            out[i] = img
        if self.augmenter is not None:
            return self.augmenter(torch.stack([self.pre_augment(img) for img in out]))  # float in [0, 1]
        transform = self.train_tf or self.eval_tf
        return torch.stack([transform(img) for img in out])
