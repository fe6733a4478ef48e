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
    for raw, escaped in _YAML_ESCAPES.items():
        text = text.replace(raw, escaped)
    return text


def to_yaml_flow(value: Any) -> str:
    """A list or mapping as a one-line YAML flow collection of safely quoted scalars."""
    if isinstance(value, dict):
        items = ", ".join(f"{to_yaml_value(str(k))}: {to_yaml_value(v)}" for k, v in value.items())
        return "{" + items + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(to_yaml_value(v) for v in value) + "]"
    return to_yaml_value(value)
