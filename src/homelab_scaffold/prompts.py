"""Interactive questions: the only module that imports questionary.

Prompting never blocks a script: without a terminal it refuses with a message naming the flags
that answer the questions instead.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from homelab_scaffold.answers import DEFAULTS
from homelab_scaffold.catalog import Catalog, Option
from homelab_scaffold.errors import UsageError
from homelab_scaffold.options import CHECKERS


def require_terminal() -> None:
    """Refuse to prompt when stdin or stdout is not a terminal."""
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise UsageError(
            "no terminal to ask questions on; pass --no-input (defaults) or --config FILE"
        )


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


def ask_answers(catalog: Catalog, repo_url_default: str | None) -> dict[str, Any]:
    """Ask for the global settings, the components and their prompted options."""
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
            CHECKERS["url"],
        ),
        "target_revision": _ask_text("Branch", DEFAULTS["target_revision"], CHECKERS["revision"]),
    }
    choices = [
        questionary.Choice(f"{name}: {c.description}", value=name, checked=c.in_default_stack)
        for name, c in catalog.components.items()
        if name != "argocd"
    ]
    picked: list[str] = questionary.checkbox("Components", choices=choices).unsafe_ask()
    answers["components"] = {
        name: {
            option.name: _ask_option(name, option)
            for option in catalog.get(name).options.values()
            if option.prompt
        }
        for name in ["argocd", *picked]
    }
    return answers
