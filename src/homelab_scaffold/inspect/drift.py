"""Drift: what ``scaffold regenerate`` would change, as validate problems.

Drift runs the same three-way decision as regenerate (the engine's plan, without secrets): a hand
edit that regenerate keeps is not drift; a file regenerate would update, merge into, delete or
recreate is, and the message says which. CI runs it (``validate --drift``) to catch, for example,
a chart bump by Renovate that the values have not followed yet.
"""

from __future__ import annotations

from pathlib import Path

from homelab_scaffold.errors import ScaffoldError, UsageError
from homelab_scaffold.inspect.model import Problem
from homelab_scaffold.repo.changes import FileChange

CHECK = "drift"
ANSWERS_FILE = "scaffold.yaml"
_REASONS = {
    "create": "is generated from scaffold.yaml but missing; `scaffold regenerate` would create it",
    "update": (
        "differs from what scaffold.yaml renders and was not edited by hand (e.g. a version "
        "bump the values must follow); `scaffold regenerate` would update it"
    ),
    "merge": (
        "has hand edits that are kept, but scaffold.yaml now renders other changes; "
        "`scaffold regenerate` would merge them in"
    ),
    "conflict": (
        "has hand edits that overlap what scaffold.yaml now renders; `scaffold regenerate` "
        "would leave conflict markers to resolve"
    ),
    "delete": "is no longer generated from scaffold.yaml; `scaffold regenerate` would delete it",
}
GITIGNORE = ".gitignore"
_EXPOSED_REASON = (
    "does not make git ignore secrets/ (the /secrets/ rule is missing or negated), so secret "
    "values and the sealing key could be committed; `scaffold regenerate` would add the rule back"
)
_ANSWERS_REASON = (
    "lacks components the selection needs, or the pinned values (chart versions, image tags, "
    "an address taken from a pool) "
    "of its components; `scaffold regenerate` "
    "would add them"
)


def check_drift(root: Path) -> list[Problem]:
    """A problem for each file ``scaffold regenerate`` would change in the repo at ``root``."""
    from homelab_scaffold.engine import Engine, RunOptions

    if not (root / ANSWERS_FILE).is_file():
        raise UsageError(
            f"--drift needs a scaffold repository, but {root / ANSWERS_FILE} does not exist; "
            "drop --drift for a repository scaffold did not generate"
        )
    try:
        with Engine(root, RunOptions(dry_run=True)) as engine:
            repo = engine.open_repo()
            outcome = engine.plan(repo, repo.document(), secrets=None)
    except ScaffoldError as exc:
        return [Problem(ANSWERS_FILE, CHECK, f"cannot compute drift: {exc.message}")]
    return [
        _problem(change, outcome.secrets_rule_restored)
        for change in outcome.writes
        if change.path != ".scaffold/state.json"
    ]


def _problem(change: FileChange, secrets_exposed: bool) -> Problem:
    if change.path == ANSWERS_FILE:
        return Problem(change.path, CHECK, _ANSWERS_REASON)
    if change.path == GITIGNORE and secrets_exposed:
        return Problem(change.path, CHECK, _EXPOSED_REASON)
    return Problem(change.path, CHECK, _REASONS[change.action])
