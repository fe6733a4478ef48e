"""Do a repository's Helm values still mean something to a chart version? Pure functions, no I/O.

Given the values a repository sets for a chart (one mapping per values file, in the order Helm
reads them) and the target chart's default ``values.yaml`` and ``values.schema.json`` (and, when
known, the current chart's defaults), the check finds:

- keys the target chart does not know (``unknown``), or no longer knows although the current
  chart did (``removed``), with the likely new key when the target's defaults hold the same leaf
  name elsewhere (``moved``: ``log.level`` -> ``logs.general.level``);
- values that break the target's schema, checked as Helm does: the files merged over the
  chart's defaults (``schema``);
- keys whose default changed type between the two versions, where the repository still sets the
  old type (``type-changed``: a string that became a map).

Charts accept many keys they never declare, so these are never reported: anything under a key
whose default is empty (``podAnnotations: {}``, ``extraEnv: []``) or null; keys that hold a dot or
a slash (annotation names, ConfigMap entries: templates cannot reach such keys by path, so they
are data); maps named after Kubernetes types whose fields Kubernetes defines (``resources``,
``securityContext``, ``affinity``...); ``global``; and whatever the schema allows
through ``additionalProperties`` or ``patternProperties``, or leaves open by declaring an object
without properties.

Values under a subchart's key (its alias, or its name) are checked against the subchart bundled
in the archive: its defaults with the parent's defaults for that key over them (the parent's win,
as in Helm), its own schema, and the parent's ``global`` values, which Helm hands every subchart.
A dependency that is not bundled cannot be checked: a note says so.

A schema object that lists properties without saying ``additionalProperties`` does not make every
other key known: undeclared keys are still checked against the defaults.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from homelab_scaffold.catalog.schema import dotted, unexpected_keys
from homelab_scaffold.inspect.schemas import describe, shorten

UNKNOWN = "unknown"
REMOVED = "removed"
MOVED = "moved"
SCHEMA = "schema"
TYPE_CHANGED = "type-changed"
MAX_SCHEMA_ERRORS = 20
MAX_LEAVES = 10
SUGGESTION_SIMILARITY = 0.6
# Maps whose keys are fields of a Kubernetes type, not chart settings (matched on the end of the
# key, case-insensitively: podSecurityContext, livenessProbe, updateStrategy ...).
KUBERNETES_FIELD_SUFFIXES = (
    "annotations", "labels", "securitycontext", "resources", "affinity", "nodeselector",
    "tolerations", "probe", "strategy", "topologyspreadconstraints", "lifecycle",
)
_MAX_REF_DEPTH = 32
_UNKNOWN_FIELD = " (unknown field)"

KeyPath = tuple[str, ...]


@dataclass(frozen=True)
class ChartValues:
    """What the check needs of one chart version: a label, its defaults and its schema."""

    label: str
    defaults: Mapping[str, Any]
    schema: Mapping[str, Any] | None = None
    subcharts: Mapping[str, ChartValues] = field(default_factory=dict)
    """Values key -> the subchart bundled for it (its defaults as packaged)."""
    unbundled: Mapping[str, str] = field(default_factory=dict)
    """Values key -> name of a dependency that is not bundled (a note when values set it)."""

    @property
    def skipped_keys(self) -> frozenset[str]:
        """Top-level keys the chart's own check leaves alone: global, and subcharts'."""
        return frozenset({"global", *self.unbundled, *self.subcharts})


@dataclass(frozen=True)
class Finding:
    """One reason the values may not mean what they meant: dotted key, kind, plain message."""

    key: str
    kind: str
    message: str
    suggestion: str = ""
    file: str = ""


def finding_data(finding: Finding) -> dict[str, str]:
    """A finding for ``--output json``."""
    return {"key": finding.key, "kind": finding.kind, "message": finding.message,
            "suggestion": finding.suggestion, "file": finding.file}


@dataclass(frozen=True)
class ValuesReport:
    """Findings, plus notes about what could not be checked."""

    findings: tuple[Finding, ...] = ()
    notes: tuple[str, ...] = field(default=())

    @property
    def clean(self) -> bool:
        """True when nothing was found."""
        return not self.findings


def check_values(
    values: Mapping[str, Any], target: ChartValues, current: ChartValues | None = None
) -> ValuesReport:
    """Findings for one mapping of values (see the module docstring)."""
    return check_value_files([("", values)], target, current)


def check_value_files(
    files: Sequence[tuple[str, Mapping[str, Any]]],
    target: ChartValues,
    current: ChartValues | None = None,
) -> ValuesReport:
    """Findings for values spread over files (name, mapping), in the order Helm reads them.

    Key and type findings name the file that sets the key; schema findings name the last file
    that sets (part of) the offending path, or "" when no file does (a required value).
    """
    findings: list[Finding] = []
    for name, values in files:
        found = [*key_findings(values, target, current), *type_findings(values, target, current)]
        findings.extend(_in_file(f, name) for f in found)
    merged = coalesce(target.defaults, merge_layers([values for _, values in files]))
    schema_found, notes = schema_findings(merged, target)
    reported = {f.key for f in findings}
    for finding in schema_found:
        if not _already_reported(finding, reported):
            findings.append(_in_file(finding, _file_setting(finding.key, files)))
    sub_findings, sub_notes = _subchart_findings(files, target, current)
    return ValuesReport((*findings, *sub_findings), (*notes, *sub_notes))


def _in_file(finding: Finding, name: str) -> Finding:
    return Finding(finding.key, finding.kind, finding.message, finding.suggestion, name)


# --- subcharts -----------------------------------------------------------------------------------


def _subchart_findings(
    files: Sequence[tuple[str, Mapping[str, Any]]], target: ChartValues, current: ChartValues | None
) -> tuple[list[Finding], list[str]]:
    """Findings under each subchart's key, checked against the subchart, and a note for each
    dependency the values set that is not bundled."""
    findings: list[Finding] = []
    notes: list[str] = []
    for key, name in sorted(target.unbundled.items()):
        if _subchart_layers(files, key):
            notes.append(f"values under `{key}` not checked: subchart {name} is not bundled "
                         f"in {target.label}")
    for key, sub in sorted(target.subcharts.items()):
        layers = _subchart_layers(files, key)
        if not layers:
            continue
        before = current.subcharts.get(key) if current is not None else None
        report = check_value_files(
            layers,
            subchart_values(target, key, sub),
            subchart_values(current, key, before) if current and before else None,
        )
        findings.extend(_under(key, finding) for finding in report.findings)
        notes.extend(report.notes)
    return findings, notes


def subchart_values(parent: ChartValues, key: str, sub: ChartValues) -> ChartValues:
    """The subchart as it runs under ``parent``: the parent's defaults for ``key`` over its own,
    and the parent's ``global`` over its ``global`` (Helm's coalescing)."""
    above = parent.defaults.get(key)
    defaults = coalesce(sub.defaults, above if isinstance(above, dict) else {})
    parent_global = parent.defaults.get("global")
    if isinstance(parent_global, dict):
        own_global = defaults.get("global")
        defaults["global"] = coalesce(own_global if isinstance(own_global, dict) else {},
                                      parent_global)
    return ChartValues(sub.label, defaults, sub.schema, sub.subcharts, sub.unbundled)


def _subchart_layers(
    files: Sequence[tuple[str, Mapping[str, Any]]], key: str
) -> list[tuple[str, Mapping[str, Any]]]:
    """Each file's values under ``key``, with the file's ``global`` values (the parent's globals
    win over a subchart's own, as Helm copies them down)."""
    layers: list[tuple[str, Mapping[str, Any]]] = []
    for name, values in files:
        own = values.get(key)
        if not isinstance(own, dict):
            continue
        layer = dict(own)
        shared = values.get("global")
        if isinstance(shared, dict):
            below = layer.get("global")
            layer["global"] = _merge(below if isinstance(below, dict) else {}, shared)
        layers.append((name, layer))
    return layers


def _under(key: str, finding: Finding) -> Finding:
    """A subchart's finding named from the parent's values: ``grafana.`` before its key."""
    full = f"{key}.{finding.key}" if finding.key else key
    message = finding.message
    if finding.key and message.startswith(f"{finding.key}: "):
        message = f"{full}: {message.removeprefix(f'{finding.key}: ')}"
    elif message.startswith("top level: "):
        message = f"{key}: {message.removeprefix('top level: ')}"
    else:
        message = f"{key}: {message}"
    suggestion = f"{key}.{finding.suggestion}" if finding.suggestion else ""
    if suggestion and message.endswith(f" {finding.suggestion}"):
        message = f"{message.removesuffix(finding.suggestion)}{suggestion}"
    return Finding(full, finding.kind, message, suggestion, finding.file)


def _already_reported(finding: Finding, keys: set[str]) -> bool:
    """True for a schema finding about a key (or a map around keys) reported as unknown."""
    if not finding.key:
        return False
    if finding.key in keys:
        return True
    around = finding.message.endswith(_UNKNOWN_FIELD)
    return around and any(key.startswith(finding.key + ".") for key in keys)


# --- keys the chart does not know ----------------------------------------------------------------


def key_findings(
    values: Mapping[str, Any], target: ChartValues, current: ChartValues | None = None
) -> list[Finding]:
    """Keys the target chart does not know (or, with ``current``, no longer knows)."""
    target_leaves = leaf_values(target.defaults)
    current_paths = frozenset(leaf_values(current.defaults)) if current is not None else frozenset()
    findings = []
    for path, value in unknown_keys(values, target):
        if current is not None and not _known_to(path, value, current):
            continue  # unknown before the upgrade too: not something the upgrade changes
        for leaf, leaf_value in _reported_leaves(path, value):
            suggestion = suggest_key(leaf, leaf_value, target_leaves, current_paths)
            findings.append(_unknown_finding(leaf, suggestion, target, current))
    return findings


def _unknown_finding(
    path: KeyPath, suggestion: KeyPath | None, target: ChartValues, current: ChartValues | None
) -> Finding:
    key = dotted(path)
    if current is not None:
        kind = REMOVED
        text = f"{key}: {current.label} has this value, {target.label} no longer does"
    else:
        kind = UNKNOWN
        text = f"{key}: not a value of {target.label} (not in its values.yaml or schema)"
    if suggestion is None:
        return Finding(key, kind, text)
    new = dotted(suggestion)
    return Finding(key, MOVED, f"{text}; it probably moved to {new}", new)


def unknown_keys(values: Mapping[str, Any], chart: ChartValues) -> list[tuple[KeyPath, Any]]:
    """(path, value) of every key of ``values`` that ``chart`` does not know, outermost first."""
    root = _SchemaNode.of_schema(chart.schema)
    return list(_unknown(values, chart.defaults, root, (), chart.skipped_keys))


def _unknown(
    values: Mapping[Any, Any],
    defaults: Any,
    schema: _SchemaNode | None,
    path: KeyPath,
    subcharts: frozenset[str],
) -> Iterator[tuple[KeyPath, Any]]:
    for raw_key, value in values.items():
        key = str(raw_key)
        here = (*path, key)
        if _is_data_key(key) or (not path and key in subcharts):
            continue
        child = schema.child(key) if schema is not None else None
        if isinstance(defaults, dict) and key in defaults:
            default = defaults[key]
            if isinstance(value, dict) and _is_declared_map(key, default):
                yield from _unknown(value, default, child, here, subcharts)
        elif child is _FREE:
            continue
        elif child is not None:
            if isinstance(value, dict):
                yield from _unknown(value, {}, child, here, subcharts)
        else:
            yield here, value


def _is_declared_map(key: str, default: Any) -> bool:
    """True when the chart spells out the map's keys (not empty, not a Kubernetes type)."""
    if not isinstance(default, dict) or not default:
        return False
    if key.lower().endswith(KUBERNETES_FIELD_SUFFIXES):
        return False
    # A map with a dotted or slashed key among its defaults is data (a ConfigMap's entries).
    return not any(_is_data_key(str(k)) for k in default)


def _is_data_key(key: str) -> bool:
    return "." in key or "/" in key


def _known_to(path: KeyPath, value: Any, chart: ChartValues) -> bool:
    nested: Any = value
    for key in reversed(path):
        nested = {key: nested}
    return not unknown_keys(nested, chart)


def _reported_leaves(path: KeyPath, value: Any) -> list[tuple[KeyPath, Any]]:
    """An unknown map is reported leaf by leaf (each may have moved elsewhere) unless large."""
    leaves = list(_leaves_of(value)) if isinstance(value, dict) else []
    if not leaves or len(leaves) > MAX_LEAVES:
        return [(path, value)]
    return [((*path, *rest), inner) for rest, inner in leaves]


def _leaves_of(value: Mapping[Any, Any]) -> Iterator[tuple[KeyPath, Any]]:
    for key, inner in value.items():
        if isinstance(inner, dict) and inner:
            yield from (((str(key), *rest), deeper) for rest, deeper in _leaves_of(inner))
        else:
            yield (str(key),), inner


def leaf_values(values: Mapping[str, Any]) -> dict[KeyPath, Any]:
    """Every path of a mapping that ends at a value (or an empty map), with that value."""
    return dict(_leaves_of(values))


def suggest_key(
    path: KeyPath,
    value: Any,
    target_leaves: Mapping[KeyPath, Any],
    current_paths: frozenset[KeyPath] = frozenset(),
) -> KeyPath | None:
    """The target key ``path`` most likely moved to: the same leaf name under another parent,
    holding the same type of value.

    Keys new in the target are preferred; the best must be close enough and the only best.
    """
    leaf = path[-1].lower()
    candidates = [
        p for p, default in target_leaves.items()
        if p[-1].lower() == leaf and p != path and _same_type(default, value)
    ]
    new = [p for p in candidates if p not in current_paths]
    candidates = new or candidates
    text = ".".join(path).lower()
    scored = sorted(
        ((difflib.SequenceMatcher(None, text, ".".join(p).lower()).ratio(), p) for p in candidates),
        reverse=True,
    )
    if not scored or scored[0][0] < SUGGESTION_SIMILARITY:
        return None
    if len(scored) > 1 and scored[1][0] == scored[0][0]:
        return None
    return scored[0][1]


# --- defaults whose type changed -----------------------------------------------------------------


def type_findings(
    values: Mapping[str, Any], target: ChartValues, current: ChartValues | None
) -> list[Finding]:
    """Keys whose default changed type between ``current`` and ``target`` while ``values``
    still sets the old type."""
    if current is None:
        return []
    subcharts = target.skipped_keys - {"global"}  # checked against the subchart itself
    own = {k: v for k, v in values.items() if str(k) not in subcharts}
    return list(_type_changes(own, current.defaults, target.defaults, (), current, target))


def _type_changes(
    values: Mapping[Any, Any],
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    path: KeyPath,
    current: ChartValues,
    target: ChartValues,
) -> Iterator[Finding]:
    for raw_key, value in values.items():
        key = str(raw_key)
        if key not in before or key not in after or before[key] is None or after[key] is None:
            continue
        here = (*path, key)
        old, new, mine = _type_name(before[key]), _type_name(after[key]), _type_name(value)
        if old == new == mine == "map":
            yield from _type_changes(value, before[key], after[key], here, current, target)
        elif old != new and mine != new:
            text = (f"{dotted(here)}: is a {old} in {current.label} and a {new} in "
                    f"{target.label}; this repository sets a {mine}")
            yield Finding(dotted(here), TYPE_CHANGED, text)


def _same_type(default: Any, value: Any) -> bool:
    return default is None or value is None or _type_name(default) == _type_name(value)


def _type_name(value: Any) -> str:
    if isinstance(value, dict):
        return "map"
    if isinstance(value, list):
        return "list"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return "string" if isinstance(value, str) else type(value).__name__


# --- the schema ----------------------------------------------------------------------------------


def schema_findings(
    merged: Mapping[str, Any], target: ChartValues
) -> tuple[list[Finding], list[str]]:
    """Where ``merged`` (values over the chart's defaults) breaks the target's schema.

    Returns (findings, notes); a schema that cannot be used is a note, not a finding.
    """
    if target.schema is None:
        return [], []
    from jsonschema.exceptions import SchemaError  # type: ignore[import-untyped]
    from referencing.exceptions import Unresolvable

    try:
        errors = list(values_validator(target.schema).iter_errors(merged))
    except (SchemaError, Unresolvable, RecursionError, re.error) as exc:
        reason = shorten(getattr(exc, "message", None) or type(exc).__name__)
        return [], [f"values.schema.json of {target.label} could not be used: {reason}"]
    errors.sort(key=lambda e: ([str(p) for p in e.absolute_path], e.message))
    findings = [f for error in errors for f in _schema_finding(error, target)]
    if len(findings) > MAX_SCHEMA_ERRORS:
        more = len(findings) - MAX_SCHEMA_ERRORS
        findings = findings[:MAX_SCHEMA_ERRORS]
        findings.append(Finding("", SCHEMA, f"... and {more} more schema errors"))
    return findings, []


def _schema_finding(error: Any, target: ChartValues) -> list[Finding]:
    where = f"values.schema.json of {target.label}"
    path = [str(p) for p in error.absolute_path]
    extras = _extra_keys(error)
    if extras:
        return [
            Finding(key, SCHEMA, f"{key}: not allowed by the {where}{_UNKNOWN_FIELD}")
            for key in (dotted([*path, extra]) for extra in extras)
        ]
    return [Finding(dotted(path), SCHEMA, f"{describe(error)} ({where})")]


def _extra_keys(error: Any) -> list[str]:
    """The keys an additionalProperties error is about (none for other errors)."""
    if error.validator != "additionalProperties" or not isinstance(error.instance, dict):
        return []
    return unexpected_keys(error.instance, error.schema)


def _search(pattern: str, key: str) -> bool:
    try:
        return re.search(pattern, key) is not None
    except re.error:
        return False


_DRAFTS = ("draft-04", "draft-06", "draft-07", "2019-09", "2020-12")


def values_validator(schema: Mapping[str, Any]) -> Any:
    """A jsonschema validator for the draft a values schema names in ``$schema`` (by name, so
    ``https://json-schema.org/draft-07/schema#`` is Draft 7 too); Draft 7 when it names none."""
    from jsonschema import validators  # type: ignore[import-untyped]

    classes = {
        "draft-04": validators.Draft4Validator,
        "draft-06": validators.Draft6Validator,
        "draft-07": validators.Draft7Validator,
        "2019-09": validators.Draft201909Validator,
        "2020-12": validators.Draft202012Validator,
    }
    declared = str(schema.get("$schema", ""))
    chosen = next((classes[d] for d in _DRAFTS if d in declared), validators.Draft7Validator)
    return chosen(schema)


def _file_setting(key: str, files: Sequence[tuple[str, Mapping[str, Any]]]) -> str:
    """The last file that sets the longest prefix of ``key`` ("" when none sets any)."""
    parts = key.split(".") if key else []
    best, best_depth = "", 0
    for name, values in files:
        depth = _depth_set(values, parts)
        if depth and depth >= best_depth:
            best, best_depth = name, depth
    return best


def _depth_set(values: Any, parts: list[str]) -> int:
    depth = 0
    for part in parts:
        if not isinstance(values, dict) or part not in values:
            break
        values = values[part]
        depth += 1
    return depth


# --- Helm's merge --------------------------------------------------------------------------------


def merge_layers(layers: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Values files merged as Helm merges them: later files win, maps merge, nulls are kept."""
    merged: dict[str, Any] = {}
    for layer in layers:
        merged = _merge(merged, layer)
    return merged


def _merge(base: Mapping[str, Any], override: Mapping[Any, Any]) -> dict[str, Any]:
    merged = dict(base)
    for raw_key, value in override.items():
        key = str(raw_key)
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = _plain_keys(value)
    return merged


def coalesce(defaults: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` over a chart's ``defaults`` as Helm does it: maps merge, null deletes."""
    merged = {str(k): _plain_keys(v) for k, v in defaults.items()}
    for key, value in values.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = coalesce(merged[key], value)
        else:
            merged[key] = _without_nulls(value)
    return merged


def _plain_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain_keys(v) for v in value]
    return value


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _without_nulls(v) for k, v in value.items() if v is not None}
    return value


