"""``scaffold add | remove | upgrade | regenerate | diff``: change an existing repo safely."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import CommentMark
from ruamel.yaml.tokens import CommentToken

from homelab_scaffold import ui
from homelab_scaffold.catalog.loader import GENERIC_KEY, Catalog, Component, with_instances
from homelab_scaffold.catalog.options import check_version
from homelab_scaffold.commands.common import directory_option
from homelab_scaffold.commands.init import CHART_VERSION
from homelab_scaffold.errors import ConfigError, MergeConflictError, RepoError, UsageError
from homelab_scaffold.generate.answers import ANSWERS_FILE, parse_answers
from homelab_scaffold.generate.keymoves import moved_keys
from homelab_scaffold.generate.pipeline import load_catalog_for
from homelab_scaffold.generate.plan import ALWAYS_SELECTED, build_plan, resolve_selection
from homelab_scaffold.generate.render import SECRETS_DIR
from homelab_scaffold.repo.git import dirty_paths
from homelab_scaffold.repo.state import STATE_FILE
from homelab_scaffold.repo.sync import Repo, SyncPlan, open_repo, plan_sync
from homelab_scaffold.repo.write import FileChange, apply_changes, recover_interrupted, unified_diff

_NOT_CHECKED_FOR_DIRT = {ANSWERS_FILE, STATE_FILE}


def components_of(doc: Any) -> CommentedMap:
    """The ``components`` mapping of the answers document (created when missing)."""
    components = doc.get("components")
    if components is None:
        components = CommentedMap()
        doc["components"] = components
    if not isinstance(components, CommentedMap):
        raise ConfigError(f"{ANSWERS_FILE}: components: expected a mapping of name -> options")
    return components


def catalog_for(repo: Repo, doc: Any) -> Catalog:
    """The repo's catalog including its generic instances."""
    answers = parse_answers(doc, ANSWERS_FILE)
    return with_instances(load_catalog_for(answers, repo.root), answers.components)


def record_selection(repo: Repo, doc: Any) -> dict[str, tuple[str, ...]]:
    """Write every component the selection needs into the answers; returns those added and
    who needs them (empty for components that are always part of the stack)."""
    components = components_of(doc)
    catalog = catalog_for(repo, doc)
    selection = resolve_selection(catalog, list(components))
    added = {name: by for name, by in selection.items() if name not in components}
    for name in added:
        append_entry(components, name, _new_entry(pinned_version(catalog.get(name), {})))
    return added


def pinned_version(entry: Component, values: dict[str, Any]) -> dict[str, Any]:
    """``{"version": ...}`` for a chart component whose options do not pin it yet: scaffold.yaml
    pins every chart, so Renovate can bump it there and in the Application in one change."""
    if entry.chart is None or CHART_VERSION in values:
        return {}
    return {CHART_VERSION: entry.chart.version}


def _new_entry(values: dict[str, Any]) -> CommentedMap:
    if not values:
        return _empty_map()
    # Round-trip types all the way down, so comments can hang on the last line.
    result = CommentedMap(
        {k: CommentedSeq(v) if isinstance(v, list) else v for k, v in values.items()}
    )
    result.fa.set_block_style()
    return result


def _empty_map() -> CommentedMap:
    result = CommentedMap()
    result.fa.set_flow_style()
    return result


def _last_entry(mapping: CommentedMap) -> tuple[CommentedMap | CommentedSeq, Any, int]:
    """Where the comment lines after ``mapping`` hang: the innermost collection holding its last
    line, that line's key or index (None when empty), and the slot of ``ca.items`` they use."""
    node: CommentedMap | CommentedSeq = mapping
    last: Any = None
    while len(node):
        last = list(node)[-1] if isinstance(node, CommentedMap) else len(node) - 1
        value = node[last]
        if not (isinstance(value, CommentedMap | CommentedSeq) and len(value)):
            break
        if value.fa.flow_style():
            # A flow collection is one line: its comment hangs on the parent's entry.
            break
        node = value
    return node, last, 0 if isinstance(node, CommentedSeq) else 2


def _detach_trailing_comment(mapping: CommentedMap) -> str | None:
    """Cut the comment lines that follow the last entry (they belong to what comes after)."""
    node, last, slot = _last_entry(mapping)
    token = node.ca.items.get(last, [None, None, None, None])[slot] if last is not None else None
    if token is None:
        return None
    first, _, rest = token.value.partition("\n")
    if not rest:
        return None
    token.value = first + "\n"
    return str(rest)


