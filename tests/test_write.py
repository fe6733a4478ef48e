"""Writes are all-or-nothing: a failure (or a kill) in the middle never leaves a half-written tree.

``write._before_each_write`` is called before every file operation (staging a temp file, then
renaming it into place); these tests make it fail at every single call of a real command and
compare the tree with snapshots taken before and after an uninterrupted run.
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import LEFTOVER_SUFFIXES, git, invoke, leftovers, run_killed

from homelab_scaffold.repo import write
from homelab_scaffold.errors import RepoError
from homelab_scaffold.repo.changes import FileChange, unified_diff
from homelab_scaffold.repo.write import apply_changes

SMALL_STACK = """\
repo_url: https://github.com/alice/homelab-infrastructure.git
domain: lab.example.com
components:
  metallb: {}
"""
MINIMAL = """\
repo_url: https://github.com/alice/homelab-infrastructure.git
domain: lab.example.com
components:
  traefik: {}
  test-app: {}
"""

Tree = dict[str, tuple[int, bytes | None]]


def tree(root: Path) -> Tree:
    """Every path under ``root`` outside .git (itself included) with mode and bytes."""
    if not root.exists():
        return {}
    found: Tree = {}
    for path in [root, *sorted(root.rglob("*"))]:
        relative = path.relative_to(root).as_posix()
        if relative == ".git" or relative.startswith(".git/"):
            continue
        found[relative] = (path.lstat().st_mode, None if path.is_dir() else path.read_bytes())
    return found


def commit(root: Path) -> None:
    assert git(root, "add", "-A").returncode == 0
    assert git(root, "commit", "-q", "-m", "change").returncode == 0


class Recorder:
    """A hook that records every call and raises ``error`` on call number ``fail_at``."""

    def __init__(self, fail_at: int | None = None, error: BaseException | None = None) -> None:
        self.calls: list[Path] = []
        self.fail_at = fail_at
        self.error = error or OSError(errno.EIO, "injected failure")

    def __call__(self, path: Path) -> None:
        self.calls.append(path)
        if len(self.calls) == self.fail_at:
            raise self.error


@pytest.fixture(scope="module")
def committed_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The MINIMAL stack rendered and committed once for this module."""
    base = tmp_path_factory.mktemp("write")
    (base / "answers.yaml").write_text(MINIMAL, encoding="utf-8")
    root = base / "homelab"
    assert invoke("init", root, "--config", base / "answers.yaml").exit_code == 0
    assert git(root, "init", "-q").returncode == 0
    git(root, "config", "user.name", "Test User")
    git(root, "config", "user.email", "test@example.com")
    commit(root)
    return root


def fresh_copy(source: Path, dest: Path) -> Path:
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(source, dest, symlinks=True)
    return dest


def assert_all_or_nothing(
    monkeypatch: pytest.MonkeyPatch,
    prepare: Callable[[], Path],
    args: Callable[[Path], list[object]],
) -> int:
    """Fail the command at each hook call in turn; return how many calls a full run makes."""
    root = prepare()
    old = tree(root)
    counting = Recorder()
    monkeypatch.setattr(write, "_before_each_write", counting)
    assert invoke(*args(root)).exit_code == 0
    new = tree(root)
    assert new != old
    total = len(counting.calls)
    # Every written file is staged and then renamed into place; a deleted one only goes; the
    # journal (.scaffold/transaction.json) is written before staging, committing and the end.
    changed = {p for p in old.keys() | new.keys() if old.get(p) != new.get(p) and p in new}
    written = {p for p in changed if new[p][1] is not None}
    deleted = {p for p in old.keys() - new.keys() if old[p][1] is not None}
    assert total == 2 * len(written) + len(deleted) + 3

    for fail_at in range(1, total + 1):
        root = prepare()
        monkeypatch.setattr(write, "_before_each_write", Recorder(fail_at))
        run = invoke(*args(root))
        assert run.exit_code == 2, (fail_at, run.stdout, run.stderr)
        assert "nothing was changed" in run.stderr
        after = tree(root)
        assert after in (old, new), f"mixed tree after a failure at write call {fail_at}"
        assert leftovers(root) == [], fail_at
    # The range covered every call: one past the end fails nothing.
    root = prepare()
    monkeypatch.setattr(write, "_before_each_write", Recorder(total + 1))
    assert invoke(*args(root)).exit_code == 0
    assert tree(root) == new
    return total


# ---------------------------------------------------------------------------------------------
# injected failures in real commands


