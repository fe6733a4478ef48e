"""Schema validation: built-in kinds against Kubernetes' strict schemas, the rest kubeconform-style.

Custom resources are looked up as ``{group}/{kind}_{version}.json`` (kind lowercased) in each
schema location in turn: a local directory, an http(s) base URL, a kubeconform template with
``{{.Group}}``/``{{.ResourceKind}}``/``{{.ResourceAPIVersion}}``, or ``default``: a per-user cache
filled from the public CRDs catalog on first use. jsonschema and kubernetes_validate are imported
only when a document is actually checked.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from homelab_scaffold import __version__
from homelab_scaffold.catalog.schema import dotted, unexpected_keys
from homelab_scaffold.errors import NetworkError, UsageError
from homelab_scaffold.inspect import http
from homelab_scaffold.inspect.model import Document, Problem
from homelab_scaffold.usercache import user_cache_dir, write_atomically

CHECK = "schema"
CATALOG_URL = "https://raw.githubusercontent.com/datreeio/CRDs-catalog/main"
DEFAULT_LOCATION = "default"
MAX_ERRORS = 20
MAX_KNOWN_VALID = 20_000
_NAME = re.compile(r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$")
_VERSION = re.compile(r"^v[0-9a-z]+$")
_KIND = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")
_PLACEHOLDER = re.compile(r"\{\{\s*\.(\w+)\s*\}\}")


def _VALID_CACHE() -> Path:  # noqa: N802 - a constant that depends on the environment
    return user_cache_dir("validated", f"{__version__}.json")


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/scaffold/schemas`` (``~/.cache/scaffold/schemas`` by default)."""
    return user_cache_dir("schemas")


# The API groups Kubernetes itself serves (1.33 and later; "" is the core group): the union of
# the groups in kubernetes-validate's schemas. Any other group, including CRD groups that end in
# .k8s.io (gateway.networking.k8s.io, snapshot.storage.k8s.io, externaldns.k8s.io), is looked up
# like any custom resource and ordered after the Application that installs its CRD.
BUILTIN_GROUPS = frozenset({
    "",
    "admission.k8s.io",
    "admissionregistration.k8s.io",
    "apiextensions.k8s.io",
    "apiregistration.k8s.io",
    "apps",
    "authentication.k8s.io",
    "authorization.k8s.io",
    "autoscaling",
    "batch",
    "certificates.k8s.io",
    "coordination.k8s.io",
    "discovery.k8s.io",
    "events.k8s.io",
    "extensions",
    "flowcontrol.apiserver.k8s.io",
    "imagepolicy.k8s.io",
    "internal.apiserver.k8s.io",
    "lifecycle.k8s.io",
    "networking.k8s.io",
    "node.k8s.io",
    "policy",
    "rbac.authorization.k8s.io",
    "resource.k8s.io",
    "scheduling.k8s.io",
    "storage.k8s.io",
    "storagemigration.k8s.io",
})


@dataclass(frozen=True)
class SchemaKey:
    """What a schema file is named after."""

    group: str
    kind: str
    version: str

    @property
    def relative(self) -> str:
        """``{group}/{kind}_{version}.json`` as in the CRDs catalog."""
        return f"{self.group}/{self.kind.lower()}_{self.version}.json"

    def fill(self, template: str) -> str:
        """A kubeconform template with this key's values."""
        values = {
            "Group": self.group,
            "ResourceKind": self.kind.lower(),
            "ResourceAPIVersion": self.version,
            "Kind": self.kind,
        }
        return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), template)


@dataclass(frozen=True)
class Found:
    """A schema, where it came from; ``error`` says why a found file is unusable."""

    schema: dict[str, Any] | None
    where: str
    error: str = ""


class _Location:
    """One --schema-location; subclasses know how to look a key up."""

    label: str

    def find(self, key: SchemaKey, store: SchemaStore) -> Found | None:
        raise NotImplementedError


