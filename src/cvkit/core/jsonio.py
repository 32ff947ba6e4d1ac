"""Fast JSON: orjson (several times faster than the standard library on large COCO files)."""

from __future__ import annotations

from typing import Any

import orjson

JSONDecodeError = orjson.JSONDecodeError


def loads(data: bytes | str) -> Any:
    return orjson.loads(data)


def dumps(obj: Any, indent: bool = False) -> bytes:
    """UTF-8 JSON bytes; non-ASCII kept as is (file names and labels in any script)."""
    option = orjson.OPT_SERIALIZE_NUMPY | (orjson.OPT_INDENT_2 if indent else 0)
    return orjson.dumps(obj, option=option)


def dumps_line(obj: Any) -> bytes:
    """One JSON Lines record, newline included."""
    return orjson.dumps(obj, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_APPEND_NEWLINE)


def error_location(exc: Exception, data: bytes | str) -> str:
    """``line N, column M`` of a decode error, for messages that name the spot."""
    pos = getattr(exc, "pos", None)
    if pos is None:
        return ""
    text = data if isinstance(data, str) else data[:pos].decode("utf-8", "replace")
    prefix = text[:pos] if isinstance(data, str) else text
    line = prefix.count("\n") + 1
    column = len(prefix) - (prefix.rfind("\n") + 1) + 1
    return f"line {line}, column {column}"
