"""Option types of components and of the global answers: checking and coercing values.

Every checker takes the raw value (from YAML, ``--set`` text or a prompt) and returns the
normalised value or raises ``ValueError`` with a plain-language reason naming what is valid.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Sequence
from typing import Any

from homelab_scaffold.catalog.versions import is_version

_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
# \Z, not $: "$" also matches before a final newline, which would let "name\n" through.
_DOMAIN = re.compile(rf"^(?=.{{1,253}}\Z){_LABEL}(?:\.{_LABEL})+\Z")
_HOSTNAME = re.compile(rf"^(?=.{{1,253}}\Z){_LABEL}(?:\.{_LABEL})*\Z")
_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@(?P<domain>[^@]+)\Z")
_K8S_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\Z")
_QUANTITY = re.compile(r"^[0-9]+(?:\.[0-9]+)?(?:Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?\Z")
_URL = re.compile(r"^(?:https?|ssh|git)://[^\s/$.?#]\S*\Z|^git@[^\s:]+:\S+\Z")
_CHART_REPO = re.compile(r"^(?:https?|oci)://[^\s/$.?#]\S*\Z")
# is_version also reads Helm's short "1.2"; a pin must say all three numbers.
_FULL_VERSION = re.compile(r"^v?\d+\.\d+\.\d+(?:[-+]|\Z)")
_PARTIAL_VERSION = re.compile(r"^v?(0|[1-9]\d*)(?:\.(0|[1-9]\d*))?\Z")
_REVISION = re.compile(r"^[A-Za-z0-9._/-]{1,200}\Z")
# What a registry accepts as a tag (the OCI distribution spec's tag grammar).
_IMAGE_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}\Z")
_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


def check_string(value: Any) -> str:
    """A single-line string of printable characters."""
    if not isinstance(value, str) or not value or not value.isprintable():
        raise ValueError("expected a non-empty single-line string of printable characters")
    return value


def check_domain(value: Any) -> str:
    """A DNS domain with at least two labels, e.g. lab.example.com."""
    if not isinstance(value, str) or not _DOMAIN.match(value):
        raise ValueError(
            "expected a domain name such as lab.example.com (lowercase letters, digits, -)"
        )
    return value


def check_hostname(value: Any) -> str:
    """A DNS name (one or more labels)."""
    if not isinstance(value, str) or not _HOSTNAME.match(value):
        raise ValueError("expected a host name such as vault.lab.example.com")
    return value


def check_email(value: Any) -> str:
    """An e-mail address whose domain part is a domain name."""
    match = _EMAIL.match(value) if isinstance(value, str) else None
    if match is None or not _DOMAIN.match(match.group("domain").lower()):
        raise ValueError("expected an e-mail address such as admin@example.com")
    return value  # type: ignore[no-any-return]


def check_k8s_name(value: Any) -> str:
    """A Kubernetes DNS-1123 label (namespace, application name)."""
    if not isinstance(value, str) or not _K8S_NAME.match(value):
        raise ValueError("expected a lowercase name of letters, digits and '-' (at most 63)")
    return value


def check_quantity(value: Any) -> str:
    """A Kubernetes storage quantity such as 5Gi."""
    if not isinstance(value, str) or not _QUANTITY.match(value):
        raise ValueError("expected a size such as 5Gi or 500Mi")
    return value


def check_url(value: Any) -> str:
    """A Git or Helm repository URL (https://, ssh://, git@host:path) without a password."""
    if not isinstance(value, str) or not _URL.match(value) or not value.isprintable():
        raise ValueError("expected a repository URL such as https://github.com/you/homelab.git")
    if url_credentials(value):
        raise ValueError(
            "the URL holds credentials (user:token@ or token@); they would be written to Git. "
            "Give the URL without them: Argo CD reads repository credentials from a Secret, not "
            "from the URL"
        )
    if url_query(value):
        raise ValueError(
            "an https:// repository URL has no query string or fragment (?token=..., #...); "
            "it would be written to Git. Give the URL without it: Argo CD reads repository "
            "credentials from a Secret, not from the URL"
        )
    return value


# How Argo CD authenticates to ``repo_url`` (``repo_auth`` in scaffold.yaml).
REPO_AUTH_NONE = "none"
REPO_AUTH_SSH = "ssh"
REPO_AUTH_HTTPS = "https"
REPO_AUTHS = (REPO_AUTH_NONE, REPO_AUTH_SSH, REPO_AUTH_HTTPS)
# A repository URL each kind of credentials goes with, for messages.
REPO_URL_EXAMPLES = {
    REPO_AUTH_SSH: "git@github.com:you/homelab.git",
    REPO_AUTH_HTTPS: "https://github.com/you/homelab.git",
}


def check_repo_auth(value: Any) -> str:
    """``none`` (a public repository), ``ssh`` (a deploy key) or ``https`` (a token)."""
    if value not in REPO_AUTHS:
        raise ValueError(f"expected one of: {', '.join(REPO_AUTHS)}")
    return str(value)


def url_auth(url: str) -> str:
    """The ``repo_auth`` a repository URL can use: ``ssh`` for ``git@host:path`` and
    ``ssh://``, ``https`` for ``https://``, ``none`` for anything else (``http://``, ``git://``)."""
    if url.startswith(("ssh://", "git@")):
        return REPO_AUTH_SSH
    return REPO_AUTH_HTTPS if url.startswith("https://") else REPO_AUTH_NONE


# The global answers a provided secret's ``when`` may name as ``config.<key>``.
CONFIG_CONDITIONS: dict[str, Callable[[Any], Any]] = {"repo_auth": check_repo_auth}
CONFIG_PREFIX = "config."


_HTTP_SCHEMES = ("http", "https")


def _authority_userinfo(url: str) -> tuple[str, str]:
    """A ``scheme://`` URL's scheme (lowercase) and the user info of its authority ("" when
    there is none, or no scheme)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return "", ""
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    userinfo, at, _ = authority.rpartition("@")
    return scheme.lower(), userinfo if at else ""


def url_credentials(url: str) -> str:
    """The user info of a URL that is a credential ("" when there is none). Over http(s) any
    user info is one: a token alone as the user name (``https://ghp_xxx@github.com/...``)
    authenticates; over ssh a user name alone (``ssh://git@host``, ``git@host:path``) is the
    login, only ``user:password`` is a credential."""
    scheme, userinfo = _authority_userinfo(url)
    if scheme in _HTTP_SCHEMES or ":" in userinfo:
        return userinfo
    return ""


def url_query(url: str) -> str:
    """An http(s) URL's query string and fragment (``?access_token=...``), "" when none: a
    repository URL has neither, and a token there would be written to Git."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in _HTTP_SCHEMES:
        return ""
    found = [i for i in (rest.find("?"), rest.find("#")) if i >= 0]
    return rest[min(found):] if found else ""


def masked(value: Any) -> Any:
    """``value`` fit for a message: a URL's credentials (user info over http(s), a password over
    ssh) and query string replaced by ``***``."""
    if not isinstance(value, str):
        return value
    userinfo, query = url_credentials(value), url_query(value)
    if userinfo:
        user = f"{userinfo.split(':', 1)[0]}:" if url_auth(value) == REPO_AUTH_SSH else ""
        value = value.replace(userinfo + "@", f"{user}***@", 1)
    if query:
        value = value[: -len(query)] + f"{query[0]}***"
    return value


def without_credentials(url: str) -> str:
    """``url`` without its credentials (see :func:`url_credentials`) and, over http(s), its
    query string and fragment."""
    userinfo, query = url_credentials(url), url_query(url)
    if query:
        url = url[: -len(query)]
    return url.replace(userinfo + "@", "", 1) if userinfo else url


def has_credentials(url: str) -> bool:
    """True when ``url`` holds something :func:`without_credentials` removes."""
    return bool(url_credentials(url) or url_query(url))


def check_relative_path(value: Any) -> str:
    """A relative POSIX path that stays inside the repository (no leading /, no '..')."""
    parts = [p for p in value.split("/") if p not in ("", ".")] if isinstance(value, str) else []
    if (
        not parts
        or not value.isprintable()
        or "\\" in value
        or value.startswith("/")
        or ".." in parts
    ):
        raise ValueError("expected a relative path inside the repository (no leading /, no '..')")
    return str(value)


def check_chart_repo(value: Any) -> str:
    """A Helm repository URL (https://) or an OCI registry (oci://)."""
    if not isinstance(value, str) or not _CHART_REPO.match(value) or not value.isprintable():
        raise ValueError(
            "expected a Helm repository URL such as https://grafana.github.io/helm-charts "
            "or an OCI registry such as oci://ghcr.io/org/charts"
        )
    return value


def check_revision(value: Any) -> str:
    """A Git branch, tag or commit."""
    if not isinstance(value, str) or not _REVISION.match(value) or ".." in value:
        raise ValueError("expected a Git branch, tag or commit such as main")
    return value


def _as_written(value: float) -> str:
    """A YAML float as the user wrote it (ruamel keeps the original width)."""
    import io

    from ruamel.yaml import YAML

    stream = io.StringIO()
    YAML(typ="rt").dump(value, stream)
    return stream.getvalue().split("\n", 1)[0]


def partial_version(text: str) -> tuple[int, ...] | None:
    """``(41,)`` for ``41``, ``(1, 21)`` for ``v1.21``: part of a version; None otherwise."""
    match = _PARTIAL_VERSION.match(text) if isinstance(text, str) else None
    if match is None:
        return None
    return tuple(int(part) for part in match.groups() if part is not None)


def check_version(value: Any) -> str:
    """A full semantic version MAJOR.MINOR.PATCH (pre-release allowed), with or without a
    leading v: a chart pin names exactly one release."""
    if isinstance(value, float):
        written = _as_written(value)
        raise ValueError(
            f"YAML reads {written} as a number, and a pin is a full version: "
            f'expected a version such as "{written}.0" (MAJOR.MINOR.PATCH)'
        )
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not is_version(value) or not _FULL_VERSION.match(value):
        raise ValueError("expected a full version such as 1.2.3 or v1.21.1 (MAJOR.MINOR.PATCH)")
    return value


def check_image_tag(value: Any) -> str:
    """A container image tag, pinned (not ``latest``)."""
    if isinstance(value, float):
        # The number has lost what the user wrote (1.10 reads as 1.1).
        written = _as_written(value)
        raise ValueError(f'YAML reads {written} as the number {value!r}; quote it: "{written}"')
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not _IMAGE_TAG.match(value) or value == "latest":
        raise ValueError(
            "expected an image tag such as 4.39.28 or 1.30.6-alpine (letters, digits, '_', "
            "'.', '-'; not latest)"
        )
    return value


def check_bool(value: Any) -> bool:
    """true/false (also yes/no/on/off/1/0 when given as text)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in _TRUE | _FALSE:
        return value.lower() in _TRUE
    raise ValueError("expected true or false")


def check_int(value: Any) -> int:
    """An integer (also given as text)."""
    if isinstance(value, bool):
        raise ValueError("expected a whole number")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?[0-9]{1,9}", value.strip()):
        return int(value)
    raise ValueError("expected a whole number")


def check_ip(value: Any) -> str:
    """A single IPv4 or IPv6 address."""
    try:
        return str(ipaddress.ip_address(value.strip() if isinstance(value, str) else ""))
    except ValueError:
        raise ValueError("expected an IP address such as 192.168.1.240") from None


def _check_ip_range(item: str) -> str:
    if "/" in item:
        try:
            return str(ipaddress.ip_network(item, strict=True))
        except ValueError:
            raise ValueError(f"{item!r} is not a CIDR such as 192.168.1.240/28") from None
    start_text, sep, end_text = item.partition("-")
    try:
        start = ipaddress.ip_address(start_text.strip())
        end = ipaddress.ip_address(end_text.strip()) if sep else start
    except ValueError:
        raise ValueError(
            f"{item!r} is not an IP range such as 192.168.1.240-192.168.1.250 or a CIDR"
        ) from None
    if start.version != end.version or int(end) < int(start):
        raise ValueError(f"{item!r} is not a range: the end must not come before the start")
    return f"{start}-{end}"


def check_ip_ranges(value: Any) -> list[str]:
    """A list of IP ranges ``a-b`` or CIDRs; a comma-separated string is accepted too."""
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise ValueError("expected IP ranges such as 192.168.1.240-192.168.1.250 or CIDRs")
    return [_check_ip_range(item) for item in value]


def _range_bounds(item: str) -> tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, ...]:
    """First and last address of a checked range ``a-b`` or CIDR."""
    if "/" in item:
        network = ipaddress.ip_network(item)
        return network.network_address, network.broadcast_address
    start, _, end = item.partition("-")
    return ipaddress.ip_address(start), ipaddress.ip_address(end or start)


def first_address(ranges: Sequence[str]) -> str:
    """The address a pool of checked ranges hands out first, as scaffold picks it: the start
    of the first range ``a-b``, or the first host address of a first CIDR (not its network
    address, which some clients refuse to talk to)."""
    item = ranges[0]
    if "/" in item:
        network = ipaddress.ip_network(item)
        return str(next(iter(network.hosts()), network.network_address))
    return str(_range_bounds(item)[0])


def in_ranges(address: str, ranges: Sequence[str]) -> bool:
    """True when ``address`` lies in one of the checked ranges (``a-b`` or CIDR)."""
    ip = ipaddress.ip_address(address)
    for item in ranges:
        start, end = _range_bounds(item)
        if ip.version == start.version and int(start) <= int(ip) <= int(end):
            return True
    return False


def _listed(value: Any) -> Any:
    """``value`` with a comma-separated string (as ``--set`` gives it) split into a list."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


def check_names(value: Any) -> list[str]:
    """A list of component names (a comma-separated string is accepted too)."""
    value = _listed(value)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError("expected a list of component names")
    return [check_k8s_name(v) for v in value]


def check_ips(value: Any) -> list[str]:
    """A list of IP addresses (a comma-separated string is accepted too)."""
    value = _listed(value)
    if not isinstance(value, list):
        raise ValueError("expected a list of IP addresses such as [192.168.1.10]")
    return [check_ip(item) for item in value]


# Prometheus durations: one or more <number><unit>, e.g. 15d or 1w2d.
_DURATION = re.compile(r"(?:[0-9]+(?:ms|s|m|h|d|w|y))+")
# Five cron fields of digits, ranges, steps, lists and *, or a @-macro.
_CRON_FIELD = r"(?:\*|[0-9]+(?:-[0-9]+)?)(?:/[0-9]+)?(?:,(?:\*|[0-9]+(?:-[0-9]+)?)(?:/[0-9]+)?)*"
_CRON = re.compile(rf"{_CRON_FIELD}(?: {_CRON_FIELD}){{4}}|@(?:hourly|daily|weekly|monthly)")


def check_duration(value: Any) -> str:
    """A Prometheus duration such as 15d, 12h or 1w."""
    if not isinstance(value, str) or not _DURATION.fullmatch(value):
        raise ValueError("expected a duration such as 15d, 12h or 1w")
    return value


def check_cron(value: Any) -> str:
    """A five-field cron schedule (minute hour day month weekday) or @daily-style macro."""
    if not isinstance(value, str) or not _CRON.fullmatch(value.strip()):
        raise ValueError('expected a cron schedule such as "0 3 * * *"')
    return value.strip()


CHECKERS: dict[str, Callable[[Any], Any]] = {
    "names": check_names,
    "string": check_string,
    "domain": check_domain,
    "hostname": check_hostname,
    "email": check_email,
    "name": check_k8s_name,
    "quantity": check_quantity,
    "url": check_url,
    "chart_repo": check_chart_repo,
    "revision": check_revision,
    "version": check_version,
    "image_tag": check_image_tag,
    "bool": check_bool,
    "int": check_int,
    "ip_ranges": check_ip_ranges,
    "ip": check_ip,
    "ips": check_ips,
    "duration": check_duration,
    "cron": check_cron,
    "choice": check_string,
}
