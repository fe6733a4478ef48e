"""Sync order and sync policy of the generated App-of-Apps, over the full stack and every example.

Ordering: every custom resource in a raw-manifest Application comes in a strictly later wave than
the Helm Application whose chart brings its CRD; Ingresses come after Traefik; PVCs on Longhorn
after Longhorn. Policy: the root Application, the child Applications and the AppProjects follow
the issue's rules.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import Generated, yaml_documents

from homelab_scaffold.catalog.loader import load_catalog

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
