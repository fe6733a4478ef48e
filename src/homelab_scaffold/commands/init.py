"""``scaffold init``: gather the answers, then one engine sync against an empty state."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from homelab_scaffold import ui
from homelab_scaffold.catalog.model import ProvidedSecret
from homelab_scaffold.catalog.options import url_credentials, without_credentials
from homelab_scaffold.commands.report import announce_secrets, raise_on_conflicts, report_change
from homelab_scaffold.engine import Engine, Outcome, RunOptions, SecretRequest
from homelab_scaffold.errors import UsageError
from homelab_scaffold.generate.answers import (
    ANSWERS_FILE,
    MANUAL_SECRETS,
    apply_sets,
    parse_answers,
    split_secret_sets,
    to_plain,
)
from homelab_scaffold.generate.pipeline import load_catalog_for
from homelab_scaffold.generate.plan import SEALED_SECRETS_COMPONENT, Plan
from homelab_scaffold.generate.sealed import BOOTSTRAP_FILE, KEY_DIR
from homelab_scaffold.generate.secret_values import (
    VALUES_FILE,
    check_secret_value,
    secret_names_for,
    secret_specs,
)
from homelab_scaffold.repo.answers_file import GLOBAL_ORDER, AnswersDocument, read_config_file
from homelab_scaffold.repo.git import origin_url

_KEPT = "exists and differs; left as it is"
CREDENTIALS_HELP = (
    "Argo CD reads private repositories with credentials from a Secret, not from the URL"
)


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
        entries = sorted(p.name for p in dest.iterdir() if not _allowed_in_empty(p))
        if entries:
            raise UsageError(
                f"destination {dest} is not empty (has {entries[0]}); choose an empty folder, "
                "or pass --force to add the generated files (existing files are kept)"
            )


def _allowed_in_empty(path: Path) -> bool:
    """``.git``, and ``.scaffold`` holding nothing but this run's lock."""
    if path.name == ".git":
        return True
    return path.name == ".scaffold" and sorted(p.name for p in path.iterdir()) == ["lock"]


def gather_mapping(dest: Path, config: Path | None, no_input: bool) -> dict[str, Any]:
    """The raw answers: from --config, the full default stack, or the prompts."""
    if config is not None:
        mapping: dict[str, Any] = to_plain(read_config_file(config))
        return mapping
    catalog = load_catalog_for(parse_answers({}, "defaults"), dest)
    if no_input:
        return {"components": {n: {} for n, c in catalog.components.items() if c.in_default_stack}}
    from homelab_scaffold.prompts import ask_answers

    return ask_answers(catalog, _origin(dest)[0])


def _origin(dest: Path) -> tuple[str | None, bool]:
    """git's origin URL without credentials, and whether it had some."""
    remote = origin_url(dest)
    if remote is None:
        return None, False
    return without_credentials(remote), bool(url_credentials(remote))


def answers_document(config: Path | None, mapping: Mapping[str, Any]) -> AnswersDocument:
    """scaffold.yaml to start from: a --config file as written (comments too) completed with the
    settings from --set or git; else a fresh file for the gathered answers."""
    answers = parse_answers(mapping, str(config) if config else "answers")
    if config is None:
        return AnswersDocument.fresh(answers)
    document = AnswersDocument(read_config_file(config))
    for key in GLOBAL_ORDER:
        if key in mapping:
            document.set_global(key, mapping[key])
    for name, options in (mapping.get("components") or {}).items():
        document.complete_component(name, options or {})
    return document


def secret_overrides(plan: Plan, given: Mapping[str, str]) -> dict[str, dict[str, str]]:
    """``--set secrets.NAME=VALUE`` as values by component and key, each checked.

    Raises:
        UsageError: An unknown secret name or a bad value.
    """
    specs = secret_specs(plan)
    overrides: dict[str, dict[str, str]] = {}
    for name, value in given.items():
        for full in secret_names_for(name, specs):
            component, _, key = full.partition(".")
            overrides.setdefault(component, {})[key] = check_secret_value(full, value, specs[full])
    return overrides


