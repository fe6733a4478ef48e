"""Offline sealing in the Bitnami Sealed Secrets format, and the key pair it seals with.

The wire format follows sealed-secrets (``pkg/crypto/crypto.go`` and the ``v1alpha1`` API):
a fresh 32-byte session key encrypts the value with AES-256-GCM under an all-zero 12-byte nonce
(safe because every session key is used once); the session key is encrypted with RSA-OAEP
(SHA-256, MGF1-SHA-256) whose label binds the value to its place in the cluster
(``namespace/name`` for strict scope, ``namespace`` for namespace-wide, empty for cluster-wide).
A sealed value is base64 of: the 2-byte big-endian length of the RSA ciphertext, the RSA
ciphertext, then the GCM ciphertext with its tag.

The key pair is brought to the controller as a ``kubernetes.io/tls`` Secret labelled
``sealedsecrets.bitnami.com/sealed-secrets-key=active`` (upstream "bring your own certificates").
"""

from __future__ import annotations

import base64
import binascii
import datetime
import functools
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, get_args

from homelab_scaffold.errors import RepoError, UsageError

if TYPE_CHECKING:
    # cryptography is imported where it is used: a repository that does not seal never pays
    # for loading it.
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

Scope = Literal["strict", "namespace-wide", "cluster-wide"]
SCOPES: tuple[Scope, ...] = get_args(Scope)

KEY_SIZE = 4096
CERTIFICATE_VALIDITY = datetime.timedelta(days=3650)
DEFAULT_COMMON_NAME = "scaffold-sealed-secrets"
KEY_FILE = "tls.key"
CERTIFICATE_FILE = "tls.crt"

API_VERSION = "bitnami.com/v1alpha1"
KEY_LABEL = "sealedsecrets.bitnami.com/sealed-secrets-key"
BOOTSTRAP_SECRET_NAME = "scaffold-sealing-key"
SCOPE_ANNOTATIONS: dict[Scope, str] = {
    "namespace-wide": "sealedsecrets.bitnami.com/namespace-wide",
    "cluster-wide": "sealedsecrets.bitnami.com/cluster-wide",
}

_SESSION_KEY_BYTES = 32
_ZERO_NONCE = bytes(12)
_LENGTH_BYTES = 2
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_SECRET_KEY = re.compile(r"[-._a-zA-Z0-9]+")


@dataclass(frozen=True)
class KeyPair:
    """The sealing key: a PEM RSA private key (PKCS#1) and its self-signed PEM certificate."""

    private_key_pem: bytes
    certificate_pem: bytes


