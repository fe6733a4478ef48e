"""Shared fixtures: the CLI through CliRunner, byte-for-byte tree snapshots, real git repositories,
rendered trees reused across tests, and the ``--update-goldens`` switch for examples/<name>/repo/.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from homelab_scaffold.cli import cli, main

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES_DIR = ROOT / "examples"
REPO_URL = "https://github.com/alice/homelab-infrastructure.git"
# Generated files that are random by design (gitignored); everything else must be deterministic.
SECRETS_PREFIX = "secrets/"


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """In CI (``CI=true``) a test that would skip because ../shared is missing fails instead:
    the schema checks are the point, and CI always has ../shared beside the project."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and _in_ci():
        reason = str(report.longrepr[-1]) if isinstance(report.longrepr, tuple) else ""
        if "shared" in reason:
            report.outcome = "failed"
            report.longrepr = f"CI=true but the test would skip: {reason}"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-goldens",
        action="store_true",
        default=False,
        help="Rewrite examples/<name>/repo/ from the current templates instead of diffing them.",
    )


@pytest.fixture
def update_goldens(request: pytest.FixtureRequest) -> bool:
    """True when pytest runs with --update-goldens."""
    return bool(request.config.getoption("--update-goldens"))


# ---------------------------------------------------------------------------------------------
# Running the CLI


@dataclass(frozen=True)
class Run:
    """What one CLI invocation did."""

    exit_code: int
    stdout: str
    stderr: str

    @property
    def stderr_lines(self) -> list[str]:
        """Non-empty lines written to stderr."""
        return [line for line in self.stderr.splitlines() if line.strip()]


def invoke(*args: object, stdin: str | None = None, env: Mapping[str, str] | None = None) -> Run:
    """Run ``scaffold ARGS`` in-process through click's CliRunner (stdin is not a terminal)."""
    result = CliRunner().invoke(
        cli, [str(a) for a in args], input=stdin, env=env, catch_exceptions=False
    )
    return Run(result.exit_code, result.stdout, result.stderr)


def run_main(
    *args: object,
    stdin: str | None = None,
    env: Mapping[str, str | None] | None = None,
    color: bool = False,
) -> Run:
    """``scaffold ARGS`` through ``main()``, as the installed executable runs it: usage errors
    are one line, a crash is exit 3. ``color=True`` keeps ANSI styles, as a terminal would
    (stdout is still not a terminal: ``isatty()`` is False)."""
    runner = CliRunner()
    with runner.isolation(input=stdin or "", env=env, color=color) as (out, err, _):
        try:
            main([str(a) for a in args])
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 1
        return Run(code, out.getvalue().decode("utf-8", "replace"),
                   err.getvalue().decode("utf-8", "replace"))


@pytest.fixture
def scaffold() -> Callable[..., Run]:
    """``scaffold(*args)`` runs the CLI in-process and returns a ``Run``."""
    return invoke


# ---------------------------------------------------------------------------------------------
# The catalog's pins (tests read them; only tests/test_catalog.py states them, as the facts)


@cache
def pinned(component: str) -> str:
    """The chart version the built-in catalog pins for ``component``."""
    from homelab_scaffold.catalog.loader import load_catalog

    chart = load_catalog().components[component].chart
    assert chart is not None, f"{component} has no chart"
    return chart.version


# ---------------------------------------------------------------------------------------------
# Trees on disk

Snapshot = dict[str, tuple[int, bytes | None]]


def snapshot(root: Path) -> Snapshot:
    """Every path under ``root`` (itself included) with its mode and bytes (None for folders)."""
    if not root.exists():
        return {}
    paths = [root, *sorted(root.rglob("*"))]
    return {
        p.relative_to(root).as_posix(): (p.lstat().st_mode, None if p.is_dir() else p.read_bytes())
        for p in paths
    }


def read_tree(root: Path, *, secrets: bool = False) -> dict[str, str]:
    """{posix path: text} of every file under ``root``; ``secrets/`` only when asked for."""
    tree = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        if not path.is_file() or relative.startswith(".git/"):
            continue
        if relative.startswith(SECRETS_PREFIX) and not secrets:
            continue
        tree[relative] = path.read_text(encoding="utf-8")
    return tree


def yaml_documents(text: str) -> list[dict[str, Any]]:
    """The non-empty documents of a YAML file."""
    return [doc for doc in yaml.safe_load_all(text) if doc is not None]


