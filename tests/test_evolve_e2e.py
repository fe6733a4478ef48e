"""End-to-end: a homelab repo lives through init, hand edits, add, a chart bump and a conflict.

Every step runs the real CLI on a real git repository; the assertions are on the files, the
exit codes and what the user is told. Also here: 300 generic helm-app instances, where adding one
more must rewrite only the files that change.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import Run, git, invoke, pinned, yaml_documents

ARGOCD_CONFIG = "kubernetes/system/argocd-config"
WAVE = "argocd.argoproj.io/sync-wave"

# The answers the user keeps by hand: comments everywhere, a blank line, an end-of-line comment
# on the very value `upgrade` rewrites.
ANSWERS = """\
# Bob's homelab: answers for scaffold (kept by hand)
repo_url: https://github.com/alice/homelab-infrastructure.git  # the GitOps remote
target_revision: main
domain: lab.example.com
email: admin@example.com

components:
  # Ingress first; scaffold pulls in MetalLB for its address.
  traefik: {}
  test-app: {}  # smoke test, remove later
  cert-manager:
    # pinned to what the cluster runs today
    version: v1.14.4  # bump with `scaffold upgrade`
"""

def image_tag(component: str, key: str) -> str:
    """The tag the built-in catalog pins for one image of ``component``."""
    from homelab_scaffold.catalog.loader import load_catalog

    return load_catalog().get(component).images[key].tag


# scaffold records the pinned chart version of every chart component it renders, the tag of
# every image (into the flow entry: its comment stays on its line) and Traefik's address (the
# first of MetalLB's default pool).
AFTER_INIT = f"""\
# Bob's homelab: answers for scaffold (kept by hand)
repo_url: https://github.com/alice/homelab-infrastructure.git  # the GitOps remote
target_revision: main
domain: lab.example.com
email: admin@example.com

components:
  # Ingress first; scaffold pulls in MetalLB for its address.
  traefik:
    version: {pinned("traefik")}
    load_balancer_ip: 192.168.1.240
  test-app: {{nginx_image_tag: {image_tag("test-app", "nginx")}}} # smoke test, remove later
  cert-manager:
    # pinned to what the cluster runs today
    version: v1.14.4  # bump with `scaffold upgrade`
  argocd:
    version: {pinned("argocd")}
  metallb:
    version: {pinned("metallb")}
"""
AFTER_ADD = AFTER_INIT + f"  longhorn:\n    version: {pinned('longhorn')}\n"
AFTER_UPGRADE = AFTER_ADD.replace(
    "version: v1.14.4  # bump with", f"version: {pinned('cert-manager')}  # bump with"
)

TRAEFIK_VALUES = "kubernetes/system/traefik/values.yaml"
TEST_APP_MANIFEST = "kubernetes/system/test-app/test-app.yml"
CERT_MANAGER_VALUES = "kubernetes/system/cert-manager/values.yaml"
TRAEFIK_EDIT = ("  level: INFO\n", "  level: DEBUG  # chasing a TLS problem\n")
TEST_APP_EDIT = ("              cpu: 10m\n", "              cpu: 50m  # hand edit: slow node\n")
CERT_MANAGER_NOTE = "\n# Ours: no Prometheus in this lab.\nprometheus:\n  enabled: false\n"
README_NOTE = "\n## Our notes\n\nThe NAS lives at 10.0.0.5; its share backs the media apps.\n"

WAVES_BEFORE_ADD = {
    "argocd": "0",
    "cert-manager": "1",
    "metallb": "1",
    "metallb-config": "2",
    "traefik": "3",
    "cert-manager-config": "4",
    "test-app": "5",
}
# longhorn-ui (the UI's Ingress) waits for Traefik and cert-manager's issuers.
WAVES_AFTER_ADD = {
    **WAVES_BEFORE_ADD, "longhorn": "1", "longhorn-config": "2", "longhorn-ui": "5"
}


# ---------------------------------------------------------------------------------------------
# helpers


def git_repo(root: Path) -> None:
    """Make ``root`` a git repository with an identity, and commit everything in it."""
    assert git(root, "init", "-q").returncode == 0
    git(root, "config", "user.name", "Test User")
    git(root, "config", "user.email", "test@example.com")
    commit(root, "scaffold init")


def commit(root: Path, message: str) -> None:
    """Commit everything (the user's habit between scaffold commands)."""
    assert git(root, "add", "-A").returncode == 0
    result = git(root, "commit", "-q", "--allow-empty", "-m", message)
    assert result.returncode == 0, result.stderr


def replace_in(path: Path, old: str, new: str) -> None:
    """Edit a file by hand: ``old`` must occur exactly once."""
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} not exactly once in {path}"
    path.write_text(text.replace(old, new), encoding="utf-8")


