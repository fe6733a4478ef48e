"""External tools (kubectl, helm, git) as values: a command is an argv tuple that ``--dry-run``
prints shell-quoted and a real run executes, so the two can never disagree."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from homelab_scaffold.errors import UsageError

# Exit codes for "could not start it" and "no answer in time", as a shell reports them.
NOT_FOUND = 127
TIMED_OUT = 124
INSTALL_HINTS = {
    "kubectl": "install it (https://kubernetes.io/docs/tasks/tools/); on a K3s node it is "
    "/usr/local/bin/kubectl, with KUBECONFIG=/etc/rancher/k3s/k3s.yaml",
    "helm": "install Helm 3 (https://helm.sh/docs/intro/install/)",
    "git": "install git (your package manager's `git`)",
}


@dataclass(frozen=True)
class Command:
    """One program and its arguments."""

    argv: tuple[str, ...]

    def shell(self) -> str:
        """The command as one shell-quoted line."""
        return shlex.join(self.argv)


@dataclass(frozen=True)
class Step:
    """One bootstrap step: what it does, and its commands (piped, ``a | b``, when several).

    ``waiting`` says what a step that takes minutes waits for (shown beside a spinner on a
    terminal); other steps show their title there."""

    title: str
    pipeline: tuple[Command, ...]
    waiting: str = ""

    def shell(self) -> str:
        """The step as the one shell line a user would type."""
        return " | ".join(command.shell() for command in self.pipeline)


@dataclass(frozen=True)
class Outcome:
    """What a command did: exit code and its output."""

    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        """True when the command exited 0."""
        return self.returncode == 0

    @property
    def reason(self) -> str:
        """The last non-empty line of its error output (or of its output): why it failed."""
        for text in (self.stderr, self.stdout):
            lines = [line.strip() for line in text.splitlines() if line.strip()]
            if lines:
                return lines[-1]
        return f"exit code {self.returncode}"


@dataclass(frozen=True)
class Cluster:
    """The kubeconfig context every kubectl and helm command targets (None: the current one)."""

    context: str | None = None

    def kubectl(self, *args: str) -> Command:
        """A kubectl command with ``--context`` when one was chosen."""
        chosen = ("--context", self.context) if self.context else ()
        return Command(("kubectl", *chosen, *args))

    def helm(self, *args: str) -> Command:
        """A helm command with ``--kube-context`` when one was chosen."""
        chosen = ("--kube-context", self.context) if self.context else ()
        return Command(("helm", *args, *chosen))


def require_tools(names: Iterable[str]) -> None:
    """Fail early, naming every missing tool and how to get it.

    Raises:
        UsageError: One or more of ``names`` is not on PATH.
    """
    missing = [name for name in names if shutil.which(name) is None]
    if len(missing) == 1:
        raise UsageError(f"{missing[0]} is not on PATH; {_hint(missing[0])}")
    if missing:
        how = "; ".join(f"{name}: {_hint(name)}" for name in missing)
        raise UsageError(f"{' and '.join(missing)} are not on PATH; {how}")


def _hint(name: str) -> str:
    return INSTALL_HINTS.get(name, "install it")


def run(
    command: Command,
    cwd: Path,
    *,
    stdin: str | None = None,
    timeout: float | None = None,
    env: Mapping[str, str] | None = None,
) -> Outcome:
    """Run ``command`` in ``cwd`` capturing its output; never raises for the command's failure.

    Args:
        command: What to run.
        cwd: The folder it runs in (the repository: commands name files relative to it).
        stdin: Text for its standard input (none: it reads nothing).
        timeout: Seconds before it is given up on (as exit code 124).
        env: Variables added to the environment.
    """
    try:
        done = subprocess.run(
            command.argv,
            cwd=cwd,
            input=stdin if stdin is not None else "",
            env={**os.environ, **env} if env else None,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError:
        return Outcome(NOT_FOUND, "", f"{command.argv[0]}: not found on PATH")
    except subprocess.TimeoutExpired:
        return Outcome(TIMED_OUT, "", f"no answer within {timeout:g} seconds")
    return Outcome(done.returncode, done.stdout, done.stderr)


def run_step(step: Step, cwd: Path) -> Outcome:
    """Run a step's pipeline, each command reading the previous one's output; stops at the first
    failure and returns its outcome (or the last command's)."""
    outcome = Outcome(0, "", "")
    stdin: str | None = None
    for command in step.pipeline:
        outcome = run(command, cwd, stdin=stdin)
        if not outcome.ok:
            return outcome
        stdin = outcome.stdout
    return outcome
