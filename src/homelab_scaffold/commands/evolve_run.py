"""What ``scaffold add | remove | upgrade | regenerate | diff`` do once their options are parsed.

Each command edits the answers (``repo.answers_file``) and hands them to the engine; the engine
plans, checks, writes and returns the outcome these commands report. The options themselves are
declared in ``commands.evolve``, which imports this module only when a command runs.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from homelab_scaffold import ui
from homelab_scaffold.catalog.instances import GENERIC_KEY
from homelab_scaffold.catalog.model import Catalog, Component
from homelab_scaffold.catalog.options import check_version, partial_version
from homelab_scaffold.catalog.versions import require_version
from homelab_scaffold.commands.common import confirm_or_refuse
from homelab_scaffold.commands.report import (
    JSON,
    REQUESTED,
    Extras,
    outcome_data,
    report_outcome,
    shown_diff,
)
from homelab_scaffold.engine import CHART_VERSION, Engine, Outcome, RunOptions, SecretRequest
from homelab_scaffold.errors import MergeConflictError, NetworkError, UsageError
from homelab_scaffold.generate.answers import ANSWERS_FILE, split_secret_sets
from homelab_scaffold.generate.keymoves import moved_keys
from homelab_scaffold.generate.plan import ALWAYS_SELECTED, Plan
from homelab_scaffold.generate.secret_values import given_values
from homelab_scaffold.generate.stateful import KeptResource, kept_resources, statefulset_claims
from homelab_scaffold.repo.answers_file import AnswersDocument
from homelab_scaffold.repo.state import STATE_FILE
from homelab_scaffold.suggest import unknown

if TYPE_CHECKING:
    from homelab_scaffold.inspect.values_check import Finding

_PROGRESS = "Rendering and merging"
# Changes after which the file is not in the tree (a file the user deleted stays deleted).
_NOT_IN_TREE_AFTER = ("skip", "delete")


def selection_changes(
    before: list[str], document: AnswersDocument, plan: Plan, requested: str | None = None
) -> dict[str, str]:
    """Components the answers list now and did not before -> why they are there."""
    added = {}
    for name in document.component_names():
        if name in before:
            continue
        needed_by = plan.components[name].needed_by
        if name == requested:
            added[name] = REQUESTED
        else:
            added[name] = f"needed by {', '.join(needed_by)}" if needed_by else "part of the stack"
    return added


def _sync_and_report(
    engine: Engine,
    document: AnswersDocument,
    *,
    output: str,
    requested: str | None = None,
    notes: Callable[[Outcome], list[str]] | None = None,
    secrets: SecretRequest | None = None,
    before_writing: Callable[[Outcome], list[str]] | None = None,
) -> Outcome:
    """Plan, run ``before_writing`` on the plan (it may refuse by raising; the notes it returns
    are reported with the outcome), apply, report. A tree ``apply`` would refuse is refused
    before ``before_writing`` (which may download a chart)."""
    repo = engine.open_repo()
    before = repo.document().component_names()
    with ui.progress(_PROGRESS):
        outcome = engine.plan(repo, document, secrets=secrets or SecretRequest())
    checked: list[str] = []
    if before_writing is not None:
        engine.check_writable(outcome)
        checked = before_writing(outcome)
    outcome = engine.apply(outcome)
    extras = Extras(
        added=selection_changes(before, document, outcome.plan, requested),
        notes=(*(notes(outcome) if notes else ()), *checked),
    )
    report_outcome(outcome, dry_run=engine.options.dry_run, extras=extras, output=output)
    return outcome


def _checked_options(component: str, entry: Component, options: dict[str, Any]) -> dict[str, Any]:
    checked: dict[str, Any] = {}
    for key, value in options.items():
        option = entry.options.get(key)
        if option is None:
            raise UsageError(f"{component}: {unknown('option', key, entry.options)}")
        if key == CHART_VERSION:
            refuse_partial_pin(entry, options, str(value), f"--set {key}")
        try:
            checked[key] = option.check(value)
        except ValueError as exc:
            raise UsageError(f"{component}.{key}: {value!r} is not valid: {exc}") from None
    return checked


def chart_source(entry: Component, options: Mapping[str, Any]) -> tuple[str, str] | None:
    """(repository, chart) of a component, or of a generic instance being added."""
    if entry.chart is not None:
        return entry.chart.repo, entry.chart.name
    repo, chart = options.get("repo"), options.get("chart")
    return (str(repo), str(chart)) if repo and chart else None


def refuse_partial_pin(
    entry: Component, options: Mapping[str, Any], typed: str, what: str, *, offline: bool = False
) -> None:
    """``41`` or ``1.21`` for a chart version: refused, naming the releases it could mean (read
    from the chart's Helm repository; without it, the rule).

    Raises:
        UsageError: ``typed`` is a partial version.
    """
    from homelab_scaffold.inspect.pins import partial_pin_message

    source = chart_source(entry, options)
    if source is None or partial_version(typed) is None:
        return
    reading = f"Reading {source[0]} for the versions {typed} could mean"
    with contextlib.nullcontext() if offline else ui.progress(reading):
        message = partial_pin_message(typed, source[1], source[0], what, offline=offline)
    raise UsageError(message)


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


def set_options(
    component: str, name: str | None, sets: tuple[str, ...]
) -> tuple[dict[str, Any], dict[str, str]]:
    """``--set`` items as init takes them: ``OPTION=VALUE`` or ``components.<name>.OPTION=VALUE``
    for the component being added, and ``secrets.NAME=VALUE`` for a secret value it needs.

    Returns:
        The options, and secret name -> value.

    Raises:
        UsageError: An item that is not KEY=VALUE, or names another component.
    """
    sets, secret_values = split_secret_sets(sets)
    target = name or component
    prefix = f"components.{target}."
    options: dict[str, Any] = {}
    for item in sets:
        key, sep, value = item.partition("=")
        key = key.strip()
        if key.startswith("components.") and not key.startswith(prefix):
            raise UsageError(
                f"--set {key}=...: `scaffold add {target}` sets {target}'s options only "
                f"({prefix}OPTION=VALUE or OPTION=VALUE); change another component in "
                f"{ANSWERS_FILE}, then run `scaffold regenerate`"
            )
        key = key.removeprefix(prefix)
        if not sep or not key or "." in key:
            raise UsageError(
                f"--set {item!r}: expected OPTION=VALUE with one of the component's options, "
                f"e.g. replicas=1 or {prefix}replicas=1 (see `scaffold list --options`)"
            )
        options[key] = value.strip()
    return options, secret_values


def add(
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
    output: str,
) -> None:
    """``scaffold add`` once its options are parsed (see ``commands.evolve``)."""
    options, secret_values = set_options(component, name, sets)
    flags = {"repo": repo, "chart": chart, "version": chart_version, "namespace": namespace}
    options.update({k: v for k, v in flags.items() if v})
    if needs:
        options["needs"] = list(needs)
    run = RunOptions(
        dry_run=dry_run, force=force, missing_secret_hint="pass --set secrets.{alias}=VALUE"
    )
    with Engine(directory, run) as engine:
        document = engine.open_repo().document()
        _refuse_taken_name(document, component, name)
        found = entry_to_add(engine.catalog(document.answers()), document, component, name, options)
        if found is None:
            ui.note(f"{name or component} is already in the stack; nothing to add.")
        else:
            document.add_component(*found)
        overrides = given_values(engine.catalog_plan(document.answers()), secret_values)
        _sync_and_report(
            engine,
            document,
            output=output,
            requested=name or component,
            secrets=SecretRequest(overrides=overrides),
        )


def _refuse_taken_name(document: AnswersDocument, component: str, name: str | None) -> None:
    existing = document.entry(name or component)
    if name and existing is not None and (
        not isinstance(existing, dict) or existing.get(GENERIC_KEY) != component
    ):
        raise UsageError(f"the name {name!r} is already used in {ANSWERS_FILE}; pick another")


def require_listed(catalog: Catalog, listed: list[str], component: str, missing: str) -> None:
    """``component`` must be listed in scaffold.yaml: a catalog component that is not says
    ``missing``; a name no catalog knows gets the listed name it probably meant.

    Raises:
        UsageError: It is not listed.
    """
    if component in listed:
        return
    if component in catalog.components:
        raise UsageError(missing)
    known = [*listed, *(n for n, c in catalog.components.items() if not c.generic)]
    raise UsageError(
        unknown(
            "component", component, known, listed_as=f"components in {ANSWERS_FILE}",
            valid=", ".join(listed),
        )
    )


def dependants_of(catalog: Catalog, selected: list[str], name: str) -> list[str]:
    """Selected components that need ``name``."""
    return sorted(
        other for other in selected if other != name and name in catalog.needed_components(other)
    )


def remove(
    component: str, directory: Path, dry_run: bool, force: bool, output: str, yes: bool
) -> None:
    """``scaffold remove`` once its options are parsed (see ``commands.evolve``)."""
    with Engine(directory, RunOptions(dry_run=dry_run, force=force)) as engine:
        repo = engine.open_repo()
        document = repo.document()
        components = document.component_names()
        catalog = engine.catalog(document.answers())
        selected = ", ".join(components)
        missing = f"{component!r} is not in {ANSWERS_FILE} (selected: {selected})"
        require_listed(catalog, components, component, missing)
        if component in ALWAYS_SELECTED:
            raise UsageError(f"{component} manages the repository itself and cannot be removed")
        dependants = dependants_of(catalog, components, component)
        if dependants:
            raise UsageError(
                f"cannot remove {component}: {', '.join(dependants)} need(s) it; remove those first"
            )
        document.remove_component(component)
        _refuse_implicit_return(engine, document, component)
        with ui.progress(_PROGRESS):
            outcome = engine.plan(repo, document)
        kept = kept_resources(c.old_text or "" for c in outcome.changes if c.action == "delete")
        kept.extend(statefulset_claims(catalog.get(component)))
        folders = [f"kubernetes/{app.path}" for app in catalog.get(component).applications]
        added = engine.added_files(folders)
        if not dry_run and not yes:
            _confirm_removal(component, kept)
        outcome = engine.apply(outcome)
    extras = Extras(removed=(component,), kept_data=tuple(kept), notes=_added_notes(added))
    report_outcome(outcome, dry_run=dry_run, extras=extras, output=output)


def _added_notes(added: list[str]) -> tuple[str, ...]:
    """What stays of the files the user added to a removed component's folders."""
    if not added:
        return ()
    return (
        f"Kept {', '.join(added)}: scaffold did not generate "
        f"{'them' if len(added) > 1 else 'it'} (e.g. `scaffold secret seal`), and no "
        "Application deploys the folder any more (Argo CD deletes what it applied); delete "
        "or move it yourself.",
    )


def _confirm_removal(component: str, kept: list[KeptResource]) -> None:
    """Ask before removing (on a terminal); a script must say --yes."""
    data = f"; its data stays ({', '.join(_names(kept))})" if kept else ""
    what = (
        f"remove {component}: Argo CD deletes its Application and resources on the next sync "
        f"after you push{data}"
    )
    confirm_or_refuse(what, "Remove it?")


def _names(kept: list[KeptResource]) -> list[str]:
    return [f"{r.kind} {r.namespace}/{r.name}" for r in kept]


def _refuse_implicit_return(engine: Engine, document: AnswersDocument, component: str) -> None:
    """A component the plan selects by itself (the sealed-secrets controller while Secrets are
    sealed, or while SealedSecrets of the user's own exist) would come straight back: say why
    instead of doing nothing."""
    plan = engine.catalog_plan(document.answers())
    if component not in plan.components:
        return
    if plan.own_sealed:
        shown = ", ".join(plan.own_sealed)
        raise UsageError(
            f"cannot remove {component}: only its controller decrypts your SealedSecrets "
            f"({shown}); delete those files (or move them out of kubernetes/) first"
        )
    users = ", ".join(plan.components[component].needed_by) or "the stack"
    raise UsageError(
        f"cannot remove {component}: {users} need(s) it while `secrets: sealed-secrets`; "
        "set `secrets: manual` in scaffold.yaml first, or remove those"
    )


def upgrade(
    component: str,
    version: str,
    offline: bool,
    timeout: float,
    ignore_findings: bool,
    yes: bool,
    directory: Path,
    dry_run: bool,
    force: bool,
    output: str,
) -> None:
    """``scaffold upgrade`` once its options are parsed (see ``commands.evolve``)."""
    if partial_version(version) is None:
        _checked_version(version)
    with Engine(directory, RunOptions(dry_run=dry_run, force=force)) as engine:
        repo = engine.open_repo()
        document = repo.document()
        catalog = engine.catalog(document.answers())
        missing = (
            f"{component!r} is not in {ANSWERS_FILE}; add it first with `scaffold add {component}`"
        )
        require_listed(catalog, document.component_names(), component, missing)
        entry = catalog.get(component)
        if entry.chart is None:
            raise UsageError(f"{component} has no Helm chart to upgrade (it is raw manifests)")
        refuse_partial_pin(entry, {}, version, "--version", offline=offline)
        _checked_version(version)
        current = engine.catalog_plan(document.answers()).components[component].version
        if current and not dry_run and not yes:
            _confirm_downgrade(component, current, version)
        document.set_option(component, CHART_VERSION, version)
        # --force kept its old meaning here too: it overrode the findings before
        # --ignore-findings existed.
        check = ChartUpgrade(entry, current or "", version, offline, dry_run,
                             ignore_findings or force, output, timeout)
        _sync_and_report(
            engine,
            document,
            output=output,
            notes=lambda outcome: moved_keys(repo.state.files, outcome.rendered.files, entry),
            before_writing=check.check,
        )


@dataclass(frozen=True)
class ChartUpgrade:
    """``upgrade``'s check of the values against the chart version it moves to."""

    component: Component
    from_version: str
    to_version: str
    offline: bool
    dry_run: bool
    ignore_findings: bool
    output: str
    timeout: float

    def check(self, outcome: Outcome) -> list[str]:
        """Warn of each finding; refuse (exit 2) on any, unless --ignore-findings (or --force).
        Returns the notes to report once the upgrade is written (what was checked or skipped).

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
            with ui.progress(f"Checking the values against {chart.name} {self.to_version}"):
                result = check_chart_upgrade(
                    values, chart.repo, chart.name, self.from_version, self.to_version,
                    offline=self.offline, timeout=self.timeout,
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
        if not result.findings or self.ignore_findings:
            return notes
        if self.output == JSON:
            ui.json_document(self.refusal_data(outcome, result.findings, notes))
        elif self.dry_run:
            with contextlib.suppress(MergeConflictError):
                report_outcome(outcome, dry_run=True)
        raise upgrade_refused(result)

    def refusal_data(
        self, outcome: Outcome, findings: Sequence[Finding], notes: list[str]
    ) -> dict[str, Any]:
        """``--output json`` of a refused upgrade: the command's usual document (what the run
        would change; nothing was written), with ``refused`` and the ``findings``."""
        from homelab_scaffold.inspect.values_check import finding_data

        data = outcome_data(outcome, dry_run=self.dry_run, extras=Extras(notes=tuple(notes)))
        data["written"] = False
        return {"refused": True, **data, "findings": [finding_data(f) for f in findings]}


def _checked_version(version: str) -> None:
    try:
        check_version(version)
    except ValueError as exc:
        raise UsageError(f"--version {version!r}: {exc}") from None


def _confirm_downgrade(component: str, current: str, version: str) -> None:
    """Going back to an older chart asks first (a script says --yes): charts are rarely made
    to downgrade (CRDs, stored data and migrations only move forward)."""
    if require_version(version) >= require_version(current):
        return
    what = (
        f"{component} {current} -> {version} is a downgrade; charts rarely support going back "
        "(CRDs, stored data and migrations move forward only)"
    )
    confirm_or_refuse(what, "Downgrade?", script_hint="pass --yes to downgrade anyway")


def regenerate(directory: Path, dry_run: bool, force: bool, output: str) -> None:
    """``scaffold regenerate`` once its options are parsed (see ``commands.evolve``)."""
    with Engine(directory, RunOptions(dry_run=dry_run, force=force)) as engine:
        _sync_and_report(engine, engine.open_repo().document(), output=output)


def diff(directory: Path, exit_code: bool) -> None:
    """``scaffold diff`` once its options are parsed (see ``commands.evolve``).

    Raises:
        click.exceptions.Exit: Exit code 1 with ``exit_code`` when there are differences.
    """
    with Engine(directory, RunOptions(dry_run=True)) as engine:
        repo = engine.open_repo()
        with ui.progress(_PROGRESS):
            outcome = engine.plan(repo, repo.document(), secrets=None)
    for line in outcome.notes:
        ui.note(line)
    shown = [c for c in outcome.writes if c.path != STATE_FILE]
    for change in shown:
        ui.diff(shown_diff(change))
    if not shown:
        ui.info("No changes: the repository matches scaffold.yaml.")
    elif exit_code:
        raise click.exceptions.Exit(1)
