"""Crash safety: a failure at any write step, Ctrl-C, or a bug never leaves a half-written repo.

``write._before_each_write`` is called before every file operation of a transaction (staging each
temp file, then renaming each into place). These tests run init, add, upgrade, regenerate (and
remove) once to count those steps, then again failing at every single step in turn, with an
``OSError`` (exit 2), a ``KeyboardInterrupt`` (exit 130) or a ``RuntimeError`` (a bug: exit 3)
in rotation, and check that the tree is byte for byte (and mode for mode) what it was, with no
``*.scaffold-tmp``/``*.scaffold-bak`` left; a run with one step more than counted succeeds.
Ctrl-C is raised from the terminal layer (questionary) at every question of ``scaffold init``
and sent as a real SIGINT; unexpected exceptions become one line naming the traceback file.
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import (
    SMALL_ANSWERS,
    Run,
    commit_all,
    git,
    init_committed,
    leftovers,
    run_main,
    without_randomness,
)

from homelab_scaffold.generate import pipeline
from homelab_scaffold.repo import write
from homelab_scaffold.cli import main
from homelab_scaffold.generate.sealing_crypto import KeyPair, generate_key_pair

REPO_URL = "https://github.com/alice/homelab-infrastructure.git"
SCAFFOLD_EXE = Path(sys.executable).with_name("scaffold")

SMALL = SMALL_ANSWERS
# Secrets sealed into Git: SealedSecrets, the sealing key, values.yaml, private folders.
SEALED = f"""\
repo_url: {REPO_URL}
domain: lab.example.com
components:
  authelia: {{}}
"""

Tree = dict[str, tuple[int, bytes | None]]


# ---------------------------------------------------------------------------------------------
# Helpers


def tree(root: Path) -> Tree:
    """Every path under ``root`` except .git, with its mode and bytes (None for folders)."""
    found: Tree = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        if ".git" in relative.split("/"):
            continue
        found[relative] = (path.lstat().st_mode, None if path.is_dir() else path.read_bytes())
    return found


def comparable(found: Tree, prefix: str) -> dict[str, str]:
    """The tracked files of a tree (under ``prefix``) with what is random by design (sealed
    ciphertexts, secret hashes) masked; secrets/ is left out."""
    files = {}
    for path, (_, content) in found.items():
        if content is None or not path.startswith(prefix):
            continue
        relative = path.removeprefix(prefix)
        if not relative.startswith("secrets/"):
            files[relative] = without_randomness(relative, content.decode("utf-8"))
    return files


def make_repo(base: Path, name: str, answers: str) -> Path:
    """``scaffold init --config`` of ``answers`` at ``base/name``, committed to git."""
    return init_committed(base, name, answers)


class Failure:
    """A write hook that counts calls and raises ``error`` at call number ``at``."""

    def __init__(self, at: int | None = None, error: BaseException | None = None) -> None:
        self.calls = 0
        self.at = at
        self.error = error

    def __call__(self, path: Path) -> None:
        self.calls += 1
        if self.calls == self.at and self.error is not None:
            raise self.error


# Rotated over the steps: (error, exit code, a fragment of the one stderr line).
ERRORS: list[tuple[Callable[[], BaseException], int, str]] = [
    (lambda: OSError(errno.EIO, "injected I/O error"), 2, "nothing was changed"),
    (lambda: KeyboardInterrupt(), 130, "Aborted."),
    (lambda: RuntimeError("injected bug"), 3, "RuntimeError: injected bug"),
]


@pytest.fixture(scope="module")
def key_pair() -> KeyPair:
    """One sealing key for the module (generating one takes seconds)."""
    return generate_key_pair()


@pytest.fixture(scope="module", autouse=True)
def fast_secrets(key_pair: KeyPair) -> Iterator[None]:
    """Seal with the module's key and hash Authelia's password cheaply: each of the hundreds of
    runs below would otherwise spend seconds on RSA key generation and argon2id."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pipeline, "generate_key_pair", lambda: key_pair)
        patch.setattr(pipeline, "argon2id", lambda value: f"$argon2id$test${len(value)}")
        yield


