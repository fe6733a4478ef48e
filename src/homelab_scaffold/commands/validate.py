"""``scaffold validate``: report every problem of an App-of-Apps repository."""

from __future__ import annotations

from pathlib import Path

import click

from homelab_scaffold import ui
from homelab_scaffold.commands.common import (
    directory_option,
    download_timeout_option,
    output_option,
)
from homelab_scaffold.errors import ValidationFailed
from homelab_scaffold.inspect.report import text_lines, to_json
from homelab_scaffold.inspect.validate import ValidateOptions, validate_repo


@click.command("validate")
@directory_option("The repository to check.", must_exist=True)
@output_option("Plain lines for people, or JSON for scripts.")
@click.option(
    "--schema-location",
    "schema_locations",
    multiple=True,
    metavar="DIR|URL",
    help=(
        "Where to find CRD JSON schemas named {group}/{kind}_{version}.json (repeatable, "
        "searched in order). 'default': a per-user cache filled from the public CRDs catalog."
    ),
)
@click.option(
    "--offline",
    is_flag=True,
    help="Use no network: skip (and list) documents whose schema is not available locally.",
)
@click.option(
    "--drift",
    is_flag=True,
    help="Also report generated files that differ from what scaffold.yaml renders.",
)
@click.option(
    "--charts",
    is_flag=True,
    help=(
        "Also check each Helm Application's values against the chart version it pins (keys "
        "the chart does not know, values its values.schema.json rejects). Downloads the charts "
        "into ~/.cache/scaffold/charts; skipped with --offline."
    ),
)
@download_timeout_option(20.0, "a CRD schema, with --charts an index.yaml or a chart archive")
def validate_command(
    directory: Path,
    output: str,
    schema_locations: tuple[str, ...],
    offline: bool,
    drift: bool,
    charts: bool,
    timeout: float,
) -> None:
    """Check a GitOps repository: YAML, schemas, ArgoCD ordering, images and secrets.

    Exits 0 when clean, 1 when problems were found, 2 for bad usage.
    """
    options = ValidateOptions(
        root=directory.resolve(),
        schema_locations=schema_locations,
        offline=offline,
        drift=drift,
        charts=charts,
        timeout=timeout,
        notify=ui.note,
    )
    report = validate_repo(options)
    if output == "json":
        ui.info(to_json(report))
    else:
        for line in text_lines(report):
            ui.info(line)
        for note in report.notes:
            ui.warn(note)
    if not report.ok:
        count = len(report.problems)
        raise ValidationFailed(f"{count} problem{'s' if count != 1 else ''} found in {directory}")
