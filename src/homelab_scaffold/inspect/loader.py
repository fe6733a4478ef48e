"""Read a repository: list the files git would track, read them and parse the YAML ones.

Nothing here raises on bad content: an unreadable, binary or malformed file becomes a Problem so
that one broken file never hides the others.
"""

from __future__ import annotations

import datetime
import fnmatch
import hashlib
import json
import os
import stat
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from homelab_scaffold import __version__
from homelab_scaffold.errors import UsageError
from homelab_scaffold.inspect.model import Document, Problem, Repo, SourceFile
from homelab_scaffold.repo.merge import conflict_marker_lines
from homelab_scaffold.usercache import user_cache_dir, write_atomically
from homelab_scaffold.yamlio import DEFAULT_LIMITS, Limits, YAMLLimitError, check_yaml_limits

YAML_SUFFIXES = (".yaml", ".yml")
MAX_BYTES = 4 * 1024 * 1024
MAX_DEPTH = 64
# Not part of the GitOps content: git itself and scaffold's own state.
SKIPPED_DIRS = (".git", ".scaffold")
# Folders that are never GitOps content, skipped when walking a folder git does not track.
NEVER_CONTENT_DIRS = ("node_modules", ".venv", "venv", "__pycache__", ".tox", ".mypy_cache")
# More files than any App-of-Apps repository holds: validate was pointed at the wrong folder.
MAX_FILES = 20_000
CHECK = "files"
MARKER_REASON = (
    "unresolved conflict marker (left by a scaffold merge that exited 4): resolve the "
    "<<<<<<< ... >>>>>>> block, keeping the lines you want"
)
LINK_REASON = (
    "is a symbolic link; not followed (a link can point outside the repository, and Argo CD "
    "reads what it points to only when it stays inside): commit the file itself"
)


@dataclass(frozen=True)
class Loaded:
    """The repository plus what went wrong while reading it."""

    repo: Repo
    problems: tuple[Problem, ...]
    notes: tuple[str, ...]


def load_repo(root: Path) -> Loaded:
    """Read and parse every tracked (or trackable) file under ``root``."""
    paths = list_files(root)
    chart_templates = _chart_template_dirs(paths)
    files: list[SourceFile] = []
    problems: list[Problem] = []
    notes: list[str] = []
    unreadable: list[str] = []
    parsed = ParsedCache.load()
    for path in paths:
        if any(path.startswith(prefix) for prefix in chart_templates):
            continue  # Helm templates are not YAML until Helm renders them.
        source, found, note = _load_file(root, path, parsed)
        if source is not None:
            files.append(source)
        elif found:
            unreadable.append(path)
        problems.extend(found)
        if note:
            notes.append(note)
    parsed.save()
    repo = Repo(root, tuple(files), frozenset(unreadable))
    return Loaded(repo, tuple(problems), tuple(notes))


