"""The component catalog: ``templates/components/<name>/component.yaml`` loaded into values.

Components are data. This module checks every ``component.yaml`` when it loads and names the file
and key of any problem, so a broken catalog entry fails with one clear line.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from homelab_scaffold.catalog.options import CHECKERS, check_k8s_name, check_url, check_version
from homelab_scaffold.catalog.resources import templates_root
from homelab_scaffold.errors import CatalogError

APP_TYPES = ("helm", "manifests")
PROJECTS = ("system", "apps")
SECRET_GENERATORS = ("token", "password")
# Catalog groups, in the order `scaffold list` and the interactive init show them.
GROUPS = ("platform", "network", "storage", "security", "observability", "apps")
DEFAULT_GROUP = "apps"
# Pod Security Standards levels, strictest first.
POD_SECURITY_LEVELS = ("restricted", "baseline", "privileged")
_COMPONENT_KEYS = {
    "description",
    "namespace",
    "project",
    "chart",
    "options",
    "applications",
    "conflicts",
    "secrets",
    "default",
    "generic",
    "group",
    "pod_security",
    "ui",
}
_APP_KEYS = {
    "name",
    "type",
    "needs",
    "after",
    "path",
    "namespace",
    "config",
    "project",
    "sync_options",
    "crd_groups",
}
_POD_SECURITY_KEYS = {"level", "reason", "label_namespace"}
_UI_KEYS = {"title", "description", "icon", "subdomain"}
_OPTION_KEYS = {
    "type",
    "default",
    "help",
    "choices",
    "min",
    "max",
    "prompt",
    "required_when",
    "pin",
}


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
    # Another option and the values of it under which this option must be set.
    required_when: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # Written into scaffold.yaml with its default (like a chart version) so Renovate can bump it.
    pin: bool = False

    def missing_in(self, options: Mapping[str, Any]) -> str | None:
        """Why this option must be set with these option values, or None when it may be empty."""
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
            raise ValueError(f"expected one of: {', '.join(self.choices)}")
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
    """The Pod Security Standards level of the namespace a component's Applications create.

    ``label_namespace`` is false for a namespace the component shares with workloads it does
    not own (kube-system): its pods still comply with ``level``, but the label is not written.
    """

    level: str
    reason: str = ""
    label_namespace: bool = True

    @property
    def label(self) -> str | None:
        """The ``pod-security.kubernetes.io/enforce`` value to write, or None."""
        return self.level if self.label_namespace else None


@dataclass(frozen=True)
class UserInterface:
    """The web UI a component serves at ``<subdomain>.<domain>`` (listed by homepage)."""

    title: str
    description: str = ""
    icon: str = ""
    subdomain: str = ""


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
    pod_security: PodSecurity | None = None
    # CRD API groups this (raw-manifest) Application registers, e.g. through its controller.
    crd_groups: tuple[str, ...] = ()

    @property
    def templates(self) -> str:
        """The folder (inside the component) holding this Application's templates."""
        return self.template_dir or self.name


@dataclass(frozen=True)
class SecretSpec:
    """A secret value a component needs, generated once and kept out of Git."""

    key: str
    generate: str
    length: int
    announce: bool = False


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
    in_default_stack: bool = True
    generic: bool = False
    group: str = DEFAULT_GROUP
    pod_security: PodSecurity | None = None
    ui: UserInterface | None = None

    @property
    def app_names(self) -> tuple[str, ...]:
        """Names of the Applications this component renders."""
        return tuple(app.name for app in self.applications)

    def pinned_defaults(self) -> dict[str, Any]:
        """Options scaffold.yaml should spell out when the component is added: the chart
        version and every ``pin: true`` option, with their defaults."""
        pinned = {o.name: o.default for o in self.options.values() if o.pin}
        if self.chart is not None:
            pinned["version"] = self.chart.version
        return pinned


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
            known = ", ".join(sorted(self.components))
            raise CatalogError(f"unknown component {name!r}; known components: {known}") from None

    def by_group(self) -> list[tuple[str, list[Component]]]:
        """Components per catalog group, groups in ``GROUPS`` order, names sorted; empty groups
        left out."""
        return [
            (group, members)
            for group in GROUPS
            if (members := [c for c in self.components.values() if c.group == group])
        ]

    def crd_groups_by_chart(self) -> dict[str, tuple[str, ...]]:
        """CRD API groups each catalog chart installs, by chart name."""
        return {
            c.chart.name: c.chart.crd_groups
            for c in self.components.values()
            if c.chart is not None and c.chart.crd_groups
        }

    def crd_groups_by_application(self) -> dict[str, tuple[str, ...]]:
        """CRD API groups each catalog raw-manifest Application registers, by its name."""
        return {
            app.name: app.crd_groups
            for c in self.components.values()
            for app in c.applications
            if app.crd_groups
        }

    def needed_components(self, name: str) -> tuple[str, ...]:
        """Components owning an Application that one of ``name``'s Applications needs."""
        needed = {self.app_owner[need] for app in self.get(name).applications for need in app.needs}
        needed.discard(name)
        return tuple(sorted(needed))


