"""Every manifest is a Kubernetes object: apiVersion, kind and metadata.name present."""

from __future__ import annotations

from homelab_scaffold.inspect.apps import Inventory
from homelab_scaffold.inspect.model import Document, Problem, dig

CHECK = "manifest"


def check_objects(inventory: Inventory) -> list[Problem]:
    """A problem for each manifest document that lacks apiVersion, kind or metadata.name."""
    problems = []
    for doc in inventory.manifests:
        reason = _missing(doc)
        if reason:
            problems.append(doc.problem(CHECK, reason))
    return problems


def _missing(doc: Document) -> str:
    if not isinstance(doc.body, dict):
        return (
            f"is a {_type_name(doc.body)}, not a Kubernetes object "
            "(a mapping with apiVersion, kind and metadata.name)"
        )
    missing = [key for key in ("apiVersion", "kind") if not _non_empty_text(doc.body.get(key))]
    if not _non_empty_text(dig(doc.body, "metadata", "name")) and not _generated_name(doc.body):
        missing.append("metadata.name")
    if not missing:
        return ""
    return (
        f"has no {_join(missing)}; every Kubernetes object needs apiVersion, kind and "
        "metadata.name"
    )


def _generated_name(body: dict[str, object]) -> bool:
    # Jobs and similar may use generateName instead of a fixed name.
    return _non_empty_text(dig(body, "metadata", "generateName"))


def _non_empty_text(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _type_name(value: object) -> str:
    if isinstance(value, list):
        return "list"
    if isinstance(value, str):
        return "plain string"
    return type(value).__name__


def _join(items: list[str]) -> str:
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + " or " + items[-1]
