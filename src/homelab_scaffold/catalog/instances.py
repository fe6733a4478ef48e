"""Generic components (``helm-app``, ``manifests-app``) and their instances.

A generic component is never selected itself: each ``components.<name>: {from: <generic>, ...}``
entry of scaffold.yaml becomes a component of its own (:func:`with_instances`), with one
Application named after the instance, rendered from the generic component's templates.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from homelab_scaffold.catalog.loader import build_catalog
from homelab_scaffold.catalog.model import AppSpec, Catalog, Chart, Component, Option
from homelab_scaffold.catalog.options import check_k8s_name
from homelab_scaffold.errors import CatalogError
from homelab_scaffold.suggest import unknown

GENERIC_KEY = "from"


# Names whose files the core templates own (argocd-config/<name>.yaml, the config folder itself).
RESERVED_NAMES = frozenset({"root", "root-app", "projects", "argocd-config"})


def instantiate(
    apps_by_component: Mapping[str, tuple[str, ...]],
    generic: Component,
    name: str,
    options: Mapping[str, Any],
) -> Component:
    """A component made from a generic one (``helm-app``, ``manifests-app``) and its options.

    The instance's single Application is named after the instance; its chart, namespace, project
    and dependencies come from the options (checked by the generic component's option types).
    ``apps_by_component`` maps every component name the instance may need to its Applications.
    """
    template = generic.applications[0]
    values = {
        key: _check_instance_option(name, option, options.get(key, option.default))
        for key, option in generic.options.items()
    }
    needs = tuple(
        app
        for dependency in values.get("needs") or ()
        for app in _apps_of(apps_by_component, name, dependency)
    )
    namespace = values.get("namespace") or name
    project = values.get("project") or template.project
    layer = "apps" if project == "apps" else "system"
    app = AppSpec(
        name=name,
        type=template.type,
        namespace=namespace,
        project=project,
        path=f"{layer}/{name}",
        needs=needs,
        config=template.config,
        template_dir=template.templates,
        sync_options=template.sync_options,
    )
    return Component(
        name=name,
        description=f"{generic.description} ({name})",
        namespace=namespace,
        project=project,
        root=generic.root,
        applications=(app,),
        options=generic.options,
        chart=_instance_chart(generic, template, name, values),
        in_default_stack=False,
        images=generic.images,
        group=generic.group,
    )


def _instance_chart(
    generic: Component, template: AppSpec, name: str, values: Mapping[str, Any]
) -> Chart | None:
    if template.type != "helm":
        return None
    missing = [key for key in ("repo", "chart", "version") if not values.get(key)]
    if missing:
        raise CatalogError(
            f"components.{name}: a {generic.name} needs {', '.join(missing)} "
            "(e.g. --repo https://grafana.github.io/helm-charts --chart grafana "
            "--version 8.5.0)"
        )
    return Chart(str(values["repo"]), str(values["chart"]), str(values["version"]))


def _check_instance_option(name: str, option: Option, value: Any) -> Any:
    try:
        return option.check(value)
    except ValueError as exc:
        raise CatalogError(
            f"components.{name}.{option.name}: {value!r} is not valid: {exc}"
        ) from None


def _apps_of(
    apps_by_component: Mapping[str, tuple[str, ...]], name: str, dependency: str
) -> tuple[str, ...]:
    if dependency == name or dependency not in apps_by_component:
        known = [n for n in apps_by_component if n != name]
        message = unknown("component", dependency, known, listed_as="known")
        raise CatalogError(f"components.{name}.needs: {message}")
    return apps_by_component[dependency]


def _check_instance_name(catalog: Catalog, name: str) -> None:
    try:
        check_k8s_name(name)
    except ValueError as exc:
        shown = name if name.isprintable() else repr(name)
        raise CatalogError(f"components.{shown}: {name!r} is not a valid name: {exc}") from None
    if name in RESERVED_NAMES:
        reserved = ", ".join(sorted(RESERVED_NAMES))
        raise CatalogError(
            f"components.{name}: {name!r} is reserved for scaffold's own files "
            f"({reserved}); pick another name"
        )
    if name in catalog.components or name in catalog.app_owner:
        raise CatalogError(
            f"components.{name}: the name is taken by a catalog component or Application; "
            "pick another"
        )


def _generic_source(catalog: Catalog, name: str, source: Any) -> Component:
    generic = catalog.components.get(str(source))
    if generic is None or not generic.generic:
        kinds = ", ".join(n for n, c in catalog.components.items() if c.generic) or "none"
        raise CatalogError(
            f"components.{name}.from: {source!r} is not a generic component ({kinds})"
        )
    return generic


def with_instances(catalog: Catalog, requested: Mapping[str, Mapping[str, Any]]) -> Catalog:
    """The catalog plus one component per ``from: <generic>`` entry of the answers."""
    wanted = {
        name: (_generic_source(catalog, name, options[GENERIC_KEY]), options)
        for name, options in requested.items()
        if isinstance(options, Mapping) and options.get(GENERIC_KEY) is not None
    }
    if not wanted:
        return catalog
    for name in wanted:
        _check_instance_name(catalog, name)
    apps_by_component = {n: c.app_names for n, c in catalog.components.items() if not c.generic} | {
        name: (name,) for name in wanted
    }
    instances = [
        instantiate(
            apps_by_component,
            generic,
            name,
            {k: v for k, v in options.items() if k != GENERIC_KEY},
        )
        for name, (generic, options) in wanted.items()
    ]
    return build_catalog([*catalog.components.values(), *instances])
