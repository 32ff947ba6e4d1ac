"""Plain Pascal VOC files read without building an XML tree: one split per file and a plan per tag layout.

The files one tool writes share their *layout*: the sequence of tags with the text between them taken out
(it changes with the number of objects and the optional tags, not with names or numbers). The first file of
a layout is checked once, tag by tag, and compiled into a :class:`_Plan` that says which text between tags
is which field; every later file with that layout is read by splitting it at its tags and indexing.

This gives exactly what the lxml reader (:func:`cvkit.formats.voc.parse_xml`) gives, or nothing: anything a
plan cannot vouch for leaves the file to lxml, which also words every error. That is: no UTF-8 or a declared
encoding other than UTF-8, comments, CDATA, DOCTYPE, processing instructions, entities, ``\\r``, characters XML
forbids, attributes (but LabelImg's ``<annotation verified="...">``), tag names beyond ASCII letters, digits,
``_ . -``, ``<polygon>``, ``<robndbox>``, object fields nested deeper than the VOC2012 devkit's ``<part>``,
``<actions>`` and ``<point>`` and CVAT's ``<attributes>`` nest them, and any value that would raise (a missing
name, a box that is not four finite numbers in order, a size or flag that is not a number).
tests/test_voc_plain.py compares both readers on every corpus file and on thousands of mutated ones. What it
saves per file: docs/benchmarks.md, "Measured choices".
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from cvkit.core.geometry import voc_to_box
from cvkit.core.model import Annotation
from cvkit.core.validate_values import MAX_SIDE

from ._xml import BOOL_TAGS

#: object fields only lxml reads (outlines)
_LXML_FIELDS = frozenset(("polygon", "robndbox"))
#: object fields whose nesting a plan reads (any other nested field is kept as a dict of its leaf children)
_KNOWN_FIELDS = frozenset(("name", "pose", "bndbox", "part", "actions", "attributes", *BOOL_TAGS))
BOX_TAGS = ("xmin", "ymin", "xmax", "ymax")

#: bytes only an XML parser reads right: entities, carriage returns (normalised) and the control characters XML
#: forbids; deleting every other byte leaves nothing of a plain file
_NOT_SUSPECT = bytes(set(range(256)) - set(b"&\r") - (set(range(32)) - set(b"\t\n")))
#: deleting every byte but these leaves ``<><>...`` of a file whose tags hold no '<' or '>' and whose text neither,
#: without comments, CDATA or DOCTYPE (``<!``) and without ``]]>`` in text (a '!' or ']' anywhere leaves the file
#: to lxml: rare in annotation files)
_NOT_MARKUP = bytes(set(range(256)) - set(b"<>!]"))
#: U+FFFE and U+FFFF, which XML forbids, begin so in UTF-8 (their neighbours go to lxml too, to be safe)
_NONCHARACTER = b"\xef\xbf"
_NAME = r"[A-Za-z_][A-Za-z0-9_.-]*"
# tags without their brackets, as the split leaves them
_OPEN, _CLOSE, _EMPTY = re.compile(_NAME), re.compile(f"/({_NAME})"), re.compile(f"({_NAME})/")
_ROOT = re.compile(r'annotation verified="([^"<>&\t\n]*)"')  # LabelImg marks checked images so
_DECLARATION = re.compile(
    r"""\?xml version=(["'])1\.0\1(?: encoding=(["'])(?i:utf-8)\2)?(?: standalone=(["'])(?:yes|no)\3)?[ \t\n]*\?"""
)
_XML_SPACE = " \t\n"
#: what ``int()`` and ``float()`` need: a decimal digit (``\\d`` is Unicode's, as theirs), or one of these words
_DIGIT = re.compile(r"\d")
_NOT_FINITE = frozenset(("nan", "inf", "infinity"))
#: what :func:`flag` gives for the texts flags almost always hold (looked up before it is called)
_FLAG_TEXT = {"0": False, "1": True}
_BOM = "\ufeff"

#: plans kept per process; past this many layouts, new ones go to lxml
MAX_PLANS = 2048
#: elements nested deeper than this go to lxml (a plain file nests 4 deep; lxml refuses past 256)
MAX_DEPTH = 16

# head operations, in document order (they fill ``meta`` in the order lxml's reader does)
_FILENAME, _SIZE, _META, _SOURCE = range(4)
# object operations: a flag, the pose, a leaf field no reader knows, VOC2012's person-layout <part>, its <actions>,
# CVAT's and datumaro's <attributes>, a nested field no reader knows (VOC2012's action <point>)
_FLAG, _POSE, _EXTRA, _PART, _ACTIONS, _ATTRIBUTES, _NESTED = range(7)


@dataclass(slots=True)
class _Node:
    """An element of a layout: its tag, children, and where its text is (the split part after its start tag)."""

    tag: str
    text: int
    children: list[_Node]


@dataclass(slots=True)
class _ObjectPlan:
    name: int
    box: tuple[int, int, int, int]
    #: (operation, key, text index) in document order; the key of a _PART is (name index or None, box indices),
    #: of _ACTIONS and _NESTED the (tag, text index) of each child, of _ATTRIBUTES each attribute's (name index
    #: or None, value index or None)
    fields: list[tuple[int, Any, int]]
    typed: bool  # has <attributes>, whose values may be a crowd flag or a score


@dataclass(slots=True)
class _Plan:
    """Where each field's text is in the parts of a file of one layout."""

    declared: bool  # starts with an XML declaration
    verified: str | None
    head: list[tuple[int, Any, int]]
    objects: list[_ObjectPlan]


