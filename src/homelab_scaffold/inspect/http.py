"""The one way scaffold reads a URL: urllib with a timeout, a size cap and one error class."""

from __future__ import annotations

import urllib.error
import urllib.request

from homelab_scaffold import __version__
from homelab_scaffold.errors import NetworkError

MAX_BYTES = 64 * 1024 * 1024


def fetch(url: str, timeout: float) -> bytes | None:
    """The body at ``url``; None for HTTP 404/410. Raises NetworkError when it cannot be read."""
    if not url.startswith(("http://", "https://")):
        raise NetworkError(f"cannot fetch {url}: only http:// and https:// URLs are supported")
    request = urllib.request.Request(url, headers={"User-Agent": f"scaffold/{__version__}"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body: bytes = response.read(MAX_BYTES + 1)
    except urllib.error.HTTPError as exc:
        if exc.code in (404, 410):
            return None
        raise NetworkError(f"cannot fetch {url}: HTTP {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, TimeoutError, OSError, ValueError) as exc:
        raise NetworkError(f"cannot reach {url}: {describe_error(exc)}") from exc
    if len(body) > MAX_BYTES:
        raise NetworkError(f"cannot fetch {url}: larger than {MAX_BYTES // (1024 * 1024)} MiB")
    return body


def describe_error(exc: BaseException) -> str:
    """A short reason for a failed request (the URLError's cause when there is one)."""
    reason = getattr(exc, "reason", None)
    if isinstance(reason, BaseException):
        return describe_error(reason)
    if isinstance(exc, TimeoutError) or "timed out" in str(reason or exc):
        return "timed out"
    text = str(reason) if reason else str(exc)
    return text or type(exc).__name__
