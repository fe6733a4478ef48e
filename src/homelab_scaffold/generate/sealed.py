"""Seal the rendered Secret manifests into SealedSecrets: the stage between render and write.

Every Secret a component's ``_secrets/`` templates render becomes a ``SealedSecret`` with strict
scope (bound to the Secret's namespace and name), written as a tracked file next to the
manifests of the component's Application. Sealing is random, so a value keeps its existing
ciphertext for as long as that ciphertext still decrypts, with the private key, to the same value
for the same namespace and name: regenerating an unchanged repository changes no byte.

Nothing here reads the user's tree: the key pair and the SealedSecret files now in the
repository are handed in by the command.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from homelab_scaffold.errors import RenderError
from homelab_scaffold.generate.plan import SEALED_SECRETS_COMPONENT, Plan
from homelab_scaffold.generate.render import ARGOCD_CONFIG_DIR, render_secrets
from homelab_scaffold.generate.sealing_crypto import (
    CERTIFICATE_FILE,
    KEY_FILE,
    KeyPair,
    Scope,
    bootstrap_secret_document,
    encrypted_data,
    seal_values,
    sealed_secret_document,
)
from homelab_scaffold.generate.secret_values import SECRETS_DIR, VALUES_FILE, secret_specs
from homelab_scaffold.generate.stateful import SYNC_OPTIONS
from homelab_scaffold.generate.yamltext import dump_yaml

SEALED_SUFFIX = ".sealedsecret.yaml"
KEY_DIR = f"{SECRETS_DIR}/sealing-key"
KEY_PATHS = (f"{KEY_DIR}/{KEY_FILE}", f"{KEY_DIR}/{CERTIFICATE_FILE}")
BOOTSTRAP_FILE = f"{SECRETS_DIR}/sealing-key.yaml"
SCOPE: Scope = "strict"
SYNC_WAVE = "argocd.argoproj.io/sync-wave"
SKIP_DRY_RUN = "SkipDryRunOnMissingResource=true"

_SEALED_HEADER = """\
# SealedSecret for the Secret {namespace}/{name}, sealed by scaffold (strict scope) from
# {values}. Only the key in {key_dir}/ decrypts it: change a value with
# `scaffold secret set`, not by hand.
"""
_BOOTSTRAP_HEADER = """\
# The sealing key pair for the sealed-secrets controller (gitignored; it decrypts every
# SealedSecret of this repository). Apply it once, before the root Application:
#   kubectl apply -f {path}
"""


@dataclass(frozen=True)
class Sealing:
    """What sealing needs from outside the pipeline.

    Attributes:
        key_pair: The repository's key pair; None to create one (first sealing).
        existing: Tracked SealedSecret files now in the repository, by path.
        reseal_all: Seal every value anew, even unchanged ones (key rotation).
    """

    key_pair: KeyPair | None = None
    existing: Mapping[str, str] = field(default_factory=dict)
    reseal_all: bool = False


@dataclass(frozen=True)
class SecretManifest:
    """One rendered Secret: where it came from and what it holds (plaintext, in memory only)."""

    source: str
    component: str
    name: str
    namespace: str
    type: str
    labels: Mapping[str, str]
    data: Mapping[str, bytes]


@dataclass(frozen=True)
class Holder:
    """Where a secret value ends up: a key of a Secret, and the file that carries it."""

    secret: str
    data_key: str
    path: str


def _safe_yaml() -> YAML:
    return YAML(typ="safe", pure=True)


def _documents(text: str, source: str) -> Iterator[Any]:
    try:
        yield from (doc for doc in _safe_yaml().load_all(text) if doc is not None)
    except YAMLError as exc:
        raise RenderError(f"{source}: the rendered Secret is not valid YAML: {exc}") from exc


def _secret_data(doc: Mapping[str, Any], source: str) -> dict[str, bytes]:
    data: dict[str, bytes] = {}
    for key, value in (doc.get("data") or {}).items():
        try:
            data[str(key)] = base64.b64decode(str(value), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise RenderError(f"{source}: data.{key} is not base64") from exc
    for key, value in (doc.get("stringData") or {}).items():
        data[str(key)] = str(value).encode("utf-8")
    return data


def _manifest(doc: Any, source: str) -> SecretManifest:
    if not isinstance(doc, dict) or doc.get("kind") != "Secret" or doc.get("apiVersion") != "v1":
        raise RenderError(f"{source}: every document under _secrets/ must be a v1 Secret")
    metadata = doc.get("metadata") or {}
    name, namespace = metadata.get("name"), metadata.get("namespace")
    if not isinstance(name, str) or not isinstance(namespace, str):
        raise RenderError(f"{source}: a Secret needs metadata.name and metadata.namespace")
    return SecretManifest(
        source=source,
        component=source.split("/")[1],
        name=name,
        namespace=namespace,
        type=str(doc.get("type") or "Opaque"),
        labels={str(k): str(v) for k, v in (metadata.get("labels") or {}).items()},
        data=_secret_data(doc, source),
    )


def parse_secret_manifests(secret_files: Mapping[str, str]) -> list[SecretManifest]:
    """The Secrets of rendered ``secrets/<component>/...`` files, in path order.

    Raises:
        RenderError: A document is not a v1 Secret with a name and a namespace.
    """
    return [
        _manifest(doc, path)
        for path, text in sorted(secret_files.items())
        for doc in _documents(text, path)
    ]


def sealed_path(plan: Plan, manifest: SecretManifest) -> str:
    """The tracked file of a Secret's SealedSecret, in its component's manifests Application
    (a bootstrap Secret of a component without one, Argo CD's repository credentials: in the
    root Application's folder, see :func:`root_synced_annotations`).

    Raises:
        RenderError: The component has no manifests Application to carry the SealedSecret.
    """
    apps = [a for a in plan.apps if a.component == manifest.component and a.spec.type != "helm"]
    if not apps and plan.components[manifest.component].bootstrap_secrets:
        return f"{ARGOCD_CONFIG_DIR}/{manifest.name}{SEALED_SUFFIX}"
    if not apps:
        raise RenderError(
            f"{manifest.component} renders the Secret {manifest.name} but has no manifests "
            "Application to carry its SealedSecret"
        )
    same_namespace = [a for a in apps if a.spec.namespace == manifest.namespace]
    app = (same_namespace or apps)[0]
    return f"kubernetes/{app.spec.path}/{manifest.name}{SEALED_SUFFIX}"


def _existing_document(text: str | None) -> Mapping[str, Any]:
    if text is None:
        return {}
    try:
        doc = _safe_yaml().load(text)
    except YAMLError:
        return {}
    if not isinstance(doc, dict) or doc.get("kind") != "SealedSecret":
        return {}
    metadata = doc.get("metadata")
    if not isinstance(metadata, dict) or not isinstance(metadata.get("annotations") or {}, dict):
        return {}  # hand-damaged: seal everything again rather than guess
    return doc


def carried_data_keys(text: str) -> frozenset[str]:
    """The data keys a file's Secrets or SealedSecrets carry (``data``, ``stringData``,
    ``spec.encryptedData``); none when it is not readable YAML."""
    try:
        docs = list(_safe_yaml().load_all(text))
    except YAMLError:
        return frozenset()
    keys: set[str] = set()
    for doc in docs:
        if not isinstance(doc, dict):
            continue
        for part in (doc.get("data"), doc.get("stringData"), encrypted_data(doc)):
            if isinstance(part, dict):
                keys.update(str(k) for k in part)
    return frozenset(keys)


def root_synced_annotations(plan: Plan) -> dict[str, str]:
    """What a SealedSecret the root Application syncs needs: a sync wave after the sealing
    controller's Application (the root syncs its children wave by wave, each Healthy before the
    next, so the SealedSecret CRD exists by then) and no dry run before that CRD exists."""
    sealing = [a.wave for a in plan.apps if a.component == SEALED_SECRETS_COMPONENT]
    return {
        SYNC_OPTIONS: SKIP_DRY_RUN,
        SYNC_WAVE: str(max(sealing, default=0) + 1),
    }


def _sealed_text(
    manifest: SecretManifest,
    existing: Mapping[str, Any],
    key_pair: KeyPair,
    reseal_all: bool,
    annotations: Mapping[str, str],
) -> str:
    encrypted = seal_values(
        manifest.data,
        namespace=manifest.namespace,
        name=manifest.name,
        scope=SCOPE,
        key_pair=key_pair,
        existing=None if reseal_all else existing,
    )
    document = sealed_secret_document(
        manifest.name,
        manifest.namespace,
        encrypted,
        secret_type=manifest.type,
        labels=manifest.labels,
        scope=SCOPE,
        document_annotations=annotations,
    )
    header = _SEALED_HEADER.format(
        namespace=manifest.namespace,
        name=manifest.name,
        values=VALUES_FILE,
        key_dir=KEY_DIR,
    )
    return header + dump_yaml(document)


def seal_manifests(
    plan: Plan,
    manifests: list[SecretManifest],
    key_pair: KeyPair,
    *,
    existing: Mapping[str, str],
    reseal_all: bool = False,
) -> dict[str, str]:
    """Every Secret as a tracked SealedSecret file: {path: text}.

    Args:
        plan: The plan (where each component's manifests live).
        manifests: The rendered Secrets.
        key_pair: The sealing key pair (its certificate seals, its private key checks).
        existing: Current SealedSecret files by path; unchanged values keep their ciphertext.
        reseal_all: Ignore the existing ciphertexts.

    Raises:
        RenderError: Two Secrets would be sealed into the same file, or a component has no
            manifests Application.
    """
    files: dict[str, str] = {}
    for manifest in manifests:
        path = sealed_path(plan, manifest)
        if path in files:
            raise RenderError(f"two Secrets named {manifest.name} would be sealed into {path}")
        old = _existing_document(existing.get(path))
        annotations = root_synced_annotations(plan) if path.startswith(ARGOCD_CONFIG_DIR) else {}
        files[path] = _sealed_text(manifest, old, key_pair, reseal_all, annotations)
    return dict(sorted(files.items()))


def sealing_namespace(plan: Plan) -> str:
    """The namespace of the sealed-secrets controller (where its key Secret goes)."""
    return plan.components[SEALED_SECRETS_COMPONENT].component.namespace


def bootstrap_text(plan: Plan, key_pair: KeyPair) -> str:
    """The gitignored ``kubernetes.io/tls`` Secret handing the key pair to the controller."""
    document = bootstrap_secret_document(key_pair, sealing_namespace(plan))
    return _BOOTSTRAP_HEADER.format(path=BOOTSTRAP_FILE) + dump_yaml(document)


def _marker(index: int) -> str:
    return f"scaffold-secret-{index:04d}-marker"


def _readable_hash(value: str) -> str:
    return f"hash({value})"


def secret_holders(plan: Plan) -> dict[str, list[Holder]]:
    """For every secret value (``component.key``), the Secret keys that carry it, and where.

    The Secrets are rendered with a marker in place of each value (and a hash filter that keeps
    the marker readable), so no value or key is needed; the answer never holds a value.
    """
    names = list(secret_specs(plan))
    markers = {name: _marker(i) for i, name in enumerate(names)}
    values: dict[str, dict[str, str]] = {}
    for name, marker in markers.items():
        component, _, key = name.partition(".")
        values.setdefault(component, {})[key] = marker
    rendered = render_secrets(plan, values, _readable_hash)
    manifests = parse_secret_manifests(rendered)
    holders: dict[str, list[Holder]] = {name: [] for name in names}
    for manifest in manifests:
        path = sealed_path(plan, manifest) if plan.sealed else manifest.source
        for data_key, data in sorted(manifest.data.items()):
            text = data.decode("utf-8", errors="replace")
            for name, marker in markers.items():
                if marker in text:
                    secret = f"{manifest.namespace}/{manifest.name}"
                    holders[name].append(Holder(secret, data_key, path))
    return holders
