"""Tests for offline sealing: format, scopes, documents, key files, and the component."""

from __future__ import annotations

import base64
import datetime
import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jinja2
import jsonschema
import kubernetes_validate
import pytest
from conftest import pinned
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from homelab_scaffold.generate import sealing_crypto as sealing
from homelab_scaffold.errors import RepoError, UsageError
from homelab_scaffold.repo.secret_store import SecretStore, key_files
from homelab_scaffold.generate.sealing_crypto import KeyPair
from homelab_scaffold.repo.changes import FileChange
from homelab_scaffold.repo.write import apply_changes

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
SEALED_SECRET_SCHEMA = SHARED / "schemas" / "bitnami.com" / "sealedsecret_v1alpha1.json"
CHART_DEFAULTS = (
    SHARED / "schemas" / "helm-values" / f"sealed-secrets-{pinned('sealed-secrets')}.values.yaml"
)
COMPONENT = ROOT / "templates" / "components" / "sealed-secrets"

needs_shared = pytest.mark.skipif(
    not SHARED.is_dir(), reason=f"upstream schemas not found at {SHARED} (../shared is absent)"
)


@pytest.fixture(scope="module")
def key_pair() -> KeyPair:
    return sealing.generate_key_pair()


@pytest.fixture(scope="module")
def other_key_pair() -> KeyPair:
    return sealing.generate_key_pair(common_name="someone-else")


def seal_strict(value: bytes, key_pair: KeyPair, namespace: str = "apps", name: str = "db") -> str:
    return sealing.seal(
        value,
        namespace=namespace,
        name=name,
        scope="strict",
        certificate_pem=key_pair.certificate_pem,
    )


def unseal(sealed: str, key_pair: KeyPair, namespace: str, name: str, scope: Any) -> bytes:
    return sealing.unseal(
        sealed,
        namespace=namespace,
        name=name,
        scope=scope,
        private_key_pem=key_pair.private_key_pem,
    )


# Independent implementation of the documented format (sealed-secrets pkg/crypto/crypto.go),
# written from the format description only, so a shared bug in seal/unseal cannot hide.
def oaep_sha256(label: bytes) -> padding.OAEP:
    return padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=label)


