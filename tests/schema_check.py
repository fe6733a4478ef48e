"""Offline schema checks for rendered manifests and Helm values (a test helper shared by all tests).

Everything reads the upstream schemas in ``../shared/schemas`` (see its README) and, for the
charts and CRDs the shared copy does not hold, ``tests/data/schemas`` (same layout, see its
README); tests that use this module skip when ``shared_available()`` is false.

- ``validate_document(doc)``: a Kubernetes document. A kind whose CRD schema is held in
  ``shared/schemas/{group}/{kind}_{version}.json`` is checked with jsonschema's Draft 4 validator
  (what kubeconform does); any other kind with ``kubernetes_validate`` in strict mode (unknown
  fields rejected) against Kubernetes ``K8S_VERSION``. A kind neither knows is an error.
- ``validate_helm_values(chart, version, overrides)``: the chart's default values deep-merged
  with ``overrides`` the way Helm merges them, checked against the chart's ``values.schema.json``.
  It never passes for want of a schema: when none is held for that chart and version, or its
  default values are missing or unreadable, the result is an error string saying so.
- ``unknown_value_keys(chart, version, overrides)``: for charts without a schema (argo-cd,
  longhorn), override keys that do not exist in the chart's default values (typo check).
- ``helm_values_problems(chart, version, overrides)``: whichever of the two the chart allows
  (schema, else its defaults); an error when neither is held.

Error strings read ``<Kind>/<name>: <path>: <message>`` (documents) or ``<path>: <message>``
(values), so an assertion failure shows what is wrong where.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

SHARED_SCHEMAS: Path = Path(__file__).resolve().parents[1].parent / "shared" / "schemas"
HELM_VALUES: Path = SHARED_SCHEMAS / "helm-values"
LOCAL_SCHEMAS: Path = Path(__file__).resolve().parent / "data" / "schemas"
# Searched in order: the shared upstream copy first, then this project's own test data.
SCHEMA_ROOTS: tuple[Path, ...] = (SHARED_SCHEMAS, LOCAL_SCHEMAS)
# Kubernetes minor version core kinds are validated against (a recent K3s release).
K8S_VERSION = "1.33"

_VALIDATORS_BY_DRAFT: dict[str, type[Any]] = {
    "draft-04": jsonschema.Draft4Validator,
    "draft-06": jsonschema.Draft6Validator,
    "draft-07": jsonschema.Draft7Validator,
    "2019-09": jsonschema.Draft201909Validator,
    "2020-12": jsonschema.Draft202012Validator,
}


def shared_available() -> bool:
    """True when ``../shared/schemas`` (relative to the project root) is present."""
    return (SHARED_SCHEMAS / "README.md").is_file() and HELM_VALUES.is_dir()


def iter_yaml_documents(text: str) -> list[dict[str, Any]]:
    """The non-empty YAML documents of ``text``; a document that is not a mapping is an error."""
    documents = []
    for document in yaml.safe_load_all(text):
        if document is None:
            continue
        if not isinstance(document, dict):
            raise ValueError(f"YAML document is a {type(document).__name__}, not a mapping")
        documents.append(document)
    return documents


def _where(doc: Mapping[str, Any]) -> str:
    metadata = doc.get("metadata")
    name = metadata.get("name", "?") if isinstance(metadata, dict) else "?"
    return f"{doc.get('kind', '?')}/{name}"


def _path(parts: Iterable[Any]) -> str:
    return ".".join(str(p) for p in parts) or "(root)"


def crd_schema_path(api_version: str, kind: str) -> Path | None:
    """The held CRD schema for ``apiVersion``/``kind`` (kubeconform layout), or None."""
    group, _, version = api_version.rpartition("/")
    if not group:
        return None
    for root in SCHEMA_ROOTS:
        path = root / group / f"{kind.lower()}_{version}.json"
        if path.is_file():
            return path
    return None


@cache
def _crd_validator(path: Path) -> Any:
    schema = json.loads(path.read_text(encoding="utf-8"))
    # kubeconform compiles these schemas (no $schema) as Draft 4; so do we.
    return jsonschema.Draft4Validator(schema)


def _crd_errors(doc: Mapping[str, Any], path: Path) -> list[str]:
    errors = sorted(_crd_validator(path).iter_errors(doc), key=lambda e: list(e.absolute_path))
    return [f"{_where(doc)}: {_path(e.absolute_path)}: {e.message}" for e in errors]


def _core_errors(doc: dict[str, Any]) -> list[str]:
    try:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
    except kubernetes_validate.SchemaNotFoundError:
        return [
            f"{_where(doc)}: unknown kind {doc['kind']} in {doc['apiVersion']} (no schema held)"
        ]
    except kubernetes_validate.ValidationError as exc:
        return [f"{_where(doc)}: {_path(exc.absolute_path)}: {exc.message}"]
    return []


def validate_document(doc: dict[str, Any]) -> list[str]:
    """Errors of one Kubernetes document (empty when valid); an unknown kind is an error."""
    api_version, kind = doc.get("apiVersion"), doc.get("kind")
    if not isinstance(api_version, str) or not isinstance(kind, str):
        return [f"{_where(doc)}: not a Kubernetes document (apiVersion and kind are required)"]
    schema = crd_schema_path(api_version, kind)
    return _crd_errors(doc, schema) if schema is not None else _core_errors(doc)


def _version_spellings(version: str) -> list[str]:
    bare = version.removeprefix("v")
    return [version, bare, f"v{bare}"]


def _chart_file(chart: str, version: str, suffix: str) -> Path | None:
    for root in SCHEMA_ROOTS:
        for spelling in _version_spellings(version):
            path = root / "helm-values" / f"{chart}-{spelling}{suffix}"
            if path.is_file():
                return path
    return None


def helm_schema_available(chart: str, version: str) -> bool:
    """True when a ``values.schema.json`` is held for this chart version."""
    return _chart_file(chart, version, ".schema.json") is not None


def helm_defaults(chart: str, version: str) -> dict[str, Any] | None:
    """The chart's default values.yaml, or None when it is not held."""
    path = _chart_file(chart, version, ".values.yaml")
    if path is None:
        return None
    loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(loaded, dict):
        raise ValueError(f"{path.name} is not a mapping")
    return loaded