def generate_key_pair(
    common_name: str = DEFAULT_COMMON_NAME, *, now: datetime.datetime | None = None
) -> KeyPair:
    """Create an RSA-4096 key and a self-signed certificate valid for ten years.

    Args:
        common_name: Subject and issuer CN of the certificate (1 to 64 characters).
        now: Start of the validity period; the current time when omitted.

    Returns:
        The key pair as PEM bytes.

    Raises:
        UsageError: The common name is empty or longer than 64 characters.
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    if not 1 <= len(common_name) <= 64:
        raise UsageError(f"certificate common name {common_name!r} must be 1 to 64 characters")
    start = (now or datetime.datetime.now(datetime.UTC)).replace(microsecond=0)
    key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_SIZE)
    certificate = _self_signed_certificate(key, common_name, start)
    return KeyPair(
        private_key_pem=key.private_bytes(
            serialization.Encoding.PEM,
            # PKCS#1 is what the controller writes for the keys it generates itself.
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        ),
        certificate_pem=certificate.public_bytes(serialization.Encoding.PEM),
    )


def _self_signed_certificate(
    key: rsa.RSAPrivateKey, common_name: str, start: datetime.datetime
) -> x509.Certificate:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    usage = x509.KeyUsage(
        digital_signature=False,
        content_commitment=False,
        key_encipherment=True,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + CERTIFICATE_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(usage, critical=True)
        .sign(key, hashes.SHA256())
    )


def check_key_pair(key_pair: KeyPair) -> KeyPair:
    """``key_pair`` when its key is a PEM RSA key and its certificate belongs to that key.

    Raises:
        RepoError: Unreadable PEM, not RSA, or a certificate of another key.
    """
    private_key = _load_private_key(key_pair.private_key_pem)
    public_key = _load_certificate_key(key_pair.certificate_pem, check_expiry=False)
    if private_key.public_key().public_numbers() != public_key.public_numbers():
        raise RepoError(f"{CERTIFICATE_FILE} does not belong to {KEY_FILE}")
    return key_pair


def encryption_label(namespace: str, name: str, scope: Scope) -> bytes:
    """Return the RSA-OAEP label that binds a sealed value to its namespace and name.

    Raises:
        UsageError: Unknown scope, or a name or namespace the scope needs is missing or invalid.
    """
    check_scope(scope)
    if scope == "cluster-wide":
        return b""
    check_namespace(namespace)
    if scope == "namespace-wide":
        return namespace.encode()
    check_secret_name(name)
    return f"{namespace}/{name}".encode()


def seal(value: bytes, *, namespace: str, name: str, scope: Scope, certificate_pem: bytes) -> str:
    """Encrypt one Secret value the way ``kubeseal`` does, for ``spec.encryptedData``.

    The result is random (fresh session key) on every call.

    Args:
        value: The plaintext Secret value.
        namespace: Namespace of the Secret (ignored for cluster-wide scope).
        name: Name of the Secret (ignored unless the scope is strict).
        scope: ``strict``, ``namespace-wide`` or ``cluster-wide``.
        certificate_pem: The sealing certificate.

    Returns:
        The sealed value, base64 encoded.

    Raises:
        UsageError: Bad scope, name or namespace.
        RepoError: The certificate is unreadable, not RSA, or expired.
    """
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    label = encryption_label(namespace, name, scope)
    public_key = _load_certificate_key(certificate_pem, check_expiry=True)
    session_key = os.urandom(_SESSION_KEY_BYTES)
    rsa_ciphertext = public_key.encrypt(session_key, _oaep(label))
    aes_ciphertext = AESGCM(session_key).encrypt(_ZERO_NONCE, value, None)
    length = len(rsa_ciphertext).to_bytes(_LENGTH_BYTES, "big")
    return base64.b64encode(length + rsa_ciphertext + aes_ciphertext).decode("ascii")


def unseal(
    sealed: str, *, namespace: str, name: str, scope: Scope, private_key_pem: bytes
) -> bytes:
    """Decrypt a value produced by :func:`seal` (or ``kubeseal``), as the controller would.

    Args:
        sealed: The base64 sealed value.
        namespace: Namespace the SealedSecret lives in.
        name: Name of the SealedSecret.
        scope: The scope the value was sealed with.
        private_key_pem: The sealing private key.

    Returns:
        The plaintext value.

    Raises:
        UsageError: Bad scope, name or namespace.
        RepoError: The key is unreadable, or the value does not decrypt with this key for this
            namespace, name and scope.
    """
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    label = encryption_label(namespace, name, scope)
    private_key = _load_private_key(private_key_pem)
    place = f"scope {scope} in namespace {namespace!r} as {name!r}"
    rsa_ciphertext, aes_ciphertext = _split_sealed(sealed, place)
    try:
        session_key = private_key.decrypt(rsa_ciphertext, _oaep(label))
        return AESGCM(session_key).decrypt(_ZERO_NONCE, aes_ciphertext, None)
    except (ValueError, InvalidTag) as e:
        raise RepoError(
            f"sealed value does not decrypt for {place}: sealed with another key, "
            "for another name or namespace, or altered"
        ) from e


def encrypted_data(document: Mapping[str, Any]) -> Mapping[str, Any]:
    """The ``spec.encryptedData`` of a SealedSecret document; empty when it has none."""
    spec = document.get("spec")
    encrypted = spec.get("encryptedData") if isinstance(spec, dict) else None
    return encrypted if isinstance(encrypted, dict) else {}


def seal_values(
    data: Mapping[str, bytes],
    *,
    namespace: str,
    name: str,
    scope: Scope,
    key_pair: KeyPair,
    existing: Mapping[str, Any] | None = None,
) -> dict[str, str]:
    """Seal every value of ``data``; a value whose ciphertext in ``existing`` (a SealedSecret
    document of the same scope) still decrypts to it here keeps that ciphertext, so sealing the
    same values again changes no byte.

    Args:
        data: Secret key -> plaintext value.
        namespace: Namespace of the Secret.
        name: Name of the Secret.
        scope: The scope to seal with.
        key_pair: The sealing key pair (the certificate seals, the private key checks).
        existing: The SealedSecret there now, or None to seal everything afresh.

    Returns:
        Secret key -> sealed value, sorted by key.
    """
    old: Mapping[str, Any] = {}
    if existing is not None and document_scope(existing) == scope:
        old = encrypted_data(existing)
    sealed: dict[str, str] = {}
    for key, value in sorted(data.items()):
        kept = old.get(key)
        if isinstance(kept, str):
            try:
                same = value == unseal(
                    kept,
                    namespace=namespace,
                    name=name,
                    scope=scope,
                    private_key_pem=key_pair.private_key_pem,
                )
            except (RepoError, UsageError):
                same = False  # another key, name or namespace, or damaged: seal again
            if same:
                sealed[key] = kept
                continue
        sealed[key] = seal(
            value,
            namespace=namespace,
            name=name,
            scope=scope,
            certificate_pem=key_pair.certificate_pem,
        )
    return sealed


def _split_sealed(sealed: str, place: str) -> tuple[bytes, bytes]:
    try:
        blob = base64.b64decode(sealed, validate=True)
    except (binascii.Error, ValueError) as e:
        raise RepoError(f"sealed value for {place} is not valid base64") from e
    end = _LENGTH_BYTES + int.from_bytes(blob[:_LENGTH_BYTES], "big")
    if len(blob) < _LENGTH_BYTES or len(blob) < end:
        raise RepoError(f"sealed value for {place} is too short ({len(blob)} bytes)")
    return blob[_LENGTH_BYTES:end], blob[end:]


def sealed_secret_document(
    name: str,
    namespace: str,
    encrypted: Mapping[str, str],
    *,
    secret_type: str = "Opaque",
    labels: Mapping[str, str] | None = None,
    scope: Scope = "strict",
    annotations: Mapping[str, str] | None = None,
    immutable: bool = False,
    document_annotations: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Build a ``bitnami.com/v1alpha1`` SealedSecret as ``kubeseal`` writes it.

    Scope annotations go on the SealedSecret (the controller reads them there to pick the
    decryption label) and on the template, as ``kubeseal`` does.

    Args:
        name: Name of the SealedSecret and of the Secret it produces.
        namespace: Their namespace.
        encrypted: Secret key -> value sealed with the same name, namespace and scope.
        secret_type: ``type`` of the produced Secret.
        labels: Labels of the produced Secret.
        scope: The scope the values were sealed with.
        annotations: Annotations of the produced Secret (beside the scope annotation).
        immutable: The produced Secret is immutable.
        document_annotations: More annotations of the SealedSecret itself (Argo CD's sync
            wave).

    Returns:
        The document, keys in a stable order.

    Raises:
        UsageError: Bad scope, name, namespace, or Secret key; or no values at all.
    """
    check_scope(scope)
    check_namespace(namespace)
    check_secret_name(name)
    _check_secret_keys(encrypted)
    scoped = {SCOPE_ANNOTATIONS[scope]: "true"} if scope in SCOPE_ANNOTATIONS else {}
    metadata: dict[str, Any] = {"name": name, "namespace": namespace}
    template_metadata = dict(metadata)
    if labels:
        template_metadata["labels"] = dict(sorted(labels.items()))
    if scoped or document_annotations:
        metadata["annotations"] = dict(sorted({**(document_annotations or {}), **scoped}.items()))
    if scoped or annotations:
        template_metadata["annotations"] = dict(sorted({**(annotations or {}), **scoped}.items()))
    template: dict[str, Any] = {"metadata": template_metadata, "type": secret_type}
    if immutable:
        template["immutable"] = True
    return {
        "apiVersion": API_VERSION,
        "kind": "SealedSecret",
        "metadata": metadata,
        "spec": {"encryptedData": dict(sorted(encrypted.items())), "template": template},
    }