def write_config(path: Path, data: Mapping[str, Any] | str) -> Path:
    """Write an answers file (a mapping is dumped as YAML, a string as is)."""
    text = data if isinstance(data, str) else yaml.safe_dump(dict(data), sort_keys=False)
    path.write_text(text, encoding="utf-8")
    return path


RANDOM_MARK = "RANDOM-PER-INIT"
STATE_PATH = ".scaffold/state.json"


def _unsealed_text(text: str) -> str:
    """A SealedSecret manifest with its ciphertexts (fresh session keys every run) replaced."""
    lines, block_indent = [], None
    for line in text.splitlines(keepends=True):
        indent = len(line) - len(line.lstrip(" "))
        if block_indent is not None and line.strip() and indent <= block_indent:
            block_indent = None
        if block_indent is not None and ": " in line:
            key = line.split(": ", 1)[0]
            line = f"{key}: {RANDOM_MARK}\n"
        if line.strip() == "encryptedData:":
            block_indent = indent
        lines.append(line)
    return "".join(lines)


def without_randomness(path: str, text: str) -> str:
    """``text`` with the parts that are random by design replaced by a fixed mark: SealedSecret
    ciphertexts, and the state file's hashes of secret files (and its copies of sealed files)."""
    if path == STATE_PATH:
        data = json.loads(text)
        data["secret_hashes"] = {p: RANDOM_MARK for p in data.get("secret_hashes", {})}
        data["files"] = {p: without_randomness(p, t) for p, t in data["files"].items()}
        return json.dumps(data, indent=1, ensure_ascii=False) + "\n"
    if "kind: SealedSecret" in text:
        return _unsealed_text(text)
    return text


# ---------------------------------------------------------------------------------------------
# Real git repositories


