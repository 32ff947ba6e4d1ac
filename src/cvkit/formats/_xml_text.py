"""Pretty-printed XML written from text templates: the bytes ``lxml.etree.tostring(..., pretty_print=True)``
gives, at a fifth of its cost. Writers of one XML file per image (Pascal VOC, MIT LabelMe) write plain samples
so and build anything else with lxml; their tests compare both byte for byte."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

#: a tag name the templates write as it is (anything else goes to lxml, which checks it)
XML_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*\Z")
#: characters XML 1.0 cannot hold: lxml refuses them with a ValueError, which the lxml path then raises
NOT_XML_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_TEXT_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})
_ATTRIBUTE_ESCAPES = str.maketrans(
    {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\n": "&#10;", "\t": "&#9;", "\r": "&#13;"}
)


class NotPlain(Exception):
    """Something a template leaves to lxml."""


def escape_text(text: str) -> str:
    """``text`` escaped as libxml2 escapes element text (``&``, ``<``, ``>``, carriage returns)."""
    return text.translate(_TEXT_ESCAPES)


def escape_attribute(text: str) -> str:
    """``text`` escaped as libxml2 escapes a double-quoted attribute value."""
    return text.translate(_ATTRIBUTE_ESCAPES)


def filename_element(name: str) -> bytes:
    """The ``<filename>`` element the templates and lxml write for ``name``: a writer that renames an image after
    its XML was encoded replaces it."""
    return f"<filename>{escape_text(name)}</filename>".encode()


@lru_cache(maxsize=8192)
def _escaped(text: str) -> str | None:
    """``text`` escaped as libxml2 escapes element text; None when XML cannot hold one of its characters.
    Cached: labels, poses and folders repeat across a dataset."""
    return None if NOT_XML_TEXT.search(text) else text.translate(_TEXT_ESCAPES)


def leaf(indent: str, tag: str, value: Any) -> str:
    """One pretty-printed element holding text, ``str(value)`` (``<tag/>`` for None); :class:`NotPlain` when XML
    cannot hold the text."""
    if value is None:
        return f"{indent}<{tag}/>\n"
    text = _escaped(value if type(value) is str else str(value))
    if text is None:
        raise NotPlain
    return f"{indent}<{tag}>{text}</{tag}>\n"


def coordinate(value: float) -> float | int:
    """:func:`~cvkit.core.geometry.clean_number` of ``value`` rounded to 6 decimals, inline."""
    value = round(value, 6)
    return int(value) if type(value) is float and value.is_integer() else value


def sub_element(parent: Any, tag: str, text: Any = None) -> Any:
    """A new lxml element ``tag`` at the end of ``parent``, holding ``str(text)`` unless None (the lxml paths)."""
    element = parent.makeelement(tag)
    parent.append(element)
    if text is not None:
        element.text = str(text)
    return element
