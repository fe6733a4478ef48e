"""Sync order and sync policy of the generated App-of-Apps, over the full stack and every example.

Ordering: every custom resource in a raw-manifest Application comes in a strictly later wave than
the Helm Application whose chart brings its CRD; Ingresses come after Traefik; PVCs on Longhorn
after Longhorn. Policy: the root Application, the child Applications and the AppProjects follow
the issue's rules.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import Generated, yaml_documents

from homelab_scaffold.catalog.loader import load_catalog
from homelab_scaffold.inspect.schemas import BUILTIN_GROUPS

ARGOCD_CONFIG = "kubernetes/system/argocd-config"
WAVE = "argocd.argoproj.io/sync-wave"
FINALIZER = "resources-finalizer.argocd.argoproj.io"
# API groups served by Kubernetes itself (no CRD needed).
CORE_GROUPS = {
    "",
    "apps",
    "batch",
    "autoscaling",
    "policy",
    "networking.k8s.io",
    "rbac.authorization.k8s.io",
    "storage.k8s.io",
    "scheduling.k8s.io",
    "coordination.k8s.io",
    "discovery.k8s.io",
    "node.k8s.io",
    "admissionregistration.k8s.io",
    "apiextensions.k8s.io",
    "certificates.k8s.io",
}
# API group (or its parent domain) -> the Helm Application whose chart installs the CRD.
CRD_OWNERS = {
    "metallb.io": "metallb",
    "cert-manager.io": "cert-manager",
    "traefik.io": "traefik",
    "longhorn.io": "longhorn",
    "bitnami.com": "sealed-secrets",
    "argoproj.io": "argocd",
    "externaldns.k8s.io": "external-dns",
    "monitoring.coreos.com": "kube-prometheus-stack",
    "upgrade.cattle.io": "system-upgrade-controller",
}


@dataclass(frozen=True)
class App:
    """A child Application as written in kubernetes/system/argocd-config/<name>.yaml."""

    name: str
    wave: int
    manifest: dict[str, Any]
    text: str

    @property
    def spec(self) -> dict[str, Any]:
        return dict(self.manifest["spec"])

    @property
    def is_helm(self) -> bool:
        return "sources" in self.spec

    @property
    def sync_options(self) -> list[str]:
        return list(self.spec["syncPolicy"].get("syncOptions", []))


@dataclass(frozen=True)
class Resource:
    """One document of a raw-manifest Application."""

    app: App
    path: str
    doc: dict[str, Any]

    @property
    def group(self) -> str:
        api_version: str = self.doc["apiVersion"]
        return api_version.rpartition("/")[0]

    @property
    def where(self) -> str:
        return f"{self.doc['kind']}/{self.doc['metadata']['name']} in {self.path}"


def child_apps(root: Path) -> dict[str, App]:
    apps = {}
    for path in sorted((root / ARGOCD_CONFIG).glob("*.yaml")):
        if path.name in {"root-app.yaml", "projects.yaml"}:
            continue
        text = path.read_text()
        (doc,) = yaml_documents(text)
        assert doc["kind"] == "Application", path
        name = doc["metadata"]["name"]
        assert path.name == f"{name}.yaml"
        apps[name] = App(name, int(doc["metadata"]["annotations"][WAVE]), doc, text)
    return apps


def resources(root: Path, apps: Mapping[str, App]) -> Iterator[Resource]:
    for app in apps.values():
        if app.is_helm:
            continue
        folder = root / app.spec["source"]["path"]
        for path in sorted(folder.rglob("*")):
            if path.is_file() and path.suffix in {".yaml", ".yml"}:
                relative = path.relative_to(root).as_posix()
                for doc in yaml_documents(path.read_text()):
                    yield Resource(app, relative, doc)


def crd_owner(group: str) -> str | None:
    for suffix, owner in CRD_OWNERS.items():
        if group == suffix or group.endswith("." + suffix):
            return owner
    return None


def must_come_after(resource: Resource, owner: str, apps: Mapping[str, App]) -> str | None:
    """A problem when ``resource`` does not sync strictly after Application ``owner``."""
    if owner not in apps:
        return f"{resource.where} needs {owner}, which is not selected"
    if resource.app.wave <= apps[owner].wave:
        return (
            f"{resource.where}: wave {resource.app.wave} is not after {owner}'s "
            f"wave {apps[owner].wave}"
        )
    return None


def ordering_problems(root: Path) -> tuple[list[str], set[str]]:
    """Every ordering problem of the tree, and the kinds it looked at (to prove it looked)."""
    apps = child_apps(root)
    longhorn_default = "longhorn" in apps
    problems, kinds = [], set()
    for resource in resources(root, apps):
        kind = resource.doc["kind"]
        kinds.add(kind)
        owners = []
        if resource.group not in CORE_GROUPS:
            owner = crd_owner(resource.group)
            if owner is None:
                problems.append(f"{resource.where}: API group {resource.group!r} has no known CRD")
                continue
            owners.append(owner)
        if kind == "Ingress":
            owners.append("traefik")
        if kind == "PersistentVolumeClaim":
            storage_class = resource.doc["spec"].get("storageClassName")
            if storage_class == "longhorn" or (storage_class is None and longhorn_default):
                owners.append("longhorn")
        problems += [p for o in owners if (p := must_come_after(resource, o, apps))]
    return problems, kinds


def test_ordering_of_every_stack(all_stacks: Mapping[str, Generated]) -> None:
    for name, generated in all_stacks.items():
        problems, _ = ordering_problems(generated.root)
        assert problems == [], name


def test_the_ordering_check_sees_the_custom_resources(full_stack: Generated) -> None:
    _, kinds = ordering_problems(full_stack.root)
    assert {"IPAddressPool", "L2Advertisement", "ClusterIssuer", "Middleware"} <= kinds
    assert {"Ingress", "PersistentVolumeClaim"} <= kinds


def test_the_ordering_check_catches_a_resource_in_the_wrong_wave(
    full_stack: Generated, tmp_path: Path
) -> None:
    """Move metallb-config into MetalLB's wave in a copy: the check must object."""
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(full_stack.root, copy)
    app_file = copy / ARGOCD_CONFIG / "metallb-config.yaml"
    app_file.write_text(re.sub(rf'{WAVE}: "\d+"', f'{WAVE}: "1"', app_file.read_text()))
    problems, _ = ordering_problems(copy)
    assert any("IPAddressPool" in p and "metallb" in p for p in problems)


