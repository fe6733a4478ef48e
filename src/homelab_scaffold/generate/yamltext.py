"""Jinja filters that put user values into YAML safely (no YAML injection through templates)."""

from __future__ import annotations

import json
from typing import Any

# Characters YAML treats as line breaks or forbids raw inside a double-quoted scalar.
_YAML_ESCAPES = {"\x85": "\\N", "\u2028": "\\L", "\u2029": "\\P", "\ufeff": "\\ufeff"}


def to_yaml_value(value: Any) -> str:
    """A scalar as a YAML flow value that reads back exactly as ``value``.

    Strings are always double-quoted (JSON escapes are valid YAML escapes), so a colon, ``#``,
    quote, newline or a leading ``*``/``&``/``!`` cannot change the document's structure.
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int | float):
        return json.dumps(value)
    if isinstance(value, list | tuple | dict):
        return to_yaml_flow(value)
    text = json.dumps(str(value), ensure_ascii=False)
    return "".join(_escape(char) for char in text)


def _yaml_printable(code: int) -> bool:
    # YAML 1.2's c-printable, minus the break characters it treats as line ends.
    return (
        code in (0x09, 0x0A, 0x0D)
        or 0x20 <= code <= 0x7E
        or 0xA0 <= code <= 0xD7FF
        or 0xE000 <= code <= 0xFFFD
        or 0x10000 <= code <= 0x10FFFF
    ) and code not in (0x2028, 0x2029, 0xFEFF)


def _escape(char: str) -> str:
    if char in _YAML_ESCAPES:
        return _YAML_ESCAPES[char]
    code = ord(char)
    if _yaml_printable(code):
        return char
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def to_yaml_flow(value: Any) -> str:
    """A list or mapping as a one-line YAML flow collection of safely quoted scalars."""
    if isinstance(value, dict):
        items = ", ".join(f"{to_yaml_value(str(k))}: {to_yaml_value(v)}" for k, v in value.items())
        return "{" + items + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(to_yaml_value(v) for v in value) + "]"
    return to_yaml_value(value)
