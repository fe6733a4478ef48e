"""The component catalog: ``templates/components/<name>/component.yaml`` loaded into values.

Components are data. Every ``component.yaml`` is checked against ``component.schema.json`` when
it loads (the schema documents the format); what a schema cannot say is checked here: an option's
default against its type, versions, a helm Application's chart, references and paths across the
catalog, provided secrets. Raw dicts stop in this module: it returns ``catalog.model`` values.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar

from homelab_scaffold.catalog.derived import VERSION_OPTION, WHOLE_HOST, derived_options
from homelab_scaffold.catalog.model import (
    DEFAULT_GROUP,
    SECRET_LINE,
    AppSpec,
    Catalog,
    Chart,
    Component,
    Image,
    Option,
    OptionRef,
    PodSecurity,
    ProvidedSecret,
    Provides,
    SecretSpec,
    SingleSignOn,
    StatefulResource,
    UserInterface,
)
from homelab_scaffold.catalog.options import (
    CONFIG_CONDITIONS,
    CONFIG_PREFIX,
    check_k8s_name,
    check_version,
)
from homelab_scaffold.catalog.resources import shown_path, templates_root
from homelab_scaffold.catalog.schema import COMPONENT_SCHEMA, check_against_schema, schema_digest
from homelab_scaffold.errors import CatalogError
from homelab_scaffold.suggest import unknown
from homelab_scaffold.usercache import cached_result
from homelab_scaffold.yamlio import YAMLLimitError, check_yaml_limits

COMPONENT_FILE = "component.yaml"
DEFAULT_PROJECT = "system"
DEFAULT_SECRET_LENGTH = 32
_Value = TypeVar("_Value")


class _Where:
    """Builds ``file: at key.path: message`` errors for one file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def error(self, key: str, message: str) -> CatalogError:
        return CatalogError(f"{shown_path(self.path)}: at {key or 'top level'}: {message}")

    def check(self, key: str, check: Any, value: Any) -> Any:
        """``check(value)``; its ValueError becomes an error at ``key``."""
        try:
            return check(value)
        except ValueError as exc:
            raise self.error(key, f"{value!r} is not valid: {exc}") from None


def read_text(path: Path, what: str) -> str:
    """A catalog file's text.

    Raises:
        CatalogError: It cannot be read or is not UTF-8.
    """
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        problem = getattr(exc, "strerror", None) or str(exc).splitlines()[0]
        raise CatalogError(f"{shown_path(path)}: cannot read {what}: {problem}") from exc


def parse_yaml(text: str, path: Path, what: str) -> Any:
    """Parse a catalog YAML text (one document) within scaffold's size and nesting caps.

    Raises:
        CatalogError: The text does not parse; names the file and line.
    """
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        check_yaml_limits(text)
        return YAML(typ="safe").load(text)
    except (YAMLError, YAMLLimitError) as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise CatalogError(f"{shown_path(path)}: cannot read {what}{where}: {problem}") from exc


def _load_option(where: _Where, name: str, data: Mapping[str, Any]) -> Option:
    option = Option(
        name=name,
        type=data.get("type", "string"),
        default=data.get("default"),
        help=data.get("help", ""),
        choices=tuple(data.get("choices", ())),
        minimum=data.get("min"),
        maximum=data.get("max"),
        prompt=data.get("prompt", False),
        required_when=tuple(
            (other, tuple(values)) for other, values in data.get("required_when", {}).items()
        ),
        pin=data.get("pin", False),
        within=_option_ref(data.get("within")),
    )
    if option.default is not None:
        where.check(f"options.{name}.default", option.check, option.default)
    return option


def _option_ref(text: str | None) -> OptionRef | None:
    """``<component>.<option>`` (the schema checked the form) as a reference."""
    if text is None:
        return None
    component, _, option = text.partition(".")
    return OptionRef(component, option)


def _option_value(
    where: _Where, at: str, options: Mapping[str, Option], name: str, value: Any
) -> Any:
    """``value`` checked by the type of the component's option ``name`` (a condition in
    ``secrets.*.when`` or ``options.*.required_when``, at key ``at``)."""
    if name not in options:
        raise where.error(f"{at}.{name}", unknown("option", name, options, listed_as="options"))
    return where.check(f"{at}.{name}", options[name].check, value)


