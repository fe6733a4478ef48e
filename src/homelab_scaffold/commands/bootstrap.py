"""``scaffold bootstrap``: install Argo CD, the keys it needs, and the root Application."""

from __future__ import annotations

import functools
import os
from pathlib import Path

import click

from homelab_scaffold import ui
from homelab_scaffold.cluster.bootstrap import Bootstrap, plan_bootstrap
from homelab_scaffold.cluster.health import Expected, poll_applications, watch_waves
from homelab_scaffold.cluster.preflight import check_cluster, check_repository, check_tools
from homelab_scaffold.cluster.tools import Cluster, run_step
from homelab_scaffold.commands.common import directory_option
from homelab_scaffold.engine import read_plan
from homelab_scaffold.errors import ClusterCommandError, ScaffoldError
from homelab_scaffold.generate.answers import Answers

DEFAULT_TIMEOUT = 1800.0


@click.command("bootstrap")
@directory_option("The repository to bootstrap the cluster from.", must_exist=True)
@click.option("--dry-run", is_flag=True, help="Print the commands; run none of them.")
@click.option("--context", default=None, help="The kubeconfig context (default: the current).")
@click.option("--wait", is_flag=True, help="Follow the sync waves until all are Healthy.")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0),
    default=DEFAULT_TIMEOUT,
    show_default=True,
    help="Seconds --wait waits for every Application to be Healthy (exit 6 after).",
)
def bootstrap_command(
    directory: Path, dry_run: bool, context: str | None, wait: bool, timeout: float
) -> None:
    """Install Argo CD with Helm exactly as its Application describes it, apply the sealing key
    (or the Secrets) and the root Application; Argo CD syncs the rest from Git.

    Checks first: kubectl, helm and git on PATH, the cluster answers, and repo_url holds the
    commit of this work tree at target_revision with nothing uncommitted under kubernetes/.
    Running it again is harmless.
    """
    root = directory.resolve()
    plan = read_plan(root)
    cluster = Cluster(context)
    bootstrap = plan_bootstrap(root, plan, cluster)
    if dry_run:
        _print_dry_run(root, plan.answers, bootstrap, wait)
        return
    _preflight(root, plan.answers, bootstrap, cluster)
    _run_steps(root, bootstrap)
    if wait:
        _follow_waves(root, cluster, bootstrap, timeout)
    else:
        ui.info("Argo CD syncs the rest from Git; follow it with `scaffold bootstrap --wait`.")


def _preflight(root: Path, answers: Answers, bootstrap: Bootstrap, cluster: Cluster) -> None:
    """Tools first (git is needed for the rest), then the repository, then the cluster."""
    check_tools()
    notes = check_repository(root, answers, bootstrap, os.environ)
    ui.warn_all(notes)
    check_cluster(cluster, root)
    pushed = "" if notes else f"; {answers.repo_url} has HEAD at {answers.target_revision}"
    ui.info(f"Checked: kubectl, helm and git on PATH; the cluster answers{pushed}")


def _print_dry_run(root: Path, answers: Answers, bootstrap: Bootstrap, wait: bool) -> None:
    try:
        ui.warn_all(check_repository(root, answers, bootstrap, os.environ))
    except ScaffoldError as exc:
        ui.warn(f"a real run would stop here: {exc.format_message()}")
    ui.note(f"Would run, in {root}:")
    for step in bootstrap.steps:
        ui.info(step.shell())
    if wait:
        ui.note("then follow the Applications' health with kubectl get applications.argoproj.io")


def _run_steps(root: Path, bootstrap: Bootstrap) -> None:
    total = len(bootstrap.steps)
    for number, step in enumerate(bootstrap.steps, start=1):
        ui.info(f"[{number}/{total}] {step.title}")
        ui.info(f"  $ {step.shell()}")
        with ui.progress(step.waiting or step.title):
            outcome = run_step(step, root)
        if not outcome.ok:
            raise ClusterCommandError(
                f"step {number} failed (exit {outcome.returncode}): {outcome.reason}; fix it and "
                "re-run `scaffold bootstrap` (the steps before it are safe to repeat)"
            )


def _follow_waves(root: Path, cluster: Cluster, bootstrap: Bootstrap, timeout: float) -> None:
    expected = Expected.of(bootstrap.children, bootstrap.root_app, bootstrap.apps_namespace)
    count = sum(len(names) for names in expected.waves.values())
    waves = len(expected.waves)
    ui.info(f"Waiting for {count} Applications in {waves} waves (timeout {timeout:g}s)")
    poll = functools.partial(poll_applications, cluster, bootstrap.apps_namespace, root)
    with ui.progress("waiting for the first look at the Applications") as shown:
        for ready in watch_waves(expected, poll, timeout, on_wait=shown.update):
            with shown.paused():
                ui.info(f"  wave {ready.wave}: {', '.join(ready.names)} Healthy and Synced")
    ui.info(f"All {count} Applications and {bootstrap.root_app} are Healthy and Synced.")
