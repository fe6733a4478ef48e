"""All terminal output goes through here: action lines, warnings, notices."""

from __future__ import annotations

import sys
from collections.abc import Iterable

import click

_ACTION_COLOURS = {
    "create": "green",
    "update": "yellow",
    "merge": "cyan",
    "conflict": "red",
    "delete": "red",
    "keep": "magenta",
    "skip": "blue",
    "unchanged": "white",
}


def action(verb: str, path: str) -> None:
    """One action line, e.g. ``  create  kubernetes/system/metallb/values.yaml``."""
    label = click.style(f"{verb:>9}", fg=_ACTION_COLOURS.get(verb, "white"), bold=True)
    click.echo(f"{label}  {path}")


def info(message: str) -> None:
    """A plain line on stdout."""
    click.echo(message)


def note(message: str) -> None:
    """A side note on stderr (keeps stdout clean for JSON output)."""
    click.echo(message, err=True)


def warn(message: str) -> None:
    """A warning on stderr."""
    click.echo(click.style("Warning: ", fg="yellow", bold=True) + message, err=True)


def warn_all(messages: Iterable[str]) -> None:
    """Every warning, one line each."""
    for message in messages:
        warn(message)


def secret_notice(what: str, value: str, stored_in: str) -> None:
    """A generated secret: shown once, on a terminal only; elsewhere (a log, a pipe) only where
    it is stored, so it never lands in a CI log."""
    if sys.stdout.isatty():
        click.echo(
            click.style(f"{what}: ", bold=True) + value + f"  (shown once; stored in {stored_in})"
        )
    else:
        click.echo(f"{what}: generated and stored in {stored_in} (not printed: not a terminal)")