def _edit_small(root: Path) -> None:
    """Hand edits before `regenerate`: a new domain, test-app out, longhorn in, and an edit of a
    generated file that the new domain touches too (a three-way merge)."""
    answers = (root / "scaffold.yaml").read_text(encoding="utf-8")
    answers = answers.replace("lab.example.com", "home.example.org")
    answers = answers.replace("  test-app: {}\n", "  longhorn: {replicas: 2}\n")
    (root / "scaffold.yaml").write_text(answers, encoding="utf-8")
    values = root / "kubernetes/system/argocd/values.yaml"
    values.write_text("# tuned by hand\n" + values.read_text(encoding="utf-8"), encoding="utf-8")
    commit_all(root)


@pytest.fixture(scope="module")
def bases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """Committed repositories the scenarios copy: built on first use."""
    folder = tmp_path_factory.mktemp("bases")

    class Bases(dict[str, Path]):
        def __missing__(self, name: str) -> Path:
            if name == "edited":
                root = shutil.copytree(self["small"], folder / "edited", symlinks=True)
                _edit_small(root)
            else:
                root = make_repo(folder, name, {"small": SMALL, "sealed": SEALED}[name])
            self[name] = root
            return root

    yield Bases()


# name -> (base repo or None for init, the command's arguments after the repo is at REPO)
SCENARIOS: dict[str, tuple[str | None, tuple[str, ...]]] = {
    "init into an empty folder": (None, ("init", "{repo}", "--config", "{work}/small.yaml")),
    "init a sealed stack into an empty git repo": (
        None,
        ("init", "{repo}", "--config", "{work}/sealed.yaml"),
    ),
    "add longhorn": ("small", ("add", "longhorn", "--set", "replicas=2", "-C", "{repo}")),
    "add a helm-app instance": (
        "small",
        (
            "add",
            "helm-app",
            "grafana",
            "--repo",
            "https://grafana.github.io/helm-charts",
            "--chart",
            "grafana",
            "--version",
            "8.5.0",
            "--needs",
            "traefik",
            "-C",
            "{repo}",
        ),
    ),
    "add vaultwarden to a sealed repo": ("sealed", ("add", "vaultwarden", "-C", "{repo}")),
    "upgrade traefik across the v39 key move": (
        "small",
        ("upgrade", "traefik", "--version", "38.0.0", "--offline", "--yes", "-C", "{repo}"),
    ),
    "upgrade cert-manager in a sealed repo": (
        "sealed",
        ("upgrade", "cert-manager", "--version", "v1.14.4", "--offline", "--yes", "-C", "{repo}"),
    ),
    "regenerate after hand edits": ("edited", ("regenerate", "-C", "{repo}")),
    "remove test-app": ("small", ("remove", "--yes", "test-app", "-C", "{repo}")),
}


def prepare(scenario: str, work: Path, bases: dict[str, Path]) -> list[str]:
    """A fresh ``work`` folder for one run of ``scenario``, the repo (or the init destination)
    at work/homelab; returns the command line."""
    if work.exists():
        shutil.rmtree(work)
    work.mkdir()
    base, args = SCENARIOS[scenario]
    repo = work / "homelab"
    if base is None:
        (work / "small.yaml").write_text(SMALL, encoding="utf-8")
        (work / "sealed.yaml").write_text(SEALED, encoding="utf-8")
        repo.mkdir()
        if "git repo" in scenario:
            assert git(repo, "init", "-q").returncode == 0
    else:
        shutil.copytree(bases[base], repo, symlinks=True)
    return [a.replace("{repo}", str(repo)).replace("{work}", str(work)) for a in args]


