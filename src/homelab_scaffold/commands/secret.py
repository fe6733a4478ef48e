"""``scaffold secret list | set | rotate``: the secret values of a repository, never shown.

This module declares the commands (options, help, completion of secret names) and nothing
heavier, so a TAB stays cheap; what they do is in ``commands.secret_run``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from homelab_scaffold import completion
from homelab_scaffold.commands.common import SuggestingGroup, directory_option, output_option


def _directory(func: Callable[..., Any]) -> Callable[..., Any]:
    decorated: Callable[..., Any] = directory_option(
        "The homelab repository (default: the current folder)."
    )(func)
    return decorated


def _writing(func: Callable[..., Any]) -> Callable[..., Any]:
    """--force and --dry-run, as on every writing command."""
    func = click.option("--dry-run", is_flag=True, help="Print what would change; write nothing.")(
        func
    )
    return click.option(
        "--force", is_flag=True, help="Touch files with uncommitted changes; overwrite edits."
    )(func)


@click.group("secret", cls=SuggestingGroup)
def secret_command() -> None:
    """List, set and rotate the secret values (sealed into SealedSecrets; never shown)."""


@secret_command.command("list")
@_directory
@output_option("Lines for people, or JSON for scripts (names and places, never a value).")
def list_command(**options: Any) -> None:
    """Show every secret value's name and the Secret that carries it (never the value)."""
    from homelab_scaffold.commands import secret_run

    secret_run.list_secrets(**options)


@secret_command.command("set")
@click.argument("name", shell_complete=completion.secret_names)
@click.option(
    "--value-from-env",
    "env_var",
    metavar="VAR",
    help="Read the value from environment variable VAR (for scripts; or pipe it on stdin).",
)
@click.option(
    "--value-from-file",
    "value_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Read a value you provide from a file (an SSH deploy key, a token file).",
)
@_directory
@_writing
def set_command(**options: Any) -> None:
    """Give secret NAME (component.key) a value of your own and seal it again."""
    from homelab_scaffold.commands import secret_run

    secret_run.set_secret(**options)


@secret_command.command("rotate")
@click.argument("name", required=False, shell_complete=completion.rotatable_secrets)
@click.option("--all", "everything", is_flag=True, help="Seal every value again.")
@click.option(
    "--new-key", is_flag=True, help="With --all: make a new sealing key pair first (lost key)."
)
@click.option(
    "-y", "--yes", is_flag=True,
    help="Do not ask before --new-key replaces the sealing key (for scripts).",
)
@_directory
@_writing
def rotate_command(**options: Any) -> None:
    """Generate a new value for NAME (component.key, or a component) and seal it; or, with
    --all, seal every value again (--new-key: with a new key pair)."""
    from homelab_scaffold.commands import secret_run

    secret_run.rotate_secrets(**options)


@secret_command.command("seal")
@click.argument("name", required=False)
@click.option(
    "-n", "--namespace", metavar="NS", shell_complete=completion.app_namespaces,
    help="The Secret's namespace (its SealedSecret goes to the Application deploying there).",
)
@click.option(
    "--from-literal", "literals", multiple=True, metavar="KEY=VALUE",
    help="A value given on the command line (repeatable; it lands in your shell history).",
)
@click.option(
    "--from-file", "files", multiple=True, metavar="[KEY=]PATH",
    help="A value read from a file, as bytes (repeatable; the key defaults to the file name).",
)
@click.option(
    "-f", "--filename", "manifest", metavar="FILE",
    help="A Secret manifest to seal (name, namespace, type, data, stringData, labels, "
    "annotations); - reads standard input.",
)
@click.option("--type", "secret_type", metavar="TYPE", help="The Secret's type (default Opaque).")
@click.option(
    "--scope", type=click.Choice(["strict", "namespace-wide", "cluster-wide"]),
    default="strict", show_default=True,
    help="Where the sealed values decrypt: this name and namespace, any name in the "
    "namespace, or anywhere.",
)
@click.option(
    "--app", metavar="APP", shell_complete=completion.manifest_apps,
    help="The raw-manifest Application whose folder gets the file (when the namespace has "
    "none or several).",
)
@click.option(
    "--output-file", metavar="PATH",
    help="Write the SealedSecret here instead (inside the repository).",
)
@click.option(
    "--merge", is_flag=True,
    help="Keep the other values of the existing SealedSecret (like kubeseal --merge-into).",
)
@_directory
@_writing
@output_option("Lines for people, or JSON for scripts (path and keys, never a value).")
def seal_command(**options: Any) -> None:
    """Seal a Secret of your own with the repository's key, like kubeseal, offline.

    \b
    scaffold secret seal db-creds -n photos --from-literal password=... --from-file ca.crt=./ca.pem
    scaffold secret seal -f secret.yaml        # a Secret manifest; - reads stdin

    The SealedSecret <NAME>.sealedsecret.yaml goes into the folder of the raw-manifest
    Application that deploys into the namespace; sealing it again replaces it. Values are
    read as bytes and never printed.
    """
    from homelab_scaffold.commands import seal_run

    seal_run.seal_secret(**options)


@secret_command.command("cert")
@_directory
def cert_command(**options: Any) -> None:
    """Print the sealing certificate (PEM), for kubeseal --cert."""
    from homelab_scaffold.commands import seal_run

    seal_run.print_certificate(**options)
