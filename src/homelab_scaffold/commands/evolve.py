"""``scaffold add | remove | upgrade | regenerate | diff``: change an existing repo safely.

Each command edits the answers (``repo.answers_file``) and hands them to the engine; the engine
plans, checks, writes and returns the outcome these commands report.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from homelab_scaffold import ui
from homelab_scaffold.catalog.instances import GENERIC_KEY
from homelab_scaffold.catalog.model import Catalog, Component
from homelab_scaffold.catalog.options import check_version
from homelab_scaffold.commands.common import directory_option
from homelab_scaffold.commands.report import report_outcome, shown_diff
from homelab_scaffold.engine import CHART_VERSION, Engine, Outcome, RunOptions
from homelab_scaffold.errors import MergeConflictError, NetworkError, UsageError
from homelab_scaffold.generate.answers import ANSWERS_FILE
from homelab_scaffold.generate.keymoves import moved_keys
from homelab_scaffold.generate.plan import ALWAYS_SELECTED
from homelab_scaffold.generate.stateful import KeptResource, kept_resources
from homelab_scaffold.repo.answers_file import AnswersDocument

_REPO_HELP = "The homelab repository (default: the current folder)."
# Changes after which the file is not in the tree (a file the user deleted stays deleted).
_NOT_IN_TREE_AFTER = ("skip", "delete")
_common = [
    directory_option(_REPO_HELP),
    click.option("--dry-run", is_flag=True, help="Print the diff; write nothing."),
    click.option(
        "--force", is_flag=True, help="Touch files with uncommitted changes; delete edited files."
    ),
]


def common_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """-C, --dry-run, --force for every writing command."""
    for option in reversed(_common):
        func = option(func)
    return func


def _sync_and_report(
    engine: Engine,
    document: AnswersDocument,
    notes: Callable[[Outcome], list[str]] | None = None,
    before_writing: Callable[[Outcome], list[str]] | None = None,
) -> Outcome:
    """Plan, run ``before_writing`` on the plan (it may refuse by raising; the notes it returns
    are reported with the outcome), apply, report."""
    listed = set(document.component_names())
    outcome = engine.plan(engine.open_repo(), document)
    checked = before_writing(outcome) if before_writing is not None else []
    outcome = engine.apply(outcome)
    for name in document.component_names():
        if name not in listed:
            needed_by = outcome.plan.components[name].needed_by
            reason = f"needed by {', '.join(needed_by)}" if needed_by else "part of the stack"
            ui.info(f"Added {name}: {reason}")
    report_outcome(
        outcome,
        dry_run=engine.options.dry_run,
        notes=[*(notes(outcome) if notes else ()), *checked],
    )
    return outcome


def _checked_options(component: str, entry: Component, options: dict[str, Any]) -> dict[str, Any]:
    checked: dict[str, Any] = {}
    for key, value in options.items():
        option = entry.options.get(key)
        if option is None:
            valid = ", ".join(sorted(entry.options)) or "none"
            raise UsageError(f"{component} has no option {key!r} (valid: {valid})")
        try:
            checked[key] = option.check(value)
        except ValueError as exc:
            raise UsageError(f"{component}.{key}: {value!r} is not valid: {exc}") from None
    return checked


def entry_to_add(
    catalog: Catalog, document: AnswersDocument, component: str, name: str | None,
    options: dict[str, Any],
) -> tuple[str, dict[str, Any]] | None:
    """The scaffold.yaml key and options ``add`` records for ``component`` (or an instance
    ``name`` of a generic one); None when it is already listed and nothing is to change."""
    entry = catalog.get(component)
    if entry.generic and not name:
        raise UsageError(
            f"{component} is generic: give the new Application's name, "
            f"e.g. `scaffold add {component} grafana ...`"
        )
    if name and not entry.generic:
        raise UsageError(f"{component} takes no NAME (only generic components such as helm-app do)")
    values = _checked_options(component, entry, options)
    key = name or component
    if entry.generic:
        values = {GENERIC_KEY: component, **values}
    listed = key in document.component_names()
    if listed and not options:
        return None
    if entry.chart is not None and CHART_VERSION not in document.options_of(key):
        values = {CHART_VERSION: entry.chart.version, **values}
    return key, values


def set_options(component: str, name: str | None, sets: tuple[str, ...]) -> dict[str, Any]:
    """``--set OPTION=VALUE`` (or ``components.<name>.OPTION=VALUE``, as in init) items."""
    options: dict[str, Any] = {}
    prefix = f"components.{name or component}."
    for item in sets:
        key, sep, value = item.partition("=")
        key = key.strip().removeprefix(prefix)
        if not sep or not key or "." in key:
            raise UsageError(
                f"--set {item!r}: expected OPTION=VALUE with one of the component's options, "
                f"e.g. replicas=1 or {prefix}replicas=1 (see `scaffold list --options`)"
            )
        options[key] = value.strip()
    return options


@click.command("add")
@click.argument("component")
@click.argument("name", required=False)
@click.option(
    "--set",
    "sets",
    multiple=True,
    metavar="OPTION=VALUE",
    help="A component option, e.g. replicas=1.",
)
@click.option("--repo", help="helm-app: Helm repository URL.")
@click.option("--chart", help="helm-app: chart name.")
@click.option("--version", "chart_version", help="helm-app: chart version (pinned).")
@click.option("--namespace", help="helm-app / manifests-app: namespace (default: NAME).")
@click.option("--needs", multiple=True, help="helm-app / manifests-app: a component it waits for.")
@common_options
def add_command(
    component: str,
    name: str | None,
    sets: tuple[str, ...],
    repo: str | None,
    chart: str | None,
    chart_version: str | None,
    namespace: str | None,
    needs: tuple[str, ...],
    directory: Path,
    dry_run: bool,
    force: bool,
) -> None:
    """Add COMPONENT (and what it needs); generic ones (helm-app, manifests-app) take a NAME."""
    options = set_options(component, name, sets)
    flags = {"repo": repo, "chart": chart, "version": chart_version, "namespace": namespace}
    options.update({k: v for k, v in flags.items() if v})
    if needs:
        options["needs"] = list(needs)
    with Engine(directory, RunOptions(dry_run=dry_run, force=force)) as engine:
        document = engine.open_repo().document()
        existing = document.entry(name or component)
        if name and existing is not None and (
            not isinstance(existing, dict) or existing.get(GENERIC_KEY) != component
        ):
            raise UsageError(f"the name {name!r} is already used in {ANSWERS_FILE}; pick another")
        found = entry_to_add(engine.catalog(document.answers()), document, component, name, options)
        if found is None:
            ui.info(f"{name or component} is already in the stack; nothing to add.")
        else:
            document.add_component(*found)
        _sync_and_report(engine, document)


def dependants_of(catalog: Catalog, selected: list[str], name: str) -> list[str]:
    """Selected components that need ``name``."""
    return sorted(
        other for other in selected if other != name and name in catalog.needed_components(other)
    )


@click.command("remove")
@click.argument("component")
@common_options
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation (for scripts).")
def remove_command(component: str, directory: Path, dry_run: bool, force: bool, yes: bool) -> None:
    """Remove COMPONENT; refuses while another component needs it. Its data (volumes) stays."""
    with Engine(directory, RunOptions(dry_run=dry_run, force=force)) as engine:
        repo = engine.open_repo()
        document = repo.document()
        components = document.component_names()
        if component not in components:
            raise UsageError(
                f"{component!r} is not in {ANSWERS_FILE} (selected: {', '.join(components)})"
            )
        if component in ALWAYS_SELECTED:
            raise UsageError(f"{component} manages the repository itself and cannot be removed")
        dependants = dependants_of(engine.catalog(document.answers()), components, component)
        if dependants:
            raise UsageError(
                f"cannot remove {component}: {', '.join(dependants)} need(s) it; remove those first"
            )
        document.remove_component(component)
        _refuse_implicit_return(engine, document, component)
        outcome = engine.plan(repo, document)
        kept = kept_resources(c.old_text or "" for c in outcome.changes if c.action == "delete")
        if not dry_run and not yes:
            _confirm_removal(component, kept)
        outcome = engine.apply(outcome)
    report_outcome(outcome, dry_run=dry_run, notes=_kept_notes(kept))


def _confirm_removal(component: str, kept: list[KeptResource]) -> None:
    """Ask before removing (on a terminal); a script must say --yes."""
    from homelab_scaffold.prompts import confirm, terminal_available

    data = f"; its data stays ({', '.join(_names(kept))})" if kept else ""
    what = (
        f"remove {component}: Argo CD deletes its Application and resources on the next sync "
        f"after you push{data}"
    )
    if not terminal_available():
        raise UsageError(f"{what}. No terminal to confirm on: pass --yes")
    if not confirm(f"{what[0].upper()}{what[1:]}. Remove it?"):
        raise click.exceptions.Abort


def _names(kept: list[KeptResource]) -> list[str]:
    return [f"{r.kind} {r.namespace}/{r.name}" for r in kept]


def _kept_notes(kept: list[KeptResource]) -> list[str]:
    """Which data stays in the cluster, and how to delete it for real."""
    if not kept:
        return []
    lines = [
        "Data that stays in the cluster (Argo CD neither prunes nor deletes it; back it up, "
        "then delete it yourself if you really want it gone):"
    ]
    names = _names(kept)
    lines.extend(f"  {name}: {r.delete_command}" for name, r in zip(names, kept, strict=True))
    return lines


def _refuse_implicit_return(engine: Engine, document: AnswersDocument, component: str) -> None:
    """A component the plan selects by itself (the sealed-secrets controller while Secrets are
    sealed) would come straight back: say why instead of doing nothing."""
    plan = engine.catalog_plan(document.answers())
    if component in plan.components:
        users = ", ".join(plan.components[component].needed_by) or "the stack"
        raise UsageError(
            f"cannot remove {component}: {users} need(s) it while `secrets: sealed-secrets`; "
            "set `secrets: manual` in scaffold.yaml first, or remove those"
        )


@click.command("upgrade")
@click.argument("component")
@click.option("--version", "version", required=True, help="The chart version to move to.")
@click.option(
    "--offline",
    is_flag=True,
    help="Skip checking the values against the new chart (the check downloads it).",
)
@common_options
def upgrade_command(
    component: str, version: str, offline: bool, directory: Path, dry_run: bool, force: bool
) -> None:
    """Move COMPONENT's chart to --version; values follow the version.

    Before writing, the values the repository would hold (your kept edits included) are checked
    against the new chart: keys it no longer knows, values its schema rejects. Any finding
    stops the upgrade (exit 2, nothing written) unless --force; --offline skips the check.
    """
    try:
        check_version(version)
    except ValueError as exc:
        raise UsageError(f"--version {version!r}: {exc}") from None
    with Engine(directory, RunOptions(dry_run=dry_run, force=force)) as engine:
        repo = engine.open_repo()
        document = repo.document()
        if component not in document.component_names():
            raise UsageError(
                f"{component!r} is not in {ANSWERS_FILE}; add it first with "
                f"`scaffold add {component}`"
            )
        entry = engine.catalog(document.answers()).get(component)
        if entry.chart is None:
            raise UsageError(f"{component} has no Helm chart to upgrade (it is raw manifests)")
        current = engine.catalog_plan(document.answers()).components[component].version
        document.set_option(component, CHART_VERSION, version)
        upgrade = ChartUpgrade(entry, current or "", version, offline=offline, dry_run=dry_run,
                               force=force)
        _sync_and_report(
            engine,
            document,
            notes=lambda outcome: moved_keys(repo.state.files, outcome.rendered.files, entry),
            before_writing=upgrade.check,
        )


@dataclass(frozen=True)
class ChartUpgrade:
    """``upgrade``'s check of the values against the chart version it moves to."""

    component: Component
    from_version: str
    to_version: str
    offline: bool
    dry_run: bool
    force: bool

    def check(self, outcome: Outcome) -> list[str]:
        """Warn of each finding; refuse (exit 2) on any, unless --force. Returns the notes to
        report once the upgrade is written (what was checked or skipped).

        Raises:
            UpgradeRefused: The values do not fit the new chart (a dry run shows its diff first).
            NetworkError: The new chart cannot be downloaded.
            ChartError: The new chart cannot be read.
        """
        # Imported here: add, remove and regenerate need no HTTP client.
        from homelab_scaffold.inspect.chart_check import (
            check_chart_upgrade,
            helm_values_files,
            upgrade_refused,
        )
        from homelab_scaffold.inspect.charts import ChartError

        chart = self.component.chart
        assert chart is not None
        after = {c.path: c.text for c in outcome.changes if c.action not in _NOT_IN_TREE_AFTER}
        values, notes = helm_values_files(self.component, after)
        try:
            result = check_chart_upgrade(
                values, chart.repo, chart.name, self.from_version, self.to_version,
                offline=self.offline,
            )
        except (NetworkError, ChartError) as exc:
            raise type(exc)(
                f"{exc.message}; pass --offline to upgrade without checking the values"
            ) from exc
        for line in result.lines():
            ui.warn(line)
        notes = [*notes, *result.notes]
        if result.checked and not result.findings:
            notes.append(f"Values checked against {chart.name} {self.to_version}: nothing found.")
        if not result.findings or self.force:
            return notes
        if self.dry_run:
            with contextlib.suppress(MergeConflictError):
                report_outcome(outcome, dry_run=True)
        raise upgrade_refused(result)


@click.command("regenerate")
@common_options
def regenerate_command(directory: Path, dry_run: bool, force: bool) -> None:
    """Re-render everything from scaffold.yaml, keeping your edits."""
    with Engine(directory, RunOptions(dry_run=dry_run, force=force)) as engine:
        _sync_and_report(engine, engine.open_repo().document())


@click.command("diff")
@directory_option(_REPO_HELP)
def diff_command(directory: Path) -> None:
    """Show what `scaffold regenerate` would change, as a unified diff (secrets not compared)."""
    with Engine(directory, RunOptions(dry_run=True)) as engine:
        repo = engine.open_repo()
        outcome = engine.plan(repo, repo.document(), secrets=None)
    for line in outcome.notes:
        ui.note(line)
    shown = [c for c in outcome.writes if c.path != ".scaffold/state.json"]
    for change in shown:
        ui.info(shown_diff(change))
    if not shown:
        ui.info("No changes: the repository matches scaffold.yaml.")
