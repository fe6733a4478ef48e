"""ArgoCD Applications of a repository and the files each one deploys.

Turns Application documents into frozen values, decides which git sources point at this very
repository, and maps every directory-type Application to the manifest files ArgoCD would apply
(non-recursive unless ``directory.recurse``, filtered by ``include``/``exclude`` globs).
"""

from __future__ import annotations

import fnmatch
import posixpath
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from homelab_scaffold.inspect.model import (
    WAVE_ANNOTATION,
    Document,
    Repo,
    SourceFile,
    dig,
    items,
    text_at,
)

ARGO_GROUP = "argoproj.io"
MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
# A directory holding one of these is rendered by Kustomize or Helm, not read as plain manifests.
KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
TOOL_FILES = ("Chart.yaml", *KUSTOMIZATION_FILES)
MAX_KUSTOMIZE_DEPTH = 10
# Files whose documents are configuration for tools, never Kubernetes objects.
NOT_MANIFESTS = ("scaffold.yaml",)


@dataclass(frozen=True)
class AppSource:
    """One entry of ``spec.source`` / ``spec.sources``; ``where`` names it in messages."""

    where: str
    repo_url: str
    target_revision: str
    has_target_revision: bool
    chart: str
    path: str | None
    ref: str
    value_files: tuple[str, ...]
    ignore_missing_value_files: bool
    recurse: bool
    include: str
    exclude: str
    helm_values: tuple[Any, ...]

    @property
    def is_oci(self) -> bool:
        """True for an OCI registry source (``oci://`` or a Helm chart from a bare host)."""
        if self.repo_url.startswith("oci://"):
            return True
        return bool(self.chart) and "://" not in self.repo_url

    @property
    def is_helm_chart(self) -> bool:
        """True for a chart from a Helm repository or an OCI registry."""
        return bool(self.chart) or self.repo_url.startswith("oci://")

    @property
    def is_git(self) -> bool:
        """True for a git source (anything that is not a chart or OCI artifact)."""
        return not self.is_helm_chart and not self.is_oci


@dataclass(frozen=True)
class Application:
    """An ArgoCD Application document, reduced to what the checks need."""

    doc: Document
    project: str
    wave_text: Any
    sources: tuple[AppSource, ...]
    dest_server: str
    dest_name: str
    dest_namespace: str
    sync_options: frozenset[str]
    has_retry: bool

    @property
    def name(self) -> str:
        """metadata.name."""
        return self.doc.name

    @property
    def wave(self) -> int:
        """The sync wave as an integer (0 when absent or malformed)."""
        return parse_wave(self.wave_text) or 0

    @property
    def has_valid_wave(self) -> bool:
        """False when the sync-wave annotation is present but malformed (reported elsewhere)."""
        return self.wave_text is None or parse_wave(self.wave_text) is not None


def parse_wave(value: Any) -> int | None:
    """An integer wave from an annotation value written as a string; None when it is not one."""
    if isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d+\s*", value):
        return int(value)
    return None


@dataclass(frozen=True)
class Inventory:
    """The repository seen through its Applications."""

    repo: Repo
    apps: tuple[Application, ...]
    local_urls: frozenset[str]
    members: Mapping[Document, tuple[str, ...]]
    manifests: tuple[Document, ...]

    def members_of(self, app: Application) -> tuple[str, ...]:
        """Files the Application deploys from this repository (directory sources only)."""
        return self.members.get(app.doc, ())

    def documents_of(self, app: Application) -> list[Document]:
        """Parsed documents of the files the Application deploys."""
        wanted = set(self.members_of(app))
        return [doc for doc in self.manifests if doc.file in wanted]

    def local_source(self, source: AppSource) -> bool:
        """True when the git source points at this repository."""
        return source.is_git and normalize_url(source.repo_url) in self.local_urls

    def file(self, path: str) -> SourceFile | None:
        """The repository file at ``path``, if any."""
        for source in self.repo.files:
            if source.path == path:
                return source
        return None


def build_inventory(repo: Repo, extra_urls: Iterable[str] = ()) -> Inventory:
    """Find the Applications and the manifest files each one deploys."""
    apps = tuple(read_application(doc) for doc in repo.documents() if is_application(doc))
    paths = repo.paths()
    local = _local_urls(apps, paths, extra_urls)
    kustomizations = _kustomizations(repo)
    members: dict[Document, tuple[str, ...]] = {}
    for app in apps:
        local_sources = [s for s in app.sources if _is_local(s, local)]
        files = sorted({
            f
            for s in local_sources
            for f in [*source_members(s, paths), *_kustomized(s, kustomizations, paths)]
        })
        if files:
            members[app.doc] = tuple(files)
    deployed = {f for files in members.values() for f in files}
    tools = _tool_dirs(paths)
    manifests = tuple(doc for doc in repo.documents() if _is_manifest(doc, deployed, tools))
    return Inventory(repo, apps, local, MappingProxyType(members), manifests)


