"""What happens to each generated file: the decision rules, and the change as a value.

For a tracked file: base = what scaffold generated last time (the state), current = the file now,
new = the fresh render. Untouched files are rewritten, edited ones merged three-way, deleted ones
stay deleted, files the user added are never looked at. Secret files (gitignored) are judged by
the hash recorded when scaffold wrote them, so their content never reaches the tracked state.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Literal

from homelab_scaffold.repo.merge import merge_texts
from homelab_scaffold.repo.state import text_hash

Action = Literal["create", "update", "merge", "conflict", "delete", "keep", "skip", "unchanged"]
WRITING_ACTIONS = frozenset({"create", "update", "merge", "conflict", "delete"})
# What to do with a file scaffold now generates that exists but that it never generated:
# "keep" it (init into a folder that has files), or "merge" both versions with markers.
Existing = Literal["keep", "merge"]


@dataclass(frozen=True)
class FileChange:
    """One planned change to one file. ``text`` is None for a deletion."""

    path: str
    action: Action
    text: str | None = None
    mode: int | None = None
    old_text: str | None = None

    @property
    def writes(self) -> bool:
        """True when applying this change modifies the tree."""
        return self.action in WRITING_ACTIONS


def decide(
    path: str,
    base: str | None,
    current: str | None,
    new: str | None,
    *,
    force: bool = False,
    existing: Existing = "merge",
) -> FileChange:
    """The change for one tracked generated file (see the module docstring for the rules)."""
    if new is None:
        return _decide_removed(path, base, current, force)
    if current is None:
        if base is not None:
            return FileChange(path, "skip", new)  # deleted by the user: stays deleted
        return FileChange(path, "create", new)
    if current == new:
        return FileChange(path, "unchanged", new, old_text=current)
    if base is None:
        return _decide_unknown(path, current, new, existing)
    if current == base:
        return FileChange(path, "update", new, old_text=current)
    merged = merge_texts(base, current, new)
    if merged.text == current:
        return FileChange(path, "unchanged", current, old_text=current)
    action: Action = "merge" if merged.clean else "conflict"
    return FileChange(path, action, merged.text, old_text=current)


def _decide_unknown(path: str, current: str, new: str, existing: Existing) -> FileChange:
    """A file scaffold never generated stands where it now generates one."""
    if existing == "keep":
        return FileChange(path, "keep", current, old_text=current)
    merged = merge_texts("", current, new)
    return FileChange(path, "conflict", merged.text, old_text=current)


def _decide_removed(path: str, base: str | None, current: str | None, force: bool) -> FileChange:
    if current is None:
        return FileChange(path, "unchanged")
    if current == base or force:
        return FileChange(path, "delete", None, old_text=current)
    return FileChange(path, "keep", current, old_text=current)


def decide_secret(
    path: str, current: str | None, new: str, recorded_hash: str | None, *, owned: bool, mode: int
) -> FileChange:
    """The change for one gitignored secret file.

    Args:
        path: The file.
        current: Its text now (None when missing).
        new: The fresh render.
        recorded_hash: The hash recorded when scaffold last wrote it (None: never written).
        owned: Always follow the render (a copy of the key folder), whatever the file holds.
        mode: The file mode (0600).
    """
    if current is None:
        action: Action = "skip" if recorded_hash is not None and not owned else "create"
        return FileChange(path, action, new, mode)
    if current == new:
        return FileChange(path, "unchanged", new, mode, old_text=new)
    if owned or recorded_hash == text_hash(current):
        return FileChange(path, "update", new, mode, old_text=current)
    return FileChange(path, "keep", None, mode)


def unified_diff(change: FileChange) -> str:
    """The change as a unified diff (``a/`` old, ``b/`` new), empty when nothing changes."""
    old = (change.old_text or "").splitlines(keepends=True)
    new = (change.text or "").splitlines(keepends=True)
    fromfile = f"a/{change.path}" if change.old_text is not None else "/dev/null"
    tofile = f"b/{change.path}" if change.text is not None else "/dev/null"
    return "".join(difflib.unified_diff(old, new, fromfile, tofile))
