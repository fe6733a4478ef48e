"""The user's own components: generic ``helm-app`` / ``manifests-app`` instances and user catalogs.

Each instance is recorded in scaffold.yaml, so a repository regenerated from scaffold.yaml alone
(plus the user's catalog folder) is byte-identical to the one the commands built step by step.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from conftest import Run, git, invoke, read_tree, yaml_documents

from homelab_scaffold.cli import cli

ARGOCD_CONFIG = "kubernetes/system/argocd-config"
WAVE = "argocd.argoproj.io/sync-wave"
GRAFANA_REPO = "https://grafana.github.io/helm-charts"
GRAFANA = (
    "add", "helm-app", "grafana",
    "--repo", GRAFANA_REPO, "--chart", "grafana", "--version", "8.5.0",
    "--namespace", "monitoring", "--needs", "traefik",
)  # fmt: skip
MINIMAL = """\
# our lab
repo_url: https://github.com/alice/homelab-infrastructure.git
domain: lab.example.com
email: admin@example.com
components:
  traefik: {}
  test-app: {}
"""
SHARED_SCHEMAS = Path(__file__).resolve().parents[1].parent / "shared" / "schemas"


# ---------------------------------------------------------------------------------------------
# helpers


def commit(root: Path) -> None:
    assert git(root, "add", "-A").returncode == 0
    assert git(root, "commit", "-q", "--allow-empty", "-m", "change").returncode == 0


def ok(run: Run) -> Run:
    assert run.exit_code == 0, f"exit {run.exit_code}\nstdout:\n{run.stdout}\nstderr:\n{run.stderr}"
    return run


def tree(root: Path) -> dict[str, tuple[int, bytes | None]]:
    found: dict[str, tuple[int, bytes | None]] = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        if relative == ".git" or relative.startswith(".git/"):
            continue
        found[relative] = (path.lstat().st_mode, None if path.is_dir() else path.read_bytes())
    return found


def text(root: Path, path: str) -> str:
    return (root / path).read_text(encoding="utf-8")


def documents(root: Path, path: str) -> list[dict[str, Any]]:
    return yaml_documents(text(root, path))


def application(root: Path, name: str) -> dict[str, Any]:
    (doc,) = documents(root, f"{ARGOCD_CONFIG}/{name}.yaml")
    assert doc["kind"] == "Application" and doc["metadata"]["name"] == name
    return doc


def wave(root: Path, name: str) -> int:
    return int(application(root, name)["metadata"]["annotations"][WAVE])


def project(root: Path, name: str) -> dict[str, Any]:
    return next(
        d
        for d in documents(root, f"{ARGOCD_CONFIG}/projects.yaml")
        if d["metadata"]["name"] == name
    )


def components(root: Path) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(text(root, "scaffold.yaml"))["components"]
    return data


def regenerated_from_answers(root: Path, dest: Path, *extra: str) -> dict[str, str]:
    """A new folder holding only scaffold.yaml (and ``extra`` paths), regenerated."""
    dest.mkdir()
    shutil.copy2(root / "scaffold.yaml", dest / "scaffold.yaml")
    for path in extra:
        shutil.copytree(root / path, dest / path)
    ok(invoke("regenerate", "-C", dest))
    return read_tree(dest)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("generic")
    (base / "answers.yaml").write_text(MINIMAL, encoding="utf-8")
    root = base / "homelab"
    ok(invoke("init", root, "--config", base / "answers.yaml"))
    assert git(root, "init", "-q").returncode == 0
    git(root, "config", "user.name", "Test User")
    git(root, "config", "user.email", "test@example.com")
    commit(root)
    return root


@pytest.fixture
def repo(rendered: Path, tmp_path: Path) -> Path:
    dest = tmp_path / "homelab"
    shutil.copytree(rendered, dest, symlinks=True)
    return dest


@pytest.fixture
def with_grafana(repo: Path) -> Path:
    ok(invoke(*GRAFANA, "-C", repo))
    commit(repo)
    return repo


# ---------------------------------------------------------------------------------------------
# helm-app


def test_add_helm_app_renders_a_pinned_application_in_the_right_wave(repo: Path) -> None:
    run = ok(invoke(*GRAFANA, "-C", repo))

    assert f"create  {ARGOCD_CONFIG}/grafana.yaml" in run.stdout
    app = application(repo, "grafana")
    assert wave(repo, "grafana") == wave(repo, "traefik") + 1
    chart, values_ref = app["spec"]["sources"]
    assert chart["repoURL"] == GRAFANA_REPO
    assert (chart["chart"], chart["targetRevision"]) == ("grafana", "8.5.0")
    assert chart["helm"]["valueFiles"] == ["$values/kubernetes/system/grafana/values.yaml"]
    assert values_ref["ref"] == "values"
    assert app["spec"]["destination"]["namespace"] == "monitoring"
    assert app["spec"]["project"] == "system"
    assert (repo / "kubernetes/system/grafana/values.yaml").is_file()
    assert yaml.safe_load(text(repo, "kubernetes/system/grafana/values.yaml")) == {}

    system = project(repo, "system")
    assert GRAFANA_REPO in system["spec"]["sourceRepos"]
    assert "monitoring" in [d["namespace"] for d in system["spec"]["destinations"]]
    assert GRAFANA_REPO not in project(repo, "apps")["spec"]["sourceRepos"]

    assert components(repo)["grafana"] == {
        "from": "helm-app",
        "repo": GRAFANA_REPO,
        "chart": "grafana",
        "version": "8.5.0",
        "namespace": "monitoring",
        "needs": ["traefik"],
    }
    assert "# our lab\n" in text(repo, "scaffold.yaml")
    assert "| grafana |" in text(repo, "README.md")


def test_regenerate_reproduces_instances_from_scaffold_yaml(
    with_grafana: Path, tmp_path: Path
) -> None:
    ok(invoke("add", "manifests-app", "dashboard", "--needs", "traefik", "-C", with_grafana))
    commit(with_grafana)
    again = ok(invoke("regenerate", "-C", with_grafana))
    assert "Nothing to change" in again.stdout
    assert regenerated_from_answers(with_grafana, tmp_path / "fresh") == read_tree(with_grafana)


def test_adding_the_same_instance_twice_changes_nothing(with_grafana: Path) -> None:
    before = tree(with_grafana)
    run = ok(invoke(*GRAFANA, "-C", with_grafana))
    assert "Nothing to change" in run.stdout
    assert tree(with_grafana) == before


def test_upgrade_of_an_instance_keeps_the_users_values(with_grafana: Path) -> None:
    values = with_grafana / "kubernetes/system/grafana/values.yaml"
    values.write_text(values.read_text() + "adminUser: bob\npersistence:\n  enabled: true\n")
    commit(with_grafana)

    run = ok(invoke("upgrade", "grafana", "--version", "8.6.0", "--offline", "-C", with_grafana))

    assert "merge  kubernetes/system/grafana/values.yaml" in run.stdout
    merged = values.read_text()
    assert "8.6.0" in merged.splitlines()[0]
    assert merged.endswith("adminUser: bob\npersistence:\n  enabled: true\n")
    assert application(with_grafana, "grafana")["spec"]["sources"][0]["targetRevision"] == "8.6.0"
    assert components(with_grafana)["grafana"]["version"] == "8.6.0"


def test_remove_of_an_instance_and_of_what_it_needs(with_grafana: Path) -> None:
    before = tree(with_grafana)
    refused = invoke("remove", "--yes", "--yes", "traefik", "-C", with_grafana)
    assert refused.exit_code == 2 and "grafana" in refused.stderr
    assert tree(with_grafana) == before

    ok(invoke("remove", "--yes", "--yes", "grafana", "-C", with_grafana))
    assert not (with_grafana / f"{ARGOCD_CONFIG}/grafana.yaml").exists()
    assert not (with_grafana / "kubernetes/system/grafana").exists()
    assert GRAFANA_REPO not in project(with_grafana, "system")["spec"]["sourceRepos"]
    assert "grafana" not in components(with_grafana)


@pytest.mark.skipif(
    not (SHARED_SCHEMAS / "argoproj.io").is_dir(), reason="../shared/schemas is not present"
)
def test_instance_applications_and_projects_validate(with_grafana: Path) -> None:
    from schema_check import validate_document

    ok(invoke("add", "manifests-app", "dashboard", "--needs", "traefik", "-C", with_grafana))
    for path in (
        f"{ARGOCD_CONFIG}/grafana.yaml",
        f"{ARGOCD_CONFIG}/dashboard.yaml",
        f"{ARGOCD_CONFIG}/projects.yaml",
        "kubernetes/apps/dashboard/configmap.yaml",
    ):
        for doc in documents(with_grafana, path):
            assert validate_document(doc) == [], path


@pytest.mark.parametrize(
    ("args", "mentions"),
    [
        (("add", "helm-app"), "name"),
        (("add", "helm-app", "grafana", "--chart", "grafana", "--version", "8.5.0"), "repo"),
        ((*GRAFANA[:2], "traefik", *GRAFANA[3:]), "traefik"),
        ((*GRAFANA[:-1], "nosuch"), "nosuch"),
        ((*GRAFANA[:-1], "helm-app"), "helm-app"),
        ((*GRAFANA[:7], "latest", *GRAFANA[8:]), "latest"),
        ((*GRAFANA[:4], "not a url", *GRAFANA[5:]), "not a url"),
        (("add", "manifests-app"), "name"),
    ],
)
def test_bad_instances_exit_2_and_change_nothing(
    repo: Path, args: tuple[str, ...], mentions: str
) -> None:
    before = tree(repo)
    run = invoke(*args, "-C", repo)
    assert run.exit_code == 2, run.stdout
    assert mentions in run.stderr
    assert tree(repo) == before


def test_an_invalid_instance_name_exits_2_naming_it(repo: Path) -> None:
    before = tree(repo)
    run = CliRunner().invoke(cli, [*GRAFANA[:2], "Grafana_1", *GRAFANA[3:], "-C", str(repo)])
    assert run.exit_code == 2
    assert "Grafana_1" in run.stderr
    assert tree(repo) == before


def test_an_instance_may_need_another_instance(with_grafana: Path) -> None:
    ok(invoke(
        "add", "helm-app", "grafana-dashboards", "--repo", GRAFANA_REPO,
        "--chart", "grafana-dashboards", "--version", "1.0.0", "--needs", "grafana",
        "-C", with_grafana,
    ))  # fmt: skip
    assert wave(with_grafana, "grafana-dashboards") == wave(with_grafana, "grafana") + 1


@pytest.mark.parametrize(
    "args",
    [
        ("helm-app", "projects", "--repo", GRAFANA_REPO, "--chart", "x", "--version", "1.0.0"),
        ("helm-app", "root", "--repo", GRAFANA_REPO, "--chart", "x", "--version", "1.0.0"),
        ("helm-app", "argocd-config", "--repo", GRAFANA_REPO, "--chart", "x", "--version", "1.0.0"),
        ("manifests-app", "root-app"),
    ],
    ids=["projects", "root", "argocd-config", "root-app"],
)
def test_instance_names_that_clash_with_the_root_folder_are_refused(
    repo: Path, args: tuple[str, ...]
) -> None:
    before = tree(repo)
    run = invoke("add", *args, "-C", repo)
    assert run.exit_code == 2
    assert tree(repo) == before


# ---------------------------------------------------------------------------------------------
# manifests-app


def test_add_manifests_app_makes_a_skeleton_folder_under_apps(repo: Path) -> None:
    run = ok(invoke("add", "manifests-app", "dashboard", "--needs", "traefik", "-C", repo))

    folder = repo / "kubernetes/apps/dashboard"
    assert sorted(p.name for p in folder.iterdir()) == ["README.md", "configmap.yaml"]
    assert "create  kubernetes/apps/dashboard/configmap.yaml" in run.stdout
    (configmap,) = documents(repo, "kubernetes/apps/dashboard/configmap.yaml")
    assert configmap["kind"] == "ConfigMap"
    assert configmap["metadata"]["namespace"] == "dashboard"

    app = application(repo, "dashboard")
    assert app["spec"]["source"]["path"] == "kubernetes/apps/dashboard"
    assert app["spec"]["project"] == "apps"
    assert wave(repo, "dashboard") == wave(repo, "traefik") + 1
    apps = project(repo, "apps")
    assert "dashboard" in [d["namespace"] for d in apps["spec"]["destinations"]]
    assert components(repo)["dashboard"] == {"from": "manifests-app", "needs": ["traefik"]}


def test_the_users_manifests_replace_the_skeleton_for_good(repo: Path) -> None:
    ok(invoke("add", "manifests-app", "dashboard", "-C", repo))
    folder = repo / "kubernetes/apps/dashboard"
    (folder / "configmap.yaml").unlink()
    (folder / "deployment.yaml").write_text("apiVersion: apps/v1\nkind: Deployment\n")
    commit(repo)
    ok(invoke("add", "longhorn", "-C", repo))
    assert sorted(p.name for p in folder.iterdir()) == ["README.md", "deployment.yaml"]


# ---------------------------------------------------------------------------------------------
# user catalogs


WHOAMI_COMPONENT = """\
description: whoami echo server (our own component)
namespace: whoami
project: apps
applications:
  - name: whoami
    type: manifests
    path: apps/whoami
    needs: [traefik]
