"""What ``scaffold secret seal | cert`` do once their options are parsed.

``seal`` is ``kubeseal`` offline with the repository's own key: the Secret comes from
``--from-literal``/``--from-file`` or a manifest (``-f``), its SealedSecret goes into the folder of
the Application that deploys into its namespace, written through the engine's one write path.
Values are read as bytes and never printed; the key pair stays where the secret store keeps it.
The options are declared in ``commands.secret``, which imports this module only when one runs.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from homelab_scaffold import ui
from homelab_scaffold.commands.report import JSON
from homelab_scaffold.commands.secret_input import read_capped
from homelab_scaffold.engine import Engine, RunOptions
from homelab_scaffold.errors import UsageError
from homelab_scaffold.generate.own_secrets import (
    OwnSecret,
    SealedPlace,
    app_folder,
    choose_app,
    collect_data,
    file_key,
    manifests_apps,
    sealed_file_name,
    sealed_place,
    sealed_text,
    secret_from_manifest,
    split_pair,
)
from homelab_scaffold.generate.plan import Plan, PlannedApp
from homelab_scaffold.generate.sealed import KEY_DIR
from homelab_scaffold.generate.sealing_crypto import KeyPair, Scope
from homelab_scaffold.inspect.apps import KUSTOMIZATION_FILES
from homelab_scaffold.paths import check_relative, read_bytes, read_text
from homelab_scaffold.repo.changes import FileChange, unified_diff
from homelab_scaffold.repo.secret_store import SecretStore
from homelab_scaffold.yamlio import MAX_BYTES as MAX_YAML_BYTES

# What the API server accepts for one Secret's data.
MAX_SECRET_BYTES = 1024 * 1024
_STDIN = "-"


@dataclass(frozen=True)
class SealRequest:
    """The options of one ``secret seal``, as given."""

    name: str | None
    namespace: str | None
    literals: tuple[str, ...]
    files: tuple[str, ...]
    manifest: str | None
    secret_type: str | None
    scope: Scope
    app: str | None
    output_file: str | None
    merge: bool


def seal_secret(
    directory: Path, force: bool, dry_run: bool, output: str, **given: Any
) -> None:
    """``scaffold secret seal`` once its options are parsed (see ``commands.secret``)."""
    request = SealRequest(**given)
    secret = own_secret(request)
    with Engine(directory, RunOptions(dry_run=dry_run, force=force)) as engine:
        plan = engine.catalog_plan(engine.open_repo().document().answers())
        key_pair = sealing_key(engine.root, plan)
        app, path = _target(engine.root, plan, secret, request)
        current = read_bytes(engine.root, path, "output file")
        current_text = _text_of(current, path)
        generated = engine.open_repo().state.files
        places = _sealed_places(engine)
        replacing = _refuse_taken(places, path, current_text, secret, force, generated)
        text = sealed_text(
            secret, key_pair, scope=request.scope, existing=current_text, merge=request.merge
        )
        change = engine.write_file(path, text, check_clean=not replacing)
    notes = [*engine.notes, *_notes(engine.root, plan, secret, app, change, replacing)]
    _report(change, secret, request, app, notes, dry_run=dry_run, output=output)


# -- the Secret ---------------------------------------------------------------------------------


def own_secret(request: SealRequest) -> OwnSecret:
    """The Secret the options describe, checked (values read as bytes, never shown).

    Raises:
        UsageError: Both or neither of a manifest and --from-*, a mismatch with the manifest,
            unreadable files, bad names or keys, or more than a Secret may hold.
    """
    from_items = bool(request.literals or request.files)
    if request.manifest is not None and from_items:
        raise UsageError(
            "give the values with -f MANIFEST or with --from-literal/--from-file, not both"
        )
    if request.manifest is not None:
        secret = _from_manifest(request)
    elif from_items:
        secret = _from_items(request)
    else:
        raise UsageError(
            "nothing to seal: give --from-literal KEY=VALUE, --from-file [KEY=]PATH "
            "(repeatable), or -f secret.yaml (- for stdin)"
        )
    size = sum(len(v) for v in secret.data.values())
    if size > MAX_SECRET_BYTES:
        raise UsageError(
            f"Secret {secret.namespace}/{secret.name} would hold {size} bytes; a Secret holds "
            f"at most {MAX_SECRET_BYTES} (1 MiB)"
        )
    return secret.check()


def _from_items(request: SealRequest) -> OwnSecret:
    if not request.name or not request.namespace:
        raise UsageError("give the Secret's NAME and --namespace NS (or -f with a manifest)")
    pairs = [_literal(text) for text in request.literals]
    pairs += [_file_value(text) for text in request.files]
    return OwnSecret(
        name=request.name,
        namespace=request.namespace,
        data=collect_data(pairs),
        type=request.secret_type or "Opaque",
    )


def _literal(text: str) -> tuple[str, bytes]:
    key, value = split_pair(text, "--from-literal")
    return key, value.encode("utf-8", errors="surrogateescape")


def _file_value(text: str) -> tuple[str, bytes]:
    key, path = file_key(text)
    named = f"--from-file {path}"
    return key, read_capped(Path(path), MAX_SECRET_BYTES, named, "give one file per key")


def _from_manifest(request: SealRequest) -> OwnSecret:
    source = "standard input" if request.manifest == _STDIN else str(request.manifest)
    raw = _read_manifest(str(request.manifest), source)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"{source} is not UTF-8 text; give a YAML Secret manifest") from None
    secret = secret_from_manifest(text, source)
    name = _agreeing(secret.name, request.name, "NAME", "metadata.name", source)
    namespace = _agreeing(
        secret.namespace, request.namespace, "--namespace", "metadata.namespace", source
    )
    stated_type = secret.type if secret.type != "Opaque" else ""
    kind = _agreeing(stated_type, request.secret_type, "--type", "type", source)
    if not name or not namespace:
        missing = "metadata.name (or NAME)" if not name else "metadata.namespace (or --namespace)"
        raise UsageError(f"{source} has no {missing}")
    return OwnSecret(
        name=name,
        namespace=namespace,
        data=secret.data,
        type=kind or "Opaque",
        labels=secret.labels,
        annotations=secret.annotations,
        immutable=secret.immutable,
    )


def _read_manifest(path: str, source: str) -> bytes:
    if path != _STDIN:
        return read_capped(Path(path), MAX_YAML_BYTES, f"-f {source}", "give one Secret manifest")
    raw: bytes = sys.stdin.buffer.read(MAX_YAML_BYTES + 1)
    if len(raw) > MAX_YAML_BYTES:
        raise UsageError(f"{source}: larger than {MAX_YAML_BYTES} bytes")
    return raw


def _agreeing(stated: str, given: str | None, option: str, field: str, source: str) -> str:
    """The manifest's value, or the option's when the manifest has none; both must agree."""
    if given and stated and given != stated:
        raise UsageError(f"{option} {given} differs from {field} {stated} in {source}")
    return stated or given or ""


# -- the key and where the file goes ---------------------------------------------------------


def sealing_key(root: Path, plan: Plan) -> KeyPair:
    """The repository's key pair, when its Secrets are sealed by its controller.

    Raises:
        UsageError: ``secrets: manual``, no controller, or no key yet.
        RepoError: A damaged key pair.
    """
    if not plan.answers.sealed:
        raise UsageError(
            "this repository keeps its Secrets by hand (secrets: manual), so it has no sealing "
            "key; set `secrets: sealed-secrets` in scaffold.yaml, or use kubeseal with your "
            "own controller"
        )
    key_pair = SecretStore(root).key_pair() if plan.sealed else None
    if key_pair is None:
        raise UsageError(
            f"no sealing key in {KEY_DIR}/ (scaffold makes it, and adds the sealed-secrets "
            "controller, once a component needs a Secret); restore secrets/ from your backup "
            "if you had one"
        )
    return key_pair


def _target(
    root: Path, plan: Plan, secret: OwnSecret, request: SealRequest
) -> tuple[PlannedApp | None, str]:
    """The Application that deploys the file (None when no scaffold Application does), and
    the file's path in the repository."""
    if request.output_file is not None:
        if request.app is not None:
            raise UsageError("give --app or --output-file, not both")
        path = repository_path(root, request.output_file)
        folder = path.rpartition("/")[0]
        return next((a for a in manifests_apps(plan) if app_folder(a) == folder), None), path
    app = choose_app(plan, secret.namespace, request.app)
    return app, f"{app_folder(app)}/{sealed_file_name(secret.name)}"


