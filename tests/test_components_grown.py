"""The grown catalog: external-dns, cloudflared, kube-prometheus-stack, loki, alloy, longhorn
backups, system-upgrade-controller and homepage render right, and Pod Security is catalog data.

Every Kubernetes document is checked against the CRD schemas (../shared/schemas and
tests/data/schemas) or strict core schemas; Helm values against the chart's values.schema.json
merged over its defaults, or, for charts without a schema, against the chart's default keys.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import EXAMPLES_DIR, invoke, read_tree, yaml_documents
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
from homelab_scaffold.catalog.derived import image_tag_option
from homelab_scaffold.catalog.schema import component_groups
from homelab_scaffold.errors import ConfigError
from homelab_scaffold.generate.pipeline import Rendered, render_config
from homelab_scaffold.inspect.checks_podsecurity import ENFORCE_LABEL, pod_spec, violations
from homelab_scaffold.inspect.model import Document

pytestmark = pytest.mark.skipif(
    not shared_available(), reason="../shared/schemas (upstream JSON schemas) is not present"
)

BASE = ("metallb", "traefik", "longhorn", "cert-manager", "authelia")
GROWN = (
    "external-dns",
    "cloudflared",
    "kube-prometheus-stack",
    "loki",
    "alloy",
    "system-upgrade-controller",
    "homepage",
)
TOKENS = {
    "cert-manager": {"cloudflare_api_token": "cf-token-for-tests-only"},
    "external-dns": {"cloudflare_api_token": "cf-token-for-tests-only"},
    "cloudflared": {"tunnel_token": "tunnel-token-for-tests-only"},
    "longhorn": {"s3_access_key_id": "AKIATESTONLY", "s3_secret_access_key": "s3-secret-test"},
}


def render(components: dict[str, dict[str, Any]], **extra: Any) -> Rendered:
    """Render a scaffold.yaml mapping with ``components`` (and global answers overridden)."""
    mapping = {
        "repo_url": "https://github.com/alice/homelab.git",
        "domain": "lab.example.com",
        "email": "admin@example.com",
        "components": components,
        **extra,
    }
    return render_config(mapping)


def stack(*names: str, **options: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The base stack plus ``names``, with per-component options."""
    return {name: dict(options.get(name, {})) for name in (*BASE, *names)}


def documents(rendered: Rendered) -> Iterator[tuple[str, dict[str, Any]]]:
    """(path, document) of every tracked Kubernetes manifest (Helm values left out)."""
    values = {f"kubernetes/{a.spec.path}/values.yaml" for a in rendered.plan.apps if a.spec.type == "helm"}
    for path, text in rendered.files.items():
        if path.startswith("kubernetes/") and path.endswith((".yaml", ".yml")) and path not in values:
            for doc in iter_yaml_documents(text):
                yield path, doc


def helm_values(rendered: Rendered, app: str) -> dict[str, Any]:
    (planned,) = [a for a in rendered.plan.apps if a.name == app]
    loaded = yaml.safe_load(rendered.files[f"kubernetes/{planned.spec.path}/values.yaml"])
    return loaded or {}


def one(rendered: Rendered, kind: str, name: str) -> dict[str, Any]:
    found = [d for _, d in documents(rendered) if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)}"
    return found[0]


def application(rendered: Rendered, name: str) -> dict[str, Any]:
    (doc,) = yaml_documents(rendered.files[f"kubernetes/system/argocd-config/{name}.yaml"])
    return doc


