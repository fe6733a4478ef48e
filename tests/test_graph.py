"""Selection closure and sync waves: computed from the dependency graph, never hand-numbered."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Set
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import REPO_URL, Generated, Run, generate, snapshot, write_config, yaml_documents

from homelab_scaffold.generate.answers import parse_answers
from homelab_scaffold.catalog.loader import load_catalog
from homelab_scaffold.catalog.model import AppSpec, Catalog
from homelab_scaffold.errors import CatalogError, ConfigError
from homelab_scaffold.generate.plan import build_plan, compute_waves, resolve_selection

Scaffold = Callable[..., Run]
WAVE = "argocd.argoproj.io/sync-wave"


def spec(name: str, needs: tuple[str, ...] = (), after: tuple[str, ...] = ()) -> AppSpec:
    return AppSpec(name, "manifests", name, "system", f"system/{name}", needs, after)


def specs(*apps: AppSpec) -> dict[str, AppSpec]:
    return {app.name: app for app in apps}


# ---------------------------------------------------------------------------------------------
# compute_waves


def test_argocd_is_wave_zero_and_everything_else_comes_after_it() -> None:
    waves = compute_waves(specs(spec("argocd"), spec("a"), spec("b", needs=("a",))))
    assert waves == {"argocd": 0, "a": 1, "b": 2}


def test_a_wave_is_one_more_than_the_highest_need() -> None:
    waves = compute_waves(
        specs(
            spec("argocd"),
            spec("a"),
            spec("b", needs=("a",)),
            spec("c", needs=("b",)),
            spec("d", needs=("a", "c")),
        )
    )
    assert waves["d"] == 4


def test_after_counts_only_when_the_other_application_is_selected() -> None:
    with_it = compute_waves(specs(spec("argocd"), spec("a"), spec("b", after=("a",))))
    without = compute_waves(specs(spec("argocd"), spec("b", after=("a",))))
    assert with_it["b"] == 2
    assert without["b"] == 1


@pytest.mark.parametrize(
    ("apps", "cycle"),
    [
        ((spec("a", needs=("b",)), spec("b", needs=("a",))), "a -> b -> a"),
        ((spec("a", needs=("a",)),), "a -> a"),
        (
            (spec("a", needs=("b",)), spec("b", needs=("c",)), spec("c", after=("a",))),
            "a -> b -> c -> a",
        ),
    ],
    ids=["two", "self", "through after"],
)
def test_a_cycle_is_an_error_that_names_it(apps: tuple[AppSpec, ...], cycle: str) -> None:
    with pytest.raises(ConfigError, match="cycle") as error:
        compute_waves(specs(spec("argocd"), *apps))
    assert cycle in error.value.message


# ---------------------------------------------------------------------------------------------
# Waves in the generated Application manifests


def application_waves(root: Path) -> dict[str, str]:
    """Application name -> its sync-wave annotation, read from kubernetes/system/argocd-config."""
    waves = {}
    for path in sorted((root / "kubernetes/system/argocd-config").glob("*.yaml")):
        for doc in yaml_documents(path.read_text()):
            if doc["kind"] == "Application" and path.name != "root-app.yaml":
                waves[doc["metadata"]["name"]] = doc["metadata"]["annotations"][WAVE]
    return waves


def sealed_secret_users(root: Path, catalog: Catalog, selected: set[str]) -> set[str]:
    """Components with a SealedSecret in one of their Application folders."""
    users = set()
    for name in selected:
        for app in catalog.components[name].applications:
            folder = root / "kubernetes" / app.path
            if any(
                doc.get("kind") == "SealedSecret"
                for path in sorted(folder.rglob("*.y*ml"))
                for doc in yaml_documents(path.read_text())
            ):
                users.add(name)
    return users


def expected_waves(
    catalog: Catalog, selected: set[str], sealed_users: Set[str] = frozenset()
) -> dict[str, int]:
    """The waves the rule gives, worked out here independently of graph.py: needs, selected
    afters, and (when Secrets are sealed) the sealed-secrets controller for every Application
    of a component whose Secrets are sealed."""
    sealing = catalog.components["sealed-secrets"].app_names if sealed_users else ()
    apps = {
        a.name: replace(a, needs=(*a.needs, *sealing)) if n in sealed_users else a
        for n in selected
        for a in catalog.components[n].applications
    }
    waves: dict[str, int] = {"argocd": 0}
    while len(waves) < len(apps):
        for name, app in sorted(apps.items()):
            waits = [n for n in (*app.needs, *app.after) if n in apps]
            if name not in waves and all(n in waves for n in waits):
                waves[name] = 1 + max([0, *(waves[n] for n in waits)])
    return waves


def test_waves_in_the_files_are_strings_that_follow_the_graph(
    all_stacks: Mapping[str, Generated],
) -> None:
    catalog = load_catalog()
    for name, generated in all_stacks.items():
        waves = application_waves(generated.root)
        assert all(isinstance(w, str) for w in waves.values()), name
        assert waves["argocd"] == "0", name
        selected = set(generated.answers()["components"])
        users = sealed_secret_users(generated.root, catalog, selected)
        expected = {app: str(w) for app, w in expected_waves(catalog, selected, users).items()}
        assert waves == expected, name


def test_full_stack_waves(full_stack: Generated) -> None:
    waves = application_waves(full_stack.root)
    assert waves["argocd"] == "0"
    assert waves["metallb"] == "1"
    assert waves["metallb-config"] == "2"
    assert waves["traefik"] == "3"
    assert int(waves["cert-manager-config"]) > int(waves["cert-manager"])
    for app in ("authelia", "vaultwarden", "test-app"):
        assert int(waves[app]) > int(waves["traefik"])
        assert int(waves[app]) > int(waves["cert-manager-config"])
    assert int(waves["vaultwarden"]) > int(waves["longhorn"])


def test_changing_the_selection_recomputes_the_waves(full_stack: Generated, tmp_path: Path) -> None:
    full = application_waves(full_stack.root)

    def waves_of(name: str, components: dict[str, Any]) -> dict[str, str]:
        config = write_config(
            tmp_path / f"{name}.yaml", {"repo_url": REPO_URL, "components": components}
        )
        return application_waves(generate(tmp_path / name, "--config", config).root)

    # Without Traefik in front of it (it waits for Traefik only when selected) it moves up.
    assert waves_of("alone", {"cert-manager": {}}) == {
        "argocd": "0",
        "cert-manager": "1",
        "cert-manager-config": "2",
    }
    assert full["cert-manager-config"] == "4"
    # test-app waits for cert-manager-config only when cert-manager is selected.
    assert waves_of("no-certs", {"test-app": {}})["test-app"] == "4"
    assert full["test-app"] == "5"


def test_projects_sync_before_everything(all_stacks: Mapping[str, Generated]) -> None:
    for name, generated in all_stacks.items():
        path = generated.root / "kubernetes/system/argocd-config/projects.yaml"
        waves = [d["metadata"]["annotations"][WAVE] for d in yaml_documents(path.read_text())]
        assert waves == ["-1", "-1"], name


# ---------------------------------------------------------------------------------------------
# Selection


def test_selection_closes_over_needs_and_says_who_needed_what() -> None:
    selection = resolve_selection(load_catalog(), ["vaultwarden"])
    assert set(selection) == {
        "argocd",
        "vaultwarden",
        "traefik",
        "metallb",
        "cert-manager",
        "longhorn",
    }
    assert selection["vaultwarden"] == ()
    assert selection["argocd"] == ()
    assert selection["traefik"] == ("vaultwarden",)
    assert selection["metallb"] == ("traefik",)


def test_soft_ordering_does_not_select() -> None:
    # test-app waits for cert-manager-config only when it is there.
    assert set(resolve_selection(load_catalog(), ["test-app"])) == {
        "argocd",
        "test-app",
        "traefik",
        "metallb",
    }


def test_a_requested_component_is_not_reported_as_added() -> None:
    selection = resolve_selection(load_catalog(), ["traefik", "metallb"])
    assert selection["metallb"] == ()


# ---------------------------------------------------------------------------------------------
# User catalogs (catalog_paths)


def component(root: Path, name: str, data: Mapping[str, Any], files: Mapping[str, str]) -> None:
    """Write a component folder: component.yaml plus template files."""
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "component.yaml").write_text(yaml.safe_dump(dict(data), sort_keys=False))
    for path, text in files.items():
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_text(text)


CONFIGMAP = (
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ app.name }}\n"
    "  namespace: {{ app.namespace }}\ndata:\n  wave: {{ app.wave | to_yaml_value }}\n"
)


def manifests_component(root: Path, name: str, needs: list[str], **extra: Any) -> None:
    app: dict[str, Any] = {"name": name, "type": "manifests", "needs": needs}
    component(
        root,
        name,
        {"description": f"{name} test component", "applications": [app], **extra},
        {f"{name}/configmap.yaml.j2": CONFIGMAP},
    )


def test_user_catalog_component_gets_its_wave_from_its_needs(tmp_path: Path) -> None:
    # catalog_paths are relative to the repository root: the catalog lives inside the repo.
    catalog_dir = tmp_path / "homelab" / "catalog"
    manifests_component(catalog_dir, "whoami", ["traefik"])
    config = write_config(
        tmp_path / "answers.yaml",
        {"repo_url": REPO_URL, "catalog_paths": ["catalog"], "components": {"whoami": {}}},
    )
    generated = generate(tmp_path / "homelab", "--config", config, "--force")
    waves = application_waves(generated.root)
    assert waves["whoami"] == str(int(waves["traefik"]) + 1)
    (configmap,) = yaml_documents(
        (generated.root / "kubernetes/system/whoami/configmap.yaml").read_text()
    )
    assert configmap["data"]["wave"] == waves["whoami"]


def test_a_cycle_in_a_user_catalog_is_an_error(tmp_path: Path, scaffold: Scaffold) -> None:
    catalog_dir = tmp_path / "homelab" / "catalog"
    manifests_component(catalog_dir, "alpha", ["beta"])
    manifests_component(catalog_dir, "beta", ["alpha"])
    with pytest.raises(ConfigError, match="cycle"):
        build_plan(
            parse_answers({"components": {"alpha": {}}}, "test"), load_catalog([catalog_dir])
        )
    config = write_config(
        tmp_path / "answers.yaml", {"catalog_paths": ["catalog"], "components": {"alpha": {}}}
    )
    before = snapshot(tmp_path)
    run = scaffold("init", tmp_path / "homelab", "--config", config, "--force")
    assert run.exit_code == 2
    assert len(run.stderr_lines) == 1
    assert "cycle" in run.stderr and "alpha -> beta -> alpha" in run.stderr
    assert snapshot(tmp_path) == before


def test_a_need_of_an_unknown_application_names_the_file(tmp_path: Path) -> None:
    manifests_component(tmp_path, "alpha", ["nowhere"])
    with pytest.raises(CatalogError, match="nowhere") as error:
        load_catalog([tmp_path])
    assert str(tmp_path / "alpha" / "component.yaml") in error.value.message
    assert "needs" in error.value.message


def test_conflicting_components_cannot_be_selected_together(tmp_path: Path) -> None:
    manifests_component(tmp_path, "nginx-ingress", [], conflicts=["traefik"])
    catalog = load_catalog([tmp_path])
    answers = parse_answers({"components": {"nginx-ingress": {}, "traefik": {}}}, "test")
    with pytest.raises(ConfigError, match="cannot be used together") as error:
        build_plan(answers, catalog)
    assert "nginx-ingress" in error.value.message and "traefik" in error.value.message
