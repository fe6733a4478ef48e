"""The only code that changes the user's tree: one all-or-nothing transaction, journaled.

Every file is first written next to its target under a temporary name (secret files private from
their first byte); only when all are staged are they renamed into place, each old file kept as a
hard-linked backup until the end. ``.scaffold/transaction.json`` records the transaction's files
and phase before anything is staged, so a run killed at any point (no exception handler runs) is
rolled back, or completed when it was past its last rename, by the next writing command
(:func:`recover`). An exception inside the run rolls back at once. Every path is confined to the
repository (``repo.paths``).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from homelab_scaffold.errors import RepoError
from homelab_scaffold.paths import inside
from homelab_scaffold.repo.changes import FileChange

JOURNAL_FILE = ".scaffold/transaction.json"
TMP_SUFFIX = ".scaffold-tmp"
BAK_SUFFIX = ".scaffold-bak"
PRIVATE_DIR_MODE = 0o700
_STAGING, _COMMITTING, _COMMITTED = "staging", "committing", "committed"
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)

# A test hook: called before each file operation; a test may raise from it (or kill the
# process) to simulate a crash at that step.
_before_each_write: Callable[[Path], None] | None = None


def _hook(path: Path) -> None:
    if _before_each_write is not None:
        _before_each_write(path)


def temp_for(target: Path) -> Path:
    """Where ``target``'s new content is staged."""
    return target.with_name(target.name + TMP_SUFFIX)


def backup_for(target: Path) -> Path:
    """Where ``target``'s old content waits until the transaction ends."""
    return target.with_name(target.name + BAK_SUFFIX)


@dataclass(frozen=True)
class _Entry:
    """One file of a transaction."""

    path: str
    target: Path
    text: str | None
    mode: int | None
    existed: bool

    @property
    def private(self) -> bool:
        return self.mode is not None and not self.mode & 0o077


# ---------------------------------------------------------------------------------------------
# The journal


def _write_journal(root: Path, phase: str, entries: Sequence[_Entry], made: Sequence[Path]) -> None:
    path = inside(root, JOURNAL_FILE)
    _hook(path)
    data = {
        "phase": phase,
        "files": [{"path": e.path, "existed": e.existed} for e in entries],
        "made_dirs": [d.relative_to(root).as_posix() for d in made],
    }
    _write_file(temp_for(path), json.dumps(data, indent=1) + "\n", None)
    temp_for(path).replace(path)


def _read_journal(root: Path) -> dict[str, object] | None:
    path = inside(root, JOURNAL_FILE)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise RepoError(
            f"{path} (left by an interrupted scaffold run) is unreadable: {exc}; "
            "check the files it names with git status, then delete it"
        ) from None
    if not isinstance(data, dict):
        raise RepoError(f"{path} is damaged; check the tree with git status, then delete it")
    return data


def has_pending_transaction(root: Path) -> bool:
    """True when a killed run left a transaction for :func:`recover` to finish."""
    return inside(root, JOURNAL_FILE).exists()


def recover(root: Path) -> str | None:
    """Finish a transaction a killed run left behind: roll it back, or complete it when it had
    renamed every file. Returns what was done (for the user), None when there was nothing.

    Raises:
        RepoError: The journal is unreadable or names a path outside the repository.
    """
    data = _read_journal(root)
    if data is None:
        return None
    phase = data.get("phase")
    files = _list(data, "files")
    made = _list(data, "made_dirs")
    for item in files:
        if isinstance(item, dict):
            target = inside(root, str(item.get("path", "")), "journal entry")
            _recover_file(target, bool(item.get("existed")), phase)
    _remove_journal(root)
    if phase != _COMMITTED:
        _remove_dirs(reversed([inside(root, str(d), "journal entry") for d in made]))
    if phase == _COMMITTED:
        return "completed the changes of an interrupted scaffold run"
    return "rolled back the partial changes of an interrupted scaffold run"


def _list(data: dict[str, object], key: str) -> list[object]:
    value = data.get(key)
    return value if isinstance(value, list) else []


def _recover_file(target: Path, existed: bool, phase: object) -> None:
    temp, backup = temp_for(target), backup_for(target)
    if phase == _COMMITTING:
        if backup.exists():
            backup.replace(target)
        elif not existed and target.exists() and not temp.exists():
            target.unlink()
    with contextlib.suppress(FileNotFoundError):
        temp.unlink()
    with contextlib.suppress(FileNotFoundError):
        backup.unlink()


# ---------------------------------------------------------------------------------------------
# Staging and committing