def append_to(path: Path, text: str) -> None:
    """Append a hand-written block to a file."""
    path.write_text(path.read_text(encoding="utf-8") + text, encoding="utf-8")


def waves(root: Path) -> dict[str, str]:
    """Application name -> sync-wave of every child Application (the root has none)."""
    found = {}
    for path in sorted((root / ARGOCD_CONFIG).glob("*.yaml")):
        for doc in yaml_documents(path.read_text(encoding="utf-8")):
            if doc.get("kind") == "Application" and doc["metadata"]["name"] != "root":
                found[doc["metadata"]["name"]] = doc["metadata"]["annotations"][WAVE]
    return found


def application(root: Path, name: str) -> dict[str, Any]:
    """The Application manifest called ``name``."""
    docs = yaml_documents((root / ARGOCD_CONFIG / f"{name}.yaml").read_text(encoding="utf-8"))
    assert len(docs) == 1
    return docs[0]


def file_stats(root: Path) -> dict[str, tuple[int, int, bytes]]:
    """path -> (inode, mtime_ns, bytes) of every file outside .git: a rewrite changes the inode
    (scaffold writes through a temp file and a rename), whatever the clock's resolution."""
    stats = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        if relative.startswith(".git/") or not path.is_file():
            continue
        info = path.stat()
        stats[relative] = (info.st_ino, info.st_mtime_ns, path.read_bytes())
    return stats


def changed_paths(before: dict[str, Any], after: dict[str, Any]) -> set[str]:
    """Files created, deleted or rewritten between two ``file_stats``."""
    return {p for p in before.keys() | after.keys() if before.get(p) != after.get(p)}


def assert_ok(run: Run) -> None:
    assert run.exit_code == 0, f"exit {run.exit_code}\nstdout:\n{run.stdout}\nstderr:\n{run.stderr}"


# ---------------------------------------------------------------------------------------------
# the whole life of a repo