class _DirLocation(_Location):
    def __init__(self, template: str) -> None:
        self.template = template
        self.label = template

    def find(self, key: SchemaKey, store: SchemaStore) -> Found | None:
        if _PLACEHOLDER.search(self.template):
            path = Path(key.fill(self.template))
        else:
            path = Path(self.template) / key.relative
        return _read_schema_file(path) if path.is_file() else None


class _UrlLocation(_Location):
    def __init__(self, template: str) -> None:
        self.template = template
        self.label = template

    def find(self, key: SchemaKey, store: SchemaStore) -> Found | None:
        if store.offline:
            return None
        if _PLACEHOLDER.search(self.template):
            url = key.fill(self.template)
        else:
            url = self.template.rstrip("/") + "/" + key.relative
        body = store.fetch(url)
        return None if body is None else _parse_schema(body, url)


class _CatalogLocation(_Location):
    """The per-user cache, filled from the CRDs catalog when a schema is missing."""

    def __init__(self, cache_dir: Path, catalog_url: str) -> None:
        self.cache_dir = cache_dir
        self.catalog_url = catalog_url.rstrip("/")
        self.label = f"{cache_dir} (cache of {self.catalog_url})"

    def find(self, key: SchemaKey, store: SchemaStore) -> Found | None:
        cached = self.cache_dir / key.relative
        if cached.is_file():
            return _read_schema_file(cached)
        if store.offline:
            return None
        url = f"{self.catalog_url}/{key.relative}"
        store.announce_download(self.catalog_url, self.cache_dir)
        body = store.fetch(url)
        if body is None:
            return None
        found = _parse_schema(body, url)
        if found.schema is not None:
            write_atomically(cached, body)
            store.downloaded.append(key.relative)
        return found


def _read_schema_file(path: Path) -> Found:
    try:
        return _parse_schema(path.read_bytes(), str(path))
    except OSError as exc:
        return Found(None, str(path), f"cannot be read: {exc.strerror}")


def _parse_schema(body: bytes, where: str) -> Found:
    try:
        schema = json.loads(body)
    except (ValueError, RecursionError):
        return Found(None, where, "is not valid JSON")
    if not isinstance(schema, dict):
        return Found(None, where, "is not a JSON schema object")
    return Found(schema, where)


def parse_location(text: str, cache_dir: Path, catalog_url: str) -> _Location:
    """One --schema-location value; a local directory that does not exist is a usage error."""
    if text == DEFAULT_LOCATION:
        return _CatalogLocation(cache_dir, catalog_url)
    if text.startswith(("http://", "https://")):
        return _UrlLocation(text)
    base = _PLACEHOLDER.split(text, maxsplit=1)[0]
    directory = Path(base) if not _PLACEHOLDER.search(text) else Path(base).parent
    if not directory.is_dir():
        raise UsageError(
            f"--schema-location {text}: no such directory; give a directory, an http(s) URL, "
            f"or '{DEFAULT_LOCATION}'"
        )
    return _DirLocation(text)


