"""The values every check shares: files, documents and problems."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

WAVE_ANNOTATION = "argocd.argoproj.io/sync-wave"
SYNC_OPTIONS_ANNOTATION = "argocd.argoproj.io/sync-options"


@dataclass(frozen=True)
class Problem:
    """One finding: where it is, which check found it and why it matters, in plain words.

    ``document`` is the 1-based index of the YAML document in ``file`` (None: the whole file);
    ``file`` is empty for a problem of the repository as a whole.
    """

    file: str
    check: str
    message: str
    document: int | None = None
    resource: str = ""
    line: int | None = None

    def sort_key(self) -> tuple[str, int, int, str, str]:
        """Stable report order: by file, document, line, then check and message."""
        return (self.file, self.document or 0, self.line or 0, self.check, self.message)


def dig(value: Any, *keys: str | int) -> Any:
    """``value[k1][k2]...`` through mappings and lists, None when any step is missing."""
    for key in keys:
        if isinstance(key, int) and isinstance(value, list) and -len(value) <= key < len(value):
            value = value[key]
        elif isinstance(key, str) and isinstance(value, dict):
            value = value.get(key)
        else:
            return None
    return value


def items(value: Any) -> list[Any]:
    """``value`` when it is a list, else an empty list (a string is not a list of characters)."""
    return value if isinstance(value, list) else []


def text_at(value: Any, *keys: str | int) -> str:
    """The string at ``keys``, or "" when it is missing or not a string."""
    found = dig(value, *keys)
    return found if isinstance(found, str) else ""


@dataclass(frozen=True, eq=False)
class Document:
    """One parsed YAML document of a file (``body`` is None for an empty document)."""

    file: str
    index: int
    body: Any

    @property
    def is_object(self) -> bool:
        """True when the document is a mapping with apiVersion and kind (a Kubernetes object)."""
        return isinstance(self.body, dict) and "apiVersion" in self.body and "kind" in self.body

    @property
    def api_version(self) -> str:
        """apiVersion, or "" when missing or not a string."""
        return text_at(self.body, "apiVersion")

    @property
    def group(self) -> str:
        """The API group ("" for the core group)."""
        return self.api_version.rpartition("/")[0]

    @property
    def version(self) -> str:
        """The API version without its group."""
        return self.api_version.rpartition("/")[2]

    @property
    def kind(self) -> str:
        """kind, or "" when missing or not a string."""
        return text_at(self.body, "kind")

    @property
    def name(self) -> str:
        """metadata.name, or "" when missing or not a string."""
        return text_at(self.body, "metadata", "name")

    @property
    def namespace(self) -> str:
        """metadata.namespace, or "" when missing."""
        return text_at(self.body, "metadata", "namespace")

    @property
    def label(self) -> str:
        """``Kind/name`` for messages ("" when the document has neither)."""
        if not self.kind and not self.name:
            return ""
        return f"{self.kind or '?'}/{self.name or '?'}"

    def annotation(self, key: str) -> Any:
        """The raw value of one annotation (None when absent)."""
        return dig(self.body, "metadata", "annotations", key)

    def problem(self, check: str, message: str) -> Problem:
        """A problem located at this document."""
        return Problem(self.file, check, message, self.index, self.label)

    def is_kind(self, group: str, kind: str) -> bool:
        """True for a document of this API group and kind (any version)."""
        return self.group == group and self.kind == kind


@dataclass(frozen=True)
class SourceFile:
    """One file of the repository; ``text`` is None for binary or unreadable files."""

    path: str
    text: str | None
    documents: tuple[Document, ...] = ()
    is_yaml: bool = False
    parsed: bool = False


@dataclass(frozen=True)
class Repo:
    """Every file scaffold validate looks at, sorted by path; ``unreadable`` are the files it
    lists but could not read (each already a problem: not UTF-8, too large, a link)."""

    root: Path
    files: tuple[SourceFile, ...]
    unreadable: frozenset[str] = frozenset()

    def documents(self) -> Iterator[Document]:
        """Every parsed document of every file, in file then document order."""
        for source in self.files:
            yield from source.documents

    def paths(self) -> frozenset[str]:
        """The relative paths of all files."""
        return frozenset(source.path for source in self.files)


@dataclass(frozen=True)
class Report:
    """The outcome of ``scaffold validate``: problems (sorted) and informational notes."""

    root: Path
    problems: tuple[Problem, ...]
    notes: tuple[str, ...]
    files_checked: int
    documents_checked: int

    @property
    def ok(self) -> bool:
        """True when nothing was found."""
        return not self.problems