def reference_decrypt(sealed: str, private_key_pem: bytes, label: bytes) -> bytes:
    blob = base64.b64decode(sealed)
    rsa_length = (blob[0] << 8) | blob[1]
    rsa_part, gcm_part = blob[2 : 2 + rsa_length], blob[2 + rsa_length :]
    key = serialization.load_pem_private_key(private_key_pem, password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    session_key = key.decrypt(rsa_part, oaep_sha256(label))
    assert len(session_key) == 32
    return AESGCM(session_key).decrypt(b"\0" * 12, gcm_part, None)


def reference_encrypt(plaintext: bytes, certificate_pem: bytes, label: bytes) -> str:
    public_key = x509.load_pem_x509_certificate(certificate_pem).public_key()
    assert isinstance(public_key, rsa.RSAPublicKey)
    session_key = os.urandom(32)
    rsa_part = public_key.encrypt(session_key, oaep_sha256(label))
    gcm_part = AESGCM(session_key).encrypt(b"\0" * 12, plaintext, None)
    return base64.b64encode(
        bytes([len(rsa_part) >> 8, len(rsa_part) & 0xFF]) + rsa_part + gcm_part
    ).decode()


# --- seal / unseal ------------------------------------------------------------------------


@pytest.mark.parametrize("value", [b"s3cr3t", b"", "pässwörd".encode(), bytes(range(256)) * 40])
@pytest.mark.parametrize("scope", ["strict", "namespace-wide", "cluster-wide"])
def test_seal_then_unseal_returns_the_value(key_pair: KeyPair, scope: Any, value: bytes) -> None:
    sealed = sealing.seal(
        value, namespace="apps", name="db", scope=scope, certificate_pem=key_pair.certificate_pem
    )

    assert unseal(sealed, key_pair, "apps", "db", scope) == value


def test_sealed_value_layout_matches_the_format(key_pair: KeyPair) -> None:
    blob = base64.b64decode(seal_strict(b"abc", key_pair), validate=True)

    # RSA-4096 ciphertext is 512 bytes; then 3 bytes of GCM ciphertext and a 16-byte tag.
    assert blob[:2] == (512).to_bytes(2, "big")
    assert len(blob) == 2 + 512 + 3 + 16


def test_sealing_twice_gives_different_ciphertexts(key_pair: KeyPair) -> None:
    first, second = seal_strict(b"same", key_pair), seal_strict(b"same", key_pair)

    assert first != second
    assert unseal(first, key_pair, "apps", "db", "strict") == b"same"
    assert unseal(second, key_pair, "apps", "db", "strict") == b"same"


@pytest.mark.parametrize(
    ("namespace", "name", "scope"),
    [
        ("other", "db", "strict"),
        ("apps", "other", "strict"),
        ("apps", "db", "namespace-wide"),
        ("apps", "db", "cluster-wide"),
    ],
)
def test_strict_value_fails_anywhere_else(
    key_pair: KeyPair, namespace: str, name: str, scope: Any
) -> None:
    sealed = seal_strict(b"value", key_pair, namespace="apps", name="db")

    with pytest.raises(RepoError, match="does not decrypt"):
        unseal(sealed, key_pair, namespace, name, scope)


def test_namespace_wide_value_works_under_any_name_but_not_elsewhere(key_pair: KeyPair) -> None:
    sealed = sealing.seal(
        b"v",
        namespace="apps",
        name="",
        scope="namespace-wide",
        certificate_pem=key_pair.certificate_pem,
    )

    assert unseal(sealed, key_pair, "apps", "renamed", "namespace-wide") == b"v"
    assert unseal(sealed, key_pair, "apps", "another", "namespace-wide") == b"v"
    with pytest.raises(RepoError):
        unseal(sealed, key_pair, "other", "renamed", "namespace-wide")


def test_cluster_wide_value_works_in_any_namespace(key_pair: KeyPair) -> None:
    sealed = sealing.seal(
        b"v", namespace="", name="", scope="cluster-wide", certificate_pem=key_pair.certificate_pem
    )

    assert unseal(sealed, key_pair, "apps", "x", "cluster-wide") == b"v"
    assert unseal(sealed, key_pair, "kube-system", "y", "cluster-wide") == b"v"


def test_unseal_with_another_key_fails(key_pair: KeyPair, other_key_pair: KeyPair) -> None:
    sealed = seal_strict(b"value", key_pair)

    with pytest.raises(RepoError, match="does not decrypt"):
        unseal(sealed, other_key_pair, "apps", "db", "strict")


def test_unseal_rejects_an_altered_value(key_pair: KeyPair) -> None:
    blob = bytearray(base64.b64decode(seal_strict(b"value", key_pair)))
    blob[-1] ^= 0x01

    with pytest.raises(RepoError, match="does not decrypt"):
        unseal(base64.b64encode(bytes(blob)).decode(), key_pair, "apps", "db", "strict")


@pytest.mark.parametrize(
    ("sealed", "message"),
    [("not base64!", "not valid base64"), ("AgAB", "too short"), ("", "too short")],
)
def test_unseal_rejects_malformed_values(key_pair: KeyPair, sealed: str, message: str) -> None:
    with pytest.raises(RepoError, match=message):
        unseal(sealed, key_pair, "apps", "db", "strict")


# --- independent implementation ----------------------------------------------------------


@pytest.mark.parametrize(
    ("scope", "label"),
    [("strict", b"apps/db"), ("namespace-wide", b"apps"), ("cluster-wide", b"")],
)
def test_reference_decrypt_reads_what_seal_writes(
    key_pair: KeyPair, scope: Any, label: bytes
) -> None:
    sealed = sealing.seal(
        b"plain", namespace="apps", name="db", scope=scope, certificate_pem=key_pair.certificate_pem
    )

    assert reference_decrypt(sealed, key_pair.private_key_pem, label) == b"plain"


def test_reference_decrypt_with_the_wrong_label_fails(key_pair: KeyPair) -> None:
    sealed = seal_strict(b"plain", key_pair, namespace="apps", name="db")

    with pytest.raises(ValueError):
        reference_decrypt(sealed, key_pair.private_key_pem, b"apps/other")


@pytest.mark.parametrize(
    ("scope", "label"),
    [("strict", b"apps/db"), ("namespace-wide", b"apps"), ("cluster-wide", b"")],
)
def test_unseal_reads_what_the_reference_writes(
    key_pair: KeyPair, scope: Any, label: bytes
) -> None:
    sealed = reference_encrypt(b"plain", key_pair.certificate_pem, label)

    assert unseal(sealed, key_pair, "apps", "db", scope) == b"plain"


# --- input checks -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("namespace", "name", "scope", "message"),
    [
        ("apps", "db", "global", "sealing scope 'global'"),
        ("", "db", "strict", "namespace ''"),
        ("", "", "namespace-wide", "namespace ''"),
        ("apps", "", "strict", "Secret name ''"),
        ("apps", "a/b", "strict", "Secret name 'a/b'"),
        ("Apps", "db", "strict", "namespace 'Apps'"),
    ],
)
def test_seal_rejects_bad_places(
    key_pair: KeyPair, namespace: str, name: str, scope: Any, message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        sealing.seal(
            b"v",
            namespace=namespace,
            name=name,
            scope=scope,
            certificate_pem=key_pair.certificate_pem,
        )


def test_seal_refuses_an_expired_certificate() -> None:
    old = sealing.generate_key_pair(now=datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC))

    with pytest.raises(RepoError, match="expired on 2009-12-29"):
        seal_strict(b"v", old)