def test_argocd_ui_ingress_does_not_hold_wave_zero(all_stacks: Mapping[str, Generated]) -> None:
    """Argo CD's own Ingress syncs in wave 0, before Traefik can publish its address, so its
    health must be ignored or the argocd Application would block every later wave."""
    for name, generated in all_stacks.items():
        values_file = generated.root / "kubernetes/system/argocd/values.yaml"
        values = yaml_documents(values_file.read_text())
        ingress = (values[0].get("server") or {}).get("ingress") or {}
        if not ingress.get("enabled"):
            continue
        apps = child_apps(generated.root)
        assert "traefik" in apps, name
        annotations = ingress.get("annotations") or {}
        assert annotations.get("argocd.argoproj.io/ignore-healthcheck") == "true", name


# ---------------------------------------------------------------------------------------------
# The root Application


def test_root_app_syncs_the_children_but_not_itself(all_stacks: Mapping[str, Generated]) -> None:
    for name, generated in all_stacks.items():
        (root,) = yaml_documents((generated.root / ARGOCD_CONFIG / "root-app.yaml").read_text())
        assert root["kind"] == "Application", name
        assert root["spec"]["project"] == "default", name
        source = root["spec"]["source"]
        assert source["path"] == ARGOCD_CONFIG, name
        assert source["repoURL"] == generated.answers()["repo_url"], name
        assert "root-app.yaml" in source["directory"]["exclude"], name
        assert root["spec"]["syncPolicy"]["automated"] == {"prune": True, "selfHeal": True}


# ---------------------------------------------------------------------------------------------
# Child Applications


