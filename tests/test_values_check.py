"""The values check on its own: pure functions over values, chart defaults and schemas."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from schema_check import HELM_VALUES, shared_available

from homelab_scaffold.inspect.values_check import (
    MOVED,
    REMOVED,
    SCHEMA,
    TYPE_CHANGED,
    UNKNOWN,
    ChartValues,
    check_value_files,
    check_values,
    coalesce,
    merge_layers,
)

DEFAULTS: dict[str, Any] = {
    "replicas": 1,
    "image": {"repository": "demo", "tag": "1.0"},
    "log": {"level": "info", "format": "text"},
    "service": {"type": "ClusterIP", "port": 80},
    "podAnnotations": {},
    "extraEnv": [],
    "affinity": None,
    "podSecurityContext": {"fsGroup": 1000},
    "config": {"exec.enabled": False},
}


def chart(defaults: dict[str, Any] | None = None, schema: dict[str, Any] | None = None,
          label: str = "demo 2.0.0", unbundled: dict[str, str] | None = None) -> ChartValues:
    return ChartValues(label, DEFAULTS if defaults is None else defaults, schema,
                       unbundled=unbundled or {})


def kinds(values: dict[str, Any], target: ChartValues,
          current: ChartValues | None = None) -> dict[str, str]:
    return {f.key: f.kind for f in check_values(values, target, current).findings}


def test_values_the_chart_declares_are_clean() -> None:
    values = {"replicas": 3, "log": {"level": "debug"}, "service": {"type": "LoadBalancer"}}

    assert check_values(values, chart()).clean


def test_unknown_key_is_reported_with_its_dotted_path() -> None:
    report = check_values({"service": {"tpye": "NodePort"}}, chart())

    assert [(f.key, f.kind) for f in report.findings] == [("service.tpye", UNKNOWN)]
    assert report.findings[0].message == (
        "service.tpye: not a value of demo 2.0.0 (not in its values.yaml or schema)"
    )


@pytest.mark.parametrize("values", [
    {"podAnnotations": {"prometheus.io/scrape": "true", "team": "infra"}},
    {"extraEnv": [{"name": "A", "value": "b"}]},
    {"affinity": {"nodeAffinity": {"anything": {"goes": 1}}}},
    {"podSecurityContext": {"runAsUser": 1000, "runAsNonRoot": True}},
    {"podSecurityContext": {"seccompProfile": {"type": "RuntimeDefault"}}},
    {"config": {"url": "https://cd.example.com", "users.anonymous.enabled": "false"}},
    {"service": {"annotations.example.com/x": "y"}},
    {"global": {"imageRegistry": "mirror.example.com"}},
])
def test_keys_charts_accept_without_declaring_them(values: dict[str, Any]) -> None:
    assert check_values(values, chart()).findings == ()


def test_subchart_values_belong_to_the_subchart() -> None:
    values = {"redis": {"auth": {"enabled": False}}}

    assert check_values(values, chart(unbundled={"redis": "redis"})).clean
    assert kinds(values, chart()) == {"redis.auth.enabled": UNKNOWN}


GRAFANA = ChartValues(
    "grafana 8.5.0 (subchart of stack 70.0.0)",
    {"adminUser": "admin", "persistence": {"enabled": False, "size": "10Gi"},
     "global": {"imageRegistry": None}},
    {"type": "object", "properties": {
        "persistence": {"type": "object", "properties": {"size": {"type": "string"}}},
        "global": {"type": "object", "properties": {"imageRegistry": {"type": ["string", "null"]}}},
    }},
)


def stack(grafana: ChartValues = GRAFANA, key: str = "grafana") -> ChartValues:
    """A parent chart bundling grafana under ``key``; its own defaults for that key add a value
    its templates read (``defaultDashboardsEnabled``) and override one of grafana's."""
    defaults = {"replicas": 1, key: {"enabled": True, "defaultDashboardsEnabled": True,
                                     "adminUser": "root"}}
    return ChartValues("stack 70.0.0", defaults, None, subcharts={key: grafana})


def test_values_under_a_subchart_key_are_checked_against_the_subchart() -> None:
    values = {"grafana": {"adminUser": "me", "persistance": {"enabled": True},
                          "defaultDashboardsEnabled": False, "enabled": True}}

    report = check_values(values, stack())

    assert [(f.key, f.kind, f.suggestion) for f in report.findings] == [
        ("grafana.persistance.enabled", MOVED, "grafana.persistence.enabled"),
    ]
    assert report.findings[0].message == (
        "grafana.persistance.enabled: not a value of grafana 8.5.0 (subchart of stack 70.0.0) "
        "(not in its values.yaml or schema); it probably moved to grafana.persistence.enabled"
    )


def test_an_alias_is_the_subchart_key() -> None:
    values = {"dashboards": {"adminUsr": "me"}, "grafana": {"anything": 1}}

    assert kinds(values, stack(key="dashboards")) == {
        "dashboards.adminUsr": UNKNOWN, "grafana.anything": UNKNOWN,
    }


