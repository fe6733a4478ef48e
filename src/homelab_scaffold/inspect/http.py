"""The one way scaffold reads a URL: one deadline for the whole request, a size cap, redirects
followed within limits, and every failure as one NetworkError line.

urllib's ``timeout`` bounds each socket operation, not the request: a server that sends a byte
every few seconds keeps a plain ``urlopen(...).read()`` busy for as long as it likes, and the
host name lookup (``getaddrinfo``) has no timeout at all. Here the lookup (in a daemon thread,
waited for only until the deadline), every connect, send and receive is given only the time
left until the request's deadline (through the connection classes below, which wrap the socket
urllib's handlers open), so the whole request, redirects included, ends by then. The socket
connects to the address looked up, while the connection keeps the host name: the Host header,
TLS's server name and the certificate check are all for the name, as without the lookup.
urllib still does the rest: proxies from the environment, TLS, chunked bodies.
"""

from __future__ import annotations

import functools
import http.client
import io
import ipaddress
import socket
import ssl
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from homelab_scaffold import __version__
from homelab_scaffold.errors import NetworkError

MAX_BYTES = 64 * 1024 * 1024
MAX_REDIRECTS = 10
_CHUNK = 64 * 1024


def fetch(url: str, timeout: float, *, max_bytes: int = MAX_BYTES) -> bytes | None:
    """The body at ``url``; None for HTTP 404/410.

    Args:
        url: An http:// or https:// URL.
        timeout: Seconds for the whole request (connect, redirects and body together).
        max_bytes: The largest body accepted.

    Raises:
        NetworkError: The URL cannot be read in time, is too large, or redirects badly.
    """
    if not url.startswith(("http://", "https://")):
        raise NetworkError(f"cannot fetch {url}: only http:// and https:// URLs are supported")
    deadline = _Deadline(time.monotonic() + timeout, timeout)
    request = urllib.request.Request(url, headers={"User-Agent": f"scaffold/{__version__}"})
    try:
        with _opener(deadline).open(request, timeout=timeout) as response:
            return _read_capped(response, max_bytes)
    except _RedirectRefused as exc:
        raise NetworkError(f"cannot fetch {url}: {exc.reason}") from exc
    except urllib.error.HTTPError as exc:
        if exc.code in (404, 410):
            return None
        raise NetworkError(f"cannot fetch {url}: HTTP {exc.code} {_one_line(exc.reason)}") from exc
    except _TooLarge as exc:
        raise NetworkError(
            f"cannot fetch {url}: larger than {_size(max_bytes)}, the most scaffold reads"
        ) from exc
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
        raise NetworkError(f"cannot reach {url}: {describe_error(exc, timeout)}") from exc


def describe_error(exc: BaseException, timeout: float | None = None) -> str:
    """A short reason for a failed request (the URLError's cause when there is one)."""
    reason = getattr(exc, "reason", None)
    if isinstance(reason, BaseException):
        return describe_error(reason, timeout)
    if isinstance(exc, _LookupTimeout):
        within = f" within {timeout:g} s" if timeout is not None else ""
        return f"the host name lookup of {exc.host} did not finish{within}"
    if isinstance(exc, TimeoutError) or "timed out" in str(reason or exc):
        return f"timed out after {timeout:g} s" if timeout is not None else "timed out"
    if isinstance(exc, http.client.IncompleteRead):
        return "the server closed the connection before the end of the response"
    text = str(reason) if reason else str(exc)
    return _one_line(text) or type(exc).__name__


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def _size(count: int) -> str:
    return f"{count / (1024 * 1024):g} MiB"


class _TooLarge(Exception):
    pass


class _RedirectRefused(urllib.error.URLError):
    """A redirect scaffold does not follow; ``reason`` says why in one line."""


def _read_capped(response: Any, max_bytes: int) -> bytes:
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise _TooLarge
    body = bytearray()
    while True:
        chunk = response.read(min(_CHUNK, max_bytes + 1 - len(body)))
        if not chunk:
            return bytes(body)
        body += chunk
        if len(body) > max_bytes:
            raise _TooLarge


class _Deadline:
    """The moment a request must be done by."""

    def __init__(self, at: float, seconds: float) -> None:
        self.at = at
        self.seconds = seconds

    def remaining(self) -> float:
        """Seconds left; raises TimeoutError once there are none."""
        left = self.at - time.monotonic()
        if left <= 0:
            raise TimeoutError("timed out")
        return left


class _LookupTimeout(TimeoutError):
    """The host name lookup did not finish before the request's deadline."""

    def __init__(self, host: str) -> None:
        super().__init__(f"looking up {host} timed out")
        self.host = host


def _resolve(host: str, port: int, deadline: _Deadline) -> list[Any]:
    """``getaddrinfo`` of ``host``, waited for at most until the deadline (a lookup can hang
    far longer than any socket timeout). An address literal needs no lookup.

    Raises:
        _LookupTimeout: The lookup did not finish in time (its daemon thread is left behind).
        OSError: The lookup failed.
    """
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM, 0, socket.AI_NUMERICHOST)
    found: list[Any] = []
    failed: list[BaseException] = []

    def lookup() -> None:
        try:
            found.extend(socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM))
        except BaseException as exc:  # handed to the waiting thread
            failed.append(exc)

    thread = threading.Thread(target=lookup, name=f"scaffold-lookup-{host}", daemon=True)
    thread.start()
    thread.join(deadline.remaining())
    if thread.is_alive():
        raise _LookupTimeout(host)
    if failed:
        raise failed[0]
    return found