_plans: dict[str, _Plan | None] = {}


def parse_plain(
    data: bytes, one_based: bool
) -> tuple[str | None, int | None, int | None, list[Annotation], dict[str, Any]] | None:
    """What :func:`cvkit.formats.voc.parse_xml` returns for ``data``, or None: lxml must read this file."""
    planned = _planned(data)
    if planned is None:
        return None
    try:
        return _read(*planned, one_based)
    except (ValueError, OverflowError):  # a number lxml's reader refuses, with its own words
        return None


#: what :func:`plain_boxes` gives: width, height (None: unknown) and each object's name and box
Boxes = tuple[int | None, int | None, list[tuple[str, tuple[float, float, float, float]]]]


def plain_boxes(data: bytes, one_based: bool) -> Boxes | None:
    """The size and the objects' names and boxes of what :func:`parse_plain` reads, checked as it checks them (the
    same files read, the same refused): ``cvkit stats`` needs no more, and building whole annotations would cost
    it a sixth of its time. None where :func:`parse_plain` gives None."""
    planned = _planned(data)
    if planned is None:
        return None
    plan, parts = planned
    try:
        size = _read_head(plan, parts, None)
        if size is None:
            return None
        objects = []
        for obj in plan.objects:
            box = _box(obj, parts, one_based)
            if box is None:
                return None
            if not _fields_valid(obj, parts, one_based):
                return None
            objects.append((parts[obj.name].strip(), box))
    except (ValueError, OverflowError):
        return None
    return size[0], size[1], objects


def _planned(data: bytes) -> tuple[_Plan, list[str]] | None:
    """The plan of ``data``'s layout and its text split at the tags (an empty text appended last: the text of
    every empty element), or None when lxml must read it."""
    if data.translate(None, _NOT_SUSPECT) or _NONCHARACTER in data:
        return None
    markup = data.translate(None, _NOT_MARKUP)
    if markup != b"<>" * (len(markup) >> 1):
        return None  # a '<' or '>' in text or one out of place, '<!', or ']]>
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    # text, tag, text, tag, ..., text: the tags without their brackets at the odd places
    parts = text.replace(">", "<").split("<")
    tags = parts[1::2]
    layout = "<".join(tags)
    plan = _plans.get(layout, False)
    if plan is False:
        plan = _compile(tags, len(parts))
        if len(_plans) < MAX_PLANS:
            _plans[layout] = plan
    if plan is None or not _outside_is_blank(parts, plan.declared):
        return None
    parts.append("")
    return plan, parts


def _outside_is_blank(parts: list[str], declared: bool) -> bool:
    """Only a byte-order mark and white space around the root element (and the declaration before it)."""
    before = parts[0].removeprefix(_BOM)
    if declared and (before or parts[2].strip(_XML_SPACE)):
        return False
    return not before.strip(_XML_SPACE) and not parts[-1].strip(_XML_SPACE)


