"""Helm charts from their repositories, read without helm: index entry -> archive -> files.

The archive of a chart version is found through the repository's ``index.yaml`` (the entry's
``urls``, relative ones resolved against the index URL), checked against the entry's sha256
``digest`` and kept in the user's cache (``$XDG_CACHE_HOME/scaffold/charts``), keyed by
repository, chart, version and digest. Helm chart versions are immutable by convention, so a
cached archive is used without asking the repository again, but only while its bytes still match
the digest it was stored under, and, when the run has read the index anyway (``outdated``), only
while that is the digest the index lists for the version.

``Chart.yaml``, ``values.yaml`` and ``values.schema.json`` are read from the ``.tgz`` in memory;
nothing is extracted to disk. The same three files are read of
every subchart bundled in it (``charts/<dep>/`` folders and nested ``charts/<dep>-<ver>.tgz``
archives, under the same caps), so values under a dependency's key can be checked too.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import posixpath
import re
import tarfile
import urllib.parse
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from homelab_scaffold.errors import NetworkError, ScaffoldError
from homelab_scaffold.inspect import http
from homelab_scaffold.inspect.helm_index import (
    INDEX_MAX_BYTES,
    Change,
    ChartEntry,
    IndexUnreadable,
    chart_entries,
    find_entry,
    index_url,
    parse_changes,
)
from homelab_scaffold.inspect.loader import parse_yaml_documents, plain_data
from homelab_scaffold.usercache import user_cache_dir, write_atomically

# Flux's source-controller allows 10 MiB per chart and 5 MiB per file; a chart's archive is
# usually well under 1 MiB. The unpacked cap stops a gzip "bomb" while the tar is walked.
ARCHIVE_MAX_BYTES = 16 * 1024 * 1024
MEMBER_MAX_BYTES = 8 * 1024 * 1024
UNPACKED_MAX_BYTES = 256 * 1024 * 1024
CHART_FILES = ("Chart.yaml", "values.yaml", "values.schema.json")
# Subcharts inside subcharts: helm allows any depth; real charts use one or two levels.
SUBCHART_MAX_DEPTH = 5
# What is read of an archive, below the chart's folder: its files, and those of its subcharts
# (folders or nested archives under charts/, at any depth).
_WANTED_MEMBER = re.compile(
    r"^(?:charts/[^/]+/)*(?:Chart\.yaml|values\.yaml|values\.schema\.json|charts/[^/]+\.tgz)$"
)
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,99}$")


class ChartError(ScaffoldError):
    """A chart cannot be read: bad index entry, digest mismatch, unsafe or broken archive."""


@dataclass(frozen=True)
class ChartFiles:
    """What scaffold reads of one chart version: its metadata, default values and schema."""

    name: str
    version: str
    metadata: Mapping[str, Any] = field(default_factory=dict)
    values: Mapping[str, Any] = field(default_factory=dict)
    schema: Mapping[str, Any] | None = None
    subcharts: tuple[tuple[str, ChartFiles], ...] = ()
    """(values key, subchart) of every subchart bundled in the archive: a dependency's alias or
    name, or the name of a chart in charts/ that Chart.yaml does not list."""
    unbundled: tuple[tuple[str, str], ...] = ()
    """(values key, chart name) of dependencies Chart.yaml lists that the archive lacks."""

    @property
    def changes(self) -> tuple[Change, ...]:
        """The chart's own change notes (``artifacthub.io/changes`` in Chart.yaml)."""
        annotations = self.metadata.get("annotations")
        if not isinstance(annotations, dict):
            return ()
        return parse_changes(annotations.get("artifacthub.io/changes"))


