"""Shell completion (bash, zsh, fish) through click: what a TAB offers, found cheaply.

A TAB must answer at once and never fail, print or write: nothing here renders, plans or loads
the checked catalog. Component folders are listed and their ``component.yaml`` read with
PyYAML's C loader (names, descriptions, options, secrets); inside a repository its
``scaffold.yaml`` adds the ``catalog_paths`` components and says which components and secrets
exist. Any problem (no repository, a broken file) just means fewer suggestions.

The bash script is click's, made to handle ``--set key=value``: bash splits words at ``=``, so
the line is re-read from ``COMP_LINE`` and a suggestion ending in ``=`` or ``.`` gets no space
after it (zsh and fish get the same behaviour from their own scripts and rules). A value typed
as ``--set=key`` is completed too: click completes the part after ``=``, and every shell replaces
the whole word (bash from ``=`` on), so each suggestion gets the ``--set=`` back.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from click.shell_completion import (
    BashComplete,
    CompletionItem,
    FishComplete,
    ShellComplete,
    ZshComplete,
    add_completion_class,
    split_arg_string,
)

from homelab_scaffold.catalog.derived import derived_options
from homelab_scaffold.catalog.options import CONFIG_PREFIX
from homelab_scaffold.generate.answers import ANSWERS_FILE, GLOBAL_SETTINGS, SECRETS_MODES

# catalog.loader's and catalog.instances' names, not imported: those modules load the checked
# catalog (JSON Schema, option types), which a TAB does without.
COMPONENT_FILE = "component.yaml"
GENERIC_KEY = "from"
_VALUES = {"bool": ("true", "false")}
# Suggestions that the user goes on typing (no space after them).
_OPEN_ENDS = ("=", ".")

Completer = Callable[[click.Context, click.Parameter, str], list[CompletionItem]]


@dataclass(frozen=True)
class ComponentInfo:
    """What completion knows of one component (its component.yaml, read without checks)."""

    name: str
    description: str
    generic: bool
    chart: bool
    options: Mapping[str, Mapping[str, Any]]
    secrets: Mapping[str, Mapping[str, Any]]

    def option_values(self, option: str) -> tuple[str, ...]:
        """The values an option can take, when there are few (choices, true/false)."""
        spec = self.options.get(option) or {}
        choices = spec.get("choices")
        if isinstance(choices, list):
            return tuple(str(c) for c in choices)
        return _VALUES.get(str(spec.get("type", "")), ())


# -- reading, leniently --------------------------------------------------------------------------


def _yaml(path: Path) -> Any:
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=loader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None


def _mapping(value: Any) -> dict[str, Any]:
    return {str(k): v for k, v in value.items()} if isinstance(value, dict) else {}


def _component(folder: Path) -> ComponentInfo | None:
    data = _mapping(_yaml(folder / COMPONENT_FILE))
    if not data:
        return None
    options = {k: _mapping(v) for k, v in _mapping(data.get("options")).items()}
    chart = bool(data.get("chart"))
    for name, spec in derived_options(data).items():
        options.setdefault(name, spec)
    return ComponentInfo(
        name=folder.name,
        description=" ".join(str(data.get("description", "")).split()),
        generic=bool(data.get("generic")),
        chart=chart,
        options=options,
        secrets={k: _mapping(v) for k, v in _mapping(data.get("secrets")).items()},
    )


def _folders(base: Path) -> list[Path]:
    try:
        return sorted(p for p in base.iterdir() if (p / COMPONENT_FILE).is_file())
    except OSError:
        return []


def builtin_components_dir() -> Path:
    """The shipped ``templates/components`` (imported late: it is only needed on a TAB)."""
    from homelab_scaffold.catalog.resources import templates_root

    return templates_root() / "components"


def repo_answers(root: Path) -> dict[str, Any]:
    """The repository's scaffold.yaml as plain data ({} outside a repository)."""
    return _mapping(_yaml(root / ANSWERS_FILE))