def check_failed_run(run: Run, kind: int, crash_logs: Path) -> None:
    """One stderr line of the expected kind; a bug also leaves exactly one traceback file."""
    _, exit_code, fragment = ERRORS[kind]
    assert run.exit_code == exit_code, (run.stdout, run.stderr)
    assert len(run.stderr_lines) == 1, run.stderr
    assert fragment in run.stderr
    assert "Traceback" not in run.stderr
    logs = list(crash_logs.iterdir())
    if exit_code == 3:
        (log,) = logs
        assert str(log) in run.stderr and "--debug" in run.stderr
        assert "RuntimeError: injected bug" in log.read_text(encoding="utf-8")
        log.unlink()
    else:
        assert logs == []


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_a_failure_at_any_write_step_leaves_the_old_tree(
    scenario: str, bases: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    crash_logs = tmp_path / "crash-logs"
    crash_logs.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(crash_logs))
    work = tmp_path / "work"

    args = prepare(scenario, work, bases)
    old = tree(work)
    counting = Failure()
    monkeypatch.setattr(write, "_before_each_write", counting)
    done = run_main(*args)
    assert done.exit_code == 0, done.stderr
    new = tree(work)
    total = counting.calls
    assert new != old and total >= 4
    assert leftovers(work) == []

    for step in range(1, total + 1):
        args = prepare(scenario, work, bases)
        kind = step % len(ERRORS)
        monkeypatch.setattr(write, "_before_each_write", Failure(step, ERRORS[kind][0]()))
        run = run_main(*args)
        check_failed_run(run, kind, crash_logs)
        assert tree(work) == old, f"step {step} of {total} changed the tree"
        assert leftovers(work) == [], f"step {step} of {total}"

    # One past the last counted step fails nothing: the loop covered every step.
    args = prepare(scenario, work, bases)
    monkeypatch.setattr(write, "_before_each_write", Failure(total + 1, RuntimeError("unused")))
    assert run_main(*args).exit_code == 0
    assert comparable(tree(work), "homelab/") == comparable(new, "homelab/")


