"""ArgoCD semantics: the App-of-Apps tree, sync waves, pinned charts, paths, projects, health."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from homelab_scaffold.inspect.apps import (
    ARGO_GROUP,
    Application,
    AppSource,
    Inventory,
    files_under,
    glob_match,
    normalize_path,
    normalize_url,
    parse_wave,
    source_members,
    uses_tool,
)
from homelab_scaffold.inspect.model import WAVE_ANNOTATION, Document, Problem, dig, items

CHECK = "argocd"
IN_CLUSTER_SERVER = "https://kubernetes.default.svc"
IN_CLUSTER_NAME = "in-cluster"
HEALTH_KEY = "resource.customizations.health.argoproj.io_Application"
_PINNED = re.compile(
    r"^v?\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$|^sha256:[0-9a-f]{64}$"
)


def check_argocd(inventory: Inventory) -> list[Problem]:
    """Every ArgoCD check except the ordering of waves against CRDs (see checks_ordering)."""
    return [
        *check_tree(inventory),
        *check_duplicate_names(inventory),
        *check_wave_values(inventory),
        *check_chart_revisions(inventory),
        *check_git_paths(inventory),
        *check_projects(inventory),
        *check_health_customization(inventory),
    ]


# --- the App-of-Apps tree ------------------------------------------------------------------


def children_of(inventory: Inventory, app: Application) -> list[Application]:
    """Applications whose files ``app`` deploys (not counting itself)."""
    files = set(inventory.members_of(app))
    return [a for a in inventory.apps if a.doc.file in files and a is not app]


def find_roots(inventory: Inventory) -> list[Application]:
    """Top-level root Applications: they deploy other Applications and no other app deploys them."""
    roots = [a for a in inventory.apps if children_of(inventory, a)]
    deployed = {id(c) for r in roots for c in children_of(inventory, r) if c is not r}
    top = [r for r in roots if id(r) not in deployed]
    return top or roots


def check_tree(inventory: Inventory) -> list[Problem]:
    """A root Application exists and every other Application is reachable from it."""
    if not inventory.apps:
        return [Problem("", CHECK, "no ArgoCD Application found; scaffold validate expects an "
                                   "App-of-Apps repository (a root Application and its children)")]
    roots = find_roots(inventory)
    if not roots:
        return [Problem("", CHECK, "no root Application: no Application's path holds the files "
                                   "of other Applications, so nothing deploys them")]
    reachable = _reachable(inventory, roots)
    names = ", ".join(f"'{r.name}'" for r in roots)
    return [
        app.doc.problem(CHECK, f"Application '{app.name}' is not reachable from the root "
                               f"Application {names}: {app.doc.file} is not among the files any "
                               "reachable Application deploys")
        for app in inventory.apps
        if id(app) not in reachable
    ]


def _reachable(inventory: Inventory, roots: list[Application]) -> set[int]:
    seen = {id(r) for r in roots}
    queue = list(roots)
    while queue:
        for child in children_of(inventory, queue.pop()):
            if id(child) not in seen:
                seen.add(id(child))
                queue.append(child)
    return seen


def check_duplicate_names(inventory: Inventory) -> list[Problem]:
    """Two Applications with the same name would overwrite each other in the cluster."""
    first: dict[str, Application] = {}
    problems = []
    for app in inventory.apps:
        if not app.name:
            continue
        if app.name in first:
            other = first[app.name].doc
            problems.append(app.doc.problem(
                CHECK, f"Application name '{app.name}' is already used in {other.file} "
                       f"(document {other.index}); the two would overwrite each other",
            ))
        else:
            first[app.name] = app
    return problems


# --- sync waves ----------------------------------------------------------------------------


def check_wave_values(inventory: Inventory) -> list[Problem]:
    """Sync-wave annotations are strings holding an integer."""
    problems = []
    for doc in inventory.manifests:
        value = doc.annotation(WAVE_ANNOTATION)
        reason = wave_problem(value)
        if reason:
            problems.append(doc.problem(CHECK, reason))
    return problems


def wave_problem(value: Any) -> str:
    """Why an annotation value is not a valid sync wave ("" when it is, or is absent)."""
    if value is None or parse_wave(value) is not None:
        return ""
    if isinstance(value, bool | int | float):
        text = str(value).lower() if isinstance(value, bool) else str(value)
        return (f"sync wave {text} is not a string: annotations are strings, write "
                f"{WAVE_ANNOTATION}: \"{text}\"")
    return f"sync wave {value!r} is not an integer (write e.g. \"0\", \"1\" or \"-1\")"


# --- sources -------------------------------------------------------------------------------


def check_chart_revisions(inventory: Inventory) -> list[Problem]:
    """Helm charts pinned to one exact version: no ranges, wildcards, ``latest`` or ``HEAD``."""
    problems = []
    for app in inventory.apps:
        for source in app.sources:
            if source.is_helm_chart:
                reason = _revision_problem(source)
                if reason:
                    problems.append(app.doc.problem(CHECK, reason))
    return problems


def _revision_problem(source: AppSource) -> str:
    chart = source.chart or source.repo_url
    revision = source.target_revision.strip()
    if not revision:
        return (f"Helm chart '{chart}' ({source.where}) has no targetRevision, so ArgoCD takes "
                "whatever version is newest; pin one exact version such as 1.2.3")
    if _PINNED.match(revision):
        return ""
    if revision.lower() in ("latest", "head", "stable", "*"):
        why = "follows the newest version"
    elif re.search(r"[*xX]", revision) and not re.search(r"[<>=^~|, ]", revision):
        why = "is a wildcard"
    else:
        why = "is a version range" if re.search(r"[<>=^~|, ]", revision) else "is not a version"
    return (f"Helm chart '{chart}' ({source.where}) targetRevision {revision!r} {why}; pin one "
            "exact version such as 1.2.3 so that upgrades happen by commit")


def check_git_paths(inventory: Inventory) -> list[Problem]:
    """Git paths into this repository exist and hold files; Helm value files exist."""
    problems: list[Problem] = []
    paths = inventory.repo.paths()
    for app in inventory.apps:
        for source in app.sources:
            reasons = [
                *_path_reasons(inventory, source, paths),
                *_value_file_reasons(inventory, app, source, paths),
            ]
            problems.extend(app.doc.problem(CHECK, r) for r in reasons)
    return problems


def _path_reasons(inventory: Inventory, source: AppSource, paths: frozenset[str]) -> list[str]:
    if source.path is None or not inventory.local_source(source):
        return []
    path = normalize_path(source.path)
    label = f"{source.where} path '{source.path}'"
    if path is None:
        return [f"{label} leaves the repository ('..')"]
    if not files_under(path, paths):
        if (inventory.repo.root / path).is_dir():
            return [f"{label} holds no tracked files, so the Application deploys nothing"]
        return [f"{label} does not exist in this repository"]
    if not uses_tool(path, paths) and not source_members(source, paths):
        hint = "" if source.recurse else " directly (directory.recurse is off)"
        return [f"{label} holds no .yaml, .yml or .json manifests{hint} that the Application "
                "would deploy"]
    return []


def _value_file_reasons(
    inventory: Inventory, app: Application, source: AppSource, paths: frozenset[str]
) -> list[str]:
    """Value files that are missing (one that exists but cannot be read is already a problem)."""
    if source.ignore_missing_value_files:
        return []
    reasons = []
    refs = {s.ref for s in app.sources if s.ref}
    for value_file in source.value_files:
        label = f"{source.where} Helm value file '{value_file}'"
        ref = value_file[1:].partition("/")[0] if value_file.startswith("$") else ""
        if ref and ref not in refs:
            reasons.append(f"{label} refers to no source of this Application with ref '{ref}'")
            continue
        target = local_value_file(inventory, app, source, value_file)
        if target is not None and target not in paths and target not in inventory.repo.unreadable:
            reasons.append(f"{label} does not exist in this repository")
    return reasons


def local_value_file(
    inventory: Inventory, app: Application, source: AppSource, value_file: str
) -> str | None:
    """The repository path a Helm value file names; None when it lives in another repository."""
    if value_file.startswith("$"):
        ref, _, rest = value_file[1:].partition("/")
        refs = [s for s in app.sources if s.ref == ref]
        return normalize_path(rest) if refs and inventory.local_source(refs[0]) else None
    if source.is_git and source.path is not None and inventory.local_source(source):
        return normalize_path(f"{source.path}/{value_file}")
    return None


# --- projects ------------------------------------------------------------------------------


def check_projects(inventory: Inventory) -> list[Problem]:
    """Each non-default AppProject exists and allows the Application's sources and destination."""
    projects = {d.name: d for d in inventory.manifests if d.is_kind(ARGO_GROUP, "AppProject")}
    problems = []
    for app in inventory.apps:
        if app.project in ("", "default"):
            continue
        project = projects.get(app.project)
        if project is None:
            problems.append(app.doc.problem(CHECK, (
                f"uses AppProject '{app.project}', which is not defined in this repository"
                f"{_unparsed_hint(inventory)}"
            )))
            continue
        problems.extend(app.doc.problem(CHECK, r) for r in _project_reasons(app, project))
    return problems


