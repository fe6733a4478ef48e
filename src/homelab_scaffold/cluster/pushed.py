"""Is the commit Argo CD will read the one in this work tree?

Argo CD deploys what ``repo_url`` holds at ``target_revision``, never the files on this disk. A
bootstrap from a tree whose ``kubernetes/`` has uncommitted changes, or whose commit is not pushed,
installs something else than what the user just reviewed: refuse it before touching the cluster.

For a private repository the check reads ``repo_url`` with the user's own git credentials (SSH
agent, credential helper), never with Argo CD's deploy key or token from ``secrets/``: those may
grant less (a read-only deploy key) or belong to another machine. When the user cannot read the
URL from here, the last fetched state of a remote with that URL is the evidence.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from homelab_scaffold.catalog.options import REPO_AUTH_SSH, url_auth
from homelab_scaffold.cluster.tools import Command, Outcome, run
from homelab_scaffold.errors import RepoError
from homelab_scaffold.inspect.apps import normalize_url
from homelab_scaffold.repo.git import is_work_tree
from homelab_scaffold.wording import some_of

WATCHED_DIR = "kubernetes"
LS_REMOTE_SECONDS = 30.0
# Never wait on a username/password prompt (output is captured, so it would hang unseen).
_NO_PROMPTS = {"GIT_TERMINAL_PROMPT": "0"}
# ssh asks for host keys and passphrases on /dev/tty, which GIT_TERMINAL_PROMPT does not cover.
_BATCH_MODE = "-o BatchMode=yes"
# git's ssh.variant / GIT_SSH_VARIANT values whose program takes no OpenSSH options.
_NOT_OPENSSH = frozenset({"simple", "plink", "putty", "tortoiseplink"})
_OPENSSH_NAMES = frozenset({"ssh", "ssh.exe"})
_COMMIT = re.compile(r"^[0-9a-fA-F]{7,40}\Z")
_SHOWN_PATHS = 3


@dataclass(frozen=True)
class Target:
    """Where Argo CD reads the repository: URL and branch, tag or commit."""

    repo_url: str
    revision: str


def check_pushed(root: Path, target: Target, environ: Mapping[str, str]) -> list[str]:
    """Check that ``target`` holds this work tree's HEAD and ``kubernetes/`` is committed.

    Args:
        root: The repository.
        target: Where Argo CD reads it.
        environ: The environment (a ``GIT_TERMINAL_PROMPT`` of the user's is kept).

    Returns:
        Notes for the user (e.g. that the check used the last fetched state).

    Raises:
        RepoError: Uncommitted changes, no commit yet, or a HEAD the target does not hold.
    """
    if not is_work_tree(root):
        return [
            f"{root} is not a git work tree, so scaffold cannot check that {target.repo_url} "
            f"holds these files at {target.revision}"
        ]
    _refuse_nested(root, target)
    head = _head(root)
    _refuse_uncommitted(root, target)
    listed = _ls_remote(root, target, environ)
    if not listed.ok:
        hint = _ssh_hint(root, listed, target.repo_url)
        return _check_tracking_ref(root, head, target, listed.reason, hint)
    remote = _listed_commit(listed.stdout, target.revision)
    if remote is None and _COMMIT.match(target.revision):
        return _check_commit(head, target)
    _refuse_unpushed(root, head, remote, target)
    return []


def _git(
    root: Path, *args: str, env: Mapping[str, str] | None = None, timeout: float | None = None
) -> Outcome:
    return run(Command(("git", *args)), root, env=env, timeout=timeout)


def _ls_remote(root: Path, target: Target, environ: Mapping[str, str]) -> Outcome:
    """What the remote has for the revision (``^{}`` lines: the commits annotated tags name)."""
    patterns = (target.revision, f"{target.revision}^{{}}")
    env = _prompt_free(root, environ)
    return _git(root, "ls-remote", target.repo_url, *patterns, env=env, timeout=LS_REMOTE_SECONDS)


def _prompt_free(root: Path, environ: Mapping[str, str]) -> dict[str, str]:
    """Variables that make git and ssh fail at once instead of asking (a user's own
    ``GIT_TERMINAL_PROMPT`` is kept, and so is their ssh command, with BatchMode added)."""
    env = {k: v for k, v in _NO_PROMPTS.items() if k not in environ}
    command = batch_ssh_command(environ, _git_config(root, "core.sshCommand"))
    if command is not None:
        env["GIT_SSH_COMMAND"] = command
    return env


def batch_ssh_command(environ: Mapping[str, str], configured: str | None) -> str | None:
    """The ssh command git would run (``GIT_SSH_COMMAND``, else ``core.sshCommand``, else
    ``GIT_SSH``, else ``ssh``: git's own order) with ``-o BatchMode=yes`` appended, so ssh never
    asks for a host key or passphrase. Appended, so an option the user set wins (ssh keeps the
    first value). None when that command is not OpenSSH (it may take no ``-o``): git runs it
    unchanged then."""
    variant = environ.get("GIT_SSH_VARIANT", "").strip().lower()
    command = environ.get("GIT_SSH_COMMAND") or configured
    if command:
        return f"{command} {_BATCH_MODE}" if _is_openssh(_first_word(command), variant) else None
    program = environ.get("GIT_SSH")
    if program:
        # GIT_SSH names a program, not a shell command, so it is quoted for one.
        return f"{shlex.quote(program)} {_BATCH_MODE}" if _is_openssh(program, variant) else None
    return f"ssh {_BATCH_MODE}"


def _first_word(command: str) -> str:
    try:
        words = shlex.split(command)
    except ValueError:
        return ""
    return words[0] if words else ""


def _is_openssh(program: str, variant: str) -> bool:
    if variant and variant != "auto":
        return variant not in _NOT_OPENSSH
    return Path(program).name.lower() in _OPENSSH_NAMES


def _git_config(root: Path, key: str) -> str | None:
    found = _git(root, "config", "--get", key)
    return found.stdout.strip() or None if found.ok else None


def _ssh_hint(root: Path, listed: Outcome, repo_url: str) -> str | None:
    """What to do when ssh, in batch mode, refused instead of asking: accept the host key, or
    load the key into the agent (None: not such a refusal)."""
    text = listed.stderr
    host_key = "Host key verification failed" in text
    if not host_key and "Permission denied" not in text:
        return None
    # The URL git really used: url.<base>.insteadOf may turn an https repo_url into ssh.
    used = _git(root, "ls-remote", "--get-url", repo_url).stdout.strip() or repo_url
    if url_auth(used) != REPO_AUTH_SSH:
        return None
    host = _ssh_host(used)
    if host_key:
        return (
            f"ssh does not know the host key of {host} and cannot ask for it here; accept it "
            f"once with `ssh -T {host}`, then run bootstrap again"
        )
    return (
        f"ssh has no key {host} accepts without asking for a passphrase; add yours to the "
        f"agent with `ssh-add ~/.ssh/YOUR_KEY` (test with `ssh -T {host}`), then run bootstrap "
        "again"
    )


def _ssh_host(url: str) -> str:
    """What ``ssh -T`` takes to reach an SSH URL: ``[user@]host``, with ``-p PORT`` first for
    ``ssh://user@host:PORT/path``."""
    if "://" not in url:
        return url.partition(":")[0]
    netloc = url.partition("://")[2].partition("/")[0]
    host, colon, port = netloc.rpartition(":")
    return f"-p {port} {host}" if colon and port.isdigit() else netloc


def _refuse_nested(root: Path, target: Target) -> None:
    """Applications name paths from the top of the repository Argo CD clones."""
    prefix = _git(root, "rev-parse", "--show-prefix").stdout.strip()
    if prefix:
        raise RepoError(
            f"{root} is the folder {prefix.rstrip('/')} inside its git repository, but Argo CD "
            f"reads {WATCHED_DIR}/ from the top of {target.repo_url}: make this folder a git "
            "repository of its own"
        )


def _head(root: Path) -> str:
    head = _git(root, "rev-parse", "--verify", "-q", "HEAD^{commit}")
    if not head.ok:
        raise RepoError(
            f"{root} has no commit yet; commit {WATCHED_DIR}/ and push it first (Argo CD reads "
            "the repository, not this folder)"
        )
    return head.stdout.strip()


def _refuse_uncommitted(root: Path, target: Target) -> None:
    status = _git(root, "status", "--porcelain=v1", "--untracked-files=all", "--", WATCHED_DIR)
    changed = [line[3:] for line in status.stdout.splitlines() if len(line) > 3]
    if not changed:
        return
    shown = some_of(changed, _SHOWN_PATHS)
    raise RepoError(
        f"uncommitted changes under {WATCHED_DIR}/ ({shown}); Argo CD deploys what "
        f"{target.repo_url} holds at {target.revision}, not these files: commit and push them "
        "first"
    )


def _ref_names(revision: str) -> tuple[str, ...]:
    """The ref names Argo CD may resolve a revision to, peeled tags included."""
    if revision == "HEAD" or revision.startswith("refs/"):
        return (revision,)
    return (f"refs/heads/{revision}", f"refs/tags/{revision}^{{}}", f"refs/tags/{revision}")


def _listed_commit(listing: str, revision: str) -> str | None:
    """The commit ``git ls-remote`` shows for the revision (a peeled tag over the tag object)."""
    found: dict[str, str] = {}
    for line in listing.splitlines():
        sha, _, name = line.partition("\t")
        found[name.strip()] = sha.strip()
    return next((found[name] for name in _ref_names(revision) if name in found), None)


def _check_commit(head: str, target: Target) -> list[str]:
    if head.lower().startswith(target.revision.lower()):
        return [
            f"target_revision {target.revision} is a commit: checked that it is HEAD, "
            f"not that {target.repo_url} has it"
        ]
    raise RepoError(
        f"target_revision {target.revision} is a commit, but HEAD is {head[:12]}; Argo CD "
        f"deploys {target.revision}: check it out, or set target_revision to a branch"
    )


def _refuse_unpushed(root: Path, head: str, remote: str | None, target: Target) -> None:
    push = (
        f"git push {_remote_name(root, target.repo_url) or target.repo_url} HEAD:{target.revision}"
    )
    if remote is None:
        raise RepoError(
            f"{target.repo_url} has no branch or tag {target.revision!r}; push it first: {push}"
        )
    if remote != head:
        raise RepoError(
            f"HEAD ({head[:12]}) is not pushed: {target.repo_url} has {remote[:12]} at "
            f"{target.revision}, which Argo CD would deploy; push first ({push}), or pull if the "
            "remote is ahead"
        )


def _check_tracking_ref(
    root: Path, head: str, target: Target, reason: str, hint: str | None
) -> list[str]:
    """When the URL cannot be read from here, the last fetched state of a remote with that URL
    is the next best evidence; ``hint``: what to do about an ssh that would have asked."""
    name = _remote_name(root, target.repo_url)
    tracked = None
    if name is not None:
        ref = _git(
            root, "rev-parse", "--verify", "-q", f"refs/remotes/{name}/{target.revision}^{{commit}}"
        )
        tracked = ref.stdout.strip() if ref.ok else None
    if tracked is None and _COMMIT.match(target.revision):
        return _check_commit(head, target)
    if tracked is None and hint is not None:
        raise RepoError(f"cannot read {target.repo_url} with git ls-remote: {hint}")
    if tracked is None:
        raise RepoError(
            f"cannot read {target.repo_url} with git ls-remote ({reason}); scaffold checks there "
            "that your commit is pushed, and Argo CD reads it from there: check the URL and "
            "your access (this check uses your own git credentials, e.g. your SSH agent or "
            "credential helper, not Argo CD's; or `git fetch` a remote with that URL first)"
        )
    _refuse_unpushed(root, head, tracked, target)
    return [
        f"could not read {target.repo_url} ({hint or reason}); checked {name}/{target.revision} "
        "as last fetched instead"
    ]


def _remote_name(root: Path, repo_url: str) -> str | None:
    """The local name (e.g. origin) of the remote with this URL, if there is one."""
    listed = _git(root, "config", "--get-regexp", r"^remote\..*\.url$")
    wanted = normalize_url(repo_url)
    for line in sorted(listed.stdout.splitlines()):
        key, _, url = line.partition(" ")
        if normalize_url(url) == wanted:
            return key.removeprefix("remote.").removesuffix(".url")
    return None
