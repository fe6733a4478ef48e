"""Options several commands share, declared once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from homelab_scaffold.suggest import unknown

# What users of kubectl, helm and git type for scaffold's commands: only ever suggested.
COMMAND_HABITS = {
    "rm": "remove",
    "delete": "remove",
    "uninstall": "remove",
    "install": "add",
    "ls": "list",
    "update": "upgrade",
    "lint": "validate",
    "check": "validate",
    "template": "diff",
    "render": "regenerate",
    "generate": "regenerate",
}


class SuggestingGroup(click.Group):
    """A group that answers a mistyped command with the one it probably meant (exit 2)."""

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = click.utils.make_str(args[0])
        known = self.list_commands(ctx)
        if name not in known and not name.startswith("-") and not ctx.resilient_parsing:
            ctx.fail(command_suggestion(name, known))
        return super().resolve_command(ctx, args)


def command_suggestion(name: str, known: list[str]) -> str:
    """``unknown command 'regnerate'; did you mean regenerate?`` (also for kubectl habits)."""
    habit = COMMAND_HABITS.get(name.lower())
    if habit in known:
        return f"unknown command {name!r}; did you mean {habit}?"
    return unknown("command", name, known, listed_as="commands")


def directory_option(help_text: str, *, must_exist: bool = False) -> Callable[..., Any]:
    """``-C DIR``: the repository a command works on (default: the current folder)."""
    return click.option(
        "-C",
        "--directory",
        "directory",
        type=click.Path(exists=must_exist, file_okay=False, path_type=Path),
        default=Path(),
        show_default="current directory",
        help=help_text,
    )


def output_option(
    help_text: str, formats: tuple[str, ...] = ("text", "json")
) -> Callable[..., Any]:
    """``--output text|json`` (or the ``formats`` a command offers; the first is the default)."""
    return click.option(
        "--output",
        type=click.Choice(formats),
        default=formats[0],
        show_default=True,
        help=help_text,
    )


def download_timeout_option(default: float, what: str) -> Callable[..., Any]:
    """``--timeout``: one deadline for each download (``what`` names them), start to end."""
    return click.option(
        "--timeout",
        type=click.FloatRange(min=0.1),
        default=default,
        show_default=True,
        help=f"Seconds for each download ({what}), start to end.",
    )


def confirm_or_refuse(what: str, question: str, *, script_hint: str = "pass --yes") -> None:
    """Ask "<What>. <question>" on a terminal (no: abort); without one, refuse (exit 2) saying
    what the command would do and how a script says yes."""
    from homelab_scaffold.errors import UsageError
    from homelab_scaffold.prompts import confirm, terminal_available

    if not terminal_available():
        raise UsageError(f"{what}. No terminal to confirm on: {script_hint}")
    if not confirm(f"{what[0].upper()}{what[1:]}. {question}"):
        raise click.exceptions.Abort