def _read(
    plan: _Plan, parts: list[str], one_based: bool
) -> tuple[str | None, int | None, int | None, list[Annotation], dict[str, Any]] | None:
    meta: dict[str, Any] = {"verified": plan.verified} if plan.verified else {}
    head = _read_head(plan, parts, meta)
    if head is None:
        return None
    width, height, filename = head
    objects = []
    for obj in plan.objects:
        box = _box(obj, parts, one_based)
        if box is None:
            return None
        attributes: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        for operation, key, index in obj.fields:
            if operation == _FLAG:
                text = parts[index]
                value = _FLAG_TEXT.get(text)
                attributes[key] = flag(text) if value is None else value
            elif operation == _POSE:
                attributes["pose"] = parts[index].strip()
            elif operation == _EXTRA:
                extra[key] = parts[index].strip()
            elif operation == _PART:
                part_box = _part_box(key[1], parts, one_based)
                if part_box is None:
                    return None
                name = parts[key[0]].strip() if key[0] is not None else ""
                attributes.setdefault("parts", []).append({"label": name, "bbox": list(part_box)})
            elif operation == _ACTIONS:
                attributes["actions"] = {tag: flag(parts[at]) for tag, at in key}
            elif operation == _ATTRIBUTES:
                for name_at, value_at in key:
                    if name_at is not None and (name := parts[name_at].strip()):
                        attributes[name] = parse_value(parts[value_at].strip() if value_at is not None else "")
            else:
                extra[key[0]] = {tag: parts[at].strip() for tag, at in key[1]}
        ann = Annotation(parts[obj.name].strip(), box, attributes=attributes)
        if extra:
            ann.meta["voc"] = extra
        if obj.typed:  # what lxml's reader takes out of <attributes> (the writer keeps them so, as datumaro does)
            ann.iscrowd = bool(attributes.pop("iscrowd", False))
            score = attributes.get("score")
            if isinstance(score, (int, float)) and not isinstance(score, bool):
                ann.score = float(attributes.pop("score"))
        objects.append(ann)
    return filename, width, height, objects, meta


def _read_head(
    plan: _Plan, parts: list[str], meta: dict[str, Any] | None
) -> tuple[int | None, int | None, str | None] | None:
    """``(width, height, filename)`` of a file's head (0 or no size: None), its other fields into ``meta`` (None:
    only the size is wanted); None for a negative size, which lxml's reader words. A size that is no number raises."""
    filename = width = height = None
    for operation, key, index in plan.head:
        if operation == _SIZE:
            width, height, depth = size_numbers({tag: parts[at].strip() for tag, at in key})
            if width < 0 or height < 0:
                return None
            width, height = width or None, height or None
            if depth is not None and meta is not None:
                meta["depth"] = depth
        elif meta is None:
            continue
        elif operation == _FILENAME:
            filename = parts[index].strip() or None
        elif operation == _META:
            if value := parts[index].strip():
                meta[key] = value
        else:
            meta["source"] = {tag: parts[at].strip() for tag, at in key}
    return width, height, filename


def _fields_valid(obj: _ObjectPlan, parts: list[str], one_based: bool) -> bool:
    """False where :func:`_read` would give None for an object's fields (a part box out of order); raises where it
    raises (a flag or coordinate that is no number)."""
    for operation, key, index in obj.fields:
        if operation == _FLAG:
            flag(parts[index])
        elif operation == _ACTIONS:
            for _tag, at in key:
                flag(parts[at])
        elif operation == _PART and _part_box(key[1], parts, one_based) is None:
            return False
    return True


def _part_box(
    box: tuple[int, int, int, int], parts: list[str], one_based: bool
) -> tuple[float, float, float, float] | None:
    """A ``<part>``'s box, or None when it is not in order (lxml's reader words that); no number raises."""
    xmin, ymin, xmax, ymax = (float(parts[at]) for at in box)
    if not (0 <= xmin <= xmax < math.inf and 0 <= ymin <= ymax < math.inf):
        return None
    return voc_to_box(xmin, ymin, xmax, ymax, one_based)


