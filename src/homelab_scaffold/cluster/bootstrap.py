"""What ``scaffold bootstrap`` does to a cluster, decided from the repository alone.

The Argo CD install is read from the argocd Application in the repository (chart, repository,
version, release name, value files), not from the catalog: Renovate or the user may have bumped
it, and Argo CD adopts its own installation only when Helm installed exactly what the
Application describes. Every step is a plain command, so ``--dry-run`` prints what a real run
executes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from homelab_scaffold.cluster.tools import Cluster, Command, Step
from homelab_scaffold.errors import RepoError
from homelab_scaffold.generate.plan import ROOT_APP as ARGOCD_APP
from homelab_scaffold.generate.plan import Plan
from homelab_scaffold.generate.render import (
    ARGOCD_CONFIG_DIR,
    ROOT_APP_FILE,
    secret_folders,
    secret_namespaces,
)
from homelab_scaffold.generate.sealed import BOOTSTRAP_FILE
from homelab_scaffold.generate.secret_values import SECRETS_DIR, bootstrap_secret_folders
from homelab_scaffold.inspect.apps import ARGO_GROUP, MANIFEST_SUFFIXES, parse_wave
from homelab_scaffold.inspect.loader import parse_yaml_documents
from homelab_scaffold.inspect.model import WAVE_ANNOTATION, Document, dig, items, text_at

# Repository credentials Argo CD needs before it can read a private repository (gitignored).
REPO_CREDENTIALS_DIR = f"{SECRETS_DIR}/argocd"
ARGOCD_NAMESPACE = "argocd"
HELM_TIMEOUT = "10m"
_VALUES_REF = "$"


@dataclass(frozen=True)
class ChildApp:
    """An Application the root Application creates, with its sync wave."""

    name: str
    wave: int


@dataclass(frozen=True)
class Requirement:
    """A file or folder a step reads, and what to do when it is missing."""

    path: str
    hint: str


@dataclass(frozen=True)
class HelmInstall:
    """The Helm release of Argo CD, as the argocd Application describes it."""

    release: str
    chart: str
    repo: str | None
    version: str
    namespace: str
    values_files: tuple[str, ...]

    def command(self, cluster: Cluster) -> Command:
        """``helm upgrade --install``: installs, or upgrades to the same thing (idempotent)."""
        repo = ("--repo", self.repo) if self.repo else ()
        values = tuple(arg for path in self.values_files for arg in ("--values", path))
        return cluster.helm(
            "upgrade", "--install", self.release, self.chart, *repo,
            "--version", self.version,
            "--namespace", self.namespace, "--create-namespace",
            *values,
            # The next steps need Argo CD's CRDs and a running controller.
            "--wait", "--timeout", HELM_TIMEOUT,
        )  # fmt: skip


@dataclass(frozen=True)
class Bootstrap:
    """Everything a bootstrap run does and waits for.

    Attributes:
        steps: The commands, in order.
        requirements: Files the steps read, checked before anything runs.
        root_app: The root Application's name.
        apps_namespace: The namespace the Applications live in.
        root_source: The repository URL and revision the root Application reads.
        children: The Applications the root creates, with their waves.
        argocd: The Helm release of Argo CD.
    """

    steps: tuple[Step, ...]
    requirements: tuple[Requirement, ...]
    root_app: str
    apps_namespace: str
    root_source: tuple[str, str]
    children: tuple[ChildApp, ...]
    argocd: HelmInstall


_VALUES_HINT = "run `scaffold regenerate` to write it, then commit and push"
_KEY_HINT = (
    "it holds the key that decrypts the SealedSecrets in Git: restore secrets/ from your "
    "backup, or make a new key with `scaffold secret rotate --all --new-key` (then commit and "
    "push the re-sealed files)"
)
_SECRETS_HINT = "run `scaffold regenerate` to write the Secret manifests"
_ROOT_HINT = "run `scaffold regenerate` to write it"
_CREDENTIALS_HINT = (
    "it holds Argo CD's credentials for the private repository (repo_auth): run "
    "`scaffold regenerate` to write it from secrets/values.yaml, or give the credentials again "
    "with `scaffold secret set repo_ssh_key --value-from-file FILE` (or repo_token)"
)
# Steps, and the files they read.
_Steps = tuple[list[Step], list[Requirement]]


def plan_bootstrap(root: Path, plan: Plan, cluster: Cluster) -> Bootstrap:
    """Decide the bootstrap of the repository at ``root`` (reads files, runs nothing).

    Raises:
        RepoError: The root or argocd Application is missing or cannot be read.
    """
    root_doc = _root_application(root)
    children = _child_applications(root)
    argocd = _argocd_install(_find(children, ARGOCD_APP))
    install = Step(
        f"Install Argo CD (chart {argocd.chart} {argocd.version})",
        (argocd.command(cluster),),
        waiting=f"helm installs Argo CD and waits up to {HELM_TIMEOUT} for it to be ready",
    )
    apply_root = Step("Apply the root Application",
                      (cluster.kubectl("apply", "-f", ROOT_APP_FILE),))  # fmt: skip
    secrets, needs = _secret_steps(root, plan, cluster)
    return Bootstrap(
        steps=(install, *secrets, apply_root),
        requirements=(
            *(Requirement(path, _VALUES_HINT) for path in argocd.values_files),
            *needs,
            Requirement(ROOT_APP_FILE, _ROOT_HINT),
        ),
        root_app=root_doc.name,
        apps_namespace=root_doc.namespace or ARGOCD_NAMESPACE,
        root_source=_git_source(root_doc.body),
        children=tuple(
            ChildApp(doc.name, parse_wave(doc.annotation(WAVE_ANNOTATION)) or 0) for doc in children
        ),
        argocd=argocd,
    )


def _secret_steps(root: Path, plan: Plan, cluster: Cluster) -> _Steps:
    """The sealing key (sealed) or the Secret manifests (manual), and Argo CD's repository
    credentials: all before the root Application, so nothing starts without them."""
    steps: list[Step] = []
    needs: list[Requirement] = []
    for more_steps, more_needs in (
        _sealing_key_step(plan, cluster),
        _credentials_step(root, plan, cluster),
        _manual_secret_steps(plan, cluster),
    ):
        steps.extend(more_steps)
        needs.extend(more_needs)
    return steps, needs


def _sealing_key_step(plan: Plan, cluster: Cluster) -> _Steps:
    if not plan.sealed:
        return [], []
    step = Step("Apply the sealing key (before the Sealed Secrets controller starts)",
                (cluster.kubectl("apply", "-f", BOOTSTRAP_FILE),))  # fmt: skip
    return [step], [Requirement(BOOTSTRAP_FILE, _KEY_HINT)]


def _credentials_step(root: Path, plan: Plan, cluster: Cluster) -> _Steps:
    """The repository credentials (repo_auth, or files of the user's own in secrets/argocd/):
    Argo CD needs them to read the repository the root Application points at."""
    folder = root / REPO_CREDENTIALS_DIR
    files = sorted(p for p in folder.glob("*.yaml") if p.is_file()) if folder.is_dir() else []
    needed = bootstrap_secret_folders(plan)
    if not files and not needed:
        return [], []
    folders = sorted({*needed, *([f"{REPO_CREDENTIALS_DIR}/"] if files else [])})
    args = [arg for path in folders for arg in ("-f", path)]
    step = Step("Apply Argo CD's repository credentials", (cluster.kubectl("apply", *args),))
    return [step], [Requirement(folder, _CREDENTIALS_HINT) for folder in needed]


def _manual_secret_steps(plan: Plan, cluster: Cluster) -> _Steps:
    folders = [f for f in secret_folders(plan) if f.rstrip("/") != REPO_CREDENTIALS_DIR]
    if plan.answers.sealed or not folders:
        return [], []
    args = [arg for folder in folders for arg in ("-f", folder)]
    steps = [
        *(_namespace_step(cluster, namespace) for namespace in secret_namespaces(plan)),
        Step("Apply the Secrets", (cluster.kubectl("apply", "--recursive", *args),)),
    ]
    return steps, [Requirement(folder, _SECRETS_HINT) for folder in folders]


def _namespace_step(cluster: Cluster, namespace: str) -> Step:
    """Create a namespace only when it is missing (``kubectl create`` alone fails the rerun)."""
    return Step(
        f"Create namespace {namespace} for its Secrets",
        (
            cluster.kubectl("create", "namespace", namespace, "--dry-run=client", "-o", "yaml"),
            cluster.kubectl("apply", "-f", "-"),
        ),
    )


def _documents(root: Path, path: str) -> list[Document]:
    try:
        text = (root / path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RepoError(f"{path} is missing; run `scaffold regenerate` to write it") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RepoError(f"cannot read {path}: {exc}") from exc
    bodies, error = parse_yaml_documents(text)
    if error is not None:
        raise RepoError(f"{path}: {error[0]} (`scaffold validate` checks the whole repository)")
    return [Document(path, index, body) for index, body in enumerate(bodies, start=1)]


def _applications(root: Path, path: str) -> list[Document]:
    return [doc for doc in _documents(root, path) if doc.is_kind(ARGO_GROUP, "Application")]


def _root_application(root: Path) -> Document:
    found = _applications(root, ROOT_APP_FILE)
    if not found:
        raise RepoError(f"{ROOT_APP_FILE} holds no Application; run `scaffold regenerate`")
    return found[0]


def _child_applications(root: Path) -> list[Document]:
    """The Applications the root syncs: every manifest of its folder but its own file."""
    folder = root / ARGOCD_CONFIG_DIR
    paths = sorted(
        p.relative_to(root).as_posix()
        for p in folder.iterdir()
        if p.suffix in MANIFEST_SUFFIXES
        and p.is_file()
        and p.relative_to(root).as_posix() != ROOT_APP_FILE
    )
    return [doc for path in paths for doc in _applications(root, path)]


def _find(apps: list[Document], name: str) -> Document:
    for doc in apps:
        if doc.name == name:
            return doc
    raise RepoError(
        f"no Application named {name!r} in {ARGOCD_CONFIG_DIR}/; scaffold bootstrap installs "
        "Argo CD from it: run `scaffold regenerate`"
    )


def _sources(body: Any) -> list[dict[str, Any]]:
    spec = dig(body, "spec")
    single = dig(spec, "source")
    listed = [s for s in items(dig(spec, "sources")) if isinstance(s, dict)]
    return [single, *listed] if isinstance(single, dict) else listed


def _git_source(body: Any) -> tuple[str, str]:
    for source in _sources(body):
        if not text_at(source, "chart"):
            return text_at(source, "repoURL"), str(source.get("targetRevision") or "HEAD")
    return "", ""


def _argocd_install(doc: Document) -> HelmInstall:
    sources = _sources(doc.body)
    charts = [s for s in sources if text_at(s, "chart")]
    if len(charts) != 1 or not text_at(charts[0], "targetRevision"):
        raise RepoError(
            f"{doc.file}: the {doc.name} Application must have exactly one Helm chart source "
            "with a pinned targetRevision; run `scaffold regenerate`"
        )
    chart = charts[0]
    refs = {text_at(s, "ref") for s in sources if text_at(s, "ref")}
    repo, name = text_at(chart, "repoURL"), text_at(chart, "chart")
    oci = repo.startswith("oci://") or "://" not in repo
    return HelmInstall(
        release=text_at(chart, "helm", "releaseName") or doc.name,
        chart=f"oci://{repo.removeprefix('oci://').rstrip('/')}/{name}" if oci else name,
        repo=None if oci else repo,
        version=str(chart["targetRevision"]),
        namespace=text_at(doc.body, "spec", "destination", "namespace") or ARGOCD_NAMESPACE,
        values_files=tuple(
            _local_values_file(doc, ref_path, refs)
            for ref_path in items(dig(chart, "helm", "valueFiles"))
        ),
    )


def _local_values_file(doc: Document, value_file: Any, refs: set[str]) -> str:
    """``$values/kubernetes/...`` -> ``kubernetes/...``: a value file from this repository."""
    text = str(value_file)
    ref, _, path = text.removeprefix(_VALUES_REF).partition("/")
    if not text.startswith(_VALUES_REF) or ref not in refs or not path:
        raise RepoError(
            f"{doc.file}: value file {text!r} of the {doc.name} Application is not in this "
            "repository (expected $<ref>/<path> with a `ref` source); scaffold bootstrap can "
            "only hand Helm files it has"
        )
    return path
