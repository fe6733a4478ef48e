"""Where the shipped templates live (inside the wheel, read through importlib.resources)."""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from pathlib import Path


@cache
def templates_root() -> Path:
    """The ``templates/`` folder shipped in the package (force-included by hatch)."""
    root = Path(str(files("homelab_scaffold") / "templates"))
    if not root.is_dir():
        raise FileNotFoundError(f"scaffold's templates are missing from the installation: {root}")
    return root
