"""The catalog's values: components, their Applications, charts, options, secrets and facts.

Frozen dataclasses only; ``catalog/loader.py`` builds them from ``component.yaml`` (raw dicts stop
there). ``component.schema.json`` documents every field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from homelab_scaffold.catalog.derived import WHOLE_HOST
from homelab_scaffold.catalog.options import CHECKERS, CONFIG_PREFIX
from homelab_scaffold.catalog.schema import component_groups
from homelab_scaffold.errors import CatalogError
from homelab_scaffold.suggest import did_you_mean, unknown


@dataclass(frozen=True)
class OptionRef:
    """An option of another component, ``<component>.<option>``."""

    component: str
    option: str

    def __str__(self) -> str:
        return f"{self.component}.{self.option}"


@dataclass(frozen=True)
class Option:
    """One user option of a component (``components.<name>.<option>`` in scaffold.yaml)."""

    name: str
    type: str
    default: Any
    help: str = ""
    choices: tuple[str, ...] = ()
    minimum: int | None = None
    maximum: int | None = None
    prompt: bool = False
    # Other options of the component and the values under which this one must have a value.
    required_when: tuple[tuple[str, tuple[Any, ...]], ...] = ()
    pin: bool = False
    # An ip option inside another component's ip_ranges option (an address pool): while that
    # component is selected, no value means the pool's first address, and a value outside the
    # pool is refused (generate/plan.py).
    within: OptionRef | None = None

    def missing_in(self, options: Mapping[str, Any]) -> str | None:
        """Why this option needs a value with these option values; None when it has one or may
        stay empty."""
        if options.get(self.name) not in (None, "", []):
            return None
        for other, values in self.required_when:
            if options.get(other) in values:
                return f"needed when {other} is {options[other]}"
        return None

    def check(self, value: Any) -> Any:
        """Return the normalised value or raise ValueError naming what is valid."""
        if value is None and self.default is None:
            return None
        checked = CHECKERS[self.type](value)
        if self.choices and checked not in self.choices:
            hint = did_you_mean(str(checked), self.choices)
            more = f" ({hint})" if hint else ""
            raise ValueError(f"expected one of: {', '.join(self.choices)}{more}")
        if self.minimum is not None and checked < self.minimum:
            raise ValueError(f"expected a number >= {self.minimum}")
        if self.maximum is not None and checked > self.maximum:
            raise ValueError(f"expected a number <= {self.maximum}")
        return checked


@dataclass(frozen=True)
class Chart:
    """The Helm chart a component's helm Application installs."""

    repo: str
    name: str
    version: str
    known: tuple[str, str] | None = None
    crd_groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class PodSecurity:
    """The Pod Security Standards level the namespace of a component's Applications enforces.

    ``label_namespace`` is false for a namespace the component shares with workloads it does not
    own (kube-system): its pods still comply with ``level``, but the label is not written.
    """

    level: str
    reason: str = ""
    label_namespace: bool = True

    @property
    def label(self) -> str | None:
        """The ``pod-security.kubernetes.io/enforce`` value to write, or None."""
        return self.level if self.label_namespace else None


# User Applications (the apps project) run restricted unless their component says otherwise.
RESTRICTED = PodSecurity("restricted")
APPS_PROJECT = "apps"
DEFAULT_GROUP = "apps"


@dataclass(frozen=True)
class SingleSignOn:
    """Which paths of a web UI sit behind the forward-auth login, and whether the UI may be
    exposed without it.

    ``required``: the UI has no login at all and can change the cluster, so without forward-auth
    it gets no Ingress unless the user turns the ``sso`` option off. ``without_login``: what
    anyone on the network can do with it then (the warning and the README say it).
    """

    paths: tuple[str, ...] = WHOLE_HOST
    required: bool = False
    without_login: str = "use it"