def _unparsed_hint(inventory: Inventory) -> str:
    broken = [f.path for f in inventory.repo.files if f.is_yaml and not f.parsed]
    return f" (or only in {', '.join(broken)}, which does not parse)" if broken else ""


def _project_reasons(app: Application, project: Document) -> list[str]:
    repos = [r for r in items(dig(project.body, "spec", "sourceRepos")) if isinstance(r, str)]
    reasons = [
        f"{s.where} repoURL {s.repo_url} is not in the sourceRepos of AppProject "
        f"'{project.name}' ({project.file})"
        for s in app.sources
        if s.repo_url and not _repo_allowed(s.repo_url, repos)
    ]
    if not _destination_allowed(app, project):
        where = app.dest_server or app.dest_name or "(no cluster)"
        reasons.append(f"destination {where} namespace '{app.dest_namespace}' is not among the "
                       f"destinations of AppProject '{project.name}' ({project.file})")
    return reasons


def _repo_allowed(url: str, patterns: Iterable[str]) -> bool:
    target = normalize_url(url)
    allowed = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        text = pattern[1:] if negated else pattern
        if glob_match(normalize_url(text) if text != "*" else "*", target):
            if negated:
                return False
            allowed = True
    return allowed


def _destination_allowed(app: Application, project: Document) -> bool:
    index = _destination_index(project)
    if any(_denies(d, app) for d in index.denials):
        return False
    if index.allows_exactly(app):
        return True
    return any(_allows(d, app) for d in index.patterns)


