"""Three-way merge: table cases, properties, and agreement with ``git merge-file --diff3``."""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import tempfile
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from homelab_scaffold.repo.merge import MergeResult, merge_texts

GIT = shutil.which("git")
needs_git = pytest.mark.skipif(GIT is None, reason="git is not installed")


def lines(*items: str) -> str:
    return "".join(f"{item}\n" for item in items)


def conflict(yours: str, previous: str, new: str) -> str:
    return (
        f"<<<<<<< yours\n{yours}||||||| scaffold (previous)\n{previous}"
        f"=======\n{new}>>>>>>> scaffold (new)\n"
    )


BASE = lines("a", "b", "c", "d", "e")

# (id, base, ours, theirs, expected text, expected conflicts)
CASES = [
    ("edit-top-vs-edit-bottom", BASE, lines("A", "b", "c", "d", "e"),
     lines("a", "b", "c", "d", "E"), lines("A", "b", "c", "d", "E"), 0),
    ("edit-bottom-vs-edit-top", BASE, lines("a", "b", "c", "d", "E"),
     lines("A", "b", "c", "d", "e"), lines("A", "b", "c", "d", "E"), 0),
    ("edits-one-line-apart", BASE, lines("a", "B", "c", "d", "e"),
     lines("a", "b", "c", "D", "e"), lines("a", "B", "c", "D", "e"), 0),
    ("same-line-edited-differently", BASE, lines("a", "b", "mine", "d", "e"),
     lines("a", "b", "new", "d", "e"),
     lines("a", "b") + conflict(lines("mine"), lines("c"), lines("new")) + lines("d", "e"), 1),
    # Like git and diff3: edits on adjacent lines touch, so their order is the user's call.
    ("adjacent-edits-conflict", BASE, lines("a", "B", "c", "d", "e"),
     lines("a", "b", "C", "d", "e"),
     lines("a") + conflict(lines("B", "c"), lines("b", "c"), lines("b", "C")) + lines("d", "e"),
     1),
    ("identical-change-on-both-sides", BASE, lines("a", "b", "X", "d", "e"),
     lines("a", "b", "X", "d", "e"), lines("a", "b", "X", "d", "e"), 0),
    ("identical-change-plus-separate-edit", BASE, lines("a", "b", "X", "d", "e"),
     lines("A", "b", "X", "d", "e"), lines("A", "b", "X", "d", "e"), 0),
    ("both-add-same-spot-differently", BASE, lines("a", "b", "c", "mine", "d", "e"),
     lines("a", "b", "c", "new", "d", "e"),
     lines("a", "b", "c") + conflict(lines("mine"), "", lines("new")) + lines("d", "e"), 1),
    ("both-add-same-line-same-spot", BASE, lines("a", "b", "c", "x", "d", "e"),
     lines("a", "b", "c", "x", "d", "e"), lines("a", "b", "c", "x", "d", "e"), 0),
    ("user-deletes-render-edits-same-line", BASE, lines("a", "b", "d", "e"),
     lines("a", "b", "C", "d", "e"),
     lines("a", "b") + conflict("", lines("c"), lines("C")) + lines("d", "e"), 1),
    ("user-edits-render-deletes-same-line", BASE, lines("a", "b", "mine", "d", "e"),
     lines("a", "b", "d", "e"),
     lines("a", "b") + conflict(lines("mine"), lines("c"), "") + lines("d", "e"), 1),
    ("user-deletes-render-edits-elsewhere", BASE, lines("a", "c", "d", "e"),
     lines("a", "b", "c", "d", "E"), lines("a", "c", "d", "E"), 0),
    ("render-deletes-user-edits-elsewhere", BASE, lines("A", "b", "c", "d", "e"),
     lines("a", "b", "c", "e"), lines("A", "b", "c", "e"), 0),
    # Lines the user left alone are the render's to change, even next to a conflict.
    ("render-deletes-untouched-line-beside-conflict", BASE, lines("A", "b", "c", "d", "e"),
     lines("X", "b", "c", "d"), conflict(lines("A"), lines("a"), lines("X")) + lines("b", "c", "d"),
     1),
    ("both-delete-same-line", BASE, lines("a", "b", "d", "e"), lines("a", "b", "d", "e"),
     lines("a", "b", "d", "e"), 0),
    ("two-separate-conflicts", BASE, lines("1", "b", "c", "d", "5"),
     lines("one", "b", "c", "d", "five"),
     conflict(lines("1"), lines("a"), lines("one")) + lines("b", "c", "d")
     + conflict(lines("5"), lines("e"), lines("five")), 2),
    ("empty-base-both-add", "", lines("mine"), lines("new"),
     conflict(lines("mine"), "", lines("new")), 1),
    ("empty-base-only-render-adds", "", "", lines("new"), lines("new"), 0),
    ("user-empties-file-render-unchanged", BASE, "", BASE, "", 0),
    ("user-empties-file-render-changes", lines("a"), "", lines("A"),
     conflict("", lines("a"), lines("A")), 1),
    ("render-empties-file-user-unchanged", BASE, BASE, "", "", 0),
    ("no-final-newline-clean", "a\nb\nc\nd", "A\nb\nc\nd", "a\nb\nc\nD", "A\nb\nc\nD", 0),
    ("no-final-newline-kept-from-render", lines("a", "b", "c"), lines("A", "b", "c"), "a\nb\nc",
     "A\nb\nc", 0),
    # Markers always start a line of their own, even after a line without a newline.
    ("no-final-newline-conflict", "a\nb\nc", "a\nb\nmine", "a\nb\nnew",
     lines("a", "b") + conflict(lines("mine"), lines("c"), lines("new")), 1),
    ("newline-added-vs-line-edited", "a\nb", "a\nb\n", "a\nB",
     lines("a") + conflict(lines("b"), lines("b"), lines("B")), 1),
]  # fmt: skip


