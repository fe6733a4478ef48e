"""Sync-wave ordering between Applications: CRDs before their custom resources, the ingress
controller before Ingresses, the storage provider before PersistentVolumeClaims.

Only raw-manifest (directory) Applications are inspected: what a Helm chart renders is not in the
repository. What a chart installs (CRD groups, IngressClass, StorageClasses) is data: the catalog's
``chart.crd_groups`` and ``provides``, and ``templates/known-charts.yaml``
(``catalog.charts.chart_facts``); so are the CRD groups a raw-manifest Application's controller
registers when it starts (``applications[].crd_groups``, ``Catalog.controller_crd_groups``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from homelab_scaffold.catalog.model import ChartFacts
from homelab_scaffold.inspect.apps import ARGO_GROUP, Application, Inventory, parse_wave
from homelab_scaffold.inspect.model import (
    SYNC_OPTIONS_ANNOTATION,
    WAVE_ANNOTATION,
    Document,
    Problem,
    dig,
    items,
    text_at,
)
from homelab_scaffold.inspect.schemas import BUILTIN_GROUPS

CHECK = "ordering"
SKIP_DRY_RUN = "SkipDryRunOnMissingResource=true"

# ArgoCD's own CRDs exist before the root Application can sync at all.
PREINSTALLED_GROUPS = frozenset({ARGO_GROUP})


@dataclass(frozen=True)
class _Provider:
    app: Application
    what: str


Charts = Mapping[str, ChartFacts]
ControllerGroups = Mapping[str, tuple[str, ...]]


def check_ordering(
    inventory: Inventory,
    charts: Charts,
    controllers: ControllerGroups = MappingProxyType({}),
) -> list[Problem]:
    """Problems where a directory Application may sync before what its resources depend on.

    Args:
        inventory: The repository's Applications and documents.
        charts: What each chart installs, by chart name (``catalog.charts.chart_facts``).
        controllers: CRD groups Applications register through their controller, by Application
            name (``Catalog.controller_crd_groups``).
    """
    crds = _crd_providers(inventory, charts, controllers)
    ingress = _ingress_controllers(inventory, charts)
    storage = _storage_providers(inventory, charts)
    problems: list[Problem] = []
    for app in inventory.apps:
        documents = inventory.documents_of(app)
        if documents and app.has_valid_wave:
            problems.extend(_crd_problems(app, documents, crds))
            problems.extend(_ingress_problems(app, documents, ingress))
            problems.extend(_storage_problems(app, documents, storage))
    return problems


def _chart_apps(inventory: Inventory, charts: Charts) -> Iterator[tuple[ChartFacts, Application]]:
    """(what the chart installs, Application) for every chart source of a known chart."""
    for app in inventory.apps:
        for source in app.sources:
            if source.chart in charts:
                yield charts[source.chart], app


def _crd_providers(
    inventory: Inventory, charts: Charts, controllers: ControllerGroups
) -> dict[str, list[_Provider]]:
    """CRD group -> the Applications installing it (a chart's groups, a CRD in the repo, or a
    controller that registers it when it starts)."""

    def crd(doc: Document) -> tuple[str, str] | None:
        if not doc.is_kind("apiextensions.k8s.io", "CustomResourceDefinition"):
            return None
        return text_at(doc.body, "spec", "group"), f"CRD {doc.name}"

    providers = _providers(inventory, charts, lambda chart: chart.crd_groups, crd)
    for app in inventory.apps:
        for group in controllers.get(app.name, ()):
            providers.setdefault(group, []).append(_Provider(app, "its controller"))
    return providers


def _ingress_controllers(inventory: Inventory, charts: Charts) -> list[tuple[Application, str]]:
    return [
        (app, chart.ingress_class)
        for chart, app in _chart_apps(inventory, charts)
        if chart.ingress_class
    ]


def _storage_providers(inventory: Inventory, charts: Charts) -> dict[str, list[_Provider]]:
    """StorageClass -> the Applications providing it (a chart's classes, or one in the repo)."""

    def storage_class(doc: Document) -> tuple[str, str] | None:
        if not doc.is_kind("storage.k8s.io", "StorageClass") or not doc.name:
            return None
        return doc.name, "its StorageClass"

    return _providers(inventory, charts, lambda chart: chart.storage_classes, storage_class)


def _providers(
    inventory: Inventory,
    charts: Charts,
    of_chart: Callable[[ChartFacts], Iterable[str]],
    of_document: Callable[[Document], tuple[str, str] | None],
) -> dict[str, list[_Provider]]:
    """What charts and repository documents provide: name -> [(Application, how)]."""
    providers: dict[str, list[_Provider]] = {}
    for chart, app in _chart_apps(inventory, charts):
        for name in of_chart(chart):
            providers.setdefault(name, []).append(_Provider(app, f"chart {chart.name}"))
    for app in inventory.apps:
        for doc in inventory.documents_of(app):
            found = of_document(doc)
            if found is not None:
                providers.setdefault(found[0], []).append(_Provider(app, found[1]))
    return providers


def _later(app: Application, provider: Application) -> bool:
    """True when ``app`` syncs after ``provider``, or when a malformed wave makes it unknowable."""
    return app.wave > provider.wave or not provider.has_valid_wave


def _crd_problems(
    app: Application, documents: list[Document], providers: dict[str, list[_Provider]]
) -> list[Problem]:
    reported: set[int] = set()
    problems = []
    for doc in documents:
        group = doc.group
        if group in BUILTIN_GROUPS or group in PREINSTALLED_GROUPS:
            continue
        for provider in providers.get(group, ()):
            if provider.app is app or id(provider.app) in reported or _later(app, provider.app):
                continue
            if _skips_dry_run(app, doc) and (
                app.has_retry or _synced_after(doc, provider.app, documents)
            ):
                continue
            reported.add(id(provider.app))
            problems.append(app.doc.problem(CHECK, (
                f"deploys {doc.kind} '{doc.name}' ({doc.file}) whose CRD Application "
                f"'{provider.app.name}' installs ({provider.what}, wave {provider.app.wave}), but "
                f"'{app.name}' is in wave {app.wave}: put it in a later wave, or give it the sync "
                f"option {SKIP_DRY_RUN} and a retry"
            )))
    return problems


def _synced_after(doc: Document, provider: Application, documents: list[Document]) -> bool:
    """True when the same Application syncs both the provider's Application and ``doc``, the
    document in a later sync wave: each wave waits for the one before to be Healthy (the root
    Application syncing a SealedSecret after the sealing controller's Application)."""
    wave = parse_wave(doc.annotation(WAVE_ANNOTATION))
    where = (provider.doc.file, provider.doc.index)
    synced_here = any((d.file, d.index) == where for d in documents)
    return synced_here and wave is not None and wave > provider.wave


def _skips_dry_run(app: Application, doc: Document) -> bool:
    if SKIP_DRY_RUN in app.sync_options:
        return True
    options = doc.annotation(SYNC_OPTIONS_ANNOTATION)
    return isinstance(options, str) and SKIP_DRY_RUN in [o.strip() for o in options.split(",")]


def _ingress_problems(
    app: Application, documents: list[Document], controllers: list[tuple[Application, str]]
) -> list[Problem]:
    ingresses = [d for d in documents if d.is_kind("networking.k8s.io", "Ingress")]
    problems = []
    for controller, ingress_class in controllers:
        if controller is app or _later(app, controller):
            continue
        for doc in ingresses:
            wanted = text_at(doc.body, "spec", "ingressClassName")
            if wanted and wanted != ingress_class:
                continue
            problems.append(app.doc.problem(CHECK, (
                f"deploys Ingress '{doc.name}' ({doc.file}) in wave {app.wave}, not after the "
                f"ingress controller Application '{controller.name}' (wave {controller.wave}): "
                f"put '{app.name}' in a later wave"
            )))
            break
    return problems


def _storage_problems(
    app: Application, documents: list[Document], providers: dict[str, list[_Provider]]
) -> list[Problem]:
    problems = []
    reported: set[int] = set()
    for doc, storage_class in _claims(documents):
        for provider in providers.get(storage_class, ()):
            if provider.app is app or id(provider.app) in reported or _later(app, provider.app):
                continue
            reported.add(id(provider.app))
            problems.append(app.doc.problem(CHECK, (
                f"deploys {doc.kind} '{doc.name}' ({doc.file}) using StorageClass "
                f"'{storage_class}' from Application '{provider.app.name}' ({provider.what}, "
                f"wave {provider.app.wave}), but '{app.name}' is in wave {app.wave}: put it in a "
                "later wave"
            )))
    return problems


def _claims(documents: list[Document]) -> Iterator[tuple[Document, str]]:
    """(document, storage class) for PVCs and StatefulSet volumeClaimTemplates."""
    for doc in documents:
        if doc.is_kind("", "PersistentVolumeClaim"):
            storage_class = text_at(doc.body, "spec", "storageClassName")
            if storage_class:
                yield doc, storage_class
        elif doc.is_kind("apps", "StatefulSet"):
            for template in items(dig(doc.body, "spec", "volumeClaimTemplates")):
                storage_class = text_at(template, "spec", "storageClassName")
                if storage_class:
                    yield doc, storage_class
