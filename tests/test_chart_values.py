"""``scaffold validate --charts`` and ``check_chart_upgrade``: a repository's Helm values against
real chart archives served by a Helm repository on 127.0.0.1.

The generated repository's charts are republished locally with their real default values and
schemas (``../shared/schemas/helm-values``), so the values scaffold writes are checked against
what the real charts declare; "newer" versions are built from them with one change each, the way
a chart release moves or drops a key.
"""

from __future__ import annotations

import copy
import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import Generated, commit_all, git_init
from helm_repo_server import (
    HelmRepo,
    chart_archive,
    closed_port_url,
    drip,
    serve_directory,
    subchart_folder,
)
from schema_check import HELM_VALUES, SHARED_SCHEMAS, shared_available

from homelab_scaffold.errors import NetworkError
from homelab_scaffold.inspect.chart_check import check_chart_upgrade
from homelab_scaffold.inspect.charts import ChartError
from homelab_scaffold.inspect.values_check import MOVED, REMOVED, SCHEMA, TYPE_CHANGED

pytestmark = pytest.mark.skipif(not shared_available(), reason="../shared/schemas is not present")

# Chart repository URL in the generated Applications -> (local folder, chart, pinned version).
UPSTREAM = {
    "https://argoproj.github.io/argo-helm": ("argo", "argo-cd", "10.1.1"),
    "https://metallb.github.io/metallb": ("metallb", "metallb", "0.16.1"),
    "https://traefik.github.io/charts": ("traefik", "traefik", "41.3.0"),
}
TRAEFIK_APP = "kubernetes/system/argocd-config/traefik.yaml"
TRAEFIK_VALUES = "kubernetes/system/traefik/values.yaml"
METALLB_VALUES = "kubernetes/system/metallb/values.yaml"


def real_chart(chart: str, version: str) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The real chart's default values and values.schema.json (None when it has none)."""
    defaults = yaml.safe_load((HELM_VALUES / f"{chart}-{version}.values.yaml").read_text())
    schema_file = HELM_VALUES / f"{chart}-{version}.schema.json"
    schema = json.loads(schema_file.read_text()) if schema_file.is_file() else None
    return defaults, schema


def traefik_with_logs_moved() -> tuple[dict[str, Any], dict[str, Any]]:
    """traefik 41.3.0's defaults and schema with ``log`` moved to ``logs.general``."""
    defaults, schema = real_chart("traefik", "41.3.0")
    assert schema is not None
    defaults = copy.deepcopy(defaults)
    schema = copy.deepcopy(schema)
    defaults["logs"] = {"general": defaults.pop("log")}
    log_schema = schema["properties"].pop("log")
    schema["properties"]["logs"] = {"type": "object", "additionalProperties": False,
                                    "properties": {"general": log_schema}}
    return defaults, schema


@dataclass
class Lab:
    """A generated repository whose charts come from a local Helm repository."""

    root: Path
    served: Path
    url: str
    repos: dict[str, HelmRepo]

    def edit(self, path: str, old: str, new: str) -> None:
        file = self.root / path
        text = file.read_text()
        assert old in text, f"{old!r} not in {path}"
        file.write_text(text.replace(old, new))

    def bump_traefik(self, version: str) -> None:
        """What Renovate's pull request does: the Application's targetRevision (and
        scaffold.yaml, which validate does not read for this)."""
        self.edit(TRAEFIK_APP, 'targetRevision: "41.3.0"', f'targetRevision: "{version}"')


@pytest.fixture
def lab(tmp_path: Path, rendered_examples: dict[str, Generated],
        monkeypatch: pytest.MonkeyPatch) -> Iterator[Lab]:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    root = tmp_path / "lab"
    shutil.copytree(rendered_examples["minimal"].root, root)
    served = tmp_path / "served"
    repos = {}
    for folder, chart, version in UPSTREAM.values():
        defaults, schema = real_chart(chart, version)
        repos[folder] = HelmRepo(served / folder)
        repos[folder].publish(chart, version, values=defaults, schema=schema)
    with serve_directory(served) as url:
        for path in root.rglob("*.yaml"):
            text = path.read_text()
            for upstream, (folder, _, _) in UPSTREAM.items():
                text = text.replace(upstream, f"{url}/{folder}")
            path.write_text(text)
        yield Lab(root, served, url, repos)