def is_application(doc: Document) -> bool:
    """True for an ArgoCD Application document."""
    return doc.is_kind(ARGO_GROUP, "Application")


def _is_manifest(doc: Document, deployed: set[str], tools: tuple[str, ...]) -> bool:
    """Deployed documents, and Kubernetes-looking ones elsewhere (not inside Kustomize/Helm)."""
    if doc.body is None:
        return False
    if doc.file in deployed:
        return True
    if doc.file.rsplit("/", 1)[-1] in NOT_MANIFESTS or doc.file.startswith(tools):
        return False
    return doc.is_object


def _tool_dirs(paths: frozenset[str]) -> tuple[str, ...]:
    """Directories (with a trailing slash) rendered by Helm or Kustomize; "" for the root."""
    found = set()
    for path in paths:
        directory, _, name = path.rpartition("/")
        if name in TOOL_FILES:
            found.add(directory + "/" if directory else "")
    return tuple(sorted(found))


def read_application(doc: Document) -> Application:
    """The Application's fields, tolerant of wrong types (the schema check reports those)."""
    spec = dig(doc.body, "spec")
    sync_options = items(dig(spec, "syncPolicy", "syncOptions"))
    return Application(
        doc=doc,
        project=text_at(spec, "project"),
        wave_text=doc.annotation(WAVE_ANNOTATION),
        sources=tuple(_sources(spec)),
        dest_server=text_at(spec, "destination", "server"),
        dest_name=text_at(spec, "destination", "name"),
        dest_namespace=text_at(spec, "destination", "namespace"),
        sync_options=frozenset(o for o in sync_options if isinstance(o, str)),
        has_retry=isinstance(dig(spec, "syncPolicy", "retry"), dict),
    )


def _sources(spec: Any) -> list[AppSource]:
    found = []
    if isinstance(dig(spec, "source"), dict):
        found.append(_source(spec["source"], "spec.source"))
    for index, raw in enumerate(items(dig(spec, "sources"))):
        if isinstance(raw, dict):
            found.append(_source(raw, f"spec.sources[{index}]"))
    return found


def _source(raw: dict[str, Any], where: str) -> AppSource:
    path = raw.get("path")
    value_files = items(dig(raw, "helm", "valueFiles"))
    return AppSource(
        where=where,
        repo_url=text_at(raw, "repoURL"),
        target_revision=str(raw.get("targetRevision") or ""),
        has_target_revision="targetRevision" in raw,
        chart=text_at(raw, "chart"),
        path=path if isinstance(path, str) else None,
        ref=text_at(raw, "ref"),
        value_files=tuple(v for v in value_files if isinstance(v, str)),
        ignore_missing_value_files=dig(raw, "helm", "ignoreMissingValueFiles") is True,
        recurse=dig(raw, "directory", "recurse") is True,
        include=text_at(raw, "directory", "include"),
        exclude=text_at(raw, "directory", "exclude"),
        helm_values=_helm_values(raw),
    )


def _helm_values(raw: dict[str, Any]) -> tuple[Any, ...]:
    """Inline values: ``helm.valuesObject`` and ``helm.values`` (a YAML string or a mapping)."""
    from homelab_scaffold.inspect.loader import parse_yaml_documents, plain_data

    found: list[Any] = []
    values_object = dig(raw, "helm", "valuesObject")
    if isinstance(values_object, dict):
        found.append(values_object)
    values = dig(raw, "helm", "values")
    if isinstance(values, dict):
        found.append(values)
    elif isinstance(values, str):
        bodies, error = parse_yaml_documents(values)
        found.extend(plain_data(b)[0] for b in bodies if error is None)
    return tuple(found)


def normalize_url(url: str) -> str:
    """A git URL reduced for comparison: no scheme, user, ``.git`` or trailing slash; lowercase."""
    text = url.strip().lower()
    text = re.sub(r"^[a-z0-9+.-]+://", "", text)
    text = re.sub(r"^[^@/]+@", "", text)
    scp = re.match(r"^([^/:]+):(?!\d+/)(.*)$", text)
    if scp:
        text = f"{scp.group(1)}/{scp.group(2)}"
    text = text.rstrip("/")
    return text.removesuffix(".git")