def test_every_child_application_follows_the_rules(all_stacks: Mapping[str, Generated]) -> None:
    for name, generated in all_stacks.items():
        for app in child_apps(generated.root).values():
            where = f"{name}: {app.name}"
            metadata = app.manifest["metadata"]
            assert metadata["namespace"] == "argocd", where
            if app.name == "argocd":
                assert FINALIZER not in metadata.get("finalizers", []), where
                assert "ServerSideApply=true" in app.sync_options, where
            else:
                assert metadata["finalizers"] == [FINALIZER], where
            assert "CreateNamespace=true" in app.sync_options, where
            automated = app.spec["syncPolicy"]["automated"]
            assert automated["prune"] is True and automated["selfHeal"] is True, where


def test_config_applications_skip_the_dry_run_and_retry(
    all_stacks: Mapping[str, Generated],
) -> None:
    config_apps = {
        a.name for c in load_catalog().components.values() for a in c.applications if a.config
    }
    seen = 0
    for name, generated in all_stacks.items():
        for app in child_apps(generated.root).values():
            if not (app.name.endswith("-config") or app.name in config_apps):
                assert "SkipDryRunOnMissingResource=true" not in app.sync_options
                continue
            seen += 1
            where = f"{name}: {app.name}"
            assert "SkipDryRunOnMissingResource=true" in app.sync_options, where
            retry = app.spec["syncPolicy"]["retry"]
            assert retry["limit"] > 1, where
            backoff = retry["backoff"]
            assert backoff["duration"] and backoff["factor"] >= 2 and backoff["maxDuration"]
    assert seen >= 2


def test_sync_waves_are_quoted_strings_in_the_text(all_stacks: Mapping[str, Generated]) -> None:
    for name, generated in all_stacks.items():
        for path in sorted((generated.root / ARGOCD_CONFIG).glob("*.yaml")):
            lines = [line for line in path.read_text().splitlines() if WAVE in line]
            for line in lines:
                assert re.fullmatch(rf'\s*{re.escape(WAVE)}: "-?\d+"', line), (name, line)


def test_helm_applications_take_values_from_this_repo(all_stacks: Mapping[str, Generated]) -> None:
    for generated in all_stacks.values():
        repo_url = generated.answers()["repo_url"]
        for app in child_apps(generated.root).values():
            if not app.is_helm:
                assert (generated.root / app.spec["source"]["path"]).is_dir(), app.name
                assert app.spec["source"]["repoURL"] == repo_url
                continue
            chart, values = app.spec["sources"]
            assert values == {
                "repoURL": repo_url,
                "targetRevision": generated.answers()["target_revision"],
                "ref": "values",
            }
            (value_file,) = chart["helm"]["valueFiles"]
            assert value_file == f"$values/kubernetes/system/{app.name}/values.yaml"
            assert (generated.root / value_file.removeprefix("$values/")).is_file()
            assert chart["targetRevision"] and chart["targetRevision"] != "latest"


# ---------------------------------------------------------------------------------------------
# AppProjects


def projects(root: Path) -> dict[str, dict[str, Any]]:
    docs = yaml_documents((root / ARGOCD_CONFIG / "projects.yaml").read_text())
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == "AppProject"}


def test_system_project_sources_are_this_repo_and_the_charts_in_use(
    all_stacks: Mapping[str, Generated],
) -> None:
    for name, generated in all_stacks.items():
        repo_url = generated.answers()["repo_url"]
        apps = child_apps(generated.root).values()
        charts = {a.spec["sources"][0]["repoURL"] for a in apps if a.is_helm}
        system = projects(generated.root)["system"]["spec"]
        assert system["sourceRepos"][0] == repo_url, name
        assert sorted(system["sourceRepos"]) == sorted({repo_url, *charts}), name
        assert len(system["sourceRepos"]) == len(set(system["sourceRepos"])), name
        namespaces = {
            a.spec["destination"]["namespace"] for a in apps if a.spec["project"] == "system"
        }
        assert {d["namespace"] for d in system["destinations"]} == namespaces, name


def test_apps_project_allows_only_its_own_namespaces(all_stacks: Mapping[str, Generated]) -> None:
    for name, generated in all_stacks.items():
        apps = [a for a in child_apps(generated.root).values() if a.spec["project"] == "apps"]
        namespaces = {a.spec["destination"]["namespace"] for a in apps}
        project = projects(generated.root)["apps"]["spec"]
        assert project["sourceRepos"] == [generated.answers()["repo_url"]], name
        assert {d["namespace"] for d in project["destinations"]} == namespaces, name
        whitelist = project["clusterResourceWhitelist"]
        assert all(entry["group"] == "" and entry["kind"] == "Namespace" for entry in whitelist)
        assert sorted(entry["name"] for entry in whitelist) == sorted(namespaces), name


