"""``scaffold list``: the catalog."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from homelab_scaffold import ui
from homelab_scaffold.catalog.loader import load_catalog
from homelab_scaffold.catalog.model import Catalog, Component
from homelab_scaffold.commands.common import output_option


def delivery(component: Component) -> str:
    """What the component deploys, from its chart and its Applications' types."""
    chart = component.chart
    if chart:
        return f"chart {chart.name} {chart.version} from {chart.repo}"
    if any(app.type == "helm" for app in component.applications):
        # A generic component: each instance names its chart (helm-app's repo, chart, version).
        return "the Helm chart each instance names"
    return "raw manifests"


def describe_component(catalog: Catalog, component: Component, with_options: bool) -> list[str]:
    """Lines describing one component."""
    needs = ", ".join(catalog.needed_components(component.name)) or "-"
    if component.generic:
        namespace, apps = "the instance's name", "one per instance, named after it"
    else:
        namespace, apps = component.namespace, ", ".join(component.app_names)
    lines = [
        f"{component.name}: {component.description}",
        f"    {delivery(component)}; namespace {namespace}; needs: {needs}",
        f"    applications: {apps}",
    ]
    if with_options:
        for option in component.options.values():
            choices = f" [{'|'.join(option.choices)}]" if option.choices else ""
            lines.append(
                f"    --set components.{component.name}.{option.name}=...  "
                f"({option.type}{choices}, default {option.default!r}) {option.help}"
            )
    return lines


def component_data(catalog: Catalog, component: Component) -> dict[str, Any]:
    """One component for ``--output json``: what ``list --options`` shows, as data."""
    chart = component.chart
    return {
        "name": component.name,
        "description": component.description,
        "group": component.group,
        "generic": component.generic,
        "default": component.in_default_stack,
        "namespace": component.namespace,
        "chart": {"repo": chart.repo, "name": chart.name, "version": chart.version}
        if chart
        else None,
        "needs": list(catalog.needed_components(component.name)),
        "applications": list(component.app_names),
        "options": [
            {
                "name": option.name,
                "type": option.type,
                "default": option.default,
                "choices": list(option.choices) if option.choices else None,
                "help": option.help,
            }
            for option in component.options.values()
        ],
    }


@click.command("list")
@click.option(
    "--options", "with_options", is_flag=True, help="Show every option of each component."
)
@click.option(
    "--catalog",
    "catalogs",
    multiple=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Extra catalog folder (as catalog_paths in scaffold.yaml).",
)
@output_option("Lines for people, or JSON for scripts (every component with its options).")
def list_command(with_options: bool, catalogs: tuple[Path, ...], output: str) -> None:
    """Show the component catalog: charts, pinned versions, dependencies."""
    catalog = load_catalog(catalogs)
    if output == "json":
        components = [component_data(catalog, c) for c in catalog.components.values()]
        ui.json_document({"components": components})
        return
    for index, (group, members) in enumerate(catalog.by_group()):
        if index:
            ui.info("")
        ui.info(f"[{group}]")
        for component in members:
            for line in describe_component(catalog, component, with_options):
                ui.info(line)
    if with_options:
        ui.info("")
        ui.info(
            "Global settings: repo_url, target_revision, domain, email, timezone, "
            "secrets (sealed-secrets | manual), catalog_paths"
        )
