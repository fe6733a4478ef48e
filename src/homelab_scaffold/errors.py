"""The one error hierarchy: every user-facing failure is a ScaffoldError with an exit code."""

from __future__ import annotations

import click


class ScaffoldError(click.ClickException):
    """Base class: click prints ``Error: <message>`` and exits with ``exit_code``, no traceback."""

    exit_code = 2


class UsageError(ScaffoldError):
    """Bad input from the user: a value, a flag combination, a config file."""


class ConfigError(ScaffoldError):
    """scaffold.yaml (or a --config file) is malformed or holds invalid values."""


class CatalogError(ScaffoldError):
    """A component folder or its component.yaml is invalid."""


class RenderError(ScaffoldError):
    """A template failed to render."""


class RepoError(ScaffoldError):
    """The destination repository is in a state the command refuses to touch."""


class MergeConflictError(ScaffoldError):
    """A three-way merge left conflict markers in one or more files."""

    exit_code = 4


class ValidationFailed(ScaffoldError):
    """`scaffold validate` found problems in the repository."""

    exit_code = 1


class NetworkError(ScaffoldError):
    """A remote (Helm repository index, schema catalog) could not be reached."""


class ClusterCommandError(ScaffoldError):
    """A kubectl or helm command of ``scaffold bootstrap`` failed against the cluster."""

    exit_code = 5


class WaitTimeout(ScaffoldError):
    """``scaffold bootstrap --wait`` gave up before every Application was Healthy."""

    exit_code = 6


class InternalError(ScaffoldError):
    """An unexpected exception: a bug. The traceback is written to a file."""

    exit_code = 3
