"""From answers and catalog to a plan: the selected components, their options, sync waves.

Waves are computed from the dependency graph, never hand-numbered: the argocd Application is
wave 0 and every other Application is one more than the highest wave among what it needs (and
among its ``after`` Applications that are selected).

With ``secrets: sealed-secrets`` the ``sealed-secrets`` component is selected as soon as a
selected component has secrets, and every Application of such a component needs it (the
SealedSecret CRD and the controller that turns SealedSecrets into Secrets). SealedSecret files of
the user's own in the repository (``secret seal``, kubeseal) keep it selected too: without the
controller nothing could decrypt them. With ``secrets: manual`` the controller is the user's to
list or not (theirs may run elsewhere), so nothing is added then.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from homelab_scaffold.catalog.derived import image_tag_option
from homelab_scaffold.catalog.instances import GENERIC_KEY, with_instances
from homelab_scaffold.catalog.model import (
    AppSpec,
    Catalog,
    Chart,
    Component,
    Image,
    Option,
    ProvidedSecret,
)
from homelab_scaffold.catalog.options import first_address, in_ranges
from homelab_scaffold.catalog.versions import require_version
from homelab_scaffold.errors import ConfigError
from homelab_scaffold.generate.answers import Answers
from homelab_scaffold.suggest import unknown
from homelab_scaffold.wording import some_of

ALWAYS_SELECTED = ("argocd",)
ROOT_APP = "argocd"
# The component (and its Application) that decrypts SealedSecrets in the cluster.
SEALED_SECRETS_COMPONENT = "sealed-secrets"


@dataclass(frozen=True)
class PlannedComponent:
    """A selected component with its options resolved (defaults applied, values checked)."""

    component: Component
    options: Mapping[str, Any]
    needed_by: tuple[str, ...] = ()
    # The global answers (``Answers.context()``) that provided secrets' ``when`` may name.
    config: Mapping[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The component's name."""
        return self.component.name

    @property
    def provided_secrets(self) -> tuple[ProvidedSecret, ...]:
        """The user-provided secrets this component needs with its options."""
        component = self.component
        return tuple(
            p
            for p in component.provided_secrets
            if p.needed_by(component.name, self.options, self.config)
        )

    @property
    def bootstrap_secrets(self) -> bool:
        """True when its Secrets are applied by ``scaffold bootstrap`` before Argo CD syncs."""
        return any(p.bootstrap for p in self.provided_secrets)

    @property
    def waits_for_sealing(self) -> bool:
        """True when its Applications must sync after the sealing controller (its Secrets come
        only from SealedSecrets; bootstrap Secrets are in the cluster before anything syncs)."""
        return bool(self.component.secrets) or any(
            not p.bootstrap for p in self.provided_secrets
        )

    @property
    def needs_secrets(self) -> bool:
        """True when it needs secret values (generated, or provided with its options)."""
        return bool(self.component.secrets or self.provided_secrets)

    @property
    def version(self) -> str | None:
        """The chart version in use (the user's override or the pinned default)."""
        return self.options.get("version") if self.component.chart else None

    @property
    def images(self) -> Mapping[str, Image]:
        """Its images with the tags in use (scaffold.yaml's ``<key>_image_tag``, else the
        catalog's)."""
        return MappingProxyType({
            key: replace(image, tag=self.options.get(image_tag_option(key)) or image.tag)
            for key, image in self.component.images.items()
        })


@dataclass(frozen=True)
class PlannedApp:
    """One Application of the plan, with its sync wave."""

    spec: AppSpec
    component: str
    wave: int
    chart: Chart | None

    @property
    def name(self) -> str:
        """The Application name."""
        return self.spec.name


@dataclass(frozen=True)
class Plan:
    """Everything the renderer needs, decided."""

    answers: Answers
    components: Mapping[str, PlannedComponent]
    apps: tuple[PlannedApp, ...]
    warnings: tuple[str, ...] = ()
    # The user's own SealedSecret files, which keep the sealed-secrets controller selected.
    own_sealed: tuple[str, ...] = ()

    @property
    def sealed(self) -> bool:
        """True when this plan's Secrets are sealed into Git by the sealed-secrets controller."""
        return self.answers.sealed and SEALED_SECRETS_COMPONENT in self.components

    @property
    def added(self) -> dict[str, tuple[str, ...]]:
        """Components selected because others need them -> who needs them."""
        return {n: c.needed_by for n, c in self.components.items() if c.needed_by}