def _with_checked_conditions(
    where: _Where, option: Option, options: Mapping[str, Option]
) -> Option:
    """``option`` with the values of its ``required_when`` checked by their options' types."""
    at = f"options.{option.name}.required_when"
    checked = tuple(
        (other, tuple(_option_value(where, at, options, other, v) for v in values))
        for other, values in option.required_when
    )
    return replace(option, required_when=checked)


def _version_text(where: _Where, key: str, value: Any) -> str:
    return str(where.check(key, check_version, value))


def _load_chart(where: _Where, data: Mapping[str, Any] | None) -> Chart | None:
    if data is None:
        return None
    known = tuple(_version_text(where, "chart.known", v) for v in data.get("known", ()))
    return Chart(
        repo=data["repo"],
        name=data["name"],
        version=_version_text(where, "chart.version", data["version"]),
        known=(known[0], known[1]) if known else None,
        crd_groups=tuple(data.get("crd_groups", ())),
    )


def _load_app(data: Mapping[str, Any], defaults: Mapping[str, Any]) -> AppSpec:
    name = data["name"]
    return AppSpec(
        name=name,
        type=data["type"],
        namespace=data.get("namespace", defaults["namespace"]),
        project=data.get("project", defaults["project"]),
        path=data.get("path", f"system/{name}"),
        needs=tuple(data.get("needs", ())),
        after=tuple(data.get("after", ())),
        config=data.get("config", False),
        sync_options=tuple(data.get("sync_options", ())),
        crd_groups=tuple(data.get("crd_groups", ())),
        pod_security=defaults["pod_security"],
    )


def _generated_secret(key: str, data: Mapping[str, Any]) -> SecretSpec:
    return SecretSpec(
        key=key,
        generate=data.get("generate", "token"),
        length=data.get("length", DEFAULT_SECRET_LENGTH),
        announce=data.get("announce", False),
        encrypts_data=data.get("encrypts_data", ""),
    )


def _provided_secret(
    where: _Where, component: str, key: str, data: Mapping[str, Any], options: Mapping[str, Option]
) -> ProvidedSecret:
    return ProvidedSecret(
        component=component,
        key=key,
        env=data["env"],
        description=data["description"],
        alias=data.get("alias", ""),
        when=tuple(
            (name, _condition_value(where, f"secrets.{key}.when", options, name, value))
            for name, value in data.get("when", {}).items()
        ),
        format=data.get("format", SECRET_LINE),
        bootstrap=data.get("bootstrap", False),
        command_line=data.get("command_line", True),
        file_option=data.get("file_option", ""),
    )


def _condition_value(
    where: _Where, at: str, options: Mapping[str, Option], name: str, value: Any
) -> Any:
    """A ``when`` value checked by its option's type, or by the global answer's check for
    ``config.<answer>``."""
    if not name.startswith(CONFIG_PREFIX):
        return _option_value(where, at, options, name, value)
    answer = name.removeprefix(CONFIG_PREFIX)
    if answer not in CONFIG_CONDITIONS:
        message = unknown("answer", answer, CONFIG_CONDITIONS, listed_as="answers a when may name")
        raise where.error(f"{at}.{name}", message)
    return where.check(f"{at}.{name}", CONFIG_CONDITIONS[answer], value)


def _load_secrets(
    where: _Where, component: str, data: Mapping[str, Any], options: Mapping[str, Option]
) -> tuple[tuple[SecretSpec, ...], tuple[ProvidedSecret, ...]]:
    generated = tuple(_generated_secret(k, v) for k, v in data.items() if not v.get("provided"))
    provided = tuple(
        _provided_secret(where, component, k, v, options)
        for k, v in data.items()
        if v.get("provided")
    )
    return generated, provided


def _load_provides(data: Mapping[str, Any]) -> Provides:
    return Provides(
        ingress_class=data.get("ingress_class"),
        storage_classes=tuple(data.get("storage_classes", ())),
        certificates=data.get("certificates", False),
        dns=data.get("dns", False),
        forward_auth=data.get("forward_auth"),
    )