def _asker(no_input: bool) -> Any:
    if no_input:
        return None
    from homelab_scaffold.prompts import ask_secret, terminal_available

    if not terminal_available():
        return None

    def ask(provided: ProvidedSecret) -> str:
        return ask_secret(f"{provided.name}: {provided.description} (hidden input)")

    return ask


def _prepared_mapping(
    dest: Path, config: Path | None, no_input: bool, sets: tuple[str, ...]
) -> tuple[dict[str, Any], list[str]]:
    mapping = apply_sets(gather_mapping(dest, config, no_input), sets)
    warnings: list[str] = []
    if no_input and config is None and mapping.get("secrets") == MANUAL_SECRETS:
        # The default stack's sealed-secrets controller has nothing to do without sealing.
        components = mapping.get("components") or {}
        if not components.get(SEALED_SECRETS_COMPONENT):
            components.pop(SEALED_SECRETS_COMPONENT, None)
    if mapping.get("repo_url") in (None, ""):
        mapping.pop("repo_url", None)
        remote, had_credentials = _origin(dest)
        if remote:
            mapping["repo_url"] = remote
        if had_credentials:
            warnings.append(
                f"git's origin URL holds credentials; scaffold.yaml gets it without them "
                f"({remote}). {CREDENTIALS_HELP}"
            )
    return mapping, warnings


def init_repo(
    dest: Path,
    *,
    config: Path | None,
    no_input: bool,
    sets: tuple[str, ...],
    force: bool,
    dry_run: bool,
    environ: Mapping[str, str] | None = None,
) -> tuple[Outcome, list[str]]:
    """Render a new repository into ``dest`` through the engine; nothing is written unless
    everything rendered. Returns the outcome and warnings for the user.

    The engine is entered first: an init that was killed half-way is rolled back before the
    destination is checked, so running the same init again just works."""
    options = RunOptions(
        dry_run=dry_run,
        force=force,
        existing="keep",
        ask_secret=_asker(no_input),
        missing_secret_hint="pass --set secrets.{alias}=VALUE",
        **({"environ": environ} if environ is not None else {}),
    )
    with Engine(dest, options) as engine:
        check_destination(dest, force)
        sets, secret_sets = split_secret_sets(sets)
        mapping, warnings = _prepared_mapping(dest, config, no_input, sets)
        source = str(config) if config else "answers"
        document = answers_document(config, mapping)
        plan = engine.catalog_plan(document.answers(source), source)
        request = SecretRequest(overrides=secret_overrides(plan, secret_sets))
        outcome = engine.sync(
            engine.new_repo(), document, secrets=request, source=source, complete_answers=True
        )
    return outcome, warnings


def report_init(dest: Path, outcome: Outcome, warnings: list[str], dry_run: bool) -> None:
    """Tell the user what happened (the one place init prints)."""
    plan = outcome.plan
    for name, needed_by in plan.added.items():
        ui.info(f"Added {name}: needed by {', '.join(needed_by)}")
    for line in outcome.notes:
        ui.note(line)
    for change in outcome.changes:
        if change.writes and dry_run:
            ui.action("would " + change.action, change.path)
        else:
            report_change(change, False, _KEPT)
    ui.warn_all([*plan.warnings, *warnings])
    if plan.answers.repo_url_is_placeholder:
        ui.warn(
            f"repo_url is a placeholder ({plan.answers.repo_url}); set it in "
            f"{dest / ANSWERS_FILE} to the Git URL Argo CD will pull, "
            "then run `scaffold regenerate`"
        )
    announce_secrets(outcome)
    if outcome.written and outcome.rendered.new_key_pair is not None:
        ui.info(
            f"Sealing key created in {dest / KEY_DIR}: back it up now (with "
            f"{VALUES_FILE}); it is the only key that decrypts the SealedSecrets in Git. "
            f"Bootstrap applies it from {BOOTSTRAP_FILE}."
        )
    if outcome.written:
        ui.info(f"Done. Next: read {dest / 'README.md'} to bootstrap the cluster.")
    raise_on_conflicts(outcome, dry_run)


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
    outcome, warnings = init_repo(
        dest, config=config, no_input=no_input, sets=sets, force=force, dry_run=dry_run
    )
    report_init(dest, outcome, warnings, dry_run)
