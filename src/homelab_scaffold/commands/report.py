"""How every writing command reports an engine :class:`~homelab_scaffold.engine.Outcome`.

One place decides what the user sees after a run: warnings, what the engine noticed, one line
per changed file (or the diff with ``--dry-run``, never the content of a secret file), generated
passwords (on a terminal only), notes, and finally conflicts as exit code 4, for a dry run too.
"""

from __future__ import annotations

from collections.abc import Iterable

from homelab_scaffold import ui
from homelab_scaffold.engine import Outcome
from homelab_scaffold.errors import MergeConflictError
from homelab_scaffold.generate.secret_values import SECRETS_DIR, VALUES_FILE
from homelab_scaffold.repo.changes import FileChange, unified_diff

_NOTES = {
    "skip": "you deleted it; it stays deleted",
    "keep": "you changed it; kept — remove it yourself or use --force",
}


def shown_diff(change: FileChange) -> str:
    """The diff to print for a change; never the content of a secret file."""
    if change.path.startswith(f"{SECRETS_DIR}/"):
        return f"({change.action} {change.path}: secret, content not shown)"
    return unified_diff(change).rstrip("\n") or f"(delete {change.path})"


def report_change(change: FileChange, dry_run: bool, kept_note: str | None = None) -> None:
    """One change: its diff on a dry run, else its action line (with why a file was kept)."""
    if dry_run and change.writes:
        ui.info(shown_diff(change))
    elif change.writes:
        ui.action(change.action, change.path)
    elif change.action == "keep" and kept_note is not None:
        ui.action("keep", f"{change.path} ({kept_note})")
    elif change.action in _NOTES:
        ui.action(change.action, f"{change.path} ({_NOTES[change.action]})")


def announce_secrets(outcome: Outcome) -> None:
    """Generated values meant to be read once (passwords, tokens) after they were written."""
    if not outcome.written:
        return
    for secret in outcome.rendered.new_secrets:
        if secret.announce:
            ui.secret_notice(f"{secret.component} {secret.key}", secret.value, VALUES_FILE)


def report_outcome(
    outcome: Outcome,
    *,
    dry_run: bool,
    notes: Iterable[str] = (),
    kept_note: str | None = None,
    nothing_to_do: str = "Nothing to change: the repository matches scaffold.yaml.",
) -> None:
    """Everything a writing command tells the user, then exit code 4 on conflicts.

    Raises:
        MergeConflictError: The run left (or would leave) conflict markers.
    """
    ui.warn_all(outcome.rendered.warnings)
    for line in outcome.notes:
        ui.note(line)
    for change in outcome.changes:
        report_change(change, dry_run, kept_note)
    announce_secrets(outcome)
    for line in notes:
        ui.info(line)
    if not outcome.changes_anything:
        ui.info(nothing_to_do)
    elif dry_run:
        ui.info("Dry run: nothing was written.")
    raise_on_conflicts(outcome, dry_run)


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
