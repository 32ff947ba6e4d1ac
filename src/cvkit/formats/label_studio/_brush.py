"""Label Studio's brush RLE: thi-ng's ``rle-pack`` over the RGBA pixels of the mask (its alpha channel is the mask).

The bit stream holds the value count (32 bits), the word size minus 1 (5 bits) and four run-length field sizes
minus 1 (4 bits each); then, until the count is reached, a 1-bit flag (1: a run of one value, 0: literal values),
a 2-bit index choosing the length field, the length minus 1, and the value(s). Byte for byte what
label-studio-sdk's ``brush.encode_rle``/``decode_rle`` write and read (its tests are the oracle here).
"""

from __future__ import annotations

from typing import Any

#: the run-length field sizes Label Studio's encoder uses
RLE_SIZES = (3, 4, 8, 16)
#: most values a brush RLE may decode to (RGBA of 8192 x 8192 pixels): the output is allocated, larger is refused
MAX_VALUES = 1 << 28


class _Bits:
    """Reads big-endian bit fields from the RLE bytes (a '0'/'1' string: ``int(s, 2)`` per field is the fast path)."""

    def __init__(self, data: list[int]):
        import numpy as np

        raw = np.asarray(data, dtype=np.int64)
        if raw.size and (raw.min() < 0 or raw.max() > 255):
            raise ValueError("the RLE must be a list of bytes (0-255)")
        self.bits = (np.unpackbits(raw.astype(np.uint8)) + 48).tobytes().decode("ascii")
        self.pos = 0

    def read(self, size: int) -> int:
        end = self.pos + size
        if end > len(self.bits):
            raise ValueError("the RLE ends early")
        value = int(self.bits[self.pos : end], 2)
        self.pos = end
        return value


def decode(rle: list[int], expected: int) -> Any:
    """The flat uint8 values of an RLE whose header must announce ``expected`` values (width x height x 4):
    a wrong size is refused before anything is allocated."""
    import numpy as np

    if expected > MAX_VALUES:
        raise ValueError(f"a brush of {expected // 4} pixels is larger than cvkit decodes ({MAX_VALUES // 4})")
    bits = _Bits(rle)
    count = bits.read(32)
    if count != expected:
        raise ValueError(f"the RLE holds {count} values, the image's RGBA pixels are {expected}")
    word = bits.read(5) + 1
    sizes = [bits.read(4) + 1 for _ in range(4)]
    out = np.zeros(count, dtype=np.uint8 if word <= 8 else np.uint32)
    i = 0
    while i < count:
        is_run = bits.read(1)
        j = min(i + 1 + bits.read(sizes[bits.read(2)]), count)
        if is_run:
            out[i:j] = bits.read(word)
            i = j
        else:
            while i < j:
                out[i] = bits.read(word)
                i += 1
    return out


def decode_mask(rle: list[int], width: int, height: int) -> Any:
    """The ``height x width`` 0/1 mask of a brush RLE (its alpha channel, set where at least half opaque)."""
    values = decode(rle, width * height * 4)
    return (values.reshape(height, width, 4)[:, :, 3] >= 128).astype("uint8")


def _field(value: int, size: int) -> str:
    return format(value, f"0{size}b")


def encode_mask(mask: Any) -> list[int]:
    """A 2-D 0/1 mask as Label Studio's brush RLE: every pixel 4 times (RGBA), 255 where set, runs packed as
    label-studio-sdk's ``mask2rle`` packs them (the same bytes)."""
    import numpy as np

    flat = np.repeat((np.asarray(mask) > 0).astype(np.uint8).ravel() * 255, 4)
    parts = [_field(flat.size, 32), _field(7, 5), *(_field(s - 1, 4) for s in RLE_SIZES)]
    if flat.size:
        change = np.flatnonzero(flat[1:] != flat[:-1]) + 1
        starts = np.concatenate(([0], change))
        lengths = np.diff(np.concatenate((starts, [flat.size])))
        for start, length in zip(starts.tolist(), lengths.tolist()):
            value = _field(int(flat[start]), 8)
            if length == 1:
                parts.append("000000" + value)
                continue
            while length > 1 << 16:
                parts.append("111" + _field((1 << 16) - 1, 16) + value)
                length -= 1 << 16
            index = 0 if length <= 8 else 1 if length <= 16 else 2 if length <= 256 else 3
            parts.append("1" + _field(index, 2) + _field(length - 1, RLE_SIZES[index]) + value)
    bits = "".join(parts)
    bits += "0" * (8 - len(bits) % 8)  # the SDK always pads, a whole zero byte when already aligned
    return [int(bits[k : k + 8], 2) for k in range(0, len(bits), 8)]