@pytest.mark.parametrize(
    ("base", "ours", "theirs", "expected", "conflicts"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_merge_table(base: str, ours: str, theirs: str, expected: str, conflicts: int) -> None:
    result = merge_texts(base, ours, theirs)
    assert result.text == expected
    assert result.conflicts == conflicts
    assert result.clean is (conflicts == 0)


@needs_git
@pytest.mark.parametrize(
    ("base", "ours", "theirs"), [pytest.param(*case[1:4], id=case[0]) for case in CASES]
)
def test_table_cases_match_git_byte_for_byte(base: str, ours: str, theirs: str) -> None:
    result = merge_texts(base, ours, theirs)
    assert (result.text, result.conflicts) == git_merge(base, ours, theirs)


def test_labels_are_parameters() -> None:
    result = merge_texts(
        lines("a"), lines("b"), lines("c"), ours_label="L", base_label="B", theirs_label="R"
    )
    assert result.text == lines("<<<<<<< L", "b", "||||||| B", "a", "=======", "c", ">>>>>>> R")


def test_empty_labels_leave_bare_markers() -> None:
    result = merge_texts(
        lines("a"), lines("b"), lines("c"), ours_label="", base_label="", theirs_label=""
    )
    assert result.text == lines("<<<<<<<", "b", "|||||||", "a", "=======", "c", ">>>>>>>")


def test_label_with_line_break_is_refused() -> None:
    with pytest.raises(ValueError, match="single line"):
        merge_texts(lines("a"), lines("b"), lines("c"), ours_label="two\nlines")


def test_crlf_file_gets_crlf_markers() -> None:
    base, ours, theirs = "a\r\nb\r\nc\r\n", "a\r\nB\r\nc\r\n", "a\r\nX\r\nc\r\n"
    result = merge_texts(base, ours, theirs)
    marked = conflict(lines("B"), lines("b"), lines("X")).replace("\n", "\r\n")
    assert result.text == "a\r\n" + marked + "c\r\n"


def test_only_newline_characters_split_lines() -> None:
    # A form feed is content to git and YAML; were it a line break, these two edits would sit
    # on different lines with one between them and merge silently.
    result = merge_texts(lines("a\fx\fb"), lines("a\fx\fB"), lines("A\fx\fb"))
    assert result.conflicts == 1
    assert result.text == conflict(lines("a\fx\fB"), lines("a\fx\fb"), lines("A\fx\fb"))


def test_result_is_frozen() -> None:
    result = merge_texts("a\n", "b\n", "a\n")
    assert result == MergeResult("b\n", 0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.conflicts = 1  # type: ignore[misc]


def test_large_file_with_distant_edits_merges_cleanly() -> None:
    base_lines = [f"  key{i % 40}: value{i % 7}" if i % 9 else "" for i in range(3000)]
    ours_lines = list(base_lines)
    ours_lines[5] = "  user: edited"
    ours_lines.insert(2000, "  user: added")
    theirs_lines = list(base_lines)
    theirs_lines[1000] = "  chart: bumped"
    del theirs_lines[2990]
    expected = list(ours_lines)
    expected[1000] = "  chart: bumped"
    del expected[2991]
    result = merge_texts(lines(*base_lines), lines(*ours_lines), lines(*theirs_lines))
    assert result.clean
    assert result.text == lines(*expected)


# --- properties -----------------------------------------------------------------------------

# Few distinct lines make diffs ambiguous (several minimal alignments), which is where a
# home-grown diff most easily drifts from git's; "" stands for YAML's many blank lines.
ALPHABET = ["a", "b", "c", "", "- x"]


@st.composite
def edited(draw: st.DrawFn, base: list[str]) -> list[str]:
    """A side derived from ``base`` by up to four single-line edits."""
    # kind 0 inserts, 1 deletes, 2 replaces; four edits at most keep every diff far from the
    # sizes where git starts using heuristics (see test_agrees_with_git_merge_file).
    edit = st.tuples(st.integers(0, 2), st.integers(0, 10), st.sampled_from(ALPHABET))
    result = list(base)
    for kind, position, line in draw(st.lists(edit, max_size=4)):
        index = position % (len(result) + 1)
        if kind == 0:
            result.insert(index, line)
        elif index < len(result):
            result[index : index + 1] = [] if kind == 1 else [line]
    return result


@st.composite
def texts(draw: st.DrawFn, items: list[str]) -> str:
    text = lines(*items)
    return text[:-1] if text and draw(st.booleans()) else text


@st.composite
def triples(draw: st.DrawFn) -> tuple[str, str, str]:
    """(base, ours, theirs): both sides are edits of the base, final newlines optional."""
    base = draw(st.lists(st.sampled_from(ALPHABET), max_size=10))
    ours, theirs = draw(edited(base)), draw(edited(base))
    return draw(texts(base)), draw(texts(ours)), draw(texts(theirs))


def git_merge(base: str, ours: str, theirs: str) -> tuple[str, int]:
    """Run ``git merge-file -p --diff3`` with scaffold's labels; return (text, conflicts)."""
    assert GIT is not None
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name, text in (("base", base), ("ours", ours), ("theirs", theirs)):
            (folder / name).write_bytes(text.encode())
        labels = ["-L", "yours", "-L", "scaffold (previous)", "-L", "scaffold (new)"]
        env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull}
        done = subprocess.run(
            [GIT, "merge-file", "-p", "--diff3", *labels, "ours", "base", "theirs"],
            cwd=folder, capture_output=True, env=env, check=False,
        )  # fmt: skip
    # The exit code is the number of conflicts (at most 127); 255 means git failed.
    assert done.returncode < 128, done.stderr
    return done.stdout.decode(), done.returncode


@needs_git
@settings(max_examples=200, deadline=None)
@given(triples())
def test_agrees_with_git_merge_file(triple: tuple[str, str, str]) -> None:
    base, ours, theirs = triple
    result = merge_texts(base, ours, theirs)
    git_text, git_conflicts = git_merge(base, ours, theirs)
    assert result.clean == (git_conflicts == 0)
    if result.clean:
        assert result.text == git_text
    else:
        # With files this small git's performance heuristics (discarding lines that occur
        # very often, capping the diff cost) never kick in, so even the conflict hunks match.
        assert (result.text, result.conflicts) == (git_text, git_conflicts)


@given(triples())
def test_unchanged_user_file_takes_the_new_render(triple: tuple[str, str, str]) -> None:
    base, _, theirs = triple
    assert merge_texts(base, base, theirs) == MergeResult(theirs, 0)


@given(triples())
def test_unchanged_render_keeps_the_user_file(triple: tuple[str, str, str]) -> None:
    base, ours, _ = triple
    assert merge_texts(base, ours, base) == MergeResult(ours, 0)


@given(triples())
def test_same_result_on_both_sides_is_taken_as_is(triple: tuple[str, str, str]) -> None:
    base, ours, _ = triple
    assert merge_texts(base, ours, ours) == MergeResult(ours, 0)


@given(triples())
def test_user_lines_are_never_lost(triple: tuple[str, str, str]) -> None:
    # Only lines the user added or changed are guaranteed: a line the user left alone may be
    # removed by the new render, conflict or not.
    base, ours, theirs = triple
    result = merge_texts(base, ours, theirs)
    added_by_user = Counter(ours.splitlines()) - Counter(base.splitlines())
    assert added_by_user <= Counter(result.text.splitlines())


MARKERS = {
    "<<<<<<<": "<<<<<<< yours",
    "|||||||": "||||||| scaffold (previous)",
    "=======": "=======",
    ">>>>>>>": ">>>>>>> scaffold (new)",
}


@given(triples())
def test_every_conflict_is_fully_marked(triple: tuple[str, str, str]) -> None:
    result = merge_texts(*triple)
    found = Counter(line for line in result.text.splitlines() if line[:7] in MARKERS)
    assert set(found) <= set(MARKERS.values())
    assert all(found[marker] == result.conflicts for marker in MARKERS.values())


@given(triples())
def test_merge_is_symmetric_when_clean(triple: tuple[str, str, str]) -> None:
    base, ours, theirs = triple
    forward, backward = merge_texts(base, ours, theirs), merge_texts(base, theirs, ours)
    assert forward.conflicts == backward.conflicts
    if forward.clean:
        assert forward.text == backward.text