def _load_ui(
    where: _Where, data: Mapping[str, Any] | None, options: Mapping[str, Any]
) -> UserInterface | None:
    """``ui``; its ``host_option`` must be a hostname (or name) option of the component, its
    ``ingress_option`` a bool option."""
    if data is None:
        return None
    sso = data.get("sso")
    if sso is not None:
        sso = SingleSignOn(
            tuple(sso.get("paths", WHOLE_HOST)),
            sso.get("required", False),
            sso.get("without_login", SingleSignOn.without_login),
        )
    ui = UserInterface(**{**data, "sso": sso})
    _check_ui_option(where, "host_option", ui.host_option, options, ("hostname", "name"))
    _check_ui_option(where, "ingress_option", ui.ingress_option, options, ("bool",))
    return ui


def _check_ui_option(
    where: _Where, key: str, name: str, options: Mapping[str, Any], types: tuple[str, ...]
) -> None:
    if name and options.get(name, {}).get("type") not in types:
        raise where.error(
            f"ui.{key}", f"{name!r} is not an option of type {' or '.join(types)}"
        )


def _optional(kind: type[_Value], data: Mapping[str, Any] | None) -> _Value | None:
    """``kind`` from a closed schema object whose keys are its fields; None when absent."""
    return None if data is None else kind(**data)


def _load_options(where: _Where, data: Mapping[str, Any]) -> Mapping[str, Option]:
    """The component's options, with the ones scaffold derives from its chart, images and UI
    (a component's own ``version`` option wins; any other clash is an error)."""
    own = data.get("options", {})
    options = {name: _load_option(where, name, raw) for name, raw in own.items()}
    for name, spec in derived_options(data).items():
        if name == VERSION_OPTION:
            options.setdefault(name, _load_option(where, name, spec))
        elif name in options:
            raise where.error(
                f"options.{name}", "scaffold adds this option itself (from images or ui.sso); "
                "rename yours"
            )
        else:
            options[name] = _load_option(where, name, spec)
    return MappingProxyType(
        {name: _with_checked_conditions(where, o, options) for name, o in options.items()}
    )


def checked_yaml(path: Path, what: str, schema: str) -> Any:
    """A catalog YAML file, parsed and checked against one of the shipped schemas (an unchanged
    file's checked data comes from the user cache: no YAML parse, no jsonschema).

    Raises:
        CatalogError: It cannot be read or parsed, or breaks the schema (file and key named).
    """

    def checked(text: str) -> Any:
        data = parse_yaml(text, path, what)
        check_against_schema(schema, data, shown_path(path))
        return data

    return cached_result(f"{schema}-{schema_digest()}", read_text(path, what), checked)


def component_data(path: Path) -> Mapping[str, Any]:
    """A component.yaml, parsed and checked against the component schema."""
    data: Mapping[str, Any] = checked_yaml(path, "component metadata", COMPONENT_SCHEMA)
    return data


def load_component(root: Path) -> Component:
    """Load and check one component folder."""
    path = root / COMPONENT_FILE
    where = _Where(path)
    name = where.check("the folder name", check_k8s_name, root.name)
    data = component_data(path)
    namespace = data.get("namespace", name)
    pod_security = _optional(PodSecurity, data.get("pod_security"))
    defaults = {
        "namespace": namespace,
        "project": data.get("project", DEFAULT_PROJECT),
        "pod_security": pod_security,
    }
    chart = _load_chart(where, data.get("chart"))
    apps = tuple(_load_app(raw, defaults) for raw in data["applications"])
    generic = data.get("generic", False)
    if chart is None and not generic and any(app.type == "helm" for app in apps):
        raise where.error("chart", "a helm Application needs the component's chart")
    ui = _load_ui(where, data.get("ui"), data.get("options", {}))
    options = _load_options(where, data)
    generated, provided = _load_secrets(where, name, data.get("secrets", {}), options)
    return Component(
        name=name,
        description=data.get("description", ""),
        namespace=namespace,
        project=defaults["project"],
        root=root,
        applications=apps,
        options=options,
        chart=chart,
        conflicts=tuple(data.get("conflicts", ())),
        secrets=generated,
        provided_secrets=provided,
        in_default_stack=data.get("default", True) and not generic,
        generic=generic,
        provides=_load_provides(data.get("provides", {})),
        stateful=tuple(StatefulResource(**item) for item in data.get("stateful", ())),
        images=MappingProxyType(
            {key: Image(**image) for key, image in data.get("images", {}).items()}
        ),
        group=data.get("group", DEFAULT_GROUP),
        pod_security=pod_security,
        ui=ui,
    )