def validate(scaffold: Any, lab: Lab, *args: str) -> tuple[int, list[dict[str, Any]], list[str]]:
    """(exit code, chart-values problems, notes) of ``scaffold validate --charts``."""
    run = scaffold("validate", "-C", lab.root, "--schema-location", SHARED_SCHEMAS,
                   "--output", "json", "--charts", *args)
    report = json.loads(run.stdout)
    problems = [p for p in report["problems"] if p["check"] == "chart-values"]
    return run.exit_code, problems, report["notes"]


def test_generated_values_match_the_real_charts(scaffold, lab: Lab) -> None:
    code, problems, _ = validate(scaffold, lab)

    assert problems == []
    assert code == 0


def test_renovate_bump_to_a_chart_that_moved_a_key(scaffold, lab: Lab) -> None:
    defaults, schema = traefik_with_logs_moved()
    lab.repos["traefik"].publish("traefik", "42.0.0", values=defaults, schema=schema)
    lab.bump_traefik("42.0.0")

    code, problems, _ = validate(scaffold, lab)

    assert code == 1
    assert [(p["file"], p["message"]) for p in problems] == [(
        TRAEFIK_VALUES,
        "log.level: not a value of traefik 42.0.0 (not in its values.yaml or schema); "
        "it probably moved to logs.general.level",
    )]


def test_hand_edited_value_the_chart_rejects(scaffold, lab: Lab) -> None:
    lab.edit(METALLB_VALUES, "speaker:\n", "controller:\n  logLevel: verbose\nspeaker:\n")

    code, problems, _ = validate(scaffold, lab)

    assert code == 1
    (problem,) = problems
    assert problem["file"] == METALLB_VALUES
    assert problem["message"].startswith("controller.logLevel: 'verbose' is not one of")
    assert problem["message"].endswith("(values.schema.json of metallb 0.16.1)")


def test_inline_values_are_checked_on_the_application(scaffold, lab: Lab) -> None:
    lab.edit(TRAEFIK_APP, "        releaseName:",
             "        valuesObject:\n          ingresClass:\n            enabled: true\n"
             "        releaseName:")

    code, problems, _ = validate(scaffold, lab)

    assert code == 1
    assert [(p["file"], p["resource"], p["message"]) for p in problems] == [(
        TRAEFIK_APP, "Application/traefik",
        "ingresClass.enabled: not a value of traefik 41.3.0 (not in its values.yaml or "
        "schema); it probably moved to ingressClass.enabled",
    )]


def test_unreachable_repository_is_a_problem_naming_it(scaffold, lab: Lab) -> None:
    gone = closed_port_url()
    lab.edit("kubernetes/system/argocd-config/metallb.yaml", f"{lab.url}/metallb", gone)
    lab.edit("kubernetes/system/argocd-config/projects.yaml", f"{lab.url}/metallb", gone)

    code, problems, _ = validate(scaffold, lab)

    assert code == 1
    (problem,) = problems
    assert problem["file"] == "kubernetes/system/argocd-config/metallb.yaml"
    assert problem["message"].startswith(
        f"chart metallb 0.16.1 from {gone} could not be read to check the values: "
        f"cannot reach {gone}/index.yaml"
    )


def test_digest_mismatch_is_a_problem(scaffold, lab: Lab) -> None:
    defaults, schema = real_chart("metallb", "0.16.1")
    lab.repos["metallb"].publish("metallb", "0.16.1", values=defaults, schema=schema,
                                 digest="ab" * 32)

    code, problems, _ = validate(scaffold, lab)

    assert code == 1
    assert "does not match the digest " + "ab" * 32 in problems[0]["message"]


def test_offline_skips_the_check_and_says_so(scaffold, lab: Lab) -> None:
    lab.edit(METALLB_VALUES, "speaker:\n", "controller:\n  logLevel: verbose\nspeaker:\n")

    code, problems, notes = validate(scaffold, lab, "--offline")
    text = scaffold("validate", "-C", lab.root, "--schema-location", SHARED_SCHEMAS, "--charts",
                    "--offline")

    assert (code, problems) == (0, [])
    note = ("--offline: Helm values not checked against their charts (--charts needs the chart "
            "repositories)")
    assert note in notes
    assert f"Warning: {note}" in text.stderr