def append_entry(mapping: CommentedMap, key: str, value: Any) -> None:
    """Add ``key`` at the end of ``mapping`` keeping comments attached where they belong."""
    trailing = _detach_trailing_comment(mapping)
    mapping[key] = value
    if trailing is not None:
        node, last, slot = _last_entry(mapping)
        comment: list[CommentToken | None] = [None, None, None, None]
        comment[slot] = CommentToken("\n" + trailing, CommentMark(0), None)
        node.ca.items[last] = comment


def check_clean(repo: Repo, plan: SyncPlan) -> None:
    """Refuse to touch files with uncommitted changes (the user could not undo with git)."""
    paths = [c.path for c in plan.writes if c.path not in _NOT_CHECKED_FOR_DIRT]
    dirty = dirty_paths(repo.root, paths)
    if dirty:
        more = f" and {len(dirty) - 1} more" if len(dirty) > 1 else ""
        raise RepoError(
            f"{dirty[0]}{more} has uncommitted changes that this command would modify; "
            "commit or stash them first (so you can undo with git), or pass --force"
        )


def run_sync(
    repo: Repo,
    doc: Any,
    *,
    force: bool,
    dry_run: bool,
    notes: Callable[[SyncPlan], list[str]] | None = None,
) -> SyncPlan:
    """Plan, check and (unless dry-run) write; reports (with ``notes``) and raises on conflicts."""
    plan = plan_sync(repo, doc, force=force)
    if not force and not dry_run:
        check_clean(repo, plan)
    if not dry_run:
        # Leftovers of a run that was killed mid-write, also for files this run leaves alone.
        recover_interrupted(repo.root / c.path for c in (*plan.changes, plan.state_change))
    if not dry_run and plan.writes:
        tracked = [c for c in plan.changes if c.writes]
        apply_changes(repo.root, tracked, last=[plan.state_change])
    report_sync(plan, dry_run, notes(plan) if notes else [])
    return plan


_NOTES = {
    "skip": "you deleted it; it stays deleted",
    "keep": "you changed it; kept — remove it yourself or use --force",
}


def shown_diff(change: FileChange) -> str:
    """The diff to print for a change; never the content of a secret file."""
    if change.path.startswith(f"{SECRETS_DIR}/"):
        return f"({change.action} {change.path}: secret, content not shown)"
    return unified_diff(change).rstrip("\n") or f"(delete {change.path})"


def _report_change(change: FileChange, dry_run: bool) -> None:
    if dry_run and change.writes:
        ui.info(shown_diff(change))
    elif change.writes:
        ui.action(change.action, change.path)
    elif change.action in _NOTES:
        ui.action(change.action, f"{change.path} ({_NOTES[change.action]})")


def report_sync(plan: SyncPlan, dry_run: bool, notes: list[str]) -> None:
    """Action lines, warnings, notes, then conflicts (exit code 4)."""
    ui.warn_all(plan.rendered.warnings)
    for change in plan.changes:
        _report_change(change, dry_run)
    if not dry_run:
        for secret in plan.rendered.new_secrets:
            if secret.announce:
                ui.secret_notice(f"{secret.component} {secret.key}", secret.value)
    for line in notes:
        ui.info(line)
    if not plan.writes:
        ui.info("Nothing to change: the repository matches scaffold.yaml.")
    elif dry_run:
        ui.info("Dry run: nothing was written.")
    if plan.conflicts and not dry_run:
        raise MergeConflictError(
            f"conflicts in {', '.join(plan.conflicts)}: your edits and scaffold's overlap; "
            "resolve the <<<<<<< markers, then commit"
        )


_REPO_HELP = "The homelab repository (default: the current folder)."
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


def add_component(
    repo: Repo,
    component: str,
    name: str | None,
    options: dict[str, Any],
) -> tuple[Any, dict[str, tuple[str, ...]]]:
    """The answers document with ``component`` (or an instance ``name`` of it) added, and the
    components that came along because it needs them."""
    doc = repo.answers_doc
    components = components_of(doc)
    entry = catalog_for(repo, doc).get(component)
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
    if key in components and not options:
        return doc, {}
    target = components.get(key)
    if not isinstance(target, dict) or CHART_VERSION not in target:
        values = {**pinned_version(entry, values), **values}
    if key not in components:
        # Filled before it is appended, so the comment lines after the last entry move below it.
        append_entry(components, key, _new_entry(values))
    elif not isinstance(target, CommentedMap):
        components[key] = _new_entry(values)
    else:
        for option, value in values.items():
            target[option] = value
        if values:
            target.fa.set_block_style()
    return doc, record_selection(repo, doc)


