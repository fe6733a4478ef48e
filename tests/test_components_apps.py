"""The apps components (authelia, vaultwarden, test-app): rendered manifests, secrets, hardening."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import argon2
import jsonschema
import pytest
import yaml
from schema_check import iter_yaml_documents, validate_document

from homelab_scaffold.generate.pipeline import Rendered, render_config

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
AUTHELIA_SCHEMAS = SHARED / "schemas" / "authelia"

needs_shared = pytest.mark.skipif(
    not SHARED.is_dir(), reason=f"upstream schemas not found at {SHARED} (../shared is absent)"
)

DOMAIN = "lab.example.com"
EMAIL = "admin@example.com"
APP_DIRS = {
    "authelia": "kubernetes/apps/authelia/",
    "vaultwarden": "kubernetes/apps/vaultwarden/",
    "test-app": "kubernetes/system/test-app/",
}
APP_FILES = {
    "authelia": {
        "authelia.yml",
        "configuration.yml",
        "ingress.yml",
        "middleware.yml",
        "networkpolicy.yml",
        "pvc.yml",
    },
    "vaultwarden": {
        "vaultwarden.yml", "pvc.yml", "ingress.yml", "ingress-admin.yml", "networkpolicy.yml"
    },
    "test-app": {"test-app.yml", "ingress.yml", "networkpolicy.yml"},
}
SECRET_FILES = {
    "secrets/authelia/authelia-secrets.yaml",
    "secrets/authelia/authelia-users.yaml",
    "secrets/vaultwarden/vaultwarden-admin.yaml",
}
PHC_ARGON2ID = re.compile(r"^\$argon2id\$v=19\$m=\d+,t=\d+,p=\d+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$")
EXACT_TAG = re.compile(r"^[a-z0-9./-]+:\d+\.\d+\.\d+(-alpine)?$")


def config(components: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "repo_url": "https://github.com/alice/homelab.git",
        "target_revision": "main",
        "domain": DOMAIN,
        "email": EMAIL,
        "components": dict(components),
    }


@pytest.fixture(scope="module")
def full() -> Rendered:
    """All three apps; vaultwarden pulls in Longhorn, so Authelia gets a volume too."""
    return render_config(config({"authelia": {}, "vaultwarden": {}, "test-app": {}}))


@pytest.fixture(scope="module")
def lean() -> Rendered:
    """Authelia and the test app without Longhorn, with options set."""
    return render_config(
        config(
            {
                "authelia": {"admin_user": "ops: lead #1", "admin_email": "ops@example.org"},
                "test-app": {},
            }
        )
    )


def app_documents(rendered: Rendered, app: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, text in rendered.files.items():
        if path.startswith(APP_DIRS[app]):
            for doc in iter_yaml_documents(text):
                yield path, doc


def the_one(rendered: Rendered, app: str, kind: str, name: str | None = None) -> dict[str, Any]:
    found = [
        doc
        for _, doc in app_documents(rendered, app)
        if doc["kind"] == kind and name in (None, doc["metadata"]["name"])
    ]
    assert len(found) == 1, f"{app}: expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def secret(rendered: Rendered, path: str) -> dict[str, Any]:
    (doc,) = iter_yaml_documents(rendered.secret_files[path])
    assert doc["kind"] == "Secret"
    return doc


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    (only,) = deployment["spec"]["template"]["spec"]["containers"]
    return only


def env_of(deployment: dict[str, Any]) -> dict[str, Any]:
    return {item["name"]: item for item in container(deployment).get("env", [])}


def authelia_configuration(rendered: Rendered) -> dict[str, Any]:
    config_map = the_one(rendered, "authelia", "ConfigMap")
    return yaml.safe_load(config_map["data"]["configuration.yml"])


def users_database(rendered: Rendered) -> dict[str, Any]:
    users = secret(rendered, "secrets/authelia/authelia-users.yaml")
    return yaml.safe_load(users["stringData"]["users_database.yml"])


def authelia_schema(name: str) -> jsonschema.Draft202012Validator:
    schema = json.loads((AUTHELIA_SCHEMAS / name).read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema)


# --- what is rendered where -------------------------------------------------------------------


def test_each_app_renders_its_files_and_secrets(full: Rendered) -> None:
    for app, folder in APP_DIRS.items():
        names = {p.removeprefix(folder) for p in full.files if p.startswith(folder)}
        assert names == APP_FILES[app], app
    assert set(full.secret_files) >= SECRET_FILES


def test_applications_sit_in_the_apps_project_with_their_paths(full: Rendered) -> None:
    expected = {
        "authelia": ("authelia", "kubernetes/apps/authelia"),
        "vaultwarden": ("vaultwarden", "kubernetes/apps/vaultwarden"),
        "test-app": ("test-app", "kubernetes/system/test-app"),
    }
    for name, (namespace, path) in expected.items():
        (application,) = iter_yaml_documents(
            full.files[f"kubernetes/system/argocd-config/{name}.yaml"]
        )
        assert application["spec"]["project"] == "apps"
        assert application["spec"]["destination"]["namespace"] == namespace
        assert application["spec"]["source"]["path"] == path


def test_apps_sync_after_what_they_need(full: Rendered) -> None:
    wave = {app.name: app.wave for app in full.plan.apps}
    assert wave["authelia"] > max(wave["traefik"], wave["cert-manager-config"], wave["longhorn"])
    assert wave["vaultwarden"] > max(wave["traefik"], wave["cert-manager-config"], wave["longhorn"])
    assert wave["test-app"] > max(wave["traefik"], wave["cert-manager-config"])


def test_authelia_alone_pulls_in_traefik_and_cert_manager_but_not_longhorn(lean: Rendered) -> None:
    assert {"traefik", "cert-manager"} <= set(lean.plan.components)
    assert "longhorn" not in lean.plan.components


# --- every document is valid ---------------------------------------------------------------


@needs_shared
@pytest.mark.parametrize("which", ["full", "lean"])
def test_every_document_validates(which: str, request: pytest.FixtureRequest) -> None:
    rendered: Rendered = request.getfixturevalue(which)
    texts = {p: t for p, t in rendered.files.items() if p.startswith(tuple(APP_DIRS.values()))}
    texts.update({p: t for p, t in rendered.secret_files.items() if p in SECRET_FILES})
    checked = 0
    for path, text in sorted(texts.items()):
        for doc in iter_yaml_documents(text):
            assert validate_document(doc) == [], f"{path}: {doc['kind']} {doc['metadata']['name']}"
            checked += 1
    assert checked >= 12


@needs_shared
def test_schema_check_rejects_a_misspelled_field(full: Rendered) -> None:
    deployment = the_one(full, "vaultwarden", "Deployment")
    deployment["spec"]["template"]["spec"]["enableServiceLink"] = False
    middleware = the_one(full, "authelia", "Middleware")
    middleware["spec"]["forwardAuth"]["adress"] = "http://x"
    assert validate_document(deployment)
    assert validate_document(middleware)


# --- Authelia -----------------------------------------------------------------------------


@needs_shared
@pytest.mark.parametrize("which", ["full", "lean"])
def test_authelia_configuration_matches_the_4_39_schema(
    which: str, request: pytest.FixtureRequest
) -> None:
    # No SMTP notifier is rendered, so the schema's sender caveat (format not asserted) is moot.
    validator = authelia_schema("configuration_v4.39.json")
    configuration = authelia_configuration(request.getfixturevalue(which))
    assert list(validator.iter_errors(configuration)) == []
    configuration["session"]["cookies"][0]["domian"] = DOMAIN
    assert list(validator.iter_errors(configuration)), "the schema must reject unknown keys"


def test_authelia_configuration_settings(full: Rendered) -> None:
    configuration = authelia_configuration(full)
    assert configuration["server"]["disable_healthcheck"] is True
    backend = configuration["authentication_backend"]
    assert backend["password_reset"]["disable"] is True
    assert backend["password_change"]["disable"] is True
    assert backend["file"]["path"] == "/config/users_database.yml"
    # The guarded UIs (tests/test_sso.py), then anything else behind the Middleware.
    assert configuration["access_control"]["default_policy"] == "deny"
    assert configuration["access_control"]["rules"][-1] == {
        "domain": f"*.{DOMAIN}", "subject": "group:admins", "policy": "one_factor"
    }
    assert configuration["session"]["cookies"] == [
        {"domain": DOMAIN, "authelia_url": f"https://auth.{DOMAIN}"}
    ]
    assert configuration["storage"]["local"]["path"].startswith("/data/")
    assert configuration["notifier"]["filesystem"]["filename"].startswith("/data/")
    for key in ("jwt_secret", "secret", "encryption_key"):
        assert key not in json.dumps(configuration), "secrets come from *_FILE variables"


def test_authelia_reads_its_secrets_from_files(full: Rendered) -> None:
    deployment = the_one(full, "authelia", "Deployment")
    env = env_of(deployment)
    mounts = {m["name"]: m for m in container(deployment)["volumeMounts"]}
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    stored = secret(full, "secrets/authelia/authelia-secrets.yaml")["stringData"]
    variables = {
        "AUTHELIA_IDENTITY_VALIDATION_RESET_PASSWORD_JWT_SECRET_FILE": "jwt_secret",
        "AUTHELIA_SESSION_SECRET_FILE": "session_secret",
        "AUTHELIA_STORAGE_ENCRYPTION_KEY_FILE": "storage_encryption_key",
    }
    (secret_volume,) = [v for v in volumes.values() if "secret" in v]
    assert secret_volume["secret"]["secretName"] == "authelia-secrets"
    folder = mounts[secret_volume["name"]]["mountPath"]
    for variable, key in variables.items():
        assert env[variable]["value"] == f"{folder}/{key}"
        assert stored[key] == full.secret_values["authelia"][key]
    assert len(stored["storage_encryption_key"]) == 64


def test_authelia_pod_settings(full: Rendered) -> None:
    deployment = the_one(full, "authelia", "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    assert pod["enableServiceLinks"] is False
    for probe in ("livenessProbe", "readinessProbe"):
        assert container(deployment)[probe]["httpGet"]["path"] == "/api/health"
    projected = next(v["projected"] for v in pod["volumes"] if "projected" in v)
    sources = {
        item["path"]: source
        for source in projected["sources"]
        for kind in ("configMap", "secret")
        if kind in source
        for item in source[kind]["items"]
    }
    assert sources["configuration.yml"]["configMap"]["name"] == "authelia-config"
    assert sources["users_database.yml"]["secret"]["name"] == "authelia-users"
    config_mount = next(
        m for m in container(deployment)["volumeMounts"] if m["mountPath"] == "/config"
    )
    assert config_mount["readOnly"] is True


def test_authelia_keeps_its_database_on_longhorn_only_when_selected(
    full: Rendered, lean: Rendered
) -> None:
    def data_volume(rendered: Rendered) -> dict[str, Any]:
        volumes = the_one(rendered, "authelia", "Deployment")["spec"]["template"]["spec"]["volumes"]
        return next(v for v in volumes if v["name"] == "data")

    claim = the_one(full, "authelia", "PersistentVolumeClaim")
    assert claim["spec"]["storageClassName"] == "longhorn"
    assert data_volume(full)["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
    assert "kubernetes/apps/authelia/pvc.yml" not in lean.files
    assert "emptyDir" in data_volume(lean)


@needs_shared
@pytest.mark.parametrize("which", ["full", "lean"])
def test_users_database_matches_the_schema_and_the_generated_password(
    which: str, request: pytest.FixtureRequest
) -> None:
    rendered: Rendered = request.getfixturevalue(which)
    database = users_database(rendered)
    assert list(authelia_schema("user-database_v4.39.json").iter_errors(database)) == []
    (user,) = database["users"].values()
    assert PHC_ARGON2ID.match(user["password"])
    password = rendered.secret_values["authelia"]["admin_password"]
    assert argon2.PasswordHasher().verify(user["password"], password)
    with pytest.raises(argon2.exceptions.VerifyMismatchError):
        argon2.PasswordHasher().verify(user["password"], password + "x")


def test_users_database_takes_the_admin_options(full: Rendered, lean: Rendered) -> None:
    assert set(users_database(full)["users"]) == {"admin"}
    assert users_database(full)["users"]["admin"]["email"] == EMAIL
    (name,) = users_database(lean)["users"]
    assert name == "ops: lead #1"
    assert users_database(lean)["users"][name]["email"] == "ops@example.org"


def test_admin_password_is_announced_once(full: Rendered) -> None:
    announced = {(s.component, s.key) for s in full.new_secrets if s.announce}
    assert ("authelia", "admin_password") in announced
    assert ("authelia", "jwt_secret") not in announced


def test_middleware_forwards_to_authelia(full: Rendered) -> None:
    middleware = the_one(full, "authelia", "Middleware")
    assert middleware["apiVersion"] == "traefik.io/v1alpha1"
    forward = middleware["spec"]["forwardAuth"]
    assert forward["address"] == (
        "http://authelia.authelia.svc.cluster.local/api/authz/forward-auth"
    )
    assert {"Remote-User", "Remote-Groups", "Remote-Email", "Remote-Name"} <= set(
        forward["authResponseHeaders"]
    )
    service = the_one(full, "authelia", "Service")
    assert [p["port"] for p in service["spec"]["ports"]] == [80]


# --- Vaultwarden --------------------------------------------------------------------------


def test_vaultwarden_admin_token_is_an_argon2id_phc_string(full: Rendered) -> None:
    stored = secret(full, "secrets/vaultwarden/vaultwarden-admin.yaml")["stringData"]["ADMIN_TOKEN"]
    assert PHC_ARGON2ID.match(stored)
    token = full.secret_values["vaultwarden"]["admin_token"]
    assert argon2.PasswordHasher().verify(stored, token)
    assert ("vaultwarden", "admin_token") in {
        (s.component, s.key) for s in full.new_secrets if s.announce
    }
    # Read from a file of the mounted Secret (Vaultwarden's X_FILE), never from the environment.
    deployment = the_one(full, "vaultwarden", "Deployment")
    env = env_of(deployment)
    assert "ADMIN_TOKEN" not in env
    folder, _, key = env["ADMIN_TOKEN_FILE"]["value"].rpartition("/")
    (mount,) = [m for m in container(deployment)["volumeMounts"] if m["mountPath"] == folder]
    volume = next(
        v for v in deployment["spec"]["template"]["spec"]["volumes"] if v["name"] == mount["name"]
    )
    assert (volume["secret"]["secretName"], key) == ("vaultwarden-admin", "ADMIN_TOKEN")
    assert mount["readOnly"] is True


def test_vaultwarden_defaults(full: Rendered) -> None:
    deployment = the_one(full, "vaultwarden", "Deployment")
    env = env_of(deployment)
    assert env["SIGNUPS_ALLOWED"]["value"] == "false"
    assert env["DOMAIN"]["value"] == f"https://vault.{DOMAIN}"
    assert deployment["spec"]["strategy"]["type"] == "Recreate"
    port = container(deployment)["ports"][0]["containerPort"]
    assert port > 1024 and env["ROCKET_PORT"]["value"] == str(port)
    data = next(m for m in container(deployment)["volumeMounts"] if m["mountPath"] == "/data")
    claim = the_one(full, "vaultwarden", "PersistentVolumeClaim")
    volume = next(
        v for v in deployment["spec"]["template"]["spec"]["volumes"] if v["name"] == data["name"]
    )
    assert volume["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
    assert claim["spec"]["storageClassName"] == "longhorn"
    assert claim["spec"]["resources"]["requests"]["storage"] == "5Gi"
    ingress = the_one(full, "vaultwarden", "Ingress", "vaultwarden")
    assert ingress["spec"]["rules"][0]["host"] == f"vault.{DOMAIN}"


@pytest.mark.parametrize(
    ("hostname", "host"),
    [("pw", f"pw.{DOMAIN}"), ("vault.other.example.org", "vault.other.example.org")],
)
def test_vaultwarden_options(hostname: str, host: str) -> None:
    rendered = render_config(
        config({"vaultwarden": {"hostname": hostname, "storage_size": "20Gi"}})
    )
    ingress = the_one(rendered, "vaultwarden", "Ingress", "vaultwarden")
    assert ingress["spec"]["rules"][0]["host"] == host
    assert ingress["spec"]["tls"][0]["hosts"] == [host]
    assert (
        env_of(the_one(rendered, "vaultwarden", "Deployment"))["DOMAIN"]["value"]
        == f"https://{host}"
    )
    claim = the_one(rendered, "vaultwarden", "PersistentVolumeClaim")
    assert claim["spec"]["resources"]["requests"]["storage"] == "20Gi"


# --- all three: hardening, images, network, ingress ------------------------------------------


@pytest.mark.parametrize("app", sorted(APP_DIRS))
def test_containers_meet_the_restricted_profile(full: Rendered, app: str) -> None:
    deployment = the_one(full, app, "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] > 0
    assert pod["automountServiceAccountToken"] is False
    containers = pod["containers"] + pod.get("initContainers", [])
    for item in containers:
        context = item["securityContext"]
        assert context["runAsNonRoot"] is True
        assert context["allowPrivilegeEscalation"] is False
        assert context["capabilities"] == {"drop": ["ALL"]}
        assert context["seccompProfile"] == {"type": "RuntimeDefault"}
        assert context["readOnlyRootFilesystem"] is True
        for bound in ("requests", "limits"):
            assert set(item["resources"][bound]) == {"cpu", "memory"}, f"{item['name']} {bound}"
        for probe in ("livenessProbe", "readinessProbe"):
            assert item[probe]["httpGet"]["port"] == "http"
        writable = {m["name"] for m in item.get("volumeMounts", []) if not m.get("readOnly")}
        kinds = {v["name"]: v for v in pod.get("volumes", [])}
        assert all("emptyDir" in kinds[n] or "persistentVolumeClaim" in kinds[n] for n in writable)


@pytest.mark.parametrize("app", sorted(APP_DIRS))
def test_images_are_pinned_to_exact_versions(full: Rendered, app: str) -> None:
    for item in the_one(full, app, "Deployment")["spec"]["template"]["spec"]["containers"]:
        image = item["image"]
        assert "latest" not in image
        assert EXACT_TAG.match(image), image


def test_image_versions_follow_the_supported_lines(full: Rendered) -> None:
    authelia = container(the_one(full, "authelia", "Deployment"))["image"]
    vaultwarden = container(the_one(full, "vaultwarden", "Deployment"))["image"]
    assert re.search(r"/authelia/authelia:4\.39\.\d+$", authelia)
    assert re.search(r"/vaultwarden/server:1\.37\.\d+$", vaultwarden)


@pytest.mark.parametrize("app", sorted(APP_DIRS))
def test_network_policy_admits_only_traefik(full: Rendered, app: str) -> None:
    policy = the_one(full, app, "NetworkPolicy")["spec"]
    deployment = the_one(full, app, "Deployment")
    traefik_namespace = next(a for a in full.plan.apps if a.name == "traefik").spec.namespace
    assert policy["policyTypes"] == ["Ingress"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert policy["podSelector"]["matchLabels"].items() <= labels.items()
    port = container(deployment)["ports"][0]["containerPort"]
    assert policy["ingress"] == [
        {
            "from": [
                {
                    "namespaceSelector": {
                        "matchLabels": {"kubernetes.io/metadata.name": traefik_namespace}
                    }
                }
            ],
            "ports": [{"protocol": "TCP", "port": port}],
        }
    ]


@pytest.mark.parametrize(
    ("app", "host"), [("authelia", "auth"), ("vaultwarden", "vault"), ("test-app", "test")]
)
def test_ingress_serves_tls_with_the_cert_manager_issuer(
    full: Rendered, app: str, host: str
) -> None:
    ingress = the_one(full, app, "Ingress", app)
    issuers = {
        doc["metadata"]["name"]
        for path, text in full.files.items()
        if path.startswith("kubernetes/system/cert-manager-config/")
        for doc in iter_yaml_documents(text)
        if doc["kind"] == "ClusterIssuer"
    }
    assert ingress["metadata"]["annotations"]["cert-manager.io/cluster-issuer"] in issuers
    assert (
        ingress["metadata"]["annotations"]["cert-manager.io/cluster-issuer"]
        == (full.plan.components["cert-manager"].options["issuer"])
    )
    assert ingress["spec"]["ingressClassName"] == "traefik"
    assert ingress["spec"]["rules"][0]["host"] == f"{host}.{DOMAIN}"
    assert ingress["spec"]["tls"][0]["hosts"] == [f"{host}.{DOMAIN}"]
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    service = the_one(full, app, "Service")
    assert backend["name"] == service["metadata"]["name"]
    assert backend["port"]["name"] in {p["name"] for p in service["spec"]["ports"]}


def test_wildcard_certificate_replaces_per_host_certificates() -> None:
    rendered = render_config(
        config({"test-app": {}, "authelia": {}, "cert-manager": {"wildcard_certificate": True}})
    )
    for app in ("authelia", "test-app"):
        ingress = the_one(rendered, app, "Ingress")
        assert "cert-manager.io/cluster-issuer" not in ingress["metadata"]["annotations"]
        assert "secretName" not in ingress["spec"]["tls"][0]


def test_test_app_without_cert_manager_uses_traefiks_default_certificate() -> None:
    rendered = render_config(config({"test-app": {}}))
    assert "cert-manager" not in rendered.plan.components
    ingress = the_one(rendered, "test-app", "Ingress")
    assert "cert-manager.io/cluster-issuer" not in ingress["metadata"]["annotations"]
    assert ingress["spec"]["tls"] == [{"hosts": [f"test.{DOMAIN}"]}]


def test_secret_values_stay_out_of_tracked_files(full: Rendered) -> None:
    tracked = "\n".join(full.files.values())
    for values in full.secret_values.values():
        for value in values.values():
            assert value not in tracked
