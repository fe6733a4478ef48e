"""Words for messages that name a few of many things: ``README.md and 3 more have ...``."""

from __future__ import annotations

from collections.abc import Sequence


def some_of(names: Sequence[str], shown: int = 1) -> str:
    """The first ``shown`` names and how many more: ``a``, ``a and 3 more``, ``a, b and 1 more``."""
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


def agreeing(count: int, singular: str, plural: str) -> str:
    """The verb (or noun) that agrees with ``count`` things: ``has`` for one, ``have`` else."""
    return singular if count == 1 else plural
