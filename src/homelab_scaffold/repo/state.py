"""What scaffold generated last time (the base of three-way merges): ``.scaffold/state.json``.

Beside it, gitignored, ``secrets/.scaffold-hashes.json`` holds the hashes of the secret files
scaffold wrote (so a hand-edited one is kept) and the argon2 hash cache. Every path recorded in
either file is checked to be a plain relative path inside the repository before it is used.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from homelab_scaffold import __version__
from homelab_scaffold.errors import RepoError
from homelab_scaffold.paths import check_relative, read_bytes

STATE_FILE = ".scaffold/state.json"
# Hashes of the generated secret files live beside them, gitignored: they change with every
# random value, so keeping them in the tracked state would break byte-identical output.
SECRET_STATE_FILE = "secrets/.scaffold-hashes.json"
SECRET_STATE_MODE = 0o600


@dataclass(frozen=True)
class State:
    """Generated text of every tracked file scaffold wrote, by path."""

    files: Mapping[str, str] = field(default_factory=dict)
    secret_hashes: Mapping[str, str] = field(default_factory=dict)
    argon2_cache: Mapping[str, str] = field(default_factory=dict)

    @property
    def recorded(self) -> bool:
        """True when scaffold has written this repository before."""
        return bool(self.files)


def _read_document(root: Path, path: str, how: str) -> dict[str, object] | None:
    """A state file's JSON object (None when the file does not exist)."""
    raw = read_bytes(root, path)
    if raw is None:
        return None
    try:
        data = json.loads(raw.decode("utf-8"))
    except ValueError:
        raise RepoError(f"{root / path} is damaged; {how}") from None
    if not isinstance(data, dict):
        raise RepoError(f"{root / path} is damaged; {how}")
    return data


def _mapping(
    data: dict[str, object] | None, key: str, damaged: RepoError, *, optional: bool = False
) -> dict[str, str]:
    if data is None or (optional and key not in data):
        return {}
    mapping = data.get(key)
    if not isinstance(mapping, dict) or not all(isinstance(v, str) for v in mapping.values()):
        raise damaged
    return dict(mapping)


def _confined(mapping: dict[str, str], source: str) -> dict[str, str]:
    for path in mapping:
        check_relative(path, f"{source} entry")
    return mapping


def read_state(root: Path) -> State:
    """The state of the repo at ``root`` (empty when none was recorded).

    Raises:
        RepoError: A state file is damaged or not text.
        UsageError: An entry names a path outside the repository (absolute, ``..``).
    """
    how = (
        f"restore it from git (git checkout -- {STATE_FILE}) "
        "or delete it to treat every file as hand-edited"
    )
    state = _read_document(root, STATE_FILE, how)
    damaged = RepoError(f"{root / STATE_FILE} is damaged; {how}")
    files = _mapping(state, "files", damaged)
    how = "delete it to treat every secret file as hand-edited"
    secret_state = _read_document(root, SECRET_STATE_FILE, how)
    damaged = RepoError(f"{root / SECRET_STATE_FILE} is damaged; {how}")
    hashes = _mapping(secret_state, "secret_hashes", damaged)
    cache = _mapping(secret_state, "argon2", damaged, optional=True)
    return State(_confined(files, STATE_FILE), _confined(hashes, SECRET_STATE_FILE), cache)


def text_hash(text: str) -> str:
    """sha256 of a file's text (recorded for secret files instead of their content)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def dump_state(state: State) -> str:
    """Deterministic JSON text of the state."""
    data = {"scaffold_version": __version__, "files": dict(sorted(state.files.items()))}
    return json.dumps(data, indent=1, ensure_ascii=False, sort_keys=False) + "\n"


def dump_secret_state(state: State) -> str:
    """JSON text of the secret files' hashes (gitignored, next to the secrets)."""
    data = {
        "secret_hashes": dict(sorted(state.secret_hashes.items())),
        # argon2 hashes by sha256(parameters + value): the hash is a pure function of the
        # value, so a later run reuses it instead of spending 64 MiB and ~0.3 s again.
        "argon2": dict(sorted(state.argon2_cache.items())),
    }
    return json.dumps(data, indent=1) + "\n"
