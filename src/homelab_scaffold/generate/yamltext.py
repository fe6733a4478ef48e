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
    if text.isascii() and text.isprintable():
        return text  # the common case: nothing YAML would read differently
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


# ---------------------------------------------------------------------------------------------
# Round-trip YAML text: scaffold.yaml and the documents scaffold writes with ruamel.yaml


def round_trip_yaml() -> Any:
    """ruamel.yaml's round-trip loader/dumper, set up the way scaffold writes YAML."""
    from ruamel.yaml import YAML

    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 4096
    return yaml


def load_yaml_text(text: str, source: str) -> Any:
    """Parse YAML round-trip (comments kept) after the size, depth and alias caps.

    Raises:
        ConfigError: One line naming ``source`` and what is wrong.
    """
    from ruamel.yaml.error import YAMLError

    from homelab_scaffold.errors import ConfigError
    from homelab_scaffold.yamlio import YAMLLimitError, check_yaml_limits

    try:
        check_yaml_limits(text)
    except YAMLLimitError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    try:
        return round_trip_yaml().load(text)
    except (YAMLError, RecursionError) as exc:
        raise ConfigError(f"{source}: not valid YAML{_where(exc)}: {_problem(exc, text)}") from exc


def _where(exc: BaseException) -> str:
    mark = getattr(exc, "problem_mark", None)
    return f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""


def _problem(exc: BaseException, text: str) -> str:
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    if "\t" in text and "\t" in str(exc):
        return "a tab character; indent YAML with spaces, not tabs"
    return str(getattr(exc, "problem", None) or str(exc).splitlines()[0])


def dump_yaml(data: Any) -> str:
    """Serialise round-trip YAML (keeps comments and quoting of loaded documents)."""
    import io

    stream = io.StringIO()
    round_trip_yaml().dump(data, stream)
    return stream.getvalue()
