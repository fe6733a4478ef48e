"""Caps on YAML that someone else wrote, checked before anything is built from it.

A hostile or broken file must cost a one-line error, never a hang or runaway memory: a huge
file, an alias "bomb" (a few lines whose anchors and aliases expand to billions of nodes when a
later step walks them) or thousands of nested brackets. ``check_yaml_limits`` reads only the
parser's event stream (libyaml's C parser when available), so the check itself is cheap and
bounded; the callers (scaffold.yaml, ``--config`` files, catalogs, the files ``validate`` reads,
Helm ``index.yaml``) then parse as they always did.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_BYTES = 4 * 1024 * 1024
MAX_DEPTH = 64
# Nodes the document would hold with every alias expanded: generous for a Helm index (a large
# one has a few hundred thousand), far below what makes a later walk of it run away.
MAX_EXPANDED_NODES = 5_000_000


class YAMLLimitError(ValueError):
    """The text exceeds a cap; the message says which, in plain words."""


@dataclass(frozen=True)
class Limits:
    """How much YAML a caller accepts."""

    max_bytes: int = MAX_BYTES
    max_depth: int = MAX_DEPTH
    max_expanded_nodes: int = MAX_EXPANDED_NODES


DEFAULT_LIMITS = Limits()


def check_yaml_limits(text: str, limits: Limits = DEFAULT_LIMITS) -> None:
    """Refuse YAML that is too large, too deep, or expands through aliases beyond the caps.

    Syntax errors are not reported here (the caller's parser words them better).

    Raises:
        YAMLLimitError: A cap is exceeded.
    """
    size = len(text.encode("utf-8", errors="surrogateescape"))
    if size > limits.max_bytes:
        raise YAMLLimitError(
            f"is {_mib(size)}, larger than the {_mib(limits.max_bytes)} scaffold reads"
        )
    if _plainly_small(text, limits):
        return
    try:
        _walk_events(text, limits)
    except _SyntaxProblem:
        return


_DEEP_INDENT = re.compile(r"^[ \t-]{32,}", re.MULTILINE)


def _plainly_small(text: str, limits: Limits) -> bool:
    """True when no anchor can expand and the nesting cannot reach the cap: without ``&`` there
    are no aliases to expand, and every level of nesting costs a bracket or a column of indent."""
    if "&" in text or limits.max_depth < 64:
        return False
    brackets = text.count("[") + text.count("{")
    return brackets < 32 and _DEEP_INDENT.search(text) is None


class _SyntaxProblem(Exception):
    pass


def _events(text: str):  # type: ignore[no-untyped-def]
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        yield from yaml.parse(text, Loader=loader)
    except yaml.YAMLError as exc:
        raise _SyntaxProblem from exc


def _walk_events(text: str, limits: Limits) -> None:
    import yaml

    anchors: dict[str, int] = {}
    # One frame per open collection: (anchor or None, nodes inside it so far).
    stack: list[tuple[str | None, int]] = []
    total = 0
    for event in _events(text):
        if isinstance(event, yaml.AliasEvent):
            size = anchors.get(str(event.anchor), 1)
        elif isinstance(event, yaml.ScalarEvent):
            size = 1
            if event.anchor is not None:
                anchors[str(event.anchor)] = 1
        elif isinstance(event, yaml.CollectionStartEvent):
            stack.append((event.anchor, 1))
            if len(stack) > limits.max_depth:
                raise YAMLLimitError(f"is nested more than {limits.max_depth} levels deep")
            continue
        elif isinstance(event, yaml.CollectionEndEvent):
            anchor, size = stack.pop()
            if anchor is not None:
                anchors[str(anchor)] = size
        elif isinstance(event, yaml.DocumentEndEvent):
            total = 0
            continue
        else:
            continue
        total = _count(stack, size, total, limits)


def _count(stack: list[tuple[str | None, int]], size: int, total: int, limits: Limits) -> int:
    if stack:
        anchor, inside = stack[-1]
        stack[-1] = (anchor, inside + size)
        return total
    total += size
    if total > limits.max_expanded_nodes:
        raise YAMLLimitError(
            "expands through aliases (*name) to more than "
            f"{limits.max_expanded_nodes:,} values; write the values out instead"
        )
    return total


def _mib(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MiB"
