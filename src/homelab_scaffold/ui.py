"""All terminal output goes through here: action lines, diffs, warnings, notices, progress.

Colour is for terminals only: click strips it from anything that is not one (a pipe, a file, a
CI log), and ``NO_COLOR`` (any non-empty value, https://no-color.org) strips it everywhere, so
every line is printed through :func:`_echo`, which asks :func:`colour` once per line.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from typing import Any

import click

_ACTION_COLOURS = {
    "create": "green",
    "update": "yellow",
    "merge": "cyan",
    "conflict": "red",
    "delete": "red",
    "keep": "magenta",
    "skip": "blue",
    "unchanged": "white",
}
# Unified diff lines by their first characters, as git colours them (file headers first: they
# also start with + and -).
_DIFF_STYLES: tuple[tuple[str, dict[str, Any]], ...] = (
    ("+++ ", {"bold": True}),
    ("--- ", {"bold": True}),
    ("@@", {"fg": "cyan"}),
    ("+", {"fg": "green"}),
    ("-", {"fg": "red"}),
)
_SPINNER = "|/-\\"
_SPIN_SECONDS = 0.1
# A step that ends sooner shows nothing at all (no flicker on fast runs).
_QUIET_SECONDS = 0.3


def colour() -> bool | None:
    """False when ``NO_COLOR`` is set (non-empty); None lets click colour terminals only."""
    return False if os.environ.get("NO_COLOR") else None


def _echo(text: str, *, err: bool = False) -> None:
    click.echo(text, err=err, color=colour())


def action(verb: str, path: str) -> None:
    """One action line, e.g. ``  create  kubernetes/system/metallb/values.yaml``."""
    label = click.style(f"{verb:>9}", fg=_ACTION_COLOURS.get(verb, "white"), bold=True)
    _echo(f"{label}  {path}")


def raw(text: str) -> None:
    """``text`` on stdout exactly as it is (a PEM file for a pipe): no colour, no newline added."""
    click.echo(text, nl=False, color=False)


def info(message: str) -> None:
    """A plain line on stdout."""
    _echo(message)


def heading(message: str) -> None:
    """A bold line on stdout (a section of a summary)."""
    _echo(click.style(message, bold=True))


def note(message: str) -> None:
    """A side note on stderr (keeps stdout clean for JSON output)."""
    _echo(message, err=True)


def warn(message: str) -> None:
    """A warning on stderr."""
    _echo(click.style("Warning: ", fg="yellow", bold=True) + message, err=True)


def warn_all(messages: Iterable[str]) -> None:
    """Every warning, one line each."""
    for message in messages:
        warn(message)


def error(message: str) -> None:
    """An ``Error: ...`` line on stderr (what click prints for a ScaffoldError)."""
    _echo(f"Error: {message}", err=True)


def diff(text: str) -> None:
    """A unified diff: added lines green, removed red, hunk headers cyan (on a terminal)."""
    _echo("\n".join(_diff_line(line) for line in text.split("\n")))


def _diff_line(line: str) -> str:
    for prefix, style in _DIFF_STYLES:
        if line.startswith(prefix):
            return click.style(line, **style)
    return line


def json_document(data: Any) -> None:
    """One JSON document on stdout (the only thing a ``--output json`` run prints there)."""
    _echo(json.dumps(data, indent=2, ensure_ascii=False))


def secret_notice(what: str, value: str, stored_in: str, *, err: bool = False) -> None:
    """A generated secret: shown once, on a terminal only; elsewhere (a log, a pipe) only where
    it is stored, so it never lands in a CI log. ``err`` shows it on stderr (JSON output)."""
    stream = sys.stderr if err else sys.stdout
    if stream.isatty():
        shown = click.style(f"{what}: ", bold=True) + value
        _echo(f"{shown}  (shown once; stored in {stored_in})", err=err)
    else:
        _echo(f"{what}: generated and stored in {stored_in} (not printed: not a terminal)", err=err)


class Progress:
    """A spinner with a message on stderr while a slow step runs; silent unless stderr is a
    terminal (a script's log gets no carriage returns)."""

    def __init__(self, message: str) -> None:
        self.message = message
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._started = 0.0
        self._drawn = False

    def __enter__(self) -> Progress:
        if sys.stderr.isatty():
            self._start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._halt()

    def _start(self) -> None:
        self._stop.clear()
        self._started = self._started or time.monotonic()
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._thread.start()

    def _halt(self) -> None:
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join()
        self._thread = None
        if self._drawn:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()
            self._drawn = False

    def update(self, message: str) -> None:
        """Show ``message`` from the next frame on (what a long wait is waiting for now)."""
        self.message = message

    def _spin(self) -> None:
        frame = 0
        if self._stop.wait(_QUIET_SECONDS):
            return
        self._drawn = True
        while not self._stop.is_set():
            spent = elapsed(time.monotonic() - self._started)
            # Erase the rest of the line: a new message may be shorter than the last one.
            sys.stderr.write(f"\r{_SPINNER[frame % len(_SPINNER)]} {self.message} ({spent})\x1b[K")
            sys.stderr.flush()
            frame += 1
            self._stop.wait(_SPIN_SECONDS)

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """No spinner while the user is asked something on the same terminal."""
        running = self._thread is not None
        self._halt()
        try:
            yield
        finally:
            if running:
                self._start()


def elapsed(seconds: float) -> str:
    """``45s``, ``1m20s``, ``1h02m``: a wait's length as a spinner shows it."""
    whole = int(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"


def progress(message: str) -> Progress:
    """``with ui.progress("Generating the sealing key"):`` a slow step, shown on a terminal."""
    return Progress(message)
