"""Day two without surprises: data outlives Git, the secret store is never lost silently,
credentials never reach scaffold.yaml, dry runs exit like the real run.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from conftest import REPO_URL, commit_all, git, git_init, invoke, snapshot

SEALED = f"""\
repo_url: {REPO_URL}
domain: lab.example.com
components:
  vaultwarden: {{}}
  authelia: {{}}
"""


def _committed(root: Path) -> Path:
    if not (root / ".git").exists():
        git_init(root)
    commit_all(root, "state")
    return root


@pytest.fixture(scope="module")
def sealed_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("day-two")
    config = base / "sealed.yaml"
    config.write_text(SEALED)
    root = base / "homelab"
    run = invoke("init", root, "--config", config)
    assert run.exit_code == 0, run.stderr
    return _committed(root)


@pytest.fixture
def sealed(sealed_base: Path, tmp_path: Path) -> Path:
    return shutil.copytree(sealed_base, tmp_path / "homelab", symlinks=True)


# ---------------------------------------------------------------------------------------------
# Data outlives Git


def test_every_generated_claim_keeps_its_data_when_it_leaves_git(sealed: Path) -> None:
    claims = []
    for path in sorted((sealed / "kubernetes").rglob("*.y*ml")):
        for document in yaml.safe_load_all(path.read_text()):
            if isinstance(document, dict) and document.get("kind") == "PersistentVolumeClaim":
                claims.append(document)
    assert {c["metadata"]["name"] for c in claims} == {"vaultwarden-data", "authelia-data"}
    for claim in claims:
        options = claim["metadata"]["annotations"]["argocd.argoproj.io/sync-options"]
        assert set(options.split(",")) == {"Prune=false", "Delete=false"}


def test_remove_says_which_data_stays_and_how_to_delete_it(sealed: Path) -> None:
    run = invoke("remove", "vaultwarden", "--yes", "-C", sealed)
    assert run.exit_code == 0, run.stderr
    assert "PersistentVolumeClaim vaultwarden/vaultwarden-data" in run.stdout
    assert "kubectl -n vaultwarden delete pvc vaultwarden-data" in run.stdout
    assert not (sealed / "kubernetes/apps/vaultwarden").exists()


def test_remove_without_a_terminal_asks_for_yes_and_writes_nothing(sealed: Path) -> None:
    before = snapshot(sealed)
    run = invoke("remove", "vaultwarden", "-C", sealed)
    assert run.exit_code == 2
    assert "pass --yes" in run.stderr and "its data stays" in run.stderr
    assert snapshot(sealed) == before


def test_a_dry_run_exits_4_when_the_real_run_would_leave_conflicts(sealed: Path) -> None:
    values = sealed / "kubernetes/system/traefik/values.yaml"
    text = values.read_text()
    assert "level: INFO" in text
    values.write_text(text.replace("level: INFO", "level: WARN  # mine"))
    _committed(sealed)
    before = snapshot(sealed)
    run = invoke("add", "traefik", "--set", "log_level=ERROR", "--dry-run", "-C", sealed)
    assert run.exit_code == 4, run.stderr
    assert "kubernetes/system/traefik/values.yaml" in run.stderr
    assert snapshot(sealed) == before
    real = invoke("add", "traefik", "--set", "log_level=ERROR", "-C", sealed)
    assert real.exit_code == 4


# ---------------------------------------------------------------------------------------------
# The secret store cannot be lost silently


def test_a_lost_values_file_is_refused_while_sealed_secrets_depend_on_it(sealed: Path) -> None:
    (sealed / "secrets/values.yaml").unlink()
    before = snapshot(sealed)
    run = invoke("regenerate", "-C", sealed)
    assert run.exit_code == 2
    assert "secrets/values.yaml is missing" in run.stderr
    assert "backup" in run.stderr and "scaffold secret rotate --all" in run.stderr
    assert snapshot(sealed) == before


def test_rotate_all_is_the_explicit_way_to_make_lost_values_anew(sealed: Path) -> None:
    sealed_files = sorted((sealed / "kubernetes").rglob("*.sealedsecret.yaml"))
    before = {p: p.read_text() for p in sealed_files}
    (sealed / "secrets/values.yaml").unlink()
    run = invoke("secret", "rotate", "--all", "-C", sealed)
    assert run.exit_code == 0, run.stderr
    values = yaml.safe_load((sealed / "secrets/values.yaml").read_text())
    assert set(values) == {"authelia", "vaultwarden"}
    assert all(p.read_text() != before[p] for p in sealed_files)


def _drop_value(root: Path, component: str, key: str) -> str:
    """Delete one line of secrets/values.yaml; returns the value it held."""
    path = root / "secrets/values.yaml"
    values = yaml.safe_load(path.read_text())
    old = values[component][key]
    lines = [ln for ln in path.read_text().splitlines(keepends=True) if f"{key}:" not in ln]
    path.write_text("".join(lines))
    return str(old)


def test_one_missing_value_is_refused_not_generated_anew(sealed: Path) -> None:
    old = _drop_value(sealed, "authelia", "storage_encryption_key")
    before = snapshot(sealed)
    run = invoke("regenerate", "-C", sealed)
    assert run.exit_code == 2, run.stdout
    message = run.stderr
    assert "authelia.storage_encryption_key" in message and "backup" in message
    assert "scaffold secret rotate authelia.storage_encryption_key` --force" in message
    assert old not in run.stdout + message
    assert len(message.strip().splitlines()) == 1
    assert snapshot(sealed) == before
    # Making a new one is a deliberate step.
    rotated = invoke("secret", "rotate", "authelia.storage_encryption_key", "--force", "-C", sealed)
    assert rotated.exit_code == 0, rotated.stderr
    values = yaml.safe_load((sealed / "secrets/values.yaml").read_text())
    assert values["authelia"]["storage_encryption_key"] not in ("", old)


def test_one_missing_value_is_refused_in_manual_mode(tmp_path: Path) -> None:
    config = tmp_path / "manual.yaml"
    config.write_text(SEALED + "secrets: manual\n")
    root = tmp_path / "homelab"
    assert invoke("init", root, "--config", config).exit_code == 0
    _committed(root)
    _drop_value(root, "vaultwarden", "admin_token")
    before = snapshot(root)
    run = invoke("regenerate", "-C", root)
    assert run.exit_code == 2, run.stdout
    assert "vaultwarden.admin_token" in run.stderr and "secrets/vaultwarden/" in run.stderr
    assert snapshot(root) == before
    (root / "secrets/values.yaml").unlink()
    run = invoke("regenerate", "-C", root)
    assert run.exit_code == 2 and "backup" in run.stderr


def test_a_value_of_a_newly_added_component_is_generated(sealed: Path) -> None:
    run = invoke("add", "kube-prometheus-stack", "-C", sealed)
    assert run.exit_code == 0, run.stderr
    values = yaml.safe_load((sealed / "secrets/values.yaml").read_text())
    assert values["kube-prometheus-stack"]


def test_a_damaged_values_file_is_refused(sealed: Path) -> None:
    (sealed / "secrets/values.yaml").write_text("authelia: [not, a, mapping]\n")
    run = invoke("regenerate", "-C", sealed)
    assert run.exit_code == 2
    assert "secrets/values.yaml" in run.stderr and "damaged" in run.stderr


def test_every_secret_command_has_a_dry_run(sealed: Path) -> None:
    before = snapshot(sealed)
    for args in (
        ("secret", "rotate", "vaultwarden.admin_token", "--dry-run"),
        ("secret", "rotate", "--all", "--dry-run"),
        ("secret", "set", "vaultwarden.admin_token", "--value-from-env", "TOKEN", "--dry-run"),
    ):
        run = invoke(*args, "-C", sealed, env={"TOKEN": "a-new-admin-token-of-enough-length"})
        assert run.exit_code == 0, (args, run.stderr)
        assert "Dry run: nothing was written." in run.stdout
        assert "a-new-admin-token-of-enough-length" not in run.stdout + run.stderr
    assert snapshot(sealed) == before


# ---------------------------------------------------------------------------------------------
# secrets/ can never become committable


def test_an_existing_gitignore_gets_the_secrets_rule(tmp_path: Path) -> None:
    dest = git_init(tmp_path / "homelab")
    (dest / ".gitignore").write_text("# mine\n*.log\n")
    config = tmp_path / "sealed.yaml"
    config.write_text(SEALED)
    run = invoke("init", dest, "--config", config, "--force")
    assert run.exit_code == 0, run.stderr
    text = (dest / ".gitignore").read_text()
    assert text.startswith("# mine\n*.log\n") and "/secrets/\n" in text
    assert "secrets/ must never be committed" in run.stderr
    ignored = git(dest, "check-ignore", "secrets/values.yaml")
    assert ignored.returncode == 0


@pytest.mark.parametrize("commit", [True, False], ids=["committed", "uncommitted"])
@pytest.mark.parametrize(
    "new", ["", "/secrets/*\n!/secrets/values.yaml\n"], ids=["rule-deleted", "rule-negated"]
)
def test_every_writing_command_restores_the_secrets_rule(
    sealed: Path, new: str, commit: bool
) -> None:
    gitignore = sealed / ".gitignore"
    gitignore.write_text(gitignore.read_text().replace("/secrets/\n", new))
    if commit:
        identity = ("-c", "user.name=T", "-c", "user.email=t@example.invalid")
        git(sealed, *identity, "commit", "-qm", "drop the rule", "--", ".gitignore")
        assert git(sealed, "status", "--porcelain", ".gitignore").stdout == ""
    assert git(sealed, "check-ignore", "-q", "secrets/values.yaml").returncode == 1
    run = invoke("regenerate", "-C", sealed)
    assert run.exit_code == 0, run.stderr
    assert "Nothing to change" not in run.stdout
    assert "added /secrets/ to .gitignore" in run.stdout + run.stderr
    for probe in ("secrets/values.yaml", "secrets/sealing-key/tls.key", "secrets/x/y.yaml"):
        assert git(sealed, "check-ignore", "-q", probe).returncode == 0, probe
    assert gitignore.read_text().startswith(gitignore.read_text().split("# Added by")[0])
    again = invoke("regenerate", "-C", sealed)
    assert again.exit_code == 0 and "Nothing to change" in again.stdout


def test_secrets_tracked_by_git_are_refused(sealed: Path) -> None:
    assert git(sealed, "add", "-f", "secrets/values.yaml").returncode == 0
    commit_all(sealed, "oops")
    run = invoke("secret", "rotate", "vaultwarden.admin_token", "-C", sealed)
    assert run.exit_code == 2
    assert "git tracks secrets/values.yaml" in run.stderr and "git rm -r --cached" in run.stderr


def test_the_generated_gitignore_covers_virtualenvs_and_editor_files(sealed: Path) -> None:
    for path in (".venv/bin/python", "venv/x", "__pycache__/a.pyc", ".idea/x", ".vscode/s.json",
                 "notes.swp", ".scaffold/lock", ".scaffold/transaction.json"):
        assert git(sealed, "check-ignore", "-q", path).returncode == 0, path
    assert git(sealed, "check-ignore", "-q", ".scaffold/state.json").returncode == 1


# ---------------------------------------------------------------------------------------------
# Credentials never reach scaffold.yaml


@pytest.mark.parametrize("where", ["--set", "config"])
@pytest.mark.parametrize(
    "url",
    [
        "https://alice:ghp_secret123@github.com/alice/homelab.git",
        "https://ghp_secret123@github.com/alice/homelab.git",
        "https://github.com/alice/homelab.git?token=ghp_secret123",
        "https://github.com/alice/homelab.git?access_token=ghp_secret123",
        "https://gitlab.com/alice/homelab.git?private_token=ghp_secret123",
        "ssh://git:ghp_secret123@github.com/alice/homelab.git",
    ],
)
def test_a_repo_url_with_credentials_is_refused(tmp_path: Path, where: str, url: str) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(f"repo_url: {url}\ncomponents: {{}}\n" if where == "config" else "components: {}\n")
    args = ["--set", f"repo_url={url}"] if where == "--set" else []
    before = snapshot(tmp_path)
    run = invoke("init", tmp_path / "homelab", "--config", config, *args)
    assert run.exit_code == 2
    assert "repo_url" in run.stderr and "Secret" in run.stderr
    assert "credentials" in run.stderr or "query string" in run.stderr
    assert "ghp_secret123" not in run.stderr + run.stdout
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize(
    "url",
    ["ssh://git@github.com/alice/homelab.git", "git@github.com:alice/homelab.git",
     "https://github.com/alice/homelab.git"],
)
def test_an_ssh_login_name_is_not_a_credential(tmp_path: Path, url: str) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(f"repo_url: {url}\nsecrets: manual\ncomponents: {{}}\n")
    run = invoke("init", tmp_path / "homelab", "--config", config)
    assert run.exit_code == 0, run.stderr
    assert f"repo_url: {url}" in (tmp_path / "homelab/scaffold.yaml").read_text()


@pytest.mark.parametrize(
    "origin",
    [
        "https://x-access-token:ghp_secret123@github.com/a/h.git",
        "https://ghp_secret123@github.com/a/h.git",
        "https://github.com/a/h.git?access_token=ghp_secret123",
    ],
)
def test_credentials_in_the_git_origin_are_stripped_with_a_warning(
    tmp_path: Path, origin: str
) -> None:
    dest = git_init(tmp_path / "homelab", origin)
    run = invoke("init", dest, "--no-input", "--set", "secrets=manual")
    assert run.exit_code == 0, run.stderr
    answers = (dest / "scaffold.yaml").read_text()
    assert "repo_url: https://github.com/a/h.git" in answers
    assert "ghp_secret123" not in answers + run.stdout + run.stderr
    assert "holds credentials" in run.stderr
    for path in dest.rglob("*"):
        if path.is_file() and ".git" not in path.parts:
            assert "ghp_secret123" not in path.read_text(errors="replace"), path


def test_remove_names_the_claims_a_charts_statefulset_made(tmp_path: Path) -> None:
    """Loki's and Prometheus's claims come from volumeClaimTemplates: in no file of the
    repository, so only the catalog's `stateful` (created_by: statefulset) can name them."""
    root = git_init(tmp_path / "lab")
    components = ("traefik", "longhorn", "loki", "kube-prometheus-stack")
    sets = [arg for name in components for arg in ("--set", f"components.{name}=")]
    init = invoke(
        "init", root, "--no-input", "--set", f"repo_url={REPO_URL}", "--set", "secrets=manual",
        *sets,
    )  # fmt: skip
    assert init.exit_code == 0, init.stderr
    readme = (root / "README.md").read_text()
    made = "PersistentVolumeClaim `storage-loki-0` in `loki` (made by its chart's StatefulSet)"
    assert made in readme
    commit_all(root, "init")
    for component, namespace, claim in [
        ("loki", "loki", "storage-loki-0"),
        (
            "kube-prometheus-stack",
            "monitoring",
            "prometheus-kube-prometheus-stack-prometheus-db-prometheus-kube-prometheus-stack-prometheus-0",
        ),
    ]:
        run = invoke("remove", component, "--yes", "-C", root)
        assert run.exit_code == 0, run.stderr
        assert "Data that stays in the cluster" in run.stdout
        assert f"PersistentVolumeClaim {namespace}/{claim}" in run.stdout
        assert f"kubectl -n {namespace} delete pvc {claim}" in run.stdout
        commit_all(root, f"remove {component}")