def _box(obj: _ObjectPlan, parts: list[str], one_based: bool) -> tuple[float, float, float, float] | None:
    """An object's box, or None when its name is empty or its box is not in order (lxml's reader words those);
    a coordinate that is no number raises ValueError."""
    x0, y0, x1, y1 = obj.box
    xmin, ymin, xmax, ymax = float(parts[x0]), float(parts[y0]), float(parts[x1]), float(parts[y1])
    if not parts[obj.name].strip() or not (0 <= xmin <= xmax < math.inf and 0 <= ymin <= ymax < math.inf):
        return None
    return voc_to_box(xmin, ymin, xmax, ymax, one_based)


def size_numbers(size: dict[str, str]) -> tuple[int, int, int | None]:
    """``(width, height, depth)`` of a ``<size>``'s stripped texts by tag (no or an empty width or height: 0; no
    depth: None); ValueError or OverflowError (``inf``) for a non-number, ValueError for a width or height that is a
    fraction or past :data:`~cvkit.core.validate_values.MAX_SIDE` (``99999999999999999999`` overflowed ``cvkit stats``'
    columns)."""
    depth = int(float(size["depth"])) if size.get("depth") else None
    width, height = float(size.get("width") or 0), float(size.get("height") or 0)
    if not (width.is_integer() and height.is_integer()) or width > MAX_SIDE or height > MAX_SIDE:
        raise ValueError(f"image side that is a fraction or past {MAX_SIDE}")
    return int(width), int(height), depth


def parse_value(raw: str) -> Any:
    """An ``<attribute>``'s value as cvkit and datumaro write them: booleans and numbers come back typed. Text
    without a decimal digit that is no infinity or NaN is no number: it is not tried (two raised exceptions)."""
    lowered = raw.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if _DIGIT.search(raw) is None and lowered.strip().lstrip("+-") not in _NOT_FINITE:
        return raw
    for kind in (int, float):
        try:
            return kind(raw)
        except ValueError:
            pass
    return raw


def flag(value: str | None) -> bool:
    """VOC flags: 1/0, true/false, yes/no; empty tags such as ``<difficult/>`` are false; ValueError otherwise."""
    if not value:
        return False
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes"):
        return True
    if lowered in ("0", "false", "no", ""):
        return False
    return float(value) != 0


# --- compiling a layout ----------------------------------------------------------------
def _compile(tags: list[str], count: int) -> _Plan | None:
    """The plan of a layout (``tags``: without their brackets), or None when lxml must read its files.
    ``count``: the file's split parts (their number, the index of the empty text appended for empty elements)."""
    declared = bool(tags) and tags[0].startswith("?")
    if declared and not _DECLARATION.fullmatch(tags[0]):
        return None
    parsed = _tree(tags, 1 if declared else 0, count)
    if parsed is None:
        return None
    root, verified = parsed
    head: list[tuple[int, Any, int]] = []
    objects: list[_ObjectPlan] = []
    for child in root.children:
        tag, leaf = child.tag, not child.children
        if tag == "object":
            obj = None if leaf else _compile_object(child, count)
            if obj is None:
                return None
            objects.append(obj)
        elif tag in ("filename", "folder", "path", "segmented"):
            if not leaf:
                return None
            head.append((_FILENAME if tag == "filename" else _META, tag, child.text))
        elif tag in ("size", "source"):
            fields = _leaf_fields(child)
            if leaf or fields is None:
                return None
            head.append((_SIZE if tag == "size" else _SOURCE, fields, 0))
    return _Plan(declared, verified, head, objects)


