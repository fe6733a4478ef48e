"""``scaffold outdated``: newer chart versions for every Helm Application of a repository, and
whether the newest one is a clean upgrade for the values the repository sets.

Each Helm repository's ``index.yaml`` is read once (``helm_index`` picks a chart's versions out
of it without parsing the whole file). For an outdated chart, the values check runs against the
newest listed version only, so that a chart with dozens of newer versions costs two archive
downloads (current and newest, both cached), not dozens; the change notes of every newer version
come from the index, which carries each version's ``artifacthub.io/changes``. OCI registries
have no index and are reported as not checked.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from homelab_scaffold.catalog.versions import Version, parse_version
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
    upgrade: UpgradeCheck | None = None
    upgrade_error: str = ""

    @property
    def latest(self) -> str:
        """The newest listed version ("" when up to date or not checked)."""
        return self.newer[-1] if self.newer else ""

    @property
    def upgrade_summary(self) -> str:
        """``clean``, ``N findings``, ``error`` or ``-`` (not checked)."""
        if self.upgrade_error:
            return "error"
        if self.upgrade is None or not self.upgrade.checked:
            return "-"
        count = len(self.upgrade.findings)
        if not count:
            return "clean"
        return f"{count} finding{'s' if count != 1 else ''}"


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
        values_check: Check the values against the newest version (downloads two archives per
            outdated chart, kept in the chart cache).
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
                status = _with_upgrade_check(status, inventory, ref, fetcher)
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


def _with_upgrade_check(
    status: ChartStatus, inventory: Inventory, ref: ChartRef, fetcher: ChartFetcher
) -> ChartStatus:
    try:
        check = check_upgrade_of(inventory, ref, status.latest, fetcher)
    except (NetworkError, ChartError) as exc:
        return replace(status, upgrade_error=exc.message)
    # The newest version's own Chart.yaml is the better source of its notes.
    changes = status.changes
    if check.changes:
        changes = ((status.latest, check.changes), *(c for c in changes if c[0] != status.latest))
    return replace(status, upgrade=check, changes=changes)


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
            "changes": {v: [_change_json(c) for c in notes] for v, notes in s.changes},
        }
        for s in statuses
    ]
    return json.dumps({"charts": rows}, indent=2, ensure_ascii=False)


def _upgrade_json(status: ChartStatus) -> dict[str, Any] | None:
    if status.upgrade is None and not status.upgrade_error:
        return None
    check = status.upgrade
    return {
        "version": status.latest,
        "checked": check is not None and check.checked,
        "clean": check is not None and check.clean,
        "findings": [finding_data(f) for f in (check.findings if check is not None else ())],
        "notes": list(check.notes) if check is not None else [],
        "error": status.upgrade_error,
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
    if any(s.upgrade is not None and s.upgrade.checked for s in statuses):
        lines.append("")
        lines.append("UPGRADE: the values checked against the newest version only "
                     "(versions in between are not checked).")
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
    """Findings and change notes below the table (nothing for a clean, note-less chart)."""
    body: list[str] = []
    if status.upgrade_error:
        body.append(f"  values not checked: {status.upgrade_error}")
    if status.upgrade is not None:
        body.extend(f"  {line}" for line in status.upgrade.lines())
        body.extend(f"  note: {note}" for note in status.upgrade.notes)
    body.extend(_change_lines(status))
    if not body:
        return []
    return ["", f"{status.application}: {status.chart} {status.current} -> {status.latest}", *body]


def _change_lines(status: ChartStatus) -> list[str]:
    lines: list[str] = []
    for version, notes in status.changes:
        lines.append(f"  changes in {version}:")
        lines.extend(f"    - {change}" for change in notes)
    if len(lines) > MAX_CHANGE_LINES:
        more = len(lines) - MAX_CHANGE_LINES
        lines = [*lines[:MAX_CHANGE_LINES], f"    ... {more} more lines (--output json has all)"]
    return lines
