"""``scaffold completion SHELL``: the script that turns on TAB completion (like kubectl's)."""

from __future__ import annotations

import click

from homelab_scaffold import ui
from homelab_scaffold.completion import SHELLS, completion_script


@click.command("completion")
@click.argument("shell", type=click.Choice(SHELLS))
def completion_command(shell: str) -> None:
    """Print the completion script for SHELL (bash, zsh or fish).

    \b
    bash:  eval "$(scaffold completion bash)"        in ~/.bashrc
    zsh:   eval "$(scaffold completion zsh)"         in ~/.zshrc (after compinit)
    fish:  scaffold completion fish > ~/.config/fish/completions/scaffold.fish

    The same script is printed by `_SCAFFOLD_COMPLETE=bash_source scaffold` (zsh_source,
    fish_source), click's own way.
    """
    ui.info(completion_script(shell).rstrip("\n"))