def test_init_edit_add_upgrade_keeps_every_edit(tmp_path: Path) -> None:
    config = tmp_path / "answers.yaml"
    config.write_text(ANSWERS, encoding="utf-8")
    root = tmp_path / "homelab"

    assert_ok(invoke("init", root, "--config", config))
    assert (root / "scaffold.yaml").read_text(encoding="utf-8") == AFTER_INIT
    assert waves(root) == WAVES_BEFORE_ADD
    git_repo(root)

    replace_in(root / TRAEFIK_VALUES, *TRAEFIK_EDIT)
    replace_in(root / TEST_APP_MANIFEST, *TEST_APP_EDIT)
    append_to(root / CERT_MANAGER_VALUES, CERT_MANAGER_NOTE)
    append_to(root / "README.md", README_NOTE)
    commit(root, "hand edits")
    edited = {
        TRAEFIK_VALUES: (root / TRAEFIK_VALUES).read_text(encoding="utf-8"),
        TEST_APP_MANIFEST: (root / TEST_APP_MANIFEST).read_text(encoding="utf-8"),
    }

    add = invoke("add", "longhorn", "-C", root)
    assert_ok(add)
    assert "create  kubernetes/system/longhorn/values.yaml" in add.stdout
    assert "create  kubernetes/system/argocd-config/longhorn.yaml" in add.stdout
    assert "merge  README.md" in add.stdout  # the user's note and the new table row, together
    readme = (root / "README.md").read_text(encoding="utf-8")
    assert "| longhorn |" in readme and f"longhorn {pinned('longhorn')}" in readme
    assert readme.endswith(README_NOTE)
    assert (root / "scaffold.yaml").read_text(encoding="utf-8") == AFTER_ADD
    assert waves(root) == WAVES_AFTER_ADD
    assert "jobEnabled: false" in (root / "kubernetes/system/longhorn/values.yaml").read_text()
    commit(root, "add longhorn")

    upgrade = invoke("upgrade", "cert-manager", "--version", pinned("cert-manager"), "--offline", "-C", root)
    assert_ok(upgrade)
    assert f"merge  {CERT_MANAGER_VALUES}" in upgrade.stdout
    # The user is told which keys moved across the v1.15 boundary.
    moved = [line for line in upgrade.stdout.splitlines() if "installCRDs" in line]
    assert moved and "crds.enabled" in moved[0] and CERT_MANAGER_VALUES in moved[0]

    values = (root / CERT_MANAGER_VALUES).read_text(encoding="utf-8")
    assert "installCRDs" not in values
    assert yaml.safe_load(values)["crds"] == {"enabled": True, "keep": True}
    assert values.endswith(CERT_MANAGER_NOTE)  # merged, not dropped
    assert application(root, "cert-manager")["spec"]["sources"][0]["targetRevision"] == pinned("cert-manager")

    for path, text in edited.items():
        assert (root / path).read_text(encoding="utf-8") == text
    assert (root / "README.md").read_text(encoding="utf-8").endswith(README_NOTE)
    assert (root / "kubernetes/system/longhorn/values.yaml").is_file()
    assert (root / "scaffold.yaml").read_text(encoding="utf-8") == AFTER_UPGRADE
    assert waves(root) == WAVES_AFTER_ADD
    commit(root, "cert-manager upgraded")

    again = invoke("regenerate", "-C", root)
    assert_ok(again)
    assert "Nothing to change" in again.stdout
    assert git(root, "status", "--porcelain").stdout == ""


SHARED_SCHEMAS = Path(__file__).resolve().parents[1].parent / "shared" / "schemas"


@pytest.mark.skipif(
    not (SHARED_SCHEMAS / "helm-values").is_dir(),
    reason="../shared/schemas (upstream Helm values schemas) is not present",
)
def test_upgraded_cert_manager_values_validate_against_the_new_chart_schema(
    tmp_path: Path,
) -> None:
    from schema_check import validate_helm_values

    config = tmp_path / "answers.yaml"
    config.write_text(ANSWERS, encoding="utf-8")
    root = tmp_path / "homelab"
    assert_ok(invoke("init", root, "--config", config))
    git_repo(root)
    append_to(root / CERT_MANAGER_VALUES, CERT_MANAGER_NOTE)
    commit(root, "hand edit")
    # The check has teeth: the strict v1.21 schema rejects a misspelt key.
    assert validate_helm_values("cert-manager", pinned("cert-manager"), {"crds": {"enabeld": True}})

    assert_ok(invoke("upgrade", "cert-manager", "--version", pinned("cert-manager"), "--offline", "-C", root))
    new = yaml.safe_load((root / CERT_MANAGER_VALUES).read_text(encoding="utf-8"))
    assert validate_helm_values("cert-manager", pinned("cert-manager"), new) == []


# ---------------------------------------------------------------------------------------------
# overlapping edits


@pytest.fixture
def old_cert_manager_repo(tmp_path: Path) -> Path:
    config = tmp_path / "answers.yaml"
    config.write_text(ANSWERS, encoding="utf-8")
    root = tmp_path / "homelab"
    assert_ok(invoke("init", root, "--config", config))
    git_repo(root)
    return root


