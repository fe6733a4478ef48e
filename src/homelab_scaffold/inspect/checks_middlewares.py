"""Every Traefik Middleware a route names exists in the repository.

An Ingress names Middlewares in its ``traefik.ingress.kubernetes.io/router.middlewares``
annotation (in a manifest, or in a chart's Helm values that render the Ingress), as
``<namespace>-<name>@kubernetescrd`` (``<namespace>_<name>`` with Traefik's safe naming); an
IngressRoute names them in ``spec.routes[].middlewares`` (name, namespace). Traefik drops a route
whose Middleware does not exist, so a forward-auth login that is misspelled or was removed turns
the UI into a 404 until someone notices. References to other providers (``@file``, ``@docker``)
cannot be seen from the repository and are left alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from homelab_scaffold.inspect.apps import Inventory
from homelab_scaffold.inspect.model import Document, Problem, dig, items, text_at

CHECK = "middlewares"
ANNOTATION = "traefik.ingress.kubernetes.io/router.middlewares"
CRD_PROVIDER = "kubernetescrd"
TRAEFIK_GROUPS = ("traefik.io", "traefik.containo.us")


def check_middlewares(inventory: Inventory) -> list[Problem]:
    """A problem for each Middleware an Ingress or IngressRoute names that the repository lacks."""
    namespaces = deployed_namespaces(inventory)
    defined = defined_middlewares(inventory, namespaces)
    manifests = {id(doc) for doc in inventory.manifests}
    problems: list[Problem] = []
    for doc in inventory.repo.documents():
        if doc.body is None:
            continue
        if id(doc) not in manifests:
            problems.extend(_values_problems(doc, defined))
        elif doc.is_kind("networking.k8s.io", "Ingress"):
            problems.extend(_annotation_problems(doc, doc.annotation(ANNOTATION), defined))
        elif any(doc.is_kind(group, "IngressRoute") for group in TRAEFIK_GROUPS):
            namespace = doc.namespace or namespaces.get(doc.file, "")
            problems.extend(_route_problems(doc, namespace, defined))
    return problems


def deployed_namespaces(inventory: Inventory) -> dict[str, str]:
    """File -> the destination namespace of the Application that deploys it."""
    return {
        path: app.dest_namespace
        for app in inventory.apps
        for path in inventory.members_of(app)
        if app.dest_namespace
    }


def defined_middlewares(inventory: Inventory, namespaces: dict[str, str]) -> set[str]:
    """``<namespace>-<name>`` and ``<namespace>_<name>`` of every Middleware manifest."""
    found = set()
    for doc in inventory.manifests:
        if any(doc.is_kind(group, "Middleware") for group in TRAEFIK_GROUPS) and doc.name:
            namespace = doc.namespace or namespaces.get(doc.file, "default")
            found |= {f"{namespace}-{doc.name}", f"{namespace}_{doc.name}"}
    return found


def _annotation_problems(doc: Document, value: Any, defined: set[str]) -> Iterator[Problem]:
    for reason in annotation_reasons(value, defined):
        yield doc.problem(CHECK, reason)


def annotation_reasons(value: Any, defined: set[str]) -> list[str]:
    """What is wrong with one ``router.middlewares`` annotation value ([] when nothing)."""
    if value is None:
        return []
    if not isinstance(value, str):
        return [f"{ANNOTATION} is not a string; write <namespace>-<name>@{CRD_PROVIDER}"]
    return [
        reason
        for reference in (part.strip() for part in value.split(","))
        if reference and (reason := reference_reason(reference, defined))
    ]


def reference_reason(reference: str, defined: set[str]) -> str:
    """Why one Middleware reference of an Ingress does not resolve ("" when it does, or when it
    names another provider, whose Middlewares the repository cannot show)."""
    name, _, provider = reference.partition("@")
    if not provider:
        return (
            f"names Middleware '{reference}' without a provider, so Traefik looks for it among "
            f"the Ingress's own and finds none; write <namespace>-<name>@{CRD_PROVIDER}"
        )
    if provider != CRD_PROVIDER or name in defined:
        return ""
    return (
        f"names Middleware '{reference}', but no Middleware of this repository is '{name}' "
        "(its namespace-name); Traefik drops the route, answering 404, until it exists: fix the "
        "reference or add the Middleware"
    )


def _route_problems(doc: Document, namespace: str, defined: set[str]) -> Iterator[Problem]:
    for index, route in enumerate(items(dig(doc.body, "spec", "routes"))):
        for middleware in items(dig(route, "middlewares")):
            name = text_at(middleware, "name")
            home = text_at(middleware, "namespace") or namespace
            if name and "@" not in name and f"{home}-{name}" not in defined:
                yield doc.problem(CHECK, (
                    f"spec.routes[{index}] names Middleware '{name}' in namespace '{home}', "
                    "which is not defined in this repository; Traefik drops the route (404) "
                    "until it exists"
                ))


def _values_problems(doc: Document, defined: set[str]) -> Iterator[Problem]:
    """Ingress annotations inside Helm values (a chart's ``ingress.annotations``)."""
    for where, value in _annotations_in(doc.body, ""):
        for reason in annotation_reasons(value, defined):
            yield Problem(doc.file, CHECK, f"{ANNOTATION} in {where} {reason}", doc.index)


def _annotations_in(value: Any, where: str) -> Iterator[tuple[str, Any]]:
    if isinstance(value, list):
        for index, item in enumerate(value):
            yield from _annotations_in(item, f"{where}[{index}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            if key == ANNOTATION:
                yield where or "(top level)", item
            else:
                yield from _annotations_in(item, f"{where}.{key}" if where else str(key))