def test_the_subchart_schema_sees_its_defaults_the_parents_and_the_globals() -> None:
    values = {"global": {"imageRegistry": 5}, "grafana": {"persistence": {"size": 10}}}

    report = check_values(values, stack())

    assert sorted((f.key, f.kind) for f in report.findings) == [
        ("grafana.global.imageRegistry", SCHEMA), ("grafana.persistence.size", SCHEMA),
    ]
    assert all("(values.schema.json of grafana 8.5.0" in f.message for f in report.findings)


def test_a_subchart_key_removed_by_the_upgrade() -> None:
    old = stack()
    newer = ChartValues(GRAFANA.label, {"adminUser": "admin"}, None)

    report = check_values({"grafana": {"persistence": {"size": "5Gi"}}}, stack(newer), old)

    assert [(f.key, f.kind) for f in report.findings] == [("grafana.persistence.size", REMOVED)]


def test_a_dependency_not_bundled_is_a_note_not_a_finding() -> None:
    target = ChartValues("stack 70.0.0", {"replicas": 1}, None, unbundled={"cache": "redis"})
    files = [("a.yaml", {"cache": {"auth": {"x": 1}}}), ("b.yaml", {"cache": {"y": 2}})]

    report = check_value_files(files, target)

    assert report.findings == ()
    assert report.notes == (
        "values under `cache` not checked: subchart redis is not bundled in stack 70.0.0",
    )
    assert check_values({"replicas": 2}, target).notes == ()


def test_a_moved_key_comes_with_its_new_place() -> None:
    target = chart({"logs": {"general": {"level": "INFO", "format": None}}})

    report = check_values({"log": {"level": "DEBUG"}}, target)

    (finding,) = report.findings
    assert (finding.key, finding.kind, finding.suggestion) == ("log.level", MOVED,
                                                               "logs.general.level")
    assert finding.message.endswith("it probably moved to logs.general.level")


def test_no_suggestion_for_a_value_of_another_type() -> None:
    # ports.web.port holds a number; "websecure" cannot have moved there.
    target = chart({"ports": {"web": {"port": 8000, "redirections": {"to": "websecure"}}}})

    (finding,) = check_values({"ports": {"web": {"redirectTo": {"port": "websecure"}}}},
                              target).findings

    assert finding.kind == UNKNOWN
    assert finding.suggestion == ""


def test_no_suggestion_when_two_places_fit_equally() -> None:
    target = chart({"a": {"x": {"level": "1"}}, "b": {"x": {"level": "2"}}})

    (finding,) = check_values({"c": {"x": {"level": "3"}}}, target).findings

    assert finding.suggestion == ""


def test_keys_new_in_the_target_are_the_preferred_suggestion() -> None:
    current = chart({"log": {"level": "info"}, "metrics": {"level": "x"}}, label="demo 1.0.0")
    target = chart({"metrics": {"level": "x"}, "logging": {"level": "info"}})

    (finding,) = check_values({"log": {"level": "debug"}}, target, current).findings

    assert finding.suggestion == "logging.level"


def test_upgrade_reports_keys_the_current_chart_had_as_removed() -> None:
    current = chart(label="demo 1.0.0")
    target = chart({**DEFAULTS, "service": {"type": "ClusterIP"}})

    report = check_values({"service": {"port": 8080}}, target, current)

    (finding,) = report.findings
    assert (finding.key, finding.kind) == ("service.port", REMOVED)
    assert finding.message == "service.port: demo 1.0.0 has this value, demo 2.0.0 no longer does"


def test_upgrade_leaves_keys_neither_chart_knows_to_validate() -> None:
    current = chart(label="demo 1.0.0")

    assert check_values({"typo": 1}, chart(), current).clean
    assert kinds({"typo": 1}, chart()) == {"typo": UNKNOWN}


def test_a_large_unknown_map_is_one_finding() -> None:
    values = {"gone": {f"k{i}": i for i in range(30)}}

    assert kinds(values, chart()) == {"gone": UNKNOWN}


def test_type_change_between_versions_where_the_old_type_is_still_set() -> None:
    current = chart(label="demo 1.0.0")
    target = chart({**DEFAULTS, "image": "demo:2.0"})

    report = check_values({"image": {"tag": "1.1"}}, target, current)

    assert [(f.key, f.kind) for f in report.findings] == [("image", TYPE_CHANGED)]
    assert report.findings[0].message == (
        "image: is a map in demo 1.0.0 and a string in demo 2.0.0; this repository sets a map"
    )
    assert check_values({"image": "mirror/demo:2.0"}, target, current).clean


def test_scalar_that_became_a_map() -> None:
    current = chart({"storage": "10Gi"}, label="demo 1.0.0")
    target = chart({"storage": {"size": "10Gi", "class": ""}})

    assert kinds({"storage": "20Gi"}, target, current) == {"storage": TYPE_CHANGED}


# --- the schema --------------------------------------------------------------------------------

