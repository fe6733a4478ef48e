"""The answers: scaffold.yaml (and --config files), --set overrides and defaults.

scaffold.yaml is the one source every command regenerates from. It is read with ruamel.yaml's
round-trip loader so that later edits (``add``, ``upgrade``) keep the user's comments, order and
quoting; this module turns it into a checked, frozen ``Answers`` value.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from homelab_scaffold.catalog.options import (
    REPO_AUTH_NONE,
    REPO_URL_EXAMPLES,
    check_domain,
    check_email,
    check_relative_path,
    check_repo_auth,
    check_revision,
    check_string,
    check_url,
    masked,
    url_auth,
)
from homelab_scaffold.errors import ConfigError, UsageError
from homelab_scaffold.generate.known_hosts import check_known_hosts, ssh_endpoint
from homelab_scaffold.suggest import unknown

ANSWERS_FILE = "scaffold.yaml"
# How Secrets reach the cluster: sealed into Git (default), or gitignored manifests applied by hand.
SEALED_SECRETS = "sealed-secrets"
MANUAL_SECRETS = "manual"
SECRETS_MODES = (SEALED_SECRETS, MANUAL_SECRETS)
# ``--set secrets.<name>=VALUE`` provides a secret value; it never reaches scaffold.yaml.
SECRET_SET_PREFIX = "secrets."


def check_secrets_mode(value: Any) -> str:
    """``sealed-secrets`` or ``manual``."""
    if value not in SECRETS_MODES:
        raise ValueError(f"expected one of: {', '.join(SECRETS_MODES)}")
    return str(value)


PLACEHOLDER_REPO_URL = "https://git.example.invalid/CHANGE-ME/homelab.git"
DEFAULTS: Mapping[str, Any] = MappingProxyType(
    {
        "target_revision": "main",
        "domain": "lab.example.com",
        "email": "admin@example.com",
        "timezone": "Etc/UTC",
        "secrets": SEALED_SECRETS,
        "repo_auth": REPO_AUTH_NONE,
        # Argo CD's username with a token (repo_auth: https): hosts that ignore it (GitHub,
        # GitLab with a token) take any non-empty name; Bitbucket wants the account name.
        "repo_username": "git",
    }
)
_GLOBAL_CHECKS = {
    "repo_url": check_url,
    "target_revision": check_revision,
    "domain": check_domain,
    "email": check_email,
    "timezone": check_string,
    "secrets": check_secrets_mode,
    "repo_auth": check_repo_auth,
    "repo_username": check_string,
}
# What `--set KEY=VALUE` sets at the top level (the rest goes through components./secrets.).
GLOBAL_SETTINGS = tuple(_GLOBAL_CHECKS)
# Host keys of repo_url's SSH server for Argo CD (known_hosts lines; public, not secrets).
KNOWN_HOSTS_KEY = "repo_known_hosts"
_LIST_KEYS = ("catalog_paths", KNOWN_HOSTS_KEY)
TOP_LEVEL_KEYS = (*_GLOBAL_CHECKS, "components", *_LIST_KEYS)


@dataclass(frozen=True)
class Answers:
    """Checked answers; ``components`` holds what the user set (defaults live in the catalog)."""

    repo_url: str
    target_revision: str
    domain: str
    email: str
    timezone: str
    components: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    catalog_paths: tuple[str, ...] = ()
    repo_url_is_placeholder: bool = False
    secrets: str = SEALED_SECRETS
    repo_auth: str = REPO_AUTH_NONE
    repo_username: str = "git"
    repo_known_hosts: tuple[str, ...] = ()

    @property
    def sealed(self) -> bool:
        """True when Secrets are sealed into Git (``secrets: sealed-secrets``)."""
        return self.secrets == SEALED_SECRETS

    def context(self) -> dict[str, Any]:
        """The global values templates see as ``config``."""
        return {
            "repo_url": self.repo_url,
            "target_revision": self.target_revision,
            "domain": self.domain,
            "email": self.email,
            "timezone": self.timezone,
            "secrets": self.secrets,
            "repo_auth": self.repo_auth,
            "repo_username": self.repo_username,
            "repo_known_hosts": "\n".join(self.repo_known_hosts),
        }


def split_secret_sets(sets: Iterable[str]) -> tuple[tuple[str, ...], dict[str, str]]:
    """Separate ``--set secrets.<name>=VALUE`` (secret values) from the answers' ``--set``s.

    Returns:
        The other ``--set`` items, and secret name (``<name>`` above) -> value.
    """
    others: list[str] = []
    provided: dict[str, str] = {}
    for item in sets:
        key, sep, value = item.partition("=")
        name = key.strip().removeprefix(SECRET_SET_PREFIX)
        if not key.strip().startswith(SECRET_SET_PREFIX) or not sep:
            others.append(item)
        elif not name or not value.strip():
            raise UsageError(f"--set {key.strip()}=...: expected a name and a non-empty value")
        else:
            provided[name] = value.strip()
    return tuple(others), provided


def _set_path(target: dict[str, Any], dotted: str, value: str) -> None:
    parts = dotted.split(".")
    if parts[0] == "components" and len(parts) == 2:
        if value:
            raise UsageError(
                f"--set {dotted}={value}: name the option, e.g. components.{parts[1]}.OPTION=VALUE "
                f"(`--set {dotted}=` with nothing after = selects the component)"
            )
        components = target.setdefault("components", {})
        components.setdefault(parts[1], {})
        return
    if parts[0] == "components" and len(parts) == 3:
        components = target.setdefault("components", {})
        if components.get(parts[1]) is None:
            components[parts[1]] = {}
        components[parts[1]][parts[2]] = value
        return
    if len(parts) != 1 or parts[0] not in _GLOBAL_CHECKS:
        valid = ", ".join([*_GLOBAL_CHECKS, "components.<name>.<option>", "secrets.<name>"])
        message = unknown("setting", dotted, _GLOBAL_CHECKS, valid=valid)
        raise UsageError(f"--set {dotted}=...: {message}")
    target[parts[0]] = value


def _shown(item: str) -> str:
    """A ``--set`` item fit for a message: what follows ``secrets.`` may be a secret value
    typed without its name (``--set secrets.ghp_...``), so it is never shown."""
    if item.strip().startswith(SECRET_SET_PREFIX):
        return repr(f"{SECRET_SET_PREFIX}***")
    return repr(item)


def _example(item: str) -> str:
    if item.strip().startswith(SECRET_SET_PREFIX):
        return "e.g. secrets.NAME=VALUE (`scaffold secret list` names them)"
    return "e.g. domain=lab.example.org"


def apply_sets(data: dict[str, Any], sets: Iterable[str]) -> dict[str, Any]:
    """Apply ``--set key=value`` overrides (dotted keys) onto a plain copy of the answers."""
    result: dict[str, Any] = to_plain(data)
    for item in sets:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--set {_shown(item)}: expected KEY=VALUE, {_example(item)}")
        _set_path(result, key.strip(), value.strip())
    return result


def to_plain(value: Any) -> Any:
    """Round-trip YAML nodes -> plain dicts/lists/scalars."""
    if isinstance(value, dict):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_plain(v) for v in value]
    return value


def _check_global(source: str, key: str, value: Any) -> str:
    try:
        return str(_GLOBAL_CHECKS[key](value))
    except ValueError as exc:
        raise ConfigError(f"{source}: {key}: {masked(value)!r} is not valid: {exc}") from None


def _components(source: str, raw: Any) -> dict[str, dict[str, Any]]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{source}: components: expected a mapping of component name -> options, "
            "e.g. 'metallb: {}'"
        )
    result: dict[str, dict[str, Any]] = {}
    for name, options in raw.items():
        if options is None:
            options = {}
        if not isinstance(options, dict):
            raise ConfigError(
                f"{source}: components.{name}: expected a mapping of options ({{}} for defaults), "
                f"got {options!r}"
            )
        result[str(name)] = dict(options)
    return result


def _catalog_paths(source: str, raw: Any) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(v, str) and v for v in raw):
        raise ConfigError(f"{source}: catalog_paths: expected a list of folder paths")
    for item in raw:
        try:
            check_relative_path(item)
        except ValueError as exc:
            raise ConfigError(f"{source}: catalog_paths: {item!r}: {exc}") from None
    return tuple(raw)


def _check_repo_auth_fits_url(source: str, auth: str, url: str, placeholder: bool) -> None:
    """A deploy key needs an ssh URL, a token an https URL."""
    if auth == REPO_AUTH_NONE or url_auth(url) == auth:
        return
    example = REPO_URL_EXAMPLES[auth]
    shown = "the placeholder repo_url" if placeholder else f"repo_url {url}"
    raise ConfigError(
        f"{source}: repo_auth: {auth} needs an {auth} repo_url such as {example}, but "
        f"{shown} is not one; change repo_url or repo_auth"
    )


def _known_hosts(source: str, raw: Any, url: str) -> tuple[str, ...]:
    """``repo_known_hosts``: known_hosts lines for the SSH server of ``url``."""
    if raw is None or raw == []:
        return ()
    endpoint = ssh_endpoint(url)
    if endpoint is None:
        raise ConfigError(
            f"{source}: {KNOWN_HOSTS_KEY}: host keys are for an SSH repo_url (git@host:path or "
            f"ssh://host/path), but repo_url is {masked(url)}; remove {KNOWN_HOSTS_KEY}"
        )
    try:
        return check_known_hosts(raw, endpoint)
    except ValueError as exc:
        raise ConfigError(f"{source}: {KNOWN_HOSTS_KEY}: {exc}") from None


def parse_answers(data: Mapping[str, Any], source: str) -> Answers:
    """Check the answers mapping; unknown keys and bad values are ConfigErrors."""
    plain = to_plain(data)
    extra = sorted(set(plain) - set(TOP_LEVEL_KEYS))
    if extra:
        message = unknown(
            "key", extra[0], TOP_LEVEL_KEYS, listed_as="valid keys", valid=", ".join(TOP_LEVEL_KEYS)
        )
        raise ConfigError(f"{source}: {message}")
    values = {**DEFAULTS, **{k: v for k, v in plain.items() if k in _GLOBAL_CHECKS}}
    placeholder = values.get("repo_url") in (None, PLACEHOLDER_REPO_URL)
    values.setdefault("repo_url", PLACEHOLDER_REPO_URL)
    if values["repo_url"] is None:
        values["repo_url"] = PLACEHOLDER_REPO_URL
    checked = {key: _check_global(source, key, values[key]) for key in _GLOBAL_CHECKS}
    _check_repo_auth_fits_url(source, checked["repo_auth"], checked["repo_url"], placeholder)
    return Answers(
        components=MappingProxyType(_components(source, plain.get("components"))),
        catalog_paths=_catalog_paths(source, plain.get("catalog_paths")),
        repo_known_hosts=_known_hosts(source, plain.get(KNOWN_HOSTS_KEY), checked["repo_url"]),
        repo_url_is_placeholder=placeholder,
        **checked,
    )
