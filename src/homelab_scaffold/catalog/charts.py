"""What Helm charts install that other Applications depend on: CRD groups, IngressClasses,
StorageClasses. ``scaffold validate`` checks sync order with these facts.

They come from data only: each catalog component's ``chart.crd_groups`` and ``provides``, and
``templates/known-charts.yaml`` for well-known charts that are not scaffold components.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cache
from types import MappingProxyType
from typing import Any

from homelab_scaffold.catalog.loader import checked_yaml
from homelab_scaffold.catalog.model import Catalog, ChartFacts
from homelab_scaffold.catalog.resources import templates_root
from homelab_scaffold.catalog.schema import KNOWN_CHARTS_SCHEMA

KNOWN_CHARTS_FILE = "known-charts.yaml"


def _facts(name: str, data: Mapping[str, Any]) -> ChartFacts:
    return ChartFacts(
        name=name,
        crd_groups=tuple(data.get("crd_groups", ())),
        ingress_class=data.get("ingress_class"),
        storage_classes=tuple(data.get("storage_classes", ())),
    )


@cache
def known_charts() -> Mapping[str, ChartFacts]:
    """The charts of ``templates/known-charts.yaml``, checked against its schema."""
    data = checked_yaml(templates_root() / KNOWN_CHARTS_FILE, "known charts", KNOWN_CHARTS_SCHEMA)
    return MappingProxyType({name: _facts(name, raw) for name, raw in data["charts"].items()})


def _merged(first: ChartFacts, second: ChartFacts) -> ChartFacts:
    """Both sources' facts about one chart; ``second``'s IngressClass wins."""
    return ChartFacts(
        name=first.name,
        crd_groups=tuple(dict.fromkeys((*first.crd_groups, *second.crd_groups))),
        ingress_class=second.ingress_class or first.ingress_class,
        storage_classes=tuple(dict.fromkeys((*first.storage_classes, *second.storage_classes))),
    )


def merge_chart_facts(*sources: Iterable[ChartFacts]) -> dict[str, ChartFacts]:
    """Facts by chart name; facts about the same chart are combined, later sources first."""
    merged: dict[str, ChartFacts] = {}
    for source in sources:
        for facts in source:
            known = merged.get(facts.name)
            merged[facts.name] = facts if known is None else _merged(known, facts)
    return merged


def chart_facts(catalog: Catalog) -> dict[str, ChartFacts]:
    """What every chart the catalog or ``known-charts.yaml`` names installs, by chart name."""
    from_catalog = [f for c in catalog.components.values() if (f := c.chart_facts) is not None]
    return merge_chart_facts(known_charts().values(), from_catalog)