def test_every_application_uses_a_generated_project(all_stacks: Mapping[str, Generated]) -> None:
    for name, generated in all_stacks.items():
        known = set(projects(generated.root))
        assert known == {"system", "apps"}, name
        for app in child_apps(generated.root).values():
            assert app.spec["project"] in known, (name, app.name)


@pytest.mark.parametrize("component", ["authelia", "vaultwarden", "test-app"])
def test_workloads_belong_to_the_apps_project(full_stack: Generated, component: str) -> None:
    assert child_apps(full_stack.root)[component].spec["project"] == "apps"


# ---------------------------------------------------------------------------------------------
# scaffold validate: what charts install comes from data (catalog, known-charts.yaml)

GITOPS = "https://git.example.com/lab/gitops.git"


def _application(name: str, wave: int, source: Mapping[str, Any], namespace: str) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Application",
            "metadata": {
                "name": name,
                "namespace": "argocd",
                "annotations": {WAVE: str(wave)},
            },
            "spec": {
                "project": "default",
                "source": dict(source),
                "destination": {"server": "https://kubernetes.default.svc", "namespace": namespace},
                "syncPolicy": {"automated": {"prune": True, "selfHeal": True}},
            },
        },
        sort_keys=False,
    )


def small_repo(
    root: Path,
    chart: tuple[str, str, str],
    documents: list[dict[str, Any]],
    *,
    chart_wave: int = 1,
    wave: int = 1,
) -> Path:
    """A root Application, one chart Application (repo, name, version) and one directory
    Application deploying ``documents``, in the given waves."""
    (root / "apps").mkdir(parents=True)
    (root / "manifests" / "workload").mkdir(parents=True)
    root_app = yaml.safe_load(_application("root", 0, {"repoURL": GITOPS, "targetRevision": "main",
                                                        "path": "apps"}, "argocd"))  # fmt: skip
    del root_app["metadata"]["annotations"]
    (root / "root.yaml").write_text(yaml.safe_dump(root_app, sort_keys=False))
    repo, name, version = chart
    chart_source = {"repoURL": repo, "chart": name, "targetRevision": version}
    (root / "apps" / "provider.yaml").write_text(
        _application("provider", chart_wave, chart_source, "provider")
    )
    workload = {"repoURL": GITOPS, "targetRevision": "main", "path": "manifests/workload"}
    (root / "apps" / "workload.yaml").write_text(
        _application("workload", wave, workload, "workload")
    )
    (root / "manifests" / "workload" / "resources.yaml").write_text(
        yaml.safe_dump_all(documents, sort_keys=False)
    )
    return root


def validate_json(scaffold: Any, root: Path, *extra: object) -> tuple[int, list[dict[str, Any]]]:
    run = scaffold("validate", "-C", root, "--output", "json", "--offline", *extra)
    return run.exit_code, json.loads(run.stdout)["problems"]


def ordering_messages(scaffold: Any, root: Path) -> list[str]:
    _, problems = validate_json(scaffold, root)
    return [str(p["message"]) for p in problems if p["check"] == "ordering"]


def resource(api_version: str, kind: str, name: str, spec: Any = None) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "apiVersion": api_version,
        "kind": kind,
        "metadata": {"name": name, "namespace": "workload"},
    }
    if spec is not None:
        doc["spec"] = spec
    return doc


VELERO = ("https://vmware-tanzu.github.io/helm-charts", "velero", "8.0.0")
SCHEDULE = resource("velero.io/v1", "Schedule", "daily", {"schedule": "0 3 * * *"})


@pytest.mark.parametrize("wave", [1, 2])
def test_a_known_chart_orders_its_custom_resources(
    tmp_path: Path, scaffold: Any, wave: int
) -> None:
    root = small_repo(tmp_path / "repo", VELERO, [SCHEDULE], wave=wave)
    messages = ordering_messages(scaffold, root)
    if wave == 1:
        (message,) = messages
        assert "Schedule 'daily'" in message
        assert "'provider' installs (chart velero, wave 1)" in message
    else:
        assert messages == []


