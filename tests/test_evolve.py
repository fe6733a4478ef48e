"""``scaffold add | remove | upgrade | regenerate | diff`` on real git repositories.

Each test starts from a copy of a repository rendered once per session (``scaffold init --config``
and a first commit), so the commands under test run against the same tree a user would have.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import Run, git, invoke, pinned, yaml_documents

from homelab_scaffold.wording import agreeing, some_of

ARGOCD_CONFIG = "kubernetes/system/argocd-config"
WAVE = "argocd.argoproj.io/sync-wave"

# traefik + test-app, with cert-manager on an old chart: scaffold adds argocd and metallb.
MINIMAL = """\
# Our lab (comments are kept)
repo_url: https://github.com/alice/homelab-infrastructure.git
domain: lab.example.com
email: admin@example.com
components:
  traefik: {}  # ingress
  test-app: {}
  cert-manager:
    version: v1.14.4
"""
# The same without cert-manager, so adding it moves test-app (after: cert-manager-config).
NO_CERT_MANAGER = """\
repo_url: https://github.com/alice/homelab-infrastructure.git
domain: lab.example.com
components:
  traefik: {}
  test-app: {}
"""
METALLB_ONLY = """\
repo_url: https://github.com/alice/homelab-infrastructure.git
domain: lab.example.com
components:
  metallb: {}
