"""The repository skeleton (README, .gitignore, ...): the only module that imports cookiecutter.

``templates/skeleton/`` is a plain cookiecutter template, so it stays usable on its own
(``cookiecutter templates/skeleton``). scaffold renders it into a temporary folder with the plan's
facts in the private ``_scaffold`` variable and reads the result back into memory.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from homelab_scaffold.catalog.resources import templates_root
from homelab_scaffold.errors import RenderError

SKELETON = "skeleton"


def render_skeleton(variables: Mapping[str, Any]) -> dict[str, str]:
    """Render the skeleton with ``variables`` (cookiecutter.json keys) -> {posix path: text}."""
    from cookiecutter.exceptions import CookiecutterException
    from cookiecutter.generate import generate_context, generate_files

    template = templates_root() / SKELETON
    try:
        context = generate_context(
            context_file=str(template / "cookiecutter.json"), extra_context=dict(variables)
        )
        with tempfile.TemporaryDirectory(prefix="scaffold-skeleton-") as out:
            project = generate_files(
                repo_dir=str(template), context=context, output_dir=out, accept_hooks=False
            )
            return _read_tree(Path(project))
    except (CookiecutterException, ValueError) as exc:
        raise RenderError(f"repository skeleton: {exc}") from exc


def _read_tree(root: Path) -> dict[str, str]:
    return {
        path.relative_to(root).as_posix(): path.read_text(encoding="utf-8")
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }
