"""A repository's Helm values checked against the charts they are for.

Three callers: ``scaffold validate --charts`` (every Helm Application against the chart version
it pins), ``scaffold outdated`` (against the newest version listed) and ``scaffold upgrade``
(``check_chart_upgrade``: the values the repository would hold after the upgrade, against the
target version, with the current version's defaults to tell what the upgrade changes).

The values of an Application are the files its ``valueFiles`` name in this repository (a
multi-source Application's ``$values/...`` ref, as scaffold generates them) followed by its
inline ``helm.values``/``helm.valuesObject``, in the order Helm applies them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from homelab_scaffold.catalog.model import Component
from homelab_scaffold.catalog.versions import is_version
from homelab_scaffold.errors import NetworkError, ScaffoldError
from homelab_scaffold.inspect.apps import Application, AppSource, Inventory
from homelab_scaffold.inspect.charts import ChartError, ChartFetcher, ChartFiles
from homelab_scaffold.inspect.checks_argocd import local_value_file
from homelab_scaffold.inspect.helm_index import Change
from homelab_scaffold.inspect.loader import parse_yaml_documents, plain_data
from homelab_scaffold.inspect.model import Problem
from homelab_scaffold.inspect.values_check import (
    ChartValues,
    Finding,
    check_value_files,
)

CHECK = "chart-values"
OCI_NOTE = "is an OCI registry: its chart is not checked (no index.yaml to find the archive)"

ValueLayers = list[tuple[str, Mapping[str, Any]]]


@dataclass(frozen=True)
class ChartRef:
    """One Helm chart source of one Application."""

    app: Application
    source: AppSource

    @property
    def application(self) -> str:
        """The Application's name."""
        return self.app.name

    @property
    def file(self) -> str:
        """The file holding the Application."""
        return self.app.doc.file


def chart_refs(inventory: Inventory) -> list[ChartRef]:
    """Every Helm chart source of every Application, sorted by Application, chart and file."""
    refs = [
        ChartRef(app, source)
        for app in inventory.apps
        for source in app.sources
        if source.is_helm_chart
    ]
    return sorted(refs, key=lambda r: (r.application, r.source.chart, r.file))


def value_layers(inventory: Inventory, ref: ChartRef) -> ValueLayers:
    """(name, values) of every values mapping the Application hands Helm, in Helm's order."""
    layers: ValueLayers = []
    for value_file in ref.source.value_files:
        path = local_value_file(inventory, ref.app, ref.source, value_file)
        found = inventory.file(path) if path is not None else None
        body = found.documents[0].body if found is not None and found.documents else None
        if path is not None and isinstance(body, dict):
            layers.append((path, body))
    # helm_values holds valuesObject before values; valuesObject wins, so it goes last.
    layers.extend(
        (f"{ref.file} (inline Helm values)", body)
        for body in reversed(ref.source.helm_values)
        if isinstance(body, dict)
    )
    return layers


def chart_values(files: ChartFiles, parent: str = "") -> ChartValues:
    """What the values check needs of a chart version read from its archive (its bundled
    subcharts included; ``parent`` is the label of the chart bundling this one)."""
    label = f"{files.name} {files.version}".strip()
    if parent:
        label = f"{label} (subchart of {parent})"
    return ChartValues(
        label=label,
        defaults=files.values,
        schema=files.schema,
        subcharts={key: chart_values(sub, label) for key, sub in files.subcharts},
        unbundled=dict(files.unbundled),
    )


# --- scaffold validate --charts ------------------------------------------------------------------


def check_pinned_charts(
    inventory: Inventory, fetcher: ChartFetcher
) -> tuple[list[Problem], list[str]]:
    """(problems, notes): each Helm Application's values against the chart version it pins."""
    problems: list[Problem] = []
    notes: list[str] = []
    for ref in chart_refs(inventory):
        found, note = _check_pinned(inventory, ref, fetcher)
        problems.extend(found)
        if note:
            notes.append(note)
    return problems, notes


