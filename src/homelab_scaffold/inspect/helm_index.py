"""A Helm repository's ``index.yaml``: the versions of a chart and each version's entry.

Helm writes the index in one regular layout (chart names at two spaces under ``entries:``, each
version a list item whose keys sit at four), so the lines of one chart are picked out directly:
a full YAML parse of a multi-megabyte index takes many seconds in pure Python, and the one chart
that matters is a small part of it. Those lines are then parsed as YAML with the caps of
``yamlio`` (INDEX_LIMITS); an index in any other layout is parsed whole, with the same caps.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from homelab_scaffold.inspect.loader import parse_yaml_documents
from homelab_scaffold.yamlio import Limits

# Big public indexes are tens of MB (Bitnami's is about 27 MB, TrueCharts' passed 50 MB), and
# Flux's source-controller stops at 50 MiB; 64 MiB takes all of those and still bounds memory.
INDEX_MAX_BYTES = 64 * 1024 * 1024
INDEX_LIMITS = Limits(max_bytes=INDEX_MAX_BYTES)
CHANGES_ANNOTATION = "artifacthub.io/changes"


class IndexUnreadable(ValueError):
    """The index cannot be read as a Helm repository index; the message says why."""


@dataclass(frozen=True)
class Change:
    """One line of a chart's change notes (``artifacthub.io/changes``)."""

    kind: str
    description: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.description}" if self.kind else self.description


@dataclass(frozen=True)
class ChartEntry:
    """One version of a chart as the index lists it."""

    name: str
    version: str
    urls: tuple[str, ...]
    digest: str
    changes: tuple[Change, ...] = ()

    @property
    def sha256(self) -> str:
        """The listed digest as lowercase hex ("" when the index lists none)."""
        return self.digest.lower().removeprefix("sha256:")


def index_url(repository: str) -> str:
    """Where a Helm repository keeps its index."""
    return repository.rstrip("/") + "/index.yaml"


def chart_versions(index_text: str, chart: str) -> list[str] | None:
    """The versions of ``chart`` in a Helm index; [] when absent, None when not an index."""
    scanned = _scan_versions(index_text, chart)
    if scanned is not None:
        return scanned
    try:
        entries = _parsed_entries(index_text)
    except IndexUnreadable:
        return None
    if entries is None:
        return None
    return [
        str(entry["version"])
        for entry in entries.get(chart) or ()
        if isinstance(entry, dict) and entry.get("version") is not None
    ]


def chart_entries(index_text: str, chart: str) -> list[ChartEntry]:
    """Every listed version of ``chart`` with its archive URLs, digest and change notes.

    Raises:
        IndexUnreadable: The text is not a Helm index, breaks a cap, or does not list the chart.
    """
    block = _chart_block(index_text, chart)
    entries = _parsed_entries(block) if block is not None else None
    if entries is None or not entries.get(chart):
        entries = _parsed_entries(index_text)
    if entries is None:
        raise IndexUnreadable("is not a Helm repository index (no 'entries')")
    raw = entries.get(chart)
    if not isinstance(raw, list) or not raw:
        raise IndexUnreadable(f"does not list chart '{chart}'")
    return [_entry(chart, item) for item in raw if isinstance(item, dict) and "version" in item]


def find_entry(entries: list[ChartEntry], version: str) -> ChartEntry | None:
    """The entry of ``version`` (a leading ``v`` on either side is ignored)."""
    bare = version.removeprefix("v")
    for entry in entries:
        if entry.version == version:
            return entry
    for entry in entries:
        if entry.version.removeprefix("v") == bare:
            return entry
    return None


def _entry(chart: str, item: dict[str, Any]) -> ChartEntry:
    urls = item.get("urls")
    annotations = item.get("annotations")
    notes = annotations.get(CHANGES_ANNOTATION) if isinstance(annotations, dict) else None
    return ChartEntry(
        name=chart,
        version=str(item["version"]),
        urls=tuple(u for u in urls if isinstance(u, str)) if isinstance(urls, list) else (),
        digest=_digest_text(item.get("digest")),
        changes=parse_changes(notes),
    )


def _digest_text(value: Any) -> str:
    """The digest as hex text; an all-digit digest written unquoted reads back as a number."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value).zfill(64)
    return value if isinstance(value, str) else ""


def parse_changes(value: Any) -> tuple[Change, ...]:
    """``artifacthub.io/changes``: a YAML list (in a string) of {kind, description} or strings."""
    if isinstance(value, str):
        bodies, error = parse_yaml_documents(value)
        value = bodies[0] if error is None and bodies else None
    if not isinstance(value, list):
        return ()
    return tuple(change for item in value if (change := _change(item)) is not None)


def _change(item: Any) -> Change | None:
    if isinstance(item, str) and item.strip():
        return Change("", " ".join(item.split()))
    if isinstance(item, dict) and isinstance(item.get("description"), str):
        kind = item.get("kind")
        return Change(kind if isinstance(kind, str) else "", " ".join(item["description"].split()))
    return None


def _parsed_entries(text: str) -> dict[str, Any] | None:
    """``entries`` of an index (None when the text has none); caps as in INDEX_LIMITS."""
    bodies, error = parse_yaml_documents(text, INDEX_LIMITS)
    if error is not None:
        raise IndexUnreadable(error[0])
    index = bodies[0] if bodies else None
    entries = index.get("entries") if isinstance(index, dict) else None
    return entries if isinstance(entries, dict) else None


_TOP_KEY = re.compile(r"^\S")
_CHART_KEY = re.compile(r"""^  (?!- )(["']?)(?P<name>[^"'\s][^"']*?)\1:\s*$""")
_VERSION_LINE = re.compile(r"^(?:  - |    )version:\s*(?P<value>\S.*?)\s*$")


@lru_cache(maxsize=4)
def _entries_lines(text: str) -> tuple[str, ...] | None:
    """The lines under ``entries:`` up to the next top-level key; None without that line."""
    lines = text.splitlines()
    if "entries:" not in lines:
        return None
    below = lines[lines.index("entries:") + 1 :]
    end = next((i for i, line in enumerate(below) if _TOP_KEY.match(line)), len(below))
    return tuple(below[:end])


def _scan_versions(text: str, chart: str) -> list[str] | None:
    """Versions from Helm's own index layout (chart keys at two spaces, item keys at four).

    None when the text is not in that layout (no chart in it shows a version line).
    """
    lines = _entries_lines(text)
    if lines is None:
        return None
    versions: list[str] = []
    inside = recognised = False
    for line in lines:
        key = _CHART_KEY.match(line)
        if key:
            inside = key.group("name") == chart
            continue
        match = _VERSION_LINE.match(line)
        if match:
            recognised = True
            if inside:
                versions.append(match.group("value").strip("\"'"))
    return versions if recognised else None


def _chart_block(text: str, chart: str) -> str | None:
    """``entries:`` with only ``chart``'s lines, as YAML text; None outside Helm's layout."""
    lines = _entries_lines(text)
    if lines is None:
        return None
    kept: list[str] = []
    inside = False
    for line in lines:
        key = _CHART_KEY.match(line)
        if key:
            if inside:
                break
            inside = key.group("name") == chart
        if inside:
            kept.append(line)
    return "entries:\n" + "\n".join(kept) + "\n" if kept else None