def repository_path(root: Path, given: str) -> str:
    """``--output-file``: a path relative to the current folder (or absolute), inside the
    repository, as a path relative to it.

    Raises:
        UsageError: Outside the repository, or not a ``.yaml``/``.yml`` file.
    """
    # normpath, not resolve(): a link on the way must be seen (and refused), not followed.
    absolute = Path(os.path.normpath(Path.cwd() / given))
    try:
        relative = absolute.relative_to(Path(os.path.normpath(root))).as_posix()
    except ValueError:
        raise UsageError(f"--output-file {given} is outside the repository {root}") from None
    if not relative.endswith((".yaml", ".yml")) or relative in {".", ""}:
        raise UsageError(f"--output-file {given} must be a .yaml file (Argo CD reads those)")
    return check_relative(relative, "--output-file")


def _text_of(raw: bytes | None, path: str) -> str | None:
    if raw is None:
        return None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return "\0"  # not text: certainly not a SealedSecret scaffold could replace in place


def _refuse_taken(
    places: list[SealedPlace],
    path: str,
    current: str | None,
    secret: OwnSecret,
    force: bool,
    generated: Mapping[str, str],
) -> bool:
    """Refuse another file already sealing this Secret, and a file at ``path`` that is not
    its SealedSecret (unless ``force``). Returns True when ``path`` holds its SealedSecret now
    (sealing again replaces it).

    Raises:
        UsageError: What is in the way, and what to do.
    """
    for place in places:
        if (place.namespace, place.name) != (secret.namespace, secret.name):
            continue
        if place.path in generated:
            raise UsageError(
                f"scaffold seals {secret.namespace}/{secret.name} itself ({place.path}); change "
                "its values with `scaffold secret set` (see `scaffold secret list`), or pick "
                "another NAME"
            )
        if place.path != path:
            raise UsageError(
                f"{place.path} already seals the Secret {secret.namespace}/{secret.name}; "
                "two SealedSecrets would fight over it. Seal into that file (--output-file "
                f"{place.path}), delete it first, or pick another NAME"
            )
    if current is None:
        return False
    here = sealed_place(path, current)
    if here is not None and (here.namespace, here.name) == (secret.namespace, secret.name):
        return True
    if not force:
        raise UsageError(
            f"{path} exists and is not the SealedSecret of {secret.namespace}/{secret.name}; "
            "pass --force to replace it, or choose another --output-file"
        )
    return False