def document_scope(document: Mapping[str, Any]) -> Scope:
    """Return the scope a SealedSecret document declares; cluster-wide wins, as upstream.

    Args:
        document: A SealedSecret as built by :func:`sealed_secret_document` or ``kubeseal``.
    """
    annotations = (document.get("metadata") or {}).get("annotations") or {}
    precedence: tuple[Scope, ...] = ("cluster-wide", "namespace-wide")
    for scope in precedence:
        if annotations.get(SCOPE_ANNOTATIONS[scope]) == "true":
            return scope
    return "strict"


def bootstrap_secret_document(
    key_pair: KeyPair, namespace: str, *, name: str = BOOTSTRAP_SECRET_NAME
) -> dict[str, Any]:
    """Build the ``kubernetes.io/tls`` Secret that hands the key pair to the controller.

    It holds the private key: write it only to the gitignored folder.

    Args:
        key_pair: The sealing key pair.
        namespace: The controller's namespace (the controller only looks there).
        name: Name of the Secret.

    Raises:
        UsageError: Bad name or namespace.
    """
    check_namespace(namespace)
    check_secret_name(name)
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace, "labels": {KEY_LABEL: "active"}},
        "type": "kubernetes.io/tls",
        "data": {
            "tls.crt": base64.b64encode(key_pair.certificate_pem).decode("ascii"),
            "tls.key": base64.b64encode(key_pair.private_key_pem).decode("ascii"),
        },
    }


