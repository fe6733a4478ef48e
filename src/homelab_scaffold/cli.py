"""Command-line entry point: the click group and nothing else.

Subcommands live in ``homelab_scaffold.commands.*`` and are imported only when invoked, so
``scaffold --help`` costs little more than importing click.
"""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING

import click

from homelab_scaffold import __version__
from homelab_scaffold.errors import InternalError

if TYPE_CHECKING:
    from pathlib import Path

# name -> (module, attribute, one-line help shown by --help without importing the module)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "init": ("homelab_scaffold.commands.init", "init_command", "Render a new homelab repo."),
    "list": ("homelab_scaffold.commands.listing", "list_command", "Show the component catalog."),
    "add": ("homelab_scaffold.commands.evolve", "add_command", "Add a component to the repo."),
    "remove": ("homelab_scaffold.commands.evolve", "remove_command", "Remove a component."),
    "upgrade": ("homelab_scaffold.commands.evolve", "upgrade_command", "Bump a chart version."),
    "regenerate": (
        "homelab_scaffold.commands.evolve",
        "regenerate_command",
        "Re-render from scaffold.yaml, keeping your edits.",
    ),
    "diff": ("homelab_scaffold.commands.evolve", "diff_command", "Preview regenerate as a diff."),
    "validate": (
        "homelab_scaffold.commands.validate",
        "validate_command",
        "Check a GitOps repo: schemas, ArgoCD ordering, images, secrets.",
    ),
    "secret": (
        "homelab_scaffold.commands.secret",
        "secret_command",
        "List, set and rotate secret values (never shown).",
    ),
    "graph": (
        "homelab_scaffold.commands.graph",
        "graph_command",
        "Show the Applications by sync wave and what each needs.",
    ),
    "bootstrap": (
        "homelab_scaffold.commands.bootstrap",
        "bootstrap_command",
        "Install Argo CD and the root Application on a cluster.",
    ),
    "outdated": (
        "homelab_scaffold.commands.outdated",
        "outdated_command",
        "List newer chart versions in the Helm repositories.",
    ),
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return None
        module = importlib.import_module(entry[0])
        command: click.Command = getattr(module, entry[1])
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][2]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="scaffold")
@click.option("--debug", is_flag=True, help="Show the full traceback of unexpected errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Generate and maintain an ArgoCD App-of-Apps GitOps repository for a K3s homelab."""
    ctx.obj = {"debug": debug}


def _write_traceback() -> Path:
    import tempfile
    import traceback
    from pathlib import Path

    with tempfile.NamedTemporaryFile(
        "w", prefix="scaffold-crash-", suffix=".log", delete=False, encoding="utf-8"
    ) as handle:
        traceback.print_exc(file=handle)
    return Path(handle.name)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; an unexpected exception becomes one line plus where its traceback went."""
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        cli.main(args=argv, prog_name="scaffold", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.UsageError as exc:
        # One line, like every other error; click's usage block is one --help away.
        command = exc.ctx.command_path if exc.ctx is not None else "scaffold"
        click.echo(f"Error: {exc.format_message()} (see `{command} --help`)", err=True)
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except Exception as exc:
        if debug:
            raise
        where = _write_traceback()
        error = InternalError(
            f"unexpected {type(exc).__name__}: {exc} (a bug; traceback in {where}, "
            "or re-run with --debug)"
        )
        error.show()
        sys.exit(error.exit_code)
