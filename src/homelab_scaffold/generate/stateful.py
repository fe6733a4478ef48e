"""Resources that hold data and outlive Git: what ``remove`` leaves in the cluster, and how.

A manifest that carries Argo CD's ``Prune=false,Delete=false`` sync options stays in the cluster
when its file leaves the repository or its Application is deleted. A claim a chart's StatefulSet
creates from a volumeClaimTemplate is in no file at all: it carries no tracking annotation, so
Argo CD neither prunes it nor deletes it with the Application, and the StatefulSet's default claim
retention (Retain) keeps it when the StatefulSet goes. Only the catalog (``stateful`` entries
with ``created_by: statefulset``) knows it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from homelab_scaffold.catalog.model import Component

SYNC_OPTIONS = "argocd.argoproj.io/sync-options"
KEEP_OPTIONS = frozenset({"Prune=false", "Delete=false"})
_SHORT = {"PersistentVolumeClaim": "pvc"}


@dataclass(frozen=True)
class KeptResource:
    """A resource whose data stays in the cluster after its files are gone."""

    kind: str
    namespace: str
    name: str

    @property
    def delete_command(self) -> str:
        """The command that deletes it for real."""
        kind = _SHORT.get(self.kind, self.kind.lower())
        return f"kubectl -n {self.namespace} delete {kind} {self.name}"


def keeps_data(document: Any) -> bool:
    """True when a manifest tells Argo CD never to prune or delete it."""
    metadata = document.get("metadata") if isinstance(document, dict) else None
    annotations = metadata.get("annotations") if isinstance(metadata, dict) else None
    options = annotations.get(SYNC_OPTIONS) if isinstance(annotations, dict) else None
    if not isinstance(options, str):
        return False
    return {part.strip() for part in options.split(",")} >= KEEP_OPTIONS


def kept_resources(texts: Iterable[str]) -> list[KeptResource]:
    """The data-holding resources of manifests that are about to leave the repository."""
    import yaml

    kept: list[KeptResource] = []
    for text in texts:
        try:
            documents = list(yaml.safe_load_all(text))
        except yaml.YAMLError:
            continue
        for document in documents:
            kept.extend(_kept(document))
    return sorted(set(kept), key=lambda r: (r.namespace, r.kind, r.name))


def _kept(document: Any) -> list[KeptResource]:
    if not isinstance(document, dict):
        return []
    metadata = document.get("metadata") or {}
    namespace = str(metadata.get("namespace") or "default")
    kind = str(document.get("kind"))
    if kind == "PersistentVolumeClaim" and keeps_data(document):
        return [KeptResource(kind, namespace, str(metadata.get("name")))]
    return []


def statefulset_claims(component: Component) -> list[KeptResource]:
    """The claims ``component``'s chart StatefulSets create, which stay when it is removed."""
    return [
        KeptResource(resource.kind, component.namespace, resource.name)
        for resource in component.stateful
        if resource.outside_git
    ]
