"""Workloads in raw manifests comply with the Pod Security level of their namespace.

A namespace's level is the ``pod-security.kubernetes.io/enforce`` label an Application writes
through ``syncPolicy.managedNamespaceMetadata`` (or a Namespace document in the repository
carries). A pod that breaks it would be rejected by the API server at sync time; this check
says so before the push. Only the rules of the Pod Security Standards that a manifest shows
are checked (baseline: host namespaces, privileged containers, hostPath volumes, host ports,
added capabilities; restricted additionally: non-root, no privilege escalation, every
capability dropped, a seccomp profile, volume types).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from homelab_scaffold.inspect.apps import Application, Inventory
from homelab_scaffold.inspect.model import Document, Problem, dig, items, text_at

CHECK = "pod-security"
ENFORCE_LABEL = "pod-security.kubernetes.io/enforce"
LEVELS = ("privileged", "baseline", "restricted")
# Pod template location per workload kind (group, kind) -> keys from the document root.
_POD_SPECS: Mapping[tuple[str, str], tuple[str, ...]] = {
    ("", "Pod"): ("spec",),
    ("apps", "Deployment"): ("spec", "template", "spec"),
    ("apps", "StatefulSet"): ("spec", "template", "spec"),
    ("apps", "DaemonSet"): ("spec", "template", "spec"),
    ("apps", "ReplicaSet"): ("spec", "template", "spec"),
    ("batch", "Job"): ("spec", "template", "spec"),
    ("batch", "CronJob"): ("spec", "jobTemplate", "spec", "template", "spec"),
}
_CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")
_BASELINE_CAPABILITIES = frozenset(
    {
        "AUDIT_WRITE",
        "CHOWN",
        "DAC_OVERRIDE",
        "FOWNER",
        "FSETID",
        "KILL",
        "MKNOD",
        "NET_BIND_SERVICE",
        "SETFCAP",
        "SETGID",
        "SETPCAP",
        "SETUID",
        "SYS_CHROOT",
    }
)
_RESTRICTED_VOLUMES = frozenset(
    {
        "configMap",
        "csi",
        "downwardAPI",
        "emptyDir",
        "ephemeral",
        "persistentVolumeClaim",
        "projected",
        "secret",
    }
)
_SECCOMP_TYPES = frozenset({"RuntimeDefault", "Localhost"})


def check_pod_security(inventory: Inventory) -> list[Problem]:
    """A problem for each workload that breaks its namespace's Pod Security level."""
    levels = namespace_levels(inventory)
    problems: list[Problem] = []
    for app in inventory.apps:
        for doc in inventory.documents_of(app):
            spec = pod_spec(doc)
            namespace = doc.namespace or app.dest_namespace
            level = levels.get(namespace, "privileged")
            if spec is None or level == "privileged":
                continue
            problems.extend(
                doc.problem(
                    CHECK,
                    f"{doc.kind} '{doc.name}' breaks Pod Security '{level}' of "
                    f"namespace '{namespace}': {reason}",
                )
                for reason in violations(spec, level)
            )
    return problems


def namespace_levels(inventory: Inventory) -> dict[str, str]:
    """Namespace -> its enforced level, from Applications and Namespace documents."""
    levels: dict[str, str] = {}
    for app in inventory.apps:
        level = _application_level(app)
        if level and app.dest_namespace:
            levels[app.dest_namespace] = level
    for doc in inventory.manifests:
        if doc.is_kind("", "Namespace"):
            label = text_at(doc.body, "metadata", "labels", ENFORCE_LABEL)
            if label in LEVELS and doc.name:
                levels[doc.name] = label
    return levels


def _application_level(app: Application) -> str | None:
    label = text_at(
        app.doc.body, "spec", "syncPolicy", "managedNamespaceMetadata", "labels", ENFORCE_LABEL
    )
    return label if label in LEVELS else None


def pod_spec(doc: Document) -> Mapping[str, Any] | None:
    """The pod spec of a workload document, or None for any other kind."""
    for (group, kind), keys in _POD_SPECS.items():
        if doc.is_kind(group, kind):
            spec = dig(doc.body, *keys)
            return spec if isinstance(spec, dict) else None
    return None


def violations(spec: Mapping[str, Any], level: str) -> list[str]:
    """What in ``spec`` the ``level`` (baseline or restricted) forbids."""
    found = list(_baseline_violations(spec))
    if level == "restricted":
        found.extend(_restricted_violations(spec))
    return found


def _containers(spec: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    for key in _CONTAINER_LISTS:
        yield from (c for c in items(spec.get(key)) if isinstance(c, dict))


def _container_name(container: Mapping[str, Any]) -> str:
    return f"container '{container.get('name', '?')}'"


def _baseline_violations(spec: Mapping[str, Any]) -> Iterator[str]:
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(key) is True:
            yield f"{key} is true"
    for volume in items(spec.get("volumes")):
        if isinstance(volume, dict) and "hostPath" in volume:
            yield f"volume '{volume.get('name', '?')}' is a hostPath"
    for container in _containers(spec):
        name = _container_name(container)
        if dig(container, "securityContext", "privileged") is True:
            yield f"{name} is privileged"
        if any(isinstance(p, dict) and p.get("hostPort") for p in items(container.get("ports"))):
            yield f"{name} uses a hostPort"
        added = {str(c) for c in items(dig(container, "securityContext", "capabilities", "add"))}
        if added - _BASELINE_CAPABILITIES:
            yield f"{name} adds capabilities {', '.join(sorted(added - _BASELINE_CAPABILITIES))}"


def _restricted_violations(spec: Mapping[str, Any]) -> Iterator[str]:
    context = spec.get("securityContext")
    pod: Mapping[str, Any] = context if isinstance(context, dict) else {}
    for volume in items(spec.get("volumes")):
        if isinstance(volume, dict):
            kinds = set(volume) - {"name"}
            if kinds and not kinds <= _RESTRICTED_VOLUMES:
                yield f"volume '{volume.get('name', '?')}' is of type {', '.join(sorted(kinds))}"
    for container in _containers(spec):
        yield from _restricted_container_violations(container, pod)


def _restricted_container_violations(
    container: Mapping[str, Any], pod: Mapping[str, Any]
) -> Iterator[str]:
    name = _container_name(container)
    context = container.get("securityContext")
    context = context if isinstance(context, dict) else {}
    if context.get("allowPrivilegeEscalation") is not False:
        yield f"{name} does not set allowPrivilegeEscalation: false"
    if context.get("runAsNonRoot", pod.get("runAsNonRoot")) is not True:
        yield f"{name} does not run with runAsNonRoot: true"
    if context.get("runAsUser", pod.get("runAsUser")) == 0:
        yield f"{name} runs as user 0"
    if "ALL" not in {str(c) for c in items(dig(context, "capabilities", "drop"))}:
        yield f"{name} does not drop ALL capabilities"
    added = {str(c) for c in items(dig(context, "capabilities", "add"))} - {"NET_BIND_SERVICE"}
    if added:
        yield f"{name} adds capabilities {', '.join(sorted(added))}"
    seccomp = text_at(context, "seccompProfile", "type") or text_at(pod, "seccompProfile", "type")
    if seccomp not in _SECCOMP_TYPES:
        yield f"{name} has no seccompProfile of type RuntimeDefault or Localhost"
