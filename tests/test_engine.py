"""The engine's guarantees: confinement, one writer at a time, sandboxed templates, and recovery
of runs killed at any write step (init and ``secret rotate`` included).

Every scenario runs the real CLI on real temp folders and git repositories.
"""

from __future__ import annotations

import contextlib

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import (
    KILL_HOOK,
    SEALED_ANSWERS,
    SMALL_ANSWERS,
    commit_all,
    init_committed,
    invoke,
    leftovers,
    run_killed,
    snapshot,
)

from homelab_scaffold.generate.sealing_crypto import KeyPair, check_key_pair, generate_key_pair
from homelab_scaffold.repo import write
from homelab_scaffold.repo.changes import FileChange
from homelab_scaffold.repo.lock import LOCK_FILE, Owner
from homelab_scaffold.repo.write import JOURNAL_FILE, apply_changes, recover

@pytest.fixture(scope="module")
def bases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("engine")
    return {
        "small": init_committed(base, "small", SMALL_ANSWERS),
        "sealed": init_committed(base, "sealed", SEALED_ANSWERS),
    }


@pytest.fixture
def small(bases: dict[str, Path], tmp_path: Path) -> Path:
    return shutil.copytree(bases["small"], tmp_path / "homelab", symlinks=True)


@pytest.fixture
def sealed(bases: dict[str, Path], tmp_path: Path) -> Path:
    return shutil.copytree(bases["sealed"], tmp_path / "homelab", symlinks=True)


def refused(run_args: list[object], root: Path, outside: Path, *fragments: str) -> None:
    """The command exits 2 with one line holding every fragment; nothing changed anywhere."""
    before, outside_before = snapshot(root), snapshot(outside)
    run = invoke(*run_args)
    assert run.exit_code == 2, (run.stdout, run.stderr)
    assert len([line for line in run.stderr.splitlines() if line.strip()]) == 1, run.stderr
    for fragment in fragments:
        assert fragment in run.stderr, run.stderr
    assert snapshot(root) == before
    assert snapshot(outside) == outside_before


# ---------------------------------------------------------------------------------------------
# Confinement: nothing outside the repository is read or written


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "precious.yaml").write_text("mine: true\n", encoding="utf-8")
    return folder


def test_a_symlinked_generated_file_is_refused_not_followed(small: Path, outside: Path) -> None:
    values = small / "kubernetes/system/traefik/values.yaml"
    values.unlink()
    values.symlink_to(outside / "precious.yaml")
    commit_all(small)
    refused(
        ["regenerate", "--force", "-C", small],
        small,
        outside,
        "kubernetes/system/traefik/values.yaml",
        "symbolic link",
    )


def test_a_symlinked_folder_on_the_way_is_refused(small: Path, outside: Path) -> None:
    shutil.rmtree(small / "kubernetes/system/test-app")
    (small / "kubernetes/system/test-app").symlink_to(outside, target_is_directory=True)
    commit_all(small)
    refused(
        ["add", "longhorn", "--force", "-C", small],
        small,
        outside,
        "kubernetes/system/test-app",
        "symbolic link",
    )


def test_scaffold_yaml_as_a_link_is_refused(small: Path, outside: Path) -> None:
    (outside / "scaffold.yaml").write_text((small / "scaffold.yaml").read_text())
    (small / "scaffold.yaml").unlink()
    (small / "scaffold.yaml").symlink_to(outside / "scaffold.yaml")
    refused(["regenerate", "--force", "-C", small], small, outside, "scaffold.yaml", "link")


def test_secrets_must_be_a_real_folder(sealed: Path, outside: Path) -> None:
    shutil.copytree(sealed / "secrets", outside / "secrets")
    shutil.rmtree(sealed / "secrets")
    (sealed / "secrets").symlink_to(outside / "secrets", target_is_directory=True)
    refused(
        ["secret", "rotate", "vaultwarden.admin_token", "--force", "-C", sealed],
        sealed,
        outside,
        "secrets",
        "symbolic link",
    )


@pytest.mark.parametrize("entry", ["/etc/hostname", "../outside/precious.yaml", "a/../../x"])
def test_a_state_entry_outside_the_repository_is_refused(
    small: Path, outside: Path, entry: str
) -> None:
    state = small / ".scaffold/state.json"
    data = json.loads(state.read_text())
    data["files"][entry] = "mine: true\n"
    state.write_text(json.dumps(data))
    commit_all(small)
    refused(
        ["regenerate", "--force", "-C", small], small, outside, repr(entry), "inside the repository"
    )


