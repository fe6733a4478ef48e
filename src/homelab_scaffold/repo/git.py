"""The few git facts scaffold needs, from the git command line (no library)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterable
from pathlib import Path


def _git(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "-C", str(root), *args], capture_output=True, text=True, check=False
    )


def is_work_tree(root: Path) -> bool:
    """True when ``root`` is inside a git work tree."""
    try:
        result = _git(root, "rev-parse", "--is-inside-work-tree")
    except OSError:
        return False
    return result.returncode == 0 and result.stdout.strip() == "true"


def origin_url(root: Path) -> str | None:
    """``git remote get-url origin`` or None."""
    if not root.is_dir() or not is_work_tree(root):
        return None
    result = _git(root, "remote", "get-url", "origin")
    url = result.stdout.strip()
    return url if result.returncode == 0 and url else None


def dirty_paths(root: Path, paths: Iterable[str]) -> list[str]:
    """Those of ``paths`` (relative to root) with uncommitted changes, including untracked."""
    wanted = set(paths)
    if not wanted or not is_work_tree(root):
        return []
    result = _git(root, "status", "--porcelain=v1", "-z", "--untracked-files=all", "--", ".")
    if result.returncode != 0:
        return []
    prefix = _git(root, "rev-parse", "--show-prefix").stdout.strip()
    dirty = []
    for entry in result.stdout.split("\0"):
        if len(entry) > 3:
            path = entry[3:]
            relative = path[len(prefix) :] if prefix and path.startswith(prefix) else path
            if relative in wanted:
                dirty.append(relative)
    return sorted(dirty)


def tracked_under(root: Path, folder: str) -> list[str]:
    """Files git tracks under ``folder`` (relative to ``root``); [] outside a work tree."""
    if not is_work_tree(root):
        return []
    result = _git(root, "ls-files", "-z", "--", folder)
    if result.returncode != 0:
        return []
    return sorted(name for name in result.stdout.split("\0") if name)


def not_ignored(root: Path, paths: Iterable[str]) -> list[str] | None:
    """Those of ``paths`` that git would not ignore, by ``git check-ignore`` (its rules: every
    .gitignore, ``.git/info/exclude``, negations, and that a file in an ignored folder cannot be
    re-included), whether tracked or not; None outside a work tree."""
    wanted = list(paths)
    if not is_work_tree(root):
        return None
    result = _git(root, "check-ignore", "--no-index", "-z", "--", *wanted)
    if result.returncode not in (0, 1):
        return None
    ignored = set(result.stdout.split("\0"))
    return [path for path in wanted if path not in ignored]