@dataclass(frozen=True)
class UserInterface:
    """The web UI a component serves at ``<subdomain>.<domain>`` (Homepage lists it).

    ``host_option`` names the component's option that moves it to another host,
    ``ingress_option`` its bool option that turns the UI's Ingress off; ``sso`` says what of it
    sits behind single sign-on (None: it has a login of its own).
    """

    title: str
    description: str = ""
    icon: str = ""
    subdomain: str = ""
    host_option: str = ""
    ingress_option: str = ""
    sso: SingleSignOn | None = None

    def has_ingress(self, options: Mapping[str, Any]) -> bool:
        """False when its ``ingress_option`` is off with these option values."""
        return not self.ingress_option or bool(options.get(self.ingress_option))

    def host(self, options: Mapping[str, Any], domain: str) -> str:
        """Its host name with these option values ("" when it has no subdomain)."""
        name = options.get(self.host_option) if self.host_option else None
        name = name or self.subdomain
        if not name:
            return ""
        return name if "." in name else f"{name}.{domain}"


@dataclass(frozen=True)
class AppSpec:
    """One ArgoCD Application a component renders."""

    name: str
    type: str
    namespace: str
    project: str
    path: str
    needs: tuple[str, ...] = ()
    after: tuple[str, ...] = ()
    config: bool = False
    template_dir: str = ""
    sync_options: tuple[str, ...] = ()
    # Groups of CRDs its controller registers when it starts (not manifests in its folder).
    crd_groups: tuple[str, ...] = ()
    # The component's declared level; see namespace_pod_security for what is written.
    pod_security: PodSecurity | None = None

    @property
    def templates(self) -> str:
        """The folder (inside the component) holding this Application's templates."""
        return self.template_dir or self.name

    @property
    def namespace_pod_security(self) -> PodSecurity | None:
        """The level its namespace is labelled with: its component's, else restricted in the
        apps project, else none."""
        if self.pod_security is not None:
            return self.pod_security
        return RESTRICTED if self.project == APPS_PROJECT else None


@dataclass(frozen=True)
class SecretSpec:
    """A secret value a component needs, generated once and kept out of Git.

    ``encrypts_data`` is the migration step the application needs when the value changes (empty
    when a new value needs nothing more than a restart).
    """

    key: str
    generate: str
    length: int
    announce: bool = False
    encrypts_data: str = ""


# ``format`` of a provided secret: one line of text, or a private key file.
SECRET_LINE = "line"
SECRET_SSH_PRIVATE_KEY = "ssh_private_key"


@dataclass(frozen=True)
class ProvidedSecret:
    """A secret value only the user can give (an API token), needed while options say so.

    Secrets of several components with the same ``alias`` are one value for the user. Only
    sealed repositories keep these; with ``secrets: manual`` the user creates the Secret.
    """

    component: str
    key: str
    env: str
    description: str
    alias: str = ""
    # Option name (or ``config.<answer>``) -> the value under which it is needed.
    when: tuple[tuple[str, Any], ...] = ()
    format: str = SECRET_LINE
    # Needed before Argo CD syncs anything: kept in plaintext in secrets/ and applied by
    # ``scaffold bootstrap`` (with ``secrets: manual`` too), besides its SealedSecret.
    bootstrap: bool = False
    command_line: bool = True
    file_option: str = ""

    @property
    def name(self) -> str:
        """``component.key``, as ``scaffold secret`` spells it."""
        return f"{self.component}.{self.key}"

    @property
    def short_name(self) -> str:
        """What ``--set secrets.<short_name>=VALUE`` takes: the alias, else the full name."""
        return self.alias or self.name

    def needed_by(
        self,
        component: str,
        options: Mapping[str, Any],
        config: Mapping[str, Any] = MappingProxyType({}),
    ) -> bool:
        """True when ``component`` with ``options`` (and the global answers ``config``) needs
        this value."""
        return component == self.component and all(
            _condition_value(k, options, config) == v for k, v in self.when
        )

    @property
    def config_conditions(self) -> dict[str, Any]:
        """The global answers ``when`` names (``config.repo_auth`` -> ``repo_auth``)."""
        return {
            k.removeprefix(CONFIG_PREFIX): v for k, v in self.when if k.startswith(CONFIG_PREFIX)
        }

    def hint(self) -> str:
        """How ``scaffold init`` takes the value besides its environment variable."""
        if self.file_option:
            return f"pass {self.file_option} PATH"
        return f"pass --set secrets.{self.short_name}=VALUE"

    def shares_value_with(self, other: ProvidedSecret) -> bool:
        """True when ``other`` is the same value for the user (the same alias)."""
        return self == other or (bool(self.alias) and self.alias == other.alias)


def _condition_value(key: str, options: Mapping[str, Any], config: Mapping[str, Any]) -> Any:
    if key.startswith(CONFIG_PREFIX):
        return config.get(key.removeprefix(CONFIG_PREFIX))
    return options.get(key)


