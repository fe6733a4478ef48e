"""The facts the repository's guide (the generated README) states about the selected stack.

Every row comes from the catalog and the plan: each web UI with its URL and how it is guarded
(``generate/access.py``), the resources that hold data (``stateful`` in component.yaml), and the
options of every selected component, so the guide names concrete hosts and addresses.
"""

from __future__ import annotations

from typing import Any

from homelab_scaffold.catalog.derived import SSO_OPTION, WHOLE_HOST
from homelab_scaffold.catalog.model import SecretSpec, UserInterface
from homelab_scaffold.generate.access import (
    ForwardAuth,
    UiAccess,
    forward_auth,
    open_without_login,
    plan_access,
)
from homelab_scaffold.generate.plan import Plan, PlannedComponent


def guide_facts(plan: Plan) -> dict[str, Any]:
    """The guide's facts, as plain data for the skeleton's ``_scaffold`` context."""
    guard = forward_auth(plan)
    return {
        "components": {
            name: {"namespace": c.component.namespace, "options": dict(c.options)}
            for name, c in sorted(plan.components.items())
        },
        "uis": ui_rows(plan, guard),
        "login_provider": _login_title(plan, guard),
        "login_component": guard.component if guard is not None else "",
        "stateful": stateful_rows(plan),
        "announced": announced_secrets(plan),
    }


def announced_secrets(plan: Plan) -> dict[str, list[str]]:
    """The generated values ``init`` shows on a terminal (``announce``), as ``component.key``
    by component: the names under which ``secrets/values.yaml`` and ``scaffold secret`` keep
    them."""
    found: dict[str, list[str]] = {}
    for name, planned in sorted(plan.components.items()):
        for spec in planned.component.secrets:
            if isinstance(spec, SecretSpec) and spec.announce:
                found.setdefault(name, []).append(f"{name}.{spec.key}")
    return found


def ui_rows(plan: Plan, guard: ForwardAuth | None) -> list[dict[str, Any]]:
    """Every selected web UI: its title, host and URL, and what single sign-on guards of it."""
    routed = any(c.component.provides.ingress_class for c in plan.components.values())
    unguarded = open_without_login(plan)
    rows = []
    for name, access in plan_access(plan).items():
        planned = plan.components[name]
        ui = planned.component.ui
        if ui is not None:
            rows.append(_ui_row(planned, ui, access, guard, routed=routed, unguarded=unguarded))
    return sorted(rows, key=lambda row: (str(row["title"]).lower(), str(row["host"])))


def _ui_row(
    planned: PlannedComponent,
    ui: UserInterface,
    access: UiAccess,
    guard: ForwardAuth | None,
    *,
    routed: bool,
    unguarded: list[str],
) -> dict[str, Any]:
    # Traefik redirects HTTP to HTTPS, and serves a certificate on every host.
    return {
        "component": planned.name,
        "title": ui.title,
        "host": access.host,
        "url": f"https://{access.host}/",
        "exposed": access.exposed and routed,
        "guarded_paths": [] if not access.middleware else list(access.paths),
        "whole_host": bool(access.middleware) and access.paths == WHOLE_HOST,
        "own_login": ui.sso is None,
        "is_login": guard is not None and guard.component == planned.name,
        "sso_off": ui.sso is not None and not planned.options.get(SSO_OPTION, True),
        "needs_login": ui.sso is not None and ui.sso.required,
        "open_without_login": planned.name in unguarded,
        "without_login": ui.sso.without_login if ui.sso is not None else "",
    }


def _login_title(plan: Plan, guard: ForwardAuth | None) -> str:
    """The title of the component that provides the single sign-on login ("" without one)."""
    if guard is None:
        return ""
    ui = plan.components[guard.component].component.ui
    return ui.title if ui is not None else guard.component


def stateful_rows(plan: Plan) -> list[dict[str, Any]]:
    """The resources of the selected components that hold data (``stateful``)."""
    return [
        {
            "component": name,
            "namespace": planned.component.namespace,
            "kind": resource.kind,
            "name": resource.name,
            "description": resource.description,
            "outside_git": resource.outside_git,
        }
        for name, planned in sorted(plan.components.items())
        for resource in planned.component.stateful
    ]
