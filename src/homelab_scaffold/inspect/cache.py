"""scaffold's per-user cache (schemas, chart archives): where it is and how to write it."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def user_cache_dir(kind: str) -> Path:
    """``$XDG_CACHE_HOME/scaffold/<kind>`` (``~/.cache/scaffold/<kind>`` by default)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "scaffold" / kind


def write_atomically(path: Path, body: bytes) -> None:
    """Put ``body`` at ``path`` whole or not at all; a cache that cannot be written is skipped."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, delete=False, suffix=".tmp") as handle:
            handle.write(body)
        Path(handle.name).replace(path)
    except OSError:
        pass  # A cache that cannot be written only costs a download next time.
