"""How every writing command reports an engine :class:`~homelab_scaffold.engine.Outcome`.

One place decides what the user sees after a run: warnings, what the engine noticed, one line
per changed file (or the diff with ``--dry-run``, never the content of a secret file), generated
passwords (on a terminal only), notes, and finally conflicts as exit code 4, for a dry run too.
With ``--output json`` the same outcome is one JSON document on stdout and nothing else is
printed there (warnings and notices go to stderr).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from homelab_scaffold import ui
from homelab_scaffold.engine import Outcome
from homelab_scaffold.errors import MergeConflictError
from homelab_scaffold.generate.secret_values import SECRETS_DIR, VALUES_FILE
from homelab_scaffold.generate.stateful import KeptResource
from homelab_scaffold.repo.changes import FileChange, unified_diff
from homelab_scaffold.repo.state import STATE_FILE

JSON = "json"
# Why a component was added when the user asked for it (JSON only; text shows its files).
REQUESTED = "requested"
_NOTES = {
    "skip": "you deleted it; it stays deleted",
    "keep": "you changed it; kept — remove it yourself or use --force",
}


@dataclass(frozen=True)
class Extras:
    """What a command tells besides the file changes.

    Attributes:
        added: Components the run added -> why ("needed by traefik", or REQUESTED).
        removed: Components the run removed.
        notes: Lines for the user (text) or the ``notes`` list (JSON).
        kept_data: Resources whose data stays in the cluster (``remove``).
    """

    added: Mapping[str, str] = field(default_factory=dict)
    removed: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    kept_data: tuple[KeptResource, ...] = ()


def shown_diff(change: FileChange) -> str:
    """The diff to print for a change; never the content of a secret file."""
    if change.path.startswith(f"{SECRETS_DIR}/"):
        return f"({change.action} {change.path}: secret, content not shown)"
    return unified_diff(change).rstrip("\n") or f"(delete {change.path})"


def report_change(change: FileChange, dry_run: bool, kept_note: str | None = None) -> None:
    """One change: its diff on a dry run, else its action line (with why a file was kept)."""
    if dry_run and change.writes:
        ui.diff(shown_diff(change))
    elif change.writes:
        ui.action(change.action, change.path)
    elif change.action == "keep" and kept_note is not None:
        ui.action("keep", f"{change.path} ({kept_note})")
    elif change.action in _NOTES:
        ui.action(change.action, f"{change.path} ({_NOTES[change.action]})")


def announce_secrets(outcome: Outcome, *, err: bool = False) -> None:
    """Generated values meant to be read once (passwords, tokens) after they were written."""
    if not outcome.written:
        return
    for secret in outcome.rendered.new_secrets:
        if secret.announce:
            ui.secret_notice(f"{secret.component} {secret.key}", secret.value, VALUES_FILE, err=err)


def kept_data_lines(kept: Iterable[KeptResource]) -> list[str]:
    """Which data stays in the cluster, and how to delete it for real."""
    rows = [f"  {r.kind} {r.namespace}/{r.name}: {r.delete_command}" for r in kept]
    if not rows:
        return []
    return [
        "Data that stays in the cluster (Argo CD neither prunes nor deletes it: scaffold's claims "
        "carry Prune=false,Delete=false, and the claims a StatefulSet made are not Argo CD's; "
        "back it up, then delete it yourself if you really want it gone):",
        *rows,
    ]


def report_outcome(
    outcome: Outcome,
    *,
    dry_run: bool,
    extras: Extras = Extras(),
    output: str = "text",
    kept_note: str | None = None,
    nothing_to_do: str = "Nothing to change: the repository matches scaffold.yaml.",
) -> None:
    """Everything a writing command tells the user, then exit code 4 on conflicts.

    Raises:
        MergeConflictError: The run left (or would leave) conflict markers.
    """
    ui.warn_all(outcome.warnings)
    for line in outcome.notes:
        ui.note(line)
    if output == JSON:
        ui.json_document(outcome_data(outcome, dry_run=dry_run, extras=extras))
        announce_secrets(outcome, err=True)
    else:
        _report_text(outcome, dry_run, extras, kept_note, nothing_to_do)
    raise_on_conflicts(outcome, dry_run)


def _report_text(
    outcome: Outcome, dry_run: bool, extras: Extras, kept_note: str | None, nothing_to_do: str
) -> None:
    for name, why in extras.added.items():
        if why != REQUESTED:
            ui.info(f"Added {name}: {why}")
    for change in outcome.changes:
        report_change(change, dry_run, kept_note)
    announce_secrets(outcome)
    for line in [*extras.notes, *kept_data_lines(extras.kept_data)]:
        ui.info(line)
    if not outcome.changes_anything:
        ui.info(state_only_line(outcome, dry_run) or nothing_to_do)
    elif dry_run:
        ui.info("Dry run: nothing was written.")


def state_only_line(outcome: Outcome, dry_run: bool) -> str | None:
    """What a run that writes only the state file did (None when it does not write it): the
    file is tracked, so ``git status`` shows it and the report must say so."""
    if not state_updated(outcome):
        return None
    verb = "Would record" if dry_run else "Recorded"
    if not outcome.restated:
        return f"{verb} what scaffold generates in {STATE_FILE}; no other file changes."
    files = ", ".join(outcome.restated)
    return (
        f"{verb} in {STATE_FILE} what scaffold now generates for {files}, already as "
        "scaffold.yaml says (a Renovate bump or an edit by hand); no other file changes. "
        f"Commit {STATE_FILE}: it is the base of the next three-way merge."
    )


def state_updated(outcome: Outcome) -> bool:
    """True when the run writes (or would write) the state file."""
    return any(c.path == STATE_FILE for c in outcome.writes)


def files_by_action(changes: Iterable[FileChange]) -> dict[str, list[str]]:
    """Paths by what happens to them (files left as they are are not listed)."""
    files: dict[str, list[str]] = {}
    for change in changes:
        if change.action != "unchanged" and change.path != STATE_FILE:
            files.setdefault(change.action, []).append(change.path)
    return {action: sorted(paths) for action, paths in sorted(files.items())}


def outcome_data(outcome: Outcome, *, dry_run: bool, extras: Extras) -> dict[str, Any]:
    """The outcome for ``--output json``: paths and names only, never a file's content."""
    return {
        "dry_run": dry_run,
        "written": outcome.written,
        "changed": outcome.changes_anything,
        "files": files_by_action(outcome.changes),
        "state_updated": state_updated(outcome),
        "restated": list(outcome.restated),
        "added_components": [{"name": n, "reason": why} for n, why in extras.added.items()],
        "removed_components": list(extras.removed),
        "conflicts": outcome.conflicts,
        "kept_data": [
            {
                "kind": r.kind,
                "namespace": r.namespace,
                "name": r.name,
                "delete_command": r.delete_command,
            }
            for r in extras.kept_data
        ],
        "notes": [*outcome.notes, *extras.notes],
        "warnings": outcome.warnings,
    }


def raise_on_conflicts(outcome: Outcome, dry_run: bool) -> None:
    """Exit code 4 when the run left conflict markers, or a dry run would leave them."""
    if not outcome.conflicts:
        return
    files = ", ".join(outcome.conflicts)
    if dry_run:
        raise MergeConflictError(
            f"conflicts in {files}: your edits and scaffold's overlap; the real run would leave "
            "<<<<<<< markers to resolve"
        )
    raise MergeConflictError(
        f"conflicts in {files}: your edits and scaffold's overlap; resolve the <<<<<<< markers, "
        "then commit"
    )
