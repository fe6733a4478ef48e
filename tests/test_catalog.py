"""The component catalog: the built-in components as the issue describes them, and the checks
that reject a broken component.yaml with one line naming the file and the key."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import (
    REPO_URL,
    Generated,
    Run,
    commit_all,
    git,
    git_init,
    read_tree,
    write_config,
    yaml_documents,
)

from homelab_scaffold.catalog.loader import build_catalog, builtin_components_dir, load_catalog
from homelab_scaffold.catalog.model import Catalog, Provides
from homelab_scaffold.catalog.versions import is_version
from homelab_scaffold.errors import CatalogError
from homelab_scaffold.generate.answers import parse_answers
from homelab_scaffold.generate.pipeline import render_answers

Scaffold = Callable[..., Run]

# From the issue: the components and the Applications each renders.
ISSUE_COMPONENTS = {
    "argocd": ("argocd",),
    "metallb": ("metallb", "metallb-config"),
    "traefik": ("traefik",),
    "longhorn": ("longhorn", "longhorn-config", "longhorn-ui"),
    "cert-manager": ("cert-manager", "cert-manager-config"),
    "authelia": ("authelia",),
    "vaultwarden": ("vaultwarden",),
    "test-app": ("test-app",),
}
# Verified chart facts (docs: common brief).
CHARTS = {
    "argocd": ("https://argoproj.github.io/argo-helm", "argo-cd", "10.1.1"),
    "metallb": ("https://metallb.github.io/metallb", "metallb", "0.16.1"),
    "traefik": ("https://traefik.github.io/charts", "traefik", "41.3.0"),
    "longhorn": ("https://charts.longhorn.io", "longhorn", "1.12.1"),
    "cert-manager": ("https://charts.jetstack.io", "cert-manager", "v1.21.1"),
}
NEEDS = {
    "metallb-config": {"metallb"},
    "cert-manager-config": {"cert-manager"},
    "traefik": {"metallb-config"},
    "authelia": {"traefik", "cert-manager-config"},
    "vaultwarden": {"traefik", "cert-manager-config", "longhorn"},
    "test-app": {"traefik"},
}


def test_the_issue_components_are_in_the_catalog() -> None:
    catalog = load_catalog()
    for name, apps in ISSUE_COMPONENTS.items():
        assert catalog.get(name).app_names == apps


def test_charts_are_pinned_to_the_verified_versions() -> None:
    catalog = load_catalog()
    for name, (repo, chart_name, version) in CHARTS.items():
        chart = catalog.get(name).chart
        assert chart is not None
        assert (chart.repo, chart.name, chart.version) == (repo, chart_name, version)


def test_every_chart_is_pinned_and_has_a_version_option() -> None:
    for component in load_catalog().components.values():
        if component.chart is None:
            continue
        assert is_version(component.chart.version), component.name
        assert component.options["version"].default == component.chart.version


def test_needs_are_as_the_issue_says() -> None:
    apps = {a.name: a for c in load_catalog().components.values() for a in c.applications}
    for app, needs in NEEDS.items():
        assert set(apps[app].needs) == needs, app


def test_projects_and_kinds() -> None:
    catalog = load_catalog()
    for name in ("authelia", "vaultwarden", "test-app"):
        component = catalog.get(name)
        assert {a.project for a in component.applications} == {"apps"}, name
        assert {a.type for a in component.applications} == {"manifests"}, name
    for name in ("argocd", "metallb", "traefik", "longhorn", "cert-manager"):
        assert catalog.get(name).applications[0].type == "helm"
        assert {a.project for a in catalog.get(name).applications} == {"system"}
    config_apps = {a.name for c in catalog.components.values() for a in c.applications if a.config}
    assert {"metallb-config", "cert-manager-config"} <= config_apps


def test_unknown_component_names_the_known_ones() -> None:
    with pytest.raises(CatalogError) as error:
        load_catalog().get("nextcloud")
    assert "nextcloud" in error.value.message and "traefik" in error.value.message


def test_list_shows_charts_versions_and_dependencies(scaffold: Scaffold) -> None:
    run = scaffold("list")
    assert run.exit_code == 0, run.stderr
    for name, (repo, chart_name, version) in CHARTS.items():
        assert name in run.stdout
        assert f"{chart_name} {version} from {repo}" in run.stdout
    vaultwarden = run.stdout[run.stdout.index("vaultwarden:") :]
    assert "needs: cert-manager, longhorn, traefik" in vaultwarden


def test_list_options_shows_every_option(scaffold: Scaffold) -> None:
    run = scaffold("list", "--options")
    assert run.exit_code == 0, run.stderr
    for component in load_catalog().components.values():
        for option in component.options:
            assert f"components.{component.name}.{option}=" in run.stdout


# ---------------------------------------------------------------------------------------------
# A user catalog folder (catalog_paths): overrides and checks


def write_component(root: Path, name: str, data: Mapping[str, Any] | str) -> Path:
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    text = data if isinstance(data, str) else yaml.safe_dump(dict(data), sort_keys=False)
    (folder / "component.yaml").write_text(text)
    return folder / "component.yaml"


GOOD = {
    "description": "A test component",
    "applications": [{"name": "whoami", "type": "manifests", "needs": ["traefik"]}],
}


def test_a_user_component_joins_the_catalog(tmp_path: Path) -> None:
    write_component(tmp_path, "whoami", GOOD)
    catalog = load_catalog([tmp_path])
    assert catalog.get("whoami").app_names == ("whoami",)
    assert catalog.needed_components("whoami") == ("traefik",)
    assert catalog.get("whoami").namespace == "whoami"


def test_a_user_component_overrides_a_built_in_one(tmp_path: Path) -> None:
    write_component(
        tmp_path,
        "test-app",
        {
            "description": "My own smoke test",
            "project": "apps",
            "applications": [{"name": "test-app", "type": "manifests", "needs": ["traefik"]}],
        },
    )
    component = load_catalog([tmp_path]).get("test-app")
    assert component.description == "My own smoke test"
    assert component.root == tmp_path / "test-app"


BROKEN: dict[str, tuple[Mapping[str, Any] | str, str]] = {
    "unknown key": ({**GOOD, "colour": "blue"}, "colour"),
    "unknown application key": (
        {"applications": [{"name": "whoami", "type": "manifests", "wave": 3}]},
        "wave",
    ),
    "no applications": ({"description": "x"}, "applications"),
    "bad application type": (
        {"applications": [{"name": "whoami", "type": "kustomize"}]},
        "helm, manifests",
    ),
    "helm without chart": (
        {"applications": [{"name": "whoami", "type": "helm"}]},
        "chart",
    ),
    "chart version not a version": (
        {
            "chart": {"repo": "https://example.org/charts", "name": "x", "version": "latest"},
            "applications": [{"name": "whoami", "type": "helm"}],
        },
        "latest",
    ),
    "unknown option type": (
        {**GOOD, "options": {"size": {"type": "colour"}}},
        "colour",
    ),
    "default that fails its own type": (
        {**GOOD, "options": {"addresses": {"type": "ip_ranges", "default": ["10.0.0.9-10.0.0.1"]}}},
        "options.addresses.default",
    ),
    "bad project": (
        {"project": "default", "applications": [{"name": "whoami", "type": "manifests"}]},
        "system, apps",
    ),
    "bad namespace": ({**GOOD, "namespace": "Who_Am_I"}, "namespace"),
    "not a mapping": ("- just\n- a list\n", "mapping"),
}


@pytest.mark.parametrize("case", BROKEN, ids=list(BROKEN))
def test_a_broken_component_is_one_line_naming_file_and_key(tmp_path: Path, case: str) -> None:
    data, fragment = BROKEN[case]
    path = write_component(tmp_path, "whoami", data)
    with pytest.raises(CatalogError) as error:
        load_catalog([tmp_path])
    message = error.value.message
    assert str(path) in message
    assert fragment in message
    assert "\n" not in message


def test_malformed_component_yaml_is_one_line(tmp_path: Path) -> None:
    path = write_component(tmp_path, "whoami", "description: a: b: c\napplications: [\n")
    with pytest.raises(CatalogError) as error:
        load_catalog([tmp_path])
    assert str(path) in error.value.message
    assert "\n" not in error.value.message


def test_two_components_rendering_the_same_application_is_an_error(tmp_path: Path) -> None:
    write_component(tmp_path, "other", {"applications": [{"name": "traefik", "type": "manifests"}]})
    with pytest.raises(CatalogError, match="traefik") as error:
        load_catalog([tmp_path])
    assert "other" in error.value.message


def test_a_missing_catalog_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="does not exist"):
        load_catalog([tmp_path / "nope"])


def test_a_bad_user_catalog_fails_init_in_one_line(tmp_path: Path, scaffold: Scaffold) -> None:
    write_component(tmp_path / "homelab" / "catalog", "whoami", {**GOOD, "colour": "blue"})
    config = tmp_path / "answers.yaml"
    config.write_text("catalog_paths: [catalog]\ncomponents:\n  whoami: {}\n")
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    run = scaffold("init", tmp_path / "homelab", "--config", config, "--force")
    assert run.exit_code == 2
    assert len(run.stderr_lines) == 1 and "colour" in run.stderr
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


# ---------------------------------------------------------------------------------------------
# Facts declared in component.yaml (no Python table keyed by component or chart)

# Read from each chart at the pinned version (templates/crds or crds/ folders).
CRD_GROUPS = {
    "alloy": ("monitoring.grafana.com",),
    "argocd": ("argoproj.io",),
    "cert-manager": ("cert-manager.io", "acme.cert-manager.io"),
    "external-dns": ("externaldns.k8s.io",),
    "kube-prometheus-stack": ("monitoring.coreos.com",),
    "longhorn": ("longhorn.io",),
    "metallb": ("metallb.io",),
    "sealed-secrets": ("bitnami.com",),
    "traefik": ("traefik.io", "hub.traefik.io"),
}


def test_charts_declare_the_crd_groups_they_install() -> None:
    catalog = load_catalog()
    declared = {
        name: c.chart.crd_groups for name, c in catalog.components.items() if c.chart is not None
    }
    assert {n: g for n, g in declared.items() if g} == CRD_GROUPS


def test_what_components_provide() -> None:
    catalog = load_catalog()
    assert catalog.get("traefik").provides.ingress_class == "traefik"
    assert catalog.get("longhorn").provides.storage_classes == ("longhorn", "longhorn-static")
    assert catalog.get("cert-manager").provides.certificates is True
    assert catalog.get("external-dns").provides.dns is True
    assert catalog.get("metallb").provides == Provides()


def test_the_cloudflare_token_is_declared_by_cert_manager() -> None:
    (token,) = load_catalog().get("cert-manager").provided_secrets
    assert (token.name, token.env, token.alias) == (
        "cert-manager.cloudflare_api_token",
        "SCAFFOLD_CLOUDFLARE_API_TOKEN",
        "cloudflare_api_token",
    )
    assert token.when == (("issuer", "letsencrypt-cloudflare"),)
    assert "Zone - DNS - Edit" in token.description
    assert token.needed_by("cert-manager", {"issuer": "letsencrypt-cloudflare"})
    assert not token.needed_by("cert-manager", {"issuer": "selfsigned"})


def test_authelia_says_how_to_change_its_storage_encryption_key() -> None:
    secrets = {s.key: s for s in load_catalog().get("authelia").secrets}
    step = secrets["storage_encryption_key"].encrypts_data
    # Authelia 4.39's CLI: `authelia storage encryption change-key --new-encryption-key KEY`.
    assert "authelia storage encryption change-key --new-encryption-key" in step
    assert not any(s.encrypts_data for k, s in secrets.items() if k != "storage_encryption_key")


STATEFUL = {
    "authelia": [("PersistentVolumeClaim", "authelia-data")],
    "vaultwarden": [("PersistentVolumeClaim", "vaultwarden-data")],
}
# Claims a chart's StatefulSet creates from a volumeClaimTemplate: in no file scaffold renders.
STATEFULSET_CLAIMS = {
    "kube-prometheus-stack": [
        (
            "PersistentVolumeClaim",
            "prometheus-kube-prometheus-stack-prometheus-db-prometheus-kube-prometheus-stack-prometheus-0",
        )
    ],
    "loki": [("PersistentVolumeClaim", "storage-loki-0")],
}


def test_stateful_resources_are_declared_and_rendered(full_stack: Generated) -> None:
    catalog = load_catalog()
    declared = {
        name: [(r.kind, r.name) for r in c.stateful if not r.outside_git]
        for name, c in catalog.components.items()
        if any(not r.outside_git for r in c.stateful)
    }
    assert declared == STATEFUL
    outside = {
        name: [(r.kind, r.name) for r in c.stateful if r.outside_git]
        for name, c in catalog.components.items()
        if any(r.outside_git for r in c.stateful)
    }
    assert outside == STATEFULSET_CLAIMS
    rendered = {
        (doc["kind"], doc["metadata"]["name"]): doc["metadata"].get("annotations") or {}
        for text in full_stack.tree().values()
        if "kind:" in text
        for doc in yaml_documents(text)
        if isinstance(doc, dict) and "metadata" in doc
    }
    for resource in (r for resources in STATEFUL.values() for r in resources):
        # Argo CD keeps what holds data when it leaves Git or its Application is deleted.
        sync_options = rendered[resource].get("argocd.argoproj.io/sync-options", "")
        assert set(sync_options.split(",")) >= {"Prune=false", "Delete=false"}, resource


IMAGES = {
    "authelia": "kubernetes/apps/authelia/authelia.yml",
    "vaultwarden": "kubernetes/apps/vaultwarden/vaultwarden.yml",
    "test-app": "kubernetes/system/test-app/test-app.yml",
}


def _container_images(text: str) -> list[str]:
    return [
        container["image"]
        for doc in yaml_documents(text)
        if doc.get("kind") == "Deployment"
        for container in doc["spec"]["template"]["spec"]["containers"]
    ]


def test_images_come_from_component_yaml(full_stack: Generated) -> None:
    catalog = load_catalog()
    for name, path in IMAGES.items():
        expected = [image.reference for image in catalog.get(name).images.values()]
        assert _container_images(full_stack.tree()[path]) == expected, name


def _render(catalog: Catalog, components: Mapping[str, Any]) -> dict[str, str]:
    answers = parse_answers(
        {"repo_url": REPO_URL, "secrets": "manual", "components": dict(components)}, "test"
    )
    return render_answers(answers, catalog).files


def _replaced(catalog: Catalog, name: str, **changes: Any) -> Catalog:
    component = replace(catalog.get(name), **changes)
    return build_catalog([*catalog.components.values(), component])


def test_templates_render_the_image_of_the_data(tmp_path: Path) -> None:
    folder = Path(shutil.copytree(builtin_components_dir() / "test-app", tmp_path / "test-app"))
    data = yaml.safe_load((folder / "component.yaml").read_text())
    data["images"] = {"nginx": {"repository": "registry.example.org/web/nginx", "tag": "9.9.9"}}
    (folder / "component.yaml").write_text(yaml.safe_dump(data))
    catalog = load_catalog([tmp_path])

    default = _render(catalog, {"test-app": {}})
    pinned = _render(catalog, {"test-app": {"nginx_image_tag": "9.9.10"}})

    image = "registry.example.org/web/nginx"
    assert _container_images(default[IMAGES["test-app"]]) == [f"{image}:9.9.9"]
    assert _container_images(pinned[IMAGES["test-app"]]) == [f"{image}:9.9.10"]
    assert catalog.get("test-app").options["nginx_image_tag"].pin is True


@pytest.mark.parametrize(
    ("tag", "fragment"),
    [("latest", "not latest"), ("1.10", 'quote it: "1.10"'), ("a b", "image tag such as")],
)
def test_a_bad_image_tag_in_scaffold_yaml_is_one_line(
    tmp_path: Path, scaffold: Scaffold, tag: str, fragment: str
) -> None:
    config = tmp_path / "answers.yaml"
    config.write_text(
        f"repo_url: {REPO_URL}\ncomponents:\n  test-app:\n    nginx_image_tag: {tag}\n"
    )
    run = scaffold("init", tmp_path / "repo", "--config", config)
    assert run.exit_code == 2, run.stdout
    assert fragment in run.stderr and "nginx_image_tag" in run.stderr, run.stderr
    assert len(run.stderr_lines) == 1 and not (tmp_path / "repo").exists()


def test_an_option_named_like_an_image_tag_is_refused(tmp_path: Path) -> None:
    path = write_component(
        tmp_path,
        "whoami",
        {
            **GOOD,
            "options": {"web_image_tag": {"type": "string"}},
            "images": {"web": {"repository": "docker.io/traefik/whoami", "tag": "v1.10.3"}},
        },
    )
    with pytest.raises(CatalogError) as error:
        load_catalog([tmp_path])
    assert str(path) in error.value.message
    assert "options.web_image_tag" in error.value.message


def _sync_options(files: Mapping[str, str], app: str) -> list[str]:
    (doc,) = yaml_documents(files[f"kubernetes/system/argocd-config/{app}.yaml"])
    return list(doc["spec"]["syncPolicy"]["syncOptions"])


def test_sync_options_follow_the_ones_scaffold_writes_without_duplicates() -> None:
    catalog = load_catalog()
    extra = ("ServerSideApply=true", "CreateNamespace=true", "RespectIgnoreDifferences=true")
    app, *config_apps = catalog.get("longhorn").applications
    longhorn = replace(app, sync_options=extra)
    (argocd_app,) = catalog.get("argocd").applications
    argocd = replace(argocd_app, sync_options=("ServerSideApply=true", "PruneLast=true"))
    changed = _replaced(_replaced(catalog, "longhorn", applications=(longhorn, *config_apps)), "argocd",
                        applications=(argocd,))  # fmt: skip
    files = _render(changed, {"longhorn": {}})
    assert _sync_options(files, "longhorn") == [
        "CreateNamespace=true",
        "ServerSideApply=true",
        "RespectIgnoreDifferences=true",
    ]
    assert _sync_options(files, "argocd") == [
        "CreateNamespace=true",
        "ServerSideApply=true",
        "PruneLast=true",
    ]
    assert _sync_options(_render(catalog, {"longhorn": {}}), "longhorn") == ["CreateNamespace=true"]


def test_a_user_component_declares_its_sync_options(tmp_path: Path) -> None:
    write_component(
        tmp_path,
        "whoami",
        {**GOOD, "applications": [{**GOOD["applications"][0], "sync_options": ["Replace=true"]}]},
    )
    assert load_catalog([tmp_path]).get("whoami").applications[0].sync_options == ("Replace=true",)


def test_the_render_context_exposes_the_new_facts(tmp_path: Path) -> None:
    folder = write_component(
        tmp_path,
        "whoami",
        {
            **GOOD,
            "provides": {"dns": True},
            "stateful": [{"kind": "StatefulSet", "name": "db", "description": "the data"}],
            "images": {"web": {"repository": "docker.io/traefik/whoami", "tag": "v1.10.1"}},
        },
    ).parent
    (folder / "whoami").mkdir()
    (folder / "whoami" / "facts.yaml.j2").write_text(
        "# {{ component.images.web.reference }} {{ component.provides.dns }}"
        " {{ component.stateful[0].kind }}/{{ component.stateful[0].name }}"
        " {{ app.sync_options | list }}\n"
    )
    files = _render(load_catalog([tmp_path]), {"whoami": {}})
    assert files["kubernetes/system/whoami/facts.yaml"] == (
        "# docker.io/traefik/whoami:v1.10.1 True StatefulSet/db []\n"
    )


# ---------------------------------------------------------------------------------------------
# Provided secrets shared by two components (one alias, one value for the user)

TOKEN_ENV = "SCAFFOLD_CLOUDFLARE_API_TOKEN"
DNS_UPDATER = {
    "description": "Keeps DNS records at Cloudflare up to date",
    "project": "apps",
    "secrets": {
        "cloudflare_api_token": {
            "provided": True,
            "env": TOKEN_ENV,
            "alias": "cloudflare_api_token",
            "description": "a Cloudflare API token with Zone - DNS - Edit",
        }
    },
    "applications": [{"name": "dns-updater", "type": "manifests", "path": "apps/dns-updater"}],
}
DNS_UPDATER_SECRET = """\
apiVersion: v1
kind: Secret
metadata:
  name: dns-updater-token
  namespace: {{ component.namespace }}
