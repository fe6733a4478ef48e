"""Suggestions ("did you mean ...?") for every name a user can mistype: one helper, used
everywhere.

Components, component options, scaffold.yaml keys, ``--set`` settings, secret names and
commands all go through :func:`unknown`, so a typo reads the same wherever it happens:
``unknown component 'certmanager'; did you mean cert-manager?``. Only the standard library is
imported here: ``cli.py`` uses it on the way to ``--help``.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from homelab_scaffold.wording import some_of

# difflib's ratio for "close enough to suggest"; its own default (0.6) also suggests names that
# share little more than a suffix ("vault" for "valid").
_CUTOFF = 0.7
_MAX_SUGGESTIONS = 3
_MAX_LISTED = 40


def _folded(name: str) -> str:
    """The form names are compared in: case, ``-``, ``_`` and spaces do not count."""
    return "".join(ch for ch in name.lower() if ch not in "-_ ")


def close_matches(word: str, choices: Iterable[str]) -> list[str]:
    """The choices ``word`` was probably meant to be, best first (at most three).

    A choice equal to ``word`` but for case and separators (``CertManager``, ``cert_manager``
    for ``cert-manager``) is the answer, then the one choice ``word`` begins (``regen``), then
    difflib's closest, compared in the same folded form.
    """
    by_folded: dict[str, str] = {}
    for choice in sorted(set(choices) - {word}):
        by_folded.setdefault(_folded(choice), choice)
    folded = _folded(word)
    if folded in by_folded:
        return [by_folded[folded]]
    # A unique prefix ("regen", "cert") is what the user started to type.
    starting = [c for f, c in by_folded.items() if len(folded) >= 3 and f.startswith(folded)]
    if len(starting) == 1:
        return starting
    close = difflib.get_close_matches(folded, list(by_folded), _MAX_SUGGESTIONS, _CUTOFF)
    return [by_folded[c] for c in close]


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """``"did you mean a?"`` (or ``"a or b"``), or "" when nothing is close."""
    found = close_matches(word, choices)
    if not found:
        return ""
    shown = found[0] if len(found) == 1 else f"{', '.join(found[:-1])} or {found[-1]}"
    return f"did you mean {shown}?"


def unknown(
    kind: str,
    word: str,
    choices: Iterable[str],
    *,
    listed_as: str = "valid",
    valid: str | None = None,
) -> str:
    """One line for a name that is not one of ``choices``.

    Args:
        kind: What the name is ("component", "option", "secret", "key", "command").
        word: What the user typed.
        choices: The valid names.
        listed_as: The words before the valid names when none is close.
        valid: How to show the valid names (default: listed, comma-separated).

    Returns:
        ``unknown component 'certmanager'; did you mean cert-manager?``, or without a close
        name ``unknown component 'x'; valid: a, b, c`` (a long list is cut short).
    """
    names = sorted(set(choices))
    hint = did_you_mean(word, names)
    if hint:
        return f"unknown {kind} {word!r}; {hint}"
    if valid is None:
        valid = some_of(names, _MAX_LISTED) or "none"
    return f"unknown {kind} {word!r}; {listed_as}: {valid}"
