"""Chart versions order by Semantic Versioning 2.0.0, pre-releases identifier by identifier."""

from __future__ import annotations

import pytest

from homelab_scaffold.catalog.versions import (
    is_version,
    parse_version,
    require_version,
    version_at_least,
    version_below,
)
from homelab_scaffold.inspect.outdated import newer_versions

# The precedence example of semver.org section 11, plus numbers that sort wrongly as text.
ASCENDING = [
    "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2",
    "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0-rc.9", "1.0.0-rc.10", "1.0.0", "1.0.1", "1.2.0",
    "1.10.0", "v2.0.0-0", "v2.0.0-1", "v2.0.0-a",
]


def test_precedence_follows_semver() -> None:
    parsed = [require_version(v) for v in ASCENDING]

    assert all(a < b for a, b in zip(parsed, parsed[1:], strict=False))
    assert sorted(reversed(parsed)) == parsed


def test_release_candidate_ten_is_newer_than_nine() -> None:
    assert require_version("1.0.0-rc.10") > require_version("1.0.0-rc.9")
    assert version_at_least("1.0.0-rc.10", "1.0.0-rc.9")
    assert version_below("1.0.0-rc.10", "1.0.0")


def test_newer_versions_orders_pre_releases_by_semver() -> None:
    listed = ["1.0.0-rc.2", "1.0.0-rc.10", "1.0.0-rc.9", "1.0.0", "0.9.0"]

    found = newer_versions(listed, require_version("1.0.0-rc.2"), pre_releases=True)

    assert found == ("1.0.0-rc.9", "1.0.0-rc.10", "1.0.0")


def test_leading_v_short_form_and_build_metadata() -> None:
    assert require_version("v1.21.1") == require_version("1.21.1")
    assert require_version("1.2") == require_version("1.2.0")
    assert require_version("1.0.0+build.1") == require_version("1.0.0+build.2")
    assert require_version("1.0.0").stable
    assert not require_version("1.0.0-rc.1").stable


@pytest.mark.parametrize("text", ["1", "01.2.3", "1.2.3-rc.01", "1.2.3-", "1.2.3+", "latest",
                                  "1.2.3.4", "", "v", "1.2.3-rc..1"])
def test_not_versions(text: str) -> None:
    assert parse_version(text) is None
    assert not is_version(text)
    with pytest.raises(ValueError):
        require_version(text)
