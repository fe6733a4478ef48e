"""What ``scaffold secret list | set | rotate`` do once their options are parsed.

Values live in the gitignored ``secrets/values.yaml``; with ``secrets: sealed-secrets`` every
change is sealed again into the tracked SealedSecret that carries it (and only that one), with
``secrets: manual`` the Secret manifests in ``secrets/`` are rewritten. The options are declared
in ``commands.secret``, which imports this module only when a command runs.
"""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from homelab_scaffold import ui
from homelab_scaffold.catalog.model import SECRET_SSH_PRIVATE_KEY, ProvidedSecret, SecretSpec
from homelab_scaffold.commands.common import confirm_or_refuse
from homelab_scaffold.commands.report import Extras, report_outcome
from homelab_scaffold.commands.secret_input import file_problem, read_secret_file
from homelab_scaffold.engine import Engine, RunOptions, SecretRequest
from homelab_scaffold.errors import UsageError
from homelab_scaffold.generate.own_secrets import sealed_summaries
from homelab_scaffold.generate.plan import Plan
from homelab_scaffold.generate.sealed import (
    BOOTSTRAP_FILE,
    KEY_DIR,
    sealing_namespace,
    secret_holders,
)
from homelab_scaffold.generate.sealing_crypto import generate_key_pair
from homelab_scaffold.generate.secret_values import (
    SECRETS_DIR,
    check_secret_value,
    rotation_notes,
    secret_names_for,
    secret_specs,
)
from homelab_scaffold.paths import read_text
from homelab_scaffold.repo.secret_store import SecretStore

# The ``origin`` of a SealedSecret of the user's own in ``secret list``.
YOURS = "yours"


def plan_of(engine: Engine) -> Plan:
    """The plan of the repository's answers (which secrets exist, and where they go)."""
    return engine.catalog_plan(engine.open_repo().document().answers())


def sync_secrets(engine: Engine, request: SecretRequest, notes: list[str]) -> None:
    """One engine sync with ``request``; ``notes`` are told when something changed."""
    repo = engine.open_repo()
    with ui.progress("Sealing"):
        outcome = engine.sync(repo, repo.document(), secrets=request)
    told = tuple(notes) if outcome.changes_anything else ()
    report_outcome(outcome, dry_run=engine.options.dry_run, extras=Extras(notes=told))


def secret_rows(engine: Engine) -> list[dict[str, Any]]:
    """One row per secret value: its name, origin, whether it has one, the Secrets that carry
    it. Never the value: only whether one is stored."""
    plan = plan_of(engine)
    specs = secret_specs(plan)
    stored = SecretStore(engine.root).read_values() or {}
    holders = secret_holders(plan)
    kind = "SealedSecret" if plan.sealed else "Secret"
    rows = []
    for name, spec in specs.items():
        component, _, key = name.partition(".")
        rows.append(
            {
                "name": name,
                "component": component,
                "key": key,
                "origin": "generated" if isinstance(spec, SecretSpec) else "provided",
                "alias": spec.alias if isinstance(spec, ProvidedSecret) else "",
                "has_value": bool(stored.get(component, {}).get(key)),
                "carried_by": [
                    {"kind": kind, "secret": h.secret, "data_key": h.data_key, "path": h.path}
                    for h in holders[name]
                ],
            }
        )
    return rows


def own_sealed_rows(engine: Engine) -> list[dict[str, Any]]:
    """One row per SealedSecret of the user's own (``secret seal``, kubeseal) under
    ``kubernetes/``: name, namespace, scope, type, keys and file; never a value."""
    rows = []
    for path in engine.own_sealed_files():
        for found in sealed_summaries(path, read_text(engine.root, path, "manifest") or ""):
            rows.append(
                {
                    "name": found.name,
                    "origin": YOURS,
                    "namespace": found.namespace,
                    "scope": found.scope,
                    "type": found.type,
                    "keys": list(found.keys),
                    "path": found.path,
                }
            )
    return rows


def describe_own_sealed(row: dict[str, Any]) -> str:
    """One line: ``namespace/name (sealed by you, scope): keys in file``."""
    keys = ", ".join(row["keys"]) or "no keys"
    return (
        f"{row['namespace']}/{row['name']} (sealed by you, {row['scope']} scope): "
        f"SealedSecret with keys {keys} in {row['path']}"
    )


def describe_secret(row: dict[str, Any]) -> str:
    """One line: ``name (origin[, no value yet]): where it is carried``."""
    origin = "generated" if row["origin"] == "generated" else "provided by you"
    missing = "" if row["has_value"] else ", no value yet"
    places = "; ".join(
        f"{h['kind']} {h['secret']} (key {h['data_key']}) in {h['path']}" for h in row["carried_by"]
    )
    return f"{row['name']} ({origin}{missing}): {places or 'in no Secret'}"


def list_secrets(directory: Path, output: str) -> None:
    """``scaffold secret list`` once its options are parsed (see ``commands.secret``)."""
    with Engine(directory, RunOptions(dry_run=True)) as engine:
        rows = secret_rows(engine)
        yours = own_sealed_rows(engine)
    if output == "json":
        ui.json_document({"secrets": rows + yours})
        return
    for row in rows:
        ui.info(describe_secret(row))
    for row in yours:
        ui.info(describe_own_sealed(row))
    if not rows and not yours:
        ui.info("No selected component has secret values.")


