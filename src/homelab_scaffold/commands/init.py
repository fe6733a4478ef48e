"""``scaffold init``: answers -> render -> write a new homelab repository."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from ruamel.yaml.comments import CommentedMap

from homelab_scaffold import ui
from homelab_scaffold.catalog.loader import GENERIC_KEY, Catalog
from homelab_scaffold.errors import UsageError
from homelab_scaffold.generate.answers import (
    ANSWERS_FILE,
    MANUAL_SECRETS,
    Answers,
    apply_sets,
    dump_answers,
    dump_yaml,
    flow_map,
    parse_answers,
    read_answers_file,
    split_secret_sets,
    to_plain,
)
from homelab_scaffold.generate.pipeline import Rendered, load_catalog_for, render_answers
from homelab_scaffold.generate.plan import SEALED_SECRETS_COMPONENT, build_plan
from homelab_scaffold.generate.sealed import BOOTSTRAP_FILE, KEY_DIR, key_files
from homelab_scaffold.generate.secret_values import (
    VALUES_FILE,
    check_secret_value,
    missing_provided,
    resolve_secret_name,
    secret_specs,
)
from homelab_scaffold.repo.git import origin_url
from homelab_scaffold.repo.state import (
    SECRET_STATE_FILE,
    SECRET_STATE_MODE,
    STATE_FILE,
    State,
    dump_secret_state,
    dump_state,
    text_hash,
)
from homelab_scaffold.repo.sync import (
    given_secrets,
    load_sealing,
    missing_secrets_message,
    read_secret_values,
    values_text,
)
from homelab_scaffold.repo.write import FileChange, apply_changes

SECRET_MODE = 0o600
# The option of every chart component that pins its chart version.
CHART_VERSION = "version"
_ALLOWED_IN_EMPTY = {".git"}


@dataclass(frozen=True)
class InitResult:
    """What init wrote (or would write with --dry-run)."""

    rendered: Rendered
    changes: tuple[FileChange, ...]
    kept: tuple[str, ...]


def check_destination(dest: Path, force: bool) -> None:
    """DEST must be a folder that is missing or empty (but for .git), unless --force."""
    if dest.exists() and not dest.is_dir():
        raise UsageError(f"destination {dest} is a file; give a folder path (new or empty)")
    blocking = next((p for p in dest.parents if p.exists() and not p.is_dir()), None)
    if blocking is not None:
        raise UsageError(
            f"destination {dest} is inside {blocking}, which is a file; give a folder path"
        )
    if dest.is_dir() and not force:
        entries = sorted(p.name for p in dest.iterdir() if p.name not in _ALLOWED_IN_EMPTY)
        if entries:
            raise UsageError(
                f"destination {dest} is not empty (has {entries[0]}); choose an empty folder, "
                "or pass --force to add the generated files (existing files are kept)"
            )


def gather_mapping(
    dest: Path, config: Path | None, no_input: bool, catalog_loader: Any
) -> dict[str, Any]:
    """The raw answers: from --config, the full default stack, or the prompts."""
    if config is not None:
        mapping: dict[str, Any] = to_plain(read_answers_file(config))
        return mapping
    catalog: Catalog = catalog_loader()
    if no_input:
        return {"components": {n: {} for n, c in catalog.components.items() if c.in_default_stack}}
    from homelab_scaffold.prompts import ask_answers

    return ask_answers(catalog, origin_url(dest))


def recorded_options(answers: Answers, rendered: Rendered, name: str) -> dict[str, Any]:
    """The options the user gave for ``name``, with the type their option declares
    (``--set replicas=2`` is recorded as the number 2, not the text "2"), and the chart version
    in use: scaffold.yaml pins every chart, so Renovate can bump it there and in the Application
    in one change."""
    planned = rendered.plan.components[name]
    recorded = {
        key: value if key == GENERIC_KEY else planned.options.get(key, value)
        for key, value in answers.components.get(name, {}).items()
    }
    if planned.version is not None and CHART_VERSION not in recorded:
        recorded = {CHART_VERSION: planned.version, **recorded}
    return recorded


def selected_answers(answers: Answers, rendered: Rendered) -> Answers:
    """The answers to record: every selected component, with the options the user set."""
    components = {
        name: recorded_options(answers, rendered, name) for name in rendered.plan.components
    }
    return Answers(
        repo_url=answers.repo_url,
        target_revision=answers.target_revision,
        domain=answers.domain,
        email=answers.email,
        timezone=answers.timezone,
        components=components,
        catalog_paths=answers.catalog_paths,
        repo_url_is_placeholder=answers.repo_url_is_placeholder,
        secrets=answers.secrets,
    )


_GLOBAL_ORDER = ("repo_url", "target_revision", "domain", "email", "timezone", "secrets")


def answers_file_text(
    config: Path | None, mapping: dict[str, Any], answers: Answers, rendered: Rendered
) -> str:
    """scaffold.yaml: a --config file is kept as written (comments too), completed with the
    settings from --set or git and with every component the selection needed."""
    if config is None:
        return dump_answers(selected_answers(answers, rendered))
    doc = read_answers_file(config)
    _merge_globals(doc, mapping)
    components = doc.get("components")
    if not isinstance(components, dict):
        components = CommentedMap()
        doc["components"] = components
    for name in rendered.plan.components:
        _merge_component(components, name, recorded_options(answers, rendered, name))
    return dump_yaml(doc)


def _merge_globals(doc: CommentedMap, mapping: dict[str, Any]) -> None:
    for position, key in enumerate(_GLOBAL_ORDER):
        if key in mapping and key not in doc:
            doc.insert(min(position, len(doc)), key, mapping[key])
        elif key in mapping and doc.get(key) != mapping[key]:
            doc[key] = mapping[key]


def _merge_component(components: CommentedMap, name: str, given: dict[str, Any]) -> None:
    if name not in components:
        components[name] = flow_map(given)
        return
    if given and components[name] is None:
        components[name] = CommentedMap()
    if given and isinstance(components[name], CommentedMap) and not components[name]:
        _style_filled_entry(components, name)
    for option, value in given.items():
        if components[name].get(option) != value:
            components[name][option] = value


def _style_filled_entry(components: CommentedMap, name: str) -> None:
    """An empty ``name: {}`` that gains options (its chart version) becomes a block, the way
    scaffold writes new entries; with a comment after it, flow style keeps the comment in place."""
    if name in components.ca.items:
        components[name].fa.set_flow_style()
    else:
        components[name].fa.set_block_style()


def plan_init_changes(
    dest: Path, rendered: Rendered, answers_text: str
) -> tuple[list[FileChange], list[str]]:
    """File changes for a fresh render; existing files that differ are kept, never overwritten."""
    wanted: dict[str, tuple[str, int | None]] = {ANSWERS_FILE: (answers_text, None)}
    wanted.update({p: (t, None) for p, t in rendered.files.items()})
    wanted.update({p: (t, SECRET_MODE) for p, t in rendered.secret_files.items()})
    if rendered.secret_values:
        wanted[VALUES_FILE] = (values_text(rendered.secret_values), SECRET_MODE)
    if rendered.new_key_pair is not None:
        wanted.update({p: (t, SECRET_MODE) for p, t in key_files(rendered.new_key_pair).items()})
    changes: list[FileChange] = []
    kept: list[str] = []
    for path, (text, mode) in sorted(wanted.items()):
        target = dest / path
        if not target.exists():
            changes.append(FileChange(path, "create", text, mode))
        elif target.is_file() and target.read_text(encoding="utf-8", errors="replace") == text:
            changes.append(FileChange(path, "unchanged", text, mode))
        else:
            kept.append(path)
    return changes, kept


def initial_secrets(
    dest: Path,
    answers: Answers,
    catalog: Catalog,
    given: Mapping[str, str],
    *,
    ask: bool,
    environ: Mapping[str, str],
    source: str = ANSWERS_FILE,
) -> dict[str, dict[str, str]]:
    """Secret values to start from: kept ones (``--force`` over a repo), ``--set secrets.*``,
    the environment, and prompts (hidden input) for user-provided ones still missing.

    Raises:
        UsageError: An unknown secret name or a bad value; or a needed token is missing and
            cannot be asked for.
    """
    plan = build_plan(answers, catalog, source)
    specs = secret_specs(plan)
    overrides: dict[str, dict[str, str]] = {}
    for name, value in given.items():
        component, key = resolve_secret_name(name, specs)
        full = f"{component}.{key}"
        overrides.setdefault(component, {})[key] = check_secret_value(full, value, specs[full])
    values = given_secrets(read_secret_values(dest), overrides, environ)
    missing = missing_provided(plan, values)
    if missing and ask:
        from homelab_scaffold.prompts import ask_secret

        for provided in missing:
            value = ask_secret(f"{provided.name}: {provided.description} (hidden input)")
            values.setdefault(provided.component, {})[provided.key] = value
    elif missing:
        how = f"pass --set secrets.{missing[0].alias}=VALUE"
        raise UsageError(missing_secrets_message(missing, how) + " (nothing was written)")
    return values


def _can_ask(no_input: bool) -> bool:
    if no_input:
        return False
    from homelab_scaffold.prompts import terminal_available

    return terminal_available()


def _init_state(rendered: Rendered, changes: list[FileChange]) -> State:
    """The state init records: tracked texts, and hashes of the secret files it wrote."""
    written = {c.path for c in changes if c.action in {"create", "unchanged"}}
    hashes = {p: text_hash(t) for p, t in rendered.secret_files.items() if p in written}
    return State(rendered.files, hashes, rendered.hash_cache)


def init_repo(
    dest: Path,
    *,
    config: Path | None,
    no_input: bool,
    sets: tuple[str, ...],
    force: bool,
    dry_run: bool,
    environ: Mapping[str, str] | None = None,
) -> InitResult:
    """Render a new repository into ``dest``; nothing is written unless everything rendered."""
    check_destination(dest, force)
    sets, secret_sets = split_secret_sets(sets)
    mapping = gather_mapping(
        dest, config, no_input, lambda: load_catalog_for(parse_answers({}, "defaults"), dest)
    )
    mapping = apply_sets(mapping, sets)
    if no_input and config is None and mapping.get("secrets") == MANUAL_SECRETS:
        # The default stack's sealed-secrets controller has nothing to do without sealing.
        components = mapping.get("components") or {}
        if not components.get(SEALED_SECRETS_COMPONENT):
            components.pop(SEALED_SECRETS_COMPONENT, None)
    if mapping.get("repo_url") in (None, ""):
        mapping.pop("repo_url", None)
        remote = origin_url(dest)
        if remote:
            mapping["repo_url"] = remote
    source = str(config) if config else "answers"
    answers = parse_answers(mapping, source)
    base = config.parent if config is not None else dest
    catalog = load_catalog_for(answers, base)
    secrets = initial_secrets(
        dest,
        answers,
        catalog,
        secret_sets,
        ask=_can_ask(no_input),
        environ=os.environ if environ is None else environ,
        source=source,
    )
    rendered = render_answers(
        answers,
        catalog,
        existing_secrets=secrets,
        sealing=load_sealing(dest, answers),
        source=source,
    )
    answers_text = answers_file_text(config, mapping, answers, rendered)
    changes, kept = plan_init_changes(dest, rendered, answers_text)
    recorded = _init_state(rendered, changes)
    if recorded.secret_hashes or recorded.argon2_cache:
        changes.append(
            FileChange(SECRET_STATE_FILE, "create", dump_secret_state(recorded), SECRET_STATE_MODE)
        )
    state = FileChange(STATE_FILE, "create", dump_state(recorded))
    if not dry_run:
        apply_changes(dest, changes, last=[state])
    return InitResult(rendered, (*changes, state), tuple(kept))


def report_init(dest: Path, result: InitResult, dry_run: bool) -> None:
    """Tell the user what happened (the one place init prints)."""
    rendered = result.rendered
    for name, needed_by in rendered.plan.added.items():
        ui.info(f"Added {name}: needed by {', '.join(needed_by)}")
    for change in result.changes:
        if change.action != "unchanged":
            ui.action("would " + change.action if dry_run else change.action, change.path)
    for path in result.kept:
        ui.action("keep", f"{path} (exists and differs; left as it is)")
    ui.warn_all(rendered.warnings)
    if rendered.plan.answers.repo_url_is_placeholder:
        ui.warn(
            f"repo_url is a placeholder ({rendered.plan.answers.repo_url}); set it in "
            f"{dest / ANSWERS_FILE} to the Git URL Argo CD will pull, "
            "then run `scaffold regenerate`"
        )
    if not dry_run:
        for secret in rendered.new_secrets:
            if secret.announce:
                ui.secret_notice(f"{secret.component} {secret.key}", secret.value)
        if rendered.new_key_pair is not None:
            ui.info(
                f"Sealing key created in {dest / KEY_DIR}: back it up now (with "
                f"{VALUES_FILE}); it is the only key that decrypts the SealedSecrets in Git. "
                f"Bootstrap applies it from {BOOTSTRAP_FILE}."
            )
        ui.info(f"Done. Next: read {dest / 'README.md'} to bootstrap the cluster.")


@click.command("init")
@click.argument("dest", type=click.Path(path_type=Path))
@click.option("--no-input", is_flag=True, help="Do not prompt: defaults (full stack) or --config.")
@click.option(
    "--config",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Answers file (scaffold.yaml format).",
)
@click.option(
    "--set",
    "sets",
    multiple=True,
    metavar="KEY=VALUE",
    help=(
        "Override one answer, e.g. domain=lab.example.org; secrets.NAME=VALUE gives a secret "
        "value (e.g. secrets.cloudflare_api_token=..., never written to scaffold.yaml)."
    ),
)
@click.option(
    "--force", is_flag=True, help="Render into a non-empty folder (existing files are kept)."
)
@click.option("--dry-run", is_flag=True, help="Show what would be written; write nothing.")
def init_command(
    dest: Path,
    no_input: bool,
    config: Path | None,
    sets: tuple[str, ...],
    force: bool,
    dry_run: bool,
) -> None:
    """Render a new homelab GitOps repository into DEST."""
    result = init_repo(
        dest, config=config, no_input=no_input, sets=sets, force=force, dry_run=dry_run
    )
    report_init(dest, result, dry_run)