@dataclass(frozen=True)
class Image:
    """A container image a component's raw manifests run."""

    repository: str
    tag: str

    @property
    def reference(self) -> str:
        """``repository:tag``, as a container spec names it."""
        return f"{self.repository}:{self.tag}"


# ``stateful[].created_by``: a StatefulSet's volumeClaimTemplate creates the claim.
STATEFULSET_CLAIM = "statefulset"


@dataclass(frozen=True)
class StatefulResource:
    """A resource that holds data: it outlives a sync, and removing it loses that data."""

    kind: str
    name: str
    description: str
    created_by: str = "manifest"

    @property
    def outside_git(self) -> bool:
        """True for a claim a chart's StatefulSet creates (``created_by: statefulset``): no
        file of the repository holds it, so only the catalog knows it stays."""
        return self.created_by == STATEFULSET_CLAIM


@dataclass(frozen=True)
class Provides:
    """What a component provides to others."""

    ingress_class: str | None = None
    storage_classes: tuple[str, ...] = ()
    certificates: bool = False
    dns: bool = False
    # The Traefik Middleware (in the component's namespace) behind which UIs sit (ui.sso).
    forward_auth: str | None = None


@dataclass(frozen=True)
class ChartFacts:
    """What a Helm chart installs that other Applications depend on (for ``scaffold validate``)."""

    name: str
    crd_groups: tuple[str, ...] = ()
    ingress_class: str | None = None
    storage_classes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Component:
    """A catalog entry: metadata plus the folder holding its templates."""

    name: str
    description: str
    namespace: str
    project: str
    root: Path
    applications: tuple[AppSpec, ...]
    options: Mapping[str, Option] = field(default_factory=dict)
    chart: Chart | None = None
    conflicts: tuple[str, ...] = ()
    secrets: tuple[SecretSpec, ...] = ()
    provided_secrets: tuple[ProvidedSecret, ...] = ()
    in_default_stack: bool = True
    generic: bool = False
    provides: Provides = Provides()
    stateful: tuple[StatefulResource, ...] = ()
    images: Mapping[str, Image] = field(default_factory=dict)
    group: str = DEFAULT_GROUP
    pod_security: PodSecurity | None = None
    ui: UserInterface | None = None

    @property
    def app_names(self) -> tuple[str, ...]:
        """Names of the Applications this component renders."""
        return tuple(app.name for app in self.applications)

    @property
    def chart_facts(self) -> ChartFacts | None:
        """What its chart installs, from ``chart.crd_groups`` and ``provides``."""
        if self.chart is None:
            return None
        return ChartFacts(
            self.chart.name,
            self.chart.crd_groups,
            self.provides.ingress_class,
            self.provides.storage_classes,
        )


@dataclass(frozen=True)
class Catalog:
    """Every known component, and which component owns each Application name."""

    components: Mapping[str, Component]
    app_owner: Mapping[str, str]

    def get(self, name: str) -> Component:
        """The component called ``name``; an unknown name is a user error."""
        try:
            return self.components[name]
        except KeyError:
            message = unknown("component", name, self.components, listed_as="known components")
            raise CatalogError(message) from None

    def needed_components(self, name: str) -> tuple[str, ...]:
        """Components owning an Application that one of ``name``'s Applications needs."""
        needed = {self.app_owner[need] for app in self.get(name).applications for need in app.needs}
        needed.discard(name)
        return tuple(sorted(needed))

    @property
    def provided_secrets(self) -> tuple[ProvidedSecret, ...]:
        """Every user-provided secret any component may need, in component order."""
        return tuple(p for c in self.components.values() for p in c.provided_secrets)

    def by_group(self) -> list[tuple[str, list[Component]]]:
        """Components per catalog group, in the schema's order of groups, names sorted; empty
        groups left out."""
        return [
            (group, members)
            for group in component_groups()
            if (members := [c for c in self.components.values() if c.group == group])
        ]

    @property
    def controller_crd_groups(self) -> dict[str, tuple[str, ...]]:
        """CRD groups raw-manifest Applications register through their controller, by name."""
        return {
            app.name: app.crd_groups
            for component in self.components.values()
            for app in component.applications
            if app.crd_groups
        }