"""
WHOAMI_TEMPLATE = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: whoami
  namespace: {{ app.namespace }}
data:
  host: {{ ('whoami.' ~ config.domain) | to_yaml_value }}
"""
LONGHORN_OVERRIDE = """\
description: Longhorn, our way
namespace: storage
chart:
  repo: https://charts.longhorn.io
  name: longhorn
  version: 1.11.0
applications:
  - name: longhorn
    type: helm
"""


@pytest.fixture
def with_catalog(repo: Path) -> Path:
    catalog = repo / "catalog"
    (catalog / "whoami/whoami").mkdir(parents=True)
    (catalog / "whoami/component.yaml").write_text(WHOAMI_COMPONENT)
    (catalog / "whoami/whoami/configmap.yaml.j2").write_text(WHOAMI_TEMPLATE)
    (catalog / "longhorn/longhorn").mkdir(parents=True)
    (catalog / "longhorn/component.yaml").write_text(LONGHORN_OVERRIDE)
    (catalog / "longhorn/longhorn/values.yaml.j2").write_text(
        "# our longhorn {{ component.version }} in {{ app.namespace }}\nmine: true\n"
    )
    answers = repo / "scaffold.yaml"
    answers.write_text(
        answers.read_text().replace("components:\n", "catalog_paths: [./catalog]\ncomponents:\n")
    )
    commit(repo)
    return repo


