"""Chart versions: parsing, ordering and range checks (a leading ``v`` is kept but ignored).

Ordering is Semantic Versioning 2.0.0 precedence, delegated to the ``semver`` package:
pre-release identifiers compare one by one, numerically when they are numbers
(``1.0.0-rc.9 < 1.0.0-rc.10 < 1.0.0``), and build metadata (``+build.5``) does not count.
Helm charts also write ``1.2`` for ``1.2.0``; that form is accepted here as well.
"""

from __future__ import annotations

import re

import semver

_IDENTIFIER = r"(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)"
_VERSION = re.compile(
    r"^v?(0|[1-9]\d*)\.(0|[1-9]\d*)(?:\.(0|[1-9]\d*))?"
    rf"(?:-({_IDENTIFIER}(?:\.{_IDENTIFIER})*))?(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?\Z"
)


class Version(semver.Version):
    """A semantic version; pre-releases sort before their release, identifier by identifier."""

    __slots__ = ()

    @property
    def stable(self) -> bool:
        """True for a release (no pre-release suffix)."""
        return self.prerelease is None

    @property
    def is_release(self) -> bool:
        """The same as ``stable`` (the name older callers use)."""
        return self.stable


def parse_version(text: str) -> Version | None:
    """Parse ``v1.2.3``/``1.2.3``/``1.2``/``1.2.3-rc.1``; None when it is not a version."""
    match = _VERSION.match(text) if isinstance(text, str) else None
    if match is None:
        return None
    major, minor, patch, pre, build = match.groups()
    # Built from the parts matched above, not Version.parse, so "1.2" and the leading v keep
    # meaning what they always meant here.
    return Version(int(major), int(minor), int(patch or 0), pre, build)


def is_version(text: str) -> bool:
    """True when ``text`` is a semantic version (optionally with a leading v)."""
    return parse_version(text) is not None


def require_version(text: str) -> Version:
    """Parse a version the caller already validated."""
    version = parse_version(text)
    if version is None:
        raise ValueError(f"not a version: {text!r}")
    return version


def version_at_least(text: str, minimum: str) -> bool:
    """Jinja test: ``version is version_at_least('1.15.0')``."""
    return require_version(text) >= require_version(minimum)


def version_below(text: str, limit: str) -> bool:
    """Jinja test: ``version is version_below('34.0.0')``."""
    return require_version(text) < require_version(limit)
