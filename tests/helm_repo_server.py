"""A real HTTP server on 127.0.0.1 for tests: serves a folder (a Helm repository, a schema catalog).

Nothing is mocked: scaffold's urllib code talks to ``http.server`` over a socket on a random port.
Besides files, a path can be given a behaviour (``routes``): a redirect, a response that drips
a byte at a time, or a body without a length. ``HelmRepo`` writes a Helm repository folder with
real chart archives (``chart_archive``) and an index listing their URLs and sha256 digests.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import io
import json
import socket
import ssl
import tarfile
import textwrap
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

Route = Callable[[SimpleHTTPRequestHandler], None]


class _QuietHandler(SimpleHTTPRequestHandler):
    """Serves files (or a route's behaviour) without logging every request to stderr."""

    routes: Mapping[str, Route] = {}
    requested: list[str] | None = None

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        if self.requested is not None:
            self.requested.append(self.path)
        route = self.routes.get(self.path)
        if route is None:
            super().do_GET()
            return
        try:
            route(self)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up, as it should


def redirect(location: str, status: int = 302) -> Route:
    """A route answering with a redirect to ``location``."""

    def respond(handler: SimpleHTTPRequestHandler) -> None:
        handler.send_response(status)
        handler.send_header("Location", location)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    return respond


def drip(body: bytes, every: float) -> Route:
    """A route that sends ``body`` one byte every ``every`` seconds (a slow or stuck server)."""

    def respond(handler: SimpleHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        for index in range(len(body)):
            handler.wfile.write(body[index : index + 1])
            handler.wfile.flush()
            time.sleep(every)

    return respond


def unsized(size: int, chunk: int = 1024 * 1024) -> Route:
    """A route that streams ``size`` bytes without a Content-Length (ended by closing)."""

    def respond(handler: SimpleHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.end_headers()
        block = b"x" * chunk
        for start in range(0, size, chunk):
            handler.wfile.write(block[: min(chunk, size - start)])

    return respond


@contextmanager
def serve_directory(
    root: Path,
    routes: Mapping[str, Route] | None = None,
    tls: tuple[Path, Path] | None = None,
    requested: list[str] | None = None,
) -> Iterator[str]:
    """Serve ``root`` over HTTP in a thread; yields the base URL (no trailing slash).

    ``routes`` maps request paths (``/repo/index.yaml``) to behaviours that replace the file;
    ``tls`` (certificate file, key file) serves HTTPS instead; ``requested`` gets the path of
    every request, in order.
    """
    handler_class = type(
        "_Handler", (_QuietHandler,), {"routes": dict(routes or {}), "requested": requested}
    )
    handler = functools.partial(handler_class, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    scheme = "http"
    if tls is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(tls[0]), str(tls[1]))
        server.socket = context.wrap_socket(server.socket, server_side=True)
        scheme = "https"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"{scheme}://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def closed_port_url() -> str:
    """An http URL on 127.0.0.1 where nothing listens (the port was just released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@dataclass(frozen=True)
class EntryDetails:
    """What an index entry says about one published archive."""

    url: str
    digest: str
    changes: str


def helm_index(
    charts: Mapping[str, Sequence[str]],
    details: Mapping[tuple[str, str], EntryDetails] | None = None,
) -> str:
    """An index.yaml in the layout ``helm repo index`` writes (keys sorted, lists not indented).

    Each version gets the fields real repositories carry, including a multi-line annotation and a
    dependency with its own ``version`` key, so a parser must tell them from the chart's version.
    ``details`` gives the archive URL, digest and change notes of versions really published.
    """
    lines = ["apiVersion: v1", "entries:"]
    for name in sorted(charts):
        lines.append(f"  {name}:")
        for version in charts[name]:
            lines.append(_entry(name, version, (details or {}).get((name, version))))
    lines.append('generated: "2026-11-27T10:00:00.123456789Z"')
    return "\n".join(lines) + "\n"


def _entry(name: str, version: str, details: EntryDetails | None) -> str:
    if details is None:
        details = EntryDetails(
            f"{name}-{version}.tgz",  # relative: resolved against the local server
            "3b6a2f0c8e1d4b5a6978f0e1d2c3b4a5968778695a4b3c2d1e0f9a8b7c6d5e4f",
            f"- kind: changed\n  description: Chart {version}",
        )
    changes = textwrap.indent(details.changes, " " * 14).lstrip()
    return textwrap.indent(
        textwrap.dedent(f"""\
        - annotations:
            artifacthub.io/changes: |
              {changes}
            artifacthub.io/license: Apache-2.0
          apiVersion: v2
          appVersion: v{version.lstrip('v')}
          created: "2026-05-27T10:00:00.000000000Z"
          dependencies:
          - condition: crds.enabled
            name: crds
            repository: ""
            version: 99.0.0
          description: The {name} chart, a long description that Helm folds onto a second
            line when it is long enough
          digest: {details.digest}
          home: https://example.com/{name}
          kubeVersion: '>= 1.19.0-0'
          maintainers:
          - email: maintainer@example.com
            name: maintainer
          name: {name}
          type: application
          urls:
          - {details.url}
          version: {version}"""),
        "  ",
    )


# ---------------------------------------------------------------------------------------------
# Real chart archives


def chart_archive(name: str, version: str, **chart: Any) -> bytes:
    """A chart ``.tgz`` as ``helm package`` lays it out (``<name>/Chart.yaml`` ...), byte-stable;
    ``chart`` is ``chart_members``'s keyword arguments.

    ``extra`` adds members by their exact archive name (``../evil`` to test path traversal);
    ``dependencies`` is Chart.yaml's list (bundle them with ``extra``: ``subchart_folder`` or
    a nested ``chart_archive`` as ``<name>/charts/<dep>-<version>.tgz``).
    """
    return _tgz(chart_members(name, version, **chart))


def subchart_folder(parent: str, name: str, version: str, **chart: Any) -> dict[str, bytes]:
    """The members of a subchart bundled as a folder: ``<parent>/charts/<name>/...``."""
    return chart_members(name, version, folder=f"{parent}/charts/{name}", **chart)


def chart_members(
    name: str,
    version: str,
    *,
    values: Mapping[str, Any] | str = "",
    schema: Mapping[str, Any] | None = None,
    changes: Sequence[Any] = (),
    extra: Mapping[str, bytes] | None = None,
    folder: str | None = None,
    dependencies: Sequence[Mapping[str, Any]] = (),
) -> dict[str, bytes]:
    """Archive name -> bytes of a chart's members (see ``chart_archive``)."""
    top = folder or name
    chart: dict[str, Any] = {"apiVersion": "v2", "name": name, "version": version,
                             "appVersion": version, "type": "application"}
    if changes:
        chart["annotations"] = {"artifacthub.io/changes": yaml.safe_dump(list(changes))}
    if dependencies:
        chart["dependencies"] = [dict(d) for d in dependencies]
    members = {
        f"{top}/Chart.yaml": yaml.safe_dump(chart, sort_keys=False).encode(),
        f"{top}/values.yaml": (values if isinstance(values, str)
                               else yaml.safe_dump(dict(values), sort_keys=False)).encode(),
        f"{top}/templates/NOTES.txt": b"Installed {{ .Chart.Name }}.\n",
    }
    if schema is not None:
        members[f"{top}/values.schema.json"] = json.dumps(schema, indent=2).encode()
    members.update(extra or {})
    return members


def _tgz(members: Mapping[str, bytes]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for member_name, data in members.items():
            info = tarfile.TarInfo(member_name)
            info.size = len(data)
            info.mode = 0o644
            archive.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), mtime=0)


def sha256_hex(data: bytes) -> str:
    """The sha256 digest Helm writes in an index entry."""
    return hashlib.sha256(data).hexdigest()


class HelmRepo:
    """A Helm repository folder: chart versions published as archives, listed in index.yaml."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.versions: dict[str, list[str]] = {}
        self.details: dict[tuple[str, str], EntryDetails] = {}

    def publish(
        self,
        name: str,
        version: str,
        *,
        archive: bytes | None = None,
        digest: str | None = None,
        url: str | None = None,
        **chart: Any,
    ) -> bytes:
        """Write ``<name>-<version>.tgz`` (built from ``chart`` unless given) and list it.

        ``digest`` and ``url`` override what the index says (a wrong digest, an absolute URL).
        """
        data = archive if archive is not None else chart_archive(name, version, **chart)
        file_name = f"{name}-{version}.tgz"
        (self.root / file_name).write_bytes(data)
        changes = yaml.safe_dump(list(chart.get("changes") or ["no notes"])).rstrip("\n")
        self.details[(name, version)] = EntryDetails(
            url or file_name, digest or sha256_hex(data), changes
        )
        self.versions.setdefault(name, []).insert(0, version)
        self.write_index()
        return data

    def write_index(self) -> None:
        """(Re)write index.yaml from what was published."""
        (self.root / "index.yaml").write_text(helm_index(self.versions, self.details))


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, written into ``folder`` (certificate, key)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(
            "127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ))
    return cert_file, key_file
