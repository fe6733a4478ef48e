"""The secret store: the gitignored ``secrets/`` folder (values, sealing key pair, modes).

This module is the only one that reads it. It refuses, rather than guesses, whenever carrying
on would silently replace a secret that something already depends on: a missing or damaged
``values.yaml`` or half a key pair while SealedSecrets exist would otherwise mean new values
sealed over the old ones (a new Authelia storage key locks Authelia out of its database).
"""

from __future__ import annotations

import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from homelab_scaffold.catalog.model import SecretSpec
from homelab_scaffold.errors import ConfigError, RepoError
from homelab_scaffold.generate.plan import Plan
from homelab_scaffold.generate.sealed import (
    KEY_DIR,
    KEY_PATHS,
    SEALED_SUFFIX,
    Sealing,
    carried_data_keys,
    secret_holders,
)
from homelab_scaffold.generate.sealing_crypto import KeyPair, check_key_pair
from homelab_scaffold.generate.secret_values import SECRETS_DIR, VALUES_FILE, secret_specs
from homelab_scaffold.generate.yamltext import dump_yaml
from homelab_scaffold.paths import inside, read_bytes, read_text, real_folder
from homelab_scaffold.repo.answers_file import parse_answers_text

SECRET_MODE = 0o600
_VALUES_HEADER = "# Generated secret values (gitignored). Keep a copy somewhere safe.\n"
_RESTORE = (
    "restore secrets/ from your backup; if it is lost for good, make new values and seal "
    "everything again with `scaffold secret rotate --all` (add --new-key when the key is lost "
    "too), then apply the new key and restart the applications"
)

Values = dict[str, dict[str, str]]
# What secrets/values.yaml holds, for the message about an empty one.
_VALUES_SHAPE = "a mapping of component names to their secret values (component: {key: value})"


