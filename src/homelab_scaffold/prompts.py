"""Interactive questions: the only module that imports questionary.

Prompting never blocks a script: without a terminal it refuses with a message naming the flags
that answer the questions instead.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from homelab_scaffold.catalog.model import Catalog, Option
from homelab_scaffold.catalog.options import (
    CHECKERS,
    REPO_AUTH_HTTPS,
    REPO_AUTH_NONE,
    REPO_AUTH_SSH,
    REPO_URL_EXAMPLES,
    url_auth,
)
from homelab_scaffold.errors import UsageError
from homelab_scaffold.generate.answers import (
    DEFAULTS,
    MANUAL_SECRETS,
    SEALED_SECRETS,
    SECRETS_MODES,
)
from homelab_scaffold.generate.plan import ALWAYS_SELECTED, resolve_selection

_SECRETS_MODE_HELP = {
    SEALED_SECRETS: "sealed-secrets: SealedSecrets in Git, decrypted by a controller (recommended)",
    MANUAL_SECRETS: "manual: Secret manifests in the gitignored secrets/ folder, applied by hand",
}


@dataclass(frozen=True)
class GivenAuth:
    """The ``repo_auth`` a credential given before the questions settles, and its source
    (``--repo-ssh-key-file``, ``SCAFFOLD_REPO_TOKEN``)."""

    repo_auth: str
    source: str


def terminal_available() -> bool:
    """True when stdin and stdout are terminals (questions can be asked)."""
    return sys.stdin.isatty() and sys.stdout.isatty()


def require_terminal() -> None:
    """Refuse to prompt when stdin or stdout is not a terminal."""
    if not terminal_available():
        raise UsageError(
            "no terminal to ask questions on; pass --no-input (defaults) or --config FILE"
        )


def confirm(message: str) -> bool:
    """Ask a yes/no question (default no) on the terminal.

    Raises:
        UsageError: No terminal to ask on.
    """
    import questionary

    require_terminal()
    answer: bool = questionary.confirm(message, default=False).unsafe_ask()
    return answer


def ask_secret(message: str, *, confirm: bool = False) -> str:
    """Ask for a secret value with hidden input; ``confirm`` asks twice (a chosen password).

    Raises:
        UsageError: No terminal, or the two answers differ.
    """
    import questionary

    require_terminal()

    def filled(text: str) -> bool | str:
        return True if text.strip() else "enter a value"

    answer: str = questionary.password(message, validate=filled).unsafe_ask()
    if confirm:
        again: str = questionary.password("Once more, to confirm").unsafe_ask()
        if again != answer:
            raise UsageError("the two values differ; nothing was changed")
    return answer.strip()


def ask_path(message: str, problem: Callable[[str], str | None]) -> str:
    """Ask for a file path (shown: a path is no secret); ``problem`` says what is wrong with
    an answer (None: fine), and the question is asked until it is fine.

    Raises:
        UsageError: No terminal.
    """
    import questionary

    require_terminal()

    def validate(text: str) -> bool | str:
        return problem(text.strip()) or True if text.strip() else "enter a path"

    answer: str = questionary.path(message, validate=validate).unsafe_ask()
    return answer.strip()


def _validator(check: Callable[[Any], Any]) -> Callable[[str], bool | str]:
    def validate(text: str) -> bool | str:
        try:
            check(text)
        except ValueError as exc:
            return str(exc)
        return True

    return validate


def _ask_text(message: str, default: str, check: Callable[[Any], Any]) -> str:
    import questionary

    answer: str = questionary.text(
        message, default=default, validate=_validator(check)
    ).unsafe_ask()
    return answer.strip()


def _ask_option(component: str, option: Option) -> Any:
    import questionary

    label = f"{component}: {option.help or option.name}"
    if option.type == "choice":
        return questionary.select(
            label, choices=list(option.choices), default=option.default
        ).unsafe_ask()
    if option.type == "bool":
        return questionary.confirm(label, default=bool(option.default)).unsafe_ask()
    default = option.default
    text = (
        ", ".join(default) if isinstance(default, list) else "" if default is None else str(default)
    )
    return option.check(_ask_text(label, text, option.check))


def _component_choices(catalog: Catalog, sealing: bool) -> list[Any]:
    """The components checkbox: one titled section per catalog group, so the list stays
    readable as the catalog grows."""
    import questionary

    choices: list[Any] = []
    for group, members in catalog.by_group():
        shown = [c for c in members if c.name not in ALWAYS_SELECTED and not c.generic]
        if not shown:
            continue
        choices.append(questionary.Separator(f"-- {group} --"))
        choices.extend(
            questionary.Choice(
                f"{c.name}: {c.description}",
                value=c.name,
                # The controller is only useful when sealing (it is added anyway when needed).
                checked=c.in_default_stack and (sealing or c.name != SEALED_SECRETS),
            )
            for c in shown
        )
    return choices


def _ask_repo_auth(repo_url: str, given: GivenAuth | None) -> dict[str, Any]:
    """How Argo CD reads the repository: public, or the credentials its URL allows. A
    credential the user already gave settles it, so only a token's user name is asked then."""
    import questionary

    usable = url_auth(repo_url) if repo_url else REPO_AUTH_NONE
    if given is not None:
        auth = given.repo_auth
    elif usable == REPO_AUTH_NONE:
        return {}
    else:
        how = {
            REPO_AUTH_SSH: "private: Argo CD reads it with an SSH deploy key (asked for next)",
            REPO_AUTH_HTTPS: "private: Argo CD reads it with an access token (asked for next)",
        }
        auth = questionary.select(
            "Is the repository private?",
            choices=[
                questionary.Choice("public: Argo CD reads it without credentials", REPO_AUTH_NONE),
                questionary.Choice(how[usable], usable),
            ],
            default=REPO_AUTH_NONE,
        ).unsafe_ask()
    if auth != REPO_AUTH_HTTPS:
        return {"repo_auth": auth}
    username = _ask_text(
        "User name sent with the token (any name for GitHub and GitLab tokens)",
        DEFAULTS["repo_username"],
        CHECKERS["string"],
    )
    return {"repo_auth": auth, "repo_username": username}


