"""The JSON Schemas shipped with the catalog, and their errors as one plain line.

``component.schema.json`` documents and checks ``component.yaml``; ``known-charts.schema.json``
checks ``templates/known-charts.yaml``. Both are read with ``importlib.resources`` and compiled
once per process; jsonschema is imported only when a catalog is actually loaded.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from functools import cache
from importlib.resources import files
from typing import Any

from homelab_scaffold.errors import CatalogError
from homelab_scaffold.suggest import unknown

COMPONENT_SCHEMA = "component"
KNOWN_CHARTS_SCHEMA = "known-charts"
SHIPPED = (COMPONENT_SCHEMA, KNOWN_CHARTS_SCHEMA)
_TYPE_WORDS = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "null": "nothing (null)",
}
# Keywords whose failure is best explained by what the failing schema describes.
_DESCRIBED = frozenset({"pattern", "minLength", "maxLength", "not", "const", "format"})


@cache
def schema_text(name: str) -> str:
    """The text of ``<name>.schema.json`` of this package."""
    return (files("homelab_scaffold.catalog") / f"{name}.schema.json").read_text(encoding="utf-8")


@cache
def load_schema(name: str) -> dict[str, Any]:
    """The parsed ``<name>.schema.json`` of this package."""
    schema: dict[str, Any] = json.loads(schema_text(name))
    return schema


def component_groups() -> tuple[str, ...]:
    """The catalog groups, in the order ``scaffold list`` shows them (the schema's enum)."""
    return tuple(load_schema(COMPONENT_SCHEMA)["$defs"]["group"]["enum"])


@cache
def schema_digest() -> str:
    """A short hash of every shipped schema: what a cached check result was checked against."""
    text = "\n".join(schema_text(name) for name in SHIPPED)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@cache
def _validator(name: str) -> Any:
    from jsonschema.validators import Draft202012Validator  # type: ignore[import-untyped]
    from referencing import Registry, Resource

    # The schemas refer to each other by file name ("component.schema.json#/$defs/name").
    registry: Registry[Any] = Registry().with_resources(
        (f"{shipped}.schema.json", Resource.from_contents(load_schema(shipped)))
        for shipped in SHIPPED
    )
    return Draft202012Validator(load_schema(name), registry=registry)


def check_against_schema(name: str, data: Any, where: str) -> None:
    """Check ``data`` against schema ``name``.

    Raises:
        CatalogError: One line, ``<where>: at <key path>: <what is wrong and what is valid>``.
    """
    from jsonschema.exceptions import best_match  # type: ignore[import-untyped]

    error = best_match(_validator(name).iter_errors(data))
    if error is not None:
        path, message = describe(error)
        raise CatalogError(f"{where}: at {dotted(path) or 'top level'}: {message}")


def describe(error: Any) -> tuple[list[Any], str]:
    """A jsonschema error as (key path, plain words naming what is valid)."""
    path = list(error.absolute_path)
    kind, schema, value = error.validator, error.schema, error.instance
    if kind == "additionalProperties" and isinstance(value, dict):
        extras = unexpected_keys(value, schema)
        if extras:
            return [*path, extras[0]], unknown("key", extras[0], schema.get("properties") or {})
    if kind == "required":
        return _missing(error, path)
    if kind == "enum":
        choices = ", ".join(c if isinstance(c, str) else shown(c) for c in error.validator_value)
        return path, f"{shown(value)} is not one of: {choices}"
    if kind == "type":
        return path, f"expected {_type_words(error.validator_value)}, got {shown(value)}"
    if kind in _DESCRIBED and isinstance(schema, dict) and schema.get("description"):
        return path, f"{shown(value)} is not valid: expected {schema['description']}"
    if kind == "uniqueItems":
        return path, "lists the same item twice"
    return path, error.message.replace("\n", " ")


def _missing(error: Any, path: list[Any]) -> tuple[list[Any], str]:
    missing = [key for key in error.validator_value if key not in error.instance]
    return path, f"missing required key {missing[0]!r}"


def _type_words(expected: str | Sequence[str]) -> str:
    names = [expected] if isinstance(expected, str) else list(expected)
    return " or ".join(_TYPE_WORDS.get(name, name) for name in names)


def shown(value: Any) -> str:
    """A value as a message shows it: strings quoted, YAML's words for true/false/null."""
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, bool) or value is None or isinstance(value, (int, float)):
        return json.dumps(value)
    text = json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def unexpected_keys(instance: dict[Any, Any], schema: Any) -> list[str]:
    """Keys of ``instance`` that neither ``properties`` nor ``patternProperties`` allow."""
    import re

    if not isinstance(schema, dict):
        return []
    known = schema.get("properties") or {}
    patterns = list((schema.get("patternProperties") or {}).keys())
    return sorted(
        str(key)
        for key in instance
        if key not in known and not any(re.search(p, str(key)) for p in patterns)
    )


def dotted(path: Sequence[Any]) -> str:
    """``["spec", "sources", 0, "repoURL"]`` -> ``spec.sources[0].repoURL``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text