def resolve_selection(catalog: Catalog, requested: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """Close the requested set over dependencies: name -> components that pulled it in."""
    wanted = [*ALWAYS_SELECTED, *(n for n in requested if n not in ALWAYS_SELECTED)]
    for name in wanted:
        if catalog.get(name).generic:
            raise ConfigError(
                f"{name!r} is a generic component: add an instance with "
                f"`scaffold add {name} NAME ...` (see `scaffold add --help`)"
            )
    selected: dict[str, list[str]] = {name: [] for name in wanted}
    queue = list(wanted)
    while queue:
        name = queue.pop(0)
        for need in catalog.needed_components(name):
            if need not in selected:
                selected[need] = []
                queue.append(need)
            if need not in wanted:
                selected[need].append(name)
    _check_conflicts(catalog, selected)
    return {name: tuple(sorted(set(by))) for name, by in sorted(selected.items())}


def _check_conflicts(catalog: Catalog, selected: Iterable[str]) -> None:
    names = set(selected)
    for name in sorted(names):
        clash = sorted(set(catalog.get(name).conflicts) & names)
        if clash:
            raise ConfigError(
                f"components {name!r} and {clash[0]!r} cannot be used together; remove one of them"
            )


def resolve_options(component: Component, given: Mapping[str, Any], source: str) -> dict[str, Any]:
    """Apply defaults and check every option value; unknown options are errors."""
    extra = sorted(set(given) - set(component.options))
    if extra:
        message = unknown("option", extra[0], component.options)
        raise ConfigError(f"{source}: components.{component.name}: {message}")
    resolved: dict[str, Any] = {}
    for name, option in component.options.items():
        value = given.get(name, option.default)
        try:
            resolved[name] = option.check(value)
        except ValueError as exc:
            raise ConfigError(
                f"{source}: components.{component.name}.{name}: {value!r} is not valid: {exc}"
            ) from None
    for name, option in component.options.items():
        reason = option.missing_in(resolved)
        if reason:
            raise ConfigError(
                f"{source}: components.{component.name}.{name}: a value is {reason} "
                f"({option.help or option.type})"
            )
    return resolved


def _version_warning(component: Component, version: str | None) -> str | None:
    chart = component.chart
    if chart is None or chart.known is None or version is None:
        return None
    oldest, newest = chart.known
    parsed = require_version(version)
    if parsed < require_version(oldest):
        nearest = oldest
    elif parsed > require_version(newest):
        nearest = newest
    else:
        return None
    return (
        f"{component.name} version {version} is outside the versions scaffold's templates know "
        f"({oldest} to {newest}); rendering with the template for {nearest}: review the values"
    )


def compute_waves(apps: Mapping[str, AppSpec]) -> dict[str, int]:
    """Wave of every Application: argocd is 0, others 1 + the highest wave they wait for."""
    waves: dict[str, int] = {}
    visiting: list[str] = []

    def wave_of(name: str) -> int:
        if name in waves:
            return waves[name]
        if name in visiting:
            cycle = " -> ".join([*visiting[visiting.index(name) :], name])
            raise ConfigError(f"dependency cycle between Applications: {cycle}")
        visiting.append(name)
        spec = apps[name]
        waits = [n for n in (*spec.needs, *spec.after) if n in apps]
        floor = -1 if name == ROOT_APP or ROOT_APP not in apps else 0
        waves[name] = 1 + max([floor, *(wave_of(n) for n in waits)])
        visiting.pop()
        return waves[name]

    for name in sorted(apps):
        wave_of(name)
    return waves


def _plan_components(
    answers: Answers, catalog: Catalog, selection: Mapping[str, tuple[str, ...]], source: str
) -> dict[str, PlannedComponent]:
    planned = {
        name: PlannedComponent(
            catalog.get(name),
            MappingProxyType(resolve_options(catalog.get(name), _given(answers, name), source)),
            needed_by,
            MappingProxyType(answers.context()),
        )
        for name, needed_by in selection.items()
    }
    return {name: _within_pools(c, planned, source) for name, c in planned.items()}


def _within_pools(
    planned: PlannedComponent, selected: Mapping[str, PlannedComponent], source: str
) -> PlannedComponent:
    """``planned`` with its options that lie in another component's address pool (``within``)
    resolved: no value takes the pool's first address, a value outside the pool is refused."""
    found: dict[str, Any] = {}
    for name, option in planned.component.options.items():
        pool = _pool(option, selected)
        value = planned.options.get(name)
        if not pool:
            continue
        if value is None:
            found[name] = first_address(pool)
        elif not in_ranges(value, pool):
            raise ConfigError(
                f"{source}: components.{planned.name}.{name}: {value} is outside the address "
                f"pool components.{option.within} ({', '.join(pool)}); give an address of the "
                f"pool, or leave {name} out to use its first address ({first_address(pool)})"
            )
    if not found:
        return planned
    return replace(planned, options=MappingProxyType({**planned.options, **found}))


def _pool(option: Option, selected: Mapping[str, PlannedComponent]) -> list[str]:
    """The ranges of the pool ``option`` lies within, when its component is selected."""
    ref = option.within
    other = selected.get(ref.component) if ref is not None else None
    if ref is None or other is None:
        return []
    return list(other.options.get(ref.option) or [])


def _select_sealing(
    answers: Answers,
    catalog: Catalog,
    planned: dict[str, PlannedComponent],
    source: str,
    own_sealed: tuple[str, ...],
) -> tuple[dict[str, PlannedComponent], tuple[str, ...]]:
    """Add sealed-secrets when sealing and a component has secrets, or when the user's own
    SealedSecrets need its controller; returns the secret users."""
    users = secret_users(planned) if answers.sealed else ()
    keepers = (*users, *own_sealed_reason(own_sealed)) if answers.sealed else ()
    if not keepers or SEALED_SECRETS_COMPONENT in planned:
        return planned, users
    selection = resolve_selection(catalog, [*answers.components, SEALED_SECRETS_COMPONENT])
    selection = {**selection, SEALED_SECRETS_COMPONENT: keepers}
    return _plan_components(answers, catalog, selection, source), users


def own_sealed_reason(own_sealed: tuple[str, ...]) -> tuple[str, ...]:
    """Why the user's SealedSecret files keep the controller, as a ``needed_by`` entry."""
    if not own_sealed:
        return ()
    return (f"your SealedSecrets ({some_of(own_sealed)})",)


def secret_users(components: Mapping[str, PlannedComponent]) -> tuple[str, ...]:
    """Selected components that need secret values (sealed mode: provided ones count too)."""
    return tuple(sorted(name for name, planned in components.items() if planned.needs_secrets))


def _waiting_for_sealing(
    app: AppSpec, component: str, users: tuple[str, ...], sealing_apps: tuple[str, ...]
) -> AppSpec:
    missing = tuple(name for name in sealing_apps if name not in app.needs)
    if component not in users or not missing:
        return app
    return replace(app, needs=(*app.needs, *missing))


def build_plan(
    answers: Answers,
    catalog: Catalog,
    source: str = "scaffold.yaml",
    own_sealed: Iterable[str] = (),
) -> Plan:
    """Decide the whole repository: selection, options, versions, waves. ``own_sealed``: the
    user's own SealedSecret files in the repository (they keep the sealing controller while
    Secrets are sealed)."""
    own = tuple(sorted(own_sealed)) if answers.sealed else ()
    catalog = with_instances(catalog, answers.components)
    selection = resolve_selection(catalog, answers.components)
    planned = _plan_components(answers, catalog, selection, source)
    planned, users = _select_sealing(answers, catalog, planned, source, own)
    sealing = planned.get(SEALED_SECRETS_COMPONENT)
    sealing_apps = sealing.component.app_names if sealing and users else ()
    waiting = tuple(name for name in users if planned[name].waits_for_sealing)
    specs = {
        app.name: (_waiting_for_sealing(app, c.name, waiting, sealing_apps), c)
        for c in planned.values()
        for app in c.component.applications
    }
    waves = compute_waves({name: spec for name, (spec, _) in specs.items()})
    apps = [
        PlannedApp(spec, c.name, waves[name], _chart_at(c)) for name, (spec, c) in specs.items()
    ]
    apps.sort(key=lambda a: (a.wave, a.name))
    warnings = [w for c in planned.values() if (w := _version_warning(c.component, c.version))]
    return Plan(answers, MappingProxyType(planned), tuple(apps), tuple(warnings), own)


def _given(answers: Answers, name: str) -> dict[str, Any]:
    return {k: v for k, v in answers.components.get(name, {}).items() if k != GENERIC_KEY}


def _chart_at(planned: PlannedComponent) -> Chart | None:
    chart = planned.component.chart
    if chart is None:
        return None
    return Chart(chart.repo, chart.name, str(planned.version), chart.known)