def normalize_path(path: str) -> str | None:
    """A path relative to the repository root ("" for the root); None when it leaves the repo."""
    text = posixpath.normpath("/".join(p for p in path.strip().split("/") if p))
    if text == ".." or text.startswith("../"):
        return None
    return "" if text == "." else text


def _local_urls(
    apps: Iterable[Application], paths: frozenset[str], extra: Iterable[str]
) -> frozenset[str]:
    """URLs of this repository: those of git sources whose path exists here, plus ``extra``."""
    urls = {normalize_url(u) for u in extra if u}
    for app in apps:
        for source in app.sources:
            if source.is_git and source.path is not None and _path_has_files(source.path, paths):
                urls.add(normalize_url(source.repo_url))
    return frozenset(urls)


def _is_local(source: AppSource, local: frozenset[str]) -> bool:
    return source.is_git and source.path is not None and normalize_url(source.repo_url) in local


def _path_has_files(path: str, paths: frozenset[str]) -> bool:
    base = normalize_path(path)
    if base is None:
        return False
    prefix = base + "/" if base else ""
    return any(p.startswith(prefix) for p in paths)


def files_under(path: str, paths: Iterable[str]) -> list[str]:
    """Every file below ``path`` (already normalized), at any depth."""
    prefix = path + "/" if path else ""
    return [p for p in paths if p.startswith(prefix)]


def uses_tool(path: str, paths: frozenset[str]) -> bool:
    """True when the directory is a Helm chart or a Kustomization (not plain manifests)."""
    prefix = path + "/" if path else ""
    return any(prefix + name in paths for name in TOOL_FILES)


def source_members(source: AppSource, paths: frozenset[str]) -> list[str]:
    """The manifest files a directory source deploys."""
    base = normalize_path(source.path or "")
    if base is None or uses_tool(base, paths):
        return []
    found = []
    for path in files_under(base, paths):
        relative = path[len(base) + 1 :] if base else path
        if not path.endswith(MANIFEST_SUFFIXES):
            continue
        if "/" in relative and not source.recurse:
            continue
        if _selected(relative, source.include, source.exclude):
            found.append(path)
    return found


def _kustomizations(repo: Repo) -> dict[str, Any]:
    """Directory -> parsed kustomization of every Kustomize directory in the repository."""
    found = {}
    for source in repo.files:
        directory, _, name = source.path.rpartition("/")
        if name in KUSTOMIZATION_FILES and source.documents:
            found[directory] = source.documents[0].body
    return found


def _kustomized(
    source: AppSource, kustomizations: Mapping[str, Any], paths: frozenset[str]
) -> list[str]:
    """Manifest files a Kustomize source lists in ``resources`` (following local bases)."""
    base = normalize_path(source.path or "")
    if base is None or base not in kustomizations:
        return []
    return [f for f in _resources(base, kustomizations, 0) if f in paths]


def _resources(directory: str, kustomizations: Mapping[str, Any], depth: int) -> list[str]:
    body = kustomizations.get(directory)
    if depth > MAX_KUSTOMIZE_DEPTH or not isinstance(body, dict):
        return []
    found = []
    for entry in [*items(body.get("resources")), *items(body.get("bases"))]:
        if not isinstance(entry, str) or "://" in entry or entry.startswith("github.com/"):
            continue  # remote bases are not in this repository
        target = normalize_path(f"{directory}/{entry}" if directory else entry)
        if target is None:
            continue
        if target in kustomizations:
            found.extend(_resources(target, kustomizations, depth + 1))
        elif target.endswith(MANIFEST_SUFFIXES):
            found.append(target)
    return found


def _selected(relative: str, include: str, exclude: str) -> bool:
    if include and not glob_match(include, relative):
        return False
    return not (exclude and glob_match(exclude, relative))


def glob_match(pattern: str, text: str) -> bool:
    """ArgoCD-style glob: ``*`` crosses ``/``; ``{a,b}`` alternatives are expanded."""
    if not any(c in pattern for c in "*?[{"):
        return pattern == text
    return any(fnmatch.fnmatchcase(text, p) for p in expand_braces(pattern))


def expand_braces(pattern: str, limit: int = 256) -> list[str]:
    """``{a,b}.yaml`` -> ``[a.yaml, b.yaml]``, innermost braces first, at most ``limit`` results."""
    expanded = [pattern]
    while True:
        match = re.search(r"\{([^{}]*)\}", expanded[0])
        if match is None or len(expanded) > limit:
            return expanded[:limit]
        expanded = [
            text[: m.start()] + choice + text[m.end() :]
            for text in expanded
            if (m := re.search(r"\{([^{}]*)\}", text))
            for choice in m.group(1).split(",")
        ]