def test_a_user_catalog_extends_the_built_ins(with_catalog: Path) -> None:
    ok(invoke("add", "whoami", "-C", with_catalog))
    (configmap,) = documents(with_catalog, "kubernetes/apps/whoami/configmap.yaml")
    assert configmap["data"]["host"] == "whoami.lab.example.com"
    assert wave(with_catalog, "whoami") == wave(with_catalog, "traefik") + 1
    assert "whoami" in components(with_catalog)
    # The catalog is the user's: scaffold never writes into it.
    assert sorted(p.name for p in (with_catalog / "catalog").iterdir()) == ["longhorn", "whoami"]


def test_a_user_catalog_overrides_a_built_in(with_catalog: Path, tmp_path: Path) -> None:
    ok(invoke("add", "longhorn", "-C", with_catalog))
    assert text(with_catalog, "kubernetes/system/longhorn/values.yaml") == (
        "# our longhorn 1.11.0 in storage\nmine: true\n"
    )
    app = application(with_catalog, "longhorn")
    assert app["spec"]["destination"]["namespace"] == "storage"
    assert app["spec"]["sources"][0]["targetRevision"] == "1.11.0"
    commit(with_catalog)
    fresh = regenerated_from_answers(with_catalog, tmp_path / "fresh", "catalog")
    assert fresh == read_tree(with_catalog)


def test_a_broken_user_component_names_its_file(with_catalog: Path) -> None:
    (with_catalog / "catalog/whoami/component.yaml").write_text("description: [unclosed\n")
    commit(with_catalog)
    before = tree(with_catalog)
    run = invoke("regenerate", "-C", with_catalog)
    assert run.exit_code == 2
    assert "catalog/whoami/component.yaml" in run.stderr
    assert tree(with_catalog) == before


def test_a_missing_catalog_folder_is_a_clear_error(repo: Path) -> None:
    answers = repo / "scaffold.yaml"
    answers.write_text(
        answers.read_text().replace("components:\n", "catalog_paths: [./nowhere]\ncomponents:\n")
    )
    run = invoke("regenerate", "-C", repo)
    assert run.exit_code == 2 and "nowhere" in run.stderr