def _connect_in_time(
    host: str, port: int, deadline: _Deadline, source_address: Any = None
) -> socket.socket:
    """A socket connected to ``host`` (looked up within the deadline), each address tried in
    turn with the time left, as ``socket.create_connection`` does."""
    error: OSError | None = None
    for family, kind, proto, _name, address in _resolve(host, port, deadline):
        sock = socket.socket(family, kind, proto)
        try:
            sock.settimeout(deadline.remaining())
            if source_address:
                sock.bind(source_address)
            sock.connect(address)
            return sock
        except OSError as exc:
            sock.close()
            if isinstance(exc, TimeoutError):
                raise
            error = exc
    raise error if error is not None else OSError(f"no address found for {host}")


class _DeadlineReader(io.RawIOBase):
    """The response side of a socket: every receive waits at most until the deadline."""

    def __init__(self, raw: Any, sock: Any, deadline: _Deadline) -> None:
        super().__init__()
        self._raw = raw
        self._sock = sock
        self._deadline = deadline

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        self._sock.settimeout(self._deadline.remaining())
        count: int = self._raw.readinto(buffer)
        return count

    def close(self) -> None:
        self._raw.close()
        super().close()


class _DeadlineSocket:
    """A connected socket whose sends and receives are bounded by the request's deadline.

    ``makefile`` goes through the socket's own ``makefile`` so that the socket stays open while
    the response is read, however urllib closes the connection object.
    """

    def __init__(self, sock: Any, deadline: _Deadline) -> None:
        self._sock = sock
        self._deadline = deadline

    def sendall(self, data: Any) -> None:
        self._sock.settimeout(self._deadline.remaining())
        self._sock.sendall(data)

    def makefile(self, *_args: Any, **_kwargs: Any) -> io.BufferedReader:
        raw = self._sock.makefile("rb", buffering=0)
        return io.BufferedReader(_DeadlineReader(raw, self._sock, self._deadline))

    def close(self) -> None:
        self._sock.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class _DeadlineConnection:
    """Mixed into http.client's connection classes: connect within the time left, then bound
    every send and receive on the socket by the request's deadline (for HTTPS once the TLS
    handshake is done; each of its reads waits at most the time left when it started)."""

    def __init__(self, *args: Any, deadline: _Deadline, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.deadline = deadline
        # http.client connects through this attribute with (host, port): the lookup and the
        # connect keep to the deadline, and self.host (Host header, TLS server name and
        # certificate check) stays the name.
        connection: Any = self
        connection._create_connection = self._create_connection_in_time

    def _create_connection_in_time(
        self, address: tuple[str, int], _timeout: Any = None, source_address: Any = None
    ) -> socket.socket:
        host, port = address
        return _connect_in_time(host, port, self.deadline, source_address)

    def connect(self) -> None:
        connection: Any = self
        connection.timeout = self.deadline.remaining()
        super().connect()  # type: ignore[misc]
        connection.sock = _DeadlineSocket(connection.sock, self.deadline)


class _DeadlineHTTPConnection(_DeadlineConnection, http.client.HTTPConnection):
    pass


class _DeadlineHTTPSConnection(_DeadlineConnection, http.client.HTTPSConnection):
    pass


class _HTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, deadline: _Deadline) -> None:
        super().__init__()
        self.deadline = deadline

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        connection = functools.partial(_DeadlineHTTPConnection, deadline=self.deadline)
        return self.do_open(connection, req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, deadline: _Deadline) -> None:
        super().__init__()
        self.deadline = deadline
        self.context = ssl.create_default_context()

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        connection = functools.partial(_DeadlineHTTPSConnection, deadline=self.deadline)
        return self.do_open(connection, req, context=self.context)


class _RedirectHandler(urllib.request.HTTPRedirectHandler):
    """Follows http(s) redirects; a loop, too many hops or a downgrade to http stop it."""

    def http_error_302(
        self, req: urllib.request.Request, fp: Any, code: int, msg: str, headers: Any
    ) -> Any:
        location = headers.get("location") or headers.get("uri") or ""
        target = urllib.parse.urljoin(req.full_url, location)
        if location and urllib.parse.urlsplit(target).scheme not in ("http", "https"):
            raise _RedirectRefused(f"redirected to {target}: only http(s) redirects are followed")
        return super().http_error_302(req, fp, code, msg, headers)

    http_error_301 = http_error_303 = http_error_307 = http_error_308 = http_error_302

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: Any,
        code: int,
        msg: str,
        headers: Any,
        newurl: str,
    ) -> urllib.request.Request | None:
        visited: dict[str, int] = getattr(req, "redirect_dict", {})
        if req.full_url.startswith("https://") and newurl.startswith("http://"):
            raise _RedirectRefused(f"redirected from https to plain http ({newurl}); refused")
        origin: str = getattr(req, "scaffold_origin", req.full_url)
        if newurl in visited or newurl in (req.full_url, origin):
            raise _RedirectRefused(f"redirect loop (back to {newurl})")
        if len(visited) >= MAX_REDIRECTS:
            raise _RedirectRefused(f"more than {MAX_REDIRECTS} redirects")
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None:
            new.scaffold_origin = origin  # type: ignore[attr-defined]
        return new


def _opener(deadline: _Deadline) -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(
        _HTTPHandler(deadline), _HTTPSHandler(deadline), _RedirectHandler()
    )