class SchemaStore:
    """Finds schemas across the locations and remembers what it found, fetched and skipped."""

    def __init__(
        self,
        locations: Sequence[str] = (),
        *,
        offline: bool = False,
        cache_dir: Path | None = None,
        catalog_url: str = CATALOG_URL,
        timeout: float = 20.0,
        notify: Callable[[str], None] | None = None,
    ) -> None:
        cache = cache_dir or default_cache_dir()
        texts = list(locations) or [DEFAULT_LOCATION]
        self.locations = [parse_location(t, cache, catalog_url) for t in texts]
        self.offline = offline
        self.timeout = timeout
        self.notify = notify
        self.downloaded: list[str] = []
        self.skipped: set[str] = set()
        self._announced = False
        self._found: dict[SchemaKey, Found | None] = {}
        self._validators: dict[str, Any] = {}
        self._fingerprints: dict[str, str] = {}
        self._valid: dict[str, None] | None = None
        self._valid_added = False

    # Documents already known to match their schema: a scaffold repository's 300 Applications
    # cost a second of jsonschema per run, and most of them do not change between runs.

    def _known_valid(self) -> dict[str, None]:
        if self._valid is None:
            try:
                keys = json.loads(_VALID_CACHE().read_text(encoding="utf-8"))
                self._valid = dict.fromkeys(k for k in keys if isinstance(k, str))
            except (OSError, ValueError, TypeError):
                self._valid = {}
        return self._valid

    def validity_key(self, found: Found, body: Any) -> str:
        """What a document's validity against a schema depends on, hashed."""
        if found.where not in self._fingerprints:
            text = json.dumps(found.schema, sort_keys=True, default=str)
            self._fingerprints[found.where] = hashlib.sha256(text.encode()).hexdigest()
        document = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
        data = f"{self._fingerprints[found.where]}\n{document}".encode()
        return hashlib.sha256(data).hexdigest()

    def known_valid(self, key: str) -> bool:
        """True when this document was checked against this schema and matched."""
        return key in self._known_valid()

    def remember_valid(self, key: str) -> None:
        """Note that a document matched its schema."""
        self._known_valid()[key] = None
        self._valid_added = True

    def save(self) -> None:
        """Keep the known-valid documents for the next run (the most recent ones only)."""
        if not self._valid_added or self._valid is None:
            return
        keys = list(self._valid)[-MAX_KNOWN_VALID:]
        write_atomically(_VALID_CACHE(), json.dumps(keys).encode())

    def fetch(self, url: str) -> bytes | None:
        """Read a URL (None when it does not exist)."""
        return http.fetch(url, self.timeout)

    def announce_download(self, catalog_url: str, cache_dir: Path) -> None:
        """Tell the user once that schemas are being downloaded, and where to."""
        if not self._announced and self.notify is not None:
            self.notify(
                f"Downloading JSON schemas from {catalog_url} into {cache_dir} "
                "(first use; later runs reuse them, --offline skips missing ones)"
            )
        self._announced = True

    def lookup(self, key: SchemaKey) -> Found | None:
        """The first location's schema for ``key``, None when no location has one."""
        if key not in self._found:
            self._found[key] = self._search(key)
        return self._found[key]

    def _search(self, key: SchemaKey) -> Found | None:
        for location in self.locations:
            try:
                found = location.find(key, self)
            except NetworkError as exc:
                raise NetworkError(
                    f"{exc.message}; pass --offline to skip schemas that cannot be fetched"
                ) from exc
            if found is not None:
                return found
        return None

    def where(self) -> str:
        """The locations, for messages."""
        return ", ".join(location.label for location in self.locations)

    def validator(self, found: Found) -> Any:
        """A jsonschema validator for a found schema (Draft 4 unless it declares another)."""
        if found.where not in self._validators:
            from jsonschema import validators  # type: ignore[import-untyped]

            cls = validators.validator_for(found.schema, default=validators.Draft4Validator)
            self._validators[found.where] = cls(found.schema)
        return self._validators[found.where]


def check_schemas(documents: Sequence[Document], store: SchemaStore) -> list[Problem]:
    """A problem for each document that does not match its schema (or has none, unless offline)."""
    problems: list[Problem] = []
    for doc in documents:
        if isinstance(doc.body, dict) and doc.api_version and doc.kind:
            problems.extend(_check_document(doc, store))
    return problems


def _check_document(doc: Document, store: SchemaStore) -> list[Problem]:
    key = SchemaKey(doc.group, doc.kind, doc.version)
    if not _valid_key(key):
        return [doc.problem(CHECK, f"apiVersion {doc.api_version!r} with kind {doc.kind!r} "
                                   "is not a valid Kubernetes API name")]
    if key.group in BUILTIN_GROUPS:
        builtin = _check_builtin(doc)
        if builtin is not None:
            return builtin
        return [doc.problem(CHECK, f"Kubernetes has no kind {doc.kind} in apiVersion "
                                   f"{doc.api_version}")]
    found = store.lookup(key)
    if found is None:
        return _no_schema(doc, key, store)
    if found.schema is None:
        return [doc.problem(CHECK, f"the schema {found.where} {found.error}")]
    return _check_against(doc, found, store)