def test_overlapping_edit_leaves_conflict_markers_and_exits_4(old_cert_manager_repo: Path) -> None:
    root = old_cert_manager_repo
    mine = "installCRDs: false  # we install the CRDs ourselves\n"
    replace_in(root / CERT_MANAGER_VALUES, "installCRDs: true\n", mine)
    commit(root, "our CRDs")

    run = invoke("upgrade", "cert-manager", "--version", pinned("cert-manager"), "--offline", "-C", root)

    assert run.exit_code == 4, run.stderr
    assert f"conflict  {CERT_MANAGER_VALUES}" in run.stdout
    assert CERT_MANAGER_VALUES in run.stderr and "<<<<<<<" in run.stderr
    text = (root / CERT_MANAGER_VALUES).read_text(encoding="utf-8")
    assert mine in text  # the user's text is in the file
    lines = text.splitlines()
    for marker in ("<<<<<<<", "|||||||", "=======", ">>>>>>>"):
        assert sum(line.startswith(marker) for line in lines) == 1, marker
    ours, new = text.index(mine), text.index("crds:\n  enabled: true\n")
    assert text.index("<<<<<<<") < ours < text.index("=======") < new < text.index(">>>>>>>")
    # Everything else of the upgrade was applied.
    assert application(root, "cert-manager")["spec"]["sources"][0]["targetRevision"] == pinned("cert-manager")
    # Until the markers are resolved every writing command refuses (exit 4, naming the file),
    # even with --force, rather than stack new markers on top; the file stays as it is.
    for args in (("regenerate",), ("regenerate", "--force"), ("add", "longhorn")):
        again = invoke(*args, "-C", root)
        assert again.exit_code == 4, again.stderr
        assert "unresolved conflict markers" in again.stderr and CERT_MANAGER_VALUES in again.stderr
        assert (root / CERT_MANAGER_VALUES).read_text(encoding="utf-8") == text


def test_conflicting_upgrade_still_names_the_moved_keys(old_cert_manager_repo: Path) -> None:
    root = old_cert_manager_repo
    replace_in(root / CERT_MANAGER_VALUES, "installCRDs: true\n", "installCRDs: false\n")
    commit(root, "our CRDs")
    run = invoke("upgrade", "cert-manager", "--version", pinned("cert-manager"), "--offline", "-C", root)
    assert run.exit_code == 4
    assert "crds.enabled" in run.stdout + run.stderr


# ---------------------------------------------------------------------------------------------
# 300 generic instances


def many_instances_answers(count: int) -> str:
    lines = [
        "repo_url: https://github.com/alice/homelab-infrastructure.git",
        "domain: lab.example.com",
        "components:",
        "  traefik: {}",
    ]
    for index in range(count):
        lines += [
            f"  app{index:03d}:",
            "    from: helm-app",
            f"    repo: https://charts{index % 7}.example.com/helm",
            f"    chart: chart{index:03d}",
            "    version: 1.0.0",
        ]
        if index % 3 == 0:
            lines.append("    needs: [traefik]")
    return "\n".join(lines) + "\n"


def test_add_to_300_instances_rewrites_only_what_changes(tmp_path: Path) -> None:
    root = tmp_path / "homelab"
    root.mkdir()
    (root / "scaffold.yaml").write_text(many_instances_answers(300), encoding="utf-8")
    assert_ok(invoke("regenerate", "-C", root))
    assert len(list((root / ARGOCD_CONFIG).glob("app*.yaml"))) == 300
    git_repo(root)
    before = file_stats(root)

    run = invoke(
        "add", "helm-app", "grafana", "-C", root,
        "--repo", "https://grafana.github.io/helm-charts",
        "--chart", "grafana", "--version", "8.5.0", "--namespace", "monitoring",
    )  # fmt: skip
    assert_ok(run)
    after = file_stats(root)

    assert changed_paths(before, after) == {
        "scaffold.yaml",
        "README.md",
        ".scaffold/state.json",
        f"{ARGOCD_CONFIG}/projects.yaml",
        f"{ARGOCD_CONFIG}/grafana.yaml",
        "kubernetes/system/grafana/values.yaml",
        # Renovate learns the new chart, so it bumps scaffold.yaml and the Application together.
        "renovate.json",
    }
    assert '"grafana chart"' in (root / "renovate.json").read_text(encoding="utf-8")
    assert after[f"{ARGOCD_CONFIG}/root-app.yaml"] == before[f"{ARGOCD_CONFIG}/root-app.yaml"]
    assert waves(root)["grafana"] == "1"
