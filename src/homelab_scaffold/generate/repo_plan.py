"""The plan of an existing repository, read-only: its scaffold.yaml, checked and planned.

For commands that look at a repository without rendering or writing it (``scaffold graph``,
``scaffold bootstrap``).
"""

from __future__ import annotations

from pathlib import Path

from homelab_scaffold.errors import RepoError
from homelab_scaffold.generate.answers import ANSWERS_FILE, parse_answers, read_answers_file
from homelab_scaffold.generate.pipeline import load_catalog_for
from homelab_scaffold.generate.plan import Plan, build_plan


def read_plan(root: Path) -> Plan:
    """Plan the repository at ``root`` from its scaffold.yaml (and its own catalog paths).

    Raises:
        RepoError: ``root`` holds no scaffold.yaml.
        ConfigError: scaffold.yaml is malformed or names unknown components or options.
    """
    path = root / ANSWERS_FILE
    if not path.is_file():
        raise RepoError(
            f"no {ANSWERS_FILE} in {root}; run this inside a repository `scaffold init` made, "
            "or pass -C DIR"
        )
    answers = parse_answers(read_answers_file(path), ANSWERS_FILE)
    return build_plan(answers, load_catalog_for(answers, root), ANSWERS_FILE)