def _valid_key(key: SchemaKey) -> bool:
    group_ok = key.group == "" or bool(_NAME.match(key.group))
    return group_ok and bool(_VERSION.match(key.version)) and bool(_KIND.match(key.kind))


def _no_schema(doc: Document, key: SchemaKey, store: SchemaStore) -> list[Problem]:
    if store.offline:
        store.skipped.add(f"{key.kind} ({doc.api_version})")
        return []
    return [doc.problem(
        CHECK,
        f"no JSON schema for {key.kind} ({doc.api_version}) as {key.relative} in "
        f"{store.where()}; add one with --schema-location, or pass --offline to skip it",
    )]


@functools.cache
def _kubernetes_validate() -> Any:
    """kubernetes_validate, with its schema files read once per process: it reads the kind's
    schema and the 1 MB ``_definitions.json`` again for every document it checks."""
    import kubernetes_validate  # type: ignore[import-untyped]
    from kubernetes_validate import utils

    utils.schema_contents = functools.lru_cache(maxsize=128)(utils.schema_contents)
    return kubernetes_validate


def _check_builtin(doc: Document) -> list[Problem] | None:
    """Problems from Kubernetes' strict schema; None when it has no schema for the kind."""
    import referencing.exceptions

    kubernetes_validate = _kubernetes_validate()
    version = kubernetes_validate.latest_version()
    try:
        kubernetes_validate.validate(doc.body, version, strict=True)
    except kubernetes_validate.SchemaNotFoundError:
        return None
    except kubernetes_validate.ValidationError as exc:
        where = dotted(exc.path) or "top level"
        return [doc.problem(CHECK, f"{where}: {shorten(exc.message)} "
                                   f"(Kubernetes {exc.version} strict schema)")]
    except (kubernetes_validate.InvalidSchemaError, referencing.exceptions.Unresolvable) as exc:
        return [doc.problem(CHECK, f"Kubernetes schema for {doc.kind} is unusable: {exc}")]
    return []


def _check_against(doc: Document, found: Found, store: SchemaStore) -> list[Problem]:
    from jsonschema.exceptions import SchemaError  # type: ignore[import-untyped]
    from referencing.exceptions import Unresolvable

    key = store.validity_key(found, doc.body)
    if store.known_valid(key):
        return []
    try:
        errors = list(store.validator(found).iter_errors(doc.body))
    except (SchemaError, Unresolvable, RecursionError) as exc:
        reason = getattr(exc, "message", None) or type(exc).__name__
        return [doc.problem(CHECK, f"the schema {found.where} is unusable: {shorten(reason)}")]
    if not errors:
        store.remember_valid(key)
    errors.sort(key=lambda e: ([str(p) for p in e.absolute_path], e.message))
    problems = [doc.problem(CHECK, describe(e)) for e in errors[:MAX_ERRORS]]
    if len(errors) > MAX_ERRORS:
        more = len(errors) - MAX_ERRORS
        problems.append(doc.problem(CHECK, f"... and {more} more schema errors"))
    return problems


def describe(error: Any) -> str:
    """A jsonschema error in plain words, naming the field by its dotted path."""
    path = list(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        extras = unexpected_keys(error.instance, error.schema)
        if extras:
            fields = ", ".join(dotted([*path, key]) for key in extras)
            return f"unknown field {fields} (not in the schema; check the spelling and nesting)"
    if error.validator == "required":
        match = re.match(r"'(.+)' is a required property", error.message)
        if match:
            return f"missing required field {dotted([*path, match.group(1)])}"
    return f"{dotted(path) or 'top level'}: {shorten(error.message)}"


def shorten(text: str, limit: int = 200) -> str:
    """One line, at most ``limit`` characters."""
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 3] + "..."
