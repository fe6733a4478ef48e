"""The component catalog: the built-in components as the issue describes them, and the checks
that reject a broken component.yaml with one line naming the file and the key."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import Run

from homelab_scaffold.catalog.loader import load_catalog
from homelab_scaffold.errors import CatalogError
from homelab_scaffold.catalog.versions import is_version

Scaffold = Callable[..., Run]

# From the issue: the components and the Applications each renders.
ISSUE_COMPONENTS = {
    "argocd": ("argocd",),
    "metallb": ("metallb", "metallb-config"),
    "traefik": ("traefik",),
    "longhorn": ("longhorn", "longhorn-config"),
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
