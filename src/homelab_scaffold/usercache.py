"""scaffold's per-user cache (``$XDG_CACHE_HOME/scaffold/``): where it is, how a file in it is
written, and results computed from a text kept by the text's hash.

Nothing of a repository is ever kept here: downloads (schemas, chart archives), compiled
templates, documents known to match their schema, and results that are pure functions of a text.
Parsing (ruamel.yaml's careful loader) and schema checks (jsonschema) of the same file cost the
same every run, so their JSON-able result is kept under ``<kind>/`` keyed by scaffold's version
and the text's sha256: an unchanged file costs one hash and one small JSON read. Only exact JSON
round trips are kept (a date is not); a folder that cannot be written costs the computation next
time; each kind keeps its most recent entries only.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from homelab_scaffold import __version__

MAX_ENTRIES = 256


def user_cache_dir(*parts: str) -> Path:
    """``$XDG_CACHE_HOME/scaffold/...`` (``~/.cache/scaffold/...`` by default)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base, "scaffold", *parts)


def write_atomically(path: Path, body: bytes) -> None:
    """Put ``body`` at ``path`` whole or not at all; a cache that cannot be written is skipped
    (it only costs the work again next time)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with tempfile.NamedTemporaryFile(dir=path.parent, delete=False, suffix=".tmp") as handle:
            handle.write(body)
        Path(handle.name).replace(path)
    except OSError:
        return


def cached_result(kind: str, text: str, compute: Callable[[str], Any]) -> Any:
    """``compute(text)``, from the cache when this text was seen before.

    Exceptions of ``compute`` propagate (nothing is cached for a text that fails).
    """
    path = _path(kind, text)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        pass
    result = compute(text)
    remember(kind, text, result)
    return result


def remember(kind: str, text: str, result: Any) -> None:
    """Keep ``result`` as what ``text`` computes to (when JSON holds it exactly)."""
    try:
        dumped = json.dumps(result, ensure_ascii=False)
        if json.loads(dumped) != result:
            return
    except (TypeError, ValueError):
        return
    path = _path(kind, text)
    write_atomically(path, dumped.encode("utf-8"))
    _prune(path.parent)


def _path(kind: str, text: str) -> Path:
    key = hashlib.sha256(f"{kind}\n{__version__}\n{text}".encode()).hexdigest()
    return user_cache_dir(kind, f"{key}.json")


def _prune(folder: Path) -> None:
    """Keep the most recent entries: the cache never grows without bound. Another scaffold
    process may prune the same folder at the same time: a file gone meanwhile is fine."""
    entries = []
    for entry in folder.glob("*.json"):
        with contextlib.suppress(OSError):
            entries.append((entry.stat().st_mtime, entry))
    if len(entries) <= MAX_ENTRIES:
        return
    entries.sort()
    for _, stale in entries[: len(entries) - MAX_ENTRIES]:
        with contextlib.suppress(OSError):
            stale.unlink()
