"""The repository skeleton (README, .gitignore, ...): a cookiecutter template rendered in memory.

``templates/skeleton/`` is a plain cookiecutter template, so it stays usable on its own
(``cookiecutter templates/skeleton`` gives the same files). scaffold renders it the way
cookiecutter does (the context from ``cookiecutter.json`` under the ``cookiecutter`` key with the
plan's facts as extra context, its ``_jinja2_env_vars``, cookiecutter's own Jinja extensions,
file and folder names rendered too) but straight into memory, in a sandboxed environment, with
each template compiled once per process: no temporary folder per render.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from homelab_scaffold.catalog.resources import templates_root
from homelab_scaffold.errors import RenderError
from homelab_scaffold.generate.render import bytecode_cache

SKELETON = "skeleton"
CONTEXT_FILE = "cookiecutter.json"
# The repository's guide (bootstrap, DNS, certificates, UIs, backups), and where it goes instead
# when the repository already has a README of the user's own.
GUIDE_FILE = "README.md"
GUIDE_ASIDE = "HOMELAB.md"


@cache
def _template_dir() -> Path:
    return templates_root() / SKELETON


@cache
def _defaults() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((_template_dir() / CONTEXT_FILE).read_text(encoding="utf-8"))
    return data


@cache
def _environment() -> SandboxedEnvironment:
    """cookiecutter's environment (its extensions, StrictUndefined, trailing newlines kept and
    the template's ``_jinja2_env_vars``), sandboxed."""
    from cookiecutter.environment import ExtensionLoaderMixin

    class SkeletonEnvironment(ExtensionLoaderMixin, SandboxedEnvironment):  # type: ignore[misc]
        pass

    env_vars = _defaults().get("_jinja2_env_vars", {})
    return SkeletonEnvironment(
        context={"cookiecutter": _defaults()},
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        loader=jinja2.FileSystemLoader(str(_template_dir())),
        auto_reload=False,
        bytecode_cache=bytecode_cache("skeleton"),
        **env_vars,
    )


@cache
def _files() -> tuple[str, ...]:
    """The template's files, as posix paths below the template folder, sorted."""
    root = _template_dir()
    return tuple(
        sorted(
            path.relative_to(root).as_posix()
            for path in root.rglob("*")
            if path.is_file() and path.name != CONTEXT_FILE
        )
    )


@cache
def _name_template(relative: str) -> jinja2.Template:
    return _environment().from_string(relative)


def skeleton_context(variables: Mapping[str, Any]) -> dict[str, Any]:
    """cookiecutter's context: the defaults of cookiecutter.json, overridden by ``variables``."""
    unknown = sorted(set(variables) - set(_defaults()))
    if unknown:
        raise RenderError(f"repository skeleton: unknown variable {unknown[0]!r}")
    return {"cookiecutter": {**_defaults(), **variables}}


def render_skeleton(variables: Mapping[str, Any]) -> dict[str, str]:
    """Render the skeleton with ``variables`` (cookiecutter.json keys) -> {posix path: text}."""
    env = _environment()
    context = skeleton_context(variables)
    files: dict[str, str] = {}
    try:
        for relative in _files():
            _, _, inside = _name_template(relative).render(context).partition("/")
            if not inside:
                continue  # a file beside the project folder is not part of the output
            files[inside] = env.get_template(relative).render(context)
    except jinja2.TemplateError as exc:
        raise RenderError(f"repository skeleton: {exc}") from exc
    return dict(sorted(files.items()))


# The one line ``init`` appends to a README of the user's own, so the guide beside it is found.
GUIDE_LINK = (
    "> **Bootstrap guide** (DNS, certificates, web UIs, backups; kept up to date by scaffold): "
    "[{path}]({path})"
)
_LINK_TARGET = r"\]\(\s*<?(?:\./)?{path}[)#>\s]"


def with_guide_link(readme: str, path: str) -> str | None:
    """``readme`` with one marked line linking the guide at ``path`` appended (every byte of it
    kept before the line), or None when it already links ``path``."""
    if re.search(_LINK_TARGET.format(path=re.escape(path)), readme):
        return None
    line = GUIDE_LINK.format(path=path)  # it links path: found by the search above next time
    ending = "" if readme.endswith("\n") or not readme else "\n"
    separator = "\n" if readme.strip() else ""
    return f"{readme}{ending}{separator}{line}\n"


def with_guide_at(files: Mapping[str, str], path: str) -> dict[str, str]:
    """``files`` with the guide (``GUIDE_FILE``) moved to ``path``."""
    if path == GUIDE_FILE or GUIDE_FILE not in files:
        return dict(files)
    moved = {name: text for name, text in files.items() if name != GUIDE_FILE}
    moved[path] = files[GUIDE_FILE]
    return dict(sorted(moved.items()))
