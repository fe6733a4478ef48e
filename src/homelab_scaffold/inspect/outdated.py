"""``scaffold outdated``: newer chart versions for every Helm Application of a repository, and
whether upgrading to them is clean for the values the repository sets.

Each Helm repository's ``index.yaml`` is read once (``helm_index`` picks a chart's versions out
of it without parsing the whole file). For an outdated chart, the values check runs against at
most two versions: the newest listed, and the newest within the current major version when that
is another one (the upgrade that breaks least). When a version's archive cannot be read (a digest
that does not match, an archive that is gone), the next newest is checked instead, at most
``MAX_TRIES`` versions per check, and the output says why. So a chart with dozens of newer
versions costs a few archive downloads (all cached), not dozens; the change notes of every newer
version come from the index, which carries each version's ``artifacthub.io/changes``. OCI
registries have no index and are reported as not checked.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from homelab_scaffold.catalog.versions import Version, parse_version, require_version
from homelab_scaffold.errors import NetworkError
from homelab_scaffold.inspect.apps import Inventory, build_inventory
from homelab_scaffold.inspect.chart_check import (
    ChartRef,
    UpgradeCheck,
    chart_refs,
    check_upgrade_of,
)
from homelab_scaffold.inspect.charts import ChartError, ChartFetcher
from homelab_scaffold.inspect.helm_index import Change, chart_versions, index_url
from homelab_scaffold.inspect.loader import load_repo, own_urls
from homelab_scaffold.inspect.values_check import finding_data

UP_TO_DATE = "up-to-date"
OUTDATED = "outdated"
NOT_CHECKED = "not-checked"
ERROR = "error"
OCI_REASON = "OCI registry: it has no index.yaml to read; list the chart's tags in the registry"
MAX_CHANGE_LINES = 12
NEWEST = "newest"
NEWEST_IN_MAJOR = "newest-in-major"
# Versions tried per check when archives cannot be read: the newest and two fallbacks.
MAX_TRIES = 3


@dataclass(frozen=True)
class VersionCheck:
    """The values check against one newer version: the newest (``NEWEST``), or the newest of
    the current major version (``NEWEST_IN_MAJOR``).

    ``skipped`` lists the newer versions tried first whose archive could not be read, with why;
    ``version`` is the one checked ("" when none could be read, ``error`` then says so).
    """

    scope: str
    version: str
    check: UpgradeCheck | None = None
    skipped: tuple[tuple[str, str], ...] = ()

    @property
    def error(self) -> str:
        """Why no version was checked ("" when one was)."""
        if self.version:
            return ""
        return f"no archive could be read (tried {', '.join(v for v, _ in self.skipped)})"

    @property
    def tried(self) -> str:
        """The version checked, or else the first one tried."""
        return self.version or (self.skipped[0][0] if self.skipped else "")

    @property
    def summary(self) -> str:
        """``clean``, ``N findings``, ``error`` or ``-`` (not checked)."""
        if not self.version:
            return "error"
        if self.check is None or not self.check.checked:
            return "-"
        count = len(self.check.findings)
        if not count:
            return "clean"
        return f"{count} finding{'s' if count != 1 else ''}"


@dataclass(frozen=True)
class ChartStatus:
    """One chart of one Application, how its pinned version compares with the repository, and
    (when newer versions exist) what upgrading to the newest would mean for its values."""

    application: str
    file: str
    chart: str
    repository: str
    current: str
    status: str
    newer: tuple[str, ...] = ()
    reason: str = ""
    changes: tuple[tuple[str, tuple[Change, ...]], ...] = ()
    upgrades: tuple[VersionCheck, ...] = ()

    @property
    def latest(self) -> str:
        """The newest listed version ("" when up to date or not checked)."""
        return self.newer[-1] if self.newer else ""

    @property
    def upgrade_summary(self) -> str:
        """The UPGRADE cell: ``clean``, ``N findings``, ``error`` or ``-`` for the newest version
        alone; ``VERSION: summary`` for each version checked when it is not only the newest."""
        if not self.upgrades:
            return "-"
        first = self.upgrades[0]
        if len(self.upgrades) == 1 and first.version == self.latest:
            return first.summary
        return ", ".join(f"{u.tried}: {u.summary}" for u in self.upgrades)


def check_outdated(
    root: Path,
    *,
    pre_releases: bool = False,
    timeout: float = 10.0,
    values_check: bool = True,
    cache_dir: Path | None = None,
) -> list[ChartStatus]:
    """The status of every chart of the repository at ``root``.

    Args:
        root: The repository.
        pre_releases: Also list pre-release versions.
        timeout: Seconds for each download (an index, a chart archive).
        values_check: Check the values against the newest version and the newest of the
            current major (a few archive downloads per outdated chart, kept in the chart cache).
        cache_dir: The chart cache (default ``$XDG_CACHE_HOME/scaffold/charts``).
    """
    inventory = build_inventory(load_repo(root).repo, own_urls(root))
    fetcher = ChartFetcher(cache_dir=cache_dir, timeout=timeout)
    statuses = []
    for ref in chart_refs(inventory):
        status = _status(ref, fetcher, pre_releases)
        if status.status == OUTDATED:
            status = _with_changes(status, fetcher)
            if values_check:
                status = _with_upgrade_checks(status, inventory, ref, fetcher)
        statuses.append(status)
    return statuses


def _status(ref: ChartRef, fetcher: ChartFetcher, pre_releases: bool) -> ChartStatus:
    source = ref.source
    base = ChartStatus(ref.application, ref.file, source.chart, source.repo_url,
                       source.target_revision, NOT_CHECKED)
    if source.is_oci:
        return replace(base, status=NOT_CHECKED, reason=OCI_REASON)
    current = parse_version(source.target_revision)
    if current is None:
        reason = f"targetRevision {source.target_revision!r} is not a version to compare with"
        return replace(base, status=ERROR, reason=reason)
    try:
        text = fetcher.index(source.repo_url)
    except NetworkError as exc:
        return replace(base, status=ERROR, reason=exc.message)
    versions = chart_versions(text, source.chart)
    if versions is None:
        reason = f"{index_url(source.repo_url)} is not a Helm repository index (no 'entries')"
        return replace(base, status=ERROR, reason=reason)
    if not versions:
        reason = f"chart '{source.chart}' is not in {index_url(source.repo_url)}"
        return replace(base, status=ERROR, reason=reason)
    newer = newer_versions(versions, current, pre_releases=pre_releases)
    return replace(base, status=OUTDATED if newer else UP_TO_DATE, newer=newer)


def _with_changes(status: ChartStatus, fetcher: ChartFetcher) -> ChartStatus:
    """The change notes the index lists for each newer version (newest first)."""
    try:
        entries = fetcher.entries(status.repository, status.chart)
    except ChartError:
        return status  # the versions were read; notes are a bonus
    notes = {entry.version: entry.changes for entry in entries if entry.changes}
    changes = tuple((v, notes[v]) for v in reversed(status.newer) if v in notes)
    return replace(status, changes=changes)


def _with_upgrade_checks(
    status: ChartStatus, inventory: Inventory, ref: ChartRef, fetcher: ChartFetcher
) -> ChartStatus:
    """The values checked against the newest version and, when it is another one, the newest
    of the current major; a version whose archive cannot be read gives way to the next newest."""
    failures: dict[str, str] = {}
    newest_first = list(reversed(status.newer))
    upgrades = [_first_readable(NEWEST, newest_first, inventory, ref, fetcher, failures)]
    major = require_version(status.current).major
    in_major = [v for v in newest_first if require_version(v).major == major]
    if in_major and in_major[0] != status.latest and upgrades[0].version not in in_major:
        upgrades.append(_first_readable(NEWEST_IN_MAJOR, in_major, inventory, ref, fetcher,
                                        failures))
    changes = dict(status.changes)
    for upgrade in upgrades:
        # A version's own Chart.yaml is the better source of its notes.
        if upgrade.check is not None and upgrade.check.changes:
            changes[upgrade.version] = upgrade.check.changes
    ordered = tuple((v, changes[v]) for v in newest_first if v in changes)
    return replace(status, upgrades=tuple(upgrades), changes=ordered)


def _first_readable(
    scope: str,
    candidates: list[str],
    inventory: Inventory,
    ref: ChartRef,
    fetcher: ChartFetcher,
    failures: dict[str, str],
) -> VersionCheck:
    """The check against the first of ``candidates`` (newest first) whose archive can be read,
    trying at most MAX_TRIES; ``failures`` (version -> why) is shared by a chart's checks so a
    broken archive is not downloaded twice."""
    skipped: list[tuple[str, str]] = []
    for version in candidates[:MAX_TRIES]:
        if version not in failures:
            try:
                check = check_upgrade_of(inventory, ref, version, fetcher)
            except (NetworkError, ChartError) as exc:
                failures[version] = exc.message
            else:
                return VersionCheck(scope, version, check, tuple(skipped))
        skipped.append((version, failures[version]))
    return VersionCheck(scope, "", skipped=tuple(skipped))


def newer_versions(
    versions: Iterable[str], current: Version, *, pre_releases: bool = False
) -> tuple[str, ...]:
    """Versions above ``current``, oldest first; pre-releases only when asked for."""
    found: dict[Version, str] = {}
    for text in versions:
        version = parse_version(text)
        if version is None or version <= current or not (version.stable or pre_releases):
            continue
        found.setdefault(version, text)
    return tuple(found[v] for v in sorted(found))


def unreachable(statuses: Iterable[ChartStatus]) -> list[ChartStatus]:
    """Charts whose repository could not be read or did not list them."""
    return [s for s in statuses if s.status == ERROR]


# --- output --------------------------------------------------------------------------------------


def to_json(statuses: Iterable[ChartStatus]) -> str:
    """The statuses as JSON for scripts."""
    rows = [
        {
            "application": s.application,
            "file": s.file,
            "chart": s.chart,
            "repository": s.repository,
            "current": s.current,
            "status": s.status,
            "latest": s.latest,
            "newer": list(s.newer),
            "reason": s.reason,
            "upgrade": _upgrade_json(s),
            "upgrades": [_version_check_json(u) for u in s.upgrades],
            "changes": {v: [_change_json(c) for c in notes] for v, notes in s.changes},
        }
        for s in statuses
    ]
    return json.dumps({"charts": rows}, indent=2, ensure_ascii=False)


def _upgrade_json(status: ChartStatus) -> dict[str, Any] | None:
    """The check against the newest version (as ``upgrade`` always had it)."""
    return _version_check_json(status.upgrades[0]) if status.upgrades else None


def _version_check_json(upgrade: VersionCheck) -> dict[str, Any]:
    check = upgrade.check
    return {
        "scope": upgrade.scope,
        "version": upgrade.tried,
        "checked": check is not None and check.checked,
        "clean": check is not None and check.clean,
        "findings": [finding_data(f) for f in (check.findings if check is not None else ())],
        "notes": list(check.notes) if check is not None else [],
        "skipped": [{"version": v, "reason": why} for v, why in upgrade.skipped],
        "error": upgrade.error,
    }


def _change_json(change: Change) -> dict[str, str]:
    return {"kind": change.kind, "description": change.description}


def text_lines(statuses: list[ChartStatus]) -> list[str]:
    """An aligned table, one chart per line, then the findings and change notes of each."""
    if not statuses:
        return ["No Helm chart Applications found."]
    rows = [("APPLICATION", "CHART", "CURRENT", "LATEST", "UPGRADE", "STATUS")]
    rows.extend(
        (s.application, s.chart or s.repository, s.current, s.latest or "-",
         s.upgrade_summary, _describe(s))
        for s in statuses
    )
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row[:5], widths, strict=True))
        + "  " + row[5]
        for row in rows
    ]
    for status in statuses:
        lines.extend(_details(status))
    if any(s.upgrades for s in statuses):
        lines.append("")
        lines.append("UPGRADE: the values checked against the newest version, and the newest of "
                     "the current major when that is another one (versions in between are not "
                     "checked).")
    return lines


def _describe(status: ChartStatus) -> str:
    if status.status == OUTDATED:
        return "newer: " + ", ".join(status.newer)
    if status.status == UP_TO_DATE:
        return "up to date"
    if status.status == NOT_CHECKED:
        return f"not checked: {status.reason}"
    return f"error: {status.reason}"


def _details(status: ChartStatus) -> list[str]:
    """Findings, versions that could not be read, and change notes below the table (nothing
    for a clean, note-less chart)."""
    lines: list[str] = []
    for upgrade in status.upgrades:
        body = _check_lines(upgrade)
        if body:
            lines.extend(["", _heading(status, upgrade.tried, upgrade), *body])
    changes = _change_lines(status)
    if changes and not lines:
        lines.extend(["", _heading(status, status.latest, None)])
    return [*lines, *changes]


def _heading(status: ChartStatus, version: str, upgrade: VersionCheck | None) -> str:
    heading = f"{status.application}: {status.chart} {status.current} -> {version}"
    if upgrade is not None and upgrade.scope == NEWEST_IN_MAJOR:
        heading += f" (newest of {require_version(status.current).major}.x)"
    return heading


def _check_lines(upgrade: VersionCheck) -> list[str]:
    body: list[str] = []
    for version, why in upgrade.skipped:
        body.append(f"  values not checked against {version}: {why}")
    if upgrade.skipped and upgrade.version:
        body.append(f"  checked {upgrade.version} instead (the next newest)")
    if upgrade.check is not None:
        body.extend(f"  {line}" for line in upgrade.check.lines())
        body.extend(f"  note: {note}" for note in upgrade.check.notes)
    return body


def _change_lines(status: ChartStatus) -> list[str]:
    lines: list[str] = []
    for version, notes in status.changes:
        lines.append(f"  changes in {version}:")
        lines.extend(f"    - {change}" for change in notes)
    if len(lines) > MAX_CHANGE_LINES:
        more = len(lines) - MAX_CHANGE_LINES
        lines = [*lines[:MAX_CHANGE_LINES], f"    ... {more} more lines (--output json has all)"]
    return lines