class _Where:
    """Builds pre-commit style ``file: at key a.b: message`` errors."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def error(self, key: str, message: str) -> CatalogError:
        at = f" at key {key}" if key else ""
        return CatalogError(f"{self.path}:{at}: {message}")


def _read_yaml(path: Path) -> Any:
    try:
        return YAML(typ="safe").load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, YAMLError) as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise CatalogError(f"{path}: cannot read component metadata{where}: {problem}") from exc


def _mapping(where: _Where, key: str, value: Any) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise where.error(key, "expected a mapping")
    return value


def _names(where: _Where, key: str, value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise where.error(key, "expected a list of names")
    return tuple(value)


def _unknown_keys(where: _Where, key: str, data: Mapping[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        valid = ", ".join(sorted(allowed))
        raise where.error(key or unknown[0], f"unknown key {unknown[0]!r} (valid: {valid})")


def _check_value(where: _Where, key: str, check: Any, value: Any) -> Any:
    try:
        return check(value)
    except ValueError as exc:
        raise where.error(key, f"{value!r}: {exc}") from None


def _load_option(where: _Where, name: str, raw: Any) -> Option:
    key = f"options.{name}"
    data = _mapping(where, key, raw)
    _unknown_keys(where, key, data, _OPTION_KEYS)
    kind = data.get("type", "string")
    if kind not in CHECKERS:
        raise where.error(f"{key}.type", f"unknown type {kind!r} (valid: {', '.join(CHECKERS)})")
    option = Option(
        name=name,
        type=kind,
        default=data.get("default"),
        help=str(data.get("help", "")),
        choices=_names(where, f"{key}.choices", data.get("choices")),
        minimum=data.get("min"),
        maximum=data.get("max"),
        prompt=bool(data.get("prompt", False)),
        pin=bool(data.get("pin", False)),
        required_when=tuple(
            (other, _names(where, f"{key}.required_when.{other}", values))
            for other, values in _mapping(
                where, f"{key}.required_when", data.get("required_when")
            ).items()
        ),
    )
    if option.default is not None:
        _check_value(where, f"{key}.default", option.check, option.default)
    return option


def _load_chart(where: _Where, raw: Any) -> Chart | None:
    if raw is None:
        return None
    data = _mapping(where, "chart", raw)
    _unknown_keys(where, "chart", data, {"repo", "name", "version", "known", "crd_groups"})
    for key in ("repo", "name", "version"):
        if not isinstance(data.get(key), str):
            raise where.error(f"chart.{key}", "required string is missing")
    _check_value(where, "chart.version", check_version, data["version"])
    known = _names(where, "chart.known", data.get("known"))
    if known and len(known) != 2:
        raise where.error("chart.known", "expected [oldest, newest]")
    for item in known:
        _check_value(where, "chart.known", check_version, item)
    repo = data["repo"]
    if not repo.startswith("oci://"):
        _check_value(where, "chart.repo", check_url, repo)
    return Chart(
        repo,
        data["name"],
        data["version"],
        (known[0], known[1]) if known else None,
        _names(where, "chart.crd_groups", data.get("crd_groups")),
    )


def _load_app(
    where: _Where, index: int, raw: Any, defaults: Mapping[str, Any]
) -> AppSpec:
    key = f"applications[{index}]"
    data = _mapping(where, key, raw)
    _unknown_keys(where, key, data, _APP_KEYS)
    name = _check_value(where, f"{key}.name", check_k8s_name, data.get("name"))
    kind = data.get("type")
    if kind not in APP_TYPES:
        raise where.error(f"{key}.type", f"expected one of: {', '.join(APP_TYPES)}")
    project = data.get("project", defaults["project"])
    if project not in PROJECTS:
        raise where.error(f"{key}.project", f"expected one of: {', '.join(PROJECTS)}")
    return AppSpec(
        name=name,
        type=kind,
        namespace=_check_value(
            where, f"{key}.namespace", check_k8s_name, data.get("namespace", defaults["namespace"])
        ),
        project=project,
        path=str(data.get("path", f"system/{name}")),
        needs=_names(where, f"{key}.needs", data.get("needs")),
        after=_names(where, f"{key}.after", data.get("after")),
        config=bool(data.get("config", False)),
        sync_options=_names(where, f"{key}.sync_options", data.get("sync_options")),
        crd_groups=_names(where, f"{key}.crd_groups", data.get("crd_groups")),
        pod_security=defaults["pod_security"] or default_pod_security(project),
    )


def default_pod_security(project: str) -> PodSecurity | None:
    """The level of a namespace whose component names none: user apps are restricted."""
    return PodSecurity("restricted") if project == "apps" else None


def _load_pod_security(where: _Where, raw: Any) -> PodSecurity | None:
    if raw is None:
        return None
    data = _mapping(where, "pod_security", raw)
    _unknown_keys(where, "pod_security", data, _POD_SECURITY_KEYS)
    level = data.get("level")
    if level not in POD_SECURITY_LEVELS:
        valid = ", ".join(POD_SECURITY_LEVELS)
        raise where.error("pod_security.level", f"expected one of: {valid}")
    reason = str(data.get("reason", ""))
    if level != "restricted" and not reason:
        raise where.error("pod_security.reason", f"say why the namespace needs {level}")
    return PodSecurity(level, reason, bool(data.get("label_namespace", True)))


def _load_group(where: _Where, raw: Any) -> str:
    group = DEFAULT_GROUP if raw is None else raw
    if group not in GROUPS:
        raise where.error("group", f"expected one of: {', '.join(GROUPS)}")
    return str(group)


def _load_ui(where: _Where, raw: Any) -> UserInterface | None:
    if raw is None:
        return None
    data = _mapping(where, "ui", raw)
    _unknown_keys(where, "ui", data, _UI_KEYS)
    if not isinstance(data.get("title"), str):
        raise where.error("ui.title", "required string is missing")
    return UserInterface(
        title=data["title"],
        description=str(data.get("description", "")),
        icon=str(data.get("icon", "")),
        subdomain=str(data.get("subdomain", "")),
    )


def _load_secret(where: _Where, name: str, raw: Any) -> SecretSpec:
    key = f"secrets.{name}"
    data = _mapping(where, key, raw)
    _unknown_keys(where, key, data, {"generate", "length", "announce"})
    generate = data.get("generate", "token")
    if generate not in SECRET_GENERATORS:
        raise where.error(f"{key}.generate", f"expected one of: {', '.join(SECRET_GENERATORS)}")
    length = data.get("length", 32)
    if not isinstance(length, int) or not 16 <= length <= 256:
        raise where.error(f"{key}.length", "expected a whole number from 16 to 256")
    return SecretSpec(name, generate, length, bool(data.get("announce", False)))


def _version_option(chart: Chart) -> Option:
    return Option(
        name="version",
        type="version",
        default=chart.version,
        help=f"{chart.name} chart version (pinned default {chart.version})",
    )


def load_component(root: Path) -> Component:
    """Load and check one component folder."""
    path = root / "component.yaml"
    where = _Where(path)
    data = _mapping(where, "", _read_yaml(path))
    _unknown_keys(where, "", data, _COMPONENT_KEYS)
    name = _check_value(where, "", check_k8s_name, root.name)
    namespace = _check_value(where, "namespace", check_k8s_name, data.get("namespace", name))
    pod_security = _load_pod_security(where, data.get("pod_security"))
    defaults = {
        "namespace": namespace,
        "project": str(data.get("project", "system")),
        "pod_security": pod_security,
    }
    raw_apps = data.get("applications")
    if not isinstance(raw_apps, list) or not raw_apps:
        raise where.error("applications", "expected a non-empty list of Applications")
    chart = _load_chart(where, data.get("chart"))
    apps = tuple(_load_app(where, i, raw, defaults) for i, raw in enumerate(raw_apps))
    if chart is None and not data.get("generic") and any(app.type == "helm" for app in apps):
        raise where.error("chart", "a helm Application needs the component's chart")
    options = {
        n: _load_option(where, n, raw)
        for n, raw in _mapping(where, "options", data.get("options")).items()
    }
    if chart is not None:
        options.setdefault("version", _version_option(chart))
    secrets = _mapping(where, "secrets", data.get("secrets"))
    return Component(
        name=name,
        description=str(data.get("description", "")),
        namespace=namespace,
        project=defaults["project"],
        root=root,
        applications=apps,
        options=MappingProxyType(options),
        chart=chart,
        conflicts=_names(where, "conflicts", data.get("conflicts")),
        secrets=tuple(_load_secret(where, n, raw) for n, raw in secrets.items()),
        in_default_stack=bool(data.get("default", True)) and not data.get("generic", False),
        generic=bool(data.get("generic", False)),
        group=_load_group(where, data.get("group")),
        pod_security=pod_security,
        ui=_load_ui(where, data.get("ui")),
    )


def _component_dirs(base: Path) -> list[Path]:
    if not base.is_dir():
        raise CatalogError(f"catalog folder {base} does not exist")
    return sorted(p for p in base.iterdir() if (p / "component.yaml").is_file())


def _check_references(components: Mapping[str, Component], owner: Mapping[str, str]) -> None:
    for component in components.values():
        if component.generic:
            continue
        where = _Where(component.root / "component.yaml")
        for app in component.applications:
            for need in app.needs:
                if need not in owner:
                    raise where.error(
                        f"applications.{app.name}.needs", f"unknown Application {need!r}"
                    )


def _check_paths(components: Mapping[str, Component]) -> None:
    seen: dict[str, str] = {}
    for component in components.values():
        if component.generic:
            continue
        for app in component.applications:
            if app.path in seen and seen[app.path] != app.name:
                raise CatalogError(
                    f"Applications {seen[app.path]!r} and {app.name!r} would both render into "
                    f"kubernetes/{app.path}; rename one of them"
                )
            seen[app.path] = app.name


def build_catalog(components: Iterable[Component]) -> Catalog:
    """Index components (later ones override earlier ones of the same name) and check links."""
    by_name: dict[str, Component] = {}
    for component in components:
        by_name[component.name] = component
    owner: dict[str, str] = {}
    for component in by_name.values():
        if component.generic:
            continue
        for app in component.app_names:
            if app in owner:
                raise CatalogError(
                    f"Application {app!r} is rendered by both {owner[app]!r} and {component.name!r}"
                )
            owner[app] = component.name
    _check_references(by_name, owner)
    _check_paths(by_name)
    return Catalog(MappingProxyType(dict(sorted(by_name.items()))), MappingProxyType(owner))


def load_catalog(extra_paths: Iterable[Path] = ()) -> Catalog:
    """The built-in catalog, extended or overridden by user catalog folders (in order)."""
    return _load_catalog(tuple(Path(p).resolve() for p in extra_paths))


@cache
def _load_catalog(extra_paths: tuple[Path, ...]) -> Catalog:
    roots = [templates_root() / "components", *extra_paths]
    return build_catalog(load_component(d) for base in roots for d in _component_dirs(base))


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
        pod_security=default_pod_security(project),
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
        known = ", ".join(sorted(n for n in apps_by_component if n != name))
        raise CatalogError(
            f"components.{name}.needs: unknown component {dependency!r} (known: {known})"
        )
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