def _check_pinned(
    inventory: Inventory, ref: ChartRef, fetcher: ChartFetcher
) -> tuple[list[Problem], str]:
    source = ref.source
    if source.is_oci:
        return [], f"{ref.application}: {source.repo_url} {OCI_NOTE}"
    if not is_version(source.target_revision):
        return [], (f"{ref.application}: chart {source.chart} is not pinned to a version "
                    f"({source.target_revision!r}); its values are not checked")
    try:
        chart = fetcher.chart(source.repo_url, source.chart, source.target_revision)
    except (NetworkError, ChartError) as exc:
        message = (f"chart {source.chart} {source.target_revision} from {source.repo_url} "
                   f"could not be read to check the values: {exc.message}")
        return [_app_problem(ref, message)], ""
    report = check_value_files(value_layers(inventory, ref), chart_values(chart))
    problems = [_finding_problem(ref, finding) for finding in report.findings]
    return problems, "; ".join(report.notes)


def _app_problem(ref: ChartRef, message: str) -> Problem:
    return ref.app.doc.problem(CHECK, message)


def _finding_problem(ref: ChartRef, finding: Finding) -> Problem:
    if not finding.file or finding.file.startswith(ref.file + " "):
        return _app_problem(ref, finding.message)
    return Problem(finding.file, CHECK, finding.message)


# --- scaffold upgrade ----------------------------------------------------------------------------


@dataclass(frozen=True)
class UpgradeCheck:
    """The values check of one chart upgrade: findings, notes, and the target's change notes.

    ``checked`` is False when the check was skipped (``--offline``, an OCI registry); ``notes``
    then says why.
    """

    chart: str
    repository: str
    from_version: str
    to_version: str
    findings: tuple[Finding, ...] = ()
    notes: tuple[str, ...] = ()
    changes: tuple[Change, ...] = ()
    checked: bool = True

    @property
    def clean(self) -> bool:
        """True when the check ran and found nothing."""
        return self.checked and not self.findings

    def lines(self) -> list[str]:
        """One line per finding (``file: message``), for reports and errors."""
        return [f"{f.file}: {f.message}" if f.file else f.message for f in self.findings]


def check_chart_upgrade(
    values_by_file: Mapping[str, Any],
    repo_url: str,
    chart: str,
    from_version: str,
    to_version: str,
    *,
    offline: bool = False,
    cache_dir: Path | None = None,
    timeout: float = 20.0,
    fetcher: ChartFetcher | None = None,
) -> UpgradeCheck:
    """Check the values a repository would hold after upgrading ``chart`` to ``to_version``.

    Args:
        values_by_file: Values file path -> its values (a mapping, or YAML text), in the order
            Helm reads them: what the repository would hold after the upgrade, kept edits included.
        repo_url: The chart's Helm repository (``oci://`` registries are not checked).
        chart: The chart's name.
        from_version: The version pinned now ("" when unknown); its defaults tell which keys
            the upgrade itself stops knowing.
        to_version: The version being upgraded to.
        offline: Skip the check (the result says so in ``notes``).
        cache_dir: The chart cache (default ``$XDG_CACHE_HOME/scaffold/charts``).
        timeout: Seconds for each download.
        fetcher: A fetcher to share with other checks of the same run.

    Raises:
        NetworkError: The target chart cannot be downloaded.
        ChartError: The target chart cannot be read (not listed, digest mismatch, bad archive).
    """
    base = UpgradeCheck(chart, repo_url, from_version, to_version)
    if offline:
        return _skipped(base, f"--offline: values not checked against {chart} {to_version}")
    if repo_url.startswith("oci://") or "://" not in repo_url:
        return _skipped(base, f"{repo_url} {OCI_NOTE}")
    layers = [(name, _as_mapping(name, values)) for name, values in values_by_file.items()]
    fetcher = fetcher or ChartFetcher(cache_dir=cache_dir, timeout=timeout)
    return _check_upgrade(base, layers, fetcher)


