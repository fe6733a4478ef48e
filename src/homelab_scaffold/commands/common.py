"""Options several commands share, declared once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click


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