@pytest.mark.parametrize("path", ["/tmp", "../outside", "catalog/../../outside"])
def test_a_catalog_path_outside_the_repository_is_refused(
    small: Path, outside: Path, path: str
) -> None:
    answers = small / "scaffold.yaml"
    answers.write_text(
        answers.read_text().replace("components:", f"catalog_paths: ['{path}']\ncomponents:")
    )
    commit_all(small)
    refused(["regenerate", "-C", small], small, outside, "catalog_paths", "inside the repository")


def test_a_link_inside_a_user_catalog_is_refused(small: Path, outside: Path) -> None:
    folder = small / "catalog/whoami"
    (folder / "whoami").mkdir(parents=True)
    (folder / "component.yaml").write_text(
        "description: w\nnamespace: whoami\nproject: apps\n"
        "applications:\n  - name: whoami\n    type: manifests\n    path: apps/whoami\n"
    )
    (folder / "whoami/cm.yaml.j2").symlink_to(outside / "precious.yaml")
    answers = small / "scaffold.yaml"
    answers.write_text(
        answers.read_text().replace("components:", "catalog_paths: [catalog]\ncomponents:")
    )
    commit_all(small)
    refused(["add", "whoami", "-C", small], small, outside, "whoami/cm.yaml.j2", "symbolic link")


# ---------------------------------------------------------------------------------------------
# One writer at a time


def test_a_second_writer_exits_with_its_own_code_and_writes_nothing(small: Path) -> None:
    lock = small / LOCK_FILE
    lock.write_text(Owner.me().text())  # this test's own process: alive
    before = snapshot(small)
    run = invoke("add", "longhorn", "-C", small)
    assert run.exit_code == 75, run.stderr
    assert f"process {os.getpid()}" in run.stderr and "wait for it to finish" in run.stderr
    assert snapshot(small) == before
    # Reading is not writing: a dry run and diff still work while another writer holds it.
    assert invoke("add", "longhorn", "--dry-run", "-C", small).exit_code == 0
    assert invoke("diff", "-C", small).exit_code == 0
    assert snapshot(small) == before


def test_a_lock_left_by_a_killed_process_is_taken_over(small: Path) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    owner = Owner(int(dead.stdout), Owner.me().host, "1")
    (small / LOCK_FILE).write_text(owner.text())
    run = invoke("add", "longhorn", "-C", small)
    assert run.exit_code == 0, run.stderr
    assert not (small / LOCK_FILE).exists()
    assert "longhorn" in (small / "scaffold.yaml").read_text()