type: Opaque
stringData:
  token: {{ secrets.cloudflare_api_token | to_yaml_value }}
"""


@pytest.fixture
def shared_token_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """A git repository holding a catalog folder with dns-updater, and answers for init."""
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    repo = git_init(tmp_path / "homelab")
    folder = write_component(repo / "catalog", "dns-updater", DNS_UPDATER).parent
    (folder / "dns-updater").mkdir()
    (folder / "dns-updater" / "configmap.yaml.j2").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: dns-updater\n"
        "  namespace: {{ app.namespace }}\ndata:\n  zone: {{ config.domain }}\n"
    )
    (folder / "_secrets").mkdir()
    (folder / "_secrets" / "token.yaml.j2").write_text(DNS_UPDATER_SECRET)
    config = write_config(
        tmp_path / "answers.yaml",
        {
            "repo_url": REPO_URL,
            "catalog_paths": ["catalog"],
            "components": {"cert-manager": {"issuer": "letsencrypt-cloudflare"}, "dns-updater": {}},
        },
    )
    return repo, config


def _values(root: Path) -> dict[str, dict[str, str]]:
    data: dict[str, dict[str, str]] = yaml.safe_load((root / "secrets/values.yaml").read_text())
    return data


def _token_of(values: Mapping[str, Mapping[str, str]]) -> tuple[str, str]:
    key = "cloudflare_api_token"
    return values["cert-manager"][key], values["dns-updater"][key]


def test_one_missing_shared_token_is_asked_for_once(
    scaffold: Scaffold, shared_token_repo: tuple[Path, Path]
) -> None:
    repo, config = shared_token_repo
    run = scaffold("init", repo, "--config", config, "--force")
    assert run.exit_code == 2
    (line,) = run.stderr_lines
    assert "cert-manager.cloudflare_api_token" in line
    assert "--set secrets.cloudflare_api_token" in line
    assert "dns-updater" not in line


@pytest.mark.parametrize("how", ["environment", "set"])
def test_a_shared_token_is_one_value_for_both_components(
    scaffold: Scaffold, shared_token_repo: tuple[Path, Path], how: str
) -> None:
    token = f"cf-token-{how}-0123456789"
    dest, config = shared_token_repo
    if how == "environment":
        run = scaffold("init", dest, "--config", config, "--force", env={TOKEN_ENV: token})
    else:
        run = scaffold(
            "init", dest, "--config", config, "--force",
            "--set", f"secrets.cloudflare_api_token={token}",
        )  # fmt: skip
    assert run.exit_code == 0, run.stderr
    assert _token_of(_values(dest)) == (token, token)
    assert (dest / "kubernetes/apps/dns-updater/dns-updater-token.sealedsecret.yaml").is_file()

    commit_all(dest)
    listed = scaffold("secret", "list", "-C", dest).stdout
    assert "cert-manager.cloudflare_api_token (provided by you)" in listed
    assert "dns-updater.cloudflare_api_token (provided by you)" in listed
    new = "cf-token-rotated-0123456789"
    run = scaffold("secret", "set", "cloudflare_api_token", "-C", dest, stdin=new + "\n")
    assert run.exit_code == 0, run.stderr
    assert _token_of(_values(dest)) == (new, new)


# ---------------------------------------------------------------------------------------------
# End to end: a new chart component is a folder, no Python (init, add, validate, remove)

WIDGETS = """\
description: Widget operator with one default Widget.
namespace: widgets
default: false
chart:
  repo: https://charts.example.org/widgets
  name: widget-operator
  version: 1.4.0
  known: [1.0.0, 1.4.0]
  crd_groups: [widgets.example.org]