def test_second_run_needs_no_server(scaffold, lab: Lab) -> None:
    assert validate(scaffold, lab)[:2] == (0, [])
    shutil.rmtree(lab.served)  # every archive is gone from the repository: only the cache has them

    code, problems, _ = validate(scaffold, lab)

    assert (code, problems) == (0, [])


def test_without_the_flag_values_are_not_checked(scaffold, lab: Lab) -> None:
    lab.edit(METALLB_VALUES, "speaker:\n", "controller:\n  logLevel: verbose\nspeaker:\n")

    run = scaffold("validate", "-C", lab.root, "--schema-location", SHARED_SCHEMAS)

    assert run.exit_code == 0, run.stdout


# --- check_chart_upgrade: what `scaffold upgrade` calls before it writes -----------------------


@pytest.fixture
def demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A repository with chart demo 1.0.0, 1.1.0 (same values) and 2.0.0 (keys moved, removed,
    retyped, a stricter schema)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    charts = HelmRepo(tmp_path / "served" / "charts")
    v1 = {"replicas": 1, "log": {"level": "info"}, "service": {"type": "ClusterIP", "port": 80},
          "image": {"repository": "demo", "tag": "1.0"}, "podAnnotations": {}}
    schema1 = {"type": "object", "properties": {"replicas": {"type": "integer"}}}
    charts.publish("demo", "1.0.0", values=v1, schema=schema1)
    charts.publish("demo", "1.1.0", values=v1, schema=schema1)
    v2 = {"replicas": 1, "logs": {"general": {"level": "info"}}, "service": {"type": "ClusterIP"},
          "image": "demo:2.0", "podAnnotations": {}}
    schema2 = {"type": "object", "properties": {
        "replicas": {"type": "integer", "minimum": 1},
        "service": {"type": "object", "properties": {"type": {"enum": ["ClusterIP"]}}}}}
    charts.publish("demo", "2.0.0", values=v2, schema=schema2,
                   changes=[{"kind": "changed", "description": "log moved to logs.general"}])
    with serve_directory(tmp_path / "served") as url:
        yield f"{url}/charts"


USER_VALUES = {"replicas": 2, "log": {"level": "debug"}, "service": {"port": 8080},
               "image": {"tag": "1.0.1"}, "podAnnotations": {"team": "infra"}}


def test_clean_upgrade(demo: str) -> None:
    check = check_chart_upgrade({"values.yaml": USER_VALUES}, demo, "demo", "1.0.0", "1.1.0")

    assert check.checked and check.clean
    assert check.findings == ()


def test_upgrade_with_moved_removed_and_retyped_keys(demo: str) -> None:
    check = check_chart_upgrade({"kubernetes/system/demo/values.yaml": USER_VALUES}, demo,
                                "demo", "1.0.0", "2.0.0")

    assert not check.clean
    assert {(f.key, f.kind, f.suggestion) for f in check.findings} == {
        ("log.level", MOVED, "logs.general.level"),
        ("service.port", REMOVED, ""),
        ("image", TYPE_CHANGED, ""),
    }
    assert {f.file for f in check.findings} == {"kubernetes/system/demo/values.yaml"}
    assert [str(c) for c in check.changes] == ["changed: log moved to logs.general"]
    assert check.lines()[0].startswith("kubernetes/system/demo/values.yaml: ")


def test_upgrade_to_a_schema_the_values_break(demo: str) -> None:
    values = "replicas: 0\nservice:\n  type: NodePort\n"  # YAML text, as a rendered file is

    check = check_chart_upgrade({"values.yaml": values}, demo, "demo", "1.0.0", "2.0.0")

    assert sorted((f.key, f.kind) for f in check.findings) == [
        ("replicas", SCHEMA), ("service.type", SCHEMA),
    ]


def test_offline_upgrade_check_is_skipped_and_says_so(demo: str) -> None:
    check = check_chart_upgrade({"values.yaml": USER_VALUES}, demo, "demo", "1.0.0", "2.0.0",
                                offline=True)

    assert not check.checked and not check.clean
    assert check.notes == ("--offline: values not checked against demo 2.0.0",)


