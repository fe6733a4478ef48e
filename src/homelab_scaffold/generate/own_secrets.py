"""Your own Secrets, sealed like ``kubeseal`` does (``scaffold secret seal``): pure, in memory.

A Secret the user brings (``--from-literal``, ``--from-file``, or a Secret manifest) becomes a
SealedSecret file in the manifests folder of the Application that deploys into its namespace.
scaffold never generated such a file, so the state does not list it: regenerate, drift and
remove leave it alone, and Argo CD picks it up with the rest of the folder (a directory
Application reads every manifest in its folder).

The file carries ``SkipDryRunOnMissingResource`` for Argo CD: the SealedSecret CRD comes from
the sealed-secrets Application, which may sync in the same wave as the folder's Application;
with the option (and the retry every Application has) the first sync waits for the CRD instead
of failing.

Re-sealing keeps the ciphertext of every value that still decrypts to the same plaintext for
the same place, so sealing the same input twice changes no byte.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from homelab_scaffold.errors import UsageError
from homelab_scaffold.generate.plan import Plan, PlannedApp
from homelab_scaffold.generate.sealed import SEALED_SUFFIX, SKIP_DRY_RUN
from homelab_scaffold.generate.sealing_crypto import (
    KeyPair,
    Scope,
    check_namespace,
    check_scope,
    check_secret_key,
    check_secret_name,
    document_scope,
    encrypted_data,
    seal_values,
    sealed_secret_document,
)
from homelab_scaffold.generate.stateful import SYNC_OPTIONS
from homelab_scaffold.generate.yamltext import dump_yaml
from homelab_scaffold.suggest import unknown
from homelab_scaffold.yamlio import YAMLLimitError, check_yaml_limits

DEFAULT_TYPE = "Opaque"
# Annotations kubectl adds that must not travel into the sealed Secret.
_DROPPED_ANNOTATIONS = ("kubectl.kubernetes.io/last-applied-configuration",)

_HEADER = """\
# SealedSecret for the Secret {namespace}/{name} ({scope} scope), sealed by
# `scaffold secret seal`. Only the key in secrets/sealing-key/ decrypts it: seal it again to
# change it. scaffold did not generate it, so regenerate never changes or deletes it.
"""


@dataclass(frozen=True)
class OwnSecret:
    """A Secret to seal (plaintext, in memory only).

    Attributes:
        name: Its name (a DNS-1123 subdomain).
        namespace: Its namespace (a DNS-1123 label).
        data: Secret key -> value.
        type: Its ``type`` (Opaque unless given).
        labels: Labels of the Secret the controller creates.
        annotations: Annotations of that Secret.
        immutable: The Secret is immutable.
    """

    name: str
    namespace: str
    data: Mapping[str, bytes]
    type: str = DEFAULT_TYPE
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    immutable: bool = False

    def check(self) -> OwnSecret:
        """The secret itself, once its name, namespace, keys and type are valid.

        Raises:
            UsageError: What is wrong (never a value).
        """
        check_secret_name(self.name)
        check_namespace(self.namespace)
        if not self.data:
            raise UsageError(
                f"Secret {self.namespace}/{self.name} has no values; give --from-literal "
                "KEY=VALUE, --from-file [KEY=]PATH, or a manifest with data or stringData"
            )
        for key in self.data:
            check_secret_key(key)
        if not self.type.strip() or "\n" in self.type:
            raise UsageError(f"Secret type {self.type!r} is not a valid type")
        return self


def split_pair(text: str, option: str) -> tuple[str, str]:
    """``KEY=VALUE`` of ``--from-literal``: (key, value). The value is never in a message.

    Raises:
        UsageError: No ``=``, or an empty key.
    """
    key, equals, value = text.partition("=")
    if not equals or not key:
        raise UsageError(f"{option} needs KEY=VALUE (the key before the first '=')")
    check_secret_key(key)
    return key, value


def file_key(text: str) -> tuple[str, str]:
    """``[KEY=]PATH`` of ``--from-file``: (key, path); the key defaults to the file's name.

    Raises:
        UsageError: An empty path, or a key a Secret cannot hold.
    """
    key, equals, path = text.partition("=")
    if not equals:
        key, path = text.rstrip("/").rsplit("/", 1)[-1], text
    if not path:
        raise UsageError("--from-file needs [KEY=]PATH, e.g. --from-file ca.crt=./ca.pem")
    check_secret_key(key)
    return key, path


def collect_data(pairs: list[tuple[str, bytes]]) -> dict[str, bytes]:
    """The values by key.

    Raises:
        UsageError: A key given twice.
    """
    data: dict[str, bytes] = {}
    for key, value in pairs:
        if key in data:
            raise UsageError(f"Secret key {key!r} is given twice")
        data[key] = value
    return data


def secret_from_manifest(text: str, source: str) -> OwnSecret:
    """The Secret a manifest describes (``kubectl create secret ... -o yaml``, or by hand).

    Raises:
        UsageError: Not YAML, not exactly one v1 Secret, or values that are not base64.
    """
    doc = _one_document(text, source)
    if not isinstance(doc, dict) or doc.get("kind") != "Secret" or doc.get("apiVersion") != "v1":
        kind = doc.get("kind") if isinstance(doc, dict) else None
        raise UsageError(
            f"{source} is {'a ' + kind if isinstance(kind, str) else 'not a Kubernetes object'}, "
            "not a v1 Secret; give a Secret manifest (kind: Secret)"
        )
    metadata = _mapping(doc.get("metadata"), f"{source}: metadata")
    immutable = doc.get("immutable", False)
    if not isinstance(immutable, bool):
        raise UsageError(f"{source}: immutable must be true or false")
    annotations = _strings(metadata.get("annotations"), f"{source}: metadata.annotations")
    return OwnSecret(
        name=_text(metadata.get("name"), f"{source}: metadata.name"),
        namespace=_text(metadata.get("namespace"), f"{source}: metadata.namespace"),
        data=_manifest_data(doc, source),
        type=_text(doc.get("type"), f"{source}: type") or DEFAULT_TYPE,
        labels=_strings(metadata.get("labels"), f"{source}: metadata.labels"),
        annotations={k: v for k, v in annotations.items() if k not in _DROPPED_ANNOTATIONS},
        immutable=immutable,
    )


def _one_document(text: str, source: str) -> Any:
    try:
        check_yaml_limits(text)
        documents = [d for d in YAML(typ="safe", pure=True).load_all(text) if d is not None]
    except YAMLLimitError as exc:
        raise UsageError(f"{source} {exc}") from None
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise UsageError(f"{source} is not valid YAML{where}") from None
    if len(documents) != 1:
        raise UsageError(
            f"{source} holds {len(documents)} YAML documents; give exactly one Secret"
        )
    return documents[0]


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise UsageError(f"{where} must be a mapping")
    return value


def _text(value: Any, where: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise UsageError(f"{where} must be a string")
    return value


def _strings(value: Any, where: str) -> dict[str, str]:
    mapping = _mapping(value, where)
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in mapping.items()):
        raise UsageError(f"{where} must map strings to strings")
    return dict(mapping)


def _manifest_data(doc: Mapping[str, Any], source: str) -> dict[str, bytes]:
    data: dict[str, bytes] = {}
    for key, value in _mapping(doc.get("data"), f"{source}: data").items():
        if not isinstance(value, str):
            raise UsageError(f"{source}: data.{key} must be a base64 string")
        try:
            data[str(key)] = base64.b64decode("".join(value.split()), validate=True)
        except (binascii.Error, ValueError):
            raise UsageError(f"{source}: data.{key} is not valid base64") from None
    # As the API server does: stringData wins over data for the same key.
    for key, value in _mapping(doc.get("stringData"), f"{source}: stringData").items():
        if not isinstance(value, str):
            raise UsageError(f"{source}: stringData.{key} must be a string")
        data[str(key)] = value.encode("utf-8")
    return data


def manifests_apps(plan: Plan) -> list[PlannedApp]:
    """The raw-manifest Applications of the plan (folders Argo CD applies as they are)."""
    return [app for app in plan.apps if app.spec.type == "manifests"]


def app_folder(app: PlannedApp) -> str:
    """The repository folder an Application deploys."""
    return f"kubernetes/{app.spec.path}"


def choose_app(plan: Plan, namespace: str, wanted: str | None) -> PlannedApp:
    """The Application whose folder receives a SealedSecret for ``namespace``.

    Args:
        plan: The repository's plan.
        namespace: The Secret's namespace.
        wanted: The Application the user named (``--app``), if any.

    Raises:
        UsageError: ``wanted`` is not a raw-manifest Application; or, without it, no or several
            Applications deploy into ``namespace`` (the message lists the valid choices).
    """
    apps = manifests_apps(plan)
    if wanted is not None:
        named = [a for a in apps if a.name == wanted]
        if not named:
            raise UsageError(unknown("raw-manifest Application", wanted, [a.name for a in apps]))
        return named[0]
    here = [a for a in apps if a.spec.namespace == namespace]
    if len(here) == 1:
        return here[0]
    if here:
        names = ", ".join(a.name for a in here)
        raise UsageError(
            f"several Applications deploy into namespace {namespace}: pass --app with one of "
            f"{names} (or --output-file PATH)"
        )
    listed = ", ".join(sorted(f"{a.name} ({a.spec.namespace})" for a in apps)) or "none"
    raise UsageError(
        f"no raw-manifest Application deploys into namespace {namespace}; pass --app NAME "
        f"(one of: {listed}), add one with `scaffold add manifests-app {namespace}`, "
        "or pass --output-file PATH"
    )


def sealed_file_name(name: str) -> str:
    """The file name of a Secret's SealedSecret."""
    return f"{name}{SEALED_SUFFIX}"


