"""scaffold outdated: real Helm repository indexes served by http.server on 127.0.0.1."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from helm_repo_server import HelmRepo, closed_port_url, helm_index, serve_directory

from homelab_scaffold.inspect.helm_index import chart_versions
from homelab_scaffold.inspect.outdated import newer_versions
from homelab_scaffold.catalog.versions import require_version


def application(name: str, repo_url: str, chart: str, version: str, wave: str = "1") -> str:
    """A single-source Helm Application manifest."""
    return textwrap.dedent(f"""\
        apiVersion: argoproj.io/v1alpha1
        kind: Application
        metadata:
          name: {name}
          namespace: argocd
          annotations:
            argocd.argoproj.io/sync-wave: "{wave}"
        spec:
          project: default
          source:
            repoURL: {repo_url}
            chart: {chart}
            targetRevision: {version}
          destination:
            server: https://kubernetes.default.svc
            namespace: {name}
        """)


@pytest.fixture(autouse=True)
def chart_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Chart archives are cached inside the test's folder, never in the real home."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    return tmp_path / "xdg" / "scaffold" / "charts"


@pytest.fixture
def charts_server(tmp_path: Path) -> Iterator[str]:
    """Two Helm repositories (metallb, traefik + cert-manager) under one local HTTP server."""
    served = tmp_path / "served"
    (served / "metallb").mkdir(parents=True)
    (served / "metallb" / "index.yaml").write_text(helm_index({
        "metallb": ["0.17.0-rc.1", "0.16.1", "0.16.0", "0.15.2", "0.9.6"],
    }))
    (served / "charts").mkdir()
    (served / "charts" / "index.yaml").write_text(helm_index({
        "traefik": ["41.3.0", "41.2.1", "40.0.0"],
        "cert-manager": ["v1.22.0", "v1.21.1", "v1.10.0"],
    }))
    with serve_directory(served) as url:
        yield url


def make_repo(root: Path, apps: dict[str, str]) -> Path:
    """A repository holding one file per Application under apps/."""
    for name, text in apps.items():
        path = root / "apps" / f"{name}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def table(stdout: str) -> dict[str, str]:
    """The rows of the text table (up to the first blank line), by application."""
    rows = stdout.split("\n\n", 1)[0].splitlines()
    return {line.split()[0]: line for line in rows}


def statuses(run_stdout: str) -> dict[str, dict[str, object]]:
    data = json.loads(run_stdout)
    return {row["application"]: row for row in data["charts"]}


def test_lists_newer_stable_versions_in_semver_order(charts_server, scaffold, tmp_path):
    repo = make_repo(tmp_path / "repo", {
        "metallb": application("metallb", f"{charts_server}/metallb", "metallb", "0.9.6"),
        "traefik": application("traefik", f"{charts_server}/charts/", "traefik", "41.3.0"),
        "cert-manager": application(
            "cert-manager", f"{charts_server}/charts", "cert-manager", "v1.21.1"),
    })

    run = scaffold("outdated", "-C", repo, "--output", "json", "--no-values-check")

    assert run.exit_code == 0, run.stderr
    rows = statuses(run.stdout)
    assert rows["metallb"]["status"] == "outdated"
    # 0.15.2 < 0.16.0 < 0.16.1 by semver (0.9.6 is the current one; 99.0.0 is a dependency's).
    assert rows["metallb"]["newer"] == ["0.15.2", "0.16.0", "0.16.1"]
    assert rows["metallb"]["latest"] == "0.16.1"
    assert rows["traefik"]["status"] == "up-to-date"
    assert rows["traefik"]["newer"] == []
    assert rows["cert-manager"]["newer"] == ["v1.22.0"]


def test_pre_releases_only_when_asked(charts_server, scaffold, tmp_path):
    repo = make_repo(tmp_path / "repo", {
        "metallb": application("metallb", f"{charts_server}/metallb", "metallb", "0.16.1"),
    })

    stable = statuses(scaffold("outdated", "-C", repo, "--output", "json").stdout)
    with_pre = statuses(
        scaffold("outdated", "-C", repo, "--output", "json", "--pre-releases").stdout
    )

    assert stable["metallb"]["status"] == "up-to-date"
    assert with_pre["metallb"]["newer"] == ["0.17.0-rc.1"]


def test_oci_registry_is_reported_not_checked(charts_server, scaffold, tmp_path):
    repo = make_repo(tmp_path / "repo", {
        "cert-manager": application(
            "cert-manager", "oci://quay.io/jetstack/charts", "cert-manager", "v1.21.1"),
        "traefik": application("traefik", f"{charts_server}/charts", "traefik", "41.2.1"),
    })

    run = scaffold("outdated", "-C", repo, "--no-values-check")

    assert run.exit_code == 0, run.stderr
    lines = table(run.stdout)
    assert "not checked: OCI registry" in lines["cert-manager"]
    assert "newer: 41.3.0" in lines["traefik"]
    assert lines["APPLICATION"].split() == [
        "APPLICATION", "CHART", "CURRENT", "LATEST", "UPGRADE", "STATUS"
    ]
    assert lines["traefik"].split()[:5] == ["traefik", "traefik", "41.2.1", "41.3.0", "-"]


def test_unreachable_repository_is_a_network_error(scaffold, tmp_path):
    url = closed_port_url()
    repo = make_repo(tmp_path / "repo", {
        "metallb": application("metallb", url, "metallb", "0.16.1"),
    })

    run = scaffold("outdated", "-C", repo, "--output", "json", "--timeout", "5")

    assert run.exit_code == 2
    assert f"cannot reach {url}/index.yaml" in run.stderr
    assert statuses(run.stdout)["metallb"]["status"] == "error"


def test_missing_index_and_unknown_chart_are_errors(charts_server, scaffold, tmp_path):
    repo = make_repo(tmp_path / "repo", {
        "nothing": application("nothing", f"{charts_server}/nope", "nothing", "1.0.0"),
        "longhorn": application("longhorn", f"{charts_server}/charts", "longhorn", "1.12.1"),
    })

    run = scaffold("outdated", "-C", repo, "--output", "json")

    assert run.exit_code == 2
    rows = statuses(run.stdout)
    assert "does not exist (HTTP 404)" in str(rows["nothing"]["reason"])
    assert "chart 'longhorn' is not in" in str(rows["longhorn"]["reason"])


def test_repository_without_charts(scaffold, tmp_path):
    repo = tmp_path / "empty"
    repo.mkdir()

    run = scaffold("outdated", "-C", repo)

    assert run.exit_code == 0
    assert run.stdout.strip() == "No Helm chart Applications found."


def test_index_in_another_layout_is_parsed_in_full():
    # JSON is valid YAML, and some servers write the index that way.
    index = json.dumps({
        "apiVersion": "v1",
        "entries": {"app": [{"name": "app", "version": v} for v in ("2.0.0", "1.0.0")]},
    })

    assert chart_versions(index, "app") == ["2.0.0", "1.0.0"]
    assert chart_versions(index, "other") == []
    assert chart_versions("just: text\n", "app") is None


def test_helm_layout_ignores_dependency_versions():
    index = helm_index({"a": ["1.0.0"], "b": ["2.0.0", "2.1.0"]})

    assert chart_versions(index, "b") == ["2.0.0", "2.1.0"]
    assert chart_versions(index, "a") == ["1.0.0"]
    assert chart_versions(index, "c") == []


def test_newer_versions_orders_by_semver_not_text():
    listed = ["1.10.0", "1.9.0", "1.2.0", "v1.11.0", "junk"]

    found = newer_versions(listed, require_version("1.2.0"))

    assert found == ("1.9.0", "1.10.0", "v1.11.0")


# --- is the newest version a clean upgrade? -------------------------------------------------------

LAB_URL = "https://github.com/alice/lab.git"


def multi_source_application(name: str, repo_url: str, chart: str, version: str) -> str:
    """An Application as scaffold writes it: the chart, plus this repository as ``$values``."""
    app = yaml.safe_load(application(name, repo_url, chart, version))
    chart_source = app["spec"].pop("source")
    chart_source["helm"] = {"valueFiles": [f"$values/kubernetes/system/{name}/values.yaml"]}
    values_source = {"repoURL": LAB_URL, "targetRevision": "main", "ref": "values"}
    app["spec"]["sources"] = [chart_source, values_source]
    return yaml.safe_dump(app, sort_keys=False)


@pytest.fixture
def upgrade_lab(tmp_path: Path) -> Iterator[tuple[Path, HelmRepo]]:
    """A repository pinning demo 1.0.0 and steady 1.0.0, with values files, and a Helm
    repository where demo 2.0.0 moved a key and steady 1.1.0 changed nothing."""
    charts = HelmRepo(tmp_path / "served" / "charts")
    v1 = {"replicas": 1, "log": {"level": "info"}}
    charts.publish("demo", "1.0.0", values=v1)
    charts.publish("demo", "1.5.0", values=v1, digest="cd" * 32)  # refused: digest mismatch
    charts.publish("demo", "2.0.0", values={"replicas": 1, "logs": {"general": {"level": "info"}}},
                   changes=[{"kind": "changed", "description": "log moved to logs.general"},
                            "Plain note"])
    charts.publish("steady", "1.0.0", values={"enabled": True})
    charts.publish("steady", "1.1.0", values={"enabled": True})
    root = tmp_path / "repo"
    (root / "kubernetes" / "system" / "demo").mkdir(parents=True)
    (root / "kubernetes" / "system" / "steady").mkdir(parents=True)
    (root / "scaffold.yaml").write_text(f"repo_url: {LAB_URL}\n")
    (root / "kubernetes" / "system" / "demo" / "values.yaml").write_text("log:\n  level: debug\n")
    (root / "kubernetes" / "system" / "steady" / "values.yaml").write_text("enabled: false\n")
    with serve_directory(tmp_path / "served") as url:
        for name in ("demo", "steady"):
            app = multi_source_application(name, f"{url}/charts", name, "1.0.0")
            (root / "kubernetes" / f"{name}.yaml").write_text(app)
        yield root, charts


def test_json_tells_whether_the_newest_version_is_a_clean_upgrade(upgrade_lab, scaffold):
    root, _ = upgrade_lab

    run = scaffold("outdated", "-C", root, "--output", "json")

    assert run.exit_code == 0, run.stderr
    rows = statuses(run.stdout)
    demo, steady = rows["demo"], rows["steady"]
    assert demo["newer"] == ["1.5.0", "2.0.0"]
    assert demo["upgrade"]["version"] == "2.0.0"
    assert demo["upgrade"]["clean"] is False
    assert demo["upgrade"]["findings"] == [{
        "key": "log.level",
        "kind": "moved",
        "message": "log.level: demo 1.0.0 has this value, demo 2.0.0 no longer does; it "
                   "probably moved to logs.general.level",
        "suggestion": "logs.general.level",
        "file": "kubernetes/system/demo/values.yaml",
    }]
    assert demo["changes"]["2.0.0"] == [
        {"kind": "changed", "description": "log moved to logs.general"},
        {"kind": "", "description": "Plain note"},
    ]
    assert steady["upgrade"]["clean"] is True
    assert steady["upgrade"]["findings"] == []
    # The newest of the current major (1.x) is checked too; its archive cannot be read.
    newest, in_major = demo["upgrades"]
    assert (newest["scope"], newest["version"]) == ("newest", "2.0.0")
    assert newest == {**demo["upgrade"]}
    assert (in_major["scope"], in_major["version"], in_major["checked"]) == (
        "newest-in-major", "1.5.0", False)
    assert in_major["error"] == "no archive could be read (tried 1.5.0)"
    ((version, reason),) = [(s["version"], s["reason"]) for s in in_major["skipped"]]
    assert version == "1.5.0" and "does not match the digest " + "cd" * 32 in reason
    assert [u["scope"] for u in steady["upgrades"]] == ["newest"]


def test_text_shows_the_upgrade_column_findings_and_change_notes(upgrade_lab, scaffold):
    root, _ = upgrade_lab

    run = scaffold("outdated", "-C", root)

    assert run.exit_code == 0, run.stderr
    rows = table(run.stdout)
    assert rows["demo"].split()[:4] == ["demo", "demo", "1.0.0", "2.0.0"]
    assert "  2.0.0: 1 finding, 1.5.0: error  " in rows["demo"]
    assert rows["steady"].split()[:5] == ["steady", "steady", "1.0.0", "1.1.0", "clean"]
    details = run.stdout.split("\n\n", 1)[1]
    assert "demo: demo 1.0.0 -> 2.0.0\n  kubernetes/system/demo/values.yaml: log.level:" in details
    assert "demo: demo 1.0.0 -> 1.5.0 (newest of 1.x)\n  values not checked against 1.5.0: " in (
        details)
    assert "  changes in 2.0.0:\n    - changed: log moved to logs.general\n" in details
    assert "    - Plain note\n" in details
    assert "the newest of the current major when that is another one" in details


def test_only_the_versions_checked_are_downloaded(upgrade_lab, scaffold, chart_cache):
    root, _ = upgrade_lab

    scaffold("outdated", "-C", root)

    cached = sorted(p.relative_to(chart_cache).parts[1:3] for p in chart_cache.rglob("*.tgz"))
    assert cached == [("demo", "1.0.0"), ("demo", "2.0.0"), ("steady", "1.0.0"),
                      ("steady", "1.1.0")]


def test_no_values_check_downloads_no_archive(upgrade_lab, scaffold, chart_cache):
    root, _ = upgrade_lab

    run = scaffold("outdated", "-C", root, "--output", "json", "--no-values-check")

    assert statuses(run.stdout)["demo"]["upgrade"] is None
    assert not list(chart_cache.rglob("*.tgz"))


def test_an_archive_that_cannot_be_read_gives_way_to_the_next_newest(upgrade_lab, scaffold):
    root, charts = upgrade_lab
    charts.publish("steady", "1.2.0", values={"enabled": True}, digest="ef" * 32)

    run = scaffold("outdated", "-C", root)

    assert run.exit_code == 0
    row = table(run.stdout)["steady"]
    assert row.split()[:6] == ["steady", "steady", "1.0.0", "1.2.0", "1.1.0:", "clean"]
    details = run.stdout.split("\n\n", 1)[1]
    assert "steady: steady 1.0.0 -> 1.1.0\n  values not checked against 1.2.0: " in details
    assert "does not match the digest " + "ef" * 32 in details
    assert "  checked 1.1.0 instead (the next newest)\n" in details


def test_an_unreachable_archive_gives_way_to_the_next_newest(upgrade_lab, scaffold):
    root, charts = upgrade_lab
    gone = closed_port_url()
    charts.publish("steady", "1.2.0", values={"enabled": True}, url=f"{gone}/steady-1.2.0.tgz")

    upgrade = statuses(scaffold("outdated", "-C", root, "--output", "json").stdout)["steady"][
        "upgrade"]

    assert (upgrade["version"], upgrade["clean"]) == ("1.1.0", True)
    ((skipped),) = upgrade["skipped"]
    assert skipped["version"] == "1.2.0"
    assert skipped["reason"].startswith(f"cannot reach {gone}/steady-1.2.0.tgz")


def test_the_newest_of_the_current_major_is_checked_too(upgrade_lab, scaffold):
    root, charts = upgrade_lab
    charts.publish("demo", "1.6.0", values={"replicas": 1, "log": {"level": "info"}})

    run = scaffold("outdated", "-C", root, "--output", "json")

    newest, in_major = statuses(run.stdout)["demo"]["upgrades"]
    assert (newest["version"], newest["clean"]) == ("2.0.0", False)
    assert (in_major["scope"], in_major["version"], in_major["clean"]) == (
        "newest-in-major", "1.6.0", True)
    assert in_major["skipped"] == []
    text = scaffold("outdated", "-C", root)
    assert "  2.0.0: 1 finding, 1.6.0: clean  " in table(text.stdout)["demo"]


def test_fallbacks_are_bounded(upgrade_lab, scaffold, chart_cache):
    root, charts = upgrade_lab
    for minor in range(2, 7):
        charts.publish("steady", f"1.{minor}.0", values={"enabled": True}, digest="ef" * 32)

    upgrade = statuses(scaffold("outdated", "-C", root, "--output", "json").stdout)["steady"][
        "upgrade"]

    assert [s["version"] for s in upgrade["skipped"]] == ["1.6.0", "1.5.0", "1.4.0"]
    assert upgrade["error"] == "no archive could be read (tried 1.6.0, 1.5.0, 1.4.0)"
    assert upgrade["checked"] is False
