"""What a partial chart version could mean: ``41`` or ``1.21`` is not a pin.

A chart pin names one release (MAJOR.MINOR.PATCH), so Renovate can bump it and a render is the
same tomorrow. When a user types part of one, the chart's Helm repository index says which
releases it could mean; without the index (no network, an OCI registry) the answer is the rule.
"""

from __future__ import annotations

from collections.abc import Iterable

from homelab_scaffold.catalog.options import partial_version
from homelab_scaffold.catalog.versions import Version, parse_version
from homelab_scaffold.errors import NetworkError
from homelab_scaffold.inspect.charts import download_index
from homelab_scaffold.inspect.helm_index import chart_versions, index_url

INDEX_TIMEOUT = 5.0
_SHOWN = 8


def versions_meant(typed: str, listed: Iterable[str]) -> list[str]:
    """The stable releases whose leading numbers are ``typed``'s, oldest first."""
    prefix = partial_version(typed)
    if prefix is None:
        return []
    found: dict[Version, str] = {}
    for text in listed:
        version = parse_version(text)
        if version is not None and version.stable:
            numbers = (version.major, version.minor, version.patch)
            if numbers[: len(prefix)] == prefix:
                found.setdefault(version, text)
    return [found[v] for v in sorted(found)]


def newest_release(listed: Iterable[str]) -> str | None:
    """The highest stable version listed (None when there is none)."""
    releases = {v: text for text in listed if (v := parse_version(text)) is not None and v.stable}
    return releases[max(releases)] if releases else None


def listed_versions(repository: str, chart: str, timeout: float = INDEX_TIMEOUT) -> list[str]:
    """Every version of ``chart`` the repository's index lists.

    Raises:
        NetworkError: The index cannot be read (offline, an OCI registry, not an index).
    """
    if repository.startswith("oci://"):
        raise NetworkError(f"{repository} is an OCI registry (no index to list versions from)")
    versions = chart_versions(download_index(repository, timeout), chart)
    if versions is None:
        raise NetworkError(f"{index_url(repository)} is not a Helm repository index")
    return versions


def partial_pin_message(
    typed: str, chart: str, repository: str, what: str, *, offline: bool = False
) -> str:
    """Why ``typed`` (a partial version, e.g. ``41``) is refused, with the releases it could
    mean when the repository's index can be read.

    Args:
        typed: What the user typed.
        chart: The chart's name in its repository.
        repository: The Helm repository URL.
        what: How the user gave it, for the message (``--version``).
        offline: Do not read the index (``--offline``): state the rule only.
    """
    rule = f"{what} {typed!r}: a chart pin is a full version MAJOR.MINOR.PATCH"
    example = ".".join([typed, *["0"] * (2 - typed.count("."))])
    if offline:
        return f"{rule}, e.g. {example}"
    try:
        listed = listed_versions(repository, chart)
    except NetworkError as exc:
        return f"{rule}, e.g. {example} (could not list {chart}'s versions: {exc.message})"
    meant = versions_meant(typed, listed)
    if not meant:
        newest = newest_release(listed)
        hint = f"; its newest release is {newest}" if newest else ""
        return f"{rule}, and {chart} has no {typed}.x release in {repository}{hint}"
    shown = meant[-_SHOWN:]
    more = f"{len(meant) - len(shown)} older, " if len(meant) > len(shown) else ""
    return f"{rule}; {chart} {typed} could mean {more}{', '.join(shown)} (newest: {meant[-1]})"