@dataclass(frozen=True)
class SealedPlace:
    """Where a SealedSecret file is now, and for which Secret."""

    path: str
    namespace: str
    name: str


def sealed_place(path: str, text: str) -> SealedPlace | None:
    """The namespace and name of the SealedSecret in ``text``; None when it is not one."""
    doc = _sealed_document(text)
    if doc is None:
        return None
    metadata = doc.get("metadata")
    if not isinstance(metadata, dict):
        return None
    name, namespace = metadata.get("name"), metadata.get("namespace")
    if not isinstance(name, str) or not isinstance(namespace, str):
        return None
    return SealedPlace(path, namespace, name)


def holds_sealed_secret(text: str) -> bool:
    """True when a manifest file holds a SealedSecret (any of its YAML documents)."""
    if "SealedSecret" not in text:
        return False
    try:
        documents = list(YAML(typ="safe", pure=True).load_all(text))
    except YAMLError:
        return False
    return any(isinstance(d, dict) and d.get("kind") == "SealedSecret" for d in documents)


def _sealed_document(text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    try:
        doc = YAML(typ="safe", pure=True).load(text)
    except YAMLError:
        return None
    if not isinstance(doc, dict) or doc.get("kind") != "SealedSecret":
        return None
    return doc


def sealed_text(
    secret: OwnSecret,
    key_pair: KeyPair,
    *,
    scope: Scope,
    existing: str | None = None,
    merge: bool = False,
) -> str:
    """The SealedSecret file of ``secret``.

    Args:
        secret: The Secret (checked).
        key_pair: The repository's key pair (the certificate seals; the private key checks
            which existing ciphertexts still hold the same value).
        scope: strict, namespace-wide or cluster-wide.
        existing: The file now at the target path, if any.
        merge: Keep the existing file's other values (like ``kubeseal --merge-into``).

    Raises:
        UsageError: Bad scope, or ``merge`` into a file of another Secret or scope.
    """
    check_scope(scope)
    old = _sealed_document(existing) or {}
    kept_others = _merged_values(old, secret, scope) if merge else {}
    encrypted = {
        **kept_others,
        **seal_values(
            secret.data,
            namespace=secret.namespace,
            name=secret.name,
            scope=scope,
            key_pair=key_pair,
            existing=old,
        ),
    }
    document = sealed_secret_document(
        secret.name,
        secret.namespace,
        encrypted,
        secret_type=secret.type,
        labels=secret.labels,
        scope=scope,
        annotations=secret.annotations,
        immutable=secret.immutable,
        document_annotations={SYNC_OPTIONS: SKIP_DRY_RUN},
    )
    header = _HEADER.format(namespace=secret.namespace, name=secret.name, scope=scope)
    return header + dump_yaml(document)


def _merged_values(old: Mapping[str, Any], secret: OwnSecret, scope: Scope) -> dict[str, str]:
    """The sealed values of the existing file that ``secret`` does not give anew."""
    if not old:
        return {}
    metadata = _mapping(old.get("metadata"), "the existing SealedSecret's metadata")
    place = (metadata.get("namespace"), metadata.get("name"))
    if place != (secret.namespace, secret.name) or document_scope(old) != scope:
        raise UsageError(
            f"--merge: the existing file seals {place[0]}/{place[1]} with "
            f"{document_scope(old)} scope, not {secret.namespace}/{secret.name} with {scope} "
            "scope; seal without --merge to replace it"
        )
    kept = encrypted_data(old)
    return {str(k): v for k, v in kept.items() if isinstance(v, str) and k not in secret.data}


@dataclass(frozen=True)
class SealedSummary:
    """What a SealedSecret of the user's says about itself: never a value (not even a
    ciphertext)."""

    path: str
    name: str
    namespace: str
    scope: Scope
    type: str
    keys: tuple[str, ...]


def sealed_summaries(path: str, text: str) -> list[SealedSummary]:
    """Every SealedSecret in a manifest file (``secret seal``'s or kubeseal's): its name,
    namespace, scope, Secret type and keys. Unreadable YAML gives none."""
    try:
        documents = list(YAML(typ="safe", pure=True).load_all(text))
    except YAMLError:
        return []
    found = []
    for doc in documents:
        if not isinstance(doc, dict) or doc.get("kind") != "SealedSecret":
            continue
        metadata = doc.get("metadata")
        metadata = metadata if isinstance(metadata, dict) else {}
        spec = doc.get("spec")
        template = spec.get("template") if isinstance(spec, dict) else None
        secret_type = template.get("type") if isinstance(template, dict) else None
        found.append(
            SealedSummary(
                path=path,
                name=str(metadata.get("name") or ""),
                namespace=str(metadata.get("namespace") or ""),
                scope=document_scope(doc),
                type=secret_type if isinstance(secret_type, str) else DEFAULT_TYPE,
                keys=tuple(sorted(str(k) for k in encrypted_data(doc))),
            )
        )
    return found