options:
  size:
    type: int
    default: 3
    min: 1
    max: 9
    help: Widgets per node.
applications:
  - name: widget-operator
    type: helm
    sync_options: [ServerSideApply=true]
  - name: widget-operator-config
    type: manifests
    config: true
    needs: [widget-operator]
"""
WIDGET_TEMPLATE = """\
apiVersion: widgets.example.org/v1alpha1
kind: Widget
metadata:
  name: default
  namespace: {{ app.namespace }}
spec:
  size: {{ component.options.size }}
"""
WIDGET_SCHEMA = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"type": "string"},
        "kind": {"type": "string"},
        "metadata": {"type": "object"},
        "spec": {
            "type": "object",
            "required": ["size"],
            "properties": {"size": {"type": "integer", "minimum": 1}},
            "additionalProperties": False,
        },
    },
    "additionalProperties": False,
}
SHARED_SCHEMAS = Path(__file__).resolve().parents[1].parent / "shared" / "schemas"
WIDGET_APP = "kubernetes/system/argocd-config/widget-operator-config.yaml"


def _write_widgets_catalog(repo: Path) -> None:
    folder = repo / "catalog" / "widgets"
    (folder / "widget-operator").mkdir(parents=True)
    (folder / "widget-operator-config").mkdir()
    (folder / "component.yaml").write_text(WIDGETS)
    (folder / "widget-operator" / "values.yaml.j2").write_text(
        "# widget-operator {{ component.version }}\nreplicaCount: 1\n"
    )
    (folder / "widget-operator-config" / "widget.yaml.j2").write_text(WIDGET_TEMPLATE)


def documents(repo: Path, path: str) -> list[dict[str, Any]]:
    return yaml_documents((repo / path).read_text())


def _mentions_widgets(repo: Path) -> list[str]:
    """Files outside the catalog folder whose path or text mentions the widget component."""
    return [
        path
        for path, text in read_tree(repo, secrets=True).items()
        if not path.startswith("catalog/") and ("widget" in path or "widget" in text)
    ]


def _validate(scaffold: Scaffold, repo: Path, schemas: Path) -> tuple[int, list[dict[str, Any]]]:
    locations: list[object] = ["--schema-location", schemas]
    if SHARED_SCHEMAS.is_dir():
        locations += ["--schema-location", SHARED_SCHEMAS]
    run = scaffold("validate", "-C", repo, "--offline", "--output", "json", *locations)
    return run.exit_code, json.loads(run.stdout)["problems"]


def test_a_new_chart_component_lives_through_init_add_validate_remove(
    tmp_path: Path, scaffold: Scaffold
) -> None:
    repo = git_init(tmp_path / "homelab")
    _write_widgets_catalog(repo)
    commit_all(repo, "our widgets component")
    config = write_config(
        tmp_path / "answers.yaml",
        {
            "repo_url": REPO_URL,
            "secrets": "manual",
            "catalog_paths": ["catalog"],
            "components": {},
        },
    )
    schemas = tmp_path / "schemas"
    (schemas / "widgets.example.org").mkdir(parents=True)
    (schemas / "widgets.example.org" / "widget_v1alpha1.json").write_text(json.dumps(WIDGET_SCHEMA))

    run = scaffold("init", repo, "--config", config, "--force")
    assert run.exit_code == 0, run.stderr
    assert not _mentions_widgets(repo)
    commit_all(repo, "scaffold init")
    after_init = read_tree(repo)

    run = scaffold("add", "widgets", "--set", "size=5", "-C", repo)
    assert run.exit_code == 0, run.stderr
    (widget,) = documents(repo, "kubernetes/system/widget-operator-config/widget.yaml")
    assert widget["spec"] == {"size": 5}
    (operator,) = documents(repo, "kubernetes/system/argocd-config/widget-operator.yaml")
    assert operator["spec"]["sources"][0]["chart"] == "widget-operator"
    assert operator["spec"]["syncPolicy"]["syncOptions"] == [
        "CreateNamespace=true",
        "ServerSideApply=true",
    ]
    waves = {
        name: documents(repo, f"kubernetes/system/argocd-config/{name}.yaml")[0]["metadata"][
            "annotations"
        ]["argocd.argoproj.io/sync-wave"]
        for name in ("widget-operator", "widget-operator-config")
    }
    assert int(waves["widget-operator-config"]) > int(waves["widget-operator"])
    commit_all(repo, "scaffold add widgets")
    assert _validate(scaffold, repo, schemas) == (0, [])

    # The user moves the -config Application into the chart's wave: with the dry run skipped
    # and retries, Argo CD copes; without them the Widget would be applied before its CRD.
    app_file = repo / WIDGET_APP
    config_wave, chart_wave = waves["widget-operator-config"], waves["widget-operator"]
    same_wave = app_file.read_text().replace(
        f'sync-wave: "{config_wave}"', f'sync-wave: "{chart_wave}"'
    )
    app_file.write_text(same_wave)
    assert _validate(scaffold, repo, schemas) == (0, [])
    app_file.write_text(same_wave.replace("      - SkipDryRunOnMissingResource=true\n", ""))
    exit_code, problems = _validate(scaffold, repo, schemas)
    assert exit_code == 1
    (problem,) = problems
    assert problem["check"] == "ordering" and problem["file"] == WIDGET_APP
    assert "deploys Widget 'default'" in problem["message"]
    assert "'widget-operator' installs (chart widget-operator" in problem["message"]

    assert git(repo, "checkout", "--", ".").returncode == 0
    run = scaffold("remove", "widgets", "--yes", "-C", repo)
    assert run.exit_code == 0, run.stderr
    assert read_tree(repo) == after_init
    assert not _mentions_widgets(repo)


def test_rotating_a_key_that_encrypts_data_tells_the_migration_step(
    tmp_path: Path, scaffold: Scaffold
) -> None:
    repo = git_init(tmp_path / "homelab")
    config = write_config(
        tmp_path / "answers.yaml",
        {"repo_url": REPO_URL, "secrets": "manual", "components": {"authelia": {}}},
    )
    assert scaffold("init", repo, "--config", config).exit_code == 0
    commit_all(repo)
    before = _values(repo)["authelia"]

    refused = scaffold("secret", "rotate", "authelia.storage_encryption_key", "-C", repo)
    assert refused.exit_code == 2
    assert "change-key" in refused.stderr and "--force" in refused.stderr
    assert _values(repo)["authelia"] == before

    run = scaffold("secret", "rotate", "authelia.storage_encryption_key", "--force", "-C", repo)
    assert run.exit_code == 0, run.stderr
    after = _values(repo)["authelia"]
    assert after["storage_encryption_key"] != before["storage_encryption_key"]
    told = run.stdout + run.stderr
    assert "authelia.storage_encryption_key encrypts data the application keeps" in told
    assert "authelia storage encryption change-key --new-encryption-key" in told

    commit_all(repo)
    run = scaffold("secret", "rotate", "authelia.jwt_secret", "-C", repo)
    assert run.exit_code == 0, run.stderr
    assert "change-key" not in run.stdout + run.stderr


def _project_readme_rows() -> dict[str, dict[str, str]]:
    """The project README's component table: component -> column -> cell."""
    text = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line.startswith("| ")]
    header_at = next(i for i, line in enumerate(lines) if line.startswith("| component | group |"))
    header = [cell.strip() for cell in lines[header_at].strip("|").split("|")]
    rows: dict[str, dict[str, str]] = {}
    for line in lines[header_at + 1 :]:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if len(cells) != len(header):
            break
        rows[cells[0]] = dict(zip(header, cells, strict=True))
    return rows


def test_the_project_readmes_component_table_follows_the_catalog() -> None:
    """Pinned chart versions and images, and the secrets a user provides, as the catalog says."""
    catalog = load_catalog()
    rows = _project_readme_rows()
    assert set(rows) == set(catalog.components)
    for name, component in catalog.components.items():
        row = rows[name]
        pinned = row["chart or images (pinned)"]
        if component.chart is not None and not component.generic:
            assert f"`{component.chart.name}` {component.chart.version}" in pinned, name
        for image in component.images.values():
            assert f"`{image.repository}:{image.tag}`" in pinned, name
        provided = re.findall(r"`([a-z0-9_]+)`", row["secrets you provide"])
        expected = sorted({p.short_name for p in component.provided_secrets})
        assert sorted(set(provided)) == expected, name
