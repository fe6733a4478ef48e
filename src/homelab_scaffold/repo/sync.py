"""Bring an existing repo in line with its answers: decide every file's change, keep user edits.

For each file scaffold generates: base = what it generated last time (the state), ours = the
file now, theirs = the new render. Untouched files are rewritten, edited ones merged three-way,
deleted ones stay deleted, files the user added are never looked at. Secret files (gitignored)
are tracked by hash only, so their content never reaches the tracked state file.

Sealed repositories (``secrets: sealed-secrets``) also hand the pipeline their key pair and
current SealedSecret files, so unchanged values keep their ciphertext; a missing key is created
only while nothing is sealed yet.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml.comments import CommentedMap

from homelab_scaffold.errors import RepoError, UsageError
from homelab_scaffold.generate.answers import (
    ANSWERS_FILE,
    Answers,
    dump_yaml,
    parse_answers,
    read_answers_file,
    to_plain,
)
from homelab_scaffold.generate.pipeline import Rendered, load_catalog_for, render_answers
from homelab_scaffold.generate.plan import SEALED_SECRETS_COMPONENT, Plan
from homelab_scaffold.generate.sealed import (
    BOOTSTRAP_FILE,
    KEY_DIR,
    SEALED_SUFFIX,
    Sealing,
    key_files,
)
from homelab_scaffold.generate.sealing_crypto import (
    CERTIFICATE_FILE,
    KEY_FILE,
    KeyPair,
    load_key_pair,
)
from homelab_scaffold.generate.secret_values import VALUES_FILE, ProvidedSecret, provided_from_env
from homelab_scaffold.repo.merge import merge_texts
from homelab_scaffold.repo.state import (
    SECRET_STATE_FILE,
    SECRET_STATE_MODE,
    STATE_FILE,
    State,
    dump_secret_state,
    dump_state,
    read_state,
    text_hash,
)
from homelab_scaffold.repo.write import FileChange

SECRET_MODE = 0o600
_UNREADABLE = object()


@dataclass(frozen=True)
class Repo:
    """A scaffold repository on disk: its answers (round-trip YAML) and its state."""

    root: Path
    answers_doc: Any
    answers_text: str
    answers_plain: Any
    state: State


@dataclass(frozen=True)
class SyncPlan:
    """Everything a writing command would do; nothing is written yet."""

    rendered: Rendered
    changes: tuple[FileChange, ...]
    state_change: FileChange
    notes: tuple[FileChange, ...] = field(default_factory=tuple)

    @property
    def writes(self) -> list[FileChange]:
        """The changes that modify the tree."""
        return [c for c in (*self.changes, self.state_change) if c.writes]

    @property
    def conflicts(self) -> list[str]:
        """Files left with conflict markers."""
        return [c.path for c in self.changes if c.action == "conflict"]


def open_repo(root: Path) -> Repo:
    """Read ``scaffold.yaml`` and the state of the repo at ``root``."""
    path = root / ANSWERS_FILE
    if not path.is_file():
        raise RepoError(
            f"no {ANSWERS_FILE} in {root}; run `scaffold init` first, or pass -C DIR for the repo"
        )
    doc = read_answers_file(path)
    return Repo(root, doc, path.read_text(encoding="utf-8"), to_plain(doc), read_state(root))


def _read_current(path: Path) -> str | object | None:
    if path.is_dir():
        raise RepoError(
            f"{path} is a folder where scaffold generates a file; move it away and re-run"
        )
    if not path.exists():
        return None
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return _UNREADABLE
    except OSError as exc:
        raise RepoError(f"cannot read {path}: {exc.strerror}") from exc


def decide(path: str, base: str | None, current: Any, new: str | None, force: bool) -> FileChange:
    """The change for one generated file (see the module docstring for the rules)."""
    if current is _UNREADABLE:
        return FileChange(path, "keep", None, old_text=None)
    if new is None:
        return _decide_removed(path, base, current, force)
    if current is None:
        if base is not None:
            return FileChange(path, "skip", new)  # deleted by the user: stays deleted
        return FileChange(path, "create", new)
    if current == new:
        return FileChange(path, "unchanged", new, old_text=current)
    if base is None or current == base:
        action = "update" if base is not None else "conflict"
        if action == "conflict":
            merged = merge_texts("", current, new)
            return FileChange(path, "conflict", merged.text, old_text=current)
        return FileChange(path, action, new, old_text=current)
    merged = merge_texts(base, current, new)
    if merged.text == current:
        return FileChange(path, "unchanged", current, old_text=current)
    action = "merge" if merged.clean else "conflict"
    return FileChange(path, action, merged.text, old_text=current)


def _decide_removed(path: str, base: str | None, current: Any, force: bool) -> FileChange:
    if current is None:
        return FileChange(path, "unchanged")
    if current == base or force:
        return FileChange(path, "delete", None, old_text=current)
    return FileChange(path, "keep", current, old_text=current)


def _tracked_changes(repo: Repo, rendered: Rendered, force: bool) -> list[FileChange]:
    paths = sorted(set(rendered.files) | set(repo.state.files))
    return [
        decide(
            path,
            repo.state.files.get(path),
            _read_current(repo.root / path),
            rendered.files.get(path),
            force,
        )
        for path in paths
    ]


def _secret_change(repo: Repo, path: str, text: str) -> FileChange:
    current = _read_current(repo.root / path)
    recorded = repo.state.secret_hashes.get(path)
    # The key Secret is a copy of the key folder: it follows the key (rotation) whatever it holds.
    owned = path == BOOTSTRAP_FILE
    if current is None:
        action = "skip" if recorded is not None and not owned else "create"
        return FileChange(path, action, text, SECRET_MODE)
    if current == text:
        return FileChange(path, "unchanged", text, SECRET_MODE, old_text=text)
    if isinstance(current, str) and (owned or recorded == text_hash(current)):
        return FileChange(path, "update", text, SECRET_MODE, old_text=current)
    return FileChange(path, "keep", None, SECRET_MODE)


def read_secret_values(root: Path) -> dict[str, dict[str, str]]:
    """The kept secret values (``secrets/values.yaml``), empty when there are none yet."""
    path = root / VALUES_FILE
    if not path.is_file():
        return {}
    data = read_answers_file(path)
    return {
        str(component): {str(k): str(v) for k, v in (values or {}).items()}
        for component, values in data.items()
        if isinstance(values, dict)
    }


def values_text(values: Mapping[str, Mapping[str, str]]) -> str:
    """The text of ``secrets/values.yaml``."""
    header = "# Generated secret values (gitignored). Keep a copy somewhere safe.\n"
    ordered = {k: dict(sorted(v.items())) for k, v in sorted(values.items()) if v}
    return header + dump_yaml(ordered)


def _secret_changes(
    repo: Repo, rendered: Rendered, existing: Mapping[str, Mapping[str, str]]
) -> list[FileChange]:
    changes = [_secret_change(repo, p, t) for p, t in rendered.secret_files.items()]
    merged = {k: dict(v) for k, v in existing.items()}
    for component, values in rendered.secret_values.items():
        merged.setdefault(component, {}).update(values)
    if merged != existing:
        current = _read_current(repo.root / VALUES_FILE)
        action = "create" if current is None else "update"
        text = values_text(merged)
        changes.append(FileChange(VALUES_FILE, action, text, SECRET_MODE, old_text=None))
    return changes


def _key_changes(repo: Repo, key_pair: KeyPair | None) -> list[FileChange]:
    if key_pair is None:
        return []
    return [
        FileChange(path, "update" if (repo.root / path).exists() else "create", text, SECRET_MODE)
        for path, text in key_files(key_pair).items()
    ]


def read_sealed_files(root: Path) -> dict[str, str]:
    """The SealedSecret files now under ``kubernetes/``, by posix path."""
    base = root / "kubernetes"
    if not base.is_dir():
        return {}
    return {
        path.relative_to(root).as_posix(): _read_sealed(path)
        for path in sorted(base.rglob(f"*{SEALED_SUFFIX}"))
        if path.is_file()
    }


def _read_sealed(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise RepoError(
            f"{path} is not a text file; restore it from git or delete it to have it sealed anew"
        ) from None
    except OSError as exc:
        raise RepoError(f"cannot read {path}: {exc.strerror}") from exc


def load_sealing(
    root: Path, answers: Answers, *, new_key: KeyPair | None = None, reseal_all: bool = False
) -> Sealing | None:
    """What the sealing stage needs from the repository at ``root`` (None when not sealing).

    Raises:
        RepoError: The key is unreadable, or missing while SealedSecrets exist (creating a new
            one would make them undecryptable in the cluster).
    """
    if not answers.sealed:
        return None
    existing = read_sealed_files(root)
    if new_key is not None:
        return Sealing(new_key, existing, reseal_all=True)
    folder = root / KEY_DIR
    if (folder / KEY_FILE).exists() or (folder / CERTIFICATE_FILE).exists():
        return Sealing(load_key_pair(folder), existing, reseal_all)
    if existing:
        raise RepoError(
            f"the sealing key folder {KEY_DIR}/ is missing but {next(iter(existing))} is "
            "sealed with it; restore the folder from your backup, or seal everything again "
            "with a new key: scaffold secret rotate --all --new-key"
        )
    return Sealing(None, existing, reseal_all)


def given_secrets(
    stored: Mapping[str, Mapping[str, str]],
    overrides: Mapping[str, Mapping[str, str]] | None,
    environ: Mapping[str, str],
) -> dict[str, dict[str, str]]:
    """Secret values for this run: stored ones, replaced by ``overrides``; the environment only
    fills values nobody stored (it never silently replaces a kept token)."""
    given = {k: dict(v) for k, v in stored.items()}
    for component, values in (overrides or {}).items():
        given.setdefault(component, {}).update(values)
    for component, values in provided_from_env(environ).items():
        for key, value in values.items():
            given.setdefault(component, {}).setdefault(key, value)
    return given


def missing_secrets_message(missing: Iterable[ProvidedSecret], how: str) -> str:
    """One line naming the first missing user-provided secret and how to give it."""
    first = next(iter(missing))
    return (
        f"{first.name} has no value ({first.description}): {how} "
        f"or set the environment variable {first.env}"
    )


def _record_sealing(doc: Any, plan: Plan) -> None:
    """Write an automatically selected sealed-secrets into the answers, as init does."""
    planned = plan.components.get(SEALED_SECRETS_COMPONENT)
    if planned is None or not planned.needed_by:
        return
    components = doc.get("components")
    if components is None:
        components = CommentedMap()
        doc["components"] = components
    if isinstance(components, dict) and SEALED_SECRETS_COMPONENT not in components:
        entry = CommentedMap()
        entry.fa.set_flow_style()
        components[SEALED_SECRETS_COMPONENT] = entry


def _secret_state_change(repo: Repo, state: State) -> list[FileChange]:
    current = _read_current(repo.root / SECRET_STATE_FILE)
    if not state.secret_hashes and not state.argon2_cache and current is None:
        return []
    text = dump_secret_state(state)
    action = "unchanged" if current == text else "update" if current is not None else "create"
    return [FileChange(SECRET_STATE_FILE, action, text, SECRET_STATE_MODE)]


def _answers_change(repo: Repo, doc: Any) -> FileChange:
    if to_plain(doc) == repo.answers_plain:
        return FileChange(ANSWERS_FILE, "unchanged", repo.answers_text, old_text=repo.answers_text)
    text = dump_yaml(doc)
    return FileChange(ANSWERS_FILE, "update", text, old_text=repo.answers_text)


def _new_state(repo: Repo, rendered: Rendered, secrets: Iterable[FileChange]) -> State:
    hashes = dict(repo.state.secret_hashes)
    for change in secrets:
        if change.action in {"create", "update", "unchanged"} and change.text is not None:
            hashes[change.path] = text_hash(change.text)
    return State(dict(rendered.files), hashes, rendered.hash_cache)


def plan_sync(
    repo: Repo,
    doc: Any,
    *,
    force: bool = False,
    secret_overrides: Mapping[str, Mapping[str, str]] | None = None,
    fresh_secrets: frozenset[str] = frozenset(),
    reseal_all: bool = False,
    new_key: KeyPair | None = None,
    environ: Mapping[str, str] | None = None,
) -> SyncPlan:
    """Render the (possibly edited) answers ``doc`` and decide every file's change.

    Args:
        repo: The repository.
        doc: The answers to render (round-trip YAML; may be edited here to record an
            automatically selected sealed-secrets).
        force: Overwrite and delete files the user edited.
        secret_overrides: Secret values the user gives now (``scaffold secret set``).
        fresh_secrets: ``component.key`` values to generate anew (``scaffold secret rotate``).
        reseal_all: Seal every value anew.
        new_key: A new sealing key pair to seal with and write (implies ``reseal_all``).
        environ: Where provided secrets may come from (default: the process environment).

    Raises:
        UsageError: A user-provided secret (an API token) the answers need has no value.
    """
    answers = parse_answers(doc, ANSWERS_FILE)
    stored = read_secret_values(repo.root)
    given = given_secrets(stored, secret_overrides, os.environ if environ is None else environ)
    catalog = load_catalog_for(answers, repo.root)
    rendered = render_answers(
        answers,
        catalog,
        existing_secrets=given,
        fresh_secrets=fresh_secrets,
        sealing=load_sealing(repo.root, answers, new_key=new_key, reseal_all=reseal_all),
        source=ANSWERS_FILE,
        hash_cache=repo.state.argon2_cache,
    )
    if rendered.missing_secrets:
        how = f"run `scaffold secret set {rendered.missing_secrets[0].name}`"
        raise UsageError(missing_secrets_message(rendered.missing_secrets, how))
    _record_sealing(doc, rendered.plan)
    tracked = _tracked_changes(repo, rendered, force)
    secrets = _secret_changes(repo, rendered, stored)
    keys = _key_changes(repo, rendered.new_key_pair or new_key)
    state = _new_state(repo, rendered, [c for c in secrets if c.path != VALUES_FILE])
    changes = [
        _answers_change(repo, doc),
        *tracked,
        *secrets,
        *keys,
        *_secret_state_change(repo, state),
    ]
    state_text = dump_state(state)
    old_state = _read_current(repo.root / STATE_FILE)
    state_action = "unchanged" if old_state == state_text else "update" if old_state else "create"
    state_change = FileChange(STATE_FILE, state_action, state_text, old_text=None)
    return SyncPlan(rendered, tuple(changes), state_change)