STACKS = {
    "every-new-component": stack(
        *GROWN,
        **{"cert-manager": {"issuer": "letsencrypt-cloudflare"}},
        longhorn={"backup_store": "s3", "backup_target": "s3://backups@us-east-1/",
                  "s3_endpoint": "https://minio.lan:9000"},
    ),
    "k3s-ha-monitoring": stack(
        "kube-prometheus-stack", "loki", "alloy",
        **{"kube-prometheus-stack": {"control_plane_ips": ["10.0.0.11", "10.0.0.12"], "etcd": True}},
    ),
    "nfs-backups": stack(longhorn={"backup_store": "nfs", "backup_target": "nfs://nas:/longhorn"}),
    "old-longhorn-backups": stack(
        longhorn={"version": "1.6.0", "backup_store": "nfs", "backup_target": "nfs://nas:/lh"}
    ),
    "lean": {"kube-prometheus-stack": {}, "homepage": {}, "external-dns": {}},
}


@pytest.fixture(scope="module", params=sorted(STACKS))
def rendered(request: pytest.FixtureRequest) -> Rendered:
    return render(STACKS[request.param])


def test_every_document_validates(rendered: Rendered) -> None:
    errors = [f"{path}: {e}" for path, doc in documents(rendered) for e in validate_document(doc)]
    assert errors == []


# Chart versions the templates support whose values data is not held.
UNCHECKED_VERSIONS = {("longhorn", "1.6.0")}


def test_unchecked_versions_are_really_absent() -> None:
    for chart, version in UNCHECKED_VERSIONS:
        assert helm_values_problems(chart, version, {}) != [], (chart, version)


def test_every_helm_values_file_validates(rendered: Rendered) -> None:
    errors = []
    for app in rendered.plan.apps:
        if app.spec.type != "helm" or app.chart is None:
            continue
        if (app.chart.name, app.chart.version) in UNCHECKED_VERSIONS:
            continue
        values = helm_values(rendered, app.name)
        found = helm_values_problems(app.chart.name, app.chart.version, values)
        errors += [f"{app.name}: {e}" for e in found]
    assert errors == []


def test_new_charts_have_their_test_data() -> None:
    catalog = load_catalog()
    for name in ("external-dns", "loki"):
        chart = catalog.get(name).chart
        assert chart is not None and helm_schema_available(chart.name, chart.version), name
    for name in ("kube-prometheus-stack", "alloy"):
        chart = catalog.get(name).chart
        assert chart is not None
        assert unknown_value_keys(chart.name, chart.version, {}) == []


def test_values_checks_have_teeth() -> None:
    assert validate_helm_values("external-dns", "1.21.1", {"policy": "delete-everything"})
    assert validate_helm_values("loki", "18.11.0", {"deploymentMode": 3})
    assert unknown_value_keys("kube-prometheus-stack", "88.5.3", {"kubeEtcd": {"enabeld": False}})
    # The grafana subchart's keys are checked against the grafana chart's defaults.
    assert helm_values_problems("kube-prometheus-stack", "88.5.3", {"grafana": {"ingres": {}}}) == [
        "grafana.ingres: not a value of grafana 12.11.1"
    ]


# --- Pod Security is catalog data --------------------------------------------------------------


def test_every_component_says_its_pod_security_level() -> None:
    for component in load_catalog().components.values():
        if component.generic:
            continue
        assert component.pod_security is not None, component.name
        assert component.group in component_groups(), component.name
        if component.pod_security.level != "restricted":
            assert component.pod_security.reason, component.name


def test_applications_label_their_namespace_with_the_components_level() -> None:
    rendered = render(STACKS["every-new-component"])
    catalog = load_catalog()
    for app in rendered.plan.apps:
        security = catalog.get(app.component).pod_security
        labels = application(rendered, app.name)["spec"]["syncPolicy"].get(
            "managedNamespaceMetadata", {}
        ).get("labels", {})
        expected = security.label if security else None
        assert labels.get(ENFORCE_LABEL) == expected, app.name
    # The only privileged namespaces, each with a reason in the file.
    privileged = {
        a.name for a in rendered.plan.apps
        if (catalog.get(a.component).pod_security or None) and catalog.get(a.component).pod_security.level == "privileged"
    }
    assert privileged == {
        "metallb", "metallb-config", "longhorn", "longhorn-config", "longhorn-ui",
        "kube-prometheus-stack", "kube-prometheus-stack-secrets",
        "system-upgrade-controller", "system-upgrade-plans",
    }


