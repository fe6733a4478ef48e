"""Render a plan to files, in memory: one Jinja environment, StrictUndefined, cached templates.

Components never write Application manifests: those, the root Application and the AppProjects
come from the shared templates in ``templates/core/`` so every Application follows the same rules.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from functools import cache
from pathlib import Path, PurePosixPath
from typing import Any

import jinja2
import jinja2.bccache
from jinja2.sandbox import SandboxedEnvironment

from homelab_scaffold import __version__
from homelab_scaffold.catalog.model import UserInterface
from homelab_scaffold.catalog.resources import shown_path, templates_root
from homelab_scaffold.catalog.versions import version_at_least, version_below
from homelab_scaffold.errors import RenderError
from homelab_scaffold.generate.access import UiAccess, plan_access
from homelab_scaffold.generate.plan import Plan, PlannedApp, PlannedComponent
from homelab_scaffold.generate.secret_values import SECRETS_DIR
from homelab_scaffold.generate.yamltext import to_yaml_flow, to_yaml_value
from homelab_scaffold.usercache import user_cache_dir

ARGOCD_CONFIG_DIR = "kubernetes/system/argocd-config"
ROOT_APP_FILE = f"{ARGOCD_CONFIG_DIR}/root-app.yaml"
PROJECTS_FILE = f"{ARGOCD_CONFIG_DIR}/projects.yaml"
_SECRET_TEMPLATES = "_secrets"
# The context name of the secret templates' hash function (see the argon2id filter).
HASHER = "_hasher"


def _load_template(name: str) -> tuple[str, str, Callable[[], bool]]:
    path = Path(name)
    return path.read_text(encoding="utf-8"), str(path), lambda: True


@jinja2.pass_context
def _argon2id(context: jinja2.runtime.Context, value: str) -> str:
    """``{{ value | argon2id }}``: the hash function of this render (secret templates only)."""
    hasher = context.get(HASHER)
    if hasher is None:
        raise jinja2.TemplateRuntimeError("the argon2id filter is only available in _secrets/")
    return str(hasher(value))


class _BytecodeCache(jinja2.FileSystemBytecodeCache):
    """Compiled templates kept between runs (compiling them is most of a render's cost); a
    cache that cannot be written only costs compiling again."""

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        with contextlib.suppress(OSError):
            super().dump_bytecode(bucket)


def bytecode_cache(kind: str) -> jinja2.BytecodeCache | None:
    """The compiled-template cache of one kind of environment (None when it cannot be made)."""
    folder = user_cache_dir("jinja", f"{kind}-{__version__}")
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError:
        return None
    return _BytecodeCache(str(folder))


@cache
def environment() -> SandboxedEnvironment:
    """The one Jinja environment of the process: sandboxed (templates from a user's catalog
    must not reach Python internals), strict about undefined names, templates cached by path so
    every instance of a generic component (300 helm-apps) shares one compiled template."""
    env = SandboxedEnvironment(
        loader=jinja2.FunctionLoader(_load_template),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
        auto_reload=False,
        cache_size=-1,
        bytecode_cache=bytecode_cache("components"),
    )
    env.filters.update(
        {"to_yaml_value": to_yaml_value, "to_yaml_flow": to_yaml_flow, "argon2id": _argon2id}
    )
    env.tests.update({"version_at_least": version_at_least, "version_below": version_below})
    env.globals["homepage_annotations"] = homepage_annotations
    return env


def homepage_annotations(component: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The ``gethomepage.dev/*`` Ingress annotations that list a component's UI on Homepage.

    Homepage discovers annotated Ingresses; the entry's group is the component's catalog group.
    """
    ui: UserInterface | None = component.get("ui")
    if ui is None:
        return []
    annotations = [
        ("gethomepage.dev/enabled", "true"),
        ("gethomepage.dev/name", ui.title),
        ("gethomepage.dev/group", str(component["group"]).capitalize()),
    ]
    if ui.description:
        annotations.append(("gethomepage.dev/description", ui.description))
    if ui.icon:
        annotations.append(("gethomepage.dev/icon", ui.icon))
    return annotations


def _core(name: str) -> str:
    return str(templates_root() / "core" / name)


def _render(env: jinja2.Environment, name: str, context: Mapping[str, Any]) -> str:
    try:
        text = env.get_template(name).render(context)
    except jinja2.exceptions.SecurityError as exc:
        raise RenderError(f"template {shown_path(name)}: refused by the sandbox: {exc}") from exc
    except jinja2.TemplateError as exc:
        line = getattr(exc, "lineno", None)
        where = f" line {line}" if line else ""
        raise RenderError(f"template {shown_path(name)}{where}: {exc}") from exc
    return text.rstrip() + "\n" if text.strip() else ""


def _component_view(planned: PlannedComponent, access: UiAccess | None) -> dict[str, Any]:
    component = planned.component
    return {
        "name": component.name,
        "namespace": component.namespace,
        "project": component.project,
        "version": planned.version,
        "options": dict(planned.options),
        "chart": component.chart,
        "description": component.description,
        "provides": component.provides,
        "stateful": component.stateful,
        "images": planned.images,
        "group": component.group,
        "ui": component.ui,
        "access": access,
    }


def _app_view(app: PlannedApp) -> dict[str, Any]:
    spec = app.spec
    return {
        "name": spec.name,
        "type": spec.type,
        "namespace": spec.namespace,
        "project": spec.project,
        "path": f"kubernetes/{spec.path}",
        "wave": str(app.wave),
        "config": spec.config,
        "component": app.component,
        "chart": app.chart,
        "sync_options": spec.sync_options,
        "pod_security": spec.namespace_pod_security,
    }


def base_context(plan: Plan) -> dict[str, Any]:
    """Context shared by every template of the plan."""
    access = plan_access(plan)
    return {
        "config": plan.answers.context(),
        "selected": sorted(plan.components),
        "components": {n: _component_view(c, access.get(n)) for n, c in plan.components.items()},
        # The UIs behind single sign-on, for the access rules of the component that guards them.
        "guarded_uis": [
            {"component": name, "host": a.host, "resources": a.resources}
            for name, a in access.items()
            if a.middleware
        ],
        "apps": {app.name: _app_view(app) for app in plan.apps},
        "app_list": [_app_view(app) for app in plan.apps],
    }


def _template_files(root: Path, folder: str) -> Iterator[str]:
    base = root / folder
    if not base.is_dir():
        return
    for path in sorted(base.rglob("*.j2")):
        if path.is_file():
            yield path.relative_to(root).as_posix()


def _render_app(
    env: jinja2.Environment, plan: Plan, app: PlannedApp, context: dict[str, Any]
) -> dict[str, str]:
    planned = plan.components[app.component]
    local = {
        **context,
        "component": context["components"][app.component],
        "app": context["apps"][app.name],
    }
    files: dict[str, str] = {}
    folder = app.spec.templates
    for relative in _template_files(planned.component.root, folder):
        inside = PurePosixPath(relative).relative_to(folder).as_posix().removesuffix(".j2")
        text = _render(env, str(planned.component.root / relative), local)
        if text:
            files[f"kubernetes/{app.spec.path}/{inside}"] = text
    files[f"{ARGOCD_CONFIG_DIR}/{app.name}.yaml"] = _render(
        env, _core("application.yaml.j2"), local
    )
    return files


def render_plan(plan: Plan) -> dict[str, str]:
    """Every tracked Kubernetes file of the repository: {posix path: text}, sorted by path."""
    env = environment()
    context = base_context(plan)
    files = {
        ROOT_APP_FILE: _render(env, _core("root-app.yaml.j2"), context),
        PROJECTS_FILE: _render(env, _core("projects.yaml.j2"), context),
    }
    for app in plan.apps:
        files.update(_render_app(env, plan, app, context))
    return dict(sorted(files.items()))


def secret_folders(plan: Plan) -> list[str]:
    """The ``secrets/<component>/`` folders that hold Secret manifests with ``secrets: manual``
    (not ``secrets/`` itself: ``values.yaml`` there is no manifest)."""
    return sorted(
        f"{SECRETS_DIR}/{name}/" for name, c in plan.components.items() if c.component.secrets
    )


def secret_namespaces(plan: Plan) -> list[str]:
    """The namespaces those Secrets live in (they must exist before the Secrets are applied)."""
    return sorted({c.component.namespace for c in plan.components.values() if c.component.secrets})


def render_secrets(
    plan: Plan, values: Mapping[str, Mapping[str, str]], hasher: Callable[[str], str]
) -> dict[str, str]:
    """Secret manifests (gitignored) from each component's ``_secrets/`` templates; ``hasher``
    is what their ``argon2id`` filter calls."""
    env = environment()
    context = base_context(plan)
    files: dict[str, str] = {}
    for name, planned in sorted(plan.components.items()):
        local = {
            **context,
            "component": context["components"][name],
            "secrets": dict(values.get(name, {})),
            HASHER: hasher,
        }
        for relative in _template_files(planned.component.root, _SECRET_TEMPLATES):
            inside = (
                PurePosixPath(relative)
                .relative_to(_SECRET_TEMPLATES)
                .as_posix()
                .removesuffix(".j2")
            )
            text = _render(env, str(planned.component.root / relative), local)
            if text:
                files[f"{SECRETS_DIR}/{name}/{inside}"] = text
    return dict(sorted(files.items()))
