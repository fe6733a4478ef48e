"""What scaffold generated last time (the base of three-way merges): ``.scaffold/state.json``."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from homelab_scaffold import __version__
from homelab_scaffold.errors import RepoError

STATE_FILE = ".scaffold/state.json"


@dataclass(frozen=True)
class State:
    """Generated text of every tracked file scaffold wrote, by path."""

    files: Mapping[str, str] = field(default_factory=dict)
    secret_hashes: Mapping[str, str] = field(default_factory=dict)


def read_state(root: Path) -> State:
    """The state of the repo at ``root`` (empty when none was recorded)."""
    path = root / STATE_FILE
    if not path.exists():
        return State()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        files = data["files"]
        hashes = data.get("secret_hashes", {})
        for mapping in (files, hashes):
            if not isinstance(mapping, dict) or not all(
                isinstance(v, str) for v in mapping.values()
            ):
                raise TypeError
    except (OSError, ValueError, KeyError, TypeError):
        raise RepoError(
            f"{path} is damaged; restore it from git (git checkout -- {STATE_FILE}) "
            "or delete it to treat every file as hand-edited"
        ) from None
    return State(dict(files), dict(hashes))


def text_hash(text: str) -> str:
    """sha256 of a file's text (recorded for secret files instead of their content)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def dump_state(state: State) -> str:
    """Deterministic JSON text of the state."""
    data = {
        "scaffold_version": __version__,
        "secret_hashes": dict(sorted(state.secret_hashes.items())),
        "files": dict(sorted(state.files.items())),
    }
    return json.dumps(data, indent=1, ensure_ascii=False, sort_keys=False) + "\n"
