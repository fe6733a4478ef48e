"""How each selected web UI is reached: its host, and which of its paths sit behind single sign-on.

The facts are catalog data: a component's ``ui`` (subdomain, ``host_option``, ``sso.paths``,
``sso.required``) and the component that ``provides.forward_auth`` (authelia's Middleware). This
module only combines them with the selection and the options, so every template (an Ingress, a
chart's values, Authelia's access rules) reads one decision instead of re-deriving it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from homelab_scaffold.catalog.derived import SSO_OPTION, WHOLE_HOST
from homelab_scaffold.generate.plan import Plan, PlannedComponent


@dataclass(frozen=True)
class ForwardAuth:
    """The forward-auth Middleware of the selected single sign-on component."""

    component: str
    namespace: str
    middleware: str

    @property
    def reference(self) -> str:
        """How an Ingress names it (``traefik.ingress.kubernetes.io/router.middlewares``)."""
        return f"{self.namespace}-{self.middleware}@kubernetescrd"


@dataclass(frozen=True)
class UiAccess:
    """How one component's web UI is reached.

    Attributes:
        host: Its host name.
        middleware: The forward-auth Middleware reference its guarded paths' Ingress names; ""
            when nothing guards it (no single sign-on selected, or its ``sso`` option off).
        paths: The path prefixes behind single sign-on (``("/",)``: the whole host).
        exposed: False when it gets no Ingress at all: its ``ui.ingress_option`` is off, or
            it is a UI without a login of its own that must not be reachable unguarded
            (``sso.required``) while nothing can guard it.
    """

    host: str
    middleware: str
    paths: tuple[str, ...]
    exposed: bool

    @property
    def resources(self) -> list[str]:
        """Authelia ``resources`` patterns for the guarded paths (none for the whole host)."""
        if self.paths == WHOLE_HOST:
            return []
        return [f"^{re.escape(path)}([/?].*)?$" for path in self.paths]


def forward_auth(plan: Plan) -> ForwardAuth | None:
    """The selected component that provides a forward-auth Middleware, if any."""
    for name, planned in sorted(plan.components.items()):
        middleware = planned.component.provides.forward_auth
        if middleware:
            return ForwardAuth(name, planned.component.namespace, middleware)
    return None


def ui_access(plan: Plan, planned: PlannedComponent, guard: ForwardAuth | None) -> UiAccess | None:
    """How ``planned``'s UI is reached with ``guard`` (None: no UI with a host)."""
    ui = planned.component.ui
    host = ui.host(planned.options, plan.answers.domain) if ui is not None else ""
    if ui is None or not host:
        return None
    if not ui.has_ingress(planned.options):
        return UiAccess(host, "", (), exposed=False)
    if ui.sso is None:
        return UiAccess(host, "", (), exposed=True)
    wanted = bool(planned.options.get(SSO_OPTION, True))
    # The login's session cookie covers the domain and its subdomains only: a host elsewhere
    # (vaultwarden's hostname option) cannot be guarded.
    in_domain = host.endswith(f".{plan.answers.domain}")
    guarded = wanted and in_domain and guard is not None and guard.component != planned.name
    return UiAccess(
        host,
        guard.reference if guarded and guard is not None else "",
        ui.sso.paths,
        exposed=guarded or not (ui.sso.required and wanted),
    )


def plan_access(plan: Plan) -> Mapping[str, UiAccess]:
    """Every selected component's UI access, by component name."""
    guard = forward_auth(plan)
    found = {name: ui_access(plan, planned, guard) for name, planned in plan.components.items()}
    return {name: access for name, access in sorted(found.items()) if access is not None}


def open_without_login(plan: Plan) -> list[str]:
    """The selected components whose UI has no login at all (``ui.sso.required``) yet gets an
    Ingress with nothing guarding it: their ``sso`` option is off."""
    return [
        name
        for name, access in plan_access(plan).items()
        if access.exposed and not access.middleware and _login_required(plan.components[name])
    ]


def _login_required(planned: PlannedComponent) -> bool:
    ui = planned.component.ui
    return ui is not None and ui.sso is not None and ui.sso.required


def unguarded_warnings(plan: Plan) -> list[str]:
    """One warning per UI ``open_without_login`` exposes: what anyone on the network can do."""
    access = plan_access(plan)
    warnings = []
    for name in open_without_login(plan):
        ui = plan.components[name].component.ui
        assert ui is not None and ui.sso is not None  # open_without_login checked both
        warnings.append(
            f"components.{name}.{SSO_OPTION} is false: the {ui.title} UI at "
            f"https://{access[name].host}/ has no login at all, so anyone on your network can "
            f"{ui.sso.without_login}; set it back to true (with a single sign-on component "
            "selected) to put it behind a login"
        )
    return warnings
