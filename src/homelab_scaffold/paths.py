"""Confinement: every path scaffold reads or writes in a repository resolves inside it.

Paths come from places an attacker may control (the state file, scaffold.yaml's
``catalog_paths``, a cloned repository's symbolic links), so each one is checked before use:
relative, POSIX, no ``..``, no empty or control-character parts; and no part of it that exists
may be a symbolic link (a link inside the repository could point anywhere: it is refused, never
followed, for reading or for writing).
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from homelab_scaffold.catalog.options import check_relative_path
from homelab_scaffold.errors import RepoError, UsageError

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def check_relative(path: str, what: str) -> str:
    """``path`` when it is a plain relative POSIX path inside the repository.

    Args:
        path: The path as written (in the state file, scaffold.yaml, ...).
        what: What it is, for the message (e.g. "state entry").

    Raises:
        UsageError: Absolute, ``..``, empty parts, backslashes or control characters.
    """
    try:
        return check_relative_path(path)
    except ValueError:
        raise UsageError(
            f"{what} {path!r} is not a plain relative path inside the repository "
            "(no leading /, no '..', no empty parts)"
        ) from None


def refuse_links_under(folder: Path, root: Path) -> None:
    """Refuse any symbolic link below ``folder`` (a user catalog inside the repository).

    Raises:
        RepoError: A link was found.
    """
    for current, dirs, names in os.walk(folder):
        for name in [*dirs, *names]:
            path = Path(current, name)
            if path.is_symlink():
                raise link_error(root, path.relative_to(root).as_posix())


def link_error(root: Path, relative: str) -> RepoError:
    """The refusal for a symbolic link met inside the repository."""
    return RepoError(
        f"{relative} in {root} is a symbolic link; scaffold never follows links inside the "
        "repository: replace it with the real file or folder"
    )


def inside(root: Path, relative: str, what: str = "path") -> Path:
    """``root/relative`` after checking the path and every existing part of it for links.

    Raises:
        UsageError: The path is not a plain relative path.
        RepoError: A part of it is a symbolic link.
    """
    check_relative(relative, what)
    current = root
    done: list[str] = []
    for part in relative.split("/"):
        current = current / part
        done.append(part)
        try:
            mode = current.lstat().st_mode
        except FileNotFoundError:
            break
        except NotADirectoryError:
            break
        if stat.S_ISLNK(mode):
            raise link_error(root, "/".join(done))
    return root / relative


def read_bytes(root: Path, relative: str, what: str = "path") -> bytes | None:
    """The bytes of a file inside the repository; None when it does not exist.

    Raises:
        RepoError: A link, a folder where a file belongs, or an unreadable file.
    """
    path = inside(root, relative, what)
    try:
        fd = os.open(path, os.O_RDONLY | _NOFOLLOW)
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise _folder_error(path) from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise link_error(root, relative) from None
        if exc.errno == errno.ENOTDIR:
            return None
        raise RepoError(f"cannot read {path}: {exc.strerror}") from exc
    if stat.S_ISDIR(os.fstat(fd).st_mode):
        os.close(fd)
        raise _folder_error(path)
    with os.fdopen(fd, "rb") as handle:
        return handle.read()


def _folder_error(path: Path) -> RepoError:
    return RepoError(f"{path} is a folder where scaffold expects a file; move it away and re-run")


def read_text(root: Path, relative: str, what: str = "path") -> str | None:
    """The UTF-8 text of a file inside the repository; None when it does not exist.

    Raises:
        RepoError: As :func:`read_bytes`, or the file is not UTF-8 text.
    """
    data = read_bytes(root, relative, what)
    if data is None:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise RepoError(
            f"{root / relative} is not UTF-8 text; restore it (e.g. from git) or delete it"
        ) from None


def real_folder(root: Path, relative: str) -> Path | None:
    """``root/relative`` when it is a real folder; None when missing.

    Raises:
        RepoError: It is a link or a file.
    """
    path = inside(root, relative)
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return None
    if not stat.S_ISDIR(mode):
        raise RepoError(f"{path} must be a folder; move the file away and re-run")
    return path
