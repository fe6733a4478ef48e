"""The bad-input corpus: every case in tests/data/bad-input/*.yaml, run through ``main()``.

Each case file lays down a tree (a copy of a repository rendered once per module, files, binary
garbage, folders, permissions), runs one command in-process (a case with read-only files, when
the tests run as root, in a child process that setpriv strips of root's power to ignore file
modes) and checks the CLI contract: the
documented exit code, exactly one ``Error:`` line on stderr naming the problem, no traceback, no
crash log, and every path under the test's folder byte for byte and mode for mode unchanged.
The format of a case file is described in tests/data/bad-input/README.md.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import conftest
import pytest
import yaml
from conftest import SMALL_ANSWERS, Run, git

DATA = Path(__file__).resolve().parent / "data"
CORPUS = DATA / "bad-input"
REPO_URL = "https://github.com/alice/homelab-infrastructure.git"

# The repositories a case may start from: `scaffold init --config` of these answers, committed.
TEMPLATES: dict[str, str] = {
    # traefik + test-app (metallb and argocd are added): the everyday small stack.
    "small": "# Our lab (comments are kept)\n" + SMALL_ANSWERS,
    # Generic instances: a Helm chart and a folder of raw manifests.
    "instances": f"""\
repo_url: {REPO_URL}
domain: lab.example.com
secrets: manual
components:
  metallb: {{}}
  grafana:
    from: helm-app
    repo: https://grafana.github.io/helm-charts
    chart: grafana
    version: 8.5.0
  dashboard:
    from: manifests-app
""",
    # Secrets sealed into Git: vaultwarden (and what it needs) with the sealed-secrets controller.
    "sealed": f"""\
repo_url: {REPO_URL}
domain: lab.example.com
components:
  vaultwarden: {{}}
""",
}
_CLICK_USAGE_PREFIXES = ("Usage: ", "Try '")
_KEYS = {
    "description",
    "command",
    "repo",
    "fixture",
    "files",
    "binary",
    "dirs",
    "delete",
    "chmod",
    "commit",
    "stdin",
    "expect",
    "xfail",
}
_EXPECT_KEYS = {"exit", "message", "absent", "stdout", "click_usage", "warnings"}


@dataclass(frozen=True)
class Expect:
    """What a case must produce."""

    exit: int
    message: tuple[str, ...]
    absent: tuple[str, ...] = ()
    stdout: tuple[str, ...] = ()
    click_usage: bool = False
    warnings: bool = False


@dataclass(frozen=True)
class Case:
    """One corpus file, parsed."""

    name: str
    description: str
    command: tuple[str, ...]
    expect: Expect
    repo: str | None = None
    fixture: str | None = None
    files: Mapping[str, str] | None = None
    binary: Mapping[str, str] | None = None
    dirs: tuple[str, ...] = ()
    delete: tuple[str, ...] = ()
    chmod: Mapping[str, str] | None = None
    commit: bool = True
    stdin: str | None = None
    xfail: str | None = None


def _strings(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(str(v) for v in value)


def load_case(path: Path) -> Case:
    """Parse and check one case file (a typo in the corpus must not make a test vacuous)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), f"{path.name}: expected a mapping"
    assert set(data) <= _KEYS, f"{path.name}: unknown keys {sorted(set(data) - _KEYS)}"
    raw = data["expect"]
    assert set(raw) <= _EXPECT_KEYS, f"{path.name}: unknown expect keys"
    expect = Expect(
        exit=int(raw["exit"]),
        message=_strings(raw.get("message")),
        absent=_strings(raw.get("absent")),
        stdout=_strings(raw.get("stdout")),
        click_usage=bool(raw.get("click_usage", False)),
        warnings=bool(raw.get("warnings", False)),
    )
    assert expect.exit == 0 or expect.message, f"{path.name}: a failing case needs a message"
    assert data.get("repo") in (None, *TEMPLATES), f"{path.name}: unknown repo template"
    return Case(
        name=path.stem,
        description=str(data["description"]),
        command=tuple(str(a) for a in data["command"]),
        expect=expect,
        repo=data.get("repo"),
        fixture=data.get("fixture"),
        files=data.get("files"),
        binary=data.get("binary"),
        dirs=_strings(data.get("dirs")),
        delete=_strings(data.get("delete")),
        chmod=data.get("chmod"),
        commit=bool(data.get("commit", True)),
        stdin=data.get("stdin"),
        xfail=data.get("xfail"),
    )


CASES = [load_case(p) for p in sorted(CORPUS.glob("*.yaml"))]


