"""The plan as a graph: every Application with its sync wave and what it waits for.

One owner for the three views of it: the lines ``scaffold graph`` prints, its JSON, and the
mermaid flowchart that both ``scaffold graph --output mermaid`` and the generated README show.
An edge runs from what is needed to what needs it, so the diagram reads in sync order.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from homelab_scaffold.generate.plan import Plan

# Mermaid node ids: ``app_`` keeps names like ``end`` (a mermaid keyword) from breaking the chart.
_ID_UNSAFE = re.compile(r"[^A-Za-z0-9_]")


@dataclass(frozen=True)
class GraphNode:
    """One Application of the plan and the Applications its wave waits for.

    Attributes:
        name: The Application name.
        component: The component that renders it.
        wave: Its sync wave.
        namespace: Its destination namespace.
        needs: Applications it needs (hard dependencies, sealed-secrets included).
        after: Selected Applications it is ordered after without needing them.
    """

    name: str
    component: str
    wave: int
    namespace: str
    needs: tuple[str, ...]
    after: tuple[str, ...]


def app_graph(plan: Plan) -> tuple[GraphNode, ...]:
    """The plan's Applications in sync order (wave, then name), each with its edges."""
    selected = {app.name for app in plan.apps}
    return tuple(
        GraphNode(
            name=app.name,
            component=app.component,
            wave=app.wave,
            namespace=app.spec.namespace,
            needs=tuple(app.spec.needs),
            after=tuple(name for name in app.spec.after if name in selected),
        )
        for app in plan.apps
    )


def graph_lines(nodes: Sequence[GraphNode]) -> list[str]:
    """Plain text: a heading per wave, then one line per Application with what it waits for."""
    width = max((len(node.name) for node in nodes), default=0)
    lines: list[str] = []
    for wave in _waves(nodes):
        lines.append(f"wave {wave}")
        lines.extend(
            f"  {node.name:<{width}}  {_waits(node)}".rstrip()
            for node in nodes
            if node.wave == wave
        )
    return lines


def _waits(node: GraphNode) -> str:
    parts = []
    if node.needs:
        parts.append("needs " + ", ".join(node.needs))
    if node.after:
        parts.append("after " + ", ".join(node.after))
    return "; ".join(parts)


def graph_json(nodes: Sequence[GraphNode]) -> str:
    """JSON for scripts: ``{"applications": [...]}`` in sync order, one object per node with
    the node's fields."""
    return json.dumps({"applications": [asdict(node) for node in nodes]}, indent=2)


def graph_mermaid(nodes: Sequence[GraphNode]) -> str:
    """A mermaid flowchart: one box per wave holding its Applications, one arrow per need
    (solid) and per ``after`` ordering (dotted), from the earlier Application to the later."""
    lines = ["flowchart LR"]
    for wave in _waves(nodes):
        lines.append(f'  subgraph wave_{_wave_id(wave)}["wave {wave}"]')
        lines.extend(f'    {_node_id(n.name)}["{n.name}"]' for n in nodes if n.wave == wave)
        lines.append("  end")
    for node in nodes:
        lines.extend(f"  {_node_id(need)} --> {_node_id(node.name)}" for need in node.needs)
        lines.extend(f"  {_node_id(first)} -.-> {_node_id(node.name)}" for first in node.after)
    return "\n".join(lines) + "\n"


def _waves(nodes: Sequence[GraphNode]) -> list[int]:
    return sorted({node.wave for node in nodes})


def _wave_id(wave: int) -> str:
    return f"minus_{-wave}" if wave < 0 else str(wave)


def _node_id(name: str) -> str:
    return "app_" + _ID_UNSAFE.sub("_", name)