"""
# What init writes for MINIMAL's traefik: the pinned chart version and address (the first of
# MetalLB's default pool), in flow style so that the comment stays on its line.
TRAEFIK_LINE = (
    f"traefik: {{version: {pinned('traefik')}, load_balancer_ip: 192.168.1.240}} # ingress"
)
METALLB_BLOCK = f"  metallb:\n    version: {pinned('metallb')}\n"
LONGHORN_BLOCK = f"  longhorn:\n    version: {pinned('longhorn')}\n"
TEST_APP_FILES = {
    f"{ARGOCD_CONFIG}/test-app.yaml",
    "kubernetes/system/test-app/ingress.yml",
    "kubernetes/system/test-app/networkpolicy.yml",
    "kubernetes/system/test-app/test-app.yml",
}
README_NOTE = "\n## Our notes\n\nThe NAS lives at 10.0.0.5.\n"


# ---------------------------------------------------------------------------------------------
# helpers and fixtures


def commit(root: Path, message: str = "change") -> None:
    """Commit everything in ``root``."""
    assert git(root, "add", "-A").returncode == 0
    result = git(root, "commit", "-q", "--allow-empty", "-m", message)
    assert result.returncode == 0, result.stderr


def git_identity(root: Path) -> None:
    git(root, "config", "user.name", "Test User")
    git(root, "config", "user.email", "test@example.com")


def tree(root: Path) -> dict[str, tuple[int, bytes | None]]:
    """Every path outside .git with its mode and bytes (None for folders)."""
    found: dict[str, tuple[int, bytes | None]] = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        if relative == ".git" or relative.startswith(".git/"):
            continue
        found[relative] = (path.lstat().st_mode, None if path.is_dir() else path.read_bytes())
    return found


def file_stats(root: Path) -> dict[str, tuple[int, int, bytes]]:
    """path -> (inode, mtime_ns, bytes) of every file outside .git (a rewrite changes the inode)."""
    return {
        path: (info.st_ino, info.st_mtime_ns, (root / path).read_bytes())
        for path, info in (
            (p.relative_to(root).as_posix(), p.stat())
            for p in sorted(root.rglob("*"))
            if p.is_file() and ".git" not in p.relative_to(root).parts
        )
    }


def text(root: Path, path: str) -> str:
    return (root / path).read_text(encoding="utf-8")


def replace_in(path: Path, old: str, new: str) -> None:
    content = path.read_text(encoding="utf-8")
    assert content.count(old) == 1, f"{old!r} not exactly once in {path}"
    path.write_text(content.replace(old, new), encoding="utf-8")


def append_to(path: Path, extra: str) -> None:
    path.write_text(path.read_text(encoding="utf-8") + extra, encoding="utf-8")


def waves(root: Path) -> dict[str, str]:
    """Application name -> sync-wave of every child Application."""
    found = {}
    for path in sorted((root / ARGOCD_CONFIG).glob("*.yaml")):
        for doc in yaml_documents(path.read_text(encoding="utf-8")):
            if doc.get("kind") == "Application" and doc["metadata"]["name"] != "root":
                found[doc["metadata"]["name"]] = doc["metadata"]["annotations"][WAVE]
    return found


def answers(root: Path) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(text(root, "scaffold.yaml"))
    return data


def ok(run: Run) -> Run:
    assert run.exit_code == 0, f"exit {run.exit_code}\nstdout:\n{run.stdout}\nstderr:\n{run.stderr}"
    return run


@pytest.fixture
def make_repo(make_committed: Callable[..., Path]) -> Callable[..., Path]:
    """``make_repo(answers=MINIMAL)``: a fresh copy of a committed repo rendered from answers."""

    def make(config: str = MINIMAL, *args: str) -> Path:
        return make_committed(config, *args)

    return make


@pytest.fixture
def repo(make_repo: Callable[..., Path]) -> Path:
    """The MINIMAL stack, committed."""
    return make_repo()


@pytest.fixture
def unchanged(repo: Path) -> Iterator[Callable[[], None]]:
    """Call the yielded function to assert the tree is byte-identical to the start."""
    before = tree(repo)

    def check() -> None:
        assert tree(repo) == before

    yield check


# ---------------------------------------------------------------------------------------------
# remove


@pytest.mark.parametrize(
    ("component", "dependants"),
    [("metallb", ["traefik"]), ("traefik", ["test-app"])],
)
def test_remove_of_a_needed_component_exits_2_naming_dependants_and_changes_nothing(
    repo: Path, unchanged: Callable[[], None], component: str, dependants: list[str]
) -> None:
    run = invoke("remove", "--yes", "--yes", component, "-C", repo)
    assert run.exit_code == 2
    assert component in run.stderr
    for name in dependants:
        assert name in run.stderr
    unchanged()


def test_remove_deletes_exactly_the_generated_files_of_the_component(repo: Path) -> None:
    before = file_stats(repo)
    run = ok(invoke("remove", "--yes", "--yes", "test-app", "-C", repo))
    after = file_stats(repo)

    assert set(before) - set(after) == TEST_APP_FILES
    assert set(after) - set(before) == set()
    rewritten = {p for p in after if after[p] != before[p]}
    assert rewritten == {
        "scaffold.yaml",
        "README.md",
        ".scaffold/state.json",
        f"{ARGOCD_CONFIG}/projects.yaml",
        # Its image's custom manager and group.
        "renovate.json",
    }
    assert not (repo / "kubernetes/system/test-app").exists()
    assert "test-app" not in answers(repo)["components"]
    assert "# Our lab (comments are kept)" in text(repo, "scaffold.yaml")
    assert TRAEFIK_LINE in text(repo, "scaffold.yaml")
    for path in TEST_APP_FILES:
        assert f"delete  {path}" in run.stdout


def test_remove_keeps_an_edited_generated_file_and_says_so(repo: Path) -> None:
    ingress = repo / "kubernetes/system/test-app/ingress.yml"
    append_to(ingress, "# ours: keep this ingress around\n")
    commit(repo)
    edited = ingress.read_bytes()

    run = ok(invoke("remove", "--yes", "--yes", "test-app", "-C", repo))

    assert ingress.read_bytes() == edited
    assert "keep  kubernetes/system/test-app/ingress.yml" in run.stdout
    assert "--force" in run.stdout
    for path in TEST_APP_FILES - {"kubernetes/system/test-app/ingress.yml"}:
        assert not (repo / path).exists(), path
    # From now on it is the user's file: regenerate leaves it alone.
    commit(repo)
    again = ok(invoke("regenerate", "-C", repo))
    assert "Nothing to change" in again.stdout
    assert ingress.read_bytes() == edited


def test_remove_force_deletes_an_edited_generated_file(repo: Path) -> None:
    append_to(repo / "kubernetes/system/test-app/ingress.yml", "# ours\n")
    commit(repo)
    ok(invoke("remove", "--yes", "--yes", "test-app", "--force", "-C", repo))
    for path in TEST_APP_FILES:
        assert not (repo / path).exists(), path
    assert not (repo / "kubernetes/system/test-app").exists()


def test_remove_leaves_files_the_user_added_to_the_components_folder(repo: Path) -> None:
    mine = repo / "kubernetes/system/test-app/extra-configmap.yaml"
    mine.write_text("apiVersion: v1\nkind: ConfigMap\n", encoding="utf-8")
    commit(repo)
    ok(invoke("remove", "--yes", "--yes", "test-app", "-C", repo))
    assert mine.read_text(encoding="utf-8") == "apiVersion: v1\nkind: ConfigMap\n"
    assert sorted(p.name for p in mine.parent.iterdir()) == ["extra-configmap.yaml"]


def test_remove_of_an_unknown_or_unremovable_component_exits_2(
    repo: Path, unchanged: Callable[[], None]
) -> None:
    missing = invoke("remove", "--yes", "--yes", "vaultwarden", "-C", repo)
    assert missing.exit_code == 2 and "vaultwarden" in missing.stderr
    argocd = invoke("remove", "--yes", "--yes", "argocd", "-C", repo)
    assert argocd.exit_code == 2 and "argocd" in argocd.stderr
    unchanged()


# ---------------------------------------------------------------------------------------------
# user files, deleted files, folders in the way


def test_a_generated_file_the_user_deleted_stays_deleted(repo: Path) -> None:
    policy = repo / "kubernetes/system/test-app/networkpolicy.yml"
    policy.unlink()
    commit(repo, "we do not use network policies")

    run = ok(invoke("regenerate", "-C", repo))
    assert not policy.exists()
    assert "skip  kubernetes/system/test-app/networkpolicy.yml" in run.stdout
    assert "stays deleted" in run.stdout
    assert "Nothing to change" in run.stdout

    # Also when another command rewrites the repository around it.
    ok(invoke("add", "longhorn", "-C", repo))
    assert not policy.exists()


def test_files_the_user_added_are_never_touched(repo: Path) -> None:
    added = {
        "NOTES.md": "# our notes\n",
        "kubernetes/system/traefik/dashboard.yaml": "apiVersion: traefik.io/v1alpha1\n",
        "kubernetes/apps/mine/deployment.yaml": "apiVersion: apps/v1\n",
        "kubernetes/system/argocd-config/mine.yaml": "kind: Application\n",
    }
    for path, content in added.items():
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_text(content, encoding="utf-8")
    commit(repo)
    before = {p: s for p, s in file_stats(repo).items() if p in added}

    for args in (
        ("add", "longhorn"),
        ("upgrade", "traefik", "--version", "40.0.0", "--offline", "--yes"),
        ("regenerate",),
        ("remove", "--yes", "test-app"),
        ("remove", "--yes", "longhorn"),
    ):
        ok(invoke(*args, "-C", repo))
        commit(repo)

    assert {p: s for p, s in file_stats(repo).items() if p in added} == before


@pytest.mark.parametrize("command", [("regenerate",), ("add", "longhorn")])
def test_a_folder_where_a_generated_file_belongs_exits_2_and_changes_nothing(
    repo: Path, command: tuple[str, ...]
) -> None:
    values = repo / "kubernetes/system/traefik/values.yaml"
    values.unlink()
    values.mkdir()
    (values / "base.yaml").write_text("ports: {}\n", encoding="utf-8")
    commit(repo)
    before = tree(repo)

    run = invoke(*command, "-C", repo)

    assert run.exit_code == 2
    assert "kubernetes/system/traefik/values.yaml" in run.stderr
    assert tree(repo) == before


# ---------------------------------------------------------------------------------------------
# uncommitted changes


def test_uncommitted_changes_in_a_file_to_touch_refuse_until_force(repo: Path) -> None:
    append_to(repo / "README.md", README_NOTE)
    before = tree(repo)

    refused = invoke("add", "longhorn", "-C", repo)
    assert refused.exit_code == 2
    assert "README.md" in refused.stderr
    assert "commit" in refused.stderr and "--force" in refused.stderr
    assert tree(repo) == before

    forced = ok(invoke("add", "longhorn", "--force", "-C", repo))
    assert "merge  README.md" in forced.stdout
    readme = text(repo, "README.md")
    assert readme.endswith(README_NOTE) and "| longhorn |" in readme


def test_the_refusal_agrees_with_the_number_of_uncommitted_files(repo: Path) -> None:
    append_to(repo / "README.md", README_NOTE)
    one = invoke("add", "longhorn", "-C", repo)
    assert one.exit_code == 2 and "README.md has uncommitted changes" in one.stderr, one.stderr
    append_to(repo / "renovate.json", "\n")
    two = invoke("add", "longhorn", "-C", repo)
    assert two.exit_code == 2, two.stderr
    assert "README.md and 1 more have uncommitted changes" in two.stderr, two.stderr


def test_some_of_names_the_first_and_counts_the_rest() -> None:
    assert some_of(["a"]) == "a"
    assert some_of(["a", "b", "c"]) == "a and 2 more"
    assert some_of(["a", "b", "c"], 2) == "a, b and 1 more"
    assert some_of([]) == ""
    assert [agreeing(n, "has", "have") for n in (0, 1, 2)] == ["have", "has", "have"]


def test_uncommitted_changes_elsewhere_do_not_block(repo: Path) -> None:
    traefik = repo / "kubernetes/system/traefik/values.yaml"
    replace_in(traefik, "level: INFO", "level: WARN")
    edited = traefik.read_bytes()
    ok(invoke("add", "longhorn", "-C", repo))
    assert traefik.read_bytes() == edited


def test_untracked_generated_files_count_as_uncommitted(repo: Path) -> None:
    ok(invoke("add", "longhorn", "-C", repo))
    values = "kubernetes/system/longhorn/values.yaml"
    # Commit everything but the new values file, which stays untracked.
    assert git(repo, "add", "-A", "--", ".", f":!{values}").returncode == 0
    assert git(repo, "commit", "-q", "-m", "add longhorn").returncode == 0
    assert git(repo, "status", "--porcelain", "-uall").stdout == f"?? {values}\n"
    before = tree(repo)

    run = invoke("upgrade", "longhorn", "--version", "1.11.0", "--offline", "--yes", "-C", repo)

    assert run.exit_code == 2
    assert values in run.stderr and "--force" in run.stderr
    assert tree(repo) == before


def test_uncommitted_changes_are_found_when_the_repo_is_a_subfolder_of_a_git_work_tree(
    repo: Path, tmp_path: Path
) -> None:
    outer = tmp_path / "monorepo"
    outer.mkdir()
    inner = outer / "infra" / "homelab"
    shutil.copytree(repo, inner, ignore=shutil.ignore_patterns(".git"))
    assert git(outer, "init", "-q").returncode == 0
    git_identity(outer)
    commit(outer)
    append_to(inner / "README.md", README_NOTE)

    run = invoke("add", "longhorn", "-C", inner)
    assert run.exit_code == 2 and "README.md" in run.stderr


# ---------------------------------------------------------------------------------------------
# --dry-run and diff


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ("add", "longhorn"),
            [
                "+++ b/kubernetes/system/longhorn/values.yaml",
                "+  longhorn:",
                f"+    version: {pinned('longhorn')}",
            ],
        ),
        (
            ("remove", "--yes", "test-app"),
            ["--- a/kubernetes/system/test-app/test-app.yml", "+++ /dev/null"],
        ),
        (
            ("upgrade", "cert-manager", "--version", pinned("cert-manager"), "--offline"),
            ["--- a/kubernetes/system/cert-manager/values.yaml", "-installCRDs: true"],
        ),
    ],
)
def test_dry_run_prints_a_diff_and_writes_nothing(
    repo: Path, args: tuple[str, ...], expected: list[str]
) -> None:
    before = file_stats(repo)
    run = ok(invoke(*args, "--dry-run", "-C", repo))
    for line in expected:
        assert line in run.stdout.splitlines()
    assert "Dry run: nothing was written." in run.stdout
    assert file_stats(repo) == before
    assert git(repo, "status", "--porcelain").stdout == ""


def test_dry_run_previews_even_with_uncommitted_changes(repo: Path) -> None:
    append_to(repo / "README.md", README_NOTE)
    run = invoke("add", "longhorn", "--dry-run", "-C", repo)
    assert run.exit_code == 0
    assert "+++ b/kubernetes/system/longhorn/values.yaml" in run.stdout


def test_diff_prints_a_unified_diff_that_git_can_apply(repo: Path) -> None:
    replace_in(
        repo / "scaffold.yaml",
        TRAEFIK_LINE,
        f"traefik: {{version: {pinned('traefik')}, load_balancer_ip: 192.168.1.240, "
        "log_level: DEBUG}",
    )
    before = file_stats(repo)

    run = ok(invoke("diff", "-C", repo))

    lines = run.stdout.splitlines()
    assert "--- a/kubernetes/system/traefik/values.yaml" in lines
    assert "+++ b/kubernetes/system/traefik/values.yaml" in lines
    assert "-  level: INFO" in lines and "+  level: DEBUG" in lines
    assert file_stats(repo) == before
    patch = repo.parent / "change.patch"
    patch.write_text(run.stdout, encoding="utf-8")
    check = git(repo, "apply", "--check", str(patch))
    assert check.returncode == 0, check.stderr


def test_diff_on_an_unchanged_repo_says_so(repo: Path) -> None:
    run = ok(invoke("diff", "-C", repo))
    assert "No changes" in run.stdout
    assert "---" not in run.stdout


# ---------------------------------------------------------------------------------------------
# running twice, regenerate on an unchanged repo


@pytest.mark.parametrize(
    "config",
    [
        MINIMAL,
        # Secrets (gitignored, hashed in the state) and a generic instance as well.
        MINIMAL
        + "  authelia: {}\n"
        + "  grafana:\n    from: helm-app\n    repo: https://grafana.github.io/helm-charts\n"
        + "    chart: grafana\n    version: 8.5.0\n",
    ],
    ids=["minimal", "secrets-and-generic"],
)
def test_regenerate_on_an_unchanged_repo_changes_zero_bytes(
    make_repo: Callable[..., Path], config: str
) -> None:
    root = make_repo(config)
    before = file_stats(root)
    run = ok(invoke("regenerate", "-C", root))
    assert "Nothing to change" in run.stdout
    assert file_stats(root) == before


def test_add_twice_changes_nothing_the_second_time(repo: Path) -> None:
    ok(invoke("add", "longhorn", "--set", "default_storage_class=false", "-C", repo))
    commit(repo)
    before = file_stats(repo)
    for args in (("add", "longhorn"), ("add", "longhorn", "--set", "default_storage_class=false")):
        run = ok(invoke(*args, "-C", repo))
        assert "Nothing to change" in run.stdout
        assert file_stats(repo) == before


def test_upgrade_twice_changes_nothing_the_second_time(repo: Path) -> None:
    ok(invoke("upgrade", "cert-manager", "--version", pinned("cert-manager"), "--offline", "-C", repo))
    commit(repo)
    before = file_stats(repo)
    run = ok(invoke("upgrade", "cert-manager", "--version", pinned("cert-manager"), "--offline", "-C", repo))
    assert "Nothing to change" in run.stdout
    assert file_stats(repo) == before


# ---------------------------------------------------------------------------------------------
# add: dependencies and waves


def test_add_and_remove_recompute_the_waves_of_other_applications(
    make_repo: Callable[..., Path],
) -> None:
    root = make_repo(NO_CERT_MANAGER)
    assert waves(root)["test-app"] == "4"  # after traefik (3)

    run = ok(invoke("add", "cert-manager", "-C", root))
    assert f"update  {ARGOCD_CONFIG}/test-app.yaml" in run.stdout
    assert waves(root) == {
        "argocd": "0",
        "cert-manager": "1",
        "metallb": "1",
        "metallb-config": "2",
        "traefik": "3",
        "cert-manager-config": "4",
        "test-app": "5",  # test-app's Ingress now waits for the ClusterIssuer
    }
    commit(root)

    ok(invoke("remove", "--yes", "--yes", "cert-manager", "-C", root))
    assert waves(root)["test-app"] == "4"
    assert not (root / f"{ARGOCD_CONFIG}/cert-manager-config.yaml").exists()


def test_add_pulls_in_and_records_what_the_component_needs(
    make_repo: Callable[..., Path],
) -> None:
    root = make_repo(METALLB_ONLY)
    run = ok(invoke("add", "test-app", "-C", root))
    assert "Added traefik: needed by test-app" in run.stdout
    assert {"test-app", "traefik"} <= set(answers(root)["components"])
    assert (root / "kubernetes/system/traefik/values.yaml").is_file()
    wave = waves(root)
    assert int(wave["test-app"]) > int(wave["traefik"]) > int(wave["metallb-config"])


def test_add_with_set_records_the_option_and_renders_it(repo: Path) -> None:
    ok(invoke("add", "longhorn", "--set", "default_storage_class=false", "-C", repo))
    assert answers(repo)["components"]["longhorn"] == {
        "version": pinned("longhorn"),
        "default_storage_class": False,
    }
    assert "defaultClass: false" in text(repo, "kubernetes/system/longhorn/values.yaml")


@pytest.mark.parametrize(
    "args",
    [
        ("add", "nosuch"),
        ("add", "longhorn", "--set", "replicas=0"),
        ("add", "longhorn", "--set", "nosuch=1"),
        ("add", "longhorn", "extra-name"),
        ("upgrade", "cert-manager", "--version", "latest"),
        ("upgrade", "longhorn", "--version", "1.11.0"),
        ("upgrade", "longhorn", "--version", "1.12"),
        ("upgrade", "test-app", "--version", "1.0.0"),
    ],
)
def test_bad_input_exits_2_and_changes_nothing(
    repo: Path, unchanged: Callable[[], None], args: tuple[str, ...]
) -> None:
    run = invoke(*args, "-C", repo)
    assert run.exit_code == 2, run.stdout
    assert run.stderr.startswith("Error: ")
    assert len(run.stderr_lines) == 1
    unchanged()


def test_commands_outside_a_scaffold_repo_exit_2_with_a_hint(tmp_path: Path) -> None:
    for args in (("regenerate",), ("add", "longhorn"), ("diff",)):
        run = invoke(*args, "-C", tmp_path)
        assert run.exit_code == 2
        assert "scaffold init" in run.stderr and "-C" in run.stderr


# ---------------------------------------------------------------------------------------------
# upgrade


@pytest.mark.parametrize(
    ("version", "expected"),
    [("v1.40.0", "crds:\n  enabled: true"), ("v1.10.0", "installCRDs: true")],
)
def test_upgrade_outside_the_known_range_warns_and_renders_the_nearest_template(
    repo: Path, version: str, expected: str
) -> None:
    run = ok(
        invoke("upgrade", "cert-manager", "--version", version, "--offline", "--yes", "-C", repo)
    )
    assert "Warning:" in run.stderr and version in run.stderr and "outside" in run.stderr
    assert expected in text(repo, "kubernetes/system/cert-manager/values.yaml")


def test_upgrade_within_the_known_range_does_not_warn(repo: Path) -> None:
    run = ok(
        invoke("upgrade", "cert-manager", "--version", "v1.16.0", "--offline", "--yes", "-C", repo)
    )
    assert run.stderr == ""
    assert "--offline: values not checked against cert-manager v1.16.0" in run.stdout


def test_upgrade_traefik_across_v39_and_v41_moves_the_keys(repo: Path) -> None:
    values = "kubernetes/system/traefik/values.yaml"
    ok(invoke("upgrade", "traefik", "--version", "33.0.0", "--offline", "--yes", "-C", repo))
    commit(repo)
    old = yaml.safe_load(text(repo, values))
    assert old["ports"]["web"]["redirectTo"] == {"port": "websecure"}
    assert old["logs"]["general"]["level"] == "INFO"

    run = ok(invoke("upgrade", "traefik", "--version", pinned("traefik"), "--offline", "-C", repo))
    new = yaml.safe_load(text(repo, values))
    assert new["ports"]["web"]["http"]["redirections"]["entryPoint"]["to"] == "websecure"
    assert new["log"] == {"level": "INFO"} and "logs" not in new
    moved = [line for line in run.stdout.splitlines() if "keys moved" in line]
    assert len(moved) == 1
    for key in ("ports.web.redirectTo.port", "logs.general.level", "log.level"):
        assert key in moved[0]


# ---------------------------------------------------------------------------------------------
# scaffold.yaml is the user's file


def test_add_keeps_comments_order_and_quoting_of_scaffold_yaml(repo: Path) -> None:
    original = text(repo, "scaffold.yaml")
    styled = original.replace(
        "domain: lab.example.com",
        "domain: 'lab.example.com'  # quoted on purpose",
    ).replace("components:\n", "components:\n  # the stack, in the order we added it\n")
    (repo / "scaffold.yaml").write_text(styled, encoding="utf-8")
    commit(repo)
    ok(invoke("add", "longhorn", "-C", repo))
    assert text(repo, "scaffold.yaml") == styled + LONGHORN_BLOCK


def test_regenerate_never_reformats_scaffold_yaml(repo: Path) -> None:
    original = text(repo, "scaffold.yaml")
    assert original.count(METALLB_BLOCK) == 1
    hand_written = original.replace(
        METALLB_BLOCK, METALLB_BLOCK + "    addresses:\n    - 192.168.1.240-192.168.1.245\n"
    )
    (repo / "scaffold.yaml").write_text(hand_written, encoding="utf-8")
    commit(repo)
    ok(invoke("regenerate", "-C", repo))
    pool = text(repo, "kubernetes/system/metallb-config/ipaddresspool.yaml")
    assert "192.168.1.240-192.168.1.245" in pool
    assert text(repo, "scaffold.yaml") == hand_written


@pytest.mark.parametrize(
    "commented",
    [
        # Flow style, as scaffold itself writes an entry that carries a comment.
        f"  metallb: {{version: {pinned('metallb')}}}  # for traefik\n",
        f"  metallb:\n    version: {pinned('metallb')}  # for traefik\n",
    ],
    ids=["flow", "block"],
)
def test_add_keeps_a_comment_next_to_the_key_it_describes(repo: Path, commented: str) -> None:
    original = text(repo, "scaffold.yaml")
    assert original.count(METALLB_BLOCK) == 1
    content = original.replace(METALLB_BLOCK, commented)
    content += "\n# Certificates: see docs/tls.md\ncatalog_paths: []\n"
    (repo / "scaffold.yaml").write_text(content, encoding="utf-8")
    commit(repo)
    ok(invoke("add", "longhorn", "-C", repo))
    lines = text(repo, "scaffold.yaml").splitlines()
    comment = lines.index("# Certificates: see docs/tls.md")
    assert lines[comment + 1] == "catalog_paths: []"
    assert "  longhorn:" in lines[:comment]
    # Longhorn goes right after the commented entry, which keeps its comment.
    assert text(repo, "scaffold.yaml") == content.replace(commented, commented + LONGHORN_BLOCK)


def test_add_set_records_typed_values(repo: Path) -> None:
    ok(invoke("add", "longhorn", "--set", "replicas=2", "-C", repo))
    assert "    replicas: 2\n" in text(repo, "scaffold.yaml")


def test_add_names_the_real_reason_a_component_was_added(tmp_path: Path) -> None:
    root = tmp_path / "homelab"
    root.mkdir()
    (root / "scaffold.yaml").write_text(
        "repo_url: https://github.com/alice/homelab.git\ncomponents:\n  traefik: {}\n",
        encoding="utf-8",
    )
    ok(invoke("regenerate", "-C", root))
    assert git(root, "init", "-q").returncode == 0
    git_identity(root)
    commit(root)
    run = ok(invoke("add", "longhorn", "-C", root))
    assert "argocd: needed by longhorn" not in run.stdout
    assert "metallb: needed by longhorn" not in run.stdout


def _renovate_image_bump(repo: Path) -> str:
    """Renovate's group bumps the tag in scaffold.yaml and in the manifest in one commit."""
    tag = answers(repo)["components"]["test-app"]["nginx_image_tag"]
    replace_in(repo / "scaffold.yaml", f"nginx_image_tag: {tag}", "nginx_image_tag: 9.9.10")
    manifest = "kubernetes/system/test-app/test-app.yml"
    replace_in(repo / manifest, f"nginx-unprivileged:{tag}", "nginx-unprivileged:9.9.10")
    commit(repo, "Update docker.io/nginxinc/nginx-unprivileged to 9.9.10")
    return manifest


