"""``scaffold init``: render a new homelab repository.

This module declares the command (options, help, completion of ``--set``) and nothing heavier,
so a TAB stays cheap; what it does is in ``commands.init_run``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from homelab_scaffold import completion


@click.command("init")
@click.argument("dest", type=click.Path(path_type=Path))
@click.option("--no-input", is_flag=True, help="Do not prompt: defaults (full stack) or --config.")
@click.option(
    "--config",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Answers file (scaffold.yaml format).",
)
@click.option(
    "--set",
    "sets",
    multiple=True,
    metavar="KEY=VALUE",
    shell_complete=completion.init_sets,
    help=(
        "Override one answer, e.g. domain=lab.example.org; secrets.NAME=VALUE gives a secret "
        "value (e.g. secrets.cloudflare_api_token=..., never written to scaffold.yaml)."
    ),
)
@click.option(
    "--repo-ssh-key-file",
    type=click.Path(path_type=Path, dir_okay=False),
    help=(
        "Private repository: the SSH deploy key file Argo CD reads it with (sets repo_auth: "
        "ssh; or SCAFFOLD_REPO_SSH_KEY). Kept in the gitignored secrets/, never in Git."
    ),
)
@click.option(
    "--repo-token-file",
    type=click.Path(path_type=Path, dir_okay=False),
    help=(
        "Private repository: a file holding the HTTPS access token Argo CD reads it with (sets "
        "repo_auth: https; or SCAFFOLD_REPO_TOKEN). Kept in the gitignored secrets/."
    ),
)
@click.option(
    "--repo-known-hosts-file",
    type=click.Path(path_type=Path, dir_okay=False),
    help=(
        "SSH repository on a host Argo CD has no keys for (self-hosted Gitea, ...): a known_hosts "
        "file with its host keys (ssh-keyscan -p PORT HOST > FILE). Recorded in scaffold.yaml "
        "(repo_known_hosts; host keys are public)."
    ),
)
@click.option(
    "--force", is_flag=True, help="Render into a non-empty folder (existing files are kept)."
)
@click.option("--dry-run", is_flag=True, help="Show what would be written; write nothing.")
@click.option("-v", "--verbose", is_flag=True, help="List every file (default: a summary).")
def init_command(**options: Any) -> None:
    """Render a new homelab GitOps repository into DEST."""
    from homelab_scaffold.commands import init_run

    init_run.run_init(**options)
