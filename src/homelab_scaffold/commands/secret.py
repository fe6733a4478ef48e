"""``scaffold secret list | set | rotate``: the secret values of a repository, never shown.

Values live in the gitignored ``secrets/values.yaml``; with ``secrets: sealed-secrets`` every
change is sealed again into the tracked SealedSecret that carries it (and only that one), with
``secrets: manual`` the Secret manifests in ``secrets/`` are rewritten.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from homelab_scaffold import ui
from homelab_scaffold.catalog.model import ProvidedSecret, SecretSpec
from homelab_scaffold.commands.common import directory_option
from homelab_scaffold.commands.report import report_outcome
from homelab_scaffold.engine import Engine, RunOptions, SecretRequest
from homelab_scaffold.errors import UsageError
from homelab_scaffold.generate.plan import Plan
from homelab_scaffold.generate.sealed import (
    BOOTSTRAP_FILE,
    KEY_DIR,
    Holder,
    sealing_namespace,
    secret_holders,
)
from homelab_scaffold.generate.sealing_crypto import generate_key_pair
from homelab_scaffold.generate.secret_values import (
    check_secret_value,
    rotation_notes,
    secret_names_for,
    secret_specs,
)
from homelab_scaffold.repo.secret_store import SecretStore


def _directory(func: Callable[..., Any]) -> Callable[..., Any]:
    decorated: Callable[..., Any] = directory_option(
        "The homelab repository (default: the current folder)."
    )(func)
    return decorated


def _writing(func: Callable[..., Any]) -> Callable[..., Any]:
    """--force and --dry-run, as on every writing command."""
    func = click.option("--dry-run", is_flag=True, help="Print what would change; write nothing.")(
        func
    )
    return click.option(
        "--force", is_flag=True, help="Touch files with uncommitted changes; overwrite edits."
    )(func)


def plan_of(engine: Engine) -> Plan:
    """The plan of the repository's answers (which secrets exist, and where they go)."""
    return engine.catalog_plan(engine.open_repo().document().answers())


def sync_secrets(engine: Engine, request: SecretRequest, notes: list[str]) -> None:
    """One engine sync with ``request``; ``notes`` are told when something changed."""
    repo = engine.open_repo()
    outcome = engine.sync(repo, repo.document(), secrets=request)
    report_outcome(
        outcome, dry_run=engine.options.dry_run, notes=notes if outcome.changes_anything else []
    )


@click.group("secret")
def secret_command() -> None:
    """List, set and rotate the secret values (sealed into SealedSecrets; never shown)."""


def _where(holder: Holder, sealed: bool) -> str:
    kind = "SealedSecret" if sealed else "Secret"
    return f"{kind} {holder.secret} (key {holder.data_key}) in {holder.path}"


def describe_secrets(engine: Engine) -> list[str]:
    """One line per secret value: its name, origin, whether it has a value, where it goes."""
    plan = plan_of(engine)
    specs = secret_specs(plan)
    stored = SecretStore(engine.root).read_values() or {}
    holders = secret_holders(plan)
    lines = []
    for name, spec in specs.items():
        component, _, key = name.partition(".")
        origin = "generated" if isinstance(spec, SecretSpec) else "provided by you"
        missing = "" if stored.get(component, {}).get(key) else ", no value yet"
        places = "; ".join(_where(h, plan.sealed) for h in holders[name]) or "in no Secret"
        lines.append(f"{name} ({origin}{missing}): {places}")
    return lines


@secret_command.command("list")
@_directory
def list_command(directory: Path) -> None:
    """Show every secret value's name and the Secret that carries it (never the value)."""
    with Engine(directory, RunOptions(dry_run=True)) as engine:
        lines = describe_secrets(engine)
    for line in lines:
        ui.info(line)
    if not lines:
        ui.info("No selected component has secret values.")


def read_value(name: str, env_var: str | None) -> str:
    """The new value: from ``env_var``, from standard input when it is not a terminal, or from a
    hidden prompt (asked twice)."""
    if env_var is not None:
        value = os.environ.get(env_var, "")
        if not value:
            raise UsageError(f"--value-from-env {env_var}: the environment variable is not set")
        return value
    if not sys.stdin.isatty():
        text: str = sys.stdin.read()
        return text.removesuffix("\n").removesuffix("\r")
    from homelab_scaffold.prompts import ask_secret

    return ask_secret(f"New value for {name} (hidden input)", confirm=True)


