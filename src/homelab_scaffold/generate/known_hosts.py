"""SSH host keys of the repository's Git server, for Argo CD (``repo_known_hosts``).

Argo CD checks the host key of every SSH repository against ``argocd-ssh-known-hosts-cm``. The
argo-cd chart fills it with the keys of a few public hosts (``configs.ssh.knownHosts``); any
other server (a self-hosted Gitea, ...) fails with "knownhosts: key is unknown" until its keys
are added (``configs.ssh.extraHosts``). Host keys are public: they are answers in scaffold.yaml,
checked here to be known_hosts lines for the repository's host.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

# The hosts whose keys the argo-cd chart ships in configs.ssh.knownHosts (chart 10.1.1; a test
# compares this with the chart's default values).
ARGOCD_KNOWN_HOSTS = frozenset(
    {
        "bitbucket.org",
        "github.com",
        "gitlab.com",
        "[ssh.github.com]:443",
        "ssh.dev.azure.com",
        "vs-ssh.visualstudio.com",
    }
)
KEY_TYPES = frozenset(
    {
        "ssh-ed25519",
        "ssh-rsa",
        "ecdsa-sha2-nistp256",
        "ecdsa-sha2-nistp384",
        "ecdsa-sha2-nistp521",
        "sk-ssh-ed25519@openssh.com",
        "sk-ecdsa-sha2-nistp256@openssh.com",
    }
)
DEFAULT_PORT = 22
_SCP_LIKE = re.compile(r"^(?:[^@/]+@)?(?P<host>[^:/\[\]]+):")
_SSH_URL = re.compile(r"^ssh://(?:[^@/]+@)?(?P<host>\[[^\]]+\]|[^:/]+)(?::(?P<port>\d+))?/")


@dataclass(frozen=True)
class SshEndpoint:
    """The host and port of an SSH repository URL."""

    host: str
    port: int = DEFAULT_PORT

    @property
    def pattern(self) -> str:
        """How a known_hosts line names it: ``host``, or ``[host]:port`` off port 22."""
        return self.host if self.port == DEFAULT_PORT else f"[{self.host}]:{self.port}"

    @property
    def keyscan(self) -> str:
        """The command that prints its host keys as known_hosts lines."""
        return f"ssh-keyscan -p {self.port} {self.host} > known_hosts"


def ssh_endpoint(url: str) -> SshEndpoint | None:
    """The SSH server of ``url`` (``git@host:path`` or ``ssh://[user@]host[:port]/path``)."""
    found = _SSH_URL.match(url)
    if found:
        port = int(found.group("port") or DEFAULT_PORT)
        return SshEndpoint(found.group("host").strip("[]").lower(), port)
    found = _SCP_LIKE.match(url) if not url.startswith(("https://", "http://")) else None
    return SshEndpoint(found.group("host").lower()) if found else None


def known_to_argocd(endpoint: SshEndpoint) -> bool:
    """True when the argo-cd chart ships the host keys of ``endpoint``."""
    return endpoint.pattern in ARGOCD_KNOWN_HOSTS


def known_hosts_lines(text: str) -> tuple[str, ...]:
    """The entries of a known_hosts file (blank lines and ``#`` comments dropped)."""
    stripped = (line.strip() for line in text.splitlines())
    return tuple(line for line in stripped if line and not line.startswith("#"))


def check_known_hosts(lines: object, endpoint: SshEndpoint) -> tuple[str, ...]:
    """Each line is a known_hosts entry naming ``endpoint``, with a public key of its type.

    Raises:
        ValueError: Naming the first line that is not, and what a valid one looks like.
    """
    if not isinstance(lines, list | tuple) or not lines:
        raise ValueError(f"expected a list of known_hosts lines for {endpoint.pattern}")
    checked = []
    for number, line in enumerate(lines, 1):
        problem = _line_problem(line, endpoint)
        if problem:
            shown = line if isinstance(line, str) and len(line) <= 60 else f"{str(line)[:57]}..."
            raise ValueError(
                f"line {number} ({shown!r}) {problem}; expected lines such as "
                f"'{endpoint.pattern} ssh-ed25519 AAAA...' ({endpoint.keyscan} prints them)"
            )
        checked.append(" ".join(str(line).split()))
    return tuple(checked)


def _line_problem(line: object, endpoint: SshEndpoint) -> str:
    if not isinstance(line, str) or not line.strip() or not line.isprintable():
        return "is not one line of text"
    fields = line.split()
    if fields[0].startswith("@"):
        return f"has the marker {fields[0]}, which Argo CD does not take"
    if fields[0].startswith("|1|"):
        return "names a hashed host (ssh-keyscan -H); give the host in plain text"
    if len(fields) < 3:
        return "is not 'HOST KEYTYPE BASE64-KEY'"
    hosts = [host.lower() for host in fields[0].split(",")]
    if endpoint.pattern not in hosts:
        return f"is not for {endpoint.pattern} (it names {fields[0]})"
    return _key_problem(fields[1], fields[2])


def _key_problem(key_type: str, key: str) -> str:
    if key_type not in KEY_TYPES:
        return f"has the key type {key_type!r}, not one of: {', '.join(sorted(KEY_TYPES))}"
    try:
        blob = base64.b64decode(key, validate=True)
    except (binascii.Error, ValueError):
        return "has a key that is not base64"
    size = int.from_bytes(blob[:4], "big")
    if blob[4 : 4 + size] != key_type.encode():
        return f"has a key that is not a {key_type} key"
    return ""


def unknown_endpoint(url: str, given: tuple[str, ...], placeholder: bool) -> SshEndpoint | None:
    """The SSH server of ``url`` when Argo CD has no host keys for it: not one the chart
    ships, and none given (``repo_known_hosts``); None otherwise."""
    endpoint = None if placeholder or given else ssh_endpoint(url)
    return endpoint if endpoint is not None and not known_to_argocd(endpoint) else None


def unknown_host_warning(endpoint: SshEndpoint) -> str:
    """What to do when Argo CD cannot know ``endpoint``'s host keys."""
    return (
        f"Argo CD has no SSH host keys for {endpoint.pattern} and would refuse the repository "
        f"(knownhosts: key is unknown): run `{endpoint.keyscan}`, check the fingerprints "
        "(`ssh-keygen -lf known_hosts`) against the server's, then list its lines (quoted) "
        "under repo_known_hosts in scaffold.yaml and run `scaffold regenerate` (or pass "
        "--repo-known-hosts-file known_hosts to `scaffold init`)"
    )