def test_kube_system_is_never_labelled() -> None:
    rendered = render(stack())
    assert "managedNamespaceMetadata" not in application(rendered, "sealed-secrets")["spec"]["syncPolicy"]
    values = helm_values(rendered, "sealed-secrets")
    assert values["containerSecurityContext"]["allowPrivilegeEscalation"] is False
    assert values["containerSecurityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}


def test_raw_manifest_workloads_comply_with_their_namespace() -> None:
    rendered = render(STACKS["every-new-component"])
    checked = 0
    for path, doc in documents(rendered):
        spec = pod_spec(Document(path, 1, doc))
        if spec is None:
            continue
        assert violations(spec, "restricted") == [], path  # even in privileged namespaces
        checked += 1
    assert checked >= 4


def test_violations_name_what_breaks_restricted() -> None:
    spec = {
        "hostNetwork": True,
        "containers": [{"name": "x", "securityContext": {"capabilities": {"add": ["NET_ADMIN"]}}}],
        "volumes": [{"name": "root", "hostPath": {"path": "/"}}],
    }
    found = violations(spec, "restricted")
    assert "hostNetwork is true" in found
    assert "volume 'root' is a hostPath" in found
    assert "container 'x' does not set allowPrivilegeEscalation: false" in found
    assert "container 'x' has no seccompProfile of type RuntimeDefault or Localhost" in found
    assert violations(spec, "baseline") == [
        "hostNetwork is true",
        "volume 'root' is a hostPath",
        "container 'x' adds capabilities NET_ADMIN",
    ]


# --- component behaviour ------------------------------------------------------------------------


def test_external_dns_shares_the_cloudflare_token_with_cert_manager() -> None:
    rendered = render(stack("external-dns", **{"cert-manager": {"issuer": "letsencrypt-cloudflare"}}))
    assert rendered.missing_secrets and {p.alias for p in rendered.missing_secrets} == {"cloudflare_api_token"}
    assert len(rendered.missing_secrets) == 1  # asked once for both namespaces
    values = helm_values(rendered, "external-dns")
    assert values["provider"] == {"name": "cloudflare"}
    assert values["env"][0]["valueFrom"]["secretKeyRef"] == {"name": "cloudflare-api-token", "key": "api-token"}
    assert values["txtOwnerId"] == "homelab"
    assert values["policy"] == "upsert-only"
    assert values["domainFilters"] == ["lab.example.com"]
    waves = {a.name: a.wave for a in rendered.plan.apps}
    assert waves["external-dns-secrets"] < waves["external-dns"]
    assert waves["traefik"] < waves["external-dns"]


def test_external_dns_sync_only_on_request() -> None:
    values = helm_values(render(stack("external-dns", **{"external-dns": {"policy": "sync", "proxied": True}})), "external-dns")
    assert values["policy"] == "sync"
    assert values["extraArgs"] == ["--cloudflare-proxied"]


def test_grafana_behind_authelia_with_loki_datasource_and_generated_password() -> None:
    rendered = render(stack("kube-prometheus-stack", "loki"))
    values = helm_values(rendered, "kube-prometheus-stack")
    annotations = values["grafana"]["ingress"]["annotations"]
    assert annotations["traefik.ingress.kubernetes.io/router.middlewares"] == "authelia-forward-auth@kubernetescrd"
    assert values["grafana"]["ingress"]["hosts"] == ["grafana.lab.example.com"]
    assert values["grafana"]["admin"]["existingSecret"] == "grafana-admin"
    assert values["grafana"]["additionalDataSources"][0]["url"] == "http://loki.loki.svc.cluster.local:3100"
    storage = values["prometheus"]["prometheusSpec"]["storageSpec"]["volumeClaimTemplate"]["spec"]
    assert storage["storageClassName"] == "longhorn"
    assert values["prometheus"]["prometheusSpec"]["retention"] == "15d"
    assert "ServerSideApply=true" in application(rendered, "kube-prometheus-stack")["spec"]["syncPolicy"]["syncOptions"]
    assert any(s.key == "grafana_admin_password" and s.announce for s in rendered.new_secrets)
    secret = yaml.safe_load(rendered.secret_files["secrets/kube-prometheus-stack/grafana-admin.yaml"])
    assert secret["stringData"]["admin-password"] == rendered.secret_values["kube-prometheus-stack"]["grafana_admin_password"]


def test_grafana_without_authelia_has_no_middleware() -> None:
    rendered = render({"traefik": {}, "longhorn": {}, "kube-prometheus-stack": {}})
    annotations = helm_values(rendered, "kube-prometheus-stack")["grafana"]["ingress"]["annotations"]
    assert "traefik.ingress.kubernetes.io/router.middlewares" not in annotations
    assert "additionalDataSources" not in helm_values(rendered, "kube-prometheus-stack")["grafana"]


def test_k3s_control_plane_scraping_is_off_without_addresses() -> None:
    values = helm_values(render(stack("kube-prometheus-stack")), "kube-prometheus-stack")
    for key in ("kubeControllerManager", "kubeScheduler", "kubeProxy", "kubeEtcd"):
        assert values[key] == {"enabled": False}, key


def test_k3s_control_plane_scraped_at_the_server_addresses() -> None:
    values = helm_values(render(STACKS["k3s-ha-monitoring"]), "kube-prometheus-stack")
    assert values["kubeControllerManager"]["endpoints"] == ["10.0.0.11", "10.0.0.12"]
    assert values["kubeControllerManager"]["service"]["port"] == 10257
    assert values["kubeScheduler"]["service"]["port"] == 10259
    assert values["kubeProxy"]["service"]["port"] == 10249
    assert values["kubeEtcd"]["service"]["port"] == 2381


def test_loki_is_monolithic_on_longhorn_and_alloy_ships_to_it() -> None:
    rendered = render(stack("loki", "alloy", loki={"retention": "7d"}))
    loki = helm_values(rendered, "loki")
    assert loki["deploymentMode"] == "Monolithic"
    assert loki["singleBinary"]["persistence"]["storageClass"] == "longhorn"
    assert loki["loki"]["limits_config"]["retention_period"] == "7d"
    alloy = helm_values(rendered, "alloy")
    assert "http://loki.loki.svc.cluster.local:3100/loki/api/v1/push" in alloy["alloy"]["configMap"]["content"]
    assert alloy["alloy"]["mounts"] if "mounts" in alloy["alloy"] else True
    waves = {a.name: a.wave for a in rendered.plan.apps}
    assert waves["longhorn"] < waves["loki"] < waves["alloy"]


def test_cloudflared_token_is_provided_and_monitoring_is_optional() -> None:
    plain = render(stack("cloudflared"))
    assert [p.name for p in plain.missing_secrets] == ["cloudflared.tunnel_token"]
    assert not [d for _, d in documents(plain) if d["kind"] == "ServiceMonitor"]
    monitored = render(stack("cloudflared", "kube-prometheus-stack"))
    assert one(monitored, "ServiceMonitor", "cloudflared")["spec"]["endpoints"][0]["port"] == "metrics"
    waves = {a.name: a.wave for a in monitored.plan.apps}
    assert waves["kube-prometheus-stack"] < waves["cloudflared"]


def test_longhorn_backups_to_s3_with_sealed_credentials() -> None:
    rendered = render(STACKS["every-new-component"])
    values = helm_values(rendered, "longhorn")
    assert values["defaultBackupStore"] == {
        "backupTarget": "s3://backups@us-east-1/",
        "backupTargetCredentialSecret": "longhorn-backup-s3",
    }
    assert {p.name for p in rendered.missing_secrets} >= {
        "longhorn.s3_access_key_id", "longhorn.s3_secret_access_key",
    }
    assert one(rendered, "RecurringJob", "backup-daily")["spec"]["task"] == "backup"
    assert one(rendered, "RecurringJob", "snapshot-daily")["spec"]["cron"] == "0 3 * * *"


def test_longhorn_before_1_8_sets_the_backup_target_as_a_setting() -> None:
    values = helm_values(render(STACKS["old-longhorn-backups"]), "longhorn")
    assert values["defaultSettings"]["backupTarget"] == "nfs://nas:/lh"
    assert "defaultBackupStore" not in values


def test_longhorn_without_backup_store_only_snapshots() -> None:
    rendered = render(stack())
    assert "defaultBackupStore" not in helm_values(rendered, "longhorn")
    jobs = [d["metadata"]["name"] for _, d in documents(rendered) if d["kind"] == "RecurringJob"]
    assert jobs == ["snapshot-daily"]


def test_a_backup_store_needs_a_target() -> None:
    with pytest.raises(ConfigError, match="components.longhorn.backup_target: a value is needed when backup_store is s3"):
        render(stack(longhorn={"backup_store": "s3"}))


def test_k3s_plans_upgrade_servers_before_agents() -> None:
    rendered = render(stack("system-upgrade-controller", **{"system-upgrade-controller": {"k3s_version": "v1.34.2+k3s1"}}))
    server, agent = one(rendered, "Plan", "k3s-server"), one(rendered, "Plan", "k3s-agent")
    assert server["spec"]["version"] == agent["spec"]["version"] == "v1.34.2+k3s1"
    assert server["spec"]["concurrency"] == 1
    assert agent["spec"]["prepare"]["args"] == ["prepare", "k3s-server"]
    waves = {a.name: a.wave for a in rendered.plan.apps}
    assert waves["system-upgrade-controller"] < waves["system-upgrade-plans"]


def test_homepage_lists_every_ui_ingress() -> None:
    rendered = render(stack("homepage", "kube-prometheus-stack", "vaultwarden", argocd={}))
    ingresses = {d["metadata"]["name"]: d for _, d in documents(rendered) if d["kind"] == "Ingress"}
    for name in ("authelia", "vaultwarden", "homepage"):
        annotations = ingresses[name]["metadata"]["annotations"]
        assert annotations["gethomepage.dev/enabled"] == "true", name
        assert annotations["gethomepage.dev/name"], name
    assert ingresses["homepage"]["metadata"]["annotations"]["traefik.ingress.kubernetes.io/router.middlewares"]
    grafana = helm_values(rendered, "kube-prometheus-stack")["grafana"]["ingress"]["annotations"]
    assert grafana["gethomepage.dev/group"] == "Observability"
    argocd = helm_values(rendered, "argocd")["server"]["ingress"]["annotations"]
    assert argocd["gethomepage.dev/name"] == "Argo CD"


def test_no_homepage_annotations_without_homepage() -> None:
    rendered = render(stack("vaultwarden"))
    for _, doc in documents(rendered):
        annotations = doc.get("metadata", {}).get("annotations") or {}
        assert not any(k.startswith("gethomepage.dev/") for k in annotations), doc["metadata"]["name"]


# The Deployments of the new raw-manifest components, by component.
RAW_MANIFESTS = {
    "cloudflared": "kubernetes/apps/cloudflared/cloudflared.yml",
    "homepage": "kubernetes/apps/homepage/homepage.yml",
    "system-upgrade-controller": "kubernetes/system/system-upgrade-controller/controller.yml",
}


def test_raw_manifest_images_come_from_component_yaml() -> None:
    rendered = render(STACKS["every-new-component"])
    catalog = load_catalog()
    for name, path in RAW_MANIFESTS.items():
        images = [
            container["image"]
            for doc in yaml_documents(rendered.files[path])
            if doc.get("kind") == "Deployment"
            for container in doc["spec"]["template"]["spec"]["containers"]
        ]
        expected = [image.reference for image in catalog.get(name).images.values()]
        assert expected and images == expected, name


def test_new_components_stay_out_of_the_default_stack() -> None:
    catalog = load_catalog()
    assert not any(catalog.get(name).in_default_stack for name in GROWN)


# --- validate knows the new CRD groups and Pod Security levels ----------------------------------

OBSERVABILITY = EXAMPLES_DIR / "observability" / "repo"
LOCAL_SCHEMAS = Path(__file__).resolve().parent / "data" / "schemas"
SHARED_SCHEMAS = Path(__file__).resolve().parents[1].parent / "shared" / "schemas"


def validate(root: Path) -> list[dict[str, Any]]:
    import json

    run = invoke("validate", "-C", root, "--output", "json", "--offline",
                 "--schema-location", SHARED_SCHEMAS, "--schema-location", LOCAL_SCHEMAS)
    return json.loads(run.stdout)["problems"]


def test_a_workload_breaking_its_namespace_level_is_reported(tmp_path: Path) -> None:
    root = Path(shutil.copytree(OBSERVABILITY, tmp_path / "repo"))
    assert validate(root) == []
    deployment = root / "kubernetes/apps/homepage/homepage.yml"
    deployment.write_text(deployment.read_text().replace("allowPrivilegeEscalation: false", "allowPrivilegeEscalation: true"))
    (problem,) = validate(root)
    assert problem["check"] == "pod-security"
    assert "namespace 'homepage'" in problem["message"]
    assert "allowPrivilegeEscalation: false" in problem["message"]


def test_a_privileged_namespace_accepts_what_restricted_refuses(tmp_path: Path) -> None:
    root = Path(shutil.copytree(OBSERVABILITY, tmp_path / "repo"))
    controller = root / "kubernetes/system/system-upgrade-controller/controller.yml"
    controller.write_text(controller.read_text().replace("allowPrivilegeEscalation: false", "allowPrivilegeEscalation: true"))
    assert validate(root) == []


def test_a_custom_resource_in_the_wave_of_its_chart_is_caught(tmp_path: Path) -> None:
    root = Path(shutil.copytree(OBSERVABILITY, tmp_path / "repo"))
    monitor = root / "kubernetes/system/loki/servicemonitor.yaml"
    # loki's chart does not bring the ServiceMonitor CRD; kube-prometheus-stack (a later wave
    # than loki here) does, so this Application syncs too early.
    monitor.write_text(
        "apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata:\n  name: loki\n"
        "  namespace: loki\nspec:\n  selector:\n    matchLabels:\n      app: loki\n"
        "  endpoints:\n    - port: http-metrics\n"
    )
    app = root / "kubernetes/system/argocd-config/loki-extra.yaml"
    loki_app = yaml.safe_load((root / "kubernetes/system/argocd-config/loki.yaml").read_text())
    kps = yaml.safe_load((root / "kubernetes/system/argocd-config/kube-prometheus-stack.yaml").read_text())
    wave = kps["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"]
    extra = {
        **loki_app,
        "metadata": {**loki_app["metadata"], "name": "loki-extra",
                     "annotations": {"argocd.argoproj.io/sync-wave": wave}},
        "spec": {
            "project": "system",
            "source": {"repoURL": loki_app["spec"]["sources"][1]["repoURL"],
                       "targetRevision": "main", "path": "kubernetes/system/loki"},
            "destination": loki_app["spec"]["destination"],
            "syncPolicy": {"automated": {"prune": True}},
        },
    }
    app.write_text(yaml.safe_dump(extra, sort_keys=False))
    problems = [p for p in validate(root) if p["check"] == "ordering"]
    assert len(problems) == 1
    assert "whose CRD Application 'kube-prometheus-stack'" in problems[0]["message"]


def test_plans_need_the_controller_that_registers_their_crd(tmp_path: Path) -> None:
    root = Path(shutil.copytree(OBSERVABILITY, tmp_path / "repo"))
    plans = root / "kubernetes/system/argocd-config/system-upgrade-plans.yaml"
    text = plans.read_text()
    controller = yaml.safe_load((root / "kubernetes/system/argocd-config/system-upgrade-controller.yaml").read_text())
    wave = controller["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"]
    text = text.replace("      - SkipDryRunOnMissingResource=true\n", "")
    doc = yaml.safe_load(text)
    doc["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"] = wave
    plans.write_text(yaml.safe_dump(doc, sort_keys=False))
    problems = [p for p in validate(root) if p["check"] == "ordering"]
    assert problems and "'system-upgrade-controller' installs (its controller" in problems[0]["message"]


# --- add and remove through the CLI --------------------------------------------------------------

TOKEN_ENV = {
    "SCAFFOLD_CLOUDFLARE_API_TOKEN": "cf-token-for-tests-only",
    "SCAFFOLD_CLOUDFLARED_TUNNEL_TOKEN": "tunnel-token-for-tests-only",
}


@pytest.fixture(scope="module")
def full_stack_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("grown") / "homelab"
    run = invoke("init", root, "--config", EXAMPLES_DIR / "full-stack" / "scaffold.yaml", env=TOKEN_ENV)
    assert run.exit_code == 0, run.stderr
    return root


@pytest.mark.parametrize("name", GROWN)
def test_add_then_validate_then_remove_leaves_no_trace(name: str, full_stack_repo: Path, tmp_path: Path) -> None:
    root = Path(shutil.copytree(full_stack_repo, tmp_path / "repo"))
    before = read_tree(root)
    needed = {"alloy": ["loki"]}.get(name, [])
    for component in [*needed, name]:
        run = invoke("add", component, "-C", root, env=TOKEN_ENV)
        assert run.exit_code == 0, f"{component}: {run.stdout}{run.stderr}"
    assert validate(root) == []
    for component in [name, *needed]:
        run = invoke("remove", component, "--yes", "-C", root, env=TOKEN_ENV)
        assert run.exit_code == 0, f"{component}: {run.stdout}{run.stderr}"
    after = read_tree(root)
    changed = sorted(p for p in set(before) | set(after) if before.get(p) != after.get(p))
    assert changed == [], changed


def test_the_k3s_version_is_pinned_like_a_chart_version() -> None:
    catalog = load_catalog().components
    pinned = {
        name: [o.name for o in c.options.values() if o.pin]
        for name, c in catalog.items()
        if any(o.pin for o in c.options.values())
    }
    # Every image tag is pinned the same way (<key>_image_tag); the K3s release is the one
    # other version pin, Traefik's address (from MetalLB's pool) the one pin that is no version.
    tags = {name: [image_tag_option(k) for k in c.images] for name, c in catalog.items() if c.images}
    assert pinned == {
        "traefik": ["load_balancer_ip"],
        **{
            name: [*(["k3s_version"] if name == SUC else []), *tags.get(name, [])]
            for name in {*tags, SUC}
        },
    }


SUC = "system-upgrade-controller"


def k3s_default() -> str:
    return str(load_catalog().get(SUC).options["k3s_version"].default)


def k3s_pins(root: Path) -> tuple[Any, list[str]]:
    """(what scaffold.yaml says for the controller, the K3s versions Renovate finds there)."""
    import json

    from test_repo_ci_files import custom_deps

    text = (root / "scaffold.yaml").read_text(encoding="utf-8")
    config = json.loads((root / "renovate.json").read_text(encoding="utf-8"))
    found = [
        dep.version
        for deps in custom_deps(config, "scaffold.yaml", text)
        for dep in deps
        if dep.name == "k3s-io/k3s"
    ]
    entry = yaml.safe_load(text)["components"].get(SUC)
    tag = entry.pop(image_tag_option("controller"))
    assert tag == load_catalog().get(SUC).images["controller"].tag
    return entry, found


@pytest.mark.parametrize("given", [{}, {"k3s_version": "v1.33.5+k3s1"}], ids=["default", "given"])
def test_init_writes_the_k3s_version_renovate_bumps(tmp_path: Path, given: dict[str, str]) -> None:
    config = tmp_path / "answers.yaml"
    config.write_text(yaml.safe_dump({
        "repo_url": "https://github.com/alice/homelab.git",
        "components": {"traefik": {}, SUC: given},
    }))
    run = invoke("init", tmp_path / "homelab", "--config", config)
    assert run.exit_code == 0, run.stderr
    version = given.get("k3s_version", k3s_default())
    assert k3s_pins(tmp_path / "homelab") == ({"k3s_version": version}, [version])


def test_add_writes_the_k3s_version_renovate_bumps(full_stack_repo: Path, tmp_path: Path) -> None:
    root = Path(shutil.copytree(full_stack_repo, tmp_path / "repo"))
    run = invoke("add", SUC, "-C", root)
    assert run.exit_code == 0, run.stderr
    assert k3s_pins(root) == ({"k3s_version": k3s_default()}, [k3s_default()])
    # A version the user wrote stays; a later run does not touch the file.
    answers = root / "scaffold.yaml"
    answers.write_text(answers.read_text().replace(k3s_default(), "v1.33.5+k3s1"))
    before = answers.read_text()
    assert invoke("regenerate", "-C", root, "--force").exit_code == 0
    assert answers.read_text() == before
    assert k3s_pins(root) == ({"k3s_version": "v1.33.5+k3s1"}, ["v1.33.5+k3s1"])


def test_provided_secrets_are_declared_in_component_yaml() -> None:
    catalog = load_catalog()
    declared = {
        p.name: (p.alias, p.env, p.when)
        for name in ("external-dns", "cloudflared", "longhorn")
        for p in catalog.get(name).provided_secrets
    }
    s3 = (("backup_store", "s3"),)
    assert declared == {
        "external-dns.cloudflare_api_token": (
            "cloudflare_api_token", "SCAFFOLD_CLOUDFLARE_API_TOKEN", ()),
        "cloudflared.tunnel_token": (
            "cloudflared_tunnel_token", "SCAFFOLD_CLOUDFLARED_TUNNEL_TOKEN", ()),
        "longhorn.s3_access_key_id": (
            "longhorn_s3_access_key_id", "SCAFFOLD_LONGHORN_S3_ACCESS_KEY_ID", s3),
        "longhorn.s3_secret_access_key": (
            "longhorn_s3_secret_access_key", "SCAFFOLD_LONGHORN_S3_SECRET_ACCESS_KEY", s3),
    }
    (cert_manager,) = catalog.get("cert-manager").provided_secrets
    (external_dns,) = catalog.get("external-dns").provided_secrets
    assert external_dns.shares_value_with(cert_manager)


def test_one_cloudflare_token_for_every_namespace() -> None:
    from homelab_scaffold.generate.secret_values import fill_values, secret_names_for, secret_specs

    plan = render(stack("external-dns", **{"cert-manager": {"issuer": "letsencrypt-cloudflare"}})).plan
    # external-dns added to a repository whose cert-manager already has the token takes it.
    values, _ = fill_values(plan, {"cert-manager": {"cloudflare_api_token": "the-token"}})
    assert values["external-dns"]["cloudflare_api_token"] == "the-token"
    # `scaffold secret set cloudflare_api_token` sets it in both namespaces.
    assert secret_names_for("cloudflare_api_token", secret_specs(plan)) == (
        "cert-manager.cloudflare_api_token", "external-dns.cloudflare_api_token",
    )