def test_seal_rejects_a_certificate_that_is_not_pem(key_pair: KeyPair) -> None:
    with pytest.raises(RepoError, match=r"not a PEM X\.509 certificate"):
        seal_strict(b"v", KeyPair(key_pair.private_key_pem, b"garbage"))


def test_generate_rejects_an_overlong_common_name() -> None:
    with pytest.raises(UsageError, match="common name"):
        sealing.generate_key_pair(common_name="x" * 65)


# --- key pair -----------------------------------------------------------------------------


def test_key_pair_is_rsa_4096_self_signed_for_ten_years(key_pair: KeyPair) -> None:
    certificate = x509.load_pem_x509_certificate(key_pair.certificate_pem)
    public_key = certificate.public_key()

    assert isinstance(public_key, rsa.RSAPublicKey)
    assert public_key.key_size == 4096
    assert certificate.subject == certificate.issuer
    assert certificate.subject.rfc4514_string() == f"CN={sealing.DEFAULT_COMMON_NAME}"
    validity = certificate.not_valid_after_utc - certificate.not_valid_before_utc
    assert validity == datetime.timedelta(days=3650)
    # PKCS#1, the form the controller writes for its own keys.
    assert key_pair.private_key_pem.startswith(b"-----BEGIN RSA PRIVATE KEY-----")


@pytest.fixture
def restore_umask() -> Iterator[None]:
    previous = os.umask(0o022)
    os.umask(previous)
    yield
    os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def write_pair(key_pair: KeyPair, root: Path) -> Path:
    """Write the key files the way every command does: seal.key_files through write.py."""
    files = key_files(key_pair)
    apply_changes(root, [FileChange(path, "create", text, 0o600) for path, text in files.items()])
    return root / "secrets" / "sealing-key"


@pytest.mark.parametrize("umask", [0o000, 0o022, 0o077])
def test_written_key_files_are_private_whatever_the_umask(
    tmp_path: Path, key_pair: KeyPair, umask: int, restore_umask: None
) -> None:
    os.umask(umask)

    directory = write_pair(key_pair, tmp_path)

    assert mode(directory) == 0o700
    assert mode(directory / "tls.key") == 0o600
    assert mode(directory / "tls.crt") == 0o600
    assert sorted(p.name for p in directory.iterdir()) == ["tls.crt", "tls.key"]