@dataclass(frozen=True)
class SecretStore:
    """The ``secrets/`` folder of the repository at ``root``."""

    root: Path

    def check_folder(self) -> None:
        """``secrets`` must be a real folder (a link could send secrets anywhere).

        Raises:
            RepoError: It is a file or a symbolic link.
        """
        real_folder(self.root, SECRETS_DIR)

    def read_values(self) -> Values | None:
        """The kept secret values; None when there is no values file.

        Raises:
            RepoError: The file is damaged (not YAML, not a mapping of mappings of strings).
        """
        raw = read_bytes(self.root, VALUES_FILE)
        if raw is None:
            return None
        try:
            data = parse_answers_text(raw, VALUES_FILE, _VALUES_SHAPE)
        except ConfigError as exc:
            raise RepoError(f"{exc.message}; {_RESTORE}") from None
        values: Values = {}
        for component, entries in data.items():
            entries = {} if entries is None else entries  # its last line deleted: no values
            if not isinstance(entries, dict) or not all(
                isinstance(v, str | int) for v in entries.values()
            ):
                raise RepoError(f"{VALUES_FILE}: {component!s} is damaged; {_RESTORE}")
            values[str(component)] = {str(k): str(v) for k, v in entries.items()}
        return values

    def sealed_files(self) -> dict[str, str]:
        """The tracked SealedSecret files under ``kubernetes/``, by path."""
        base = real_folder(self.root, "kubernetes")
        if base is None:
            return {}
        found: dict[str, str] = {}
        for path in sorted(base.rglob(f"*{SEALED_SUFFIX}")):
            relative = path.relative_to(self.root).as_posix()
            text = read_text(self.root, relative)
            if text is not None:
                found[relative] = text
        return found

    def key_pair(self) -> KeyPair | None:
        """The sealing key pair; None when the key folder holds neither file.

        Raises:
            RepoError: Half a pair, unreadable files, or a certificate of another key.
        """
        texts = [read_bytes(self.root, path) for path in KEY_PATHS]
        if texts == [None, None]:
            return None
        if None in texts:
            present = KEY_PATHS[texts.index(None) ^ 1]
            missing = KEY_PATHS[texts.index(None)]
            raise RepoError(f"{missing} is missing but {present} is there; {_RESTORE}")
        key, certificate = (t or b"" for t in texts)
        try:
            return check_key_pair(KeyPair(key, certificate))
        except RepoError as exc:
            raise RepoError(f"{inside(self.root, KEY_DIR)}: {exc.message}; {_RESTORE}") from None

    def has_key_files(self) -> bool:
        """True when the key folder holds either file of the key pair."""
        return any(inside(self.root, path).exists() for path in KEY_PATHS)

    def values_for_sealing(
        self, existing_sealed: Mapping[str, str], *, regenerate: bool
    ) -> Values | None:
        """The kept values (None when there are none yet), refusing a missing file while
        SealedSecrets depend on it.

        Args:
            existing_sealed: The SealedSecret files now in the repository.
            regenerate: The user asked for every value anew (``secret rotate --all``).

        Raises:
            RepoError: No values file, SealedSecrets exist and nothing asked for new values.
        """
        values = self.read_values()
        if values is not None:
            return values
        if existing_sealed and not regenerate:
            first = next(iter(existing_sealed))
            raise RepoError(f"{VALUES_FILE} is missing but {first} is sealed from it; {_RESTORE}")
        return None

    def refuse_lost_values(
        self,
        plan: Plan,
        known: Mapping[str, Mapping[str, str]],
        fresh: frozenset[str],
        existing_sealed: Mapping[str, str],
    ) -> None:
        """Refuse to generate a value anew that the repository already carries: a generated
        value with no value in ``known`` (a line deleted from ``values.yaml``) whose SealedSecret
        (sealed) or Secret manifest in ``secrets/`` (manual) already holds its key. A value of a
        newly added component, or a key new to a component's Secret, is generated as usual.

        Args:
            plan: The plan.
            known: The values this run starts from (stored, and any the user gives now).
            fresh: ``component.key`` values the user asked to make anew (``secret rotate``).
            existing_sealed: The SealedSecret files now in the repository.

        Raises:
            RepoError: A value is missing but carried; the message names it and how to go on.
        """
        missing = [
            name
            for name, spec in secret_specs(plan).items()
            if isinstance(spec, SecretSpec) and name not in fresh
            and not known.get(spec_component(name), {}).get(spec.key)
        ]
        if not missing or not self._may_carry(plan, missing, existing_sealed):
            return
        holders = secret_holders(plan)
        for name in missing:
            for holder in holders[name]:
                text = (
                    existing_sealed.get(holder.path) if plan.sealed
                    else read_text(self.root, holder.path)
                )
                if text is not None and holder.data_key in carried_data_keys(text):
                    raise RepoError(_lost_value_message(name, holder.path, plan))

    def _may_carry(
        self, plan: Plan, missing: list[str], existing_sealed: Mapping[str, str]
    ) -> bool:
        """Cheap first look: is there any file that could carry a missing value?"""
        if plan.sealed:
            return bool(existing_sealed)
        folders = {spec_component(name) for name in missing}
        return any(real_folder(self.root, f"{SECRETS_DIR}/{f}") is not None for f in folders)

    def sealing(
        self, existing_sealed: Mapping[str, str], *, new_key: KeyPair | None, reseal_all: bool
    ) -> Sealing:
        """What the sealing stage needs: the key pair (None to create one) and current files.

        Raises:
            RepoError: The key is damaged, or missing while SealedSecrets exist.
        """
        if new_key is not None:
            return Sealing(new_key, existing_sealed, reseal_all=True)
        key_pair = self.key_pair()
        if key_pair is None and existing_sealed:
            first = next(iter(existing_sealed))
            raise RepoError(
                f"the sealing key {KEY_DIR}/ is missing but {first} is sealed with it; restore "
                "secrets/ from your backup, or seal everything again with a new key: "
                "scaffold secret rotate --all --new-key"
            )
        return Sealing(key_pair, existing_sealed, reseal_all)

    def is_private(self, relative: str) -> bool:
        """True when a secret file exists and only its owner can read it."""
        try:
            mode = inside(self.root, relative).lstat().st_mode
        except FileNotFoundError:
            return True
        return not mode & 0o077 and stat.S_ISREG(mode)


def spec_component(name: str) -> str:
    """The component of a ``component.key`` secret name."""
    return name.partition(".")[0]


def _lost_value_message(name: str, path: str, plan: Plan) -> str:
    spec = secret_specs(plan)[name]
    force = (
        " --force (it encrypts data the application keeps: the old data stays locked "
        "until you migrate it)" if isinstance(spec, SecretSpec) and spec.encrypts_data else ""
    )
    return (
        f"{VALUES_FILE} has no value for {name}, but {path} already carries it; "
        f"restore {VALUES_FILE} from your backup (nothing was written), or make a new value "
        f"deliberately with `scaffold secret rotate {name}`{force}"
    )


def values_text(values: Mapping[str, Mapping[str, str]]) -> str:
    """The text of ``secrets/values.yaml``."""
    ordered = {k: dict(sorted(v.items())) for k, v in sorted(values.items()) if v}
    return _VALUES_HEADER + dump_yaml(ordered)


def key_files(key_pair: KeyPair) -> dict[str, str]:
    """The key pair as the files of the gitignored key folder: {path: PEM text}."""
    pems = (key_pair.private_key_pem, key_pair.certificate_pem)
    return {path: pem.decode("ascii") for path, pem in zip(KEY_PATHS, pems, strict=True)}