def read_value(
    name: str,
    env_var: str | None,
    spec: SecretSpec | ProvidedSecret,
    value_file: Path | None = None,
) -> str:
    """The new value: from ``env_var``, from ``value_file``, from standard input when it is
    not a terminal, or from a hidden prompt (asked twice; a key file's path for a key)."""
    if env_var is not None and value_file is not None:
        raise UsageError("give --value-from-env or --value-from-file, not both")
    if env_var is not None:
        value = os.environ.get(env_var, "")
        if not value:
            raise UsageError(f"--value-from-env {env_var}: the environment variable is not set")
        return value
    if value_file is not None and isinstance(spec, ProvidedSecret):
        return read_secret_file(value_file, spec, "--value-from-file")
    if value_file is not None:
        raise UsageError(f"--value-from-file: {name} is generated; give a value on stdin instead")
    if not sys.stdin.isatty():
        text: str = sys.stdin.read()
        return text.removesuffix("\n").removesuffix("\r")
    from homelab_scaffold.prompts import ask_path, ask_secret

    if isinstance(spec, ProvidedSecret) and spec.format == SECRET_SSH_PRIVATE_KEY:
        path = ask_path(
            f"Path of the new {name} key file",
            lambda text: file_problem(Path(text).expanduser(), spec),
        )
        return read_secret_file(Path(path).expanduser(), spec, "the key file")
    return ask_secret(f"New value for {name} (hidden input)", confirm=True)


def set_secret(
    name: str,
    env_var: str | None,
    directory: Path,
    force: bool,
    dry_run: bool,
    value_file: Path | None = None,
) -> None:
    """``scaffold secret set`` once its options are parsed (see ``commands.secret``)."""
    with Engine(directory, RunOptions(dry_run=dry_run, force=force)) as engine:
        plan = plan_of(engine)
        specs = secret_specs(plan)
        names = secret_names_for(name, specs)
        full = names[0]
        spec = specs[full]
        value = check_secret_value(full, read_value(full, env_var, spec, value_file), spec)
        request = SecretRequest(overrides=_shared_overrides(names, value))
        sync_secrets(engine, request, _set_notes(plan, full, spec))


def _set_notes(plan: Plan, full: str, spec: SecretSpec | ProvidedSecret) -> list[str]:
    notes = [f"{full} is sealed; commit and push the changed SealedSecret."] if plan.sealed else []
    if isinstance(spec, ProvidedSecret) and spec.bootstrap and not plan.sealed:
        folder = f"{SECRETS_DIR}/{spec.component}/"
        notes.append(f"Give the cluster the new value: kubectl apply -f {folder}")
    return notes


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


def _own_sealed_notice(engine: Engine) -> list[str]:
    """SealedSecrets scaffold did not seal itself (``secret seal``): the new key cannot
    decrypt them, and scaffold does not hold their values."""
    own = engine.own_sealed_files()
    if not own:
        return []
    return [
        f"Seal your own SealedSecrets again with the new key (`scaffold secret seal`): "
        f"{', '.join(own)}"
    ]


def _old_key_dir() -> str:
    """Where the replaced key pair is kept: ``secrets/sealing-key.old-<UTC time>``."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{KEY_DIR}.old-{stamp}"


def _old_key_notice(folder: str) -> str:
    return (
        f"The old key pair is kept in {folder}/: the old key still decrypts the SealedSecrets "
        "the cluster holds until you apply the new one; delete it once the cluster runs with "
        "the new key"
    )


def _confirm_new_key(engine: Engine) -> None:
    """Replacing the sealing key asks first on a terminal; a script must say --yes."""
    if not SecretStore(engine.root).has_key_files():
        return  # the key is lost: nothing is replaced
    what = (
        f"--new-key replaces the sealing key in {KEY_DIR}/ (the old pair is kept beside it) "
        "and seals every value with the new one"
    )
    confirm_or_refuse(what, "Go on?")


def rotate_secrets(
    name: str | None,
    everything: bool,
    new_key: bool,
    directory: Path,
    force: bool,
    dry_run: bool,
    yes: bool = False,
) -> None:
    """``scaffold secret rotate`` once its options are parsed (see ``commands.secret``)."""
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
        notes = [_new_key_notice(planned), *_own_sealed_notice(engine)] if new_key else []
        if everything:
            key_pair, old_key_dir = None, None
            if new_key:
                if not dry_run and not yes:
                    _confirm_new_key(engine)
                if SecretStore(engine.root).has_key_files():
                    old_key_dir = _old_key_dir()
                    notes.append(_old_key_notice(old_key_dir))
                with ui.progress("Generating a new RSA-4096 sealing key"):
                    key_pair = generate_key_pair()
            # With values.yaml lost, --all is the explicit way to make every value anew.
            request = SecretRequest(
                reseal_all=True, new_key=key_pair, regenerate_all=True, old_key_dir=old_key_dir
            )
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