def _check_upgrade(base: UpgradeCheck, layers: ValueLayers, fetcher: ChartFetcher) -> UpgradeCheck:
    target = fetcher.chart(base.repository, base.chart, base.to_version)
    current, notes = _current_chart(fetcher, base)
    report = check_value_files(layers, chart_values(target), current)
    return UpgradeCheck(
        base.chart, base.repository, base.from_version, base.to_version,
        findings=report.findings, notes=(*notes, *report.notes), changes=target.changes,
    )


def _skipped(base: UpgradeCheck, note: str) -> UpgradeCheck:
    return UpgradeCheck(base.chart, base.repository, base.from_version, base.to_version,
                        notes=(note,), checked=False)


def _current_chart(
    fetcher: ChartFetcher, base: UpgradeCheck
) -> tuple[ChartValues | None, list[str]]:
    if not base.from_version or base.from_version == base.to_version:
        return None, []
    try:
        return chart_values(fetcher.chart(base.repository, base.chart, base.from_version)), []
    except (NetworkError, ChartError) as exc:
        return None, [f"{base.chart} {base.from_version} could not be read ({exc.message}); "
                      f"the values were checked against {base.to_version} alone"]


def _as_mapping(name: str, values: Any) -> Mapping[str, Any]:
    """Values given as a mapping, or as the YAML text of a values file."""
    if not isinstance(values, str):
        return values if isinstance(values, Mapping) else {}
    bodies, error = parse_yaml_documents(values)
    if error is not None:
        raise ChartError(f"{name}: {error[0]}")
    body, _ = plain_data(bodies[0] if bodies else None)
    return body if isinstance(body, dict) else {}


def check_upgrade_of(
    inventory: Inventory, ref: ChartRef, to_version: str, fetcher: ChartFetcher
) -> UpgradeCheck:
    """The upgrade check of an Application of the repository, with its values as they are.

    Raises:
        NetworkError: The target chart cannot be downloaded.
        ChartError: The target chart cannot be read.
    """
    source = ref.source
    base = UpgradeCheck(source.chart, source.repo_url, source.target_revision, to_version)
    return _check_upgrade(base, value_layers(inventory, ref), fetcher)


# --- wiring for `scaffold upgrade` ---------------------------------------------------------------

_CONFLICT_MARKER = "<<<<<<< "


def helm_values_files(
    component: Component, files: Mapping[str, str | None]
) -> tuple[dict[str, str], list[str]]:
    """The component's Helm values files among ``files`` (path -> text after the run), and notes.

    A values file left with conflict markers cannot be read as YAML: it is left out, and a
    note says so (the merge itself is reported by the command).
    """
    found: dict[str, str] = {}
    notes: list[str] = []
    for app in component.applications:
        if app.type != "helm":
            continue
        path = f"kubernetes/{app.path}/values.yaml"
        text = files.get(path)
        if text is None:
            continue
        if text.startswith(_CONFLICT_MARKER) or f"\n{_CONFLICT_MARKER}" in text:
            notes.append(f"{path} has conflict markers: its values were not checked")
            continue
        found[path] = text
    return found, notes


class UpgradeRefused(ScaffoldError):
    """The values would not fit the chart version ``upgrade`` moves to (exit 2)."""


def upgrade_refused(check: UpgradeCheck) -> UpgradeRefused:
    """The one-line error ``upgrade`` ends with when the check found something (the findings
    themselves are listed before it, one line each: ``check.lines()``)."""
    count = len(check.findings)
    return UpgradeRefused(
        f"{count} value finding{'s' if count != 1 else ''} against {check.chart} "
        f"{check.to_version} (listed above); nothing was written. Fix the values and run the "
        "upgrade again, or pass --ignore-findings to upgrade anyway"
    )