def _params() -> Iterator[Any]:
    for case in CASES:
        marks = [pytest.mark.xfail(reason=case.xfail, strict=True)] if case.xfail else []
        yield pytest.param(case, id=case.name, marks=marks)


# ---------------------------------------------------------------------------------------------
# Laying down a case


def _commit_all(root: Path) -> None:
    assert git(root, "add", "-A").returncode == 0
    result = git(root, "commit", "-q", "--allow-empty", "-m", "state before the command")
    assert result.returncode == 0, result.stderr


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """Each TEMPLATES repository, rendered on first use and committed to a fresh git repo."""
    base = tmp_path_factory.mktemp("templates")

    class Lazy(dict[str, Path]):
        def __missing__(self, name: str) -> Path:
            config = base / f"{name}.yaml"
            config.write_text(TEMPLATES[name], encoding="utf-8")
            root = base / name
            run = run_main("init", root, "--config", config)
            assert run.exit_code == 0, run.stderr
            assert git(root, "init", "-q").returncode == 0
            git(root, "config", "user.name", "Test User")
            git(root, "config", "user.email", "test@example.com")
            _commit_all(root)
            self[name] = root
            return root

    yield Lazy()


def _substitute(text: str, tmp: Path) -> str:
    return text.replace("{tmp}", str(tmp)).replace("{repo}", str(tmp / "repo"))


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def lay_down(case: Case, tmp: Path, templates: Mapping[str, Path]) -> None:
    """Build the case's tree under ``tmp`` (the repo, if any, at ``tmp/repo``)."""
    repo = tmp / "repo"
    if case.repo:
        shutil.copytree(templates[case.repo], repo, symlinks=True)
    if case.fixture:
        shutil.copytree(DATA / case.fixture, repo, symlinks=True)
    for relative in case.delete:
        _remove(tmp / relative)
    for relative in case.dirs:
        _remove(tmp / relative)
        (tmp / relative).mkdir(parents=True)
    for relative, text in (case.files or {}).items():
        target = tmp / relative
        _remove(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(_substitute(text, tmp), encoding="utf-8")
    for relative, hexdump in (case.binary or {}).items():
        target = tmp / relative
        _remove(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(bytes.fromhex(hexdump))
    if case.repo and case.commit:
        _commit_all(repo)
    for relative, mode in (case.chmod or {}).items():
        (tmp / relative).chmod(int(mode, 8))


# Root ignores file modes (CAP_DAC_OVERRIDE); without that capability (and the one to read
# anything) root obeys the owner bits like anyone else. CI runs as root.
_DROP_FILE_CAPABILITIES = [
    "setpriv",
    "--inh-caps=-dac_override,-dac_read_search",
    "--bounding-set=-dac_override,-dac_read_search",
    "--",
]
_WRITE_PROBE = "import sys; open(sys.argv[1] + '/x', 'w')"


def _modes_stop(prefix: list[str], folder: Path) -> bool:
    folder.mkdir()
    folder.chmod(0o500)
    try:
        result = subprocess.run(
            [*prefix, sys.executable, "-c", _WRITE_PROBE, str(folder)],
            capture_output=True,
            check=False,
        )
        return result.returncode != 0 and b"PermissionError" in result.stderr
    except OSError:
        return False  # no setpriv
    finally:
        folder.chmod(0o700)
        for child in folder.iterdir():
            child.unlink()
        folder.rmdir()


@pytest.fixture(scope="module")
def unprivileged(tmp_path_factory: pytest.TempPathFactory) -> list[str] | None:
    """How to run a command so that file modes apply to it: [] for this process, a setpriv
    prefix for a child process (root with the capabilities dropped), None when impossible."""
    base = tmp_path_factory.mktemp("probe")
    if _modes_stop([], base / "plain"):
        return []
    if _modes_stop(_DROP_FILE_CAPABILITIES, base / "setpriv"):
        return _DROP_FILE_CAPABILITIES
    return None


# ---------------------------------------------------------------------------------------------
# Running and checking


CHILD = """\
import sys
from homelab_scaffold.cli import main
main(sys.argv[1:])
"""


def run_child(prefix: list[str], args: list[str], stdin: str | None, crash_logs: Path) -> Run:
    """``scaffold ARGS`` in a child process started through ``prefix`` (e.g. setpriv)."""
    env = {k: v for k, v in os.environ.items() if k != "SCAFFOLD_CLOUDFLARE_API_TOKEN"}
    env.update({"NO_COLOR": "1", "TMPDIR": str(crash_logs)})
    result = subprocess.run(
        [*prefix, sys.executable, "-c", CHILD, *args],
        input=stdin or "",
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    return Run(result.returncode, result.stdout, result.stderr)


def run_main(*args: object, stdin: str | None = None) -> Run:
    """``scaffold ARGS`` through ``main()`` (what the installed executable runs): unexpected
    exceptions become exit 3 and a crash log instead of escaping into pytest."""
    return conftest.run_main(*args, stdin=stdin, env={"SCAFFOLD_CLOUDFLARE_API_TOKEN": None})


Snapshot = dict[str, tuple[int, bytes | None]]
# git's stat cache: `git status` may rewrite it after a copy; its content is not the user's.
_NOT_SNAPSHOTTED = {"repo/.git/index"}


def tree_snapshot(root: Path) -> Snapshot:
    """Every path under ``root`` with its mode and bytes (None for folders, and for files this
    user cannot read: their mode is still compared)."""
    found: Snapshot = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        if relative in _NOT_SNAPSHOTTED:
            continue
        mode = path.lstat().st_mode
        content = None if stat.S_ISDIR(mode) or not os.access(path, os.R_OK) else path.read_bytes()
        found[relative] = (mode, content)
    return found


def error_lines(run: Run, expect: Expect) -> list[str]:
    """stderr's lines without the ones a case allows besides the error line."""
    lines = run.stderr_lines
    if expect.click_usage:
        lines = [line for line in lines if not line.startswith(_CLICK_USAGE_PREFIXES)]
    if expect.warnings:
        lines = [line for line in lines if not line.startswith("Warning: ")]
    return lines


def check_outcome(case: Case, run: Run, tmp: Path) -> None:
    """The CLI contract for one case (see the module docstring)."""
    expect = case.expect
    shown = f"exit {run.exit_code}\nstdout:\n{run.stdout}\nstderr:\n{run.stderr}"
    assert run.exit_code == expect.exit, shown
    assert "Traceback" not in run.stdout + run.stderr, shown
    for fragment in expect.stdout:
        assert _substitute(fragment, tmp) in run.stdout, shown
    lines = error_lines(run, expect)
    if expect.exit == 0:
        assert lines == [], shown
        return
    assert len(lines) == 1, f"expected one error line\n{shown}"
    line = lines[0]
    assert line.startswith("Error: "), shown
    for fragment in expect.message:
        assert _substitute(fragment, tmp) in line, f"{fragment!r} not in {line!r}"
    for fragment in expect.absent:
        assert _substitute(fragment, tmp) not in line, f"{fragment!r} in {line!r}"


def test_the_corpus_is_large_and_covers_every_command() -> None:
    commands = {case.command[0] for case in CASES}
    assert len(CASES) >= 100
    assert commands >= {
        "init",
        "list",
        "add",
        "remove",
        "upgrade",
        "regenerate",
        "diff",
        "validate",
        "outdated",
        "secret",
    }


def test_case_names_are_unique_and_described() -> None:
    assert len({c.name for c in CASES}) == len(CASES)
    assert all(c.description.strip() and "\n" not in c.description.strip() for c in CASES)


@pytest.mark.parametrize("case", list(_params()))
def test_bad_input(
    case: Case,
    tmp_path: Path,
    templates: Mapping[str, Path],
    unprivileged: list[str] | None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tmp = tmp_path / "t"
    tmp.mkdir()
    if case.chmod and unprivileged is None:
        pytest.skip("file modes do not stop this user (root without setpriv): skipped")
    crash_logs = tmp_path / "crash-logs"
    crash_logs.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(crash_logs))
    monkeypatch.chdir(tmp)
    lay_down(case, tmp, templates)
    if case.repo:
        git(tmp / "repo", "status", "--porcelain")  # settle git's stat cache first
    before = tree_snapshot(tmp)
    args = [_substitute(a, tmp) for a in case.command]
    try:
        if case.chmod and unprivileged:
            run = run_child(unprivileged, args, case.stdin, crash_logs)
        else:
            run = run_main(*args, stdin=case.stdin)
        after = tree_snapshot(tmp)
    finally:
        for relative in case.chmod or {}:
            (tmp / relative).chmod(0o755)
    check_outcome(case, run, tmp)
    assert list(crash_logs.iterdir()) == [], "a crash log was written"
    changed = sorted(p for p in before.keys() | after.keys() if before.get(p) != after.get(p))
    assert changed == [], f"the command changed {changed}"