def test_a_crd_group_ending_in_k8s_io_is_ordered_like_any_other(
    tmp_path: Path, scaffold: Any
) -> None:
    """OpenEBS installs the CSI snapshot CRDs (snapshot.storage.k8s.io): not a built-in group."""
    openebs = ("https://openebs.github.io/openebs", "openebs", "4.1.3")
    snapshot_class = resource(
        "snapshot.storage.k8s.io/v1", "VolumeSnapshotClass", "zfs", None
    )
    snapshot_class["driver"] = "zfs.csi.openebs.io"
    snapshot_class["deletionPolicy"] = "Delete"
    root = small_repo(tmp_path / "repo", openebs, [snapshot_class])
    (message,) = ordering_messages(scaffold, root)
    assert "VolumeSnapshotClass 'zfs'" in message and "chart openebs" in message


def test_a_crd_in_the_repository_orders_its_k8s_io_custom_resources(
    tmp_path: Path, scaffold: Any
) -> None:
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "httproutes.gateway.networking.k8s.io"},
        "spec": {
            "group": "gateway.networking.k8s.io",
            "names": {"kind": "HTTPRoute", "plural": "httproutes"},
            "scope": "Namespaced",
            "versions": [{"name": "v1", "served": True, "storage": True,
                          "schema": {"openAPIV3Schema": {"type": "object"}}}],
        },
    }  # fmt: skip
    route = resource("gateway.networking.k8s.io/v1", "HTTPRoute", "web", {"hostnames": ["a.b"]})
    root = small_repo(tmp_path / "repo", VELERO, [route])
    (root / "manifests" / "crds").mkdir()
    (root / "manifests" / "crds" / "gateway.yaml").write_text(yaml.safe_dump(crd))
    crds = {"repoURL": GITOPS, "targetRevision": "main", "path": "manifests/crds"}
    (root / "apps" / "crds.yaml").write_text(_application("gateway-crds", 1, crds, "default"))
    (message,) = ordering_messages(scaffold, root)
    assert "HTTPRoute 'web'" in message and "CRD httproutes.gateway.networking.k8s.io" in message


def test_known_ingress_controllers_and_storage_charts(tmp_path: Path, scaffold: Any) -> None:
    nginx = ("https://kubernetes.github.io/ingress-nginx", "ingress-nginx", "4.11.3")
    ingress = resource("networking.k8s.io/v1", "Ingress", "web", {
        "ingressClassName": "nginx",
        "rules": [{"host": "web.lab.example.com"}],
    })  # fmt: skip
    (message,) = ordering_messages(scaffold, small_repo(tmp_path / "nginx", nginx, [ingress]))
    assert "Ingress 'web'" in message and "ingress controller Application 'provider'" in message
    ingress["spec"]["ingressClassName"] = "traefik"
    assert ordering_messages(scaffold, small_repo(tmp_path / "other", nginx, [ingress])) == []

    nfs = (
        "https://kubernetes-sigs.github.io/nfs-subdir-external-provisioner",
        "nfs-subdir-external-provisioner",
        "4.0.18",
    )
    claim = resource("v1", "PersistentVolumeClaim", "media", {
        "storageClassName": "nfs-client",
        "accessModes": ["ReadWriteMany"],
        "resources": {"requests": {"storage": "1Gi"}},
    })  # fmt: skip
    (message,) = ordering_messages(scaffold, small_repo(tmp_path / "nfs", nfs, [claim]))
    assert "StorageClass 'nfs-client'" in message


WIDGETS_COMPONENT = {
    "description": "Widget operator",
    "chart": {
        "repo": "https://charts.example.org",
        "name": "widget-operator",
        "version": "1.0.0",
        "crd_groups": ["widgets.example.org"],
    },
    "applications": [{"name": "widget-operator", "type": "helm"}],
}
WIDGET_CHART = ("https://charts.example.org", "widget-operator", "1.0.0")
WIDGET = resource("widgets.example.org/v1alpha1", "Widget", "blue", {"size": 3})