def _make_parents(target: Path, private: bool) -> None:
    if not private:
        target.parent.mkdir(parents=True, exist_ok=True)
        return
    # Folders holding secret files are created owner-only, never world-readable for a moment.
    for folder in reversed(target.parents):
        if not folder.exists():
            folder.mkdir(mode=PRIVATE_DIR_MODE)


def _write_file(path: Path, text: str, mode: int | None, *, durable: bool = False) -> None:
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | _NOFOLLOW
    fd = os.open(path, flags, mode if mode is not None else 0o644)
    with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
        handle.write(text)
        handle.flush()
        if durable:
            # Secret files cannot be had again from Git: on disk before they replace anything.
            # The rest survives a killed process without it (the page cache is the kernel's),
            # and a power cut is what Git's history is for.
            os.fsync(handle.fileno())
    if mode is not None:
        path.chmod(mode)


def _stage(entry: _Entry) -> None:
    if entry.text is None:
        return  # a deletion has nothing to stage
    _hook(entry.target)
    _make_parents(entry.target, entry.private)
    _write_file(temp_for(entry.target), entry.text, entry.mode, durable=entry.private)


def _commit(entry: _Entry, done: list[_Entry]) -> None:
    _hook(entry.target)
    target = entry.target
    if entry.existed:
        backup = backup_for(target)
        with contextlib.suppress(FileNotFoundError):
            backup.unlink()
        if entry.text is None:
            target.replace(backup)
        else:
            os.link(target, backup)
    done.append(entry)
    if entry.text is not None:
        temp_for(target).replace(target)


def _rollback(entries: Sequence[_Entry], done: Sequence[_Entry]) -> None:
    for entry in reversed(done):
        with contextlib.suppress(OSError):
            if entry.existed:
                backup_for(entry.target).replace(entry.target)
            else:
                entry.target.unlink()
    for entry in entries:
        with contextlib.suppress(OSError):
            temp_for(entry.target).unlink()


def _remove_dirs(folders: Iterable[Path]) -> None:
    for folder in folders:
        with contextlib.suppress(OSError):
            folder.rmdir()


def _missing_dirs(paths: Iterable[Path]) -> list[Path]:
    missing: set[Path] = set()
    for path in paths:
        for parent in path.parents:
            if parent.exists():
                break
            missing.add(parent)
    return sorted(missing, key=lambda p: len(p.parts))


def _entries(root: Path, changes: Sequence[FileChange]) -> list[_Entry]:
    entries = []
    for change in changes:
        target = inside(root, change.path, "generated file")
        entries.append(_Entry(change.path, target, change.text, change.mode, target.exists()))
    return entries


def apply_changes(
    root: Path, changes: Sequence[FileChange], last: Sequence[FileChange] = ()
) -> None:
    """Write every change (then ``last``, e.g. the state file) all-or-nothing under ``root``.

    Raises:
        RepoError: A file cannot be written (nothing was changed), or a path is not confined.
    """
    ordered = [c for c in changes if c.writes] + [c for c in last if c.writes]
    if not ordered:
        return
    entries = _entries(root, ordered)
    made = _missing_dirs([e.target for e in entries] + [inside(root, JOURNAL_FILE)])
    done: list[_Entry] = []
    try:
        _make_parents(inside(root, JOURNAL_FILE), private=False)
        _write_journal(root, _STAGING, entries, made)
        for entry in entries:
            _stage(entry)
        _write_journal(root, _COMMITTING, entries, made)
        for entry in entries:
            _commit(entry, done)
        _write_journal(root, _COMMITTED, entries, made)
    except BaseException as exc:
        _rollback(entries, done)
        _remove_journal(root)
        _remove_dirs(reversed(made))
        if isinstance(exc, OSError):
            raise RepoError(
                f"cannot write {exc.filename or root}: {exc.strerror}; nothing was changed"
            ) from exc
        raise
    _finish(root, entries)


def _remove_journal(root: Path) -> None:
    journal = inside(root, JOURNAL_FILE)
    for path in (journal, temp_for(journal)):
        with contextlib.suppress(OSError):
            path.unlink()


def _finish(root: Path, entries: Sequence[_Entry]) -> None:
    for entry in entries:
        with contextlib.suppress(FileNotFoundError):
            backup_for(entry.target).unlink()
    _remove_emptied_dirs(root, [e.target for e in entries if e.text is None])
    _remove_journal(root)
    with contextlib.suppress(OSError):
        inside(root, JOURNAL_FILE).parent.rmdir()  # only when empty: .scaffold/ made for it


def _remove_emptied_dirs(root: Path, deleted: Iterable[Path]) -> None:
    for path in deleted:
        for parent in path.parents:
            if parent == root or not parent.is_dir() or any(parent.iterdir()):
                break
            parent.rmdir()