@dataclass(frozen=True)
class _DestinationIndex:
    """An AppProject's destinations split for speed: exact (cluster, namespace) entries looked up
    in sets (a generated project lists one per Application), glob ones matched one by one."""

    by_server: frozenset[tuple[str, str]]
    by_name: frozenset[tuple[str, str]]
    patterns: tuple[dict[str, Any], ...]
    denials: tuple[dict[str, Any], ...]

    def allows_exactly(self, app: Application) -> bool:
        server, name = _cluster_of(app)
        namespace = app.dest_namespace
        return (server, namespace) in self.by_server or (name, namespace) in self.by_name


_GLOB = frozenset("*?[{!")


@functools.lru_cache(maxsize=16)
def _destination_index(project: Document) -> _DestinationIndex:
    listed = items(dig(project.body, "spec", "destinations"))
    by_server, by_name = set(), set()
    patterns: list[dict[str, Any]] = []
    denials: list[dict[str, Any]] = []
    for destination in (d for d in listed if isinstance(d, dict)):
        namespace = destination.get("namespace")
        namespace = namespace if isinstance(namespace, str) else "*"
        if namespace.startswith("!"):
            denials.append(destination)
            continue
        server, name = destination.get("server"), destination.get("name")
        plain = [v for v in (namespace, server, name) if isinstance(v, str)]
        if any(_GLOB & set(v) for v in plain):
            patterns.append(destination)
        elif isinstance(server, str):
            by_server.add((server, namespace))
        elif isinstance(name, str):
            by_name.add((name, namespace))
    return _DestinationIndex(
        frozenset(by_server), frozenset(by_name), tuple(patterns), tuple(denials)
    )


