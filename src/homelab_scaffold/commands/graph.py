"""``scaffold graph``: the repository's Applications by sync wave, with what each waits for."""

from __future__ import annotations

from pathlib import Path

import click

from homelab_scaffold import ui
from homelab_scaffold.commands.common import directory_option, output_option
from homelab_scaffold.engine import read_plan
from homelab_scaffold.generate.appgraph import app_graph, graph_json, graph_lines, graph_mermaid


@click.command("graph")
@directory_option("The repository whose scaffold.yaml is planned.", must_exist=True)
@output_option(
    "Waves as text, a mermaid flowchart (as in the README), or JSON.",
    formats=("text", "mermaid", "json"),
)
def graph_command(directory: Path, output: str) -> None:
    """Show the Applications by sync wave and what each one needs.

    Read-only: plans scaffold.yaml as `scaffold regenerate` would, writes nothing.
    """
    nodes = app_graph(read_plan(directory.resolve()))
    if output == "json":
        ui.info(graph_json(nodes))
    elif output == "mermaid":
        ui.info(graph_mermaid(nodes).rstrip("\n"))
    else:
        for line in graph_lines(nodes):
            ui.info(line)