@pytest.mark.parametrize("dest", ["homelab", "a/b/homelab"])
def test_a_failed_init_into_a_missing_folder_leaves_no_folder(
    dest: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "small.yaml"
    config.write_text(SMALL, encoding="utf-8")
    before = tree(tmp_path)
    monkeypatch.setattr(write, "_before_each_write", Failure(1, OSError(errno.EIO, "injected")))
    run = run_main("init", tmp_path / dest, "--config", config)
    assert run.exit_code == 2
    assert tree(tmp_path) == before


# ---------------------------------------------------------------------------------------------
# Ctrl-C


class Terminal:
    """Stands in for questionary: answers every question with its default, and raises
    KeyboardInterrupt (what Ctrl-C does to ``unsafe_ask``) at question number ``interrupt_at``."""

    def __init__(self, interrupt_at: int | None = None) -> None:
        self.asked: list[str] = []
        self.interrupt_at = interrupt_at

    def _question(self, message: str, answer: Any) -> Any:
        terminal = self

        class Question:
            def unsafe_ask(self) -> Any:
                terminal.asked.append(message)
                if len(terminal.asked) == terminal.interrupt_at:
                    raise KeyboardInterrupt
                return answer

        return Question()

    def text(self, message: str, default: str = "", **_: Any) -> Any:
        return self._question(message, default)

    def password(self, message: str, **_: Any) -> Any:
        return self._question(message, "a-token-typed-in")

    def select(self, message: str, choices: list[Any], default: Any = None, **_: Any) -> Any:
        return self._question(message, default)

    def confirm(self, message: str, default: bool = True, **_: Any) -> Any:
        return self._question(message, default)

    def checkbox(self, message: str, choices: list[Any], **_: Any) -> Any:
        return self._question(message, [c.value for c in choices if c.checked])


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> Callable[[int | None], Terminal]:
    """Install a ``Terminal`` (and pretend stdin and stdout are terminals)."""
    import questionary

    from homelab_scaffold import prompts

    def install(interrupt_at: int | None) -> Terminal:
        fake = Terminal(interrupt_at)
        for name in ("text", "password", "select", "confirm", "checkbox"):
            monkeypatch.setattr(questionary, name, getattr(fake, name))
        monkeypatch.setattr(prompts, "terminal_available", lambda: True)
        return fake

    return install


INTERACTIVE = {
    # every question of the interactive init (globals, components, prompted options)
    "init": lambda work: ["init", str(work / "homelab")],
    # a config that needs a user-provided secret: the hidden prompt for the Cloudflare token
    "init asking a secret": lambda work: [
        "init",
        str(work / "homelab"),
        "--config",
        str(work / "cloudflare.yaml"),
    ],
}
CLOUDFLARE = f"""\
repo_url: {REPO_URL}
components:
  cert-manager:
    issuer: letsencrypt-cloudflare
"""


def _interactive_work(tmp_path: Path, dest_kind: str) -> Path:
    work = tmp_path / "work"
    work.mkdir()
    (work / "cloudflare.yaml").write_text(CLOUDFLARE, encoding="utf-8")
    if dest_kind == "empty git repo":
        (work / "homelab").mkdir()
        assert git(work / "homelab", "init", "-q").returncode == 0
    return work


@pytest.mark.parametrize("dest_kind", ["missing", "empty git repo"])
@pytest.mark.parametrize("flow", list(INTERACTIVE))
def test_ctrl_c_at_any_question_leaves_nothing_behind(
    flow: str,
    dest_kind: str,
    tmp_path: Path,
    terminal: Callable[[int | None], Terminal],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SCAFFOLD_CLOUDFLARE_API_TOKEN", raising=False)
    work = _interactive_work(tmp_path, dest_kind)
    before = tree(tmp_path)
    counting = terminal(None)
    done = run_main(*INTERACTIVE[flow](work))
    assert done.exit_code == 0, done.stderr
    assert tree(tmp_path) != before
    questions = len(counting.asked)
    assert questions >= 1

    for question in range(1, questions + 1):
        shutil.rmtree(work)
        work = _interactive_work(tmp_path, dest_kind)
        fake = terminal(question)
        run = run_main(*INTERACTIVE[flow](work))
        assert run.exit_code == 130, (question, fake.asked, run.stderr)
        assert run.stderr_lines == ["Aborted."], run.stderr
        assert tree(tmp_path) == before, f"Ctrl-C at {fake.asked[-1]!r} left files behind"


@pytest.mark.skipif(not SCAFFOLD_EXE.exists(), reason=f"{SCAFFOLD_EXE} is not installed")
def test_a_real_sigint_at_a_prompt_leaves_nothing_behind(tmp_path: Path) -> None:
    pexpect = pytest.importorskip("pexpect")
    before = tree(tmp_path)
    env = {**os.environ, "TERM": "xterm", "PROMPT_TOOLKIT_NO_CPR": "1", "NO_COLOR": "1"}
    child = pexpect.spawn(
        str(SCAFFOLD_EXE),
        ["init", str(tmp_path / "homelab")],
        env=env,
        encoding="utf-8",
        timeout=30,
        dimensions=(50, 200),
    )
    child.expect("Base domain")
    child.kill(signal.SIGINT)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 130 or child.signalstatus == signal.SIGINT, child.before
    assert "Traceback" not in child.before
    assert tree(tmp_path) == before


# A SIGINT delivered by the kernel while files are being written (not a raised exception).
# (Python keeps SIGINT ignored when its parent ignored it, as CI runners and non-interactive
# shells may do; a user's terminal does not, so the script restores the default handler.)
SIGINT_SCRIPT = """\
import os, signal, sys
from homelab_scaffold.repo import write
from homelab_scaffold.cli import main
signal.signal(signal.SIGINT, signal.default_int_handler)
calls = 0
def hook(path):
    global calls
    calls += 1
    if calls == int(sys.argv[1]):
        os.kill(os.getpid(), signal.SIGINT)
write._before_each_write = hook
main(sys.argv[2:])
"""


@pytest.mark.parametrize("position", ["first staging", "first rename", "state file"])
def test_a_real_sigint_while_writing_restores_the_old_tree(
    position: str, bases: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    counting = Failure()
    monkeypatch.setattr(write, "_before_each_write", counting)
    reference = shutil.copytree(bases["small"], tmp_path / "reference", symlinks=True)
    assert run_main("add", "longhorn", "-C", reference).exit_code == 0
    total = counting.calls  # every file is staged, then renamed: the state file's rename last
    step = {"first staging": 1, "first rename": total // 2 + 1, "state file": total}[position]
    repo = shutil.copytree(bases["small"], tmp_path / "homelab", symlinks=True)
    before = tree(repo)
    result = subprocess.run(
        [sys.executable, "-c", SIGINT_SCRIPT, str(step), "add", "longhorn", "-C", str(repo)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 130, result.stderr
    assert [line for line in result.stderr.splitlines() if line.strip()] == ["Aborted."]
    assert tree(repo) == before
    assert leftovers(repo) == []


# ---------------------------------------------------------------------------------------------
# Unexpected exceptions: one line, a traceback file, --debug


def _crash(*args: object, **kwargs: object) -> None:
    raise RuntimeError("injected bug")


COMMANDS = {
    "init": lambda repo, work: ["init", str(work / "new"), "--config", str(work / "small.yaml")],
    "add": lambda repo, work: ["add", "longhorn", "-C", str(repo)],
    "remove": lambda repo, work: ["remove", "--yes", "test-app", "-C", str(repo)],
    "upgrade": lambda repo, work: [
        "upgrade", "traefik", "--version", "40.0.0", "--offline", "--yes", "-C", str(repo)
    ],
    "regenerate": lambda repo, work: ["regenerate", "-C", str(repo)],
    "diff": lambda repo, work: ["diff", "-C", str(repo)],
}


@pytest.mark.parametrize("command", list(COMMANDS))
def test_an_unexpected_exception_is_one_line_naming_the_traceback_file(
    command: str,
    bases: dict[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    crash_logs = tmp_path / "crash-logs"
    crash_logs.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(crash_logs))
    work = tmp_path / "work"
    work.mkdir()
    (work / "small.yaml").write_text(SMALL, encoding="utf-8")
    repo = shutil.copytree(bases["small"], work / "homelab", symlinks=True)
    before = tree(work)
    monkeypatch.setattr(pipeline, "render_plan", _crash)
    run = run_main(*COMMANDS[command](repo, work))
    assert run.exit_code == 3, run.stderr
    assert len(run.stderr_lines) == 1 and run.stderr.startswith("Error: "), run.stderr
    (log,) = crash_logs.iterdir()
    line = run.stderr_lines[0]
    assert "RuntimeError: injected bug" in line and str(log) in line and "--debug" in line
    assert "Traceback" not in run.stderr
    text = log.read_text(encoding="utf-8")
    assert text.startswith("Traceback (most recent call last):")
    assert "in render_repository" in text and "RuntimeError: injected bug" in text
    assert tree(work) == before
    with pytest.raises(RuntimeError, match="injected bug"):
        main(["--debug", *COMMANDS[command](repo, work)])
    assert tree(work) == before


DEBUG_SCRIPT = """\
import sys
from homelab_scaffold.generate import pipeline
from homelab_scaffold.cli import main
def crash(*args, **kwargs):
    raise RuntimeError("injected bug")
pipeline.render_plan = crash
main(sys.argv[1:])
"""


@pytest.mark.parametrize("debug", [False, True])
def test_the_executable_prints_the_traceback_only_with_debug(
    debug: bool, bases: dict[str, Path], tmp_path: Path
) -> None:
    repo = shutil.copytree(bases["small"], tmp_path / "homelab", symlinks=True)
    logs = tmp_path / "logs"
    logs.mkdir()
    args = [*(["--debug"] if debug else []), "regenerate", "-C", str(repo)]
    result = subprocess.run(
        [sys.executable, "-c", DEBUG_SCRIPT, *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "TMPDIR": str(logs)},
    )
    if debug:
        assert result.returncode == 1
        assert "Traceback (most recent call last)" in result.stderr
        assert result.stderr.rstrip().endswith("RuntimeError: injected bug")
        assert list(logs.iterdir()) == []
    else:
        assert result.returncode == 3
        (log,) = logs.iterdir()
        assert result.stderr.splitlines() == [
            f"Error: unexpected RuntimeError: injected bug (a bug; traceback in {log}, "
            "or re-run with --debug)"
        ]