def _denies(destination: dict[str, Any], app: Application) -> bool:
    namespace = destination.get("namespace")
    return (
        isinstance(namespace, str)
        and namespace.startswith("!")
        and glob_match(namespace[1:], app.dest_namespace)
    )


def _allows(destination: dict[str, Any], app: Application) -> bool:
    namespace = destination.get("namespace")
    if isinstance(namespace, str) and namespace.startswith("!"):
        return False
    pattern = namespace if isinstance(namespace, str) else "*"
    return glob_match(pattern, app.dest_namespace) and _cluster_matches(destination, app)


def _cluster_of(app: Application) -> tuple[str, str]:
    """The Application's cluster as (server, name), the in-cluster aliases filled in."""
    server = app.dest_server or (IN_CLUSTER_SERVER if app.dest_name == IN_CLUSTER_NAME else "")
    name = app.dest_name or (IN_CLUSTER_NAME if app.dest_server == IN_CLUSTER_SERVER else "")
    return server, name


def _cluster_matches(destination: dict[str, Any], app: Application) -> bool:
    server = destination.get("server")
    name = destination.get("name")
    app_server, app_name = _cluster_of(app)
    by_server = isinstance(server, str) and bool(app_server) and glob_match(server, app_server)
    by_name = isinstance(name, str) and bool(app_name) and glob_match(name, app_name)
    return by_server or by_name


# --- Application health --------------------------------------------------------------------


def check_health_customization(inventory: Inventory) -> list[Problem]:
    """When the repository configures ArgoCD, that config restores Application health checks."""
    configs = _argocd_configs(inventory)
    if not configs or any(_has_health_check(cm) for _, cm in configs):
        return []
    doc = configs[0][0]
    return [doc.problem(
        CHECK, f"the ArgoCD config has no Application health check ({HEALTH_KEY} in argocd-cm, "
               "configs.cm in the argo-cd chart's values): without it a parent Application does "
               "not wait for its children, so sync waves between Applications do nothing",
    )]


def _argocd_configs(inventory: Inventory) -> list[tuple[Document, Any]]:
    """(document to blame, argocd-cm data) for every place the repository configures ArgoCD."""
    found: list[tuple[Document, Any]] = [
        (doc, dig(doc.body, "data"))
        for doc in inventory.manifests
        if doc.is_kind("", "ConfigMap") and doc.name == "argocd-cm"
    ]
    for app in inventory.apps:
        for source in app.sources:
            if source.chart == "argo-cd":
                values = [*source.helm_values, *_value_file_bodies(inventory, app, source)]
                found.append((app.doc, _merged_cm(values)))
    return found


def _merged_cm(values: list[Any]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for body in values:
        cm = dig(body, "configs", "cm")
        if isinstance(cm, dict):
            merged.update(cm)
    return merged


def _value_file_bodies(inventory: Inventory, app: Application, source: AppSource) -> list[Any]:
    bodies: list[Any] = []
    for value_file in source.value_files:
        target = local_value_file(inventory, app, source, value_file)
        found = inventory.file(target) if target is not None else None
        if found is not None:
            bodies.extend(doc.body for doc in found.documents)
    return bodies


def _has_health_check(cm: Any) -> bool:
    if not isinstance(cm, dict):
        return False
    direct = cm.get(HEALTH_KEY)
    if isinstance(direct, str) and direct.strip():
        return True
    combined = cm.get("resource.customizations")
    return isinstance(combined, str) and "argoproj.io/Application" in combined