def test_write_then_load_returns_the_same_pair(tmp_path: Path, key_pair: KeyPair) -> None:
    write_pair(key_pair, tmp_path)
    assert SecretStore(tmp_path).key_pair() == key_pair


def test_no_key_folder_means_no_key_yet(tmp_path: Path) -> None:
    assert SecretStore(tmp_path).key_pair() is None


@pytest.mark.parametrize("kept", ["tls.key", "tls.crt"])
def test_half_a_key_pair_is_refused_with_how_to_restore(
    tmp_path: Path, key_pair: KeyPair, kept: str
) -> None:
    directory = write_pair(key_pair, tmp_path)
    (directory / ("tls.crt" if kept == "tls.key" else "tls.key")).unlink()
    with pytest.raises(RepoError, match="is missing but .* is there; restore secrets/"):
        SecretStore(tmp_path).key_pair()


def test_load_rejects_a_mismatched_pair(
    tmp_path: Path, key_pair: KeyPair, other_key_pair: KeyPair
) -> None:
    write_pair(KeyPair(key_pair.private_key_pem, other_key_pair.certificate_pem), tmp_path)

    with pytest.raises(RepoError, match="does not belong to"):
        SecretStore(tmp_path).key_pair()


# --- documents ----------------------------------------------------------------------------


def load_schema() -> dict[str, Any]:
    result: dict[str, Any] = json.loads(SEALED_SECRET_SCHEMA.read_text())
    return result