def _repo_url_check(given: GivenAuth | None) -> Callable[[Any], Any]:
    """The URL question's check: with a credential given, the URL must be able to carry it."""
    if given is None:
        return CHECKERS["url"]

    def check(text: Any) -> Any:
        url = CHECKERS["url"](text)
        if url_auth(url) != given.repo_auth:
            example = REPO_URL_EXAMPLES[given.repo_auth]
            raise ValueError(f"{given.source} needs an {given.repo_auth} URL such as {example}")
        return url

    return check


def ask_answers(
    catalog: Catalog, repo_url_default: str | None, given: GivenAuth | None = None
) -> dict[str, Any]:
    """Ask for the global settings, the components and their prompted options; ``given``: the
    repository credential a file option or the environment already gave (nothing asks whether
    the repository is private then)."""
    import questionary

    require_terminal()
    answers: dict[str, Any] = {
        "domain": _ask_text("Base domain of the lab", DEFAULTS["domain"], CHECKERS["domain"]),
        "email": _ask_text(
            "Admin e-mail (certificates, Authelia)", DEFAULTS["email"], CHECKERS["email"]
        ),
        "repo_url": _ask_text(
            "Git URL Argo CD will pull this repository from",
            repo_url_default or "",
            _repo_url_check(given),
        ),
    }
    answers.update(_ask_repo_auth(answers["repo_url"], given))
    answers |= {
        "target_revision": _ask_text("Branch", DEFAULTS["target_revision"], CHECKERS["revision"]),
        "secrets": questionary.select(
            "How do Secrets reach the cluster?",
            choices=[questionary.Choice(_SECRETS_MODE_HELP[m], value=m) for m in SECRETS_MODES],
            default=SEALED_SECRETS,
        ).unsafe_ask(),
    }
    sealing = answers["secrets"] == SEALED_SECRETS
    picked: list[str] = questionary.checkbox(
        "Components", choices=_component_choices(catalog, sealing)
    ).unsafe_ask()
    # Ask the options of what the picked components pull in too (MetalLB's pool for Traefik);
    # a dependency without questions stays out, so init still says why it was added.
    components: dict[str, dict[str, Any]] = {}
    for name in resolve_selection(catalog, picked):
        asked = [o for o in catalog.get(name).options.values() if o.prompt]
        if name in picked or name in ALWAYS_SELECTED or asked:
            components[name] = {option.name: _ask_option(name, option) for option in asked}
    answers["components"] = components
    return answers
