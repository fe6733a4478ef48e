"""``scaffold add | remove | upgrade | regenerate | diff``: change an existing repo safely.

This module declares the commands (options, help, completion) and nothing heavier: a TAB that
completes ``scaffold add <TAB>`` imports it, and should not pay for the engine, Jinja or
ruamel.yaml. What each command does is in ``commands.evolve_run``, imported when it runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from homelab_scaffold import completion
from homelab_scaffold.commands.common import (
    directory_option,
    download_timeout_option,
    output_option,
)

_REPO_HELP = "The homelab repository (default: the current folder)."
_OUTPUT_HELP = "What the run did: lines (diffs with --dry-run) for people, or JSON for scripts."
_common = [
    directory_option(_REPO_HELP),
    click.option("--dry-run", is_flag=True, help="Print the diff; write nothing."),
    click.option(
        "--force", is_flag=True, help="Touch files with uncommitted changes; delete edited files."
    ),
    output_option(_OUTPUT_HELP),
]


def common_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """-C, --dry-run, --force and --output for every writing command."""
    for option in reversed(_common):
        func = option(func)
    return func


@click.command("add")
@click.argument("component", shell_complete=completion.catalog_components)
@click.argument("name", required=False)
@click.option(
    "--set",
    "sets",
    multiple=True,
    metavar="OPTION=VALUE",
    shell_complete=completion.add_sets,
    help=(
        "A component option, e.g. replicas=1 (or components.longhorn.replicas=1, as init takes "
        "it); secrets.NAME=VALUE gives a secret value it needs (never written to scaffold.yaml)."
    ),
)
@click.option("--repo", help="helm-app: Helm repository URL.")
@click.option("--chart", help="helm-app: chart name.")
@click.option("--version", "chart_version", help="helm-app: chart version (pinned).")
@click.option("--namespace", help="helm-app / manifests-app: namespace (default: NAME).")
@click.option(
    "--needs",
    multiple=True,
    shell_complete=completion.repo_components,
    help="helm-app / manifests-app: a component it waits for.",
)
@common_options
def add_command(**options: Any) -> None:
    """Add COMPONENT (and what it needs); generic ones (helm-app, manifests-app) take a NAME."""
    from homelab_scaffold.commands import evolve_run

    evolve_run.add(**options)


@click.command("remove")
@click.argument("component", shell_complete=completion.repo_components)
@common_options
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation (for scripts).")
def remove_command(**options: Any) -> None:
    """Remove COMPONENT; refuses while another component needs it. Its data (volumes) stays."""
    from homelab_scaffold.commands import evolve_run

    evolve_run.remove(**options)


@click.command("upgrade")
@click.argument("component", shell_complete=completion.chart_components)
@click.option(
    "--version", "version", required=True, help="The chart version to move to (MAJOR.MINOR.PATCH)."
)
@click.option(
    "--offline",
    is_flag=True,
    help="Read no Helm repository: skip checking the values against the new chart.",
)
@download_timeout_option(20.0, "the chart repository's index.yaml, a chart archive")
@click.option(
    "--ignore-findings",
    is_flag=True,
    help="Write the upgrade although the values check found something (the findings are still "
    "listed). Unlike --force, it keeps refusing files with uncommitted changes.",
)
@click.option("-y", "--yes", is_flag=True, help="Do not ask before a downgrade (for scripts).")
@common_options
def upgrade_command(**options: Any) -> None:
    """Move COMPONENT's chart to --version; values follow the version.

    The version is a full pin (41.3.0, not 41): a partial one is refused with the releases it
    could mean. Moving to an older version asks first (--yes in scripts). Before writing, the
    values the repository would hold (your kept edits included) are checked against the new
    chart: keys it no longer knows, values its schema rejects. Any finding stops the upgrade
    (exit 2, nothing written) unless --ignore-findings; --offline skips the check.

    --force, as on every writing command, touches files with uncommitted changes and deletes
    edited files; on upgrade it also implies --ignore-findings (as it did before that flag).
    """
    from homelab_scaffold.commands import evolve_run

    evolve_run.upgrade(**options)


@click.command("regenerate")
@common_options
def regenerate_command(**options: Any) -> None:
    """Re-render everything from scaffold.yaml, keeping your edits."""
    from homelab_scaffold.commands import evolve_run

    evolve_run.regenerate(**options)


@click.command("diff")
@directory_option(_REPO_HELP)
@click.option(
    "--exit-code",
    is_flag=True,
    help="Exit 1 when there are differences, 0 when there are none (as git diff --exit-code).",
)
def diff_command(**options: Any) -> None:
    """Show what `scaffold regenerate` would change, as a unified diff (secrets not compared)."""
    from homelab_scaffold.commands import evolve_run

    evolve_run.diff(**options)