def schema_errors(document: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft4Validator(load_schema())
    # Through YAML and back, as the document is written to disk.
    round_tripped = yaml.safe_load(yaml.safe_dump(document))
    return [error.message for error in validator.iter_errors(round_tripped)]


@needs_shared
@pytest.mark.parametrize("scope", ["strict", "namespace-wide", "cluster-wide"])
def test_sealed_secret_document_validates_against_the_crd_schema(
    key_pair: KeyPair, scope: Any
) -> None:
    encrypted = {
        "password": sealing.seal(
            b"pw",
            namespace="auth",
            name="authelia",
            scope=scope,
            certificate_pem=key_pair.certificate_pem,
        )
    }
    document = sealing.sealed_secret_document(
        "authelia", "auth", encrypted, labels={"app": "authelia"}, scope=scope
    )

    assert schema_errors(document) == []


@needs_shared
def test_schema_check_catches_a_misplaced_field(key_pair: KeyPair) -> None:
    document = sealing.sealed_secret_document("db", "apps", {"k": seal_strict(b"v", key_pair)})
    document["spec"]["type"] = "Opaque"

    assert schema_errors(document) != []


def test_strict_document_has_no_scope_annotations() -> None:
    document = sealing.sealed_secret_document(
        "db",
        "apps",
        {"b": "B", "a": "A"},
        secret_type="kubernetes.io/basic-auth",
        labels={"z": "1", "a": "2"},
    )

    assert document == {
        "apiVersion": "bitnami.com/v1alpha1",
        "kind": "SealedSecret",
        "metadata": {"name": "db", "namespace": "apps"},
        "spec": {
            "encryptedData": {"a": "A", "b": "B"},
            "template": {
                "metadata": {"name": "db", "namespace": "apps", "labels": {"a": "2", "z": "1"}},
                "type": "kubernetes.io/basic-auth",
            },
        },
    }
    assert list(document["spec"]["encryptedData"]) == ["a", "b"]
    assert sealing.document_scope(document) == "strict"


@pytest.mark.parametrize(
    ("scope", "annotation"),
    [
        ("namespace-wide", "sealedsecrets.bitnami.com/namespace-wide"),
        ("cluster-wide", "sealedsecrets.bitnami.com/cluster-wide"),
    ],
)
def test_scoped_document_carries_the_scope_annotation(scope: Any, annotation: str) -> None:
    document = sealing.sealed_secret_document("db", "apps", {"k": "v"}, scope=scope)

    assert document["metadata"]["annotations"] == {annotation: "true"}
    assert document["spec"]["template"]["metadata"]["annotations"] == {annotation: "true"}
    assert sealing.document_scope(document) == scope


def test_document_scope_prefers_cluster_wide_like_upstream() -> None:
    both = {
        "metadata": {
            "annotations": {
                "sealedsecrets.bitnami.com/namespace-wide": "true",
                "sealedsecrets.bitnami.com/cluster-wide": "true",
            }
        }
    }

    assert sealing.document_scope(both) == "cluster-wide"


@pytest.mark.parametrize(
    ("encrypted", "message"), [({}, "at least one"), ({"bad key": "v"}, "Secret key 'bad key'")]
)
def test_document_rejects_bad_data(encrypted: dict[str, str], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        sealing.sealed_secret_document("db", "apps", encrypted)


def test_every_value_of_a_document_decrypts_for_its_own_place_only(key_pair: KeyPair) -> None:
    values = {"user": b"admin", "password": b"hunter2"}
    encrypted = {
        k: seal_strict(v, key_pair, namespace="apps", name="db") for k, v in values.items()
    }
    document = sealing.sealed_secret_document("db", "apps", encrypted)
    meta = document["metadata"]

    for key, value in values.items():
        sealed = document["spec"]["encryptedData"][key]
        label = f"{meta['namespace']}/{meta['name']}".encode()
        assert reference_decrypt(sealed, key_pair.private_key_pem, label) == value
        with pytest.raises(ValueError):
            reference_decrypt(sealed, key_pair.private_key_pem, b"apps/moved")


def test_bootstrap_secret_hands_the_key_pair_to_the_controller(key_pair: KeyPair) -> None:
    document = sealing.bootstrap_secret_document(key_pair, "kube-system")

    assert document["apiVersion"] == "v1"
    assert document["kind"] == "Secret"
    assert document["type"] == "kubernetes.io/tls"
    assert document["metadata"] == {
        "name": "scaffold-sealing-key",
        "namespace": "kube-system",
        "labels": {"sealedsecrets.bitnami.com/sealed-secrets-key": "active"},
    }
    assert base64.b64decode(document["data"]["tls.crt"]) == key_pair.certificate_pem
    assert base64.b64decode(document["data"]["tls.key"]) == key_pair.private_key_pem


def test_bootstrap_secret_is_a_valid_kubernetes_secret(key_pair: KeyPair) -> None:
    document = sealing.bootstrap_secret_document(key_pair, "kube-system")

    kubernetes_validate.validate(document, "1.31", strict=True)


# --- component ----------------------------------------------------------------------------


def render_values() -> dict[str, Any]:
    environment = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    template = environment.from_string(
        (COMPONENT / "sealed-secrets" / "values.yaml.j2").read_text()
    )
    component = {
        "name": "sealed-secrets",
        "namespace": "kube-system",
        "version": "2.18.5",
        "options": {},
    }
    rendered: dict[str, Any] = yaml.safe_load(template.render(component=component))
    return rendered


def test_component_pins_the_chart_in_kube_system() -> None:
    component = yaml.safe_load((COMPONENT / "component.yaml").read_text())

    assert component["namespace"] == "kube-system"
    assert component["project"] == "system"
    assert component["chart"] == {
        "repo": "https://bitnami-labs.github.io/sealed-secrets",
        "name": "sealed-secrets",
        "version": "2.18.5",
        "known": ["2.1.2", "2.18.5"],
        "crd_groups": ["bitnami.com"],
    }
    assert [app["name"] for app in component["applications"]] == ["sealed-secrets"]
    assert all("needs" not in app for app in component["applications"])


def test_values_name_the_controller_as_kubeseal_expects() -> None:
    values = render_values()

    assert values["fullnameOverride"] == "sealed-secrets-controller"
    # A string: the chart passes it through `quote`, and an integer 0 is falsy in older charts.
    assert values["keyrenewperiod"] == "0"


@needs_shared
def test_values_only_use_keys_of_the_chart_defaults() -> None:
    defaults = yaml.safe_load(CHART_DEFAULTS.read_text())

    for key, value in render_values().items():
        assert key in defaults, key
        assert type(value) is type(defaults[key]), key