class ChartFetcher:
    """Reads chart versions from Helm repositories, through the cache; one per run."""

    def __init__(self, *, cache_dir: Path | None = None, timeout: float = 20.0) -> None:
        self.cache_dir = cache_dir or user_cache_dir("charts")
        self.timeout = timeout
        self._indexes: dict[str, str | NetworkError] = {}
        self._charts: dict[tuple[str, str, str], ChartFiles] = {}

    def chart(self, repository: str, chart: str, version: str) -> ChartFiles:
        """The files of ``chart`` ``version`` from the Helm repository at ``repository``.

        Raises:
            NetworkError: The repository or the archive cannot be downloaded.
            ChartError: The index does not list that version, or the archive is refused.
        """
        key = (repository, chart, version)
        if key not in self._charts:
            self._charts[key] = self._read(repository, chart, version)
        return self._charts[key]

    def entries(self, repository: str, chart: str) -> list[ChartEntry]:
        """Every version of ``chart`` the repository's index lists."""
        try:
            return chart_entries(self.index(repository), chart)
        except IndexUnreadable as exc:
            raise ChartError(f"{index_url(repository)} {exc}") from exc

    def index(self, repository: str) -> str:
        """The repository's index.yaml text (downloaded once per fetcher)."""
        if repository not in self._indexes:
            try:
                self._indexes[repository] = download_index(repository, self.timeout)
            except NetworkError as exc:
                # Other charts of the same repository fail the same way without waiting again.
                self._indexes[repository] = exc
        found = self._indexes[repository]
        if isinstance(found, NetworkError):
            raise NetworkError(found.message)
        return found

    def _read(self, repository: str, chart: str, version: str) -> ChartFiles:
        folder = self._folder(repository, chart, version)
        entry = self._listed_entry(repository, chart, version)
        cached = cached_archive(folder, entry.sha256 if entry is not None else "")
        if cached is not None:
            return read_chart_archive(cached, chart, str(folder))
        if entry is None:
            entry = find_entry(self.entries(repository, chart), version)
        if entry is None:
            raise ChartError(f"{index_url(repository)} does not list {chart} {version}")
        data, url = self._download(repository, entry)
        files = read_chart_archive(data, chart, url)
        write_atomically(folder / f"{sha256(data)}.tgz", data)
        return files

    def _listed_entry(self, repository: str, chart: str, version: str) -> ChartEntry | None:
        """The version's entry when this run already read the index, so that the cache must
        hold the digest it lists (None otherwise: the cache is trusted without asking the
        repository)."""
        if not isinstance(self._indexes.get(repository), str):
            return None
        try:
            return find_entry(self.entries(repository, chart), version)
        except ChartError:
            return None

    def _download(self, repository: str, entry: ChartEntry) -> tuple[bytes, str]:
        if not entry.urls:
            where = index_url(repository)
            raise ChartError(f"{where} lists no archive URL for {entry.name} {entry.version}")
        failure: NetworkError | None = None
        for url in archive_urls(repository, entry):
            try:
                data = http.fetch(url, self.timeout, max_bytes=ARCHIVE_MAX_BYTES)
            except NetworkError as exc:
                failure = exc
                continue
            if data is None:
                failure = NetworkError(f"{url} does not exist (HTTP 404)")
                continue
            check_digest(data, entry, url)
            return data, url
        assert failure is not None
        raise failure

    def _folder(self, repository: str, chart: str, version: str) -> Path:
        return self.cache_dir / repository_key(repository) / _safe(chart) / _safe(version)


def download_index(repository: str, timeout: float) -> str:
    """The text of a repository's index.yaml.

    Raises:
        NetworkError: It cannot be read, does not exist or is not UTF-8.
    """
    url = index_url(repository)
    body = http.fetch(url, timeout, max_bytes=INDEX_MAX_BYTES)
    if body is None:
        raise NetworkError(f"{url} does not exist (HTTP 404): not a Helm repository")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NetworkError(f"{url} is not UTF-8 text") from exc


def archive_urls(repository: str, entry: ChartEntry) -> list[str]:
    """The entry's archive URLs, relative ones resolved against the index URL."""
    base = index_url(repository)
    return [urllib.parse.urljoin(base, url) for url in entry.urls]


