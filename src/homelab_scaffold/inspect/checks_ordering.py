"""Sync-wave ordering between Applications: CRDs before their custom resources, the ingress
controller before Ingresses, the storage provider before PersistentVolumeClaims.

Only raw-manifest (directory) Applications are inspected: what a Helm chart renders is not in the
repository. What each well-known chart provides is listed below as data.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from types import MappingProxyType

from homelab_scaffold.catalog.loader import load_catalog
from homelab_scaffold.inspect.apps import ARGO_GROUP, Application, Inventory
from homelab_scaffold.inspect.model import (
    SYNC_OPTIONS_ANNOTATION,
    Document,
    Problem,
    dig,
    items,
    text_at,
)
from homelab_scaffold.inspect.schemas import is_builtin_group

CHECK = "ordering"
SKIP_DRY_RUN = "SkipDryRunOnMissingResource=true"

# CRD API groups a chart installs (by chart name).
CHART_CRD_GROUPS = MappingProxyType({
    "argo-cd": ("argoproj.io",),
    "cert-manager": ("cert-manager.io", "acme.cert-manager.io"),
    "cloudnative-pg": ("postgresql.cnpg.io",),
    "external-secrets": ("external-secrets.io", "generators.external-secrets.io"),
    "kube-prometheus-stack": ("monitoring.coreos.com",),
    "longhorn": ("longhorn.io",),
    "metallb": ("metallb.io",),
    "prometheus-operator-crds": ("monitoring.coreos.com",),
    "sealed-secrets": ("bitnami.com",),
    "traefik": ("traefik.io", "traefik.containo.us", "hub.traefik.io"),
    "traefik-crds": ("traefik.io", "traefik.containo.us", "hub.traefik.io"),
    "velero": ("velero.io",),
})
# Ingress controller charts and the IngressClass each creates by default.
INGRESS_CONTROLLER_CHARTS = MappingProxyType({
    "traefik": "traefik",
    "ingress-nginx": "nginx",
    "haproxy-ingress": "haproxy",
    "kubernetes-ingress": "haproxy",
    "contour": "contour",
})
# Storage charts and the StorageClasses they create.
STORAGE_CHARTS = MappingProxyType({
    "longhorn": ("longhorn", "longhorn-static"),
    "nfs-subdir-external-provisioner": ("nfs-client",),
    "local-path-provisioner": ("local-path",),
    "openebs": ("openebs-hostpath",),
})
# ArgoCD's own CRDs exist before the root Application can sync at all.
PREINSTALLED_GROUPS = frozenset({ARGO_GROUP})


@dataclass(frozen=True)
class _Provider:
    app: Application
    what: str


def check_ordering(inventory: Inventory) -> list[Problem]:
    """Problems where a directory Application may sync before what its resources depend on."""
    crds = _crd_providers(inventory)
    ingress = _ingress_controllers(inventory)
    storage = _storage_providers(inventory)
    problems: list[Problem] = []
    for app in inventory.apps:
        documents = inventory.documents_of(app)
        if documents and app.has_valid_wave:
            problems.extend(_crd_problems(app, documents, crds))
            problems.extend(_ingress_problems(app, documents, ingress))
            problems.extend(_storage_problems(app, documents, storage))
    return problems


def _chart_apps(inventory: Inventory) -> Iterator[tuple[str, Application]]:
    for app in inventory.apps:
        for source in app.sources:
            if source.chart:
                yield source.chart, app


def _known_crd_groups() -> tuple[dict[str, tuple[str, ...]], dict[str, tuple[str, ...]]]:
    """(chart -> CRD groups, Application name -> CRD groups): the table above plus the catalog's
    ``chart.crd_groups`` and ``applications[].crd_groups``."""
    catalog = load_catalog()
    return (
        {**CHART_CRD_GROUPS, **catalog.crd_groups_by_chart()},
        catalog.crd_groups_by_application(),
    )


def _crd_providers(inventory: Inventory) -> dict[str, list[_Provider]]:
    providers: dict[str, list[_Provider]] = {}
    by_chart, by_application = _known_crd_groups()
    for chart, app in _chart_apps(inventory):
        for group in by_chart.get(chart, ()):
            providers.setdefault(group, []).append(_Provider(app, f"chart {chart}"))
    for app in inventory.apps:
        for group in by_application.get(app.name, ()):
            providers.setdefault(group, []).append(_Provider(app, "its controller"))
    for app in inventory.apps:
        for doc in inventory.documents_of(app):
            if doc.is_kind("apiextensions.k8s.io", "CustomResourceDefinition"):
                group = text_at(doc.body, "spec", "group")
                providers.setdefault(group, []).append(_Provider(app, f"CRD {doc.name}"))
    return providers


def _ingress_controllers(inventory: Inventory) -> list[tuple[Application, str]]:
    return [
        (app, INGRESS_CONTROLLER_CHARTS[chart])
        for chart, app in _chart_apps(inventory)
        if chart in INGRESS_CONTROLLER_CHARTS
    ]


def _storage_providers(inventory: Inventory) -> dict[str, list[_Provider]]:
    providers: dict[str, list[_Provider]] = {}
    for chart, app in _chart_apps(inventory):
        for storage_class in STORAGE_CHARTS.get(chart, ()):
            providers.setdefault(storage_class, []).append(_Provider(app, f"chart {chart}"))
    for app in inventory.apps:
        for doc in inventory.documents_of(app):
            if doc.is_kind("storage.k8s.io", "StorageClass") and doc.name:
                providers.setdefault(doc.name, []).append(_Provider(app, "its StorageClass"))
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
        if is_builtin_group(group) or group in PREINSTALLED_GROUPS:
            continue
        for provider in providers.get(group, ()):
            if provider.app is app or id(provider.app) in reported or _later(app, provider.app):
                continue
            if _skips_dry_run(app, doc) and app.has_retry:
                continue
            reported.add(id(provider.app))
            problems.append(app.doc.problem(CHECK, (
                f"deploys {doc.kind} '{doc.name}' ({doc.file}) whose CRD Application "
                f"'{provider.app.name}' installs ({provider.what}, wave {provider.app.wave}), but "
                f"'{app.name}' is in wave {app.wave}: put it in a later wave, or give it the sync "
                f"option {SKIP_DRY_RUN} and a retry"
            )))
    return problems


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