def _oaep(label: bytes) -> padding.OAEP:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    return padding.OAEP(
        mgf=padding.MGF1(algorithm=hashes.SHA256()), algorithm=hashes.SHA256(), label=label
    )


@functools.lru_cache(maxsize=4)
def _load_private_key(pem: bytes) -> rsa.RSAPrivateKey:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    # The key is one scaffold generated and keeps in a 0600 file: the expensive RSA consistency
    # check (~0.5 s for 4096 bits) adds nothing here, and check_key_pair still checks that it
    # matches the certificate.
    try:
        key = serialization.load_pem_private_key(
            pem, password=None, unsafe_skip_rsa_key_validation=True
        )
    except (ValueError, TypeError) as e:
        raise RepoError("the sealing private key is not an unencrypted PEM private key") from e
    if not isinstance(key, rsa.RSAPrivateKey):
        raise RepoError(f"the sealing private key must be RSA, not {type(key).__name__}")
    return key


def _load_certificate_key(pem: bytes, *, check_expiry: bool) -> rsa.RSAPublicKey:
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import rsa

    try:
        certificate = x509.load_pem_x509_certificate(pem)
    except ValueError as e:
        raise RepoError("the sealing certificate is not a PEM X.509 certificate") from e
    key = certificate.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise RepoError(f"the sealing certificate must hold an RSA key, not {type(key).__name__}")
    expiry = certificate.not_valid_after_utc
    if check_expiry and datetime.datetime.now(datetime.UTC) > expiry:
        raise RepoError(
            f"the sealing certificate expired on {expiry:%Y-%m-%d}; rotate the sealing key"
        )
    return key


def check_scope(scope: str) -> None:
    """Refuse a scope sealed-secrets does not know.

    Raises:
        UsageError: Not strict, namespace-wide or cluster-wide.
    """
    if scope not in SCOPES:
        raise UsageError(f"sealing scope {scope!r} is not one of: {', '.join(SCOPES)}")


def check_namespace(namespace: str) -> None:
    """Refuse a namespace that is not a DNS-1123 label.

    Raises:
        UsageError: Not a valid namespace name.
    """
    if len(namespace) > 63 or not _DNS_LABEL.fullmatch(namespace):
        raise UsageError(
            f"namespace {namespace!r} is not a valid Kubernetes namespace "
            "(lowercase letters, digits and '-', at most 63 characters)"
        )


def check_secret_name(name: str) -> None:
    """Refuse a Secret name that is not a DNS-1123 subdomain.

    Raises:
        UsageError: Not a valid object name.
    """
    if len(name) > 253 or not _DNS_SUBDOMAIN.fullmatch(name):
        raise UsageError(
            f"Secret name {name!r} is not a valid Kubernetes name "
            "(lowercase letters, digits, '-' and '.', at most 253 characters)"
        )


def check_secret_key(key: str) -> None:
    """Refuse a key a Secret's ``data`` cannot hold.

    Raises:
        UsageError: Empty, too long, or other characters than letters, digits, '-', '_', '.'.
    """
    if len(key) > 253 or not _SECRET_KEY.fullmatch(key) or key in {".", ".."}:
        raise UsageError(
            f"Secret key {key!r} is invalid (letters, digits, '-', '_' and '.' only)"
        )


def _check_secret_keys(encrypted: Mapping[str, str]) -> None:
    if not encrypted:
        raise UsageError("a SealedSecret needs at least one sealed value")
    for key in sorted(encrypted):
        check_secret_key(key)
