"""Following the sync waves: Application health as Argo CD reports it, wave by wave.

Argo CD creates the child Applications only after the root's first sync, so "every Application
in the cluster is Healthy" says nothing while they do not exist yet: the Applications to wait for
come from the repository, with their waves. A wave is done when all its Applications are
Healthy and Synced (the same rule the Application health check in the Argo CD values applies).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from homelab_scaffold.cluster.bootstrap import ChildApp
from homelab_scaffold.cluster.tools import Cluster, run
from homelab_scaffold.errors import WaitTimeout
from homelab_scaffold.inspect.model import dig, items, text_at
from homelab_scaffold.wording import some_of

POLL_SECONDS = 5.0
KUBECTL_SECONDS = 30.0
HEALTHY = "Healthy"
SYNCED = "Synced"
_SETTLED_HEALTH = (HEALTHY, "")


@dataclass(frozen=True)
class AppStatus:
    """One Application as the cluster reports it, reduced to what explains a stuck wave.

    Attributes:
        name: The Application name.
        health: ``status.health.status`` (Healthy, Progressing, Degraded, Missing, ...).
        sync: ``status.sync.status`` (Synced, OutOfSync, Unknown).
        detail: Why, in one phrase: the health message, the first unhealthy resource, the last
            sync operation's message and the first condition, where present.
    """

    name: str
    health: str
    sync: str
    detail: str = ""

    @property
    def ready(self) -> bool:
        """True when Healthy and Synced."""
        return self.health == HEALTHY and self.sync == SYNCED


@dataclass(frozen=True)
class Poll:
    """One look at the cluster: the Applications by name, or why they could not be read."""

    statuses: Mapping[str, AppStatus]
    error: str = ""


@dataclass(frozen=True)
class WaveReady:
    """Every Application of a wave is Healthy and Synced."""

    wave: int
    names: tuple[str, ...]


def parse_applications(text: str) -> dict[str, AppStatus]:
    """``kubectl get applications.argoproj.io -o json`` output -> status by name.

    Raises:
        ValueError: The text is not such a list.
    """
    data = json.loads(text)
    if not isinstance(data, dict) or not isinstance(data.get("items"), list):
        raise ValueError("expected a JSON object with an 'items' list")
    statuses = [_status(item) for item in data["items"] if isinstance(item, dict)]
    return {status.name: status for status in statuses if status.name}


def _status(item: Mapping[str, Any]) -> AppStatus:
    status = dig(item, "status")
    return AppStatus(
        name=text_at(item, "metadata", "name"),
        health=text_at(status, "health", "status") or "Unknown",
        sync=text_at(status, "sync", "status") or "Unknown",
        detail="; ".join(part for part in _details(status) if part),
    )


def _details(status: Any) -> list[str]:
    operation = dig(status, "operationState")
    conditions = [c for c in items(dig(status, "conditions")) if isinstance(c, dict)]
    return [
        text_at(status, "health", "message"),
        _first_unsettled_resource(status),
        _labelled("last sync", text_at(operation, "phase"), text_at(operation, "message")),
        _condition(conditions[0]) if conditions else "",
    ]


def _condition(condition: Mapping[str, Any]) -> str:
    """``ComparisonError: <message>``: why Argo CD could not compare or sync."""
    return _labelled(text_at(condition, "type") or "condition", "", text_at(condition, "message"))


def _first_unsettled_resource(status: Any) -> str:
    """The first resource that is not Healthy, else the first one not Synced."""
    resources = [r for r in items(dig(status, "resources")) if isinstance(r, dict)]
    for resource in resources:
        if text_at(resource, "health", "status") not in _SETTLED_HEALTH:
            state = text_at(resource, "health", "status")
            return _labelled(_resource(resource), state, text_at(resource, "health", "message"))
    for resource in resources:
        if text_at(resource, "status") not in (SYNCED, ""):
            return _labelled(_resource(resource), text_at(resource, "status"), "")
    return ""


def _resource(resource: Mapping[str, Any]) -> str:
    namespace = text_at(resource, "namespace")
    where = f"{namespace}/" if namespace else ""
    return f"{text_at(resource, 'kind')} {where}{text_at(resource, 'name')}"


def _labelled(label: str, state: str, message: str) -> str:
    if not state and not message:
        return ""
    return f"{label}: " + ": ".join(part for part in (state, message) if part)


@dataclass(frozen=True)
class Expected:
    """The Applications a bootstrap waits for: the root, and its children by wave."""

    root_app: str
    namespace: str
    waves: Mapping[int, tuple[str, ...]]

    @classmethod
    def of(cls, children: Sequence[ChildApp], root_app: str, namespace: str) -> Expected:
        """Group the children by wave, names sorted."""
        waves: dict[int, list[str]] = {}
        for child in children:
            waves.setdefault(child.wave, []).append(child.name)
        grouped = {wave: tuple(sorted(names)) for wave, names in sorted(waves.items())}
        return cls(root_app, namespace, MappingProxyType(grouped))


def poll_applications(cluster: Cluster, namespace: str, cwd: Path) -> Poll:
    """Read every Application in ``namespace``; a failure is reported, not raised (Argo CD's
    CRDs or API may be briefly unavailable while it starts)."""
    outcome = run(
        cluster.kubectl("get", "applications.argoproj.io", "-n", namespace, "-o", "json"),
        cwd,
        timeout=KUBECTL_SECONDS,
    )
    if not outcome.ok:
        return Poll({}, outcome.reason)
    try:
        return Poll(parse_applications(outcome.stdout))
    except ValueError as exc:
        return Poll({}, f"unexpected kubectl output: {exc}")


def watch_waves(
    expected: Expected,
    poll: Callable[[], Poll],
    timeout: float,
    *,
    interval: float | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    on_wait: Callable[[str], None] | None = None,
) -> Iterator[WaveReady]:
    """Poll until every Application, the root last, is Healthy and Synced; yield each wave as
    it completes, in wave order.

    Args:
        expected: The Applications to wait for.
        poll: Reads the Applications from the cluster.
        timeout: Seconds to wait in all.
        interval: Seconds between polls (default ``POLL_SECONDS``, read at call time).
        clock: Monotonic seconds (tests pass a fake one).
        sleep: Waits (tests pass a fake one).
        on_wait: Told, before each wait, what it waits for, in one phrase (``waiting for
            wave 2: metallb-config Progressing``): the command shows it on a terminal.

    Raises:
        WaitTimeout: The timeout passed; the message names the Application that holds the
            first unfinished wave and why.
    """
    deadline = clock() + timeout
    done: set[int] = set()
    while True:
        seen = poll()
        for wave, names in expected.waves.items():
            if wave in done:
                continue
            if not all(_ready(seen, name) for name in names):
                break
            done.add(wave)
            yield WaveReady(wave, names)
        if len(done) == len(expected.waves) and _ready(seen, expected.root_app):
            return
        if clock() >= deadline:
            raise WaitTimeout(_stuck_message(expected, done, seen, timeout))
        if on_wait is not None:
            on_wait(waiting_for(expected, done, seen))
        sleep(POLL_SECONDS if interval is None else interval)


def waiting_for(expected: Expected, done: set[int], seen: Poll) -> str:
    """The first wave not done yet and how its unfinished Applications are, in one phrase."""
    waiting = [wave for wave in expected.waves if wave not in done]
    if not waiting:
        return f"waiting for the root Application {expected.root_app}: " + _state(
            seen, expected.root_app
        )
    wave = waiting[0]
    names = [name for name in expected.waves[wave] if not _ready(seen, name)]
    shown = some_of([f"{name} {_state(seen, name)}" for name in names], 2)
    return f"waiting for wave {wave}: {shown}"


def _state(seen: Poll, name: str) -> str:
    """``Progressing``, ``Healthy, OutOfSync`` or ``not created yet``."""
    status = seen.statuses.get(name)
    if status is None:
        return "not created yet"
    if status.health == "Healthy":
        return f"{status.health}, {status.sync}"
    return status.health


def _ready(seen: Poll, name: str) -> bool:
    status = seen.statuses.get(name)
    return status is not None and status.ready


def _stuck_message(expected: Expected, done: set[int], seen: Poll, timeout: float) -> str:
    waiting = [wave for wave in expected.waves if wave not in done]
    root = expected.root_app
    if waiting:
        wave = waiting[0]
        name = next(n for n in expected.waves[wave] if not _ready(seen, n))
        what = f"wave {wave}: {_describe(seen, name, root)}"
    else:
        name = root
        what = f"the root Application: {_describe(seen, root, root)}"
    unread = f" (the last look at the cluster failed: {seen.error})" if seen.error else ""
    return (
        f"timed out after {timeout:g}s waiting for {what}{unread}; see `kubectl -n "
        f"{expected.namespace} describe application {name}` or the Argo CD UI, then re-run with "
        "--wait (the bootstrap itself is done)"
    )


def _describe(seen: Poll, name: str, root_app: str) -> str:
    status = seen.statuses.get(name)
    if status is None:
        root = seen.statuses.get(root_app)
        how = f" (root is {root.health}, {root.sync}{_colon(root.detail)})" if root else ""
        return f"Application {name} does not exist yet{how}"
    return f"Application {name} is {status.health}, {status.sync}{_colon(status.detail)}"


def _colon(detail: str) -> str:
    return f": {detail}" if detail else ""
