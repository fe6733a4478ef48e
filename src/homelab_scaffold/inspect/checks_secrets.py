"""Secrets stay out of git: no Secret with values, no key, password hash or token in any file.

Every file scanned here is tracked (or would be, being untracked and not ignored); the
gitignored ``secrets/`` folder of a scaffold repo is never listed, so its files pass. Messages
name what was found and the line, never the secret itself.
"""

from __future__ import annotations

import re

from homelab_scaffold.inspect.apps import Inventory
from homelab_scaffold.inspect.model import Problem

CHECK = "secrets"

# (what it looks like, pattern); kept specific so that ordinary text does not match.
PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("a private key", re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----")),
    ("an argon2 password hash",
     re.compile(r"\$argon2(?:id|i|d)\$v=\d+\$m=\d+,t=\d+,p=\d+\$[A-Za-z0-9+/]{8,}\$[A-Za-z0-9+/]{16,}")),
    ("a bcrypt password hash", re.compile(r"\$2[abxy]?\$\d{2}\$[./A-Za-z0-9]{53}")),
    ("a SHA-crypt password hash",
     re.compile(r"\$(?:5|6)\$(?:rounds=\d+\$)?[./A-Za-z0-9]{1,16}\$[./A-Za-z0-9]{43,86}")),
    ("a GitHub token",
     re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{60,})\b")),
    ("a GitLab token", re.compile(r"\bglpat-[A-Za-z0-9_-]{20,}")),
    ("an AWS access key", re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b")),
    ("a Slack token", re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}")),
    ("an age secret key", re.compile(r"\bAGE-SECRET-KEY-1[0-9A-Z]{58}\b")),
    ("a JSON web token",
     re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,}")),
)


SECRETS_DIR = "secrets/"
EXPOSED_SECRETS = (
    "git does not ignore the secrets/ folder ({example}): scaffold keeps secret values and the "
    "sealing key there, so they could be committed. Add /secrets/ to .gitignore (`scaffold "
    "regenerate` adds the rule back); if any was committed, `git rm -r --cached secrets`, "
    "rotate the secrets (`scaffold secret rotate --all --new-key`) and rewrite that history"
)


def check_secrets(inventory: Inventory) -> list[Problem]:
    """Secrets with values in manifests, and secret-looking text in any file; a secrets/
    folder git does not ignore is one problem (not one per value it holds)."""
    return [*_exposed_folder(inventory), *_secret_objects(inventory), *_secret_text(inventory)]


def _exposed_folder(inventory: Inventory) -> list[Problem]:
    """Files in secrets/ are listed only when git tracks them or would not ignore them."""
    listed = sorted(f.path for f in inventory.repo.files if f.path.startswith(SECRETS_DIR))
    if not listed:
        return []
    return [Problem(SECRETS_DIR, CHECK, EXPOSED_SECRETS.format(example=listed[0]))]


def _secret_objects(inventory: Inventory) -> list[Problem]:
    problems = []
    for doc in inventory.manifests:
        if not doc.is_kind("", "Secret") or not isinstance(doc.body, dict):
            continue
        if doc.file.startswith(SECRETS_DIR):
            continue  # reported once, as the folder
        filled = [key for key in ("data", "stringData") if doc.body.get(key)]
        if filled:
            problems.append(doc.problem(CHECK, (
                f"Secret '{doc.name}' has values in {' and '.join(filled)} in a tracked file; "
                "keep it out of git (scaffold puts Secrets in the gitignored secrets/ folder) "
                "or commit a SealedSecret instead"
            )))
    return problems


def _secret_text(inventory: Inventory) -> list[Problem]:
    problems = []
    for source in inventory.repo.files:
        if source.text is None or source.path.startswith(SECRETS_DIR):
            continue
        for line_number, line in enumerate(source.text.splitlines(), start=1):
            for what, pattern in PATTERNS:
                if pattern.search(line):
                    problems.append(Problem(
                        source.path, CHECK,
                        f"looks like {what}; keep secrets out of git "
                        "(use the gitignored secrets/ folder or a SealedSecret)",
                        line=line_number,
                    ))
    return problems