def component_dirs(base: Path) -> list[Path]:
    """The component folders (holding a component.yaml) of one catalog folder, sorted."""
    if not base.is_dir():
        raise CatalogError(f"catalog folder {base} does not exist")
    return sorted(p for p in base.iterdir() if (p / COMPONENT_FILE).is_file())


def _check_references(components: Mapping[str, Component], owner: Mapping[str, str]) -> None:
    for component in components.values():
        if component.generic:
            continue
        where = _Where(component.root / COMPONENT_FILE)
        for index, app in enumerate(component.applications):
            for need in app.needs:
                if need not in owner:
                    raise where.error(
                        f"applications[{index}].needs", f"unknown Application {need!r}"
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


def _check_shared_secrets(components: Mapping[str, Component]) -> None:
    """One environment variable is one value: secrets sharing it share one alias, and back."""
    by_env: dict[str, ProvidedSecret] = {}
    by_alias: dict[str, ProvidedSecret] = {}
    for provided in (p for c in components.values() for p in c.provided_secrets):
        first = by_env.setdefault(provided.env, provided)
        if provided.alias:
            first = by_alias.setdefault(provided.alias, first)
        if (first.env, first.alias) != (provided.env, provided.alias):
            where = _Where(components[provided.component].root / COMPONENT_FILE)
            raise where.error(
                f"secrets.{provided.key}",
                f"env {provided.env} and alias {provided.alias or '(none)'!r} must match "
                f"{first.name} (env {first.env}, alias {first.alias or '(none)'!r}): secrets "
                "sharing an environment variable or an alias are one value",
            )


def _check_pools(components: Mapping[str, Component]) -> None:
    """Every ``options.*.within`` names an ip_ranges option of a component of the catalog."""
    for component in components.values():
        for name, option in component.options.items():
            ref = option.within
            if ref is None:
                continue
            other = components.get(ref.component)
            pool = other.options.get(ref.option) if other is not None else None
            if pool is None or pool.type != "ip_ranges":
                where = _Where(component.root / COMPONENT_FILE)
                raise where.error(
                    f"options.{name}.within",
                    f"{str(ref)!r} is not an option of type ip_ranges of a catalog component",
                )


def _app_owners(components: Mapping[str, Component]) -> dict[str, str]:
    owner: dict[str, str] = {}
    for component in components.values():
        if component.generic:
            continue
        for app in component.app_names:
            if app in owner:
                raise CatalogError(
                    f"Application {app!r} is rendered by both {owner[app]!r} and {component.name!r}"
                )
            owner[app] = component.name
    return owner


def build_catalog(components: Iterable[Component]) -> Catalog:
    """Index components (later ones override earlier ones of the same name) and check links."""
    by_name: dict[str, Component] = {}
    for component in components:
        by_name[component.name] = component
    owner = _app_owners(by_name)
    _check_references(by_name, owner)
    _check_paths(by_name)
    _check_shared_secrets(by_name)
    _check_pools(by_name)
    return Catalog(MappingProxyType(dict(sorted(by_name.items()))), MappingProxyType(owner))


def builtin_components_dir() -> Path:
    """``templates/components`` of this installation."""
    return templates_root() / "components"


def load_catalog(extra_paths: Iterable[Path] = ()) -> Catalog:
    """The built-in catalog, extended or overridden by user catalog folders (in order)."""
    return _load_catalog(tuple(Path(p).resolve() for p in extra_paths))


@cache
def _load_catalog(extra_paths: tuple[Path, ...]) -> Catalog:
    roots = [builtin_components_dir(), *extra_paths]
    return build_catalog(load_component(d) for base in roots for d in component_dirs(base))
