"""Drift: tracked files that differ from what the repository's scaffold.yaml renders.

Hand edits are allowed in a scaffold repo, so this runs only with ``--drift``; CI uses it to catch
a chart bump (e.g. by Renovate) that the values template has not followed yet.
"""

from __future__ import annotations

from pathlib import Path

from homelab_scaffold.errors import UsageError
from homelab_scaffold.inspect.model import Problem, Repo

CHECK = "drift"
ANSWERS_FILE = "scaffold.yaml"


def check_drift(repo: Repo) -> list[Problem]:
    """A problem for each generated file that is missing or differs from a fresh render."""
    answers_path = repo.root / ANSWERS_FILE
    if not answers_path.is_file():
        raise UsageError(
            f"--drift needs a scaffold repository, but {answers_path} does not exist; "
            "drop --drift for a repository scaffold did not generate"
        )
    rendered = _render(answers_path, repo.root)
    texts = {source.path: source.text for source in repo.files}
    problems = []
    for path, expected in sorted(rendered.items()):
        if path not in texts and not (repo.root / path).exists():
            problems.append(Problem(path, CHECK, "is generated from scaffold.yaml but missing; "
                                                 "run scaffold regenerate"))
        elif texts.get(path) != expected:
            problems.append(Problem(path, CHECK, (
                "differs from what scaffold.yaml renders (a hand edit, or a version bump the "
                "template must follow); run scaffold regenerate --dry-run to see the difference"
            )))
    return problems


def _render(answers_path: Path, root: Path) -> dict[str, str]:
    """The tracked files scaffold.yaml renders to (gitignored secrets are not compared)."""
    # Imported here: the render pipeline (Jinja, cookiecutter) is only needed for --drift.
    from homelab_scaffold.generate.answers import read_answers_file
    from homelab_scaffold.generate.pipeline import render_config

    rendered = render_config(read_answers_file(answers_path), base=root)
    return dict(rendered.files)
