"""One writer at a time: ``.scaffold/lock``, created exclusively, naming its owner.

A second writer exits with :class:`RepositoryLocked` (its own exit code). A lock left behind by
a killed process on this machine (its process is gone, or the number now belongs to a process
that started later) is taken over; a lock of another machine is never guessed about.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from homelab_scaffold.errors import RepoError, ScaffoldError
from homelab_scaffold.paths import inside

LOCK_FILE = ".scaffold/lock"
LOCK_DIR = ".scaffold"
UNREADABLE_GRACE_SECONDS = 10


class RepositoryLocked(ScaffoldError):
    """Another scaffold command is writing this repository (exit 75, sysexits' "temporary
    failure, try again")."""

    exit_code = 75


@dataclass(frozen=True)
class Owner:
    """Who holds a lock: enough to tell whether that process still runs."""

    pid: int
    host: str
    started: str

    @classmethod
    def me(cls) -> Owner:
        """This process."""
        pid = os.getpid()
        return cls(pid, socket.gethostname(), _start_time(pid))

    def text(self) -> str:
        """The lock file's content."""
        return json.dumps({"pid": self.pid, "host": self.host, "started": self.started}) + "\n"

    def is_gone(self) -> bool:
        """True when this owner is a process of this machine that no longer runs."""
        if self.host != socket.gethostname():
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return bool(self.started) and _start_time(self.pid) != self.started


def _start_time(pid: int) -> str:
    """The process's start time in clock ticks since boot (Linux); "" where unknown."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()
    except (OSError, IndexError, UnicodeDecodeError):
        return ""
    return fields[19] if len(fields) > 19 else ""


def _read_owner(path: Path) -> Owner | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Owner(int(data["pid"]), str(data["host"]), str(data.get("started", "")))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _stale(path: Path, owner: Owner | None) -> bool:
    """A lock whose process is gone, or an unreadable one older than a process needs to write
    it (killed between creating and filling it)."""
    if owner is not None:
        return owner.is_gone()
    try:
        return time.time() - path.stat().st_mtime > UNREADABLE_GRACE_SECONDS
    except OSError:
        return True


def _create(path: Path, owner: Owner) -> bool:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0))
    except FileExistsError:
        return False
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(owner.text())
    return True


def _take_over(root: Path, folder: Path, path: Path, me: Owner) -> None:
    """Replace a killed run's lock with ours. Two processes can find the same dead lock: the
    takeover runs under an exclusive ``flock`` of the lock folder (the kernel drops it when its
    process dies, so it can never be left behind), and looks again under it, so the second one
    finds the first one's live lock instead of deleting it.

    Raises:
        RepositoryLocked: Another process took the lock over first.
    """
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        owner = _read_owner(path)
        if path.exists() and not _stale(path, owner):
            raise _refusal(root, owner)
        path.unlink(missing_ok=True)
        if not _create(path, me):
            raise _refusal(root, _read_owner(path))
    finally:
        os.close(fd)  # releases the flock


def _refusal(root: Path, owner: Owner | None) -> RepositoryLocked:
    who = f"process {owner.pid} on {owner.host}" if owner else "another scaffold command"
    return RepositoryLocked(
        f"{root} is being changed by {who} (lock {LOCK_FILE}); wait for it to finish. If no "
        f"scaffold command is running, delete {root / LOCK_FILE} and run again"
    )


@contextlib.contextmanager
def locked(root: Path) -> Iterator[None]:
    """Hold the repository's lock for the duration of the block.

    Creates ``.scaffold/`` when needed, and removes it again at the end if the block left it
    empty (a failed init leaves nothing behind).

    Raises:
        RepositoryLocked: Another live process holds the lock.
    """
    folder = inside(root, LOCK_DIR)
    made = not folder.exists()
    path = inside(root, LOCK_FILE)
    me = Owner.me()
    try:
        folder.mkdir(exist_ok=True)
        if not _create(path, me):
            owner = _read_owner(path)
            if not _stale(path, owner):
                raise _refusal(root, owner)
            _take_over(root, folder, path, me)
    except OSError as exc:
        _remove_if_empty(folder, made)
        raise RepoError(
            f"cannot write {exc.filename or path}: {exc.strerror}; nothing was changed"
        ) from exc
    except BaseException:
        _remove_if_empty(folder, made)
        raise
    try:
        yield
    finally:
        path.unlink(missing_ok=True)
        _remove_if_empty(folder, made)


def _remove_if_empty(folder: Path, made: bool) -> None:
    if made:
        with contextlib.suppress(OSError):
            folder.rmdir()
