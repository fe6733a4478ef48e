"""Which Helm values keys moved between two renders (told to the user on `upgrade`)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from homelab_scaffold.catalog.model import Component


def leaf_keys(data: Any, prefix: str = "") -> Iterator[str]:
    """Dotted paths of every leaf of a YAML mapping."""
    if isinstance(data, dict) and data:
        for key, value in data.items():
            yield from leaf_keys(value, f"{prefix}.{key}" if prefix else str(key))
    elif prefix:
        yield prefix


def _keys(text: str | None) -> set[str]:
    if not text:
        return set()
    try:
        return set(leaf_keys(YAML(typ="safe", pure=True).load(text)))
    except YAMLError:
        return set()


def moved_keys(old: Mapping[str, str], new: Mapping[str, str], component: Component) -> list[str]:
    """Lines naming the values keys a version change removed and added, per values file."""
    lines = []
    for app in component.applications:
        if app.type != "helm":
            continue
        path = f"kubernetes/{app.path}/values.yaml"
        before, after = _keys(old.get(path)), _keys(new.get(path))
        gone, came = sorted(before - after), sorted(after - before)
        if gone or came:
            removed, added = ", ".join(gone) or "none", ", ".join(came) or "none"
            lines.append(f"{path}: keys moved: removed {removed}; added {added}")
    return lines
