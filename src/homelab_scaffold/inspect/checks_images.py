"""Container images are pinned: a tag other than ``latest``, or a digest.

Manifests are checked container by container (``containers``, ``initContainers``,
``ephemeralContainers`` wherever they appear: Pods, pod templates, CronJobs, custom resources).
Other YAML files (Helm values, compose files) are checked where they say ``image:``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from homelab_scaffold.inspect.apps import Inventory
from homelab_scaffold.inspect.model import Document, Problem

CHECK = "images"
CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")
_IMAGE_LIKE = re.compile(r"^[a-z0-9][a-z0-9._/:@-]*$", re.IGNORECASE)


def image_problem(image: str) -> str:
    """Why an image reference is not pinned ("" when it is)."""
    reference = image.strip()
    if "@" in reference:
        return ""  # a digest pins the content whatever the tag says
    last = reference.rsplit("/", 1)[-1]
    if ":" not in last:
        return (
            f"image '{reference}' has no tag, so it means 'latest'; pin a version tag or a digest"
        )
    tag = last.rsplit(":", 1)[1]
    if not tag:
        return f"image '{reference}' has an empty tag; pin a version tag or a digest"
    if tag == "latest":
        return f"image '{reference}' uses the 'latest' tag; pin a version tag or a digest"
    return ""


def check_images(inventory: Inventory) -> list[Problem]:
    """A problem for each unpinned image in a manifest or a values-like YAML file."""
    manifests = {id(doc) for doc in inventory.manifests}
    problems = []
    for doc in inventory.repo.documents():
        if id(doc) in manifests:
            problems.extend(_manifest_problems(doc))
        elif doc.body is not None:
            problems.extend(_values_problems(doc))
    return problems


def _manifest_problems(doc: Document) -> list[Problem]:
    problems = []
    for container in _containers(doc.body):
        image = container.get("image")
        if isinstance(image, str):
            reason = image_problem(image)
            if reason:
                name = container.get("name")
                prefix = f"container '{name}': " if isinstance(name, str) else ""
                problems.append(doc.problem(CHECK, prefix + reason))
    return problems


def _containers(value: Any) -> Iterator[dict[str, Any]]:
    """Every container mapping below ``value``."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key in CONTAINER_LISTS and isinstance(item, list):
                yield from (c for c in item if isinstance(c, dict))
            else:
                yield from _containers(item)
    elif isinstance(value, list):
        for item in value:
            yield from _containers(item)


def _values_problems(doc: Document) -> list[Problem]:
    problems = []
    for where, reason in _values_images(doc.body, ""):
        problems.append(doc.problem(CHECK, f"{where}: {reason}"))
    return problems


def _values_images(value: Any, where: str) -> Iterator[tuple[str, str]]:
    """(dotted key, reason) for ``image: name:latest`` strings and ``image: {tag: latest}``."""
    if isinstance(value, list):
        for index, item in enumerate(value):
            yield from _values_images(item, f"{where}[{index}]")
        return
    if not isinstance(value, dict):
        return
    for key, item in value.items():
        here = f"{where}.{key}" if where else str(key)
        if str(key).lower().endswith("image"):
            reason = _values_image_problem(item)
            if reason:
                yield here, reason
        yield from _values_images(item, here)


def _values_image_problem(item: Any) -> str:
    if isinstance(item, str) and _IMAGE_LIKE.match(item) and ":" in item.rsplit("/", 1)[-1]:
        return image_problem(item)  # untagged strings may be a repository only, so not judged
    if isinstance(item, dict) and item.get("tag") == "latest" and not item.get("digest"):
        return "the image tag is 'latest'; pin a version tag or a digest"
    return ""