def test_two_writers_finding_the_same_dead_lock_do_not_both_take_it_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    from homelab_scaffold.repo import lock as lock_module

    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True, text=True, check=True,
    )
    (tmp_path / ".scaffold").mkdir()
    (tmp_path / LOCK_FILE).write_text(Owner(int(dead.stdout), Owner.me().host, "1").text())
    # The racy interleaving: both writers judge the dead lock stale; the first takes it over,
    # and only then does the second go on with its (now outdated) verdict.
    both_judged = threading.Barrier(2, timeout=10)
    judged = threading.local()
    stale = lock_module._stale

    def judge_then_wait(path: Path, owner: Owner | None) -> bool:
        verdict = stale(path, owner)
        if getattr(judged, "once", False):
            return verdict
        judged.once = True
        if both_judged.wait() == 0:
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                current = lock_module._read_owner(path)
                if current is not None and current.pid == os.getpid():
                    break  # the other writer holds it now
                time.sleep(0.01)
        return verdict

    monkeypatch.setattr(lock_module, "_stale", judge_then_wait)
    holding = threading.Barrier(2, timeout=10)
    results: list[str] = []

    def writer() -> None:
        try:
            with lock_module.locked(tmp_path):
                results.append("held")
                with contextlib.suppress(threading.BrokenBarrierError):
                    holding.wait(timeout=2)  # hold it while the other one tries
        except lock_module.RepositoryLocked:
            results.append("refused")
            holding.abort()

    threads = [threading.Thread(target=writer) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(results) == ["held", "refused"]


def test_the_lock_is_gone_after_every_run_even_a_failed_one(small: Path) -> None:
    assert invoke("add", "nonexistent", "-C", small).exit_code == 2
    assert invoke("regenerate", "-C", small).exit_code == 0
    assert not (small / LOCK_FILE).exists()


# ---------------------------------------------------------------------------------------------
# Templates render in Jinja's sandbox


def test_a_user_template_cannot_reach_python_internals(small: Path) -> None:
    folder = small / "catalog/evil"
    (folder / "evil").mkdir(parents=True)
    (folder / "component.yaml").write_text(
        "description: e\nnamespace: evil\nproject: apps\n"
        "applications:\n  - name: evil\n    type: manifests\n    path: apps/evil\n"
    )
    (folder / "evil/cm.yaml.j2").write_text("x: {{ ''.__class__.__mro__[1].__subclasses__() }}\n")
    answers = small / "scaffold.yaml"
    answers.write_text(
        answers.read_text().replace("components:", "catalog_paths: [catalog]\ncomponents:")
    )
    commit_all(small)
    before = snapshot(small)
    run = invoke("add", "evil", "-C", small)
    assert run.exit_code == 2, run.stderr
    assert "refused by the sandbox" in run.stderr or "unsafe" in run.stderr, run.stderr
    assert snapshot(small) == before


# ---------------------------------------------------------------------------------------------
# The journal: a run killed at any write step is rolled back (or completed) by the next one


def count_steps(monkeypatch: pytest.MonkeyPatch, *args: object) -> int:
    calls: list[Path] = []
    monkeypatch.setattr(write, "_before_each_write", calls.append)
    run = invoke(*args)
    assert run.exit_code == 0, run.stderr
    monkeypatch.setattr(write, "_before_each_write", None)
    return len(calls)


def files_of(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(root).parts
    }


def test_a_killed_init_is_rolled_back_and_the_same_init_then_works(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "small.yaml"
    config.write_text(SMALL_ANSWERS)
    total = count_steps(monkeypatch, "init", tmp_path / "reference", "--config", config)
    reference = files_of(tmp_path / "reference")
    for step in range(1, total + 1, max(1, total // 6)):
        dest = tmp_path / f"killed-{step}"
        assert run_killed(step, "init", dest, "--config", config).returncode == -signal.SIGKILL
        run = invoke("init", dest, "--config", config)
        assert run.exit_code == 0, (step, run.stderr)
        assert files_of(dest) == reference, step
        assert leftovers(dest) == [] and not (dest / JOURNAL_FILE).exists()


def test_a_killed_rotation_with_a_new_key_leaves_a_whole_key_pair(
    sealed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reference = shutil.copytree(sealed, tmp_path / "reference", symlinks=True)
    old = _pair(sealed)
    rotate = ("secret", "rotate", "--all", "--new-key", "--yes")
    total = count_steps(monkeypatch, *rotate, "-C", reference)
    for step in range(1, total + 1, max(1, total // 8)):
        root = shutil.copytree(sealed, tmp_path / f"killed-{step}", symlinks=True)
        killed = run_killed(step, *rotate, "-C", root)
        assert killed.returncode == -signal.SIGKILL
        assert invoke("regenerate", "--force", "-C", root).exit_code == 0, step
        pair = _pair(root)
        assert check_key_pair(pair) == pair, f"half a key pair after a kill at step {step}"
        # The old pair is kept exactly when it was replaced: never lost, never half kept.
        kept = list((root / "secrets").glob("sealing-key.old-*"))
        if pair == old:
            assert kept == [], step
        else:
            assert len(kept) == 1, step
            assert _pair(root, kept[0].name) == old, step
        # Every SealedSecret decrypts with the pair now on disk: old and new never mix.
        assert invoke("secret", "rotate", "--all", "--force", "-C", root).exit_code == 0
        assert leftovers(root) == [] and not (root / JOURNAL_FILE).exists(), step
        assert not [p for p in root.rglob("*.scaffold-tmp")], "a private key left in a temp file"


def _pair(root: Path, name: str = "sealing-key") -> KeyPair:
    folder = root / "secrets" / name
    return KeyPair((folder / "tls.key").read_bytes(), (folder / "tls.crt").read_bytes())


KILL_APPLY = KILL_HOOK + """\
from pathlib import Path
from homelab_scaffold.repo.changes import FileChange
root = Path(sys.argv[2])
changes = [FileChange(p, "update", "new " + p + "\\n", 0o600) for p in ("k/tls.key", "k/tls.crt")]
changes.append(FileChange("gone.txt", "delete"))
write.apply_changes(root, changes)
"""


@pytest.mark.parametrize("step", range(1, 9))
def test_recover_restores_a_whole_old_or_whole_new_transaction(tmp_path: Path, step: int) -> None:
    (tmp_path / "k").mkdir()
    old = {"k/tls.key": "old key\n", "k/tls.crt": "old crt\n", "gone.txt": "bye\n"}
    for path, text in old.items():
        (tmp_path / path).write_text(text)
    result = subprocess.run(
        [sys.executable, "-c", KILL_APPLY, str(step), str(tmp_path)],
        capture_output=True,
        check=False,
    )
    assert result.returncode == -signal.SIGKILL, "every step of this transaction is hooked"
    done = recover(tmp_path)
    now = {p: (tmp_path / p).read_text() for p in old if (tmp_path / p).exists()}
    new = {"k/tls.key": "new k/tls.key\n", "k/tls.crt": "new k/tls.crt\n"}
    # Killed before its journal existed, nothing had changed; after, recovery decides.
    assert now == old if done is None else now in (old, new), (step, now)
    assert leftovers(tmp_path) == [] and not (tmp_path / JOURNAL_FILE).exists()


def test_apply_changes_refuses_a_path_outside_the_root(tmp_path: Path) -> None:
    from homelab_scaffold.errors import UsageError

    with pytest.raises(UsageError, match="inside the repository"):
        apply_changes(tmp_path, [FileChange("../escape.txt", "create", "x\n")])
    assert not (tmp_path.parent / "escape.txt").exists()


def test_a_generated_key_pair_is_consistent() -> None:
    pair = generate_key_pair()
    assert check_key_pair(pair) == pair


# ---------------------------------------------------------------------------------------------
# The user's own SealedSecrets: found once per run among the manifests the state does not list


SEALED_MANIFEST = "apiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\nmetadata:\n  name: x\n"


def test_own_sealed_files_are_unrecorded_manifests_holding_a_sealed_secret(sealed: Path) -> None:
    from homelab_scaffold.engine import Engine, RunOptions

    ours = sealed / "kubernetes/apps/mine"
    ours.mkdir(parents=True)
    (ours / "sealed.yaml").write_text(SEALED_MANIFEST, encoding="utf-8")
    (ours / "sealed.json").write_text(json.dumps({"kind": "SealedSecret"}), encoding="utf-8")
    (ours / "notes.txt").write_text(SEALED_MANIFEST, encoding="utf-8")  # not a manifest
    (ours / "plain.yaml").write_text("kind: ConfigMap\n", encoding="utf-8")
    state = json.loads((sealed / ".scaffold/state.json").read_text(encoding="utf-8"))
    files = state["files"]
    # scaffold's own SealedSecrets are in the state: never counted as the user's
    assert [p for p in files if p.startswith("kubernetes/") and "SealedSecret" in files[p]]
    with Engine(sealed, RunOptions(dry_run=True)) as engine:
        engine.open_repo()
        found = engine.own_sealed_files()
        assert found == ("kubernetes/apps/mine/sealed.json", "kubernetes/apps/mine/sealed.yaml")
        (ours / "later.yaml").write_text(SEALED_MANIFEST, encoding="utf-8")
        assert engine.own_sealed_files() is found  # read once per run
        assert engine.added_files(["kubernetes/apps/mine", "kubernetes/nowhere"]) == [
            f"kubernetes/apps/mine/{name}"
            for name in ("later.yaml", "notes.txt", "plain.yaml", "sealed.json", "sealed.yaml")
        ]


def test_init_force_over_a_damaged_state_still_looks_for_own_sealed_files(sealed: Path) -> None:
    from homelab_scaffold.engine import Engine, RunOptions

    (sealed / ".scaffold/state.json").write_text("{damaged", encoding="utf-8")
    ours = sealed / "kubernetes/apps/mine"
    ours.mkdir(parents=True)
    (ours / "sealed.yaml").write_text(SEALED_MANIFEST, encoding="utf-8")
    with Engine(sealed, RunOptions(dry_run=True)) as engine:
        found = engine.own_sealed_files()  # init never opens the repository
    assert "kubernetes/apps/mine/sealed.yaml" in found
