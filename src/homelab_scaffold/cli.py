"""Command-line entry point: the click group and nothing else.

Subcommands live in ``homelab_scaffold.commands.*`` and are imported only when invoked, so
``scaffold --help`` costs little more than importing click.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import TYPE_CHECKING, Any

import click

from homelab_scaffold import __version__, ui
from homelab_scaffold.commands.common import SuggestingGroup
from homelab_scaffold.errors import InternalError
from homelab_scaffold.suggest import did_you_mean

if TYPE_CHECKING:
    from pathlib import Path

    from click.shell_completion import CompletionItem

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
    "completion": (
        "homelab_scaffold.commands.completion",
        "completion_command",
        "Print the shell completion script for bash, zsh or fish.",
    ),
}


class LazyGroup(SuggestingGroup):
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

    def main(self, *args: Any, **kwargs: Any) -> Any:
        """Run the group; a shell asking for completions gets scaffold's bash and zsh scripts."""
        if any(key.startswith("_") and key.endswith("_COMPLETE") for key in os.environ):
            from homelab_scaffold.completion import register_shells

            register_shells()
        return super().main(*args, **kwargs)

    def shell_complete(self, ctx: click.Context, incomplete: str) -> list[CompletionItem]:
        """Command names with their one-line help from the table: a TAB imports no command."""
        from click.shell_completion import CompletionItem

        commands = [
            CompletionItem(name, help=COMMANDS[name][2])
            for name in self.list_commands(ctx)
            if name.startswith(incomplete)
        ]
        return [*commands, *click.Command.shell_complete(self, ctx, incomplete)]

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][2]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(
    cls=LazyGroup,
    invoke_without_command=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(__version__, prog_name="scaffold")
@click.option("--debug", is_flag=True, help="Show the full traceback of unexpected errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Generate and maintain an ArgoCD App-of-Apps GitOps repository for a K3s homelab."""
    ctx.obj = {"debug": debug}
    if ctx.invoked_subcommand is None and not ctx.resilient_parsing:
        # Bare `scaffold` is a question, not a mistake: the answer is the help, exit 0.
        ui.info(ctx.get_help())


def _write_traceback() -> Path:
    import tempfile
    import traceback
    from pathlib import Path

    with tempfile.NamedTemporaryFile(
        "w", prefix="scaffold-crash-", suffix=".log", delete=False, encoding="utf-8"
    ) as handle:
        traceback.print_exc(file=handle)
    return Path(handle.name)


def usage_message(exc: click.UsageError) -> str:
    """A usage error as one line; a mistyped option says which one was meant."""
    if isinstance(exc, click.NoSuchOption) and exc.ctx is not None:
        names = [
            name
            for param in exc.ctx.command.get_params(exc.ctx)
            for name in (*param.opts, *param.secondary_opts)
            if name.startswith("-")
        ]
        hint = did_you_mean(exc.option_name, names)
        return f"unknown option {exc.option_name!r}" + (f"; {hint}" if hint else "")
    return exc.format_message()


def _exit_for_usage(exc: click.UsageError) -> None:
    if type(exc).__name__ == "NoArgsIsHelpError" and exc.ctx is not None:
        # click >= 8.2 calls a group without its command an error; it is a request for help.
        ui.info(exc.ctx.get_help())
        sys.exit(0)
    # One line, like every other error; click's usage block is one --help away.
    command = exc.ctx.command_path if exc.ctx is not None else "scaffold"
    ui.error(f"{usage_message(exc)} (see `{command} --help`)")
    sys.exit(exc.exit_code)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; an unexpected exception becomes one line plus where its traceback went."""
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        # Without standalone mode, click returns ctx.exit()'s code instead of exiting.
        code = cli.main(args=argv, prog_name="scaffold", standalone_mode=False)
        if isinstance(code, int) and code:
            sys.exit(code)
    except click.exceptions.Abort:
        ui.note("Aborted.")
        sys.exit(130)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.UsageError as exc:
        _exit_for_usage(exc)
    except click.ClickException as exc:
        ui.error(exc.format_message())
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        ui.note("Aborted.")
        sys.exit(130)
    except Exception as exc:
        if debug:
            raise
        where = _write_traceback()
        error = InternalError(
            f"unexpected {type(exc).__name__}: {exc} (a bug; traceback in {where}, "
            "or re-run with --debug)"
        )
        ui.error(error.format_message())
        sys.exit(error.exit_code)