def test_oci_upgrade_is_not_checked() -> None:
    check = check_chart_upgrade({}, "oci://ghcr.io/example/charts", "demo", "1.0.0", "2.0.0")

    assert not check.checked
    assert "OCI registry" in check.notes[0]


def test_upgrade_to_a_version_the_repository_does_not_list(demo: str) -> None:
    with pytest.raises(ChartError, match="does not list demo 3.0.0"):
        check_chart_upgrade({}, demo, "demo", "1.0.0", "3.0.0")


def test_upgrade_check_with_the_repository_unreachable() -> None:
    with pytest.raises(NetworkError, match="cannot reach"):
        check_chart_upgrade({}, closed_port_url(), "demo", "1.0.0", "2.0.0", timeout=5)


def test_upgrade_check_when_the_current_version_is_gone(demo: str) -> None:
    check = check_chart_upgrade({"values.yaml": USER_VALUES}, demo, "demo", "0.1.0", "2.0.0")

    # Without the current chart, keys are checked against the target alone: unknown, not removed.
    assert {f.kind for f in check.findings} >= {MOVED}
    assert "could not be read" in check.notes[0]


def publish_stack(charts: HelmRepo, version: str, grafana: dict[str, Any]) -> None:
    """kube-prometheus-stack's shape: grafana bundled as a folder, a node exporter as a nested
    archive under an alias, and a dependency that is not bundled."""
    exporter = chart_archive("prometheus-node-exporter", "4.0.0", values={"hostNetwork": True},
                             schema={"type": "object",
                                     "properties": {"hostNetwork": {"type": "boolean"}}})
    charts.publish(
        "stack", version, values={"grafana": {"defaultDashboardsEnabled": True}},
        dependencies=[{"name": "grafana", "version": "8.x"},
                      {"name": "prometheus-node-exporter", "alias": "nodeExporter",
                       "version": "4.x"},
                      {"name": "crds", "version": "0.0.0"}],
        extra={**subchart_folder("stack", "grafana", "8.5.0", values=grafana),
               "stack/charts/prometheus-node-exporter-4.0.0.tgz": exporter},
    )


def test_values_under_subchart_keys_are_checked_against_the_bundled_subcharts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    charts = HelmRepo(tmp_path / "served" / "charts")
    publish_stack(charts, "1.0.0", {"adminPassword": "x", "persistence": {"enabled": False}})
    publish_stack(charts, "2.0.0", {"admin": {"password": "x"}, "persistence": {"enabled": False}})
    values = {
        "grafana": {"adminPassword": "secret", "defaultDashboardsEnabled": False,
                    "persistance": {"enabled": True}},
        "nodeExporter": {"hostNetwork": "yes"},
        "crds": {"enabled": False},
    }
    with serve_directory(tmp_path / "served") as url:
        check = check_chart_upgrade({"values.yaml": values}, f"{url}/charts", "stack", "1.0.0",
                                    "2.0.0")

    assert sorted((f.key, f.kind, f.suggestion) for f in check.findings) == [
        ("grafana.adminPassword", REMOVED, ""),
        ("nodeExporter.hostNetwork", SCHEMA, ""),
    ]
    assert "values under `crds` not checked: subchart crds is not bundled in stack 2.0.0" in (
        check.notes
    )
    removed = next(f for f in check.findings if f.kind == REMOVED)
    assert removed.message == (
        "grafana.adminPassword: grafana 8.5.0 (subchart of stack 1.0.0) has this value, "
        "grafana 8.5.0 (subchart of stack 2.0.0) no longer does"
    )


def test_helm_values_files_of_a_component_skip_conflicted_ones() -> None:
    from homelab_scaffold.catalog.loader import load_catalog
    from homelab_scaffold.inspect.chart_check import helm_values_files

    traefik = load_catalog().get("traefik")
    path = "kubernetes/system/traefik/values.yaml"
    files = {path: "log:\n  level: INFO\n", "kubernetes/other.yaml": "a: 1\n"}

    assert helm_values_files(traefik, files) == ({path: "log:\n  level: INFO\n"}, [])
    conflicted = {path: "log:\n<<<<<<< yours\n  level: DEBUG\n=======\n  level: INFO\n>>>>>>>\n"}
    assert helm_values_files(traefik, conflicted) == (
        {}, [f"{path} has conflict markers: its values were not checked"]
    )


