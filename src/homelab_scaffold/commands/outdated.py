"""``scaffold outdated``: list newer versions of the charts a repository pins."""

from __future__ import annotations

from pathlib import Path

import click

from homelab_scaffold import ui
from homelab_scaffold.commands.common import (
    directory_option,
    download_timeout_option,
    output_option,
)
from homelab_scaffold.errors import NetworkError
from homelab_scaffold.inspect.outdated import check_outdated, text_lines, to_json, unreachable


@click.command("outdated")
@directory_option("The repository whose Helm Applications are checked.", must_exist=True)
@output_option("An aligned table for people, or JSON for scripts.")
@click.option("--pre-releases", is_flag=True, help="Also list pre-release versions (1.2.0-rc.1).")
@download_timeout_option(10.0, "an index.yaml, a chart archive")
@click.option(
    "--no-values-check",
    is_flag=True,
    help="Only list versions: do not download newer charts to check the values against them.",
)
def outdated_command(
    directory: Path, output: str, pre_releases: bool, timeout: float, no_values_check: bool
) -> None:
    """Read each Helm repository's index.yaml and list newer chart versions.

    For each outdated chart, the values the repository sets are checked against the newest
    version and the newest of the current major when that is another one (UPGRADE: clean, or
    the number of findings, listed below the table; a version whose archive cannot be read
    gives way to the next newest, and the reason is listed), and the chart's change notes are
    shown. Chart archives are cached in ~/.cache/scaffold/charts.
    OCI registries are reported as not checked. Exits 2 when a repository cannot be read.
    """
    statuses = check_outdated(
        directory.resolve(),
        pre_releases=pre_releases,
        timeout=timeout,
        values_check=not no_values_check,
    )
    if output == "json":
        ui.info(to_json(statuses))
    else:
        for line in text_lines(statuses):
            ui.info(line)
    failed = unreachable(statuses)
    if failed:
        first = failed[0]
        more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
        raise NetworkError(f"could not check chart '{first.chart}': {first.reason}{more}")