def test_add_is_all_or_nothing(
    monkeypatch: pytest.MonkeyPatch, committed_repo: Path, tmp_path: Path
) -> None:
    total = assert_all_or_nothing(
        monkeypatch,
        lambda: fresh_copy(committed_repo, tmp_path / "homelab"),
        lambda root: ["add", "longhorn", "-C", root],
    )
    # scaffold.yaml, README, renovate.json, projects, the three Applications (longhorn,
    # longhorn-config and longhorn-ui), the values file, the RecurringJob file, the UI's
    # NetworkPolicy, the state: each staged, then committed; and the three journal writes.
    assert total == 2 * 11 + 3


def test_remove_is_all_or_nothing(
    monkeypatch: pytest.MonkeyPatch, committed_repo: Path, tmp_path: Path
) -> None:
    assert_all_or_nothing(
        monkeypatch,
        lambda: fresh_copy(committed_repo, tmp_path / "homelab"),
        lambda root: ["remove", "--yes", "test-app", "-C", root],
    )


def test_init_into_an_empty_folder_is_all_or_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "answers.yaml"
    config.write_text(SMALL_STACK, encoding="utf-8")
    dest = tmp_path / "homelab"

    def prepare() -> Path:
        if dest.exists():
            shutil.rmtree(dest)
        dest.mkdir()
        return dest

    assert_all_or_nothing(monkeypatch, prepare, lambda root: ["init", root, "--config", config])


# ---------------------------------------------------------------------------------------------
# a real kill: no partial file, and the next run brings the tree in line


def kill_run(root: Path, kill_at: int, *args: str) -> None:
    result = run_killed(kill_at, *args, "-C", root)
    assert result.returncode == -signal.SIGKILL, result.stderr


# What a killed run leaves for the next one: its lock and its journal.
RUN_FILES = (".scaffold/lock", ".scaffold/transaction.json")


def whole_files(root: Path) -> dict[str, bytes]:
    return {
        path: content
        for path, (_, content) in tree(root).items()
        if content is not None
        and not path.endswith(LEFTOVER_SUFFIXES)
        and path not in RUN_FILES
    }


@pytest.mark.parametrize("kill_at", [2, 7, 9, 12])
def test_a_killed_add_leaves_no_partial_file_and_the_next_run_recovers(
    committed_repo: Path, tmp_path: Path, kill_at: int
) -> None:
    reference = fresh_copy(committed_repo, tmp_path / "reference")
    old = whole_files(reference)
    assert invoke("add", "longhorn", "-C", reference).exit_code == 0
    new = whole_files(reference)

    root = fresh_copy(committed_repo, tmp_path / "homelab")
    kill_run(root, kill_at, "add", "longhorn")

    for path, content in whole_files(root).items():
        assert content in (old.get(path), new.get(path)), f"{path} is neither old nor new"
    recovered = invoke("regenerate", "--force", "-C", root)
    assert recovered.exit_code == 0, recovered.stderr
    assert whole_files(root) in (old, new)
    assert leftovers(root) == [] and not any((root / p).exists() for p in RUN_FILES)


def test_after_a_killed_run_later_runs_clean_up_and_still_work(
    committed_repo: Path, tmp_path: Path
) -> None:
    root = fresh_copy(committed_repo, tmp_path / "homelab")
    kill_run(root, 11, "add", "longhorn")  # scaffold.yaml and README already renamed
    assert invoke("regenerate", "--force", "-C", root).exit_code == 0
    assert leftovers(root) == []
    run = invoke("upgrade", "traefik", "--version", "40.0.0", "--offline", "--yes", "--force", "-C", root)
    assert run.exit_code == 0, run.stderr


# ---------------------------------------------------------------------------------------------
# apply_changes itself


def test_apply_changes_creates_folders_and_private_files(tmp_path: Path) -> None:
    apply_changes(
        tmp_path,
        [
            FileChange("a/b/c.yaml", "create", "c: 1\n"),
            FileChange("secrets/app/s.yaml", "create", "s: 2\n", mode=0o600),
        ],
    )
    assert (tmp_path / "a/b/c.yaml").read_text() == "c: 1\n"
    assert (tmp_path / "secrets/app/s.yaml").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "secrets").stat().st_mode & 0o777 == 0o700
    assert (tmp_path / "secrets/app").stat().st_mode & 0o777 == 0o700