def merge_values(defaults: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Helm's merge: maps merge recursively, ``null`` deletes a default, anything else replaces."""
    merged = dict(defaults)
    for key, value in overrides.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge_values(merged[key], value)
        else:
            merged[key] = value
    return merged


def values_validator(schema: Mapping[str, Any]) -> Any:
    """A validator for the draft a values schema declares.

    The draft is read from ``$schema`` by name, so ``https://json-schema.org/draft-07/schema#``
    (metallb), which python-jsonschema does not recognise, still gets Draft 7.
    """
    declared = str(schema.get("$schema", ""))
    for draft, validator in _VALIDATORS_BY_DRAFT.items():
        if draft in declared:
            return validator(schema)
    return jsonschema.validators.validator_for(schema)(schema)


@cache
def _values_validator(path: Path) -> Any:
    return values_validator(json.loads(path.read_text(encoding="utf-8")))


def validate_helm_values(chart: str, version: str, overrides: Mapping[str, Any]) -> list[str]:
    """Errors of the chart's defaults merged with ``overrides`` (see the module docstring)."""
    schema = _chart_file(chart, version, ".schema.json")
    if schema is None:
        return [f"(schema): no values.schema.json of {chart} {version} is held: nothing checked"]
    try:
        defaults = helm_defaults(chart, version)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        return [f"(defaults): default values of {chart} {version} are unreadable: {exc}"]
    if defaults is None:
        return [
            f"(defaults): a schema is held for {chart} {version} but its default values are not"
        ]
    merged = merge_values(defaults, overrides)
    errors = sorted(
        _values_validator(schema).iter_errors(merged), key=lambda e: list(e.absolute_path)
    )
    return [f"{_path(e.absolute_path)}: {e.message}" for e in errors]


def _unknown_keys(
    defaults: Mapping[str, Any], overrides: Mapping[str, Any], prefix: str, open_paths: set[str]
) -> list[str]:
    unknown = []
    for key, value in overrides.items():
        path = f"{prefix}{key}"
        if path in open_paths:
            continue
        if key not in defaults:
            unknown.append(path)
        elif isinstance(value, Mapping) and isinstance(defaults[key], Mapping):
            unknown += _unknown_keys(defaults[key], value, f"{path}.", open_paths)
    return unknown


def unknown_value_keys(
    chart: str, version: str, overrides: Mapping[str, Any], open_paths: Iterable[str] = ()
) -> list[str]:
    """Dotted paths of ``overrides`` missing from the chart's default values.

    ``open_paths`` are free-form maps (e.g. ``configs.cm``) whose keys are not checked. Raises
    FileNotFoundError when the defaults of that chart version are not held.
    """
    defaults = helm_defaults(chart, version)
    if defaults is None:
        raise FileNotFoundError(f"no default values held for {chart} {version}")
    return _unknown_keys(defaults, overrides, "", set(open_paths))


# Free-form maps of charts checked by their defaults (keys the chart does not list are fine):
# annotations, and Kubernetes objects the chart passes through (securityContext, storageSpec).
OPEN_PATHS: dict[str, tuple[str, ...]] = {
    "argo-cd": ("configs.cm", "configs.params", "server.ingress.annotations"),
    "sealed-secrets": ("containerSecurityContext",),
    "alloy": ("alloy.securityContext",),
    "kube-prometheus-stack": ("prometheus.prometheusSpec.storageSpec",),
    # The grafana chart documents ingress.ingressClassName as a commented-out default.
    "grafana": ("ingress.annotations", "ingress.ingressClassName"),
}
# Subcharts whose values sit under a key of their parent's: (chart, version) -> key -> (the
# subchart, its version in that parent release); their keys are checked against its defaults.
SUBCHARTS: dict[tuple[str, str], dict[str, tuple[str, str]]] = {
    ("kube-prometheus-stack", "88.5.3"): {"grafana": ("grafana", "12.11.1")},
}


def helm_values_problems(chart: str, version: str, overrides: Mapping[str, Any]) -> list[str]:
    """The values check the chart allows: its schema, else its default values' keys (and each
    subchart's values against that subchart's)."""
    if helm_schema_available(chart, version):
        return validate_helm_values(chart, version, overrides)
    subcharts = SUBCHARTS.get((chart, version), {})
    own = {k: v for k, v in overrides.items() if k not in subcharts}
    try:
        unknown = unknown_value_keys(chart, version, own, OPEN_PATHS.get(chart, ()))
    except FileNotFoundError:
        return [f"(defaults): neither a schema nor the default values of {chart} {version} are held"]
    problems = [f"{key}: not a value of {chart} {version}" for key in unknown]
    for key, (subchart, subversion) in subcharts.items():
        given = {key: overrides.get(key) or {}}
        # A key the parent's own defaults list under the subchart's key is the parent's.
        parents = set(unknown_value_keys(chart, version, given, OPEN_PATHS.get(chart, ())))
        problems += [
            f"{key}.{problem}"
            for problem in helm_values_problems(subchart, subversion, given[key])
            if f"{key}.{problem.partition(':')[0]}" in parents
        ]
    return problems
