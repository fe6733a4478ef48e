"""The checks before ``scaffold bootstrap`` changes anything: fail early, with what to do.

Checks of the repository need no cluster and also run with ``--dry-run``; the tools and the
cluster are checked only before a real run.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from homelab_scaffold.cluster.bootstrap import Bootstrap
from homelab_scaffold.cluster.pushed import Target, check_pushed
from homelab_scaffold.cluster.tools import Cluster, require_tools, run
from homelab_scaffold.errors import RepoError, UsageError
from homelab_scaffold.generate.answers import ANSWERS_FILE, Answers
from homelab_scaffold.generate.render import ROOT_APP_FILE
from homelab_scaffold.inspect.apps import normalize_url

TOOLS = ("kubectl", "helm", "git")
CLUSTER_SECONDS = 15


def check_repository(
    root: Path, answers: Answers, bootstrap: Bootstrap, environ: Mapping[str, str]
) -> list[str]:
    """Everything about the repository a bootstrap relies on; returns notes for the user.

    Raises:
        UsageError: repo_url is still the placeholder.
        RepoError: A file a step reads is missing, the root Application reads another
            repository than scaffold.yaml names, or the commit Argo CD reads is not this one.
    """
    target = Target(answers.repo_url, answers.target_revision)
    if answers.repo_url_is_placeholder:
        raise UsageError(
            f"repo_url in {ANSWERS_FILE} is the placeholder {answers.repo_url}; set it to the Git "
            "URL Argo CD pulls this repository from, run `scaffold regenerate`, commit and push"
        )
    _refuse_stale_root(bootstrap, target)
    _require_files(root, bootstrap)
    return check_pushed(root, target, environ)


def _refuse_stale_root(bootstrap: Bootstrap, target: Target) -> None:
    url, revision = bootstrap.root_source
    if normalize_url(url) != normalize_url(target.repo_url) or revision != target.revision:
        raise RepoError(
            f"{ROOT_APP_FILE} points Argo CD at {url} ({revision}), but {ANSWERS_FILE} says "
            f"{target.repo_url} ({target.revision}); run `scaffold regenerate`, commit and push"
        )


def _require_files(root: Path, bootstrap: Bootstrap) -> None:
    for requirement in bootstrap.requirements:
        if not (root / requirement.path).exists():
            raise RepoError(f"{requirement.path} is missing; {requirement.hint}")


def check_tools() -> None:
    """kubectl, helm and git are on PATH.

    Raises:
        UsageError: Naming each missing tool and how to get it.
    """
    require_tools(TOOLS)


def check_cluster(cluster: Cluster, cwd: Path) -> None:
    """The cluster answers ``kubectl version`` in time.

    Raises:
        UsageError: It does not; the message says what kubectl said.
    """
    timeout = f"--request-timeout={CLUSTER_SECONDS}s"
    outcome = run(cluster.kubectl("version", timeout), cwd, timeout=CLUSTER_SECONDS * 2)
    if not outcome.ok:
        which = f"context {cluster.context!r}" if cluster.context else "the current context"
        raise UsageError(
            f"the cluster of {which} does not answer ({outcome.reason}); check `kubectl "
            "config current-context` or pass --context NAME (K3s: export "
            "KUBECONFIG=/etc/rancher/k3s/k3s.yaml)"
        )