def catalog(root: Path) -> dict[str, ComponentInfo]:
    """Built-in components, then the repository's ``catalog_paths`` ones (which override)."""
    paths = repo_answers(root).get("catalog_paths")
    bases = [builtin_components_dir()]
    if isinstance(paths, list):
        bases.extend(root / str(p) for p in paths)
    found: dict[str, ComponentInfo] = {}
    for base in bases:
        for folder in _folders(base):
            info = _component(folder)
            if info is not None:
                found[info.name] = info
    return found


def listed_components(root: Path) -> dict[str, dict[str, Any]]:
    """scaffold.yaml's components: name -> options ({} outside a repository)."""
    return {k: _mapping(v) for k, v in _mapping(repo_answers(root).get("components")).items()}


def component_of(name: str, root: Path, known: Mapping[str, ComponentInfo]) -> ComponentInfo | None:
    """The catalog entry for ``name``; an instance (``from: helm-app``) is its generic one."""
    generic = listed_components(root).get(name, {}).get(GENERIC_KEY)
    return known.get(str(generic)) if generic else known.get(name)


# -- what a TAB offers ---------------------------------------------------------------------------


def _argument(ctx: click.Context, name: str, position: int) -> str:
    """An argument typed before the option being completed: click leaves the positional words
    unparsed in ``ctx.args`` when that option still waits for its value."""
    value = ctx.params.get(name)
    if value is None and len(ctx.args) > position:
        value = ctx.args[position]
    return str(value or "")


def _root(ctx: click.Context) -> Path:
    directory = ctx.params.get("directory") or ctx.params.get("dest")
    return Path(directory) if directory else Path()


def _items(candidates: Iterable[tuple[str, str]], incomplete: str) -> list[CompletionItem]:
    """The candidates that continue ``incomplete`` (a ``key=`` already typed is not one)."""
    return [
        CompletionItem(value, help=help_text or None)
        for value, help_text in candidates
        if value.startswith(incomplete) and not (value == incomplete and value.endswith(_OPEN_ENDS))
    ]


