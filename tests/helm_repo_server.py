"""A real HTTP server on 127.0.0.1 for tests: serves a folder (a Helm repository, a schema catalog).

Nothing is mocked: scaffold's urllib code talks to ``http.server`` over a socket on a random port.
"""

from __future__ import annotations

import functools
import socket
import textwrap
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


class _QuietHandler(SimpleHTTPRequestHandler):
    """Serves files without logging every request to stderr."""

    def log_message(self, format: str, *args: Any) -> None:
        return


@contextmanager
def serve_directory(root: Path) -> Iterator[str]:
    """Serve ``root`` over HTTP in a thread; yields the base URL (no trailing slash)."""
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
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


def helm_index(charts: Mapping[str, Sequence[str]]) -> str:
    """An index.yaml in the layout ``helm repo index`` writes (keys sorted, lists not indented).

    Each version gets the fields real repositories carry, including a multi-line annotation and a
    dependency with its own ``version`` key, so a parser must tell them from the chart's version.
    """
    lines = ["apiVersion: v1", "entries:"]
    for name in sorted(charts):
        lines.append(f"  {name}:")
        for version in charts[name]:
            lines.append(_entry(name, version))
    lines.append('generated: "2026-11-27T10:00:00.123456789Z"')
    return "\n".join(lines) + "\n"


def _entry(name: str, version: str) -> str:
    return textwrap.indent(
        textwrap.dedent(f"""\
        - annotations:
            artifacthub.io/changes: |
              - kind: changed
                description: Chart {version}
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
          digest: 3b6a2f0c8e1d4b5a6978f0e1d2c3b4a5968778695a4b3c2d1e0f9a8b7c6d5e4f
          home: https://example.com/{name}
          kubeVersion: '>= 1.19.0-0'
          maintainers:
          - email: maintainer@example.com
            name: maintainer
          name: {name}
          type: application
          urls:
          - https://example.com/charts/{name}-{version}.tgz
          version: {version}"""),
        "  ",
    )
