"""Single sign-on: with authelia selected, the web UIs without a login of their own sit behind its
forward-auth Middleware, and Authelia's access rules admit their hosts.

Which UI (and which of its paths) is guarded is catalog data (``ui.sso`` in component.yaml); the
per-component option ``sso`` turns it off. Longhorn's UI, which has no login at all, gets an
Ingress only behind the login or when the user turns ``sso`` off.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from schema_check import iter_yaml_documents, shared_available, validate_document

from homelab_scaffold.catalog.loader import load_catalog
from homelab_scaffold.errors import CatalogError
from homelab_scaffold.generate.pipeline import Rendered, render_config

DOMAIN = "lab.example.com"
MIDDLEWARE_ANNOTATION = "traefik.ingress.kubernetes.io/router.middlewares"
FORWARD_AUTH = "authelia-forward-auth@kubernetescrd"
AUTHELIA_SCHEMA = (
    Path(__file__).resolve().parents[1].parent / "shared/schemas/authelia/configuration_v4.39.json"
)
# Every UI without a login of its own (or, Grafana, one to keep inside), and where its Ingress is.
GUARDED = {
    "test-app": "kubernetes/system/test-app/ingress.yml",
    "homepage": "kubernetes/apps/homepage/ingress.yml",
    "longhorn": "kubernetes/system/longhorn-ui/ingress.yaml",
    "vaultwarden": "kubernetes/apps/vaultwarden/ingress-admin.yml",
}
GRAFANA_VALUES = "kubernetes/system/kube-prometheus-stack/values.yaml"
AUTHELIA_CONFIGURATION = "kubernetes/apps/authelia/configuration.yml"
EVERYTHING = {name: {} for name in (*GUARDED, "kube-prometheus-stack", "authelia")}


def render(components: Mapping[str, Any], domain: str = DOMAIN) -> Rendered:
    return render_config({
        "repo_url": "https://github.com/alice/homelab.git",
        "domain": domain,
        "email": "admin@example.com",
        "secrets": "manual",
        "components": dict(components),
    })


def ingresses(rendered: Rendered) -> dict[str, dict[str, Any]]:
    """Every Ingress manifest of the render, by name."""
    return {
        doc["metadata"]["name"]: doc
        for path, text in rendered.files.items()
        if path.startswith("kubernetes/") and path.endswith((".yml", ".yaml"))
        for doc in iter_yaml_documents(text)
        if doc.get("kind") == "Ingress"
    }


def middleware_of(ingress: Mapping[str, Any]) -> str | None:
    return (ingress["metadata"].get("annotations") or {}).get(MIDDLEWARE_ANNOTATION)


def grafana_ingress(rendered: Rendered) -> dict[str, Any]:
    ingress: dict[str, Any] = yaml.safe_load(rendered.files[GRAFANA_VALUES])["grafana"]["ingress"]
    return ingress


def authelia_configuration(rendered: Rendered) -> dict[str, Any]:
    (config_map,) = iter_yaml_documents(rendered.files[AUTHELIA_CONFIGURATION])
    configuration: dict[str, Any] = yaml.safe_load(config_map["data"]["configuration.yml"])
    return configuration


def access_rules(rendered: Rendered) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = authelia_configuration(rendered)["access_control"]["rules"]
    return rules


@pytest.fixture(scope="module")
def everything() -> Rendered:
    return render(EVERYTHING)


@pytest.fixture(scope="module")
def without_authelia() -> Rendered:
    return render({name: {} for name in (*GUARDED, "kube-prometheus-stack")})


# --- with authelia ------------------------------------------------------------------------------


def test_every_ui_without_a_login_names_authelias_middleware(everything: Rendered) -> None:
    found = ingresses(everything)
    (middleware,) = [
        doc
        for path, text in everything.files.items()
        if path.startswith("kubernetes/apps/authelia/")
        for doc in iter_yaml_documents(text)
        if doc["kind"] == "Middleware"
    ]
    reference = f"{middleware['metadata']['namespace']}-{middleware['metadata']['name']}"

    guarded = ("test-app", "homepage", "longhorn-ui", "vaultwarden-admin")
    assert reference == FORWARD_AUTH.removesuffix("@kubernetescrd")
    assert {name: middleware_of(found[name]) for name in guarded} == dict.fromkeys(
        guarded, FORWARD_AUTH
    )
    assert grafana_ingress(everything)["annotations"][MIDDLEWARE_ANNOTATION] == FORWARD_AUTH
    assert middleware["spec"]["forwardAuth"]["address"].endswith("/api/authz/forward-auth")


def test_uis_with_their_own_login_are_left_alone(everything: Rendered) -> None:
    found = ingresses(everything)

    assert middleware_of(found["authelia"]) is None  # the portal itself
    assert middleware_of(found["vaultwarden"]) is None  # the vault and its API: own login


def test_only_vaultwardens_admin_page_goes_through_the_login(everything: Rendered) -> None:
    found = ingresses(everything)
    vault, admin = found["vaultwarden"], found["vaultwarden-admin"]
    (vault_rule,), (admin_rule,) = vault["spec"]["rules"], admin["spec"]["rules"]
    paths = [(p["path"], p["pathType"]) for p in admin_rule["http"]["paths"]]

    assert admin_rule["host"] == vault_rule["host"] == f"vault.{DOMAIN}"
    assert paths == [("/admin", "Prefix")]
    assert [p["path"] for p in vault_rule["http"]["paths"]] == ["/"]
    # Same backend; the vault Ingress's certificate, never a second cert-manager Certificate.
    backend = admin_rule["http"]["paths"][0]["backend"]
    assert backend == vault_rule["http"]["paths"][0]["backend"]
    assert "cert-manager.io/cluster-issuer" not in admin["metadata"]["annotations"]
    assert admin["spec"]["tls"] == vault["spec"]["tls"]


def test_authelia_admits_the_admins_group_to_each_guarded_host(everything: Rendered) -> None:
    rules = access_rules(everything)
    by_host = {rule["domain"]: rule for rule in rules}

    for host in ("test", "home", "longhorn", "grafana", "vault"):
        rule = by_host[f"{host}.{DOMAIN}"]
        assert (rule["subject"], rule["policy"]) == ("group:admins", "one_factor"), host
    assert by_host[f"vault.{DOMAIN}"]["resources"] == ["^/admin([/?].*)?$"]
    assert all("resources" not in by_host[f"{h}.{DOMAIN}"] for h in ("test", "home", "longhorn"))
    # Anything else behind the Middleware: the admins group too, after the specific rules.
    assert rules[-1] == {"domain": f"*.{DOMAIN}", "subject": "group:admins", "policy": "one_factor"}


@pytest.mark.parametrize(
    ("path", "admitted"),
    [("/admin", True), ("/admin/", True), ("/admin?x=1", True), ("/administrator", False),
     ("/", False), ("/api/accounts", False)],
)
def test_the_admin_rule_matches_the_admin_page_only(
    everything: Rendered, path: str, admitted: bool
) -> None:
    (pattern,) = next(r for r in access_rules(everything) if "resources" in r)["resources"]
    assert (re.search(pattern, path) is not None) is admitted


@pytest.mark.skipif(not shared_available(), reason="../shared/schemas is not available")
@pytest.mark.parametrize("components", [EVERYTHING, {"authelia": {}}], ids=["all", "alone"])
def test_the_access_rules_match_authelias_schema_and_are_never_empty(
    components: Mapping[str, Any],
) -> None:
    configuration = authelia_configuration(render(components))
    validator = jsonschema.Draft202012Validator(json.loads(AUTHELIA_SCHEMA.read_text()))

    assert list(validator.iter_errors(configuration)) == []
    # Authelia 4.39 refuses default_policy deny without rules (not a schema rule).
    assert configuration["access_control"]["default_policy"] == "deny"
    assert configuration["access_control"]["rules"]


@pytest.mark.skipif(not shared_available(), reason="../shared/schemas is not available")
def test_the_new_ingresses_validate(everything: Rendered) -> None:
    for name in ("longhorn-ui", "vaultwarden-admin", "test-app"):
        assert validate_document(ingresses(everything)[name]) == [], name


def test_longhorns_ingress_waits_for_traefik_and_authelia(everything: Rendered) -> None:
    wave = {app.name: app.wave for app in everything.plan.apps}
    assert wave["longhorn-ui"] > max(wave["authelia"], wave["traefik"], wave["longhorn"])
    # The backup settings do not wait for the UI.
    assert wave["longhorn-config"] == wave["longhorn"] + 1


# --- without authelia, or with sso turned off ----------------------------------------------------


def test_without_authelia_nothing_names_a_middleware(without_authelia: Rendered) -> None:
    found = ingresses(without_authelia)

    assert all(middleware_of(doc) is None for doc in found.values())
    assert MIDDLEWARE_ANNOTATION not in grafana_ingress(without_authelia)["annotations"]
    assert "vaultwarden-admin" not in found
    assert {"test-app", "homepage", "vaultwarden"} <= set(found)


def test_longhorns_ui_gets_no_ingress_without_a_login(without_authelia: Rendered) -> None:
    text = without_authelia.files["kubernetes/system/longhorn-ui/networkpolicy.yaml"]
    (policy,) = iter_yaml_documents(text)

    assert "longhorn-ui" not in ingresses(without_authelia)
    assert "kubernetes/system/longhorn-ui/ingress.yaml" not in without_authelia.files
    # Nothing in the cluster reaches the UI pods either; the comment says how to open it.
    assert policy["spec"]["podSelector"] == {"matchLabels": {"app": "longhorn-ui"}}
    assert policy["spec"]["ingress"] == []
    assert "components.longhorn.sso: false" in text
    assert "port-forward svc/longhorn-frontend" in text


def test_only_traefik_reaches_an_exposed_longhorn_ui(everything: Rendered) -> None:
    (policy,) = iter_yaml_documents(
        everything.files["kubernetes/system/longhorn-ui/networkpolicy.yaml"]
    )
    (rule,) = policy["spec"]["ingress"]

    assert rule["from"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "traefik"}}}
    ]
    assert rule["ports"] == [{"protocol": "TCP", "port": 8000}]


def test_turning_sso_off_exposes_longhorn_without_a_login_and_says_so() -> None:
    rendered = render({"longhorn": {"sso": False}, "traefik": {}})
    text = rendered.files["kubernetes/system/longhorn-ui/ingress.yaml"]
    ingress = ingresses(rendered)["longhorn-ui"]
    (rule,) = ingress["spec"]["rules"]

    assert middleware_of(ingress) is None
    assert rule["host"] == f"longhorn.{DOMAIN}"
    assert rule["http"]["paths"][0]["backend"]["service"]["name"] == "longhorn-frontend"
    assert "sso is false" in text and "delete every volume" in text


@pytest.mark.parametrize("name", sorted(GUARDED))
def test_the_sso_option_turns_the_login_off_for_one_component(name: str) -> None:
    rendered = render({**EVERYTHING, name: {"sso": False}})
    found = ingresses(rendered)
    hosts = {rule["domain"] for rule in access_rules(rendered)}
    guarded = {n for n, doc in found.items() if middleware_of(doc)}

    own = {"vaultwarden": "vaultwarden-admin", "longhorn": "longhorn-ui"}.get(name, name)
    subdomain = {"test-app": "test", "homepage": "home", "longhorn": "longhorn"}.get(name, "vault")
    assert guarded == {"test-app", "homepage", "longhorn-ui", "vaultwarden-admin"} - {own}
    assert f"{subdomain}.{DOMAIN}" not in hosts
    assert f"grafana.{DOMAIN}" in hosts


def test_a_vault_outside_the_domain_cannot_be_guarded() -> None:
    rendered = render({"authelia": {}, "vaultwarden": {"hostname": "vault.other.example.org"}})

    assert "vaultwarden-admin" not in ingresses(rendered)
    assert all("vault" not in rule["domain"] for rule in access_rules(rendered))


# --- the facts are catalog data ------------------------------------------------------------------


def write_component(folder: Path, name: str, data: Mapping[str, Any], template: str) -> Path:
    (folder / name / name).mkdir(parents=True)
    (folder / name / "component.yaml").write_text(yaml.safe_dump(dict(data)))
    (folder / name / name / "ingress.yaml.j2").write_text(template)
    return folder / name / "component.yaml"


WHOAMI_INGRESS = """\
{% set access = component.access %}
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: whoami
  namespace: {{ app.namespace }}
{% if access.middleware %}
  annotations:
    traefik.ingress.kubernetes.io/router.middlewares: {{ access.middleware }}
{% endif %}
spec:
  rules:
    - host: {{ access.host }}
      http:
        paths:
{% for path in access.paths %}
          - path: {{ path }}
            pathType: Prefix
            backend: {service: {name: whoami, port: {number: 80}}}
{% endfor %}
"""
WHOAMI = {
    "project": "apps",
    "ui": {"title": "whoami", "subdomain": "who", "sso": {"paths": ["/debug", "/env"]}},
    "applications": [{"name": "whoami", "type": "manifests", "path": "apps/whoami"}],
}


def test_a_catalog_component_declares_its_guarded_paths(tmp_path: Path) -> None:
    catalog = tmp_path / "catalog"
    write_component(catalog, "whoami", WHOAMI, WHOAMI_INGRESS)
    (tmp_path / "scaffold.yaml").write_text(yaml.safe_dump({
        "repo_url": "https://github.com/alice/homelab.git",
        "domain": DOMAIN,
        "secrets": "manual",
        "catalog_paths": ["catalog"],
        "components": {"whoami": {}, "authelia": {}},
    }))
    answers = yaml.safe_load((tmp_path / "scaffold.yaml").read_text())
    rendered = render_config(answers, base=tmp_path)
    (ingress,) = iter_yaml_documents(rendered.files["kubernetes/apps/whoami/ingress.yaml"])
    rule = next(r for r in access_rules(rendered) if r["domain"] == f"who.{DOMAIN}")

    assert middleware_of(ingress) == FORWARD_AUTH
    assert [p["path"] for p in ingress["spec"]["rules"][0]["http"]["paths"]] == ["/debug", "/env"]
    assert rule["resources"] == ["^/debug([/?].*)?$", "^/env([/?].*)?$"]


@pytest.mark.parametrize(
    ("ui", "fragment"),
    [
        ({"title": "x", "sso": {"paths": ["admin"]}}, "ui.sso.paths[0]"),
        ({"title": "x", "sso": {"paths": []}}, "ui.sso.paths"),
        ({"title": "x", "sso": {"required": "yes"}}, "ui.sso.required"),
        ({"title": "x", "host_option": "nope"}, "ui.host_option"),
    ],
)
def test_a_bad_sso_declaration_is_one_line(
    tmp_path: Path, ui: dict[str, Any], fragment: str
) -> None:
    path = write_component(tmp_path, "whoami", {**WHOAMI, "ui": ui}, WHOAMI_INGRESS)
    with pytest.raises(CatalogError) as error:
        load_catalog([tmp_path])
    assert str(path) in error.value.message and fragment in error.value.message
    assert "\n" not in error.value.message


def test_an_own_sso_option_clashes_with_the_one_scaffold_adds(tmp_path: Path) -> None:
    path = write_component(
        tmp_path, "whoami", {**WHOAMI, "options": {"sso": {"type": "bool"}}}, WHOAMI_INGRESS
    )
    with pytest.raises(CatalogError) as error:
        load_catalog([tmp_path])
    assert str(path) in error.value.message and "options.sso" in error.value.message


def test_a_ui_without_any_login_exposed_by_sso_false_is_a_warning() -> None:
    """Only a `ui.sso.required` UI served unguarded warns, saying what anyone can do with it."""
    (warning,) = render({"longhorn": {"sso": False}, "traefik": {}}).warnings
    assert warning.startswith("components.longhorn.sso is false: the Longhorn UI at ")
    assert "anyone on your network can delete volumes" in warning
    assert render({**EVERYTHING, "longhorn": {"sso": False}}).warnings == [warning]
    assert render(EVERYTHING).warnings == []
    assert render({"longhorn": {}, "traefik": {}}).warnings == []  # no Ingress at all
    # A UI with a harmless default (homepage, test-app) turned off warns about nothing.
    assert render({**EVERYTHING, "homepage": {"sso": False}}).warnings == []


def test_init_add_and_regenerate_warn_about_an_unguarded_longhorn(tmp_path: Path) -> None:
    from conftest import REPO_URL, commit_all, git_init, invoke

    warning = "components.longhorn.sso is false"
    root = git_init(tmp_path / "lab")
    init = invoke(
        "init", root, "--no-input", "--set", f"repo_url={REPO_URL}", "--set", "secrets=manual",
        "--set", "components.traefik=", "--set", "components.longhorn.sso=false",
    )  # fmt: skip
    assert init.exit_code == 0, init.stderr
    assert warning in init.stderr and "delete volumes" in init.stderr
    commit_all(root, "init")
    regenerate = invoke("regenerate", "-C", root)
    assert regenerate.exit_code == 0, regenerate.stderr
    assert warning in regenerate.stderr

    other = git_init(tmp_path / "other")
    base = ["--no-input", "--set", f"repo_url={REPO_URL}", "--set", "secrets=manual"]
    assert invoke("init", other, *base, "--set", "components.traefik=").exit_code == 0
    commit_all(other, "init")
    add = invoke("add", "longhorn", "-C", other, "--set", "sso=false")
    assert add.exit_code == 0, add.stderr
    assert warning in add.stderr
