"""What only a real terminal shows (pexpect drives the installed executable in a pseudo-terminal):
coloured diffs and NO_COLOR, init's progress line on stderr, the downgrade question. The same
commands without a terminal print none of it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pexpect
import pytest
from conftest import SMALL_ANSWERS, commit_all, snapshot

SCAFFOLD_EXE = Path(sys.executable).with_name("scaffold")
pytestmark = pytest.mark.skipif(
    not SCAFFOLD_EXE.exists(), reason=f"{SCAFFOLD_EXE} is not installed next to {sys.executable}"
)
SMALL = SMALL_ANSWERS
TIMEOUT = 60


def environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    return {**env, "TERM": "xterm", "LANG": "C.UTF-8", "PROMPT_TOOLKIT_NO_CPR": "1", **extra}


def in_terminal(*args: object, **extra: str) -> tuple[int, str]:
    """Run scaffold in a pseudo-terminal to the end: (exit status, everything it showed)."""
    child = pexpect.spawn(str(SCAFFOLD_EXE), [str(a) for a in args], env=environment(**extra),
                          encoding="utf-8", timeout=TIMEOUT, dimensions=(50, 250))
    child.expect(pexpect.EOF)
    child.close()
    return child.exitstatus, child.before


def piped(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SCAFFOLD_EXE), *map(str, args)], env=environment(),
                          capture_output=True, text=True, check=False, timeout=TIMEOUT)


@pytest.fixture
def edited(make_committed: Callable[..., Path]) -> Path:
    repo = make_committed(SMALL)
    answers = repo / "scaffold.yaml"
    answers.write_text(answers.read_text().replace("lab.example.com", "home.example.org"))
    commit_all(repo)
    return repo


def test_a_terminal_gets_a_coloured_diff_and_no_color_turns_it_off(edited: Path) -> None:
    status, shown = in_terminal("diff", "-C", edited)
    assert status == 0
    assert "\x1b[32m+" in shown and "\x1b[31m-" in shown and "\x1b[36m@@" in shown

    status, shown = in_terminal("diff", "-C", edited, NO_COLOR="1")
    assert status == 0 and "home.example.org" in shown
    assert "\x1b[3" not in shown

    done = piped("diff", "-C", edited)
    assert done.returncode == 0 and "home.example.org" in done.stdout
    assert "\x1b[" not in done.stdout + done.stderr


def test_init_shows_progress_on_a_terminal_and_nothing_elsewhere(tmp_path: Path) -> None:
    status, shown = in_terminal("init", "--no-input", tmp_path / "tty")
    assert status == 0, shown
    assert "generating the RSA-4096 sealing key" in shown
    assert "hashing the generated secrets" in shown
    assert "\r\x1b[K" in shown  # the progress line is erased before the summary
    assert "Wrote " in shown.rpartition("\r\x1b[K")[2]

    done = piped("init", "--no-input", tmp_path / "piped")
    assert done.returncode == 0
    assert "Rendering" not in done.stdout + done.stderr and "\r" not in done.stderr


@pytest.mark.parametrize(("answer", "status"), [("n", 130), ("y", 0)])
def test_a_downgrade_asks_on_a_terminal(
    make_committed: Callable[..., Path], answer: str, status: int
) -> None:
    repo = make_committed(SMALL)
    before = snapshot(repo)
    child = pexpect.spawn(str(SCAFFOLD_EXE), ["upgrade", "traefik", "--version", "40.0.0", "--offline", "-C",
                          str(repo)], env=environment(NO_COLOR="1"), encoding="utf-8",
                          timeout=TIMEOUT, dimensions=(50, 250))
    child.expect(r"41\.3\.0 -> 40\.0\.0 is a downgrade")
    child.expect("Downgrade\\?")
    child.send(answer)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == status, child.before
    if answer == "n":
        assert "Aborted." in child.before
        assert snapshot(repo) == before
    else:
        assert "version: 40.0.0" in (repo / "scaffold.yaml").read_text()