def lenient(completer: Completer) -> Completer:
    """A completer that answers nothing instead of failing: a TAB never shows a traceback."""

    def complete(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
        try:
            return completer(ctx, param, incomplete)
        except Exception:  # a TAB must never show a traceback on the user's shell
            return []

    complete.__doc__ = completer.__doc__
    return complete


@lenient
def catalog_components(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """Every component ``scaffold add`` takes (generic ones too)."""
    known = catalog(_root(ctx))
    return _items(((n, c.description) for n, c in known.items()), incomplete)


Describe = Callable[[Mapping[str, Any], ComponentInfo | None], str | None]


def _listed_items(ctx: click.Context, incomplete: str, describe: Describe) -> list[CompletionItem]:
    """scaffold.yaml's components that ``describe`` describes (None leaves one out)."""
    root = _root(ctx)
    known = catalog(root)
    candidates = []
    for name, options in listed_components(root).items():
        text = describe(options, component_of(name, root, known))
        if text is not None:
            candidates.append((name, text))
    return _items(candidates, incomplete)


@lenient
def repo_components(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """The components scaffold.yaml lists (``remove``)."""
    return _listed_items(ctx, incomplete, lambda _, info: info.description if info else "")


def _chart_version(options: Mapping[str, Any], info: ComponentInfo | None) -> str | None:
    if info is None or "version" not in info.options:
        return None
    return f"chart version {options.get('version', 'default')}"


@lenient
def chart_components(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """The listed components that pin a Helm chart (``upgrade``), with their version."""
    return _listed_items(ctx, incomplete, _chart_version)


def _option_items(prefix: str, info: ComponentInfo, incomplete: str) -> list[CompletionItem]:
    """``PREFIX<option>=`` for each option, or ``PREFIX<option>=<value>`` after the ``=``."""
    key, sep, _ = incomplete[len(prefix) :].partition("=")
    if sep:
        values = info.option_values(key)
        return _items(((f"{prefix}{key}={v}", "") for v in values), incomplete)
    helps = ((n, " ".join(str(o.get("help", "")).split())) for n, o in info.options.items())
    return _items(((f"{prefix}{n}=", h) for n, h in helps), incomplete)


def _provided_secrets(infos: Iterable[ComponentInfo]) -> dict[str, str]:
    """What ``--set secrets.NAME=`` takes for the values only the user can give (the alias, else
    ``component.key``, as ``ProvidedSecret.short_name``) -> what they are."""
    found: dict[str, str] = {}
    for info in infos:
        for key, spec in info.secrets.items():
            # Credentials never come from the command line (init refuses them there).
            if spec.get("provided") and spec.get("command_line", True):
                name = str(spec.get("alias") or f"{info.name}.{key}")
                found.setdefault(name, str(spec.get("description", "")))
    return found


def _secret_set_items(infos: Iterable[ComponentInfo], incomplete: str) -> list[CompletionItem]:
    provided = _provided_secrets(infos)
    return _items(((f"secrets.{alias}=", " ".join(d.split())) for alias, d in provided.items()),
                  incomplete)


@lenient
def add_sets(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """``scaffold add COMPONENT --set``: the component's options (short or full form) and the
    secrets it needs from the user."""
    root = _root(ctx)
    known = catalog(root)
    component = _argument(ctx, "component", 0)
    info = known.get(component)
    if info is None:
        return []
    name = _argument(ctx, "name", 1) or component
    full = f"components.{name}."
    if incomplete.startswith(full) or (incomplete and full.startswith(incomplete)):
        return _option_items(full, info, incomplete)
    return [*_option_items("", info, incomplete), *_secret_set_items([info], incomplete)]


@lenient
def init_sets(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """``scaffold init --set``: global settings, ``components.<name>.<option>=`` step by step
    (component, then option, then a value when there are few), ``secrets.<alias>=``."""
    known = {n: c for n, c in catalog(_root(ctx)).items() if not c.generic}
    if incomplete.startswith("components."):
        name, dot, _ = incomplete[len("components.") :].partition(".")
        if dot and name in known:
            return _option_items(f"components.{name}.", known[name], incomplete)
        return _items(((f"components.{n}.", c.description) for n, c in known.items()), incomplete)
    if incomplete.startswith("secrets."):
        return _secret_set_items(known.values(), incomplete)
    if incomplete.startswith("secrets="):
        return _items(((f"secrets={m}", "") for m in SECRETS_MODES), incomplete)
    return _items(
        [(f"{k}=", "") for k in GLOBAL_SETTINGS] + [("components.", ""), ("secrets.", "")],
        incomplete,
    )


def _secret_names(root: Path, *, generated_only: bool) -> list[tuple[str, str]]:
    """``component.key`` of the secrets of the listed components (provided ones whose ``when``
    the options meet, by alias too unless ``generated_only``)."""
    known = catalog(root)
    names: list[tuple[str, str]] = []
    config = {CONFIG_PREFIX + k: v for k, v in repo_answers(root).items() if k != "components"}
    for name, options in listed_components(root).items():
        info = component_of(name, root, known)
        for key, spec in (info.secrets if info else {}).items():
            provided = bool(spec.get("provided"))
            if provided and (generated_only or not _applies(spec, info, {**config, **options})):
                continue
            what = str(spec.get("description") or ("generated" if not provided else ""))
            names.append((f"{name}.{key}", " ".join(what.split())))
            if provided and spec.get("alias"):
                names.append((str(spec["alias"]), " ".join(what.split())))
    return sorted(set(names))


def _applies(spec: Mapping[str, Any], info: ComponentInfo | None, given: Mapping[str, Any]) -> bool:
    when = _mapping(spec.get("when"))
    for option, wanted in when.items():
        default = ((info.options.get(option) or {}) if info else {}).get("default")
        if given.get(option, default) != wanted:
            return False
    return True


@lenient
def secret_names(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """``scaffold secret set``: every secret of the repository (and provided ones' aliases)."""
    return _items(_secret_names(_root(ctx), generated_only=False), incomplete)


@lenient
def rotatable_secrets(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """``scaffold secret rotate``: generated secrets, and components that have some."""
    names = _secret_names(_root(ctx), generated_only=True)
    components = sorted({(n.partition(".")[0], "every generated value") for n, _ in names})
    return _items([*components, *names], incomplete)


# The folder of the generated Application manifests, and the root Application's file there.
APPLICATIONS_DIR = "kubernetes/system/argocd-config"
_ROOT_APP_FILE = "root-app.yaml"


def _manifest_apps(root: Path) -> list[tuple[str, str]]:
    """(name, destination namespace) of the repository's raw-manifest Applications, read from
    their generated manifests (a folder source; Helm Applications have ``sources``)."""
    try:
        files = sorted((root / APPLICATIONS_DIR).glob("*.yaml"))
    except OSError:
        return []
    apps = []
    for path in files:
        doc = _mapping(_yaml(path))
        spec = _mapping(doc.get("spec"))
        source = _mapping(spec.get("source"))
        if doc.get("kind") != "Application" or path.name == _ROOT_APP_FILE or not source:
            continue
        name = _mapping(doc.get("metadata")).get("name")
        namespace = _mapping(spec.get("destination")).get("namespace")
        if isinstance(name, str) and isinstance(namespace, str) and source.get("path"):
            apps.append((name, namespace))
    return apps


@lenient
def manifest_apps(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """``scaffold secret seal --app``: the raw-manifest Applications, with their namespace."""
    apps = _manifest_apps(_root(ctx))
    return _items(((n, f"namespace {ns}") for n, ns in apps), incomplete)


@lenient
def app_namespaces(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """``scaffold secret seal --namespace``: the namespaces raw-manifest Applications deploy
    into, with the Applications."""
    by_namespace: dict[str, list[str]] = {}
    for name, namespace in _manifest_apps(_root(ctx)):
        by_namespace.setdefault(namespace, []).append(name)
    candidates = ((ns, ", ".join(names)) for ns, names in sorted(by_namespace.items()))
    return _items(candidates, incomplete)


# -- the shells ----------------------------------------------------------------------------------

# click's bash script, but the words come from COMP_LINE (bash splits COMP_WORDS at "=") and a
# suggestion the user goes on typing gets no space. Each suggestion is cut to the part bash
# replaces: what follows the last "=" or ":" of the word being completed.
_SOURCE_BASH = """\
%(complete_func)s() {
    local IFS=$'\\n'
    local response

    response=$(env COMP_LINE="${COMP_LINE:0:$COMP_POINT}" \
COMP_CUR="${COMP_WORDS[COMP_CWORD]}" %(complete_var)s=bash_complete $1)

    for completion in $response; do
        IFS=',' read type value <<< "$completion"

        if [[ $type == 'dir' ]]; then
            COMPREPLY=()
            compopt -o dirnames
        elif [[ $type == 'file' ]]; then
            COMPREPLY=()
            compopt -o default
        elif [[ $type == 'plain' ]]; then
            COMPREPLY+=("$value")
            if [[ $value == *= || $value == *. ]]; then
                compopt -o nospace
            fi
        fi
    done

    return 0
}

%(complete_func)s_setup() {
    complete -o nosort -F %(complete_func)s %(prog_name)s
}

%(complete_func)s_setup;
"""

_SOURCE_ZSH = """\
#compdef %(prog_name)s

%(complete_func)s() {
    local -a completions
    local -a open_ended
    local -a completions_with_descriptions
    local -a response
    (( ! $+commands[%(prog_name)s] )) && return 1

    response=("${(@f)$(env COMP_WORDS="${words[*]}" COMP_CWORD=$((CURRENT-1)) \
%(complete_var)s=zsh_complete %(prog_name)s)}")

    for type key descr in ${response}; do
        if [[ "$type" == "plain" ]]; then
            if [[ "$key" == *= || "$key" == *. ]]; then
                if [[ "$descr" == "_" ]]; then
                    open_ended+=("${key//:/\\:}")
                else
                    open_ended+=("$key":"$descr")
                fi
            elif [[ "$descr" == "_" ]]; then
                completions+=("$key")
            else
                completions_with_descriptions+=("$key":"$descr")
            fi
        elif [[ "$type" == "dir" ]]; then
            _path_files -/
        elif [[ "$type" == "file" ]]; then
            _path_files -f
        fi
    done

    if [ -n "$completions_with_descriptions" ]; then
        _describe -V unsorted completions_with_descriptions -U
    fi

    if [ -n "$completions" ]; then
        compadd -U -V unsorted -a completions
    fi

    if [ -n "$open_ended" ]; then
        _describe -V unsorted open_ended -U -S ''
    fi
}

if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
    %(complete_func)s "$@"
else
    compdef %(complete_func)s %(prog_name)s
fi
"""


def option_prefix(incomplete: str) -> str:
    """The ``--option=`` a word starts with (``--set=components.``), else "": click completes
    only the value after it, the way it parses such a word."""
    if incomplete[:1] == "-" and "=" in incomplete:
        return incomplete.partition("=")[0] + "="
    return ""


class _WholeWords(ShellComplete):
    """Suggestions that replace the whole word typed, ``--option=`` included."""

    def get_completions(self, args: list[str], incomplete: str) -> list[CompletionItem]:
        items = super().get_completions(args, incomplete)
        prefix = option_prefix(incomplete)
        if not prefix:
            return items
        return [
            CompletionItem(prefix + item.value, item.type, item.help)
            if item.type == "plain"
            else item
            for item in items
        ]


class ScaffoldBash(_WholeWords, BashComplete):
    """click's bash completion, reading the line the way the user typed it."""

    source_template = _SOURCE_BASH

    def source(self) -> str:
        # click's version check prints to stderr when it cannot run bash; the script is the same.
        return self.source_template % self.source_vars()

    def get_completion_args(self) -> tuple[list[str], str]:
        line = os.environ.get("COMP_LINE", "")
        words = split_arg_string(line)
        incomplete = "" if not line or line[-1].isspace() else words.pop() if words else ""
        return words[1:], incomplete

    def complete(self) -> str:
        args, incomplete = self.get_completion_args()
        cut = bash_word_start(incomplete, os.environ.get("COMP_CUR", incomplete))
        items = self.get_completions(args, incomplete)
        return "\n".join(
            self.format_completion(CompletionItem(item.value[cut:], item.type, item.help))
            if item.type == "plain"
            else self.format_completion(item)
            for item in items
        )


class ScaffoldZsh(_WholeWords, ZshComplete):
    """click's zsh completion; suggestions ending in ``=`` or ``.`` get no space."""

    source_template = _SOURCE_ZSH


class ScaffoldFish(_WholeWords, FishComplete):
    """click's fish completion (its script and rules), with ``--set=key`` words kept whole."""


def bash_word_start(incomplete: str, current_word: str) -> int:
    """Where, in ``incomplete``, the word bash completes begins: bash splits ``a.b=c`` into
    ``a.b``, ``=`` and ``c``, and replaces only the last of them."""
    if current_word and incomplete.endswith(current_word):
        return len(incomplete) - len(current_word)
    cut = max(incomplete.rfind("="), incomplete.rfind(":"))
    return cut + 1


def register_shells() -> None:
    """Use scaffold's bash and zsh scripts instead of click's (fish's is click's own)."""
    add_completion_class(ScaffoldBash, "bash")
    add_completion_class(ScaffoldZsh, "zsh")
    add_completion_class(ScaffoldFish, "fish")


SHELLS = ("bash", "zsh", "fish")


def completion_script(shell: str, prog_name: str = "scaffold") -> str:
    """The script that enables completion in ``shell`` (what ``_SCAFFOLD_COMPLETE=bash_source
    scaffold`` prints)."""
    from click.shell_completion import get_completion_class

    from homelab_scaffold.cli import cli

    register_shells()
    complete_var = "_" + prog_name.replace("-", "_").upper() + "_COMPLETE"
    shell_class = get_completion_class(shell)
    if shell_class is None:
        raise click.BadParameter(f"{shell!r}; choose one of {', '.join(SHELLS)}")
    return shell_class(cli, {}, prog_name, complete_var).source()