class ParsedCache:
    """YAML files already parsed, by the sha256 of their text: pyyaml builds every mapping in
    Python, a large part of validating a 300-component repository, and most files do not change
    between two runs. Kept in the user cache; only what JSON holds exactly is kept."""

    MAX_ENTRIES = 5_000

    def __init__(self, entries: dict[str, Any]) -> None:
        self.entries = entries
        self.added = False

    @classmethod
    def load(cls) -> ParsedCache:
        """The cache as the last run left it (empty when there is none or it is unreadable)."""
        try:
            data = json.loads(_parsed_cache_path().read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return cls({})
        return cls(data if isinstance(data, dict) else {})

    @staticmethod
    def key(text: str) -> str:
        return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()

    def bodies(self, text: str) -> list[Any] | None:
        """The documents of ``text`` when it was parsed before."""
        found = self.entries.get(self.key(text))
        return found if isinstance(found, list) else None

    def remember(self, text: str, bodies: list[Any]) -> None:
        """Keep the documents of a text that parsed, when JSON holds them exactly."""
        try:
            if json.loads(json.dumps(bodies)) != bodies:
                return
        except (TypeError, ValueError, RecursionError):
            return
        self.entries[self.key(text)] = bodies
        self.added = True

    def save(self) -> None:
        """Write the cache back (its most recent entries) when this run added to it."""
        if self.added:
            kept = dict(list(self.entries.items())[-self.MAX_ENTRIES :])
            write_atomically(_parsed_cache_path(), json.dumps(kept).encode("utf-8"))


def _parsed_cache_path() -> Path:
    return user_cache_dir("parsed", f"{__version__}.json")


def own_urls(root: Path, answers: Mapping[str, Any] | None = None) -> list[str]:
    """This repository's own URLs: git's origin and scaffold.yaml's repo_url, when present.

    ``answers`` is scaffold.yaml already read (it is read here when not given).
    """
    from homelab_scaffold.repo.git import origin_url

    urls = [origin_url(root) or ""]
    if answers is None:
        answers = read_answers(root)
    repo_url = (answers or {}).get("repo_url")
    urls.append(repo_url if isinstance(repo_url, str) else "")
    return urls


def read_answers(root: Path) -> dict[str, Any] | None:
    """The repository's scaffold.yaml as a mapping; None without one (or when it is not one)."""
    try:
        bodies, error = parse_yaml_documents((root / "scaffold.yaml").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        return None
    return bodies[0] if error is None and bodies and isinstance(bodies[0], dict) else None


def list_files(root: Path) -> list[str]:
    """Relative POSIX paths of the files git tracks or would track, sorted.

    Raises:
        UsageError: More files than any App-of-Apps repository holds (validate was pointed at a
            home folder or a whole disk): said at once, before anything is read.
    """
    listed = _git_files(root)
    if listed is None:
        listed = _walked_files(root)
    if len(listed) > MAX_FILES:
        raise _too_many(root)
    return sorted(p for p in set(listed) if p.split("/", 1)[0] not in SKIPPED_DIRS)


def _too_many(root: Path) -> UsageError:
    return UsageError(
        f"{root} holds more than {MAX_FILES:,} files: it is not an App-of-Apps repository. Run "
        "`scaffold validate` inside your GitOps repository, or point -C at it"
    )


def _git_files(root: Path) -> list[str] | None:
    command = ["git", "-C", str(root), "ls-files", "-z", "--cached", "--others"]
    command.append("--exclude-standard")
    try:
        result = subprocess.run(command, capture_output=True, check=False)
    except OSError:
        return None
    if result.returncode != 0:
        return None
    names = result.stdout.decode("utf-8", errors="surrogateescape").split("\0")
    return [name for name in names if name]


def _walked_files(root: Path) -> list[str]:
    patterns = _gitignore_patterns(root / ".gitignore")
    found: list[str] = []
    for current, dirs, names in os.walk(root, followlinks=False):
        if len(found) > MAX_FILES:
            raise _too_many(root)
        relative = Path(current).relative_to(root).as_posix()
        prefix = "" if relative == "." else relative + "/"
        dirs[:] = sorted(
            d
            for d in dirs
            if d not in SKIPPED_DIRS
            and d not in NEVER_CONTENT_DIRS
            and not _ignored(prefix + d, True, patterns)
        )
        found.extend(prefix + n for n in names if not _ignored(prefix + n, False, patterns))
        # A link to a folder is a file to git: listed, so that it is reported, never entered.
        found.extend(prefix + d for d in dirs if Path(current, d).is_symlink())
    return found


@dataclass(frozen=True)
class _IgnorePattern:
    glob: str
    anchored: bool
    directory_only: bool


def _gitignore_patterns(path: Path) -> tuple[_IgnorePattern, ...]:
    """The top-level .gitignore's plain patterns (negations are not supported and skipped)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return ()
    patterns = []
    for raw in lines:
        line = raw.strip()
        if not line or line.startswith(("#", "!")):
            continue
        directory_only = line.endswith("/")
        line = line.rstrip("/")
        anchored = "/" in line
        patterns.append(_IgnorePattern(line.lstrip("/"), anchored, directory_only))
    return tuple(patterns)


def _ignored(path: str, is_dir: bool, patterns: Iterable[_IgnorePattern]) -> bool:
    name = path.rsplit("/", 1)[-1]
    for pattern in patterns:
        if pattern.directory_only and not is_dir:
            continue
        target = path if pattern.anchored else name
        if fnmatch.fnmatchcase(target, pattern.glob):
            return True
    return False


def _chart_template_dirs(paths: Iterable[str]) -> tuple[str, ...]:
    """``<chart>/templates/`` of every Helm chart kept in the repository."""
    return tuple(
        p[: -len("Chart.yaml")] + "templates/"
        for p in paths
        if p == "Chart.yaml" or p.endswith("/Chart.yaml")
    )


def _load_file(
    root: Path, path: str, parsed: ParsedCache
) -> tuple[SourceFile | None, list[Problem], str]:
    is_yaml = path.endswith(YAML_SUFFIXES)
    is_json = path.endswith(".json")
    data, problem, note = _read_bytes(root / path, path)
    if problem is not None:
        return None, [problem], ""
    if data is None and note and (is_yaml or is_json):
        # A manifest validate cannot check is a problem, like one that is not UTF-8 text.
        reason = f"is larger than {MAX_BYTES // (1024 * 1024)} MiB, too large to check"
        return None, [Problem(path, CHECK, f"{reason} as {_format(path)}")], ""
    if data is None:
        return None, [], note
    text, reason = _decode(data)
    if text is None:
        if is_yaml or is_json:
            return None, [Problem(path, CHECK, f"is {reason}, not {_format(path)} text")], ""
        return SourceFile(path, None), [], ""
    marked = conflict_marker_lines(text)
    if marked:
        problem = Problem(path, "conflict", MARKER_REASON, line=marked[0])
        return SourceFile(path, text), [problem], ""
    if is_yaml:
        return _parse_yaml_file(path, text, parsed)
    if is_json:
        return _parse_json_file(path, text)
    return SourceFile(path, text), [], ""


def _format(path: str) -> str:
    return "JSON" if path.endswith(".json") else "YAML"


def _read_bytes(full: Path, path: str) -> tuple[bytes | None, Problem | None, str]:
    try:
        info = full.lstat()
        if stat.S_ISLNK(info.st_mode):
            return None, Problem(path, CHECK, LINK_REASON), ""
        if not stat.S_ISREG(info.st_mode):
            return None, None, ""  # a directory link, socket or FIFO: nothing git would store
        if info.st_size > MAX_BYTES:
            return None, None, f"{path}: skipped, larger than {MAX_BYTES // (1024 * 1024)} MiB"
        return full.read_bytes(), None, ""
    except FileNotFoundError:
        return None, None, ""  # deleted in the work tree (git still has it in its index)
    except OSError as exc:
        return None, Problem(path, CHECK, f"cannot be read: {_os_reason(exc)}"), ""


def _os_reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def _decode(data: bytes) -> tuple[str | None, str]:
    if b"\0" in data[:8192]:
        return None, "a binary file"
    try:
        return data.decode("utf-8"), ""
    except UnicodeDecodeError as exc:
        return None, f"not UTF-8 (bad byte at offset {exc.start})"


def _parse_yaml_file(
    path: str, text: str, parsed: ParsedCache
) -> tuple[SourceFile, list[Problem], str]:
    bodies = parsed.bodies(text)
    if bodies is None:
        bodies, error = parse_yaml_documents(text)
        if error is not None:
            message, line = error
            problem = Problem(path, "yaml", message, line=line)
            return SourceFile(path, text, is_yaml=True), [problem], ""
        parsed.remember(text, bodies)
    return _with_documents(path, text, bodies)


def _parse_json_file(path: str, text: str) -> tuple[SourceFile, list[Problem], str]:
    unparsed = SourceFile(path, text, is_yaml=True)
    try:
        body = json.loads(text) if text.strip() else None
    except json.JSONDecodeError as exc:
        message = f"JSON does not parse at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        return unparsed, [Problem(path, "yaml", message, line=exc.lineno)], ""
    except RecursionError:
        return unparsed, [Problem(path, "yaml", "JSON is nested too deeply to read")], ""
    return _with_documents(path, text, [body])


def _with_documents(
    path: str, text: str, bodies: list[Any]
) -> tuple[SourceFile, list[Problem], str]:
    documents = []
    problems = []
    for index, raw in enumerate(bodies, start=1):
        body, reason = plain_data(raw)
        if reason:
            problems.append(Problem(path, "yaml", reason, index))
        documents.append(Document(path, index, body))
    source = SourceFile(path, text, tuple(documents), is_yaml=True, parsed=True)
    return source, problems, ""


def _fast_load_all(text: str) -> list[Any]:
    """libyaml's C parser (much faster than pure Python); refuses duplicate keys, so that the
    careful ruamel parser reports them."""
    import yaml as pyyaml

    base = getattr(pyyaml, "CSafeLoader", pyyaml.SafeLoader)

    class _UniqueKeys(base):  # type: ignore[valid-type,misc]
        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            keys = [self.construct_object(k, deep=True) for k, _ in node.value]
            hashable = [k for k in keys if isinstance(k, str | int | float | bool)]
            if len(set(hashable)) != len(hashable):
                raise pyyaml.YAMLError("duplicate key")
            return super().construct_mapping(node, deep=deep)

    return list(pyyaml.load_all(text, Loader=_UniqueKeys))


def parse_yaml_documents(
    text: str, limits: Limits = DEFAULT_LIMITS
) -> tuple[list[Any], tuple[str, int | None] | None]:
    """Every document of a YAML stream, or (message, 1-based line) when it does not parse or
    exceeds the caps on size, nesting and alias expansion."""
    try:
        check_yaml_limits(text, limits)
    except YAMLLimitError as exc:
        return [], (f"YAML {exc}", None)
    try:
        return list(_fast_load_all(text)), None
    except Exception:  # anything odd: the careful parser below says exactly what
        pass
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    try:
        return list(YAML(typ="safe", pure=True).load_all(text)), None
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        what = exc.problem or exc.context or "invalid YAML"
        return [], (f"YAML does not parse{where}: {what}", mark.line + 1 if mark else None)
    except YAMLError as exc:
        return [], (f"YAML does not parse: {_one_line(str(exc))}", None)
    except RecursionError:
        return [], ("YAML is nested too deeply to read", None)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def plain_data(value: Any) -> tuple[Any, str]:
    """JSON-like data as Kubernetes sees it: dates become strings; cycles and depth are refused.

    Returns (data, "") or (None, reason). YAML aliases can make a document contain itself, which
    would send every later walk into an endless loop.
    """
    try:
        return _plain(value, 0, frozenset()), ""
    except _TooDeep:
        return None, f"is nested more than {MAX_DEPTH} levels deep"
    except _Cycle:
        return None, "contains itself through a YAML alias (&anchor / *alias)"


class _TooDeep(Exception):
    pass


class _Cycle(Exception):
    pass


def _plain(value: Any, depth: int, seen: frozenset[int]) -> Any:
    if depth > MAX_DEPTH:
        raise _TooDeep
    if isinstance(value, datetime.date | datetime.datetime):
        return value.isoformat()
    if not isinstance(value, dict | list):
        return value
    if id(value) in seen:
        raise _Cycle
    inner = seen | {id(value)}
    if isinstance(value, dict):
        return {_plain(k, depth + 1, inner): _plain(v, depth + 1, inner) for k, v in value.items()}
    return [_plain(item, depth + 1, inner) for item in value]