def test_upgrade_refusal_is_one_line_exit_2(demo: str) -> None:
    from homelab_scaffold.inspect.chart_check import upgrade_refused

    check = check_chart_upgrade({"values.yaml": USER_VALUES}, demo, "demo", "1.0.0", "2.0.0")
    error = upgrade_refused(check)

    assert error.exit_code == 2
    assert error.message == (
        "3 value findings against demo 2.0.0 (listed above); nothing was written. Fix the "
        "values and run the upgrade again, or pass --ignore-findings to upgrade anyway"
    )


# --- scaffold upgrade runs the check before it writes --------------------------------------------


def tree_of(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


DEMO_VALUES = "kubernetes/system/demo/values.yaml"
DEMO_APP = "kubernetes/system/argocd-config/demo.yaml"


@dataclass
class DemoLab:
    """A generated repository with a helm-app instance ``demo`` from a local Helm repository,
    whose values the user edited (``log.level: debug``)."""

    root: Path
    url: str

    def upgrade(self, scaffold: Any, version: str, *args: str) -> Any:
        return scaffold("upgrade", "demo", "--version", version, *args, "-C", self.root)

    def pinned(self) -> str:
        app = yaml.safe_load((self.root / DEMO_APP).read_text())
        return str(app["spec"]["sources"][0]["targetRevision"])


def demo_config(repo_url: str) -> str:
    return (
        "repo_url: https://github.com/alice/lab.git\ntarget_revision: main\n"
        "domain: lab.example.com\nemail: admin@example.com\nsecrets: manual\n"
        "components:\n  argocd: {}\n  demo:\n    from: helm-app\n"
        f"    repo: {repo_url}\n    chart: demo\n    version: 1.0.0\n"
    )


def init_demo(scaffold: Any, tmp_path: Path, repo_url: str) -> Path:
    config = tmp_path / "config.yaml"
    config.write_text(demo_config(repo_url))
    root = tmp_path / "lab"
    run = scaffold("init", root, "--config", config)
    assert run.exit_code == 0, run.stderr
    values = root / DEMO_VALUES
    values.write_text(values.read_text().replace("{}\n", "log:\n  level: debug\n"))
    return root


@pytest.fixture
def demo_lab(scaffold: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[DemoLab]:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    charts = HelmRepo(tmp_path / "served" / "charts")
    v1 = {"replicas": 1, "log": {"level": "info"}}
    charts.publish("demo", "1.0.0", values=v1)
    charts.publish("demo", "1.1.0", values=v1)
    charts.publish("demo", "2.0.0", values={"replicas": 1, "logs": {"general": {"level": "info"}}})
    quiet = {"type": "object", "properties": {"log": {"type": "object", "properties": {
        "level": {"enum": ["info", "warn", "error"]}}}}}
    charts.publish("demo", "3.0.0", values=v1, schema=quiet)
    with serve_directory(tmp_path / "served") as url:
        yield DemoLab(init_demo(scaffold, tmp_path, f"{url}/charts"), url)


MOVED_LINE = (
    f"Warning: {DEMO_VALUES}: log.level: demo 1.0.0 has this value, demo 2.0.0 no longer does; "
    "it probably moved to logs.general.level"
)
REFUSAL = (
    "Error: 1 value finding against demo 2.0.0 (listed above); nothing was written. Fix the "
    "values and run the upgrade again, or pass --ignore-findings to upgrade anyway"
)


def test_upgrade_with_a_finding_exits_2_and_writes_nothing(scaffold, demo_lab: DemoLab) -> None:
    before = tree_of(demo_lab.root)

    run = demo_lab.upgrade(scaffold, "2.0.0")

    assert run.exit_code == 2, run.stdout + run.stderr
    assert MOVED_LINE in run.stderr.splitlines()
    assert run.stderr.splitlines()[-1] == REFUSAL
    assert tree_of(demo_lab.root) == before


def test_upgrade_dry_run_shows_the_same_report_and_the_diff(scaffold, demo_lab: DemoLab) -> None:
    before = tree_of(demo_lab.root)

    run = demo_lab.upgrade(scaffold, "2.0.0", "--dry-run")

    assert run.exit_code == 2
    assert MOVED_LINE in run.stderr.splitlines()
    assert run.stderr.splitlines()[-1] == REFUSAL
    assert '+      targetRevision: "2.0.0"' in run.stdout
    assert tree_of(demo_lab.root) == before


@pytest.mark.parametrize("dry_run", [("--dry-run",), ()], ids=["dry-run", "real run"])
def test_a_refused_upgrade_still_prints_its_json_document(
    scaffold, demo_lab: DemoLab, dry_run: tuple[str, ...]
) -> None:
    before = tree_of(demo_lab.root)

    run = demo_lab.upgrade(scaffold, "2.0.0", *dry_run, "--output", "json")

    assert run.exit_code == 2, run.stdout + run.stderr
    data = json.loads(run.stdout)
    assert data["refused"] is True
    assert (data["dry_run"], data["written"]) == (bool(dry_run), False)
    assert DEMO_APP in data["files"]["update"]
    assert data["findings"] == [{
        "key": "log.level", "kind": MOVED,
        "message": MOVED_LINE.removeprefix(f"Warning: {DEMO_VALUES}: "),
        "suggestion": "logs.general.level", "file": DEMO_VALUES,
    }]
    assert run.stderr.splitlines()[-1] == REFUSAL
    assert tree_of(demo_lab.root) == before


def test_upgrade_with_force_writes_and_still_lists_the_findings(scaffold, demo_lab) -> None:
    run = demo_lab.upgrade(scaffold, "2.0.0", "--force")

    assert run.exit_code == 0, run.stderr
    assert MOVED_LINE in run.stderr.splitlines()
    assert demo_lab.pinned() == "2.0.0"


def test_ignore_findings_writes_and_still_lists_the_findings(scaffold, demo_lab) -> None:
    run = demo_lab.upgrade(scaffold, "2.0.0", "--ignore-findings")

    assert run.exit_code == 0, run.stderr
    assert MOVED_LINE in run.stderr.splitlines()
    assert demo_lab.pinned() == "2.0.0"


def test_ignore_findings_does_not_override_the_uncommitted_changes_guard(
    scaffold: Any, counted_lab: tuple[DemoLab, list[str]]
) -> None:
    lab, _ = counted_lab
    app = lab.root / DEMO_APP
    app.write_text(app.read_text() + "# reviewing\n")
    before = tree_of(lab.root)

    run = lab.upgrade(scaffold, "2.0.0", "--ignore-findings")

    assert run.exit_code == 2
    assert "has uncommitted changes" in run.stderr
    assert tree_of(lab.root) == before


def test_upgrade_offline_skips_the_check_and_says_so(scaffold, demo_lab: DemoLab) -> None:
    run = demo_lab.upgrade(scaffold, "2.0.0", "--offline")

    assert run.exit_code == 0, run.stderr
    assert "--offline: values not checked against demo 2.0.0" in run.stdout
    assert demo_lab.pinned() == "2.0.0"


def test_clean_upgrade_writes_and_says_the_values_were_checked(scaffold, demo_lab) -> None:
    run = demo_lab.upgrade(scaffold, "1.1.0")

    assert run.exit_code == 0, run.stderr
    assert "Values checked against demo 1.1.0: nothing found." in run.stdout
    assert demo_lab.pinned() == "1.1.0"
    assert "log:\n  level: debug\n" in (demo_lab.root / DEMO_VALUES).read_text()


def test_a_kept_hand_edit_the_new_chart_rejects_stops_the_upgrade(scaffold, demo_lab) -> None:
    before = tree_of(demo_lab.root)

    run = demo_lab.upgrade(scaffold, "3.0.0")

    assert run.exit_code == 2, run.stdout + run.stderr
    findings = [line for line in run.stderr.splitlines() if line.startswith("Warning: kube")]
    assert findings == [
        f"Warning: {DEMO_VALUES}: log.level: 'debug' is not one of ['info', 'warn', 'error'] "
        "(values.schema.json of demo 3.0.0)"
    ]
    assert tree_of(demo_lab.root) == before


def test_upgrade_with_the_repository_unreachable_is_one_line(scaffold, tmp_path: Path,
                                                             monkeypatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    gone = closed_port_url()
    root = init_demo(scaffold, tmp_path, gone)
    before = tree_of(root)

    run = scaffold("upgrade", "demo", "--version", "2.0.0", "-C", root)

    assert run.exit_code == 2
    (line,) = run.stderr_lines
    assert line.startswith(f"Error: cannot reach {gone}/index.yaml: ")
    assert line.endswith("; pass --offline to upgrade without checking the values")
    assert tree_of(root) == before


@pytest.fixture
def slow_lab(scaffold: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """demo from a Helm repository whose index.yaml drips a byte every 0.2 s (8 s in all)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    (tmp_path / "served").mkdir()
    routes = {"/slow/index.yaml": drip(b"apiVersion: v1\nentries: {}\n" * 2, 0.2)}
    with serve_directory(tmp_path / "served", routes) as url:
        yield init_demo(scaffold, tmp_path, f"{url}/slow")


def test_upgrade_takes_a_download_timeout(scaffold, slow_lab: Path) -> None:
    run = scaffold("upgrade", "demo", "--version", "2.0.0", "--timeout", "1", "-C", slow_lab)

    assert run.exit_code == 2
    (line,) = run.stderr_lines
    assert "/slow/index.yaml: timed out after 1 s" in line


def test_validate_charts_takes_a_download_timeout(scaffold, slow_lab: Path) -> None:
    run = scaffold("validate", "-C", slow_lab, "--schema-location", SHARED_SCHEMAS, "--output",
                   "json", "--charts", "--timeout", "1")

    assert run.exit_code == 1
    messages = [p["message"] for p in json.loads(run.stdout)["problems"]
                if p["check"] == "chart-values" and p["file"] == DEMO_APP]
    assert len(messages) == 1, run.stdout
    assert "/slow/index.yaml: timed out after 1 s" in messages[0]


# --- cheap refusals come before any download ------------------------------------------------


@pytest.fixture
def counted_lab(
    scaffold: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[DemoLab, list[str]]]:
    """``demo_lab`` committed to git, with every request to its Helm repository recorded."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    charts = HelmRepo(tmp_path / "served" / "charts")
    for version in ("1.0.0", "2.0.0"):
        charts.publish("demo", version, values={"replicas": 1})
    requested: list[str] = []
    with serve_directory(tmp_path / "served", requested=requested) as url:
        root = init_demo(scaffold, tmp_path, f"{url}/charts")
        git_init(root)
        commit_all(root, "lab")
        requested.clear()
        yield DemoLab(root, url), requested


def hold_lock(root: Path) -> None:
    """.scaffold/lock naming this (running) process: another writer is busy."""
    from homelab_scaffold.repo.lock import LOCK_FILE, Owner

    (root / LOCK_FILE).write_text(Owner.me().text())


@pytest.mark.parametrize(
    ("case", "args", "exit_code", "says"),
    [
        ("dirty tree", ("demo", "--version", "2.0.0"), 2, "has uncommitted changes"),
        ("unknown component", ("nope", "--version", "2.0.0"), 2, "'nope'"),
        ("bad version", ("demo", "--version", "2.0.0.1"), 2, "--version '2.0.0.1'"),
        ("locked", ("demo", "--version", "2.0.0"), 75, "lock"),
    ],
)
def test_cheap_refusals_come_before_any_download(
    scaffold: Any,
    counted_lab: tuple[DemoLab, list[str]],
    case: str,
    args: tuple[str, ...],
    exit_code: int,
    says: str,
) -> None:
    lab, requested = counted_lab
    if case == "dirty tree":
        app = lab.root / DEMO_APP
        app.write_text(app.read_text() + "# reviewing\n")
    if case == "locked":
        hold_lock(lab.root)
    before = tree_of(lab.root)

    run = scaffold("upgrade", *args, "-C", lab.root)

    assert run.exit_code == exit_code, run.stdout + run.stderr
    (line,) = run.stderr_lines
    assert says in line
    assert requested == []
    assert tree_of(lab.root) == before


def test_a_clean_tree_is_checked_against_the_new_chart(
    scaffold: Any, counted_lab: tuple[DemoLab, list[str]]
) -> None:
    """The counterpart: the same upgrade on a clean tree does read the repository."""
    lab, requested = counted_lab
    run = lab.upgrade(scaffold, "2.0.0")
    assert run.exit_code == 0, run.stderr
    assert "/charts/index.yaml" in requested
    assert lab.pinned() == "2.0.0"
