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


def _read_mapping(
    root: Path, path: str, key: str, how: str, *, optional: bool = False
) -> dict[str, str]:
    raw = read_bytes(root, path)
    if raw is None:
        return {}
    try:
        data = json.loads(raw.decode("utf-8"))
        mapping = data.get(key, {}) if optional and isinstance(data, dict) else data[key]
        if not isinstance(mapping, dict) or not all(isinstance(v, str) for v in mapping.values()):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        raise RepoError(f"{root / path} is damaged; {how}") from None
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
    files = _read_mapping(
        root,
        STATE_FILE,
        "files",
        f"restore it from git (git checkout -- {STATE_FILE}) "
        "or delete it to treat every file as hand-edited",
    )
    how = "delete it to treat every secret file as hand-edited"
    hashes = _read_mapping(root, SECRET_STATE_FILE, "secret_hashes", how)
    cache = _read_mapping(root, SECRET_STATE_FILE, "argon2", how, optional=True)
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