SCHEMA_DOC: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "required": ["service"],
    "properties": {
        "replicas": {"type": "integer", "minimum": 1},
        "service": {"$ref": "#/definitions/service"},
        "labels": {"type": "object"},
        "env": {"type": "object", "additionalProperties": {"type": "string"}},
        "ports": {"type": "object", "patternProperties": {"^[a-z]+$": {"type": "object"}}},
        "extras": {"allOf": [{"properties": {"one": {"type": "string"}}}]},
        "open": True,
    },
    "definitions": {
        "service": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"type": {"enum": ["ClusterIP", "LoadBalancer"]}, "port": {}},
        },
    },
}


def schema_chart() -> ChartValues:
    return chart({"replicas": 1, "service": {"type": "ClusterIP"}}, SCHEMA_DOC)


def test_schema_violations_are_checked_on_the_merged_values() -> None:
    report = check_values({"replicas": 0, "service": {"type": "NodePort"}}, schema_chart())

    found = {f.key: f for f in report.findings}
    assert set(found) == {"replicas", "service.type"}
    assert all(f.kind == SCHEMA for f in found.values())
    assert found["service.type"].message.startswith("service.type: 'NodePort' is not one of")
    assert found["service.type"].message.endswith("(values.schema.json of demo 2.0.0)")


def test_null_deletes_a_default_before_the_schema_sees_it() -> None:
    (finding,) = check_values({"service": None}, schema_chart()).findings

    assert finding.kind == SCHEMA
    assert "missing required field service" in finding.message


@pytest.mark.parametrize("values", [
    {"labels": {"anything": "x"}},
    {"env": {"FOO": "bar"}},
    {"ports": {"web": {"port": 80}}},
    {"extras": {"one": "1"}},
    {"open": {"deep": {"er": 1}}},
    {"service": {"port": 8080}},
])
def test_keys_the_schema_allows_are_known(values: dict[str, Any]) -> None:
    assert check_values(values, schema_chart()).findings == ()


def test_schema_rejection_of_an_unknown_key_is_reported_once() -> None:
    report = check_values({"service": {"typ": "x", "prot": 1}}, schema_chart())

    assert sorted((f.key, f.kind) for f in report.findings) == [
        ("service.prot", UNKNOWN), ("service.typ", UNKNOWN),
    ]


def test_a_key_unknown_to_both_versions_still_breaks_a_strict_schema_on_upgrade() -> None:
    current = chart({"replicas": 1, "service": {"type": "ClusterIP"}}, label="demo 1.0.0")

    report = check_values({"service": {"extra": 1}}, schema_chart(), current)

    assert [(f.key, f.kind) for f in report.findings] == [("service.extra", SCHEMA)]


def test_unusable_schema_is_a_note_not_a_finding() -> None:
    broken = chart({"a": 1}, {"type": "object", "properties": {"a": {"$ref": "other.json#/x"}}})

    report = check_values({"a": 2}, broken)

    assert report.findings == ()
    assert report.notes and "could not be used" in report.notes[0]


def test_draft_is_read_from_the_schema_name() -> None:
    # Draft 4 spells an exclusive minimum as a boolean; later drafts as a number.
    draft4 = {"$schema": "http://json-schema.org/draft-04/schema#",
              "properties": {"n": {"type": "integer", "minimum": 1, "exclusiveMinimum": True}}}

    assert [f.key for f in check_values({"n": 1}, chart({"n": 2}, draft4)).findings] == ["n"]
    assert check_values({"n": 2}, chart({"n": 2}, draft4)).clean


# --- files and Helm's merge ---------------------------------------------------------------------


def test_findings_name_the_file_that_sets_the_key() -> None:
    files = [
        ("values.yaml", {"service": {"type": "ClusterIP"}, "bogus": 1}),
        ("values-prod.yaml", {"service": {"type": "NodePort"}}),
    ]

    report = check_value_files(files, schema_chart())

    where = {f.key: f.file for f in report.findings}
    assert where == {"bogus": "values.yaml", "service.type": "values-prod.yaml"}


def test_a_required_value_no_file_sets_names_no_file() -> None:
    strict = chart({"a": 1}, {"type": "object", "required": ["token"]})

    (finding,) = check_value_files([("values.yaml", {"a": 2})], strict).findings

    assert finding.file == ""
    assert finding.message.startswith("missing required field token")


def test_merge_layers_later_files_win_and_keep_nulls() -> None:
    merged = merge_layers([{"a": {"b": 1, "c": 2}, "d": 1}, {"a": {"b": 3}, "d": None}])

    assert merged == {"a": {"b": 3, "c": 2}, "d": None}


def test_coalesce_merges_maps_and_null_deletes() -> None:
    merged = coalesce({"a": {"b": 1, "c": 2}, "d": 1, "e": [1]},
                      {"a": {"c": None, "x": 5}, "d": None, "e": [2]})

    assert merged == {"a": {"b": 1, "x": 5}, "e": [2]}


@pytest.mark.skipif(not shared_available(), reason="../shared/schemas is not present")
def test_real_chart_defaults_know_their_own_keys() -> None:
    # Every real chart's own defaults, checked as if they were a repository's values.
    for path in sorted(HELM_VALUES.glob("*.values.yaml")):
        defaults = yaml.safe_load(path.read_text())
        report = check_values(defaults, chart(defaults, label=path.name))
        assert [f for f in report.findings if f.kind != SCHEMA] == [], path.name