def _set_options(sets: tuple[str, ...]) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for item in sets:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key or "." in key:
            raise UsageError(
                f"--set {item!r}: expected OPTION=VALUE with one of the component's options, "
                "e.g. replicas=1 (see `scaffold list --options`)"
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
    options = _set_options(sets)
    flags = {"repo": repo, "chart": chart, "version": chart_version, "namespace": namespace}
    options.update({k: v for k, v in flags.items() if v})
    if needs:
        options["needs"] = list(needs)
    state = open_repo(directory)
    existing = components_of(state.answers_doc).get(name or component)
    if (
        name
        and existing is not None
        and (not isinstance(existing, dict) or existing.get(GENERIC_KEY) != component)
    ):
        raise UsageError(f"the name {name!r} is already used in {ANSWERS_FILE}; pick another")
    if existing is not None and not options:
        ui.info(f"{name or component} is already in the stack; nothing to add.")
    doc, added = add_component(state, component, name, options)
    for extra, needed_by in added.items():
        reason = f"needed by {', '.join(needed_by)}" if needed_by else "always part of the stack"
        ui.info(f"Added {extra}: {reason}")
    run_sync(state, doc, force=force, dry_run=dry_run)


def dependants_of(catalog: Catalog, selected: list[str], name: str) -> list[str]:
    """Selected components that need ``name``."""
    return sorted(
        other for other in selected if other != name and name in catalog.needed_components(other)
    )


@click.command("remove")
@click.argument("component")
@common_options
def remove_command(component: str, directory: Path, dry_run: bool, force: bool) -> None:
    """Remove COMPONENT; refuses while another component needs it."""
    repo = open_repo(directory)
    doc = repo.answers_doc
    components = components_of(doc)
    if component not in components:
        raise UsageError(
            f"{component!r} is not in {ANSWERS_FILE} (selected: {', '.join(components)})"
        )
    if component in ALWAYS_SELECTED:
        raise UsageError(f"{component} manages the repository itself and cannot be removed")
    dependants = dependants_of(catalog_for(repo, doc), list(components), component)
    if dependants:
        raise UsageError(
            f"cannot remove {component}: {', '.join(dependants)} need(s) it; remove those first"
        )
    del components[component]
    _refuse_implicit_return(repo, doc, component)
    run_sync(repo, doc, force=force, dry_run=dry_run)


def _refuse_implicit_return(repo: Repo, doc: Any, component: str) -> None:
    """A component the plan selects by itself (the sealed-secrets controller while Secrets are
    sealed) would come straight back: say why instead of doing nothing."""
    answers = parse_answers(doc, ANSWERS_FILE)
    plan = build_plan(answers, load_catalog_for(answers, repo.root), ANSWERS_FILE)
    if component in plan.components:
        users = ", ".join(plan.components[component].needed_by) or "the stack"
        raise UsageError(
            f"cannot remove {component}: {users} need(s) it while `secrets: sealed-secrets`; "
            "set `secrets: manual` in scaffold.yaml first, or remove those"
        )


@click.command("upgrade")
@click.argument("component")
@click.option("--version", "version", required=True, help="The chart version to move to.")
@common_options
def upgrade_command(
    component: str, version: str, directory: Path, dry_run: bool, force: bool
) -> None:
    """Move COMPONENT's chart to --version; values follow the version."""
    repo = open_repo(directory)
    doc = repo.answers_doc
    components = components_of(doc)
    try:
        check_version(version)
    except ValueError as exc:
        raise UsageError(f"--version {version!r}: {exc}") from None
    if component not in components:
        raise UsageError(
            f"{component!r} is not in {ANSWERS_FILE}; add it first with `scaffold add {component}`"
        )
    entry = catalog_for(repo, doc).get(component)
    if entry.chart is None:
        raise UsageError(f"{component} has no Helm chart to upgrade (it is raw manifests)")
    target = components.get(component)
    if not isinstance(target, dict):
        target = _empty_map()
        components[component] = target
    target["version"] = version
    run_sync(
        repo,
        doc,
        force=force,
        dry_run=dry_run,
        notes=lambda plan: moved_keys(repo.state.files, plan.rendered.files, entry),
    )


@click.command("regenerate")
@common_options
def regenerate_command(directory: Path, dry_run: bool, force: bool) -> None:
    """Re-render everything from scaffold.yaml, keeping your edits."""
    repo = open_repo(directory)
    run_sync(repo, repo.answers_doc, force=force, dry_run=dry_run)


@click.command("diff")
@directory_option(_REPO_HELP)
def diff_command(directory: Path) -> None:
    """Show what `scaffold regenerate` would change, as a unified diff."""
    repo = open_repo(directory)
    plan = plan_sync(repo, repo.answers_doc)
    shown = [c for c in plan.changes if c.writes]
    for change in shown:
        ui.info(shown_diff(change))
    if not shown:
        ui.info("No changes: the repository matches scaffold.yaml.")