def sha256(data: bytes) -> str:
    """The lowercase hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def check_digest(data: bytes, entry: ChartEntry, url: str) -> None:
    """Refuse an archive whose sha256 is not the digest the index lists for it."""
    expected = entry.sha256
    if not expected:
        return  # an index without digests (rare; helm writes them) cannot be checked
    actual = sha256(data)
    if actual != expected:
        raise ChartError(
            f"{url}: sha256 {actual} does not match the digest {expected} in the index; "
            "refusing the archive"
        )


def repository_key(repository: str) -> str:
    """A folder name for a repository URL: readable host and path, plus a hash of the whole."""
    parts = urllib.parse.urlsplit(repository.strip())
    readable = re.sub(r"[^A-Za-z0-9.-]+", "_", f"{parts.netloc}{parts.path}".strip("/"))[:60]
    digest = hashlib.sha256(repository.strip().rstrip("/").encode()).hexdigest()[:12]
    return f"{readable or 'repository'}-{digest}"


def _safe(name: str) -> str:
    if _SAFE_NAME.match(name) and name not in (".", ".."):
        return name
    return "_" + hashlib.sha256(name.encode()).hexdigest()[:16]


def cached_archive(folder: Path, digest: str = "") -> bytes | None:
    """A cached archive in ``folder`` whose bytes still hash to the digest it is named after;
    with ``digest`` (what the index lists now), only that one: a version republished under
    the same number is downloaded again rather than read stale from the cache."""
    try:
        candidates = [folder / f"{digest}.tgz"] if digest else sorted(folder.glob("*.tgz"))
    except OSError:
        return None
    for path in candidates:
        try:
            data = path.read_bytes()
        except OSError:
            continue
        if sha256(data) == path.stem:
            return data
    return None


def read_chart_archive(data: bytes, chart: str, where: str) -> ChartFiles:
    """Chart.yaml, values.yaml and values.schema.json of a chart ``.tgz`` and of the subcharts
    bundled in it, read in memory.

    Args:
        data: The archive's bytes.
        chart: The chart's name (the archive's top folder, as helm packages it).
        where: The archive's URL or path, for messages.

    Raises:
        ChartError: The archive (or one bundled in it) is broken, holds an unsafe or oversized
            member, or no chart.
    """
    budget = _Budget(where)
    return _archive_chart(data, chart, where, budget, 0)


def _archive_chart(data: bytes, chart: str, where: str, budget: _Budget, depth: int) -> ChartFiles:
    members = _chart_members(data, where, budget)
    folder = _chart_folder(members, chart, where)
    files = {rest: body for (top, rest), body in members.items() if top == folder}
    return _chart_files(files, chart, where, budget, depth)


def _chart_files(
    files: Mapping[str, bytes], chart: str, where: str, budget: _Budget, depth: int
) -> ChartFiles:
    """A chart from its files (paths below its folder), its bundled subcharts included."""
    metadata = _yaml_mapping(files.get("Chart.yaml"), where, "Chart.yaml")
    subcharts, unbundled = _dependencies(metadata, _bundled(files, where, budget, depth))
    return ChartFiles(
        name=chart or str(metadata.get("name") or ""),
        version=str(metadata.get("version") or ""),
        metadata=metadata,
        values=_yaml_mapping(files.get("values.yaml"), where, "values.yaml"),
        schema=_json_schema(files.get("values.schema.json"), where),
        subcharts=subcharts,
        unbundled=unbundled,
    )


def _bundled(
    files: Mapping[str, bytes], where: str, budget: _Budget, depth: int
) -> list[ChartFiles]:
    """The charts in ``charts/``: folders holding a Chart.yaml, then nested archives."""
    if not any(path.startswith("charts/") for path in files):
        return []
    if depth >= SUBCHART_MAX_DEPTH:
        raise ChartError(f"{where}: subcharts nested more than {SUBCHART_MAX_DEPTH} deep; "
                         "refusing the archive")
    found = []
    nested = [p for p in files if p.startswith("charts/")]
    folders = sorted({p.split("/")[1] for p in nested if p.count("/") > 1})
    for folder in folders:
        prefix = f"charts/{folder}/"
        inner = {p.removeprefix(prefix): body for p, body in files.items() if p.startswith(prefix)}
        if "Chart.yaml" in inner:
            found.append(_chart_files(inner, "", f"{where}: {prefix[:-1]}", budget, depth + 1))
    for path in sorted(p for p in nested if p.count("/") == 1):
        found.append(_archive_chart(files[path], "", f"{where}: {path}", budget, depth + 1))
    return found


def _dependencies(
    metadata: Mapping[str, Any], bundled: list[ChartFiles]
) -> tuple[tuple[tuple[str, ChartFiles], ...], tuple[tuple[str, str], ...]]:
    """(values key, subchart) of the bundled charts and (values key, name) of the dependencies
    Chart.yaml lists that are not bundled. Helm matches a dependency to a bundled chart by
    name; its values sit under its alias, else its name."""
    by_name: dict[str, ChartFiles] = {}
    for sub in bundled:
        by_name.setdefault(sub.name, sub)
    subcharts: list[tuple[str, ChartFiles]] = []
    unbundled: list[tuple[str, str]] = []
    listed: set[str] = set()
    for dependency in metadata.get("dependencies") or ():
        name = dependency.get("name") if isinstance(dependency, dict) else None
        key = (dependency.get("alias") or name) if isinstance(dependency, dict) else None
        if not isinstance(name, str) or not isinstance(key, str):
            continue
        listed.add(name)
        if name in by_name:
            subcharts.append((key, by_name[name]))
        else:
            unbundled.append((key, name))
    subcharts.extend((name, sub) for name, sub in sorted(by_name.items()) if name not in listed)
    return tuple(subcharts), tuple(unbundled)


def _chart_members(data: bytes, where: str, budget: _Budget) -> dict[tuple[str, str], bytes]:
    """(top folder, path below it) -> bytes of the chart files and nested archives."""
    found: dict[tuple[str, str], bytes] = {}
    stream = _CappedReader(gzip.GzipFile(fileobj=io.BytesIO(data)), budget)
    try:
        with tarfile.open(fileobj=stream, mode="r|") as archive:
            for member in archive:
                top, name = _member_path(member, where)
                if _WANTED_MEMBER.match(name):
                    found[(top, name)] = _member_bytes(archive, member, where)
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise ChartError(f"{where} is not a readable chart archive (.tgz): {exc}") from exc
    return found


def _member_path(member: tarfile.TarInfo, where: str) -> tuple[str, str]:
    """(top folder, rest) of a member; a name that leaves the archive is refused."""
    name = member.name.replace("\\", "/")
    normal = posixpath.normpath(name)
    if name.startswith("/") or normal == ".." or normal.startswith("../") or "/../" in name:
        raise ChartError(f"{where}: member {member.name!r} points outside the chart (path "
                         "traversal); refusing the archive")
    top, _, rest = normal.partition("/")
    return top, rest


def _member_bytes(archive: tarfile.TarFile, member: tarfile.TarInfo, where: str) -> bytes:
    if not member.isfile():
        raise ChartError(f"{where}: {member.name} is not a regular file (a link?); refusing it")
    if member.size > MEMBER_MAX_BYTES:
        raise ChartError(
            f"{where}: {member.name} is {member.size:,} bytes, more than the "
            f"{MEMBER_MAX_BYTES:,} scaffold reads"
        )
    handle = archive.extractfile(member)
    return handle.read() if handle is not None else b""


def _chart_folder(members: Mapping[tuple[str, str], bytes], chart: str, where: str) -> str:
    folders = sorted({top for top, name in members if name == "Chart.yaml"})
    if chart in folders:
        return chart
    if len(folders) == 1:
        return folders[0]
    wanted = f"{chart}/Chart.yaml" if chart else "single chart folder with a Chart.yaml"
    raise ChartError(f"{where} holds no {wanted}: not a Helm chart archive")


def _yaml_mapping(data: bytes | None, where: str, name: str) -> dict[str, Any]:
    if data is None:
        return {}
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ChartError(f"{where}: {name} is not UTF-8 text") from exc
    bodies, error = parse_yaml_documents(text)
    if error is not None:
        raise ChartError(f"{where}: {name}: {error[0]}")
    body, reason = plain_data(bodies[0] if bodies else None)
    if reason:
        raise ChartError(f"{where}: {name} {reason}")
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise ChartError(f"{where}: {name} is not a mapping")
    return body


def _json_schema(data: bytes | None, where: str) -> dict[str, Any] | None:
    if data is None:
        return None
    try:
        schema = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise ChartError(f"{where}: values.schema.json is not valid JSON") from exc
    if not isinstance(schema, dict):
        raise ChartError(f"{where}: values.schema.json is not a JSON schema object")
    return schema


class _Budget:
    """The bytes an archive and the archives bundled in it may unpack to, together."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.total = 0

    def spend(self, count: int) -> None:
        self.total += count
        if self.total > UNPACKED_MAX_BYTES:
            raise ChartError(
                f"{self.where} unpacks to more than {UNPACKED_MAX_BYTES // (1024 * 1024)} MiB; "
                "refusing it"
            )


class _CappedReader(io.RawIOBase):
    """The decompressed archive, refused once the budget of unpacked bytes is spent."""

    def __init__(self, inner: gzip.GzipFile, budget: _Budget) -> None:
        super().__init__()
        self._inner = inner
        self._budget = budget

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._inner.read(len(buffer))
        self._budget.spend(len(data))
        buffer[: len(data)] = data
        return len(data)
