"""``scaffold outdated``: newer chart versions for every Helm Application of a repository.

Each Helm repository's ``index.yaml`` is read once over HTTP(S). Helm writes that file in one
regular layout, so the versions of a chart are picked from its lines directly (a full YAML parse
of a multi-megabyte index takes pure-Python ruamel.yaml many seconds); any other layout falls back
to parsing the whole file. OCI registries have no index and are reported as not checked.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from homelab_scaffold.catalog.versions import Version, parse_version
from homelab_scaffold.errors import NetworkError
from homelab_scaffold.inspect import http
from homelab_scaffold.inspect.apps import AppSource, build_inventory
from homelab_scaffold.inspect.loader import load_repo, parse_yaml_documents

UP_TO_DATE = "up-to-date"
OUTDATED = "outdated"
NOT_CHECKED = "not-checked"
ERROR = "error"
OCI_REASON = "OCI registry: it has no index.yaml to read; list the chart's tags in the registry"


@dataclass(frozen=True)
class ChartStatus:
    """One chart of one Application and how its pinned version compares with the repository."""

    application: str
    file: str
    chart: str
    repository: str
    current: str
    status: str
    newer: tuple[str, ...] = ()
    reason: str = ""

    @property
    def latest(self) -> str:
        """The newest listed version ("" when up to date or not checked)."""
        return self.newer[-1] if self.newer else ""


@dataclass(frozen=True)
class ChartRef:
    """A chart source found in an Application."""

    application: str
    file: str
    source: AppSource


@dataclass(frozen=True)
class IndexFailure:
    """Why a Helm repository index could not be read."""

    message: str


def find_charts(root: Path) -> list[ChartRef]:
    """Every Helm chart source of every Application under ``root``, sorted by Application."""
    inventory = build_inventory(load_repo(root).repo)
    refs = [
        ChartRef(app.name, app.doc.file, source)
        for app in inventory.apps
        for source in app.sources
        if source.is_helm_chart
    ]
    return sorted(refs, key=lambda r: (r.application, r.source.chart, r.file))


def check_outdated(
    root: Path, *, pre_releases: bool = False, timeout: float = 10.0
) -> list[ChartStatus]:
    """The status of every chart of the repository at ``root``."""
    indexes: dict[str, str | IndexFailure] = {}

    def index_text(repository: str) -> str | IndexFailure:
        if repository not in indexes:
            indexes[repository] = _download_index(repository, timeout)
        return indexes[repository]

    return [_status(ref, index_text, pre_releases) for ref in find_charts(root)]


def _status(
    ref: ChartRef, index_text: Callable[[str], str | IndexFailure], pre_releases: bool
) -> ChartStatus:
    source = ref.source
    base = ChartStatus(ref.application, ref.file, source.chart, source.repo_url,
                       source.target_revision, NOT_CHECKED)
    if source.is_oci:
        return replace(base, status=NOT_CHECKED, reason=OCI_REASON)
    current = parse_version(source.target_revision)
    if current is None:
        reason = f"targetRevision {source.target_revision!r} is not a version to compare with"
        return replace(base, status=ERROR, reason=reason)
    text = index_text(source.repo_url)
    if isinstance(text, IndexFailure):
        return replace(base, status=ERROR, reason=text.message)
    versions = chart_versions(text, source.chart)
    if versions is None:
        reason = f"{index_url(source.repo_url)} is not a Helm repository index (no 'entries')"
        return replace(base, status=ERROR, reason=reason)
    if not versions:
        reason = f"chart '{source.chart}' is not in {index_url(source.repo_url)}"
        return replace(base, status=ERROR, reason=reason)
    newer = newer_versions(versions, current, pre_releases=pre_releases)
    return replace(base, status=OUTDATED if newer else UP_TO_DATE, newer=newer)


def index_url(repository: str) -> str:
    """Where a Helm repository keeps its index."""
    return repository.rstrip("/") + "/index.yaml"


def _download_index(repository: str, timeout: float) -> str | IndexFailure:
    url = index_url(repository)
    try:
        body = http.fetch(url, timeout)
    except NetworkError as exc:
        return IndexFailure(exc.message)
    if body is None:
        return IndexFailure(f"{url} does not exist (HTTP 404): not a Helm repository")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return IndexFailure(f"{url} is not UTF-8 text")


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


def chart_versions(index_text: str, chart: str) -> list[str] | None:
    """The versions of ``chart`` in a Helm index; [] when absent, None when not an index."""
    scanned = _scan_versions(index_text, chart)
    if scanned is not None:
        return scanned
    return _parsed_versions(index_text, chart)


_TOP_KEY = re.compile(r"^\S")
_CHART_KEY = re.compile(r"""^  (?!- )(["']?)(?P<name>[^"'\s][^"']*?)\1:\s*$""")
_VERSION_LINE = re.compile(r"^(?:  - |    )version:\s*(?P<value>\S.*?)\s*$")


def _scan_versions(text: str, chart: str) -> list[str] | None:
    """Versions from Helm's own index layout (chart keys at two spaces, item keys at four).

    None when the text is not in that layout (no chart in it shows a version line).
    """
    lines = text.splitlines()
    if "entries:" not in lines:
        return None
    versions: list[str] = []
    inside = recognised = False
    for line in lines[lines.index("entries:") + 1 :]:
        if _TOP_KEY.match(line):
            break
        key = _CHART_KEY.match(line)
        if key:
            inside = key.group("name") == chart
            continue
        match = _VERSION_LINE.match(line)
        if match:
            recognised = True
            if inside:
                versions.append(match.group("value").strip("\"'"))
    return versions if recognised else None


def _parsed_versions(index_text: str, chart: str) -> list[str] | None:
    bodies, error = parse_yaml_documents(index_text)
    index = bodies[0] if error is None and bodies else None
    entries = index.get("entries") if isinstance(index, dict) else None
    if not isinstance(entries, dict):
        return None
    return [
        str(entry["version"])
        for entry in entries.get(chart) or ()
        if isinstance(entry, dict) and entry.get("version") is not None
    ]


def unreachable(statuses: Iterable[ChartStatus]) -> list[ChartStatus]:
    """Charts whose repository could not be read or did not list them."""
    return [s for s in statuses if s.status == ERROR]


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
        }
        for s in statuses
    ]
    return json.dumps({"charts": rows}, indent=2, ensure_ascii=False)


def text_lines(statuses: list[ChartStatus]) -> list[str]:
    """An aligned table, one chart per line."""
    if not statuses:
        return ["No Helm chart Applications found."]
    rows = [("APPLICATION", "CHART", "CURRENT", "STATUS")]
    rows.extend((s.application, s.chart or s.repository, s.current, _describe(s)) for s in statuses)
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True))
        + "  " + row[3]
        for row in rows
    ]


def _describe(status: ChartStatus) -> str:
    if status.status == OUTDATED:
        return "newer: " + ", ".join(status.newer)
    if status.status == UP_TO_DATE:
        return "up to date"
    if status.status == NOT_CHECKED:
        return f"not checked: {status.reason}"
    return f"error: {status.reason}"
