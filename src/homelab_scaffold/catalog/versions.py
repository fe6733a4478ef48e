"""Chart versions: parsing, ordering and range checks (a leading ``v`` is kept but ignored)."""

from __future__ import annotations

import re
from dataclasses import dataclass

_VERSION = re.compile(
    r"^v?(0|[1-9]\d*)\.(0|[1-9]\d*)(?:\.(0|[1-9]\d*))?"
    r"(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z.-]+)?\Z"
)


@dataclass(frozen=True, order=True)
class Version:
    """A semantic version; pre-releases sort before their release."""

    major: int
    minor: int
    patch: int
    is_release: bool
    prerelease: str

    @property
    def stable(self) -> bool:
        """True for a release (no pre-release suffix)."""
        return self.is_release


def parse_version(text: str) -> Version | None:
    """Parse ``v1.2.3``/``1.2.3``/``1.2``/``1.2.3-rc.1``; None when it is not a version."""
    match = _VERSION.match(text) if isinstance(text, str) else None
    if match is None:
        return None
    major, minor, patch, pre = match.groups()
    return Version(int(major), int(minor), int(patch or 0), pre is None, pre or "")


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