# --- walking a schema ----------------------------------------------------------------------------


class _SchemaNode:
    """One place in a values schema: the (sub)schemas that apply there, refs followed."""

    def __init__(self, parts: list[Mapping[str, Any]], root: Mapping[str, Any]) -> None:
        self.parts = parts
        self.document = root

    @classmethod
    def of_schema(cls, schema: Mapping[str, Any] | None) -> _SchemaNode | None:
        """The top of ``schema`` (None without a schema)."""
        if schema is None:
            return None
        return cls(_expand(schema, schema, 0), schema)

    def child(self, key: str) -> _SchemaNode | None:
        """The schema of ``key`` here: a node, _FREE (anything goes), or None (not allowed)."""
        found: list[Mapping[str, Any]] = []
        declared = free = False
        for part in self.parts:
            declared |= "properties" in part or "patternProperties" in part
            found.extend(_matching(part, key))
            extra = part.get("additionalProperties")
            if extra is True or isinstance(extra, dict):
                free |= not extra or extra is True
                if isinstance(extra, dict) and extra:
                    found.append(extra)
            elif extra is False:
                declared = True
        if found:
            nodes = [n for sub in found for n in _expand(sub, self.document, 0)]
            return _SchemaNode(nodes, self.document) if nodes else _FREE
        return _FREE if free or not declared else None