def _sealed_places(engine: Engine) -> list[SealedPlace]:
    """Every SealedSecret under ``kubernetes/``: scaffold's ``*.sealedsecret.yaml`` files and the
    user's own, whatever their names (kubeseal's output, ``--output-file``)."""
    found = SecretStore(engine.root).sealed_files()
    for path in engine.own_sealed_files():
        if path not in found and (text := read_text(engine.root, path)) is not None:
            found[path] = text
    return [p for path, text in found.items() if (p := sealed_place(path, text)) is not None]


# -- reporting ----------------------------------------------------------------------------------


def _notes(
    root: Path,
    plan: Plan,
    secret: OwnSecret,
    app: PlannedApp | None,
    change: FileChange,
    replacing: bool,
) -> list[str]:
    folder = change.path.rpartition("/")[0]
    notes = []
    if change.action == "update" and replacing:
        notes.append(
            f"Replaced the SealedSecret of {secret.namespace}/{secret.name} in {change.path} "
            "(values that did not change keep their ciphertext)."
        )
    if app is None:
        notes.append(
            f"No Application of scaffold deploys {folder or 'the repository top'}/: make sure "
            "something applies the file to the cluster."
        )
    elif app.spec.namespace != secret.namespace:
        notes.append(
            f"{app.name} deploys into namespace {app.spec.namespace}; the SealedSecret names "
            f"namespace {secret.namespace}, which must exist."
        )
    for name in KUSTOMIZATION_FILES:
        if read_bytes(root, f"{folder}/{name}" if folder else name) is not None:
            notes.append(
                f"{folder}/{name} makes Kustomize render this folder: add "
                f"{change.path.rpartition('/')[2]} to its resources, or Argo CD skips it."
            )
    if change.writes and app is not None:
        notes.append(f"Commit and push it: Argo CD applies it with the Application {app.name}.")
    return notes


def _report(
    change: FileChange,
    secret: OwnSecret,
    request: SealRequest,
    app: PlannedApp | None,
    notes: list[str],
    *,
    dry_run: bool,
    output: str,
) -> None:
    if output == JSON:
        ui.json_document(
            {
                "dry_run": dry_run,
                "written": change.writes and not dry_run,
                "action": change.action,
                "path": change.path,
                "application": app.name if app is not None else None,
                "secret": {
                    "namespace": secret.namespace,
                    "name": secret.name,
                    "type": secret.type,
                    "scope": request.scope,
                    "keys": sorted(secret.data),
                },
                "notes": notes,
            }
        )
        return
    if dry_run and change.writes:
        ui.diff(unified_diff(change).rstrip("\n"))
    else:
        ui.action(change.action, change.path)
    for line in notes:
        ui.info(line)
    if not change.writes:
        ui.info(f"Nothing to change: {change.path} already seals these values.")
    elif dry_run:
        ui.info("Dry run: nothing was written.")


# -- secret cert --------------------------------------------------------------------------------


def print_certificate(directory: Path) -> None:
    """``scaffold secret cert``: the sealing certificate (PEM) on stdout, a hint on stderr.

    Raises:
        UsageError: The repository has no key pair.
    """
    with Engine(directory, RunOptions(dry_run=True)) as engine:
        engine.open_repo()
        key_pair = SecretStore(engine.root).key_pair()
    if key_pair is None:
        raise UsageError(
            f"no sealing key in {KEY_DIR}/ (a repository with `secrets: manual`, or one where "
            "no component needs a Secret yet); nothing to print"
        )
    ui.raw(key_pair.certificate_pem.decode("ascii"))
    ui.note(
        "Seal with kubeseal offline: scaffold secret cert > cert.pem && "
        "kubeseal --cert cert.pem -f secret.yaml -w secret.sealedsecret.yaml"
    )
