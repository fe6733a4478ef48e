"""The only stage that touches the user's tree: atomic, all-or-nothing writes and diffs.

Every file is first written next to its target under a temporary name; only when all of them are
staged are they renamed into place (``os.replace`` is atomic per file). If anything fails, the
files already replaced are restored from their backups, so the tree is either fully old or fully
new. The state file, when there is one, is part of the same transaction and goes last.
"""

from __future__ import annotations

import contextlib
import difflib
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from homelab_scaffold.errors import RepoError

_TMP_SUFFIX = ".scaffold-tmp"
_BAK_SUFFIX = ".scaffold-bak"


@dataclass(frozen=True)
class FileChange:
    """One planned change to one file. ``text`` is None for a deletion."""

    path: str
    action: str
    text: str | None = None
    mode: int | None = None
    old_text: str | None = None

    @property
    def writes(self) -> bool:
        """True when applying this change modifies the tree."""
        return self.action in {"create", "update", "merge", "conflict", "delete"}


# A test hook: called before each file operation; a test may raise from it to simulate a crash.
_before_each_write: Callable[[Path], None] | None = None


def _hook(path: Path) -> None:
    if _before_each_write is not None:
        _before_each_write(path)


def _make_parents(target: Path, private: bool) -> None:
    if not private:
        target.parent.mkdir(parents=True, exist_ok=True)
        return
    # Folders holding secret files are created owner-only, never world-readable for a moment.
    for folder in reversed(target.parents):
        if not folder.exists():
            folder.mkdir(mode=0o700)


def _temp_for(target: Path) -> Path:
    return target.with_name(target.name + _TMP_SUFFIX)


def _backup_for(target: Path) -> Path:
    return target.with_name(target.name + _BAK_SUFFIX)


def recover_interrupted(targets: Iterable[Path]) -> None:
    """Clean up after a run that was killed mid-write (no exception handler ran).

    A leftover temp file is discarded; a leftover backup is discarded when its target is in
    place, and put back when the target is missing (a delete that did not finish).
    """
    for target in targets:
        temp, backup = _temp_for(target), _backup_for(target)
        if temp.is_file():
            temp.unlink()
        if backup.is_file():
            if target.exists():
                backup.unlink()
            else:
                backup.replace(target)


def _stage(target: Path, text: str, mode: int | None) -> Path:
    _hook(target)
    _make_parents(target, mode is not None and not mode & 0o077)
    temp = _temp_for(target)
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    fd = os.open(temp, flags, mode if mode is not None else 0o644)
    with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    if mode is not None:
        temp.chmod(mode)
    return temp


@dataclass
class _Transaction:
    root: Path
    staged: list[tuple[Path, Path | None]]  # (target, temp or None for delete)
    done: list[tuple[Path, Path | None]]  # (target, backup or None when it did not exist)
    made_dirs: list[Path]

    def rollback(self) -> None:
        for target, backup in reversed(self.done):
            with contextlib.suppress(OSError):
                if backup is not None:
                    backup.replace(target)
                else:
                    target.unlink()
        for _, temp in self.staged:
            if temp is not None:
                with contextlib.suppress(OSError):
                    temp.unlink()
        for folder in reversed(self.made_dirs):
            with contextlib.suppress(OSError):
                folder.rmdir()

    def commit(self) -> None:
        for target, temp in self.staged:
            _hook(target)
            backup = None
            if target.exists():
                backup = _backup_for(target)
                if temp is not None:
                    os.link(target, backup)
                else:
                    target.replace(backup)
            self.done.append((target, backup))
            if temp is not None:
                temp.replace(target)
        for _, backup in self.done:
            if backup is not None:
                with contextlib.suppress(OSError):
                    backup.unlink()


def _missing_dirs(root: Path, paths: Iterable[Path]) -> list[Path]:
    missing: set[Path] = set()
    for path in paths:
        for parent in path.parents:
            if parent.exists():
                break
            missing.add(parent)
    return sorted(missing, key=lambda p: len(p.parts))


def apply_changes(
    root: Path, changes: Sequence[FileChange], last: Sequence[FileChange] = ()
) -> None:
    """Write every change (then ``last``, e.g. the state file) all-or-nothing under ``root``."""
    ordered = [c for c in changes if c.writes] + [c for c in last if c.writes]
    targets = [root / c.path for c in ordered]
    recover_interrupted(targets)
    tx = _Transaction(root, [], [], _missing_dirs(root, targets))
    try:
        for change, target in zip(ordered, targets, strict=True):
            # Registered before writing, so a failure half-way through is still cleaned up.
            tx.staged.append((target, None if change.text is None else _temp_for(target)))
            if change.text is not None:
                _stage(target, change.text, change.mode)
        tx.commit()
    except BaseException as exc:
        tx.rollback()
        if isinstance(exc, OSError):
            raise RepoError(
                f"cannot write {exc.filename or root}: {exc.strerror}; nothing was changed"
            ) from exc
        raise
    _remove_empty_dirs(root, [t for c, t in zip(ordered, targets, strict=True) if c.text is None])


def _remove_empty_dirs(root: Path, deleted: Iterable[Path]) -> None:
    for path in deleted:
        for parent in path.parents:
            if parent == root or not parent.is_dir() or any(parent.iterdir()):
                break
            parent.rmdir()


def unified_diff(change: FileChange) -> str:
    """The change as a unified diff (``a/`` old, ``b/`` new), empty when nothing changes."""
    old = (change.old_text or "").splitlines(keepends=True)
    new = (change.text or "").splitlines(keepends=True)
    fromfile = f"a/{change.path}" if change.old_text is not None else "/dev/null"
    tofile = f"b/{change.path}" if change.text is not None else "/dev/null"
    return "".join(difflib.unified_diff(old, new, fromfile, tofile))
