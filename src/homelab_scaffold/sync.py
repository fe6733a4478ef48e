"""Bring an existing repo in line with its answers: decide every file's change, keep user edits.

For each file scaffold generates: base = what it generated last time (the state), ours = the
file now, theirs = the new render. Untouched files are rewritten, edited ones merged three-way,
deleted ones stay deleted, files the user added are never looked at. Secret files (gitignored)
are tracked by hash only, so their content never reaches the tracked state file.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from homelab_scaffold.answers import ANSWERS_FILE, dump_yaml, parse_answers, read_answers_file
from homelab_scaffold.errors import RepoError
from homelab_scaffold.merge import merge_texts
from homelab_scaffold.pipeline import Rendered, load_catalog_for, render_answers
from homelab_scaffold.secretvalues import VALUES_FILE
from homelab_scaffold.state import STATE_FILE, State, dump_state, read_state, text_hash
from homelab_scaffold.write import FileChange

SECRET_MODE = 0o600
_UNREADABLE = object()


@dataclass(frozen=True)
class Repo:
    """A scaffold repository on disk: its answers (round-trip YAML) and its state."""

    root: Path
    answers_doc: Any
    answers_text: str
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
    return Repo(root, doc, path.read_text(encoding="utf-8"), read_state(root))


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
    if current is None:
        action = "skip" if recorded is not None else "create"
        return FileChange(path, action, text, SECRET_MODE)
    if current == text:
        return FileChange(path, "unchanged", text, SECRET_MODE, old_text=text)
    if isinstance(current, str) and recorded == text_hash(current):
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
    if rendered.new_secrets:
        merged = {k: dict(v) for k, v in existing.items()}
        for component, values in rendered.secret_values.items():
            merged.setdefault(component, {}).update(values)
        current = _read_current(repo.root / VALUES_FILE)
        action = "create" if current is None else "update"
        text = values_text(merged)
        changes.append(FileChange(VALUES_FILE, action, text, SECRET_MODE, old_text=None))
    return changes


def _answers_change(repo: Repo, doc: Any) -> FileChange:
    text = dump_yaml(doc)
    if text == repo.answers_text:
        return FileChange(ANSWERS_FILE, "unchanged", text, old_text=text)
    return FileChange(ANSWERS_FILE, "update", text, old_text=repo.answers_text)


def _new_state(repo: Repo, rendered: Rendered, secrets: Iterable[FileChange]) -> State:
    hashes = dict(repo.state.secret_hashes)
    for change in secrets:
        if change.action in {"create", "update", "unchanged"} and change.text is not None:
            hashes[change.path] = text_hash(change.text)
    return State(dict(rendered.files), hashes)


def plan_sync(repo: Repo, doc: Any, *, force: bool = False) -> SyncPlan:
    """Render the (possibly edited) answers ``doc`` and decide every file's change."""
    answers = parse_answers(doc, ANSWERS_FILE)
    existing = read_secret_values(repo.root)
    catalog = load_catalog_for(answers, repo.root)
    rendered = render_answers(answers, catalog, existing_secrets=existing, source=ANSWERS_FILE)
    tracked = _tracked_changes(repo, rendered, force)
    secrets = _secret_changes(repo, rendered, existing)
    changes = [_answers_change(repo, doc), *tracked, *secrets]
    state = _new_state(repo, rendered, [c for c in secrets if c.path != VALUES_FILE])
    state_text = dump_state(state)
    old_state = _read_current(repo.root / STATE_FILE)
    state_action = "unchanged" if old_state == state_text else "update" if old_state else "create"
    state_change = FileChange(STATE_FILE, state_action, state_text, old_text=None)
    return SyncPlan(rendered, tuple(changes), state_change)