def test_apply_changes_deletes_and_removes_emptied_folders_only(tmp_path: Path) -> None:
    (tmp_path / "gone/deep").mkdir(parents=True)
    (tmp_path / "gone/deep/x.yaml").write_text("x\n")
    (tmp_path / "kept").mkdir()
    (tmp_path / "kept/x.yaml").write_text("x\n")
    (tmp_path / "kept/mine.yaml").write_text("mine\n")
    apply_changes(
        tmp_path,
        [
            FileChange("gone/deep/x.yaml", "delete", None, old_text="x\n"),
            FileChange("kept/x.yaml", "delete", None, old_text="x\n"),
        ],
    )
    assert not (tmp_path / "gone").exists()
    assert sorted(p.name for p in (tmp_path / "kept").iterdir()) == ["mine.yaml"]
    assert tmp_path.is_dir()


def test_apply_changes_writes_last_after_everything_else(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    recorder = Recorder()
    monkeypatch.setattr(write, "_before_each_write", recorder)
    apply_changes(
        tmp_path,
        [FileChange("z.yaml", "create", "z\n"), FileChange("a.yaml", "create", "a\n")],
        last=[FileChange(".scaffold/state.json", "create", "{}\n")],
    )
    names = [p.name for p in recorder.calls]
    journal = "transaction.json"
    assert names == [
        *(journal, "z.yaml", "a.yaml", "state.json"),
        *(journal, "z.yaml", "a.yaml", "state.json"),
        journal,
    ]


def test_apply_changes_skips_changes_that_do_not_write(tmp_path: Path) -> None:
    (tmp_path / "kept.yaml").write_text("mine\n")
    apply_changes(
        tmp_path,
        [
            FileChange("kept.yaml", "keep", "mine\n"),
            FileChange("skipped.yaml", "skip", "new\n"),
            FileChange("same.yaml", "unchanged", "x\n"),
        ],
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept.yaml"]


@pytest.mark.parametrize("fail_at", [1, 2, 3, 4, 5])
def test_an_interrupt_restores_the_old_tree_and_propagates(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fail_at: int
) -> None:
    (tmp_path / "update.yaml").write_text("old\n")
    (tmp_path / "delete.yaml").write_text("delete me\n")
    before = tree(tmp_path)
    monkeypatch.setattr(write, "_before_each_write", Recorder(fail_at, KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        apply_changes(
            tmp_path,
            [
                FileChange("update.yaml", "update", "new\n", old_text="old\n"),
                FileChange("delete.yaml", "delete", None, old_text="delete me\n"),
                FileChange("new/create.yaml", "create", "created\n"),
            ],
        )
    assert tree(tmp_path) == before
    assert leftovers(tmp_path) == []


def test_an_os_error_becomes_a_one_line_repo_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(write, "_before_each_write", Recorder(1))
    with pytest.raises(RepoError, match="nothing was changed") as caught:
        apply_changes(tmp_path, [FileChange("a.yaml", "create", "a\n")])
    assert caught.value.exit_code == 2
    assert "\n" not in caught.value.message


def test_a_failure_while_writing_a_temp_file_leaves_nothing_behind(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "a.yaml").write_text("old\n")
    before = tree(tmp_path)
    real_fsync = os.fsync
    calls = []

    def failing_fsync(fd: int) -> None:
        calls.append(fd)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(write.os, "fsync", failing_fsync)
    with pytest.raises(RepoError):
        apply_changes(
            tmp_path,
            [  # private files: they are synced to disk before they replace anything
                FileChange("a.yaml", "update", "new\n", 0o600, old_text="old\n"),
                FileChange("sub/b.yaml", "create", "b\n", 0o600),
            ],
        )
    monkeypatch.undo()
    assert tree(tmp_path) == before


# ---------------------------------------------------------------------------------------------
# diffs


def test_unified_diff_names_created_updated_and_deleted_files() -> None:
    created = unified_diff(FileChange("n.yaml", "create", "a: 1\n"))
    assert created.startswith("--- /dev/null\n+++ b/n.yaml\n") and "+a: 1\n" in created
    updated = unified_diff(FileChange("u.yaml", "update", "a: 2\n", old_text="a: 1\n"))
    assert updated.startswith("--- a/u.yaml\n+++ b/u.yaml\n")
    assert "-a: 1\n+a: 2\n" in updated
    deleted = unified_diff(FileChange("d.yaml", "delete", None, old_text="a: 1\n"))
    assert deleted.startswith("--- a/d.yaml\n+++ /dev/null\n") and "-a: 1\n" in deleted
    assert unified_diff(FileChange("s.yaml", "unchanged", "x\n", old_text="x\n")) == ""