def git(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run git in ``cwd`` (no global or system config, so the host's settings do not leak in)."""
    env = {
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": "/dev/null",
        "HOME": str(cwd),
        "PATH": "/usr/local/bin:/usr/bin:/bin",
    }
    return subprocess.run(
        ["git", "-c", "init.defaultBranch=main", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def commit_all(root: Path, message: str = "change") -> None:
    """Commit everything in ``root`` (the user's habit between scaffold commands)."""
    assert git(root, "add", "-A").returncode == 0
    identity = ("-c", "user.name=Test User", "-c", "user.email=test@example.invalid")
    result = git(root, *identity, "commit", "-q", "--allow-empty", "-m", message)
    assert result.returncode == 0, result.stderr


def git_init(path: Path, origin: str | None = None) -> Path:
    """A fresh git repository at ``path`` (created), with ``origin`` when given."""
    path.mkdir(parents=True, exist_ok=True)
    assert git(path, "init", "-q").returncode == 0
    if origin is not None:
        assert git(path, "remote", "add", "origin", origin).returncode == 0
    return path


def init_committed(base: Path, name: str, answers: str) -> Path:
    """``scaffold init --config`` of ``answers`` at ``base/name``, then a git repository holding
    it as one commit: the starting point of most day-two tests."""
    config = base / f"{name}.yaml"
    config.write_text(answers, encoding="utf-8")
    root = base / name
    run = invoke("init", root, "--config", config)
    assert run.exit_code == 0, run.stderr
    git_init(root)
    commit_all(root, "init")
    return root


# Stacks many tests start from: the everyday small stack (traefik + test-app, metallb and argocd
# added, manual secrets) and one with SealedSecrets (vaultwarden, longhorn and the controller).
SMALL_ANSWERS = f"""\
repo_url: {REPO_URL}
domain: lab.example.com
secrets: manual
components:
  traefik: {{}}
  test-app: {{}}
"""
SEALED_ANSWERS = f"""\
repo_url: {REPO_URL}
domain: lab.example.com
components:
  vaultwarden: {{}}
"""

# What an interrupted transaction leaves beside its files (see repo/write.py).
LEFTOVER_SUFFIXES = (".scaffold-tmp", ".scaffold-bak")


def leftovers(root: Path) -> list[str]:
    """Temp and backup files of a transaction, relative to ``root``."""
    return sorted(
        p.relative_to(root).as_posix() for p in root.rglob("*") if p.name.endswith(LEFTOVER_SUFFIXES)
    )


# A real crash: the process kills itself (SIGKILL, no handler runs) at write step argv[1].
KILL_HOOK = """\
import os, signal, sys
from homelab_scaffold.repo import write
calls = 0
def hook(path):
    global calls
    calls += 1
    if calls == int(sys.argv[1]):
        os.kill(os.getpid(), signal.SIGKILL)
write._before_each_write = hook
"""
KILL_SCRIPT = KILL_HOOK + "from homelab_scaffold.cli import main\nmain(sys.argv[2:])\n"


def run_killed(kill_at: int, *args: object) -> subprocess.CompletedProcess[str]:
    """``scaffold ARGS`` in a child process that is killed at write step ``kill_at``."""
    return subprocess.run(
        [sys.executable, "-c", KILL_SCRIPT, str(kill_at), *[str(a) for a in args]],
        capture_output=True,
        text=True,
        check=False,
    )


# ---------------------------------------------------------------------------------------------
# Rendered trees shared by many tests (rendering is the slow part, so render each input once)


@dataclass(frozen=True)
class Generated:
    """A repository ``scaffold init`` wrote, with what it printed."""

    root: Path
    run: Run

    def tree(self, *, secrets: bool = False) -> dict[str, str]:
        """The files, ``secrets/`` excluded unless asked for."""
        return read_tree(self.root, secrets=secrets)

    def answers(self) -> dict[str, Any]:
        """The scaffold.yaml init wrote, parsed."""
        data: dict[str, Any] = yaml.safe_load((self.root / "scaffold.yaml").read_text())
        return data


def generate(dest: Path, *args: object, env: Mapping[str, str] | None = None) -> Generated:
    """``scaffold init DEST ARGS`` that must succeed."""
    run = invoke("init", dest, *args, env=env)
    assert run.exit_code == 0, run.stderr
    return Generated(dest, run)


@pytest.fixture(scope="session")
def rendered_once() -> dict[str, Path]:
    """Cache: answers text (and init arguments) -> a committed repository rendered from it."""
    return {}


@pytest.fixture
def make_committed(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, rendered_once: dict[str, Path]
) -> Callable[..., Path]:
    """``make_committed(answers_text, *init_args)``: a fresh copy (at ``tmp_path/homelab``) of a
    git repository that ``scaffold init --config`` rendered from the answers and committed;
    each distinct input is rendered once per session."""

    def make(config: str, *args: str) -> Path:
        key = config + "\0" + "\0".join(args)
        if key not in rendered_once:
            base = tmp_path_factory.mktemp("rendered")
            (base / "answers.yaml").write_text(config, encoding="utf-8")
            root = base / "homelab"
            run = invoke("init", root, "--config", base / "answers.yaml", *args)
            assert run.exit_code == 0, run.stderr
            assert git(root, "init", "-q").returncode == 0
            assert git(root, "config", "user.name", "Test User").returncode == 0
            assert git(root, "config", "user.email", "test@example.invalid").returncode == 0
            commit_all(root, "scaffold init")
            rendered_once[key] = root
        dest = tmp_path / "homelab"
        shutil.copytree(rendered_once[key], dest, symlinks=True)
        return dest

    return make


@pytest.fixture(scope="session")
def full_stack(tmp_path_factory: pytest.TempPathFactory) -> Generated:
    """``scaffold init --no-input`` with a real repo URL: the default (full) stack."""
    dest = tmp_path_factory.mktemp("full") / "homelab"
    return generate(dest, "--no-input", "--set", f"repo_url={REPO_URL}")


# Values the examples need from the user (given through the environment, as a user would).
EXAMPLE_ENV = {"SCAFFOLD_CLOUDFLARE_API_TOKEN": "example-token-not-a-real-cloudflare-token"}


def example_names() -> list[str]:
    """Every examples/<name>/ holding a scaffold.yaml."""
    return sorted(p.parent.name for p in EXAMPLES_DIR.glob("*/scaffold.yaml"))


@pytest.fixture(scope="session")
def rendered_examples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Generated]:
    """Each example config rendered by ``scaffold init --config`` into a fresh folder."""
    base = tmp_path_factory.mktemp("examples")
    return {
        name: generate(
            base / name, "--config", EXAMPLES_DIR / name / "scaffold.yaml", env=EXAMPLE_ENV
        )
        for name in example_names()
    }


@pytest.fixture(scope="session")
def all_stacks(
    full_stack: Generated, rendered_examples: dict[str, Generated]
) -> dict[str, Generated]:
    """The --no-input full stack and every example, by name."""
    return {"no-input": full_stack, **{f"example {n}": g for n, g in rendered_examples.items()}}