def test_regenerate_after_a_renovate_image_bump_says_it_records_the_state(repo: Path) -> None:
    _renovate_image_bump(repo)
    run = ok(invoke("regenerate", "-C", repo))
    status = git(repo, "status", "--porcelain").stdout.splitlines()
    # What git shows is what scaffold said: the state file, and only it.
    assert status == [" M .scaffold/state.json"]
    assert "Nothing to change" not in run.stdout
    assert "Recorded in .scaffold/state.json" in run.stdout
    assert "kubernetes/system/test-app/test-app.yml" in run.stdout
    as_json = ok(invoke("regenerate", "-C", repo, "--dry-run", "--output", "json"))
    assert yaml.safe_load(as_json.stdout)["changed"] is False
    commit(repo)
    before = file_stats(repo)
    assert "Nothing to change" in ok(invoke("regenerate", "-C", repo)).stdout
    assert file_stats(repo) == before
    assert "No changes" in ok(invoke("diff", "-C", repo)).stdout
    ok(invoke("validate", "--drift", "--offline", "-C", repo))


def test_a_dry_run_after_a_renovate_image_bump_says_it_would_record_the_state(
    repo: Path,
) -> None:
    manifest = _renovate_image_bump(repo)
    before = file_stats(repo)
    run = ok(invoke("regenerate", "-C", repo, "--dry-run"))
    assert "Would record in .scaffold/state.json" in run.stdout
    assert manifest in run.stdout
    json_run = ok(invoke("regenerate", "-C", repo, "--dry-run", "--output", "json"))
    as_json = yaml.safe_load(json_run.stdout)
    assert (as_json["changed"], as_json["state_updated"]) == (False, True)
    assert as_json["restated"] == [manifest]
    assert file_stats(repo) == before
