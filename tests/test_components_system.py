"""The five system components (argocd, metallb, traefik, longhorn, cert-manager) render right.

Every Kubernetes document is checked against the upstream schemas in ../shared/schemas, every
Helm values file against its chart's values.schema.json where one is held (otherwise against the
chart's default keys), and the version-dependent keys are checked per chart version range.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import pinned
from schema_check import (
    helm_schema_available,
    helm_values_problems,
    iter_yaml_documents,
    shared_available,
    unknown_value_keys,
    validate_document,
    validate_helm_values,
)

from homelab_scaffold.catalog.loader import load_catalog
from homelab_scaffold.generate.pipeline import Rendered, render_config

pytestmark = pytest.mark.skipif(
    not shared_available(), reason="../shared/schemas (upstream JSON schemas) is not present"
)

SYSTEM = ("argocd", "metallb", "traefik", "longhorn", "cert-manager")
# Free-form maps of the argo-cd chart: their keys are argocd-cm / argocd-cmd-params-cm entries.
ARGOCD_OPEN_PATHS = ("configs.cm", "configs.params", "server.ingress.annotations")
HEALTH_KEY = "resource.customizations.health.argoproj.io_Application"


def render(components: dict[str, dict[str, Any]], **extra: Any) -> Rendered:
    """Render a scaffold.yaml with the given components (and global answers overridden)."""
    mapping = {
        "repo_url": "https://github.com/alice/homelab.git",
        "target_revision": "main",
        "domain": "lab.example.com",
        "email": "admin@example.com",
        "components": components,
        **extra,
    }
    return render_config(mapping)


def full_stack(**overrides: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """All five system components, with per-component option overrides."""
    return {name: dict(overrides.get(name, {})) for name in SYSTEM}


def values(rendered: Rendered, app: str) -> dict[str, Any]:
    """The parsed Helm values file of a helm Application."""
    loaded = yaml.safe_load(rendered.files[f"kubernetes/system/{app}/values.yaml"])
    assert isinstance(loaded, dict)
    return loaded


def helm_values_paths(rendered: Rendered) -> set[str]:
    """Paths of the rendered Helm values files (they are not Kubernetes documents)."""
    return {
        f"kubernetes/{app.spec.path}/values.yaml"
        for app in rendered.plan.apps
        if app.spec.type == "helm"
    }


def documents(rendered: Rendered) -> dict[str, list[dict[str, Any]]]:
    """Every Kubernetes YAML file of the tracked output: path -> its documents."""
    skip = helm_values_paths(rendered)
    return {
        path: iter_yaml_documents(text)
        for path, text in rendered.files.items()
        if path.startswith("kubernetes/") and path.endswith((".yaml", ".yml")) and path not in skip
    }


def docs_of_kind(rendered: Rendered, kind: str) -> list[dict[str, Any]]:
    """Every rendered document of one kind."""
    return [d for docs in documents(rendered).values() for d in docs if d.get("kind") == kind]


def one(rendered: Rendered, kind: str, name: str) -> dict[str, Any]:
    """The single document of ``kind`` called ``name``."""
    found = [d for d in docs_of_kind(rendered, kind) if d["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind}/{name}, found {len(found)}"
    return found[0]


def dig(data: dict[str, Any], dotted: str) -> Any:
    """``data['a']['b']`` for ``'a.b'``; KeyError names the missing path."""
    current: Any = data
    for part in dotted.split("."):
        if not isinstance(current, dict) or part not in current:
            raise KeyError(dotted)
        current = current[part]
    return current


# --- every document and every values file validates ----------------------------------------------

STACKS = {
    "defaults": full_stack(),
    "selfsigned-wildcard": full_stack(**{"cert-manager": {"wildcard_certificate": True}}),
    "http01-production": full_stack(
        **{"cert-manager": {"issuer": "letsencrypt-http01", "acme_server": "production"}}
    ),
    "cloudflare-wildcard": full_stack(
        **{"cert-manager": {"issuer": "letsencrypt-cloudflare", "wildcard_certificate": True}}
    ),
    "options": full_stack(
        metallb={"addresses": ["10.0.0.0/28", "10.0.1.10-10.0.1.20"]},
        traefik={
            "load_balancer_ip": "10.0.0.5",
            "log_level": "DEBUG",
            "access_logs": True,
            "allow_cross_namespace": True,
        },
        longhorn={"replicas": 3, "default_storage_class": False},
        argocd={"subdomain": "cd"},
    ),
    "older-charts": full_stack(
        argocd={"version": "7.0.0"},
        metallb={"version": "0.13.12"},
        traefik={"version": "28.0.0"},
        longhorn={"version": "1.6.0"},
        **{"cert-manager": {"version": "v1.12.0", "issuer": "letsencrypt-cloudflare"}},
    ),
    "argocd-alone": {"argocd": {}},
    "no-cert-manager": {"argocd": {}, "traefik": {}},
}


@pytest.fixture(scope="module", params=sorted(STACKS))
def stack(request: pytest.FixtureRequest) -> Rendered:
    return render(STACKS[request.param])


def test_every_kubernetes_document_validates(stack: Rendered) -> None:
    found = documents(stack)
    assert found, "nothing rendered under kubernetes/"
    errors = [
        f"{path}: {e}" for path, docs in found.items() for d in docs for e in validate_document(d)
    ]
    assert errors == []


def test_every_kubernetes_file_holds_documents(stack: Rendered) -> None:
    empty = [path for path, docs in documents(stack).items() if not docs]
    assert empty == []


# Chart versions the templates handle whose schema and default values ../shared does not hold:
# rendered by the "older-charts" stack, checked only for their own version-specific keys below.
UNCHECKED_VERSIONS = {
    ("argo-cd", "7.0.0"),
    ("metallb", "0.13.12"),
    ("traefik", "28.0.0"),
    ("longhorn", "1.6.0"),
    ("cert-manager", "v1.12.0"),
}


def test_helm_values_validate_against_chart_schemas(stack: Rendered) -> None:
    errors, unchecked = [], set()
    for app in stack.plan.apps:
        if app.spec.type != "helm" or app.chart is None:
            continue
        if (app.chart.name, app.chart.version) in UNCHECKED_VERSIONS:
            unchecked.add((app.chart.name, app.chart.version))
            continue
        found = helm_values_problems(app.chart.name, app.chart.version, values(stack, app.name))
        errors += [f"{app.name} {app.chart.version}: {e}" for e in found]
    assert errors == []
    # Nothing passes for want of data: every version skipped here is listed, and really absent.
    for chart, version in unchecked:
        assert helm_values_problems(chart, version, {}) != [], f"{chart} {version} is held now"


@pytest.mark.parametrize(
    ("chart", "version", "app"),
    [
        ("traefik", pinned("traefik"), "traefik"),
        ("cert-manager", pinned("cert-manager"), "cert-manager"),
        ("metallb", pinned("metallb"), "metallb"),
    ],
)
def test_pinned_charts_have_a_values_schema(chart: str, version: str, app: str) -> None:
    # Guards the test above: an empty error list must mean "valid", not "no schema found".
    assert helm_schema_available(chart, version)
    rendered = render(full_stack())
    planned = {a.name: a for a in rendered.plan.apps}[app]
    assert planned.chart is not None
    assert (planned.chart.name, planned.chart.version) == (chart, version)


@pytest.mark.parametrize(
    ("chart", "version", "bad"),
    [
        ("traefik", pinned("traefik"), {"logs": {"general": {"level": "INFO"}}}),
        (
            "traefik",
            pinned("traefik"),
            {"ports": {"web": {"redirections": {"entryPoint": {"to": "websecure"}}}}},
        ),
        ("cert-manager", pinned("cert-manager"), {"crds": {"enabld": True}}),
        ("metallb", pinned("metallb"), {"speaker": {"frr": {"enabled": "no"}}}),
    ],
)
def test_values_check_rejects_wrong_keys(chart: str, version: str, bad: dict[str, Any]) -> None:
    assert validate_helm_values(chart, version, bad) != []


def test_document_check_rejects_wrong_documents() -> None:
    pool = {
        "apiVersion": "metallb.io/v1beta1",
        "kind": "IPAddressPool",
        "metadata": {"name": "default", "namespace": "metallb-system"},
        "spec": {"adresses": ["10.0.0.1-10.0.0.2"]},
    }
    config_map = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "dta": {}}
    unknown = {"apiVersion": "example.com/v1", "kind": "Gadget", "metadata": {"name": "x"}}
    assert validate_document(pool) != []
    assert validate_document(config_map) != []
    assert validate_document(unknown) != []


@pytest.mark.parametrize(
    ("chart", "version", "app"),
    [("argo-cd", pinned("argocd"), "argocd"), ("longhorn", pinned("longhorn"), "longhorn")],
)
def test_values_without_schema_use_existing_chart_keys(chart: str, version: str, app: str) -> None:
    rendered = render(full_stack(longhorn={"replicas": 2}))
    assert not helm_schema_available(chart, version)
    assert unknown_value_keys(chart, version, values(rendered, app), ARGOCD_OPEN_PATHS) == []


# --- argocd --------------------------------------------------------------------------------------


def health_script(rendered: Rendered) -> str:
    script = values(rendered, "argocd")["configs"]["cm"][HEALTH_KEY]
    assert isinstance(script, str)
    return script


def test_argocd_health_check_holds_unsynced_children_at_progressing() -> None:
    script = health_script(render({"argocd": {}}))
    assert "obj.status.health" in script
    assert "obj.status.sync" in script
    assert '"Synced"' in script
    assert '"Progressing"' in script


def _run_health(script: str, status: dict[str, Any] | None) -> tuple[str, str]:
    lua51 = pytest.importorskip("lupa.lua51", reason="lupa runs the Lua health check like Argo CD")
    runtime = lua51.LuaRuntime()
    obj: dict[str, Any] = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application"}
    if status is not None:
        obj["status"] = status
    runtime.globals().obj = runtime.table_from(obj, recursive=True)
    result = runtime.execute(script)
    return str(result["status"]), str(result["message"])


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (None, "Progressing"),
        ({}, "Progressing"),
        ({"health": {"status": "Healthy"}, "sync": {"status": "Synced"}}, "Healthy"),
        ({"health": {"status": "Healthy"}, "sync": {"status": "OutOfSync"}}, "Progressing"),
        ({"health": {"status": "Healthy"}}, "Progressing"),
        ({"health": {"status": "Degraded"}, "sync": {"status": "OutOfSync"}}, "Degraded"),
        ({"health": {"status": "Missing"}, "sync": {"status": "Synced"}}, "Missing"),
    ],
)
def test_argocd_health_check_runs(status: dict[str, Any] | None, expected: str) -> None:
    result, message = _run_health(health_script(render({"argocd": {}})), status)
    assert result == expected
    assert message


def test_argocd_ingress_through_traefik_with_cert_manager_tls() -> None:
    argocd = values(render(full_stack(argocd={"subdomain": "cd"})), "argocd")
    ingress = argocd["server"]["ingress"]
    assert argocd["global"]["domain"] == "cd.lab.example.com"
    assert argocd["configs"]["params"]["server.insecure"] is True
    assert ingress["enabled"] is True
    assert ingress["ingressClassName"] == "traefik"
    assert ingress["hostname"] == "cd.lab.example.com"
    assert ingress["tls"] is True
    assert ingress["annotations"]["cert-manager.io/cluster-issuer"] == "selfsigned"
    # Health of this Ingress waits for Traefik, which syncs in a later wave.
    assert ingress["annotations"]["argocd.argoproj.io/ignore-healthcheck"] == "true"


def test_argocd_ingress_without_cert_manager_has_no_issuer() -> None:
    ingress = values(render({"argocd": {}, "traefik": {}}), "argocd")["server"]["ingress"]
    assert ingress["tls"] is False
    assert "cert-manager.io/cluster-issuer" not in ingress["annotations"]


@pytest.mark.parametrize("components", [{"argocd": {}}, full_stack(argocd={"ingress": False})])
def test_argocd_without_ingress_keeps_the_server_on_tls(components: dict[str, Any]) -> None:
    argocd = values(render(components), "argocd")
    assert "server" not in argocd
    assert "params" not in argocd["configs"]
    assert HEALTH_KEY in argocd["configs"]["cm"]


# --- metallb -------------------------------------------------------------------------------------


def test_metallb_pool_holds_the_addresses() -> None:
    rendered = render({"metallb": {"addresses": ["10.0.0.0/28", "10.0.1.10 - 10.0.1.20"]}})
    pool = one(rendered, "IPAddressPool", "default")
    advert = one(rendered, "L2Advertisement", "default")
    assert pool["metadata"]["namespace"] == "metallb-system"
    assert pool["spec"]["addresses"] == ["10.0.0.0/28", "10.0.1.10-10.0.1.20"]
    assert advert["spec"]["ipAddressPools"] == ["default"]
    assert docs_of_kind(rendered, "BGPAdvertisement") == []


@pytest.mark.parametrize("version", ["0.14.9", "0.16.1"])
def test_metallb_is_layer2_only(version: str) -> None:
    metallb = values(render({"metallb": {"version": version}}), "metallb")
    assert metallb["frrk8s"]["enabled"] is False
    assert metallb["speaker"]["frr"]["enabled"] is False


def test_metallb_before_frr_k8s_has_no_frrk8s_key() -> None:
    metallb = values(render({"metallb": {"version": "0.13.12"}}), "metallb")
    assert "frrk8s" not in metallb
    assert metallb["speaker"]["frr"]["enabled"] is False


# --- traefik -------------------------------------------------------------------------------------

REDIRECT = {"to": "websecure", "scheme": "https", "permanent": True}


@pytest.mark.parametrize("version", ["28.0.0", "33.2.1"])
def test_traefik_up_to_33_uses_redirect_to_and_logs(version: str) -> None:
    traefik = values(render({"traefik": {"version": version, "access_logs": True}}), "traefik")
    assert traefik["ports"]["web"] == {"redirectTo": {"port": "websecure"}}
    assert traefik["logs"] == {"general": {"level": "INFO"}, "access": {"enabled": True}}
    assert "log" not in traefik
    assert "accessLog" not in traefik
    assert traefik["service"]["type"] == "LoadBalancer"


@pytest.mark.parametrize("version", ["34.0.0", "36.3.0", "38.0.2"])
def test_traefik_34_to_38_uses_port_redirections(version: str) -> None:
    traefik = values(render({"traefik": {"version": version, "log_level": "WARN"}}), "traefik")
    assert traefik["ports"]["web"] == {"redirections": {"entryPoint": REDIRECT}}
    assert traefik["logs"] == {"general": {"level": "WARN"}, "access": {"enabled": False}}
    assert traefik["service"]["type"] == "LoadBalancer"


@pytest.mark.parametrize("version", ["39.0.0", "40.3.0"])
def test_traefik_39_and_40_use_http_redirections_and_logs(version: str) -> None:
    traefik = values(render({"traefik": {"version": version}}), "traefik")
    assert traefik["ports"]["web"] == {"http": {"redirections": {"entryPoint": REDIRECT}}}
    assert traefik["logs"]["general"]["level"] == "INFO"
    assert "log" not in traefik


def test_traefik_40_moves_the_service_type_into_spec() -> None:
    assert (
        values(render({"traefik": {"version": "39.0.9"}}), "traefik")["service"]["type"]
        == "LoadBalancer"
    )
    service = values(render({"traefik": {"version": "40.0.0"}}), "traefik")["service"]
    assert service["spec"]["type"] == "LoadBalancer"
    assert "type" not in service


@pytest.mark.parametrize("version", ["41.0.0", "41.3.0"])
def test_traefik_41_uses_log_and_access_log(version: str) -> None:
    traefik = values(render({"traefik": {"version": version, "access_logs": True}}), "traefik")
    assert traefik["ports"]["web"] == {"http": {"redirections": {"entryPoint": REDIRECT}}}
    assert traefik["log"] == {"level": "INFO"}
    assert traefik["accessLog"] == {"enabled": True}
    assert "logs" not in traefik


def test_traefik_serves_ingresses_and_crds_with_a_published_address() -> None:
    traefik = values(render({"traefik": {}}), "traefik")
    assert traefik["ingressClass"]["name"] == "traefik"
    assert dig(traefik, "providers.kubernetesCRD.enabled") is True
    assert dig(traefik, "providers.kubernetesCRD.allowCrossNamespace") is False
    assert dig(traefik, "providers.kubernetesIngress.enabled") is True
    assert dig(traefik, "providers.kubernetesIngress.publishedService.enabled") is True
    # Without a load_balancer_ip of its own, the first address of MetalLB's default pool.
    assert traefik["service"]["annotations"] == {"metallb.io/loadBalancerIPs": "192.168.1.240"}


@pytest.mark.parametrize(
    ("metallb_version", "annotation"),
    [("0.14.9", "metallb.universe.tf/loadBalancerIPs"), ("0.16.1", "metallb.io/loadBalancerIPs")],
)
def test_traefik_fixed_address_uses_the_metallb_annotation(
    metallb_version: str, annotation: str
) -> None:
    rendered = render(
        {"traefik": {"load_balancer_ip": "192.168.1.241"}, "metallb": {"version": metallb_version}}
    )
    assert values(rendered, "traefik")["service"]["annotations"] == {annotation: "192.168.1.241"}


def test_traefik_needs_metallb_config() -> None:
    rendered = render({"traefik": {}})
    waves = {app.name: app.wave for app in rendered.plan.apps}
    assert {"metallb", "metallb-config"} <= set(waves)
    assert waves["traefik"] > waves["metallb-config"] > waves["metallb"]


# --- longhorn ------------------------------------------------------------------------------------


def test_longhorn_defaults_suit_a_single_node_lab() -> None:
    longhorn = values(render({"longhorn": {}}), "longhorn")
    assert dig(longhorn, "preUpgradeChecker.jobEnabled") is False
    assert dig(longhorn, "persistence.defaultClass") is True
    assert dig(longhorn, "persistence.defaultClassReplicaCount") == 1
    assert dig(longhorn, "defaultSettings.defaultReplicaCount") == '{"v1":"1","v2":"1"}'


def test_longhorn_options() -> None:
    longhorn = values(
        render({"longhorn": {"replicas": 3, "default_storage_class": False}}), "longhorn"
    )
    assert dig(longhorn, "persistence.defaultClass") is False
    assert dig(longhorn, "persistence.defaultClassReplicaCount") == 3
    assert dig(longhorn, "defaultSettings.defaultReplicaCount") == '{"v1":"3","v2":"3"}'


def test_longhorn_before_1_10_has_a_plain_replica_setting() -> None:
    longhorn = values(render({"longhorn": {"version": "1.9.2", "replicas": 2}}), "longhorn")
    assert dig(longhorn, "defaultSettings.defaultReplicaCount") == 2
    assert dig(longhorn, "preUpgradeChecker.jobEnabled") is False


# --- cert-manager --------------------------------------------------------------------------------


def test_cert_manager_before_1_15_installs_crds_with_install_crds() -> None:
    cert_manager = values(render({"cert-manager": {"version": "v1.14.4"}}), "cert-manager")
    assert cert_manager["installCRDs"] is True
    assert "crds" not in cert_manager
    assert dig(cert_manager, "global.leaderElection.namespace") == "cert-manager"


@pytest.mark.parametrize("version", ["v1.15.0", "v1.21.1"])
def test_cert_manager_from_1_15_uses_crds_enabled(version: str) -> None:
    cert_manager = values(render({"cert-manager": {"version": version}}), "cert-manager")
    assert dig(cert_manager, "crds.enabled") is True
    assert "installCRDs" not in cert_manager
    assert dig(cert_manager, "global.leaderElection.namespace") == "cert-manager"


def test_cert_manager_config_waits_for_cert_manager() -> None:
    waves = {app.name: app.wave for app in render({"cert-manager": {}}).plan.apps}
    assert waves["cert-manager-config"] > waves["cert-manager"]


def test_selfsigned_issuer_is_a_private_ca() -> None:
    rendered = render(full_stack())
    root = one(rendered, "ClusterIssuer", "selfsigned-root")
    ca = one(rendered, "Certificate", "homelab-ca")
    issuer = one(rendered, "ClusterIssuer", "selfsigned")
    assert root["spec"] == {"selfSigned": {}}
    assert ca["metadata"]["namespace"] == "cert-manager"
    assert ca["spec"]["isCA"] is True
    assert ca["spec"]["issuerRef"]["name"] == "selfsigned-root"
    assert issuer["spec"] == {"ca": {"secretName": ca["spec"]["secretName"]}}
    assert "extraArgs" not in values(rendered, "cert-manager")


@pytest.mark.parametrize(
    ("server", "url"),
    [
        ("staging", "https://acme-staging-v02.api.letsencrypt.org/directory"),
        ("production", "https://acme-v02.api.letsencrypt.org/directory"),
    ],
)
def test_http01_issuer_solves_through_traefik(server: str, url: str) -> None:
    rendered = render(
        full_stack(**{"cert-manager": {"issuer": "letsencrypt-http01", "acme_server": server}})
    )
    acme = one(rendered, "ClusterIssuer", "letsencrypt-http01")["spec"]["acme"]
    assert acme["server"] == url
    assert acme["email"] == "admin@example.com"
    assert acme["solvers"] == [{"http01": {"ingress": {"ingressClassName": "traefik"}}}]
    assert docs_of_kind(rendered, "ClusterIssuer") == [
        one(rendered, "ClusterIssuer", "letsencrypt-http01")
    ]


def test_cloudflare_issuer_references_a_secret_it_does_not_write() -> None:
    rendered = render(full_stack(**{"cert-manager": {"issuer": "letsencrypt-cloudflare"}}))
    acme = one(rendered, "ClusterIssuer", "letsencrypt-cloudflare")["spec"]["acme"]
    token = acme["solvers"][0]["dns01"]["cloudflare"]["apiTokenSecretRef"]
    assert token == {"name": "cloudflare-api-token", "key": "api-token"}
    assert docs_of_kind(rendered, "Secret") == []
    assert not any("cloudflare" in path for path in rendered.secret_files)
    args = values(rendered, "cert-manager")["extraArgs"]
    assert any(a.startswith("--dns01-recursive-nameservers=") for a in args)
    assert "--dns01-recursive-nameservers-only" in args


@pytest.mark.parametrize("issuer", ["selfsigned", "letsencrypt-cloudflare"])
def test_wildcard_certificate_is_traefiks_default(issuer: str) -> None:
    rendered = render(
        full_stack(**{"cert-manager": {"issuer": issuer, "wildcard_certificate": True}})
    )
    wildcard = one(rendered, "Certificate", "wildcard")
    assert wildcard["metadata"]["namespace"] == "traefik"
    assert wildcard["spec"]["dnsNames"] == ["*.lab.example.com", "lab.example.com"]
    assert wildcard["spec"]["issuerRef"]["name"] == issuer
    store = values(rendered, "traefik")["tlsStore"]
    assert store == {
        "default": {"defaultCertificate": {"secretName": wildcard["spec"]["secretName"]}}
    }


def test_wildcard_certificate_without_traefik_stays_in_cert_manager() -> None:
    rendered = render({"cert-manager": {"wildcard_certificate": True}})
    assert one(rendered, "Certificate", "wildcard")["metadata"]["namespace"] == "cert-manager"


def test_http01_cannot_issue_a_wildcard() -> None:
    rendered = render(
        full_stack(
            **{"cert-manager": {"issuer": "letsencrypt-http01", "wildcard_certificate": True}}
        )
    )
    assert [d["metadata"]["name"] for d in docs_of_kind(rendered, "Certificate")] == []
    assert "tlsStore" not in values(rendered, "traefik")


def test_no_wildcard_by_default() -> None:
    rendered = render(full_stack())
    assert [d["metadata"]["name"] for d in docs_of_kind(rendered, "Certificate")] == ["homelab-ca"]
    assert "tlsStore" not in values(rendered, "traefik")


# --- catalog data --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("component", "version"),
    [
        ("argocd", "7.0.0"),
        ("metallb", "0.13.0"),
        ("traefik", "28.0.0"),
        ("longhorn", "1.6.0"),
        ("cert-manager", "v1.12.0"),
    ],
)
def test_oldest_known_versions_render_without_warnings(component: str, version: str) -> None:
    rendered = render({component: {"version": version}})
    assert rendered.warnings == []


@pytest.mark.parametrize(
    ("component", "version"), [("traefik", "27.0.2"), ("cert-manager", "v1.11.0")]
)
def test_versions_older_than_known_warn(component: str, version: str) -> None:
    rendered = render({component: {"version": version}})
    assert any(component in warning for warning in rendered.warnings)


def test_the_stack_renders_the_catalog_pins() -> None:
    # The pins themselves are stated once, as facts, in tests/test_catalog.py.
    helm = [app for app in render(full_stack()).plan.apps if app.spec.type == "helm"]
    rendered = {app.name: (app.chart.repo, app.chart.name, app.chart.version) for app in helm}
    catalog = load_catalog().components
    expected = {}
    for app in helm:
        chart = catalog[app.component].chart
        assert chart is not None
        expected[app.name] = (chart.repo, chart.name, chart.version)
    assert rendered == expected and {a.name for a in helm} >= {"argocd", "traefik", "metallb"}


def test_rendering_is_deterministic() -> None:
    assert render(full_stack()).files == render(full_stack()).files


def test_system_templates_live_where_the_design_says() -> None:
    root = Path(__file__).resolve().parents[1] / "templates" / "components"
    for name in SYSTEM:
        assert (root / name / "component.yaml").is_file()