def _tree(tags: list[str], first: int, count: int) -> tuple[_Node, str | None] | None:
    """The element tree of a layout and the root's ``verified`` attribute, or None unless it is one well-formed
    ``<annotation>`` element of plain tags."""
    stack: list[_Node] = []
    root: _Node | None = None
    verified = None
    for position in range(first, len(tags)):
        tag = tags[position]
        if root is not None and not stack:
            return None  # a second root
        if tag.startswith("/"):
            closed = _CLOSE.fullmatch(tag)
            if closed is None or not stack or stack.pop().tag != closed[1]:
                return None
        elif tag.endswith("/"):
            empty = _EMPTY.fullmatch(tag)
            if empty is None or not stack:
                return None
            stack[-1].children.append(_Node(empty[1], count, []))
        else:
            if _OPEN.fullmatch(tag):
                name = tag
            elif root is None and (attributed := _ROOT.fullmatch(tag)):
                name, verified = "annotation", attributed[1]
            else:
                return None
            if len(stack) >= MAX_DEPTH:
                return None  # lxml refuses elements nested past 256 (libxml2's limit): deep files are its to word
            node = _Node(name, 2 * position + 2, [])
            if root is None:
                root = node
            else:
                stack[-1].children.append(node)
            stack.append(node)
    if root is None or stack or root.tag != "annotation":
        return None
    return root, verified


def _leaf_fields(node: _Node) -> list[tuple[str, int]] | None:
    """(tag, text index) of a container's children, or None when one of them has children of its own."""
    if any(child.children for child in node.children):
        return None
    return [(child.tag, child.text) for child in node.children]


def _compile_object(node: _Node, count: int) -> _ObjectPlan | None:
    """An ``<object>`` with a name, one box of four coordinates, leaf fields, ``<part>``, ``<actions>``,
    ``<attributes>`` and nested fields of leaves; None for anything else."""
    name = box = None
    fields: list[tuple[int, Any, int]] = []
    for child in node.children:
        tag, leaf = child.tag, not child.children
        if tag in _LXML_FIELDS:
            return None
        if tag == "bndbox":
            box = _box_indices(child, count)
            if box is None:
                return None
            continue
        field = _compile_field(child, count) if tag in ("part", "actions", "attributes") or not leaf else None
        if field is not None:
            fields.append(field)
        elif not leaf:
            return None
        elif tag in ("part", "actions", "attributes"):
            return None  # a <part> without a box: lxml's reader words it
        elif tag == "name":
            name = child.text
        else:
            fields.append((_FLAG if tag in BOOL_TAGS else _POSE if tag == "pose" else _EXTRA, tag, child.text))
    if name is None or name == count or box is None:
        return None  # lxml's reader words these errors
    return _ObjectPlan(name, box, fields, any(operation == _ATTRIBUTES for operation, _, _ in fields))


def _box_indices(node: _Node, count: int) -> tuple[int, int, int, int] | None:
    """Text indices of a ``<bndbox>``'s four coordinates (the last of each, as lxml's reader takes them), None
    unless all four are there and none is empty."""
    found = dict(_leaf_fields(node) or ()) if node.children else {}
    if not all(key in found for key in BOX_TAGS):
        return None
    box = (found["xmin"], found["ymin"], found["xmax"], found["ymax"])
    return None if count in box else box


def _compile_field(node: _Node, count: int) -> tuple[int, Any, int] | None:
    """The operation of a nested object field, None when lxml must read it. ``<part>``: leaf children but one
    ``<bndbox>`` (its first name and box, as ``find`` takes them); ``<actions>`` and an unknown field: leaf
    children; ``<attributes>``: ``<attribute>`` children of leaves (each one's first name and value)."""
    tag = node.tag
    if tag == "part":
        name = box = None
        for child in node.children:
            if child.tag == "bndbox" and box is None:
                box = _box_indices(child, count)
                if box is None:
                    return None
            elif child.children:
                return None
            elif child.tag == "name" and name is None:
                name = child.text
        return None if box is None else (_PART, (None if name == count else name, box), 0)
    if tag == "attributes":
        pairs = []
        for child in node.children:
            leaves = _leaf_fields(child) if child.tag == "attribute" else None
            if leaves is None:
                return None
            first = {}
            for leaf_tag, at in leaves:
                first.setdefault(leaf_tag, at)
            pairs.append((first.get("name"), first.get("value")))
        return _ATTRIBUTES, pairs, 0
    leaves = _leaf_fields(node)
    if leaves is None or (tag in _KNOWN_FIELDS and tag != "actions"):
        return None
    return (_ACTIONS, leaves, 0) if tag == "actions" else (_NESTED, (tag, leaves), 0)
