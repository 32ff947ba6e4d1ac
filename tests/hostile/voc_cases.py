"""Malformed and odd Pascal VOC files, generated: ``cvkit stats`` and ``cvkit convert`` must give one verdict on each.

Each case is a mutation of one plain file (the shape LabelImg writes): the ways the issue found the two parsers
to disagree (junk after the root, a NUL byte, a control character, deep nesting, a flag that is no flag, a size
past any integer) and their kin, plus harmless variants both must read alike.
"""

from __future__ import annotations

import random

PLAIN = """<annotation>
\t<folder>VOC</folder>
\t<filename>{stem}.jpg</filename>
\t<size><width>{width}</width><height>{height}</height><depth>3</depth></size>
{objects}</annotation>
"""
OBJECT = (
    "\t<object>\n\t\t<name>{name}</name>\n\t\t<pose>Unspecified</pose>\n\t\t<truncated>{truncated}</truncated>\n"
    "\t\t<difficult>{difficult}</difficult>\n\t\t<bndbox>\n\t\t\t<xmin>{x1}</xmin>\n\t\t\t<ymin>{y1}</ymin>\n"
    "\t\t\t<xmax>{x2}</xmax>\n\t\t\t<ymax>{y2}</ymax>\n\t\t</bndbox>\n\t</object>\n"
)


def plain(
    stem: str = "a", width: object = 64, height: object = 48, objects: str | None = None, **fields: object
) -> str:
    """A plain VOC file; ``fields`` override the one object's values (name, truncated, difficult, x1, y1, x2, y2)."""
    values = {"name": "cat", "truncated": 0, "difficult": 0, "x1": 2, "y1": 3, "x2": 20, "y2": 30, **fields}
    return PLAIN.format(
        stem=stem, width=width, height=height, objects=OBJECT.format(**values) if objects is None else objects
    )


def _nested(depth: int) -> str:
    return plain().replace("</annotation>", "<a>" * depth + "x" + "</a>" * depth + "</annotation>")


#: name -> file bytes; each one both parsers refuse (the differential test also runs harmless ones)
MALFORMED: dict[str, bytes] = {
    "junk_after_root": (plain() + "<extra/>\n").encode(),
    "second_root": (plain() + plain()).encode(),
    "text_after_root": (plain() + "junk\n").encode(),
    "junk_before_root": ("junk" + plain()).encode(),
    "nul_in_name": plain(name="ca\0t").encode(),
    "nul_after_root": (plain() + "\0").encode(),
    "control_char_in_name": plain(name="ca\x01t").encode(),
    "control_char_in_folder": plain().replace("VOC", "V\x1bOC").encode(),
    "form_feed": plain(name="c\x0cat").encode(),
    "nesting_50000_deep": _nested(50_000).encode(),
    "nesting_300_deep": _nested(300).encode(),
    "object_nesting_300_deep": plain(
        objects="<object>" * 300
        + OBJECT.format(name="cat", truncated=0, difficult=0, x1=1, y1=1, x2=2, y2=2)
        + "</object>" * 300
    ).encode(),
    "difficult_maybe": plain(difficult="maybe").encode(),
    "truncated_yes_please": plain(truncated="yes please").encode(),
    "width_past_int64": plain(width="99999999999999999999").encode(),
    "width_past_int32": plain(width=2**31).encode(),
    "width_fraction": plain(width="64.5").encode(),
    "height_1e30": plain(height="1e30").encode(),
    "width_inf": plain(width="inf").encode(),
    "width_nan": plain(width="nan").encode(),
    "width_negative": plain(width=-64).encode(),
    "width_text": plain(width="wide").encode(),
    "xmin_nan": plain(x1="nan").encode(),
    "xmax_inf": plain(x2="inf").encode(),
    "ymin_text": plain(y1="top").encode(),
    "box_inverted": plain(x1=30, x2=20).encode(),
    "box_negative": plain(x1=-5).encode(),
    "empty_name": plain(name="").encode(),
    "invalid_utf8": plain().replace("VOC", "V\udcffOC").encode("utf-8", "surrogateescape"),
    "unclosed_root": plain().replace("</annotation>", "").encode(),
    "mismatched_tag": plain().replace("</folder>", "</fold>").encode(),
}

#: odd but valid: both paths must read these, with the same counts
VALID: dict[str, bytes] = {
    "plain": plain().encode(),
    "difficult_true": plain(difficult="true").encode(),
    "float_size": plain(width="64.0").encode(),
    "two_objects": plain(
        objects=OBJECT.format(name="cat", truncated=0, difficult=1, x1=1, y1=1, x2=5, y2=5)
        + OBJECT.format(name="dog", truncated=1, difficult=0, x1=2, y1=2, x2=9, y2=9)
    ).encode(),
    "no_objects": plain(objects="").encode(),
    "nesting_10_deep": _nested(10).encode(),
    "declaration": ('<?xml version="1.0" encoding="utf-8"?>\n' + plain()).encode(),
    "comment": plain().replace("<folder>", "<!-- c --><folder>").encode(),
    "unicode_name": plain(name="chat noir é").encode(),
}


def mutations(seed: int, count: int) -> dict[str, bytes]:
    """``count`` random byte-level mutations of a plain file (insert, delete or replace one byte or tag), named by
    seed and index: kin of the cases above that nobody listed."""
    rng = random.Random(seed)
    base = plain().encode()
    pieces = [
        b"\0",
        b"\x01",
        b"\x1f",
        b"<",
        b">",
        b"</a>",
        b"<a>",
        b"&",
        b"nan",
        b"-1",
        b"99999999999999999999",
        b"\xff",
        b"maybe",
        b"\r",
    ]
    out = {}
    for n in range(count):
        data = bytearray(base)
        at = rng.randrange(len(data))
        kind = rng.choice(("insert", "delete", "replace"))
        if kind == "insert":
            data[at:at] = rng.choice(pieces)
        elif kind == "delete":
            del data[at : at + rng.randint(1, 4)]
        else:
            data[at : at + 1] = rng.choice(pieces)
        out[f"mutation_{seed}_{n}"] = bytes(data)
    return out