def test_a_repository_catalog_teaches_validate_its_charts(tmp_path: Path, scaffold: Any) -> None:
    root = small_repo(tmp_path / "repo", WIDGET_CHART, [WIDGET])
    assert ordering_messages(scaffold, root) == []  # the chart is unknown: nothing to order
    folder = root / "catalog" / "widgets"
    folder.mkdir(parents=True)
    (folder / "component.yaml").write_text(yaml.safe_dump(WIDGETS_COMPONENT))
    (root / "scaffold.yaml").write_text(f"repo_url: {GITOPS}\ncatalog_paths: [./catalog]\n")
    (message,) = ordering_messages(scaffold, root)
    assert "Widget 'blue'" in message and "chart widget-operator" in message


def test_a_broken_repository_catalog_is_a_problem_and_built_ins_still_count(
    tmp_path: Path, scaffold: Any
) -> None:
    root = small_repo(tmp_path / "repo", VELERO, [SCHEDULE])
    folder = root / "catalog" / "widgets"
    folder.mkdir(parents=True)
    (folder / "component.yaml").write_text(yaml.safe_dump({**WIDGETS_COMPONENT, "colour": "x"}))
    (root / "scaffold.yaml").write_text(f"repo_url: {GITOPS}\ncatalog_paths: [./catalog]\n")
    exit_code, problems = validate_json(scaffold, root)
    assert exit_code == 1
    (catalog,) = [p for p in problems if p["check"] == "catalog"]
    assert catalog["file"] == "scaffold.yaml"
    assert "component.yaml: at colour: unknown key 'colour'" in str(catalog["message"])
    assert [p for p in problems if p["check"] == "ordering"]


# ---------------------------------------------------------------------------------------------
# Built-in API groups: exactly Kubernetes' own


def kubernetes_validate_groups(minimum: tuple[int, int] = (1, 33)) -> set[str]:
    """Every API group in kubernetes-validate's schemas of Kubernetes ``minimum`` and later."""
    import kubernetes_validate

    base = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema"
    groups: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for gvk in node.get("x-kubernetes-group-version-kind") or ():
                groups.add(gvk["group"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for folder in sorted(base.glob("v*-local")):
        major, minor = (int(n) for n in folder.name[1:].split(".")[:2])
        if (major, minor) >= minimum:
            walk(json.loads((folder / "_definitions.json").read_text()))
    return groups


def test_builtin_groups_are_the_groups_kubernetes_serves() -> None:
    groups = kubernetes_validate_groups()
    assert {"", "apps", "batch", "networking.k8s.io", "storage.k8s.io"} <= groups
    assert groups == BUILTIN_GROUPS
    for crd_group in ("gateway.networking.k8s.io", "snapshot.storage.k8s.io", "externaldns.k8s.io"):
        assert crd_group not in BUILTIN_GROUPS


def test_a_k8s_io_crd_group_is_looked_up_like_any_custom_resource(
    tmp_path: Path, scaffold: Any
) -> None:
    route = resource("gateway.networking.k8s.io/v1", "HTTPRoute", "web", {"hostnames": ["a.b"]})
    unknown = resource("apps/v1", "Widget", "odd")
    root = small_repo(tmp_path / "repo", VELERO, [route, unknown], wave=2)
    run = scaffold("validate", "-C", root, "--offline")
    assert "HTTPRoute (gateway.networking.k8s.io/v1); not schema-checked" in run.stderr
    assert "Kubernetes has no kind Widget in apiVersion apps/v1" in run.stdout
    assert "HTTPRoute" not in run.stdout

    schemas = tmp_path / "schemas" / "gateway.networking.k8s.io"
    schemas.mkdir(parents=True)
    (schemas / "httproute_v1.json").write_text(json.dumps({
        "type": "object",
        "properties": {"spec": {"type": "object", "properties": {
            "hostnames": {"type": "array", "items": {"type": "string"}}
        }, "additionalProperties": False}},
    }))  # fmt: skip
    route["spec"] = {"hostname": "a.b"}
    root = small_repo(tmp_path / "again", VELERO, [route], wave=2)
    _, problems = validate_json(scaffold, root, "--schema-location", tmp_path / "schemas")
    (problem,) = [p for p in problems if p["check"] == "schema"]
    assert "unknown field spec.hostname" in str(problem["message"])
