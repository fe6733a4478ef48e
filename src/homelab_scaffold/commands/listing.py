"""``scaffold list``: the catalog."""

from __future__ import annotations

from pathlib import Path

import click

from homelab_scaffold import ui
from homelab_scaffold.catalog.loader import load_catalog
from homelab_scaffold.catalog.model import Catalog, Component


def describe_component(catalog: Catalog, component: Component, with_options: bool) -> list[str]:
    """Lines describing one component."""
    chart = component.chart
    where = f"chart {chart.name} {chart.version} from {chart.repo}" if chart else "raw manifests"
    needs = ", ".join(catalog.needed_components(component.name)) or "-"
    lines = [
        f"{component.name}: {component.description}",
        f"    {where}; namespace {component.namespace}; needs: {needs}",
        f"    applications: {', '.join(component.app_names)}",
    ]
    if with_options:
        for option in component.options.values():
            choices = f" [{'|'.join(option.choices)}]" if option.choices else ""
            lines.append(
                f"    --set components.{component.name}.{option.name}=...  "
                f"({option.type}{choices}, default {option.default!r}) {option.help}"
            )
    return lines


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
def list_command(with_options: bool, catalogs: tuple[Path, ...]) -> None:
    """Show the component catalog: charts, pinned versions, dependencies."""
    catalog = load_catalog(catalogs)
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