@secret_command.command("set")
@click.argument("name")
@click.option(
    "--value-from-env",
    "env_var",
    metavar="VAR",
    help="Read the value from environment variable VAR (for scripts; or pipe it on stdin).",
)
@_directory
@_writing
def set_command(
    name: str, env_var: str | None, directory: Path, force: bool, dry_run: bool
) -> None:
    """Give secret NAME (component.key) a value of your own and seal it again."""
    with Engine(directory, RunOptions(dry_run=dry_run, force=force)) as engine:
        specs = secret_specs(plan_of(engine))
        names = secret_names_for(name, specs)
        full = names[0]
        value = check_secret_value(full, read_value(full, env_var), specs[full])
        request = SecretRequest(overrides=_shared_overrides(names, value))
        plan = plan_of(engine)
        notes = [f"{full} is sealed; commit and push the changed SealedSecret."]
        sync_secrets(engine, request, notes if plan.sealed else [])


def _shared_overrides(names: tuple[str, ...], value: str) -> dict[str, dict[str, str]]:
    """``value`` for every ``component.key`` of ``names`` (values shared through an alias)."""
    overrides: dict[str, dict[str, str]] = {}
    for name in names:
        component, _, key = name.partition(".")
        overrides.setdefault(component, {})[key] = value
    return overrides


def rotatable(name: str, specs: dict[str, SecretSpec | ProvidedSecret]) -> frozenset[str]:
    """The generated values NAME means: ``component.key``, or every one of ``component``.

    Raises:
        UsageError: Unknown name, or a value the user provides (it cannot be generated).
    """
    of_component = {n for n in specs if n.partition(".")[0] == name}
    if not of_component:
        of_component = set(secret_names_for(name, specs))
    provided = sorted(n for n in of_component if isinstance(specs[n], ProvidedSecret))
    if provided:
        raise UsageError(
            f"{provided[0]} is a value you provide, scaffold cannot generate it; "
            f"change it with `scaffold secret set {provided[0]}`"
        )
    return frozenset(of_component)


def _new_key_notice(plan: Plan) -> str:
    namespace = sealing_namespace(plan)
    return (
        f"New sealing key in {KEY_DIR}/: back it up, then give it to the cluster and commit: "
        f"kubectl apply -f {BOOTSTRAP_FILE} && kubectl -n {namespace} rollout restart "
        "deployment sealed-secrets-controller"
    )


@secret_command.command("rotate")
@click.argument("name", required=False)
@click.option("--all", "everything", is_flag=True, help="Seal every value again.")
@click.option(
    "--new-key", is_flag=True, help="With --all: make a new sealing key pair first (lost key)."
)
@_directory
@_writing
def rotate_command(
    name: str | None,
    everything: bool,
    new_key: bool,
    directory: Path,
    force: bool,
    dry_run: bool,
) -> None:
    """Generate a new value for NAME (component.key, or a component) and seal it; or, with
    --all, seal every value again (--new-key: with a new key pair)."""
    if bool(name) == everything:
        raise UsageError("give a secret NAME (e.g. authelia.admin_password) or --all, not both")
    if new_key and not everything:
        raise UsageError("--new-key seals every value again; use it with --all")
    with Engine(directory, RunOptions(dry_run=dry_run, force=force)) as engine:
        planned = plan_of(engine)
        if everything and not planned.sealed:
            raise UsageError(
                "nothing is sealed in this repository (secrets: manual, or no sealed-secrets); "
                "--all re-seals SealedSecrets"
            )
        notes = [_new_key_notice(planned)] if new_key else []
        if everything:
            key_pair = generate_key_pair() if new_key else None
            # With values.yaml lost, --all is the explicit way to make every value anew.
            request = SecretRequest(reseal_all=True, new_key=key_pair, regenerate_all=True)
        else:
            specs = secret_specs(planned)
            request = SecretRequest(fresh=rotatable(str(name), specs))
            migrations = rotation_notes(request.fresh, specs)
            if migrations and not force and not dry_run:
                raise UsageError(
                    f"{migrations[0]}; a new value locks the application out of what it stored "
                    "until that step runs. Pass --force to rotate it anyway"
                )
            notes += migrations
        sync_secrets(engine, request, notes)