def _matching(part: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    found = []
    properties = part.get("properties")
    if isinstance(properties, dict) and key in properties:
        found.append(_as_schema(properties[key]))
    patterns = part.get("patternProperties")
    for pattern, sub in (patterns.items() if isinstance(patterns, dict) else ()):
        if _search(str(pattern), key):
            found.append(_as_schema(sub))
    return found


def _as_schema(value: Any) -> Mapping[str, Any]:
    """A subschema; ``true`` (or anything odd) is the schema that allows anything."""
    return value if isinstance(value, dict) else {}


def _expand(schema: Any, root: Mapping[str, Any], depth: int) -> list[Mapping[str, Any]]:
    """``schema`` with local ``$ref``s followed and allOf/anyOf/oneOf branches flattened."""
    if not isinstance(schema, dict) or depth > _MAX_REF_DEPTH:
        return []
    parts: list[Mapping[str, Any]] = [schema]
    ref = schema.get("$ref")
    if isinstance(ref, str):
        parts.extend(_expand(_resolve(ref, root), root, depth + 1))
    for keyword in ("allOf", "anyOf", "oneOf"):
        branches = schema.get(keyword)
        for branch in branches if isinstance(branches, list) else ():
            parts.extend(_expand(branch, root, depth + 1))
    return parts


def _resolve(ref: str, root: Mapping[str, Any]) -> Any:
    """A local JSON pointer (``#/definitions/x``); anything else resolves to None."""
    if not ref.startswith("#"):
        return None
    node: Any = root
    for token in ref[1:].split("/")[1:]:
        token = token.replace("~1", "/").replace("~0", "~")
        node = node.get(token) if isinstance(node, dict) else None
    return node


_FREE = _SchemaNode([], {})
